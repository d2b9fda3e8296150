"""awx/setup.yml (AWX objects as code): syntax-check, ansible-lint, and every awx.awx module argument it
uses exists in that module's documented options (ansible-doc -j). No live AWX is needed (or available)."""

from __future__ import annotations

import functools
import json
import subprocess
from pathlib import Path
from typing import Any, Dict, Iterator, List, Set, Tuple

import pytest
import yaml

from testbed.ansible_run import BIN, ansible_env
from testbed.procs import REPO_ROOT

AWX = REPO_ROOT / "awx"
SETUP = AWX / "setup.yml"
SURVEY_TYPES = {"text", "textarea", "password", "integer", "float", "multiplechoice", "multiselect"}


class _Loader(yaml.SafeLoader):
    """SafeLoader that reads Ansible's !unsafe and !vault tags as plain strings."""


_Loader.add_constructor("!unsafe", lambda loader, node: loader.construct_scalar(node))
_Loader.add_constructor("!vault", lambda loader, node: loader.construct_scalar(node))


def _load(path: Path) -> Any:
    return yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)  # noqa: S506 - SafeLoader subclass


def _tasks(items: List[Dict[str, Any]]) -> Iterator[Dict[str, Any]]:
    for task in items or []:
        for key in ("block", "rescue", "always"):
            if key in task:
                yield from _tasks(task[key])
        if not {"block", "rescue", "always"} & set(task):
            yield task


def awx_tasks() -> List[Tuple[str, str, Dict[str, Any]]]:
    """(task name, module, arguments) of every awx.awx task in awx/setup.yml."""
    found = []
    for play in _load(SETUP):
        for section in ("pre_tasks", "tasks", "post_tasks", "handlers"):
            for task in _tasks(play.get(section, [])):
                for key, value in task.items():
                    if key.startswith("awx.awx."):
                        found.append((task.get("name", key), key.split(".", 2)[2], value))
    return found


@functools.cache
def module_options(module: str) -> Dict[str, Dict[str, Any]]:
    """Documented options of awx.awx.<module>, with every alias as a key too."""
    proc = subprocess.run([str(BIN / "ansible-doc"), "-j", f"awx.awx.{module}"], capture_output=True, text=True,
                          env=ansible_env(), check=False, cwd=REPO_ROOT)
    assert proc.returncode == 0, f"ansible-doc awx.awx.{module}: {proc.stderr[-2000:]}"
    doc = json.loads(proc.stdout)[f"awx.awx.{module}"]["doc"]
    options: Dict[str, Dict[str, Any]] = {}
    for name, spec in doc["options"].items():
        options[name] = spec
        for alias in spec.get("aliases") or []:
            options[alias] = spec
    return options


def test_awx_collection_is_installed():
    """make collection puts awx.awx (from the ansible package on PyPI) beside the collection."""
    assert module_options("job_template"), "awx.awx is missing: run scripts/install-awx-collection.sh"


def test_setup_uses_every_kind_of_object_the_issue_asks_for():
    modules = {module for _name, module, _args in awx_tasks()}
    assert {"credential_type", "project", "inventory", "inventory_source", "job_template", "schedule"} <= modules
    templates = [args for _n, module, args in awx_tasks() if module == "job_template"]
    assert any("job_slice_count" in args for args in templates), "a sliced backup template"
    assert all(args.get("survey_enabled") and args.get("survey_spec") for args in templates), "a survey on each"


@pytest.mark.parametrize("name,module,args", awx_tasks(), ids=[f"{m}:{n}" for n, m, _a in awx_tasks()])
def test_every_argument_is_a_documented_option(name, module, args):
    options = module_options(module)
    unknown = sorted(set(args) - set(options))
    assert not unknown, f"{name}: awx.awx.{module} has no option(s) {unknown}"
    for key, value in args.items():
        choices = options[key].get("choices")
        if choices and isinstance(value, str) and "{{" not in value:
            assert value in choices, f"{name}: {key}={value!r} is not one of {choices}"


def _surveys() -> Iterator[Dict[str, Any]]:
    play = _load(SETUP)[0]
    variables = dict(_load(AWX / "vars" / "main.yml"))
    variables.update(play["vars"])
    yield variables["netops_awx_backup_survey"]
    for questions in variables["netops_awx_job_surveys"].values():
        yield {"spec": questions}


def test_survey_questions_are_valid_awx_survey_items():
    variables: Set[str] = set()
    for survey in _surveys():
        for question in survey["spec"]:
            assert question["type"] in SURVEY_TYPES, question
            assert question["variable"] and question["question_name"], question
            if question["type"] in ("multiplechoice", "multiselect"):
                assert question["default"] in question["choices"], question
            variables.add(question["variable"])
    assert {"backup_repo_url", "backup_running_path_template", "backup_startup_path_template"} <= variables


def test_credential_injectors_match_what_the_collection_reads():
    """The env names injected are the ones the inventory plugin, write-back and git_commit_push read."""
    injected: Dict[str, str] = {}
    for _name, module, args in awx_tasks():
        if module == "credential_type":
            for var, template in (args.get("injectors") or {}).get("env", {}).items():
                injected[var] = template
    assert set(injected) >= {"NAUTOBOT_URL", "NAUTOBOT_TOKEN", "NB_BACKUP_GIT_TOKEN", "NB_BACKUP_GIT_USERNAME"}
    inventory = subprocess.run([str(BIN / "ansible-doc"), "-t", "inventory", "-j", "netops.nautobot_backup.nautobot"],
                               capture_output=True, text=True, env=ansible_env(), check=True).stdout
    read_by_inventory = {env["name"] for option in json.loads(inventory)["netops.nautobot_backup.nautobot"]["doc"]
                         ["options"].values() for env in option.get("env", [])}
    assert {"NAUTOBOT_URL", "NAUTOBOT_TOKEN"} <= read_by_inventory
    # The argument specs the git_commit_push and nautobot_backup_status actions validate (module options plus the
    # shared pieces, with env fallbacks made real) read each injected variable through env_fallback.
    from ansible.module_utils.common.parameters import env_fallback

    from ansible_collections.netops.nautobot_backup.plugins.action import git_commit_push, nautobot_backup_status

    read_by_actions = {
        var
        for action in (git_commit_push, nautobot_backup_status)
        for option in action.ActionModule.ARGUMENT_SPEC.values()
        if option.get("fallback") and option["fallback"][0] is env_fallback
        for var in option["fallback"][1]
    }
    assert {"NB_BACKUP_GIT_TOKEN", "NB_BACKUP_GIT_USERNAME", "NAUTOBOT_URL", "NAUTOBOT_TOKEN"} <= read_by_actions


def test_inventory_source_points_at_the_sample_file():
    (source,) = [args for _n, module, args in awx_tasks() if module == "inventory_source"]
    assert source["source"] == "scm"
    variables = _load(AWX / "vars" / "main.yml")
    path = REPO_ROOT / variables["netops_awx_inventory_source_path"]
    assert path.name.endswith("nautobot.yml") and path.is_file()
    sample = _load(path)
    assert sample["plugin"] == "netops.nautobot_backup.nautobot"
    assert "token" not in sample and "url" not in sample, "the credential injects them"


def test_job_templates_use_playbooks_that_exist_and_known_job_types():
    for _name, module, args in awx_tasks():
        if module == "job_template":
            assert (REPO_ROOT / args["playbook"]).is_file() or args["playbook"] == "playbooks/run_job.yml"
    table = REPO_ROOT / "playbooks" / "vars" / "job_types.yml"
    if not table.exists():
        pytest.skip("playbooks/vars/job_types.yml does not exist yet")
    types = {entry["name"]: entry for entry in _load(table)["nautobot_backup_job_types"]}
    variables = _load(AWX / "vars" / "main.yml")
    surveys = dict(_load(SETUP)[0]["vars"]["netops_awx_job_surveys"])
    for job_type in variables["netops_awx_job_types"]:
        assert job_type in types and not types[job_type].get("retired"), f"{job_type} is not a live job type"
        # Survey answers named <type>_<parameter> override the type's parameters (run_job.yml).
        for question in surveys[job_type]:
            name = question["variable"]
            if name.startswith(f"{job_type}_"):
                parameter = name[len(job_type) + 1:]
                assert parameter in (types[job_type].get("defaults") or {}), f"{name}: {job_type} has no {parameter}"


def test_syntax_check():
    proc = subprocess.run([str(BIN / "ansible-playbook"), "--syntax-check", str(SETUP)], capture_output=True,
                          text=True, env=ansible_env(), check=False, cwd=REPO_ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_ansible_lint_production_profile():
    proc = subprocess.run([str(BIN / "ansible-lint"), "--offline", "awx/"], capture_output=True, text=True,
                          env=ansible_env({"PATH": f"{BIN}:/usr/bin:/bin"}), check=False, cwd=REPO_ROOT)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
