#!/usr/bin/env bash
# Render ansible-doc for every module and plugin of the collection; fail if any does not render.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
status=0
count=0
for kind in modules inventory callback lookup filter test strategy; do
  dir=plugins/$kind
  [ -d "$dir" ] || continue
  type=${kind%s}
  for file in "$dir"/*.py; do
    [ -e "$file" ] || continue
    name=$(basename "$file" .py)
    [ "$name" = "__init__" ] && continue
    count=$((count + 1))
    if ! out=$(ansible-doc -t "$type" "netops.nautobot_backup.$name" 2>&1) || [ -z "$out" ] || grep -q "ERROR" <<<"$out"; then
      echo "ansible-doc failed for $type netops.nautobot_backup.$name:" >&2
      echo "$out" >&2
      status=1
    fi
  done
done
echo "ansible-doc rendered $count plugin(s)"
exit $status
