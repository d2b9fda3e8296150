"""Unit tests for plugin_utils.device_requests and credentials: device settings from host variables."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any, Dict

import pytest

from ansible_collections.netops.nautobot_backup.plugins.module_utils.backup import failed_info
from ansible_collections.netops.nautobot_backup.plugins.module_utils.errors import NautobotBackupError
from ansible_collections.netops.nautobot_backup.plugins.plugin_utils.credentials import cli_credentials
from ansible_collections.netops.nautobot_backup.plugins.plugin_utils.device_requests import (
    HostVariableError,
    connection_settings,
    device_target,
    platform_name,
    request_from_vars,
)

ARGS: Dict[str, Any] = {
    "repo_dir": "/tmp/repo",
    "timestamp": "2026-01-02T03:04:05+00:00",
    "backup_startup": True,
    "sanitize": False,
    "sanitize_patterns": [],
    "platform_map": {},
    "conn_timeout": 10,
    "auth_timeout": 20,
    "banner_timeout": 15,
    "read_timeout": 120,
}
TIMEOUTS = {"conn_timeout": 1, "auth_timeout": 2, "banner_timeout": 3, "read_timeout": 4}


def lookup_from(host_vars):
    return host_vars.get


def test_host_variables_win_over_the_command_line():
    host_vars = {"ansible_host": "127.1.0.5", "ansible_port": "2222", "ansible_user": "own",
                 "ansible_ssh_pass": "own-pass", "ansible_enable_pass": "own-secret"}
    settings = connection_settings("r1", "cisco_ios", lookup_from(host_vars), TIMEOUTS,
                                   {"username": "cli", "password": "cli-pass", "secret": "cli-secret"})
    assert (settings.host, settings.port, settings.username) == ("127.1.0.5", 2222, "own")
    assert (settings.password, settings.secret) == ("own-pass", "own-secret")
    assert (settings.conn_timeout, settings.read_timeout) == (1, 4)


def test_command_line_credentials_fill_what_the_host_does_not_set():
    settings = connection_settings("r1", "cisco_ios", lookup_from({"ansible_user": "own"}), TIMEOUTS,
                                   {"username": "cli", "password": "cli-pass", "secret": "cli-secret"})
    assert settings.host == "r1" and settings.port == 22
    assert (settings.username, settings.password, settings.secret) == ("own", "cli-pass", "cli-secret")
    assert "cli-pass" not in repr(settings)


def test_cli_credentials_come_from_the_play_context_only_when_the_host_sets_none():
    play_context = SimpleNamespace(remote_user="awx-user", password="machine-pass", become_pass="machine-enable",
                                   private_key_file=None)
    # -u also shows as the task's ansible_user; only the host's inventory variables count as its own.
    task_vars = {"inventory_hostname": "r1", "ansible_user": "awx-user", "hostvars": {"r1": {"net": "x"}}}
    assert cli_credentials(play_context, task_vars) == {"username": "awx-user", "password": "machine-pass",
                                                        "secret": "machine-enable"}
    # The task host's own password is folded into the play context: it must not reach other hosts.
    task_vars["hostvars"]["r1"] = {"ansible_password": "machine-pass", "ansible_become_pass": "x"}
    assert cli_credentials(play_context, task_vars) == {"username": "awx-user"}
    assert cli_credentials(SimpleNamespace(remote_user=None, password="", become_pass=None), {}) == {}


def test_device_target_reads_facts_platform_and_id():
    facts = {"id": "uuid-1", "platform": {"name": "Cisco IOS", "network_driver": "cisco_ios"}}
    target = device_target({"platform_map": {}, **TIMEOUTS}, "r1",
                           lookup_from({"nautobot": facts, "netmiko_device_type": "cisco_ios"}))
    assert (target.device_id, target.platform, target.settings.device_type) == ("uuid-1", "Cisco IOS", "cisco_ios")
    assert target.facts is facts


def test_play_level_credentials_reach_every_host_whatever_the_first_host_sets():
    """The batch's first host has its own password: the command line's still reaches hosts without one."""
    folded = SimpleNamespace(remote_user="first-own", password="first-own-pass", become_pass="first-own-enable",
                             private_key_file=None)
    play_level = SimpleNamespace(remote_user="cli-default", password="machine-pass", become_pass="machine-enable",
                                 private_key_file="/keys/id")
    task_vars = {"inventory_hostname": "r1",
                 "hostvars": {"r1": {"ansible_user": "first-own", "ansible_password": "first-own-pass"}}}
    cli = cli_credentials(folded, task_vars, play_level, remote_user="awx-user")
    assert cli == {"username": "awx-user", "password": "machine-pass", "secret": "machine-enable",
                   "key_file": "/keys/id"}
    first = connection_settings("r1", "cisco_ios", lookup_from(task_vars["hostvars"]["r1"]), TIMEOUTS, cli)
    other = connection_settings("r2", "cisco_ios", lookup_from({}), TIMEOUTS, cli)
    assert (first.username, first.password, first.secret) == ("first-own", "first-own-pass", "machine-enable")
    assert (other.username, other.password, other.secret) == ("awx-user", "machine-pass", "machine-enable")
    # No -u and no remote_user keyword: the play context's own (the configured default) is used.
    assert cli_credentials(folded, task_vars, play_level)["username"] == "cli-default"


@pytest.mark.parametrize(
    ("variables", "expected"),
    [
        ({}, 22),
        ({"ansible_port": 2222}, 2222),
        ({"ansible_port": "2222"}, 2222),
        ({"ansible_port": " 830 "}, 830),
        ({"ansible_ssh_port": 65535}, 65535),
        ({"ansible_port": ""}, 22),
    ],
)
def test_port_from_host_variables(variables, expected):
    assert connection_settings("r1", "cisco_ios", lookup_from(variables), TIMEOUTS).port == expected


@pytest.mark.parametrize(
    ("variables", "shown"),
    [
        ({"ansible_port": "ssh"}, "ansible_port must be an integer from 1 to 65535, got 'ssh' (str)"),
        ({"ansible_port": 0}, "got 0 (int)"),
        ({"ansible_port": 70000}, "got 70000 (int)"),
        ({"ansible_port": -22}, "got -22 (int)"),
        ({"ansible_port": True}, "got a value (bool)"),
        ({"ansible_port": 22.5}, "got a value (float)"),
        ({"ansible_port": [22]}, "got a value (list)"),
        ({"ansible_ssh_port": "22\nx"}, "ansible_ssh_port must be an integer"),
        ({"ansible_port": "٢٢"}, "got '٢٢' (str)"),  # digits, but not ASCII ones
    ],
)
def test_bad_port_is_a_host_variable_error_naming_the_variable(variables, shown):
    with pytest.raises(HostVariableError) as caught:
        connection_settings("r1", "cisco_ios", lookup_from(variables), TIMEOUTS)
    assert shown in str(caught.value) and caught.value.failure_class == "other"


def test_settings_are_strings_whatever_yaml_made_of_them():
    """YAML reads `ansible_password: 12345` as an int; netmiko and the secret scrubber need strings."""
    settings = connection_settings(
        "r1", "cisco_ios", lookup_from({"ansible_password": 12345, "ansible_user": 7, "ansible_host": 10}), TIMEOUTS,
        {"secret": 98765},
    )
    assert (settings.password, settings.username, settings.host, settings.secret) == ("12345", "7", "10", "98765")
    assert settings.scrub("pw 12345 and 98765") == "pw ******** and ********"


@pytest.mark.parametrize(
    ("platform", "expected"),
    [({"name": "Cisco IOS"}, "Cisco IOS"), ("EOS", "EOS"), ({"name": 5}, "5"), ({}, None), (None, None), ("", None)],
)
def test_platform_name_is_a_string_or_none(platform, expected):
    assert platform_name(platform) == expected


def test_request_from_vars_carries_the_location_name_for_the_status_page():
    facts = {"platform": "cisco_ios", "location": {"name": "DC1 | hall", "parent": {"name": "EU"}}}
    assert request_from_vars(ARGS, "r1", lookup_from({"nautobot": facts})).location == "DC1 | hall"
    assert request_from_vars(ARGS, "r1", lookup_from({"nautobot": {"platform": "cisco_ios"}})).location is None


def test_device_id_is_a_string():
    target = device_target({"platform_map": {}, **TIMEOUTS}, "r1",
                           lookup_from({"nautobot": {"id": 42}, "netmiko_device_type": "cisco_ios"}))
    assert target.device_id == "42"


@pytest.mark.parametrize(
    ("value", "expected"),
    [("192.0.2.1", "192.0.2.1"), ("r1.example.net.", "r1.example.net."), ("2001:db8::1", "2001:db8::1"),
     ("[2001:db8::1]", "2001:db8::1"), (" r1 ", "r1"), (10, "10")],
)
def test_host_from_host_variables(value, expected):
    assert connection_settings("r1", "cisco_ios", lookup_from({"ansible_host": value}), TIMEOUTS).host == expected


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("x" * 300, "longer than 253 characters"),
        ("a." + "x" * 64, "longer than 63 characters"),
        ("r1..example", "empty or longer than 63"),
        ("r1\nreload", "whitespace or a control character"),
        ("r1 r2", "whitespace or a control character"),
        ("r1\u2028x", "whitespace or a control character"),
        ("r1:22", "no IPv6 address"),
        (["r1"], "must be a host name or an IP address, got a list"),
    ],
)
def test_unusable_host_is_a_host_variable_error(value, reason):
    with pytest.raises(HostVariableError) as caught:
        connection_settings("r1", "cisco_ios", lookup_from({"ansible_host": value}), TIMEOUTS)
    assert reason in str(caught.value) and str(caught.value).startswith("ansible_host ")
    assert "xxxx" not in str(caught.value) and "reload" not in str(caught.value)


def test_request_from_vars_reads_the_standard_connection_variables():
    host_vars = {
        "ansible_host": "192.0.2.1",
        "ansible_ssh_port": 2222,
        "ansible_user": "netops",
        "ansible_password": "pw",
        "ansible_enable_pass": "en",
        "netmiko_device_type": "cisco_ios",
        "nautobot": {"id": "d1", "platform": {"name": "Cisco IOS"}, "location": {"name": "Berlin"}},
        "nautobot_backup_commands": {"startup": None},
    }
    request = request_from_vars(ARGS, "r1", lookup_from(host_vars))
    settings = request.settings
    assert (settings.host, settings.port, settings.username) == ("192.0.2.1", 2222, "netops")
    assert (settings.password, settings.secret, settings.device_type) == ("pw", "en", "cisco_ios")
    assert request.device_id == "d1" and request.platform == "Cisco IOS"
    assert request.command_overrides == {"startup": None}
    assert request.stamp["date"] == "20260102"
    assert request.repo_dir == Path("/tmp/repo")


def test_request_from_vars_prefers_given_facts_and_commands():
    args = dict(ARGS, facts={"platform": "arista_eos"}, commands={"running": "show run all"})
    request = request_from_vars(args, "s1", lookup_from({"nautobot": {"platform": "cisco_ios"}}))
    assert request.settings.device_type == "arista_eos"
    assert request.settings.host == "s1" and request.settings.port == 22
    assert request.command_overrides == {"running": "show run all"}


def test_request_from_vars_unknown_platform_raises_for_that_device():
    with pytest.raises(NautobotBackupError) as caught:
        request_from_vars(ARGS, "x1", lookup_from({"nautobot": {"platform": {"name": "Mystery OS"}}}))
    assert caught.value.failure_class == "unsupported_platform"
    info = failed_info("x1", caught.value)
    assert info.failed and info.error_class == "unsupported_platform" and "Mystery OS" in info.error


def test_show_diff_is_read_from_the_arguments():
    args = dict(ARGS, show_diff=True)
    assert request_from_vars(args, "r1", lookup_from({"netmiko_device_type": "cisco_ios"})).show_diff is True
    assert request_from_vars(ARGS, "r1", lookup_from({"netmiko_device_type": "cisco_ios"})).show_diff is False


@pytest.mark.parametrize(
    "value, expected", [(None, False), (True, True), ("yes", True), ("True", True), (False, False), ("no", False)]
)
def test_allow_shrink_is_read_per_host(value, expected):
    host_vars = {"netmiko_device_type": "cisco_ios", "nautobot_backup_allow_shrink": value}
    request = request_from_vars(ARGS, "r1", lookup_from(host_vars))
    assert request.allow_shrink is expected
    assert request.shrink_threshold == 0.5 and request.rejected_dir is None


@pytest.mark.parametrize("value", ["maybe", {"a": 1}, [True], 2])
def test_an_unusable_allow_shrink_fails_that_host(value):
    host_vars = {"netmiko_device_type": "cisco_ios", "nautobot_backup_allow_shrink": value}
    with pytest.raises(HostVariableError, match="nautobot_backup_allow_shrink must be a boolean"):
        request_from_vars(ARGS, "r1", lookup_from(host_vars))


def test_shrink_options_are_read_from_the_arguments(tmp_path):
    args = {**ARGS, "shrink_threshold": 0.25, "rejected_dir": str(tmp_path)}
    request = request_from_vars(args, "r1", lookup_from({"netmiko_device_type": "cisco_ios"}))
    assert request.shrink_threshold == 0.25 and request.rejected_dir == tmp_path
    with pytest.raises(NautobotBackupError, match="shrink_threshold"):
        request_from_vars({**ARGS, "shrink_threshold": 2.0}, "r1", lookup_from({"netmiko_device_type": "cisco_ios"}))
