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


@pytest.mark.parametrize(
    ("text", "error_class", "start"),
    [
        ("Error reading SSH protocol banner", "timeout", "no SSH banner from r1:22 within 15s"),
        (
            "Paramiko: 'No existing session' error: try increasing 'conn_timeout' to 15 seconds or larger.",
            "timeout",
            "no SSH handshake with r1:22 within 10s",
        ),
        ("TCP connection to device failed.", "unreachable", "cannot open a TCP connection to r1:22"),
        ("something else", "other", "SSH session to r1:22 failed"),
    ],
)
def test_connect_errors_are_classified(text, error_class, start):
    """A device that accepts TCP and hangs is a timeout, whether paramiko's banner or handshake wait gives up."""
    from ansible_collections.netops.nautobot_backup.plugins.module_utils import retrieval

    error = retrieval._connect_error(Exception(text), ConnectionSettings(host="r1", device_type="cisco_ios"), "r1:22")
    assert error.failure_class == error_class and str(error).startswith(start), str(error)
