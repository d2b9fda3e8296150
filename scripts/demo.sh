#!/usr/bin/env bash
# `make demo` / `make demo-stop`: the embedded default environment.
#   up:   a lab of 20 simulated devices (tests/lab/specs/demo.yml, port 10022),
#         a Nautobot instance "demo" seeded with those devices, and a local Git remote.
#   down: stop all of it, by PID.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
py=$root/.venv/bin/python
export PYTHONPATH=$root/tests${PYTHONPATH:+:$PYTHONPATH}
demo=${NB_BACKUP_CACHE_DIR:-$root/.cache}/demo
lab_state=$demo/lab
remote=$demo/remote.git

up() {
  mkdir -p "$demo"
  echo "==> Device lab (tests/lab/specs/demo.yml)"
  if "$py" -m lab status --state-dir "$lab_state" >/dev/null 2>&1; then
    echo "    already running"
  else
    "$py" -m lab start --spec tests/lab/specs/demo.yml --state-dir "$lab_state"
  fi
  echo "==> Nautobot (instance demo; the first run migrates a new database, ~5 minutes)"
  "$py" -m testbed.nautobot_bed up --instance demo
  "$py" -m testbed.nautobot_bed seed --instance demo --devices-from "$lab_state/lab.json"
  echo "==> Git remote"
  if [ ! -d "$remote" ]; then
    "$py" -c "import sys; from pathlib import Path; from testbed.git_remotes import seeded; seeded(Path(sys.argv[1]))" "$remote"
  fi
  echo "    file://$remote"
  echo
  echo "==> Running"
  "$py" -m lab status --state-dir "$lab_state"
  "$py" -m testbed.nautobot_bed status --instance demo
  echo "Git remote: file://$remote (bare, branch main)"
  echo
  echo "Device credentials: see tests/lab/specs/demo.yml (lab-only values)."
  echo "Stop everything with: make demo-stop"
}

down() {
  "$py" -m lab stop --state-dir "$lab_state" || true
  "$py" -m testbed.nautobot_bed down --instance demo || true
  echo "Demo stopped. The Git remote stays at $remote (delete $demo to start over)."
}

case "${1:-up}" in
  up) up ;;
  down) down ;;
  *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
