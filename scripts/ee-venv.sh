#!/usr/bin/env bash
# make ee-venv: the execution environment without a container engine, to prove what the image would hold.
#   1. scripts/ee-context.sh: the Galaxy tarball, `ansible-builder introspect` on it installed -> .build/ee-introspect/
#   2. a fresh venv .build/ee-venv holding ONLY the introspected requirements.txt plus the ansible-core and
#      ansible-runner pins of awx/execution-environment.yml (what the image's pip installs)
#   3. the introspected bindep.txt's runtime packages present on this machine (bindep, default profile: no [test])
#   4. the collection installed from the tarball into .build/ee-collections (the image's galaxy stage)
#   5. the AWX runner tests with that venv's ansible-runner and ansible-playbook and that collections path
#      (NB_BACKUP_RUNNER_VENV, NB_BACKUP_COLLECTIONS_PATH; tests/testbed/runner.py)
# EE_TESTS (default tests/integration/test_awx_runner.py) and PYTEST_ARGS choose the tests. Not part of make test.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="$root/.venv/bin"
build="$root/.build"
venv="$build/ee-venv"
collections="$build/ee-collections"
lists="$build/ee-introspect"
python="${PYTHON:-python3.11}"
cd "$root"
fail() { echo "ee-venv: $*" >&2; exit 1; }

scripts/ee-context.sh

# 2. the venv: introspected requirements and the definition's two pins, nothing else
pins="$("$bin/python" -c 'import sys, yaml
deps = yaml.safe_load(open(sys.argv[1]))["dependencies"]
print(deps["ansible_core"]["package_pip"], deps["ansible_runner"]["package_pip"])' awx/execution-environment.yml)"
rm -rf "$venv" "$collections"
"$python" -m venv "$venv"
"$venv/bin/pip" install -q --upgrade pip
# shellcheck disable=SC2086  # two requirement specifiers
"$venv/bin/pip" install -q -r "$lists/requirements.txt" $pins
"$venv/bin/pip" check >/dev/null || { "$venv/bin/pip" check >&2; fail "the venv's requirements conflict"; }
echo "ee-venv: $venv from $lists/requirements.txt + $pins ($("$venv/bin/pip" list --format=freeze | wc -l) distributions)"

# 3. the system packages (bindep lists the missing ones of the default profile and exits 1)
"$bin/bindep" -b -f "$lists/bindep.txt" >"$build/ee-bindep-missing.txt" \
  || fail "system packages of $lists/bindep.txt missing here: $(tr '\n' ' ' <"$build/ee-bindep-missing.txt")"
rm -f "$build/ee-bindep-missing.txt"
echo "ee-venv: bindep: the runtime packages of $lists/bindep.txt are installed:" \
  "$("$bin/bindep" -l newline -f "$lists/bindep.txt" | tr '\n' ' ')"

# 4. the collection, from the tarball
ANSIBLE_COLLECTIONS_PATH="$collections" "$venv/bin/ansible-galaxy" collection install --no-deps \
  -p "$collections" "$build/dist/netops-nautobot_backup.tar.gz" >/dev/null
[ -f "$collections/ansible_collections/netops/nautobot_backup/MANIFEST.json" ] || fail "the tarball did not install"

# 5. the AWX runner tests in it (the test process itself stays in .venv: it only drives ansible-runner)
# shellcheck disable=SC2086  # EE_TESTS and PYTEST_ARGS are word lists
NB_BACKUP_RUNNER_VENV="$venv" NB_BACKUP_COLLECTIONS_PATH="$collections" \
  "$bin/python" -m pytest ${EE_TESTS:-tests/integration/test_awx_runner.py} -q ${PYTEST_ARGS:-}
