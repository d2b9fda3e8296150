"""The execution environment, checked the way an image build reads the collection (make ee, scripts/ee-context.sh).

Each test runs the script on a copy of the source tree: it builds the Galaxy tarball, installs it into a scratch
collections path, runs ``ansible-builder introspect`` on it and writes the build context of
awx/execution-environment.yml. The collection's runtime libraries and system packages must come out of introspect,
and the script must fail when introspect fails or leaves them out. No test bed: only ansible-galaxy and
ansible-builder of the test venv.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Set

import pytest
import yaml
from ansible_builder._target_scripts.introspect import EXCLUDE_REQUIREMENTS

ROOT = Path(__file__).resolve().parents[2]
VENV = Path(sys.executable).parent.parent

# What plugins/ imports (tests/unit/test_dependencies.py ties requirements.txt to the imports) and what the
# controller runs (git, ssh); written out here so that an emptied requirements.txt cannot pass.
RUNTIME_LIBRARIES = {"netmiko", "paramiko", "gitpython", "pydantic", "netutils", "ntc-templates", "textfsm",
                     "requests", "jinja2"}
RUNTIME_PACKAGES = {"git", "openssh-client", "openssh-clients"}


def tree_copy(dest: Path) -> Path:
    """The files a commit of this tree would hold, plus a link to the test venv the script runs from."""
    out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                         capture_output=True, check=True).stdout.decode()
    for name in sorted(set(out.split("\0"))):
        if name and (ROOT / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, dest / name)
    (dest / ".venv").symlink_to(VENV)
    return dest


def make_ee(tree: Path) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if not key.startswith("ANSIBLE_")}
    return subprocess.run(["bash", str(tree / "scripts/ee-context.sh")], cwd=tree, env=env, capture_output=True,
                          text=True, timeout=600, check=False)


def names(path: Path, runtime_only: bool = False) -> Set[str]:
    """Requirement names of a pip or bindep list (introspect appends '# from collection ...' to each line)."""
    found = set()
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line or (runtime_only and re.search(r"\[[^]]*\btest\b", line)):
            continue
        found.add(re.split(r"[\s\[<>=!~;,]", line, maxsplit=1)[0].lower().replace("_", "-"))
    return found


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("needs the git working tree")
    tree = tree_copy(tmp_path_factory.mktemp("ee") / "nautobot_backup")
    proc = make_ee(tree)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return tree


def test_introspect_on_the_installed_tarball_lists_the_runtime_requirements(built: Path) -> None:
    lists = built / ".build/ee-introspect"
    python, system = lists / "requirements.txt", lists / "bindep.txt"
    assert RUNTIME_LIBRARIES <= names(python), python.read_text()
    # all of requirements.txt, but what introspect drops because every EE has it (ansible-core, PyYAML)
    assert names(python) == names(ROOT / "requirements.txt") - EXCLUDE_REQUIREMENTS
    assert RUNTIME_PACKAGES <= names(system), system.read_text()
    assert names(system, runtime_only=True) == names(ROOT / "bindep.txt", runtime_only=True)
    for line in python.read_text().splitlines() + system.read_text().splitlines():
        assert line.endswith("# from collection netops.nautobot_backup"), line


def test_the_tarball_ships_the_metadata_introspect_reads(built: Path) -> None:
    with tarfile.open(built / ".build/dist/netops-nautobot_backup.tar.gz") as archive:
        meta = yaml.safe_load(archive.extractfile("meta/execution-environment.yml").read())  # type: ignore[union-attr]
        for entry in meta["dependencies"].values():
            assert archive.getmember(entry).isfile(), entry  # relative to the collection root, inside the tarball
    assert set(meta["dependencies"]) == {"python", "system"}


def test_the_image_takes_the_requirements_from_introspect(built: Path) -> None:
    context = built / ".build/ee"
    containerfile = (context / "Containerfile").read_text()
    assert "ansible-galaxy collection install $ANSIBLE_GALAXY_CLI_COLLECTION_OPTS -r requirements.yml" in containerfile
    assert "/output/scripts/introspect.py introspect" in containerfile
    assert not (context / "_build/requirements.txt").exists()  # never listed twice: only through introspect
    assert not (context / "_build/bindep.txt").exists()
    requirements = yaml.safe_load((context / "_build/requirements.yml").read_text())
    assert requirements == {"collections": [{"name": "collections/netops-nautobot_backup.tar.gz", "type": "file"}]}
    assert (context / "_build/collections/netops-nautobot_backup.tar.gz").is_file()


def test_make_ee_fails_when_introspect_fails(tmp_path: Path) -> None:
    # The layout before: paths relative to meta/, outside the installed collection.
    tree = tree_copy(tmp_path / "nautobot_backup")
    (tree / "meta/execution-environment.yml").write_text(
        "version: 3\ndependencies:\n  python: ../requirements.txt\n  system: ../bindep.txt\n")
    proc = make_ee(tree)
    assert proc.returncode != 0
    assert "ansible-builder introspect failed on the installed collection" in proc.stderr
    assert "FileNotFoundError" in proc.stderr
    assert not (tree / ".build/ee/Containerfile").exists()


def test_make_ee_fails_when_introspect_leaves_runtime_packages_out(tmp_path: Path) -> None:
    tree = tree_copy(tmp_path / "nautobot_backup")
    (tree / "meta/execution-environment.yml").write_text("version: 1\ndependencies:\n  python: requirements.txt\n")
    proc = make_ee(tree)
    assert proc.returncode != 0
    assert "introspect does not list these system requirements of bindep.txt: git openssh-client openssh-clients" \
        in proc.stderr
