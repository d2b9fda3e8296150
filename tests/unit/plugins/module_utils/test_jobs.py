"""Table tests for plugins/module_utils/jobs.py: table validation, resolution, precedence, run context."""

from __future__ import annotations

import getpass

import pytest

from ansible_collections.netops.nautobot_backup.plugins.module_utils.jobs import (
    JobTypeError,
    load_table,
    merge_parameters,
    override_names,
    resolve,
    run_context,
)

TABLE = [
    {"name": "a", "runner": {"role": "ns.col.a"}, "description": "A.", "defaults": {"x": 1, "y": "two"}},
    {"name": "b", "runner": {"playbook": "b.yml"}, "description": "B."},
    {"name": "old", "retired": True, "description": "Retired."},
]


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ("nope", "must be a list"),
        ([["x"]], "must be a dict"),
        ([{"name": "a", "runner": {"role": "r"}, "description": "d", "extra": 1}], "unknown keys: extra"),
        ([{"runner": {"role": "r"}, "description": "d"}], "has no name"),
        ([{"name": "a", "description": "d"}], "needs a runner"),
        ([{"name": "a", "runner": {"task": "x"}, "description": "d"}], "needs a runner"),
        ([{"name": "a", "runner": {"role": "r", "playbook": "p"}, "description": "d"}], "needs a runner"),
        ([{"name": "a", "runner": {"role": "r"}}], "one-line description"),
        ([{"name": "a", "runner": {"role": "r"}, "description": "d", "defaults": []}], "defaults must be a dict"),
        ([{"name": "a", "runner": {"role": "r"}, "description": "d", "retired": "yes"}], "true or false"),
        ([TABLE[0], TABLE[0]], "listed twice"),
    ],
)
def test_invalid_tables(entries, message):
    with pytest.raises(JobTypeError, match=message):
        load_table(entries)


def test_resolution_and_messages():
    table = load_table(TABLE)
    assert resolve(table, "a").runner == {"role": "ns.col.a"}
    assert resolve(table, " b ").name == "b"
    with pytest.raises(JobTypeError) as caught:
        resolve(table, "zzz")
    assert str(caught.value) == "Unknown job type: zzz. Known job types: a, b"
    with pytest.raises(JobTypeError) as caught:
        resolve(table, "old")
    assert str(caught.value) == "old is not available in this version"


@pytest.mark.parametrize(
    ("job_parameters", "variables", "expected"),
    [
        (None, {}, {"x": 1, "y": "two"}),
        ({"x": 5}, {}, {"x": 5, "y": "two"}),
        ({"x": 5}, {"a_x": 9}, {"x": 9, "y": "two"}),
        ({}, {"a_y": "three", "a_unrelated": 1, "x": 7}, {"x": 1, "y": "three"}),
        ({"z": 1}, {"a_z": 2}, {"x": 1, "y": "two", "z": 2}),
        ({"x": 5}, {"a_x": None}, {"x": 5, "y": "two"}),
    ],
)
def test_precedence_defaults_then_job_parameters_then_variables(job_parameters, variables, expected):
    job = resolve(load_table(TABLE), "a")
    assert merge_parameters(job, job_parameters, variables) == expected


def test_job_parameters_must_be_a_dict_and_override_names():
    job = resolve(load_table(TABLE), "a")
    with pytest.raises(JobTypeError, match="job_parameters must be a dict"):
        merge_parameters(job, "x=1", {})
    assert override_names(job, {"z": 1, "x": 2}) == ["a_x", "a_y", "a_z"]


@pytest.mark.parametrize(
    ("variables", "triggered_by", "executed_by"),
    [
        ({}, "manual", getpass.getuser()),
        ({"awx_user_name": "alice"}, "manual", "alice"),
        ({"awx_schedule_id": 12, "awx_user_name": "alice"}, "schedule", "alice"),
        ({"awx_schedule_id": 12}, "schedule", getpass.getuser()),
        ({"awx_schedule_id": None, "awx_user_name": ""}, "manual", getpass.getuser()),
    ],
)
def test_run_context(variables, triggered_by, executed_by):
    assert run_context(variables) == {"triggered_by": triggered_by, "executed_by": executed_by}
