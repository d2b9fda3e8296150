"""Unit tests for the connection settings of module_utils.retrieval (no device, no Ansible run)."""

from __future__ import annotations

from types import SimpleNamespace

from ansible_collections.netops.nautobot_backup.plugins.module_utils.retrieval import (
    cli_credentials,
    connection_settings,
    device_target,
)

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
