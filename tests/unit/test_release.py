"""The Galaxy tarball carries what users need and nothing else, even when built from a dirty working tree.

The source tree (git's tracked and untracked-but-not-ignored files) is copied to a scratch directory, junk that a
developer's tree collects is added, ``ansible-galaxy collection build`` runs there, and the tarball's files must be
exactly the source files that SHIPPED allows, plus MANIFEST.json and FILES.json.
"""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import List, Set

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
GALAXY = Path(sys.executable).parent / "ansible-galaxy"

# Top-level files users get: docs, licence, changelog, and the two requirement files that
# meta/execution-environment.yml names (ansible-builder reads them from the installed collection).
TOP_FILES = {"README.md", "COPYING", "CHANGELOG.rst", "requirements.txt", "bindep.txt"}
TOP_DIRS = {"plugins", "roles", "playbooks", "docs", "awx"}
DOC_SUFFIXES = (".md", ".rst", ".yml", ".yaml")

# What a used working tree holds besides the sources: none of it may reach the tarball.
JUNK = [
    ".ansible/collections/ansible_collections/x/y/MANIFEST.json",
    ".venv/bin/python",
    ".pytest_cache/v/cache/nodeids",
    ".ruff_cache/0.1/x",
    ".build/collections/x",
    ".cache/nautobot/dump.sql.gz",
    "context/Containerfile",
    "notes.txt",
    "TODO.md",
    "netops-nautobot_backup-0.0.9.tar.gz",
    "tests/output/junit.xml",
    "tests/unit/test_scratch.py",
    "bench/scratch.py",
    "benchmarks/output/run.json",
    "scripts/local.sh",
    "plugins/module_utils/__pycache__/backup.cpython-311.pyc",
    "plugins/modules/notes.txt",
    "plugins/action/device_config_backup.py.orig",
    "roles/x/molecule/default/molecule.yml",
    "roles/backup_devices/molecule/scratch/converge.yml",
    "roles/publish/tasks/main.yml~",
    "roles/report/tasks/.main.yml.swp",
    "playbooks/backup.retry",
    "playbooks/.ansible/x",
    "docs/screenshots/landing.png",
    "docs/screenshots/notes.md",
    "docs/.DS_Store",
    "changelogs/fragments/99-wip.yml",
    "changelogs/.plugin-cache.yaml",
    "awx/notes.txt",
    "meta/notes.txt",
]

REQUIRED = {
    "MANIFEST.json",
    "FILES.json",
    "README.md",
    "COPYING",
    "requirements.txt",
    "bindep.txt",
    "meta/runtime.yml",
    "meta/execution-environment.yml",
    "changelogs/changelog.yaml",
    "plugins/modules/device_config_backup.py",
    "plugins/action/device_config_backup.py",
    "plugins/inventory/nautobot.py",
    "plugins/module_utils/backup.py",
    "playbooks/backup.yml",
    "playbooks/run_job.yml",
    "roles/backup_devices/tasks/main.yml",
    "roles/backup_devices/meta/argument_specs.yml",
    "awx/setup.yml",
}


def shipped(path: str) -> bool:
    """Whether a source file belongs in the tarball (the rule galaxy.yml's manifest implements)."""
    parts = path.split("/")
    if any(part.startswith(".") or part == "__pycache__" for part in parts):
        return False
    if path.endswith((".pyc", ".pyo", ".bak", "~", ".swp")):
        return False
    if len(parts) == 1:
        return path in TOP_FILES
    top = parts[0]
    if top == "meta":
        return len(parts) == 2 and path.endswith(".yml")
    if top == "changelogs":
        return path == "changelogs/changelog.yaml"
    if top not in TOP_DIRS:
        return False
    if top == "plugins":
        return path.endswith((".py", ".yml", ".yaml"))  # .yml: documentation beside a filter or test plugin
    if top == "roles":
        return len(parts) > 2 and parts[2] != "molecule" and path.endswith((".yml", ".yaml", ".md", ".j2"))
    if top == "docs":
        return parts[1] != "screenshots" and path.endswith(DOC_SUFFIXES)
    return path.endswith((".yml", ".yaml"))  # playbooks, awx


def source_files() -> List[str]:
    """The files a commit of this tree would hold: tracked (still present) and untracked but not ignored."""
    out = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, capture_output=True, check=True,
    ).stdout.decode()
    return sorted(name for name in set(out.split("\0")) if name and (ROOT / name).is_file())


def tarball_files(tarball: Path) -> Set[str]:
    with tarfile.open(tarball) as archive:
        return {member.name for member in archive.getmembers() if member.isfile()}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("needs the git working tree")
    files = source_files()
    src = tmp_path_factory.mktemp("tree") / "nautobot_backup"
    for name in files:
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, src / name)
    for name in JUNK:
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        (src / name).write_text("junk\n")
    dist = tmp_path_factory.mktemp("dist")
    proc = subprocess.run(
        [str(GALAXY), "collection", "build", "--output-path", str(dist), str(src)],
        capture_output=True, text=True, check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    tarballs = list(dist.glob("netops-nautobot_backup-*.tar.gz"))
    assert len(tarballs) == 1, tarballs
    return {"sources": files, "tarball": tarballs[0], "members": tarball_files(tarballs[0])}


def test_the_tarball_holds_exactly_the_shipped_sources(built: dict) -> None:
    expected = {name for name in built["sources"] if shipped(name)} | {"MANIFEST.json", "FILES.json"}
    members = built["members"]
    assert not members - expected, f"in the tarball but not meant for users: {sorted(members - expected)}"
    assert not expected - members, f"meant for users but missing from the tarball: {sorted(expected - members)}"


def test_no_junk_and_no_development_files(built: dict) -> None:
    members = built["members"]
    assert not members & set(JUNK)
    for prefix in ("tests/", "bench/", "benchmarks/", "scripts/", "context/", "changelogs/fragments/"):
        assert not [m for m in members if m.startswith(prefix)], prefix
    assert not [m for m in members if "/molecule/" in m]
    assert not [m for m in members if m.startswith("docs/screenshots/")]
    for name in ("Makefile", "galaxy.yml", "requirements-test.txt", "pyproject.toml", "ansible.cfg", ".gitignore"):
        assert name not in members


def test_required_files_are_present(built: dict) -> None:
    members = built["members"]
    assert REQUIRED <= members, sorted(REQUIRED - members)
    modules = {m for m in members if m.startswith("plugins/modules/") and m.endswith(".py")}
    tracked_modules = {f for f in built["sources"] if f.startswith("plugins/modules/") and f.endswith(".py")}
    assert modules == tracked_modules and len(modules) >= 9


def test_files_json_lists_every_member(built: dict) -> None:
    with tarfile.open(built["tarball"]) as archive:
        extracted = archive.extractfile("FILES.json")
        assert extracted is not None
        listed = {entry["name"] for entry in json.load(extracted)["files"] if entry["ftype"] == "file"}
    assert listed | {"FILES.json"} == built["members"] - {"MANIFEST.json"} | {"FILES.json"}


def _version(text: str) -> tuple:
    return tuple(int(part) for part in str(text).split("."))


def _versions_added(node: object, where: str) -> List[tuple]:
    """(where, version) of every version_added in a documentation tree (options and suboptions included)."""
    found = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "version_added":
                found.append((where, str(value)))
            else:
                found.extend(_versions_added(value, f"{where}.{key}"))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found.extend(_versions_added(value, f"{where}[{index}]"))
    return found


def test_no_version_added_is_later_than_the_collection_version() -> None:
    galaxy_version = yaml.safe_load((ROOT / "galaxy.yml").read_text())["version"]
    found = []
    for path in sorted((ROOT / "plugins").glob("*/*.py")):
        for node in ast.parse(path.read_text()).body:
            if (isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == ["DOCUMENTATION"]
                    and isinstance(node.value, ast.Constant)):
                found.extend(_versions_added(yaml.safe_load(node.value.value), str(path.relative_to(ROOT))))
    for path in sorted((ROOT / "roles").glob("*/meta/argument_specs.yml")):
        found.extend(_versions_added(yaml.safe_load(path.read_text()), str(path.relative_to(ROOT))))
    assert len([entry for entry in found if entry[0].startswith("plugins/modules/")]) >= 9, found
    later = [(where, version) for where, version in found if _version(version) > _version(galaxy_version)]
    assert not later, f"version_added later than galaxy.yml's {galaxy_version}: {later}"
