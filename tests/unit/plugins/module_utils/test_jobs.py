"""Table tests for plugins/module_utils/jobs.py: table validation, resolution, precedence, run context."""

from __future__ import annotations

import getpass

import pytest

from ansible_collections.netops.nautobot_backup.plugins.module_utils.jobs import (
    JobTypeError,
    check_parameters,
    known_parameters,
    load_table,
    merge_parameters,
    override_names,
    resolve,
    run_context,
    template_references,
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


# ----------------------------------------------------------------------------- unknown parameters
CHECKED = [
    {
        "name": "cmd",
        "runner": {"role": "ns.col.cmd"},
        "description": "Commands.",
        "defaults": {"template": "", "store": False},
        "template_parameter": "template",
    },
    {
        "name": "bk",
        "runner": {"playbook": "bk.yml"},
        "description": "Backup.",
        "inputs": ["ns.col.prepare", "ns.col.publish"],
        "parameters": ["hosts"],
    },
]
ROLE_INPUTS = {
    "ns.col.cmd": ["cmd_template", "cmd_store", "cmd_repo_url", "backup_repo_url", "cmd_"],
    "ns.col.prepare": ["bk_repo_url", "bk_repo_dir", "other_thing"],
    "ns.col.publish": ["bk_repo_url", "bk_commit_message"],
}


def test_load_table_reads_inputs_parameters_and_the_template_parameter():
    table = load_table(CHECKED)
    assert table["cmd"].inputs == ["ns.col.cmd"], "a role runner's inputs default to its role"
    assert table["cmd"].template_parameter == "template"
    assert table["bk"].inputs == ["ns.col.prepare", "ns.col.publish"] and table["bk"].parameters == ["hosts"]
    with pytest.raises(JobTypeError, match="inputs must be a list of names"):
        load_table([{**CHECKED[1], "inputs": "ns.col.prepare"}])
    with pytest.raises(JobTypeError, match="template_parameter must be a parameter name"):
        load_table([{**CHECKED[0], "template_parameter": ["template"]}])


def test_known_parameters_from_defaults_parameters_and_role_inputs():
    table = load_table(CHECKED)
    assert known_parameters(table["cmd"], ROLE_INPUTS) == ["repo_url", "store", "template"]
    assert known_parameters(table["bk"], ROLE_INPUTS) == ["commit_message", "hosts", "repo_dir", "repo_url"]


@pytest.mark.parametrize(
    ("template", "keys"),
    [
        ("show interfaces {{ job_parameters.interface }}", {"interface"}),
        ("{{ job_parameters['vlan'] }} {{ job_parameters [ \"area\" ] }}", {"vlan", "area"}),
        ("{{ job_parameters.get('speed', 10) }} {{ job_parameters . mtu }}", {"speed", "mtu"}),
        ("show clock", set()),
        (None, set()),
    ],
)
def test_template_references(template, keys):
    assert template_references(template) == keys


@pytest.mark.parametrize(
    ("job_type", "job_parameters", "extra_vars", "template", "unknown"),
    [
        # A typo in job_parameters: command_template instead of template.
        ("cmd", {"command_template": "show clock"}, [], "", ["job_parameters key 'command_template'"]),
        # A typo in a <job_type>_<parameter> extra var.
        ("cmd", {}, ["cmd_command_template", "cmd_template"], "", ["extra var 'cmd_command_template'"]),
        # Both, every unknown key named.
        (
            "bk",
            {"repo_ur": "x", "hosts": "all"},
            ["bk_repo_dri", "bk_repo_dir"],
            None,
            ["job_parameters key 'repo_ur'", "extra var 'bk_repo_dri'"],
        ),
        # Only the bk template reads its keys; bk has no template parameter.
        ("bk", {"interface": "x"}, [], "{{ job_parameters.interface }}", ["job_parameters key 'interface'"]),
    ],
)
def test_unknown_parameters_are_refused_with_the_known_ones(job_type, job_parameters, extra_vars, template, unknown):
    job = resolve(load_table(CHECKED), job_type)
    known = known_parameters(job, ROLE_INPUTS)
    with pytest.raises(JobTypeError) as caught:
        check_parameters(job, job_parameters, extra_vars, known, template)
    message = str(caught.value)
    assert message.startswith(f"job type {job_type} has no such parameter: {', '.join(unknown)}. Known parameters")
    assert message.endswith(": " + ", ".join(known))


@pytest.mark.parametrize(
    ("job_type", "job_parameters", "extra_vars", "template"),
    [
        ("cmd", {"template": "show clock", "store": True}, ["cmd_store", "cmd_repo_url"], "show clock"),
        # A key the template reads is a parameter of that template.
        ("cmd", {"interface": "Ethernet1"}, [], "show interfaces {{ job_parameters.interface }}"),
        # Extra vars of other job types and unrelated ones are not this type's business.
        ("cmd", None, ["bk_nope", "backup_repo_url", "job_type", "cmdx_y"], ""),
        ("bk", {"repo_url": "x", "hosts": "all"}, ["bk_commit_message", "bk_hosts"], None),
    ],
)
def test_known_parameters_pass(job_type, job_parameters, extra_vars, template):
    job = resolve(load_table(CHECKED), job_type)
    check_parameters(job, job_parameters, extra_vars, known_parameters(job, ROLE_INPUTS), template)
