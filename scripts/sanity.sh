#!/usr/bin/env bash
# Run ansible-test sanity on a copy of the collection under ansible_collections/.
# ansible-test runs from its own virtualenv (.cache/sanity-venv) in origin mode with
# --requirements; its per-test virtualenvs get pip from scripts/ansible-test-get-pip.py
# (placed where ansible-test looks for its bootstrap, under an isolated HOME).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cache=${NB_BACKUP_CACHE_DIR:-$root/.cache}
core_version=$(sed -n 's/^ansible-core==//p' "$root/requirements-test.txt")
venv=$cache/sanity-venv
if [ ! -x "$venv/bin/ansible-test" ] || ! "$venv/bin/python" -c "import ansible, sys; sys.exit(ansible.__version__ != '$core_version')"; then
  rm -rf "$venv"
  python3.11 -m venv "$venv"
  "$venv/bin/pip" install -q --upgrade pip
  "$venv/bin/pip" install -q "ansible-core==$core_version"
fi
export HOME=$cache/ansible-test-home
pip_version=$(sed -n "s/.*pip='\([0-9.]*\)'.*/\1/p" "$venv"/lib/python3.11/site-packages/ansible_test/_internal/python_requirements.py | head -1)
mkdir -p "$HOME/.ansible/test/cache"
cp "$root/scripts/ansible-test-get-pip.py" "$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py"

dest=$root/.build/sanity
rm -rf "$dest"
coll=$("$root/scripts/sync-collection-copy.sh" "$dest")
cd "$coll"
git init -q
git add -A
"$venv/bin/ansible-test" sanity --requirements --python 3.11 --color no "$@"
