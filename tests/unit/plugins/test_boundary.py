"""The one boundary between Ansible and the engine, checked on the source (imports nothing of the collection).

module_utils is a plain Python engine: no module of it imports Ansible or reads the play context or the
task's variables (that is plugin_utils' job). Action plugins never import each other: what they share
lives in plugin_utils or in their module's file.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Iterator, List, Tuple

import pytest

ROOT = Path(__file__).resolve().parents[3]
PLUGINS = ROOT / "plugins"
COLLECTION = "ansible_collections.netops.nautobot_backup"
ENGINE = f"{COLLECTION}.plugins.module_utils"
# Names that only Ansible's side knows: the play context and the task's variables.
ANSIBLE_NAMES = {"play_context", "_play_context", "task_vars", "hostvars", "PlayContext"}


def _imports(tree: ast.AST) -> Iterator[Tuple[int, str]]:
    """(line, module) of every import in the tree, including those inside functions."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            yield node.lineno, node.module


def _ansible_uses(path: Path) -> List[str]:
    """Where a module_utils file imports Ansible (or another part of the collection) or names its run-time objects."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for line, module in _imports(tree):
        if module == "ansible" or module.startswith("ansible.") or (
            module.startswith("ansible_collections") and not module.startswith(ENGINE)
        ):
            found.append(f"{path.name}:{line} imports {module}")
    for node in ast.walk(tree):
        name = None
        if isinstance(node, ast.Name):
            name = node.id
        elif isinstance(node, ast.Attribute):
            name = node.attr
        elif isinstance(node, ast.arg):
            name = node.arg
        if name in ANSIBLE_NAMES:
            found.append(f"{path.name}:{node.lineno} uses {name}")
    return found


def _module_utils() -> List[Path]:
    return sorted((PLUGINS / "module_utils").glob("*.py"))


def test_there_are_engine_files_to_check():
    assert len(_module_utils()) > 10


@pytest.mark.parametrize("path", _module_utils(), ids=lambda path: path.name)
def test_module_utils_know_no_ansible(path):
    assert _ansible_uses(path) == []


def test_the_check_finds_what_it_must_refuse(tmp_path):
    """The check itself: each of these lines would cross the boundary."""
    for line in (
        "from ansible.module_utils.basic import env_fallback",
        "import ansible.constants",
        "from ansible_collections.netops.nautobot_backup.plugins.plugin_utils.results import task_result",
        "def cli(play_context): return play_context",
        "def run(task_vars): return task_vars",
        "def f(x): return x._play_context",
    ):
        sample = tmp_path / "sample.py"
        sample.write_text(line + "\n", encoding="utf-8")
        assert _ansible_uses(sample), line
    allowed = f"from {ENGINE}.errors import NautobotBackupError\n# ansible-playbook runs it\n"
    sample.write_text(allowed, encoding="utf-8")
    assert _ansible_uses(sample) == []


@pytest.mark.parametrize("path", sorted((PLUGINS / "action").glob("*.py")), ids=lambda path: path.name)
def test_action_plugins_never_import_each_other(path):
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    assert [module for _line, module in _imports(tree) if module.startswith(f"{COLLECTION}.plugins.action")] == []
