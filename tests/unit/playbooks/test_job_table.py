"""The job table (playbooks/vars/job_types.yml): every entry resolves, no type twice, the jobs guide matches it."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Dict, List

import pytest
import yaml

from ansible_collections.netops.nautobot_backup.plugins.action.job_dispatch import role_inputs
from ansible_collections.netops.nautobot_backup.plugins.module_utils.jobs import (
    JobTypeError,
    check_parameters,
    known_parameters,
    load_table,
    merge_parameters,
    resolve,
)

ROOT = Path(__file__).resolve().parents[3]
TABLE = ROOT / "playbooks" / "vars" / "job_types.yml"
DOCS = ROOT / "docs" / "docsite" / "rst" / "jobs.rst"
START, END = ".. job-table:start", ".. job-table:end"


class _NoDuplicateKeys(yaml.SafeLoader):
    """A YAML loader that refuses a key given twice in one mapping (PyYAML keeps the last silently)."""


def _mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> Dict[Any, Any]:
    keys = [loader.construct_object(key) for key, _value in node.value]
    twice = sorted({str(key) for key in keys if keys.count(key) > 1})
    if twice:
        raise yaml.constructor.ConstructorError(None, None, f"duplicate keys {twice}", node.start_mark)
    return loader.construct_mapping(node)


_NoDuplicateKeys.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def raw_entries() -> List[Dict[str, Any]]:
    data = yaml.load(TABLE.read_text(encoding="utf-8"), Loader=_NoDuplicateKeys)  # noqa: S506 - a SafeLoader
    assert list(data) == ["nautobot_backup_job_types"], "the vars file holds the table and nothing else"
    return data["nautobot_backup_job_types"]


def docs_table(entries: List[Dict[str, Any]]) -> str:
    """The RST list-table docs/docsite/rst/jobs.rst must contain, generated from the job table."""
    lines = [".. list-table::", "   :header-rows: 1", ""]
    lines += ["   * - job type", "     - runs", "     - status", "     - default parameters", "     - description"]
    for entry in entries:
        runner = entry.get("runner") or {}
        runs = " ".join(f"{kind} ``{name}``" for kind, name in runner.items()) or "\\-"  # a lone "-" is a list
        defaults = ", ".join(f"``{key}: {json.dumps(value)}``" for key, value in (entry.get("defaults") or {}).items())
        defaults = defaults or "\\-"
        status = "retired" if entry.get("retired") else "available"
        lines += [f"   * - ``{entry['name']}``", f"     - {runs}", f"     - {status}", f"     - {defaults}"]
        lines.append(f"     - {entry['description']}")
    return "\n".join(lines)


def test_every_entry_resolves_and_no_type_is_listed_twice():
    entries = raw_entries()
    names = [entry["name"] for entry in entries]
    assert len(names) == len(set(names)), f"a job type is listed twice: {names}"
    table = load_table(entries)  # the dispatcher's own validation accepts it
    assert set(table) == {"backup", "run_commands", "check_queues", "sync_devices", "compare_devices"}
    assert {name for name, job in table.items() if job.retired} == {"sync_devices", "compare_devices"}
    for job in table.values():
        if job.retired:
            continue
        kind, target = next(iter(job.runner.items()))
        if kind == "playbook":
            assert (ROOT / "playbooks" / target).is_file(), f"{job.name}: playbooks/{target} does not exist"
        else:
            namespace, collection, role = target.split(".")
            assert (namespace, collection) == ("netops", "nautobot_backup"), target
            assert (ROOT / "roles" / role / "tasks" / "main.yml").is_file(), f"{job.name}: role {role} does not exist"
            assert (ROOT / "roles" / role / "meta" / "argument_specs.yml").is_file()


def test_docs_match_the_table():
    text = DOCS.read_text(encoding="utf-8")
    assert START in text and END in text, f"{DOCS.name} needs the {START} / {END} markers"
    documented = text.split(START, 1)[1].split(END, 1)[0].strip()
    expected = docs_table(raw_entries())
    if os.environ.get("NB_BACKUP_REGEN_DOCS") == "1":
        head, rest = text.split(START, 1)
        DOCS.write_text(f"{head}{START}\n{expected}\n{END}{rest.split(END, 1)[1]}", encoding="utf-8")
        documented = expected
    assert documented == expected, f"{DOCS.name} is out of date; NB_BACKUP_REGEN_DOCS=1 rewrites it to:\n{expected}"


def test_a_type_listed_twice_is_refused():
    entries = raw_entries()
    with pytest.raises(JobTypeError, match="job type 'backup' is listed twice"):
        load_table([*entries, entries[0]])
    with pytest.raises(yaml.constructor.ConstructorError, match="duplicate keys"):
        yaml.load("a: 1\na: 2\n", Loader=_NoDuplicateKeys)  # noqa: S506


@pytest.mark.parametrize(
    ("job_type", "message"),
    [
        ("nope", "Unknown job type: nope. Known job types: backup, check_queues, run_commands"),
        ("sync_devices", "sync_devices is not available in this version"),
        ("compare_devices", "compare_devices is not available in this version"),
        (None, "Unknown job type: (none given). Known job types: backup, check_queues, run_commands"),
    ],
)
def test_unknown_and_retired_messages(job_type, message):
    with pytest.raises(JobTypeError) as caught:
        resolve(load_table(raw_entries()), job_type)
    assert str(caught.value) == message


def test_parameter_precedence_on_the_real_table():
    job = resolve(load_table(raw_entries()), "check_queues")
    assert merge_parameters(job, None, {})["drop_threshold"] == 0
    assert merge_parameters(job, {"drop_threshold": 100}, {})["drop_threshold"] == 100
    assert merge_parameters(job, {"drop_threshold": 100}, {"check_queues_drop_threshold": 5})["drop_threshold"] == 5


def test_known_parameters_of_the_real_table_come_from_the_roles_argument_specs():
    table = load_table(raw_entries())
    for job in table.values():
        for role in job.inputs:
            assert (ROOT / "roles" / role.rsplit(".", 1)[-1] / "meta" / "argument_specs.yml").is_file(), role
    known = {
        name: known_parameters(job, {role: role_inputs(role) for role in job.inputs})
        for name, job in table.items()
        if not job.retired
    }
    assert {"template", "store", "output_path_template", "read_timeout", "repo_url", "allow_telnet"} <= set(
        known["run_commands"]
    )
    assert {"drop_threshold", "read_timeout", "known_hosts_file"} <= set(known["check_queues"])
    # backup: every backup_<name> input of the roles backup.yml runs, and backup.yml's own backup_hosts.
    assert {"repo_url", "repo_dir", "report_path", "workers", "progress_interval", "write_timestamp", "hosts"} <= set(
        known["backup"]
    )
    job = table["run_commands"]
    with pytest.raises(JobTypeError, match="job_parameters key 'command_template'. Known parameters .*: .*template"):
        check_parameters(job, {"command_template": "show clock"}, [], known["run_commands"], "")
    check_parameters(
        job, {"interface": "x"}, [], known["run_commands"], "show interfaces {{ job_parameters.interface }}"
    )
