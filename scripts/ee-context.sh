#!/usr/bin/env bash
# Build the execution environment's build context (no container engine needed), then check it.
#   1. ansible-galaxy collection build -> .build/dist/netops-nautobot_backup.tar.gz
#   2. ansible-builder create -f meta/execution-environment.yml -> .build/ee (Containerfile + _build/)
#   3. install the context's galaxy requirements into a scratch path, as the image build would,
#      and check that the Python and system requirements reached the context.
# Build the image where podman or docker exists: podman build -f .build/ee/Containerfile .build/ee
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="$root/.venv/bin"
build="$root/.build"
cd "$root"
rm -rf "$build/ee" "$build/ee-check" "$build/dist"
"$bin/ansible-galaxy" collection build --force --output-path "$build/dist" . >/dev/null
tarball=("$build"/dist/netops-nautobot_backup-*.tar.gz)
cp "${tarball[0]}" "$build/dist/netops-nautobot_backup.tar.gz"
"$bin/ansible-builder" create -f meta/execution-environment.yml -c "$build/ee" --output-filename Containerfile -v 2
context="$build/ee/_build"
for file in requirements.txt bindep.txt requirements.yml collections/netops-nautobot_backup.tar.gz; do
  [ -s "$context/$file" ] || { echo "ee: $context/$file is missing or empty" >&2; exit 1; }
done
cmp -s requirements.txt "$context/requirements.txt" || { echo "ee: requirements.txt was not copied as is" >&2; exit 1; }
log="$build/ee-check.log"
(cd "$context" && "$bin/ansible-galaxy" collection install --force -r requirements.yml -p "$build/ee-check" >"$log" 2>&1) \
  || { cat "$log" >&2; echo "ee: installing the context's requirements.yml failed" >&2; exit 1; }
[ -f "$build/ee-check/ansible_collections/netops/nautobot_backup/MANIFEST.json" ] \
  || { echo "ee: the context's requirements.yml does not install netops.nautobot_backup" >&2; exit 1; }
rm -rf "$build/ee-check" "$log"
echo "ee: build context in $build/ee (Containerfile, _build/)"
