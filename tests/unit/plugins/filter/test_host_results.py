"""Tests of plugins/filter/host_results.py: one variable of every host, from hostvars, by host name."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.netops.nautobot_backup.plugins.filter.host_results import FilterModule, host_results

HOSTVARS = {"r1": {"backup_result": {"ok": 1}}, "r2": {"other": 2}, "r3": {"backup_result": {"ok": 3}}}


def test_hosts_without_the_variable_are_left_out_in_order() -> None:
    assert list(host_results(["r3", "r2", "r1"], HOSTVARS, "backup_result").items()) == [
        ("r3", {"ok": 3}),
        ("r1", {"ok": 1}),
    ]


def test_default_fills_hosts_without_the_variable_and_unknown_hosts() -> None:
    assert host_results(["r1", "r2", "nohost"], HOSTVARS, "backup_result", default={}) == {
        "r1": {"ok": 1},
        "r2": {},
        "nohost": {},
    }
    assert host_results([], HOSTVARS, "backup_result") == {}


@pytest.mark.parametrize(("hosts", "hostvars"), [("r1", HOSTVARS), (["r1"], ["not", "hostvars"]), (None, HOSTVARS)])
def test_wrong_arguments_are_a_filter_error(hosts, hostvars) -> None:
    with pytest.raises(AnsibleFilterError):
        host_results(hosts, hostvars, "backup_result")


def test_registered_name() -> None:
    assert FilterModule().filters()["host_results"] is host_results
