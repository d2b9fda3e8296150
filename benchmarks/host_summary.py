"""The host-summary task of N hosts under the batch strategy: host by host against all hosts at once (issue #16).

    ANSIBLE_COLLECTIONS_PATH=.build/collections .venv/bin/python benchmarks/host_summary.py \
        [--hosts 5000] [--rounds 2] [--json out.json]

backup_devices gives every device its own status in the PLAY RECAP with one per-host
``netops.nautobot_backup.host_status`` task. The strategy ``netops.nautobot_backup.batch`` answers it in the
controller. Two forms of that task, alternated in each round, in one ansible-playbook run each:

- ``per_host``: the task as it was before, with a templated condition and run_once
  (``when: backup_mode == 'batch' and ...``). Linear's loop then gathers each host's variables and
  templates the condition and run_once for each host.
- ``at_once``: the task as backup_devices has it now: its condition is one fact set once
  (``when: backup_host_summary_active``), so the strategy answers all hosts at the first one.

The inventory is static (local hosts with host variables shaped like the inventory plugin's), so no device or
Nautobot is needed. A callback records each task's time; the script prints the host-summary task's time for each
form and the ratio at_once / per_host, with the load.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Dict, List

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

# pylint: disable=wrong-import-position
import measure  # noqa: E402  # pylint: disable=import-error

TASK = "Give each device its own status in the host summary"

CALLBACK = """
import json
import os
import time

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "task_seconds"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.current = None
        self.seconds = {}

    def _close(self):
        now = time.monotonic()
        if self.current:
            name, started = self.current
            self.seconds[name] = self.seconds.get(name, 0.0) + now - started
        return now

    def v2_playbook_on_task_start(self, task, is_conditional):
        self.current = (task.get_name(), self._close())

    def v2_playbook_on_stats(self, stats):
        self._close()
        self.current = None
        with open(os.environ["TASK_SECONDS_FILE"], "w", encoding="utf-8") as out:
            json.dump(self.seconds, out)
"""

SUM_UP = {
    "name": "Sum up once",
    "ansible.builtin.set_fact": {
        "backup_host_summary_active": "{{ backup_mode == 'batch' and backup_host_summary | bool }}",
        "backup_host_statuses": "{{ {'bench-00001': 'changed'} }}",
    },
    "run_once": True,
    "delegate_to": "localhost",
}
FORMS: Dict[str, Dict[str, Any]] = {
    "per_host": {
        "run_once": "{{ not (backup_mode == 'batch' and backup_host_summary | bool) }}",
        "when": "backup_mode == 'batch' and backup_host_summary | bool",
    },
    "at_once": {"when": "backup_host_summary_active"},
}


def write_inventory(path: Path, hosts: int) -> None:
    """Local hosts with host variables shaped like the inventory plugin's facts."""
    inventory = {}
    for index in range(hosts):
        name = f"bench-{index:05d}"
        inventory[name] = {
            "ansible_host": f"10.{index // 65536}.{index // 256 % 256}.{index % 256}",
            "ansible_connection": "local",
            "netmiko_device_type": "cisco_ios",
            "nautobot": {
                "id": f"{index:08d}-0000-4000-8000-000000000000",
                "name": name,
                "role": {"name": "edge"},
                "status": {"name": "Active"},
                "location": {"name": f"site-{index % 500}"},
                "platform": {"name": "ios", "network_driver": "cisco_ios"},
                "tags": ["backup"],
            },
        }
    path.write_text(yaml.safe_dump({"all": {"hosts": inventory}}), encoding="utf-8")


def write_playbook(path: Path, form: str) -> None:
    task = {"name": TASK, "netops.nautobot_backup.host_status": {"statuses_var": "backup_host_statuses"}}
    task.update(FORMS[form])
    task["delegate_to"] = "localhost"
    play = {
        "name": f"Host summary ({form})",
        "hosts": "all",
        "gather_facts": False,
        "strategy": "netops.nautobot_backup.batch",
        "vars": {"backup_mode": "batch", "backup_host_summary": True},
        "tasks": [SUM_UP, task],
    }
    path.write_text(yaml.safe_dump([play], sort_keys=False), encoding="utf-8")


def one_run(work: Path, form: str, collections: str) -> Dict[str, Any]:
    """One ansible-playbook run of the form; the host-summary task's seconds and the run's wall and CPU."""
    playbook, seconds = work / f"{form}.yml", work / f"{form}.seconds.json"
    write_playbook(playbook, form)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update(
        ANSIBLE_COLLECTIONS_PATH=collections,
        ANSIBLE_CALLBACK_PLUGINS=str(work / "callbacks"),
        ANSIBLE_CALLBACKS_ENABLED="task_seconds",
        ANSIBLE_DEPRECATION_WARNINGS="0",
        ANSIBLE_PYTHON_INTERPRETER=sys.executable,
        TASK_SECONDS_FILE=str(seconds),
    )
    command = [str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(work / "hosts.yml"), str(playbook)]
    with open(work / f"{form}.log", "w", encoding="utf-8") as log:
        run = measure.run_child(command, env=env, cwd=work, stdout=log, stderr=subprocess.STDOUT)
    if run.returncode != 0:
        raise SystemExit(f"{form}: ansible-playbook exited {run.returncode}")
    task_seconds = json.loads(seconds.read_text(encoding="utf-8"))
    return {
        "form": form,
        "task_s": round(task_seconds[TASK], 2),
        "wall_s": round(run.wall_s, 1),
        "cpu_s": round(run.cpu_s, 1),
    }


def main() -> int:
    """Alternate the two forms for --rounds rounds; print each task time and the ratio of the medians."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", maxsplit=1)[0])
    parser.add_argument("--hosts", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args()
    collections = measure.collections_path()
    results: List[Dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="host-summary-") as tmp:
        work = Path(tmp)
        (work / "callbacks").mkdir()
        (work / "callbacks" / "task_seconds.py").write_text(CALLBACK, encoding="utf-8")
        write_inventory(work / "hosts.yml", args.hosts)
        print(f"{args.hosts} hosts; {measure.load_line()}", flush=True)
        for index in range(args.rounds):
            forms = list(FORMS) if index % 2 == 0 else list(reversed(FORMS))
            for form in forms:
                result = one_run(work, form, collections)
                results.append({"round": index + 1, **result})
                print(
                    f"round {index + 1} {form:8} host-summary task {result['task_s']:7.2f} s "
                    f"(run {result['wall_s']:.1f} s wall); {measure.load_line()}",
                    flush=True,
                )
    medians = {form: statistics.median(r["task_s"] for r in results if r["form"] == form) for form in FORMS}
    ratio = medians["at_once"] / medians["per_host"] if medians["per_host"] else float("nan")
    print(
        f"median host-summary task: per_host {medians['per_host']:.2f} s, at_once {medians['at_once']:.2f} s, "
        f"at_once / per_host {ratio:.3f}"
    )
    if args.json:
        summary = {"hosts": args.hosts, "machine": measure.machine(), "runs": results, "medians": medians}
        Path(args.json).write_text(json.dumps(summary, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
