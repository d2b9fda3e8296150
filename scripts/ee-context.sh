#!/usr/bin/env bash
# The execution environment (make ee): check the collection the way an image build reads it, then write the
# image's build context (no container engine needed).
#   1. ansible-galaxy collection build -> .build/dist/netops-nautobot_backup.tar.gz
#   2. install that tarball into a scratch collections path and run `ansible-builder introspect` on it, as every
#      image build that installs the collection does: it must succeed, and list every library of requirements.txt
#      and every runtime (non-[test]) package of bindep.txt. The lists go to .build/ee-introspect/ (make ee-venv
#      builds its venv from them).
#   3. ansible-builder create -f awx/execution-environment.yml -> .build/ee (Containerfile + _build/); install the
#      context's requirements.yml as the image's galaxy stage does and run the context's own introspect.py on it as
#      its builder stage does: the lists must be the same as in step 2.
# Build the image where podman or docker can reach the base image's registry:
#   podman build -f .build/ee/Containerfile -t netops/nautobot-backup-ee:latest .build/ee
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="$root/.venv/bin"
build="$root/.build"
lists="$build/ee-introspect"
check="$build/ee-check"
cd "$root"
rm -rf "$build/ee" "$check" "$lists" "$build/dist"
mkdir -p "$lists" "$check"
fail() { echo "ee: $*" >&2; exit 1; }

# 1. the tarball
"$bin/ansible-galaxy" collection build --force --output-path "$build/dist" . >/dev/null
tarball=("$build"/dist/netops-nautobot_backup-*.tar.gz)
cp "${tarball[0]}" "$build/dist/netops-nautobot_backup.tar.gz"

# 2. installed from the tarball, introspected. ANSIBLE_COLLECTIONS_PATH points at the scratch path: with the
# repository's own path configured, ansible-galaxy would find the linked checkout and install nothing.
ANSIBLE_COLLECTIONS_PATH="$check/installed" "$bin/ansible-galaxy" collection install --force --no-deps \
  -p "$check/installed" "$build/dist/netops-nautobot_backup.tar.gz" >"$check/install.log" 2>&1 \
  || { cat "$check/install.log" >&2; fail "installing the tarball failed"; }
"$bin/ansible-builder" introspect --write-pip "$lists/requirements.txt" --write-bindep "$lists/bindep.txt" \
  "$check/installed" >"$check/introspect.log" 2>&1 \
  || { cat "$check/introspect.log" >&2; fail "ansible-builder introspect failed on the installed collection"; }

# Every runtime library and system package must be in the introspected lists (name before any version or [profile]),
# except what introspect leaves out on purpose because every EE has it (ansible-core and its PyYAML).
names() { sed -e 's/#.*//' -e 's/[[:space:]]*$//' "$1" | grep -v '^$' | grep -v '\[.*\btest\b.*\]' \
  | sed -E 's/[][<>=!~;,[:space:]].*//' | tr 'A-Z_.' 'a-z--' | sort -u; }
"$bin/python" -c 'from ansible_builder._target_scripts.introspect import EXCLUDE_REQUIREMENTS as e; print(*e, sep="\n")' \
  | sort -u >"$check/excluded.txt"
for kind in requirements.txt:python bindep.txt:system; do
  file="${kind%%:*}"
  missing="$(comm -23 <(names "$file") <(names "$lists/$file") | comm -23 - "$check/excluded.txt")"
  [ -z "$missing" ] || fail "introspect does not list these ${kind##*:} requirements of $file: ${missing//$'\n'/ }"
done

# 3. the build context, and its galaxy and builder stages without a container
"$bin/ansible-builder" create -f awx/execution-environment.yml -c "$build/ee" --output-filename Containerfile -v 2
context="$build/ee/_build"
for file in requirements.yml collections/netops-nautobot_backup.tar.gz scripts/introspect.py; do
  [ -s "$context/$file" ] || fail "$context/$file is missing or empty"
done
for file in requirements.txt bindep.txt; do
  [ ! -e "$context/$file" ] || fail "$context/$file exists: the definition must not list the collection's requirements"
done
(cd "$context" && ANSIBLE_COLLECTIONS_PATH="$check/image" "$bin/ansible-galaxy" collection install --force \
  -r requirements.yml -p "$check/image" >"$check/galaxy.log" 2>&1) \
  || { cat "$check/galaxy.log" >&2; fail "installing the context's requirements.yml failed"; }
[ -f "$check/image/ansible_collections/netops/nautobot_backup/MANIFEST.json" ] \
  || fail "the context's requirements.yml does not install netops.nautobot_backup"
"$bin/python" "$context/scripts/introspect.py" introspect --write-pip "$check/image-requirements.txt" \
  --write-bindep "$check/image-bindep.txt" "$check/image" >"$check/image-introspect.log" 2>&1 \
  || { cat "$check/image-introspect.log" >&2; fail "the context's introspect.py failed"; }
for file in requirements.txt bindep.txt; do
  cmp -s "$lists/$file" "$check/image-$file" || fail "the context's introspect.py lists another $file than ansible-builder introspect"
done
rm -rf "$check"
echo "ee: introspected requirements in $lists ($(grep -c . "$lists/requirements.txt") Python, $(grep -c . "$lists/bindep.txt") bindep)"
echo "ee: build context in $build/ee (Containerfile, _build/)"
