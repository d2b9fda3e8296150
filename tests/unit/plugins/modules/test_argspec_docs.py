"""Every module's documentation (doc fragments resolved by ansible-doc) against the argument spec that is validated.

Each module file defines its own options once, in ARGUMENT_SPEC next to its DOCUMENTATION; its action
plugin adds the spec pieces of the doc fragments it extends (plugin_utils.argspecs). An option added to
one side only, or a type, default, choice, element type, alias or required flag that differs, fails here.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List, Mapping

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[4]
COLLECTION = "netops.nautobot_backup"
PACKAGE = "ansible_collections.netops.nautobot_backup.plugins"
MODULES = sorted(path.stem for path in (ROOT / "plugins" / "modules").glob("*.py") if path.stem != "__init__")
# Options whose value is a secret: the spec must keep them out of logs and results.
SECRET = re.compile(r"(^|_)(token|password|secret|passphrase)$")


def ansible_doc(names: List[str]) -> Dict[str, Any]:
    """The documentation of the modules as ansible-doc resolves it (doc fragments merged), in one run."""
    env = dict(os.environ)
    env.setdefault("ANSIBLE_COLLECTIONS_PATH", str(ROOT / ".build" / "collections"))
    command = [str(Path(sys.executable).with_name("ansible-doc")), "-t", "module", "--json"]
    completed = subprocess.run(
        command + [f"{COLLECTION}.{name}" for name in names], capture_output=True, text=True, env=env, check=False
    )
    assert completed.returncode == 0, completed.stderr
    return {name.rsplit(".", 1)[-1]: value["doc"] for name, value in json.loads(completed.stdout).items()}


@pytest.fixture(scope="module")
def docs() -> Dict[str, Any]:
    return ansible_doc(MODULES)


def validated_spec(name: str) -> Dict[str, Any]:
    """The spec the module's arguments are validated with: its action plugin's, else the module file's own."""
    try:
        action = importlib.import_module(f"{PACKAGE}.action.{name}")
    except ModuleNotFoundError:
        return importlib.import_module(f"{PACKAGE}.modules.{name}").ARGUMENT_SPEC
    return action.ActionModule.ARGUMENT_SPEC


def differences(options: Mapping[str, Any], spec: Mapping[str, Any], where: str = "") -> List[str]:
    """Every way the documented options and the spec differ (empty when they agree), recursing into suboptions."""
    found = [f"{where}{name}: documented, not in the spec" for name in sorted(set(options) - set(spec))]
    found += [f"{where}{name}: in the spec, not documented" for name in sorted(set(spec) - set(options))]
    for name in sorted(set(options) & set(spec)):
        doc, arg = options[name] or {}, spec[name]
        pairs = {
            "type": (doc.get("type", "str"), arg.get("type", "str")),
            "required": (bool(doc.get("required", False)), bool(arg.get("required", False))),
            "default": (doc.get("default"), arg.get("default")),
            "choices": (doc.get("choices"), arg.get("choices")),
            "elements": (doc.get("elements"), arg.get("elements")),
            "aliases": (sorted(doc.get("aliases") or []), sorted(arg.get("aliases") or [])),
        }
        for key, (documented, specified) in pairs.items():
            if documented != specified:
                found.append(f"{where}{name}: {key} documented {documented!r}, spec {specified!r}")
        if SECRET.search(name) and arg.get("no_log") is not True:
            found.append(f"{where}{name}: a secret without no_log=True")
        if doc.get("suboptions") or arg.get("options"):
            found += differences(doc.get("suboptions") or {}, arg.get("options") or {}, f"{where}{name}.")
    return found


def test_every_module_is_checked():
    assert len(MODULES) == 11


@pytest.mark.parametrize("name", MODULES)
def test_documented_options_match_the_validated_spec(docs, name):
    assert differences(docs[name].get("options") or {}, validated_spec(name)) == []


@pytest.mark.parametrize("name", MODULES)
def test_the_module_file_specs_exactly_its_own_documented_options(name):
    """ARGUMENT_SPEC beside DOCUMENTATION holds the module's own options; fragments add the rest."""
    module = importlib.import_module(f"{PACKAGE}.modules.{name}")
    own = yaml.safe_load(module.DOCUMENTATION).get("options") or {}
    assert differences(own, module.ARGUMENT_SPEC) == []


def test_each_fragment_spec_matches_its_doc_fragment():
    from ansible_collections.netops.nautobot_backup.plugins.plugin_utils.argspecs import FRAGMENT_SPECS

    for fragment, spec in FRAGMENT_SPECS.items():
        doc_module = importlib.import_module(f"{PACKAGE}.doc_fragments.{fragment.rsplit('.', 1)[-1]}")
        options = yaml.safe_load(doc_module.ModuleDocFragment.DOCUMENTATION)["options"]
        assert differences(options, spec) == [], fragment


def test_differences_catch_an_option_on_one_side_only():
    """The comparison itself: one-sided options, a changed default, a secret without no_log, a suboption."""
    spec = {"a": {"type": "int", "default": 1}, "token": {"type": "str"}, "sub": {"type": "dict", "options": {}}}
    options = {
        "a": {"type": "int", "default": 2},
        "b": {"type": "str"},
        "token": {"type": "str"},
        "sub": {"type": "dict", "suboptions": {"x": {"type": "str"}}},
    }
    assert differences(options, spec) == [
        "b: documented, not in the spec",
        "a: default documented 2, spec 1",
        "sub.x: documented, not in the spec",
        "token: a secret without no_log=True",
    ]


def test_module_defaults_are_the_engines_defaults():
    """Module files hold literals; the engine's own defaults must be the same values."""
    from ansible_collections.netops.nautobot_backup.plugins.module_utils import (
        git_repo,
        git_runner,
        paths,
        run_lock,
        writeback,
    )
    from ansible_collections.netops.nautobot_backup.plugins.modules import (
        backup_path,
        git_commit_push,
        nautobot_backup_status,
    )

    git = git_commit_push.ARGUMENT_SPEC
    assert git["branch"]["default"] == git_repo.DEFAULT_BRANCH
    assert git["message"]["default"] == git_repo.DEFAULT_MESSAGE
    assert git["author_name"]["default"] == git_repo.DEFAULT_AUTHOR_NAME
    assert git["author_email"]["default"] == git_repo.DEFAULT_AUTHOR_EMAIL
    assert git["push_retries"]["default"] == git_repo.DEFAULT_PUSH_RETRIES
    assert git["timeout"]["default"] == git_runner.DEFAULT_TIMEOUT
    assert git["lock_timeout"]["default"] == run_lock.DEFAULT_LOCK_TIMEOUT
    status = nautobot_backup_status.ARGUMENT_SPEC
    assert status["custom_field"]["default"] == writeback.DEFAULT_CUSTOM_FIELD
    assert status["batch_size"]["default"] == writeback.DEFAULT_BATCH_SIZE
    # The backup path templates: paths.py holds the one definition the engine applies.
    assert backup_path.ARGUMENT_SPEC["running_template"]["default"] == paths.DEFAULT_RUNNING_TEMPLATE
    assert backup_path.ARGUMENT_SPEC["startup_template"]["default"] == paths.DEFAULT_STARTUP_TEMPLATE


def test_written_out_template_defaults_are_the_engines():
    """The default templates are written out where Python cannot reach (doc fragment prose, AWX survey
    defaults); each copy must still be paths.py's definition, so changing it there fails here first."""
    from ansible_collections.netops.nautobot_backup.plugins.module_utils import paths

    fragment = (ROOT / "plugins" / "doc_fragments" / "backup_options.py").read_text(encoding="utf-8")
    assert f"C({paths.DEFAULT_RUNNING_TEMPLATE})" in fragment
    assert f"C({paths.DEFAULT_STARTUP_TEMPLATE})" in fragment
    survey = yaml.safe_load((ROOT / "awx" / "vars" / "main.yml").read_text(encoding="utf-8"))
    assert survey["netops_awx_running_path_template"] == paths.DEFAULT_RUNNING_TEMPLATE
    assert survey["netops_awx_startup_path_template"] == paths.DEFAULT_STARTUP_TEMPLATE
