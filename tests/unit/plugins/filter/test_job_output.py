"""Tests of plugins/filter/job_output.py: a device's job result as printable lines, through Ansible's filter name."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.netops.nautobot_backup.plugins.filter.job_output import FilterModule, job_output


def test_the_filter_shows_each_command_then_its_printable_output() -> None:
    result = {"outputs": [{"command": "show clock", "output": "\x1b[32m10:02\x1b[0m\r\nUTC\x00"}]}
    assert FilterModule().filters()["job_output"] is job_output
    assert job_output(result) == ["### show clock", "10:02", "UTC\ufffd"]


def test_a_result_that_is_no_dict_is_refused() -> None:
    with pytest.raises(AnsibleFilterError, match="expects a device's job result"):
        job_output(["show clock"])
