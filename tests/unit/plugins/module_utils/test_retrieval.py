"""Unit tests for module_utils.retrieval: the messages of a failed netmiko session (no device, no Ansible run)."""

from __future__ import annotations

import pytest

from ansible_collections.netops.nautobot_backup.plugins.module_utils.retrieval import ConnectionSettings


def test_session_errors_quote_nothing_the_device_printed():
    """netmiko's ReadException quotes the output it read; _send's message names the command and type only."""
    from netmiko.exceptions import ReadException

    from ansible_collections.netops.nautobot_backup.plugins.module_utils import retrieval

    class Conn:
        def send_command(self, *_args, **_kwargs):
            raise ReadException("Unable to successfully split output based on pattern:\n"
                                "output='snmp-server community Comm-5ecret RO'")

    settings = ConnectionSettings(host="r1", device_type="cisco_ios", read_timeout=4)
    with pytest.raises(retrieval.DeviceError) as caught:
        retrieval._send(Conn(), "show running-config", settings, "r1:22")
    assert "Comm-5ecret" not in str(caught.value) and "Unable to" not in str(caught.value)
    assert str(caught.value) == ("the session to r1:22 failed during 'show running-config': ReadException "
                                 "(netmiko did not read what it expected)")
    assert retrieval.error_summary(ConnectionResetError(104, "Connection reset by peer")) == "Connection reset by peer"
    assert len(retrieval.error_summary(EOFError("x" * 500))) == 120
