#!/usr/bin/env bash
# Install the awx.awx collection into .build/collections (ANSIBLE_COLLECTIONS_PATH) without Galaxy.
# awx.awx ships inside the community `ansible` package on PyPI: download that wheel once into
# .cache/awx-collection/ and copy only ansible_collections/awx/awx out of it. Idempotent.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
version="${ANSIBLE_PACKAGE_VERSION:-12.3.0}"   # the ansible release that matches ansible-core 2.19
cache="$root/.cache/awx-collection"
dest="$root/.build/collections/ansible_collections/awx/awx"
python="${PYTHON_BIN:-$root/.venv/bin/python}"
[ -x "$python" ] || python=python3
wheel="$cache/ansible-$version-py3-none-any.whl"
stamp="$dest/.installed-from-ansible-$version"

if [ -f "$stamp" ]; then
  exit 0
fi
mkdir -p "$cache"
if [ ! -f "$wheel" ]; then
  echo "Downloading ansible==$version from PyPI (only awx.awx is used)"
  "$python" -m pip download --no-deps --quiet --dest "$cache" "ansible==$version"
fi
tmp="$(mktemp -d "$root/.build/awx.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
"$python" - "$wheel" "$tmp" <<'PY'
import sys
import zipfile

wheel, target = sys.argv[1], sys.argv[2]
prefix = "ansible_collections/awx/awx/"
with zipfile.ZipFile(wheel) as archive:
    members = [name for name in archive.namelist() if name.startswith(prefix)]
    if not members:
        sys.exit(f"{wheel} holds no {prefix}")
    archive.extractall(target, members)
PY
rm -rf "$dest"
mkdir -p "$(dirname "$dest")"
mv "$tmp/ansible_collections/awx/awx" "$dest"
touch "$stamp"
echo "awx.awx installed in $dest"
