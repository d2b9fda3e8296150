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
checkout=$demo/checkout
inventory=$demo/demo_nautobot.yml

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
  # The remote holds the devices' pinned SSH host keys (.known_hosts/). The lab keeps its host key in its
  # state directory; if that key is not the one the remote's pins were made with (the lab state was
  # deleted), start the remote and the checkout over instead of failing every device with host_key_mismatch.
  local lab_key
  lab_key=$("$py" -c "import sys; from lab.client import LabClient; c = LabClient(sys.argv[1]); \
print(c.host_key(c.devices[0]['name'])['fingerprint'])" "$lab_state")
  if [ -d "$remote" ] && [ "$(cat "$demo/remote.hostkey" 2>/dev/null)" != "$lab_key" ]; then
    echo "    the lab's host key changed: starting the Git remote and the checkout over (their pins are stale)"
    rm -rf "$remote" "$checkout"
  fi
  echo "$lab_key" > "$demo/remote.hostkey"
  if [ ! -d "$remote" ]; then
    "$py" -c "import sys; from pathlib import Path; from testbed.git_remotes import empty; empty(Path(sys.argv[1]))" "$remote"
  fi
  echo "    file://$remote"
  echo
  echo "==> Running"
  "$py" -m lab status --state-dir "$lab_state"
  "$py" -m testbed.nautobot_bed status --instance demo
  echo "Git remote: file://$remote (bare, branch main)"
  echo
  echo "Device credentials: see tests/lab/specs/demo.yml (lab-only values)."
  run_backup
  echo "Stop everything with: make demo-stop"
}

# The demo Nautobot's URL and admin token, from the test bed's state (never printed).
nautobot_env() {
  "$py" - <<'PY'
import json, subprocess, sys
status = json.loads(subprocess.run([sys.executable, "-m", "testbed.nautobot_bed", "status", "--instance", "demo"],
                                   capture_output=True, text=True, check=True).stdout)
creds = json.loads(open(status["credentials_file"], encoding="utf-8").read())
admin = creds["admin"]
print(status["url"])
print(admin["token"] if isinstance(admin, dict) else admin)
PY
}

run_backup() {
  local url token
  { read -r url; read -r token; } < <(nautobot_env)
  umask 077
  cat > "$inventory" <<YAML
plugin: netops.nautobot_backup.nautobot
url: $url
group_by: [location, role, platform]
compose:
  ansible_port: 10022
YAML
  # Device credentials as an AWX Machine credential would give them (lab-only values).
  "$py" - > "$demo/device-credentials.yml" <<'PY'
import yaml
spec = yaml.safe_load(open("tests/lab/specs/demo.yml", encoding="utf-8"))["defaults"]
print(yaml.safe_dump({"ansible_user": spec["username"], "ansible_password": spec["password"],
                      "ansible_become_password": spec["secret"]}))
PY
  local args=(-i "$inventory" playbooks/backup.yml -e "backup_repo_url=file://$remote" -e "backup_repo_dir=$checkout"
              -e backup_write_timestamp=true -e "@$demo/device-credentials.yml")
  echo
  echo "==> ansible-playbook ${args[*]}"
  NAUTOBOT_URL=$url NAUTOBOT_TOKEN=$token "$root/.venv/bin/ansible-playbook" "${args[@]}"
  echo
  echo "==> git log --stat (the backup commit in the remote)"
  git --git-dir="$remote" log --stat -n 1 | head -40
  echo
  echo "==> The repository's front page (README.md, built from .status/<device>.json)"
  git --git-dir="$remote" show HEAD:README.md | head -25
  local before
  before=$(git --git-dir="$remote" rev-list --count HEAD)
  echo
  echo "==> Second run: nothing changed on the devices"
  NAUTOBOT_URL=$url NAUTOBOT_TOKEN=$token "$root/.venv/bin/ansible-playbook" "${args[@]}" | tail -12
  echo "Commits in the remote: before $before, after $(git --git-dir="$remote" rev-list --count HEAD) (no new commit)"
  echo "Report: $checkout.report.json"
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
