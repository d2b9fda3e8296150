#!/usr/bin/env bash
# Run the molecule scenario of every role (roles/<role>/molecule/default) with `molecule test`,
# one role after the other, and print one line per role. Stops at the first failure.
#
#   scripts/molecule.sh                  # every role that has a scenario
#   scripts/molecule.sh publish report   # only these roles
#   MOLECULE_VERBOSE=1 scripts/molecule.sh writeback   # stream molecule's output
#
# Molecule's ephemeral state (inventory, ansible.cfg, the scenarios' temporary remotes,
# checkouts and device lab) lives in .cache/molecule/<role>/ (git-ignored); each role's full
# output is kept in .cache/molecule/<role>.log. Nothing is left running: the scenarios stop
# what they start in their cleanup step, and this script stops, by PID, any device lab a
# scenario left behind (an interrupted run).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="$ROOT/.venv/bin"
STATE="$ROOT/.cache/molecule"

export PATH="$BIN:$PATH"
# Always test this checkout: the collection is the repository, linked by `make collection`.
export ANSIBLE_COLLECTIONS_PATH="$ROOT/.build/collections"
export ANSIBLE_COLLECTIONS_SCAN_SYS_PATH=false
export ANSIBLE_FORCE_COLOR="${ANSIBLE_FORCE_COLOR:-0}"

if [[ ! -x "$BIN/molecule" ]]; then
  echo "molecule: $BIN/molecule not found; run 'make venv' (molecule is in requirements-test.txt)" >&2
  exit 2
fi
link="$ANSIBLE_COLLECTIONS_PATH/ansible_collections/netops/nautobot_backup"
if [[ ! -e "$link/galaxy.yml" ]]; then
  # Same link as `make collection`.
  mkdir -p "$(dirname "$link")"
  ln -sfn ../../../.. "$link"
fi

roles=()
if (($#)); then
  for role in "$@"; do
    if [[ ! -f "$ROOT/roles/$role/molecule/default/molecule.yml" ]]; then
      echo "molecule: no scenario roles/$role/molecule/default/molecule.yml" >&2
      exit 2
    fi
    roles+=("$role")
  done
else
  for scenario in "$ROOT"/roles/*/molecule/default/molecule.yml; do
    [[ -f "$scenario" ]] || continue
    role="${scenario#"$ROOT/roles/"}"
    roles+=("${role%%/*}")
  done
fi
if ((${#roles[@]} == 0)); then
  echo "molecule: no role has a molecule scenario" >&2
  exit 2
fi

# Stop, by the PID in its lab.pid, any device lab left under a scenario's state directory.
stop_leftover_labs() {
  local dir="$1" pidfile
  [[ -d "$dir" ]] || return 0
  while IFS= read -r -d '' pidfile; do
    PYTHONPATH="$ROOT/tests" "$BIN/python" -m lab stop --state-dir "$(dirname "$pidfile")" >/dev/null || true
  done < <(find "$dir" -name lab.pid -type f -print0)
}

# molecule runs as a background job in its own process group (set -m), so that an interrupted
# run stops it, and the ansible-playbook it runs, by that group's id.
set -m
current=""
child=""
on_exit() {
  if [[ -n "$child" ]] && kill -0 "$child" 2>/dev/null; then
    echo "molecule: $current interrupted; stopping molecule (process group $child)" >&2
    kill -TERM -- "-$child" 2>/dev/null || true
    wait "$child" 2>/dev/null || true
  fi
  if [[ -n "$current" ]]; then
    stop_leftover_labs "$STATE/$current"
  fi
}
trap on_exit EXIT
trap 'exit 130' INT TERM

run_scenario() {
  cd "$ROOT/roles/$1"
  MOLECULE_EPHEMERAL_DIRECTORY="$STATE/$1" exec molecule test
}

mkdir -p "$STATE"
total_start=$SECONDS
for role in "${roles[@]}"; do
  current="$role"
  log="$STATE/$role.log"
  start=$SECONDS
  status=0
  if [[ "${MOLECULE_VERBOSE:-0}" == 1 ]]; then
    run_scenario "$role" </dev/null > >(tee "$log") 2>&1 &
  else
    run_scenario "$role" </dev/null >"$log" 2>&1 &
  fi
  child=$!
  wait "$child" || status=$?
  child=""
  stop_leftover_labs "$STATE/$role"
  current=""
  if ((status != 0)); then
    if [[ "${MOLECULE_VERBOSE:-0}" != 1 ]]; then
      tail -n 60 "$log" >&2
    fi
    echo "molecule: $role FAILED ($((SECONDS - start)) s, exit $status; full log: ${log#"$ROOT/"})" >&2
    exit 1
  fi
  echo "molecule: $role passed ($((SECONDS - start)) s)"
done
echo "molecule: ${#roles[@]} scenario(s) passed in $((SECONDS - total_start)) s"
