"""requirements.txt declares every third-party library that plugins/ imports, and only those.

The imports of plugins/**/*.py are read with ast (conditional and function-level ones included), mapped to their
distributions with importlib.metadata, and compared with requirements.txt by normalised name. The standard library,
ansible and ansible_collections are left out: ansible-core runs the collection and meta/runtime.yml pins it.
"""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
from pathlib import Path
from typing import Dict, Set

import yaml
from packaging.requirements import Requirement

from ansible_collections.netops.nautobot_backup.plugins.module_utils import _deps

ROOT = Path(__file__).resolve().parents[2]
NOT_THIRD_PARTY = {"__future__", "ansible", "ansible_collections"}

# Declared but not imported, each with its reason. Empty today: every library in requirements.txt is imported.
DECLARED_WITHOUT_IMPORT: Dict[str, str] = {}


def canonical(name: str) -> str:
    """PEP 503 normalised distribution name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def imported_modules() -> Dict[str, Set[str]]:
    """Top-level third-party module name -> the plugin files that import it."""
    found: Dict[str, Set[str]] = {}
    for path in sorted((ROOT / "plugins").rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top not in NOT_THIRD_PARTY:
                    found.setdefault(top, set()).add(str(path.relative_to(ROOT)))
    return found


def imported_distributions() -> Dict[str, Set[str]]:
    """Canonical distribution name -> the plugin files that import one of its modules."""
    distributions = importlib.metadata.packages_distributions()
    found: Dict[str, Set[str]] = {}
    for module, files in imported_modules().items():
        assert module in distributions, f"{module} (imported by {sorted(files)}) is not installed in the test venv"
        for dist in distributions[module]:
            found.setdefault(canonical(dist), set()).update(files)
    return found


def declared(path: Path) -> Set[str]:
    names = set()
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            names.add(canonical(Requirement(line).name))
    return names


def test_every_imported_library_is_declared() -> None:
    missing = {dist: sorted(files) for dist, files in imported_distributions().items()
               if dist not in declared(ROOT / "requirements.txt")}
    assert not missing, f"imported by plugins/ but not in requirements.txt: {missing}"


def test_every_declared_library_is_imported() -> None:
    unused = declared(ROOT / "requirements.txt") - set(imported_distributions()) - set(DECLARED_WITHOUT_IMPORT)
    assert not unused, f"in requirements.txt but imported by no plugin: {sorted(unused)}"
    assert "pynautobot" not in declared(ROOT / "requirements.txt")


def test_the_import_walk_sees_the_known_libraries() -> None:
    # Guards the walk itself: these are imported under `if has_library(...)`, inside functions or try blocks.
    assert {"requests", "gitpython", "netmiko", "pydantic", "paramiko", "textfsm", "ntc-templates"} <= set(
        imported_distributions()
    )


def test_the_library_gate_names_only_declared_libraries() -> None:
    # _deps.require("x") gives users a pip hint pointing at requirements.txt: x must be in it.
    assert {canonical(name) for name in _deps._LIBRARIES} <= declared(ROOT / "requirements.txt")


def test_the_execution_environment_takes_the_same_lists() -> None:
    # ansible-builder reads meta/execution-environment.yml of the installed collection, paths relative to its root;
    # the image definition takes them from there (introspect), never a second copy (tests/unit/test_ee.py runs it).
    meta = yaml.safe_load((ROOT / "meta/execution-environment.yml").read_text())
    assert meta == {"version": 1, "dependencies": {"python": "requirements.txt", "system": "bindep.txt"}}
    image = yaml.safe_load((ROOT / "awx/execution-environment.yml").read_text())
    assert not {"python", "system"} & set(image["dependencies"])
    galaxy = yaml.safe_load((ROOT / "galaxy.yml").read_text())
    assert galaxy["dependencies"] == {}
