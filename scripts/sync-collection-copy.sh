#!/usr/bin/env bash
# Copy the collection's files (tracked + untracked, minus git-ignored) into
# DEST/ansible_collections/netops/nautobot_backup, for ansible-test and ansible-galaxy.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dest=${1:?usage: sync-collection-copy.sh DEST}
target="$dest/ansible_collections/netops/nautobot_backup"
mkdir -p "$target"
cd "$root"
# Tracked files deleted in the work tree are listed by git but must not be copied.
git ls-files -z --cached --others --exclude-standard \
  | while IFS= read -r -d '' file; do [ -e "$file" ] && printf '%s\0' "$file"; done \
  | rsync -a --ignore-missing-args --from0 --files-from=- ./ "$target/.tmp-sync/"
# rsync --files-from cannot delete stale files, so swap the fresh copy in.
find "$target" -mindepth 1 -maxdepth 1 ! -name .tmp-sync -exec rm -rf {} +
find "$target/.tmp-sync" -mindepth 1 -maxdepth 1 -exec mv {} "$target/" \;
rmdir "$target/.tmp-sync"
echo "$target"
