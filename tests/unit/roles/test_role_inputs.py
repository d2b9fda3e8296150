"""Every variable a role reads is declared in its meta/argument_specs.yml, or set by the role itself.

Parses roles/*/tasks/*.yml and defaults/*.yml, finds each Jinja expression (``{{ }}`` in any string,
and the bare expressions of ``when``, ``that``, ``failed_when``, ``changed_when``, ``until``), and
checks that every variable it reads is an option of the role's argument spec, a default, a
variable the role registers or sets (``register``, ``set_fact``, task ``vars``, loop variables),
or one Ansible provides. A role that starts reading a new input without declaring it fails here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Iterator, Set

import pytest
import yaml
from jinja2 import Environment, meta

ROOT = Path(__file__).resolve().parents[3]
ROLES = sorted(path.parent.parent.name for path in ROOT.glob("roles/*/meta/argument_specs.yml"))

# What Ansible itself provides to every task (magic and connection variables, lookups and Jinja globals).
PROVIDED = {
    "hostvars",
    "groups",
    "group_names",
    "inventory_hostname",
    "ansible_play_hosts",
    "ansible_play_hosts_all",
    "ansible_play_batch",
    "ansible_failed_result",
    "ansible_failed_task",
    "ansible_check_mode",
    "ansible_diff_mode",
    "ansible_user",
    "ansible_host",
    "omit",
    "item",
    "lookup",
    "query",
    "now",
    "range",
    "dict",
    "lipsum",
    "undef",
    "true",
    "false",
    "none",
    "True",
    "False",
    "None",
}
# Inputs a role reads but does not declare as an option, on purpose: Ansible templates every declared option's
# value before the role, and these hold one entry per device (backup_results: about 1.6 s per role for 10,000
# devices; docs/docsite/rst/performance.rst, "10,000 devices on a quiet machine, session 9"). The role's argument
# spec description must name each one it reads, as C(name).
NOT_OPTIONS = {"backup_results"}
# Keys whose value is a bare Jinja expression (or a list of them), not a template string.
CONDITIONALS = {"when", "that", "failed_when", "changed_when", "until"}


class _AnyName(dict):
    """Filters and tests of any name (Ansible's and the collection's): only variable names matter here."""

    def __contains__(self, name: object) -> bool:
        return True

    def __missing__(self, name: str) -> Any:
        return lambda *args, **kwargs: None

    def get(self, name: str, default: Any = None) -> Any:
        return self[name]


ENV = Environment()
ENV.filters = _AnyName()
ENV.tests = _AnyName()


def expressions(node: Any, key: str = "") -> Iterator[str]:
    """Yield every Jinja source in a task tree: template strings, and conditionals wrapped in {{ }}."""
    if isinstance(node, dict):
        for name, value in node.items():
            yield from expressions(value, str(name))
    elif isinstance(node, list):
        for value in node:
            yield from expressions(value, key)
    elif isinstance(node, str):
        if key in CONDITIONALS and "{{" not in node:
            yield "{{ " + node + " }}"
        elif "{{" in node or "{%" in node:
            yield node
    elif isinstance(node, bool) or node is None:
        return


def set_by(tasks: Any) -> Set[str]:
    """Names a list of tasks defines: register, set_fact keys, task/include vars, loop_var."""
    names: Set[str] = set()
    for task in tasks or []:
        if not isinstance(task, dict):
            continue
        if "register" in task:
            names.add(task["register"])
        for module in ("set_fact", "ansible.builtin.set_fact"):
            if isinstance(task.get(module), dict):
                names.update(task[module])
        if isinstance(task.get("vars"), dict):
            names.update(task["vars"])
        loop_var = (task.get("loop_control") or {}).get("loop_var")
        if loop_var:
            names.add(loop_var)
        for block in ("block", "rescue", "always"):
            names |= set_by(task.get(block))
        for include in ("include_role", "ansible.builtin.include_role", "import_role", "ansible.builtin.import_role"):
            if isinstance(task.get(include), dict):  # what the included role registers or sets is set here too
                included = str(task[include]["name"]).rsplit(".", 1)[-1]
                for tree in role_files(included, "tasks").values():
                    names |= set_by(tree)
    return names


def role_files(role: str, folder: str) -> Dict[Path, Any]:
    """The parsed YAML files of one folder of a role."""
    return {path: yaml.safe_load(path.read_text()) for path in sorted((ROOT / "roles" / role / folder).glob("*.yml"))}


@pytest.mark.parametrize("role", ROLES)
def test_every_input_a_role_reads_is_declared(role: str) -> None:
    specs = yaml.safe_load((ROOT / "roles" / role / "meta" / "argument_specs.yml").read_text())["argument_specs"]
    declared = {name for spec in specs.values() for name in (spec.get("options") or {})}
    tasks = role_files(role, "tasks")
    defaults = role_files(role, "defaults")
    defined = set(PROVIDED) | declared
    for values in defaults.values():
        defined.update(values or {})
    for tree in tasks.values():
        defined |= set_by(tree)
    undeclared: Dict[str, Set[str]] = {}
    for path, tree in {**tasks, **defaults}.items():
        for source in expressions(tree):
            for name in meta.find_undeclared_variables(ENV.parse(source)):
                if name not in defined:
                    undeclared.setdefault(name, set()).add(str(path.relative_to(ROOT)))
    described = " ".join(str(line) for spec in specs.values() for line in spec.get("description") or [])
    for name in NOT_OPTIONS & set(undeclared):
        assert f"C({name})" in described, f"role {role} reads {name} but its argument spec description does not name it"
        del undeclared[name]
    assert not undeclared, f"role {role} reads variables its argument spec does not declare: {undeclared}"


def test_the_checker_sees_conditionals_and_templates() -> None:
    tree = [{"name": "x", "debug": {"msg": "{{ a | default(b) }}"}, "when": "c and d is defined", "register": "r"}]
    found = set()
    for source in expressions(tree):
        found |= meta.find_undeclared_variables(ENV.parse(source))
    assert found == {"a", "b", "c", "d"}
    assert set_by(tree) == {"r"}
