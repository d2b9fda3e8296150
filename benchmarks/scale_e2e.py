"""End to end at fleet scale: backup.yml through the Nautobot inventory against bare netmiko and Nornir (issue #16).

One run of this script measures N devices (``--devices``, e.g. 2,000, 5,000 or 10,000) end to end:

1. **Nautobot**: the test-bed instance ``--instance`` (default ``bench16``) is brought up and given exactly N
   devices by ``testbed.nautobot_bulk_seed`` (device *i* is ``bench-<i>``, platform round-robin over the five
   drivers, primary IPv4 ``127.64.0.1 + i``), then the backup status custom fields
   (``netops.nautobot_backup.create_status_fields``, untimed).
2. **Lab**: one device lab process (``tests/lab``) serves exactly those devices: the same names and drivers, the
   lab network ``127.64.0.0/10`` (the seed's parent prefix, so the lab's address *i* is the seeded address *i*),
   one port for all, each device on its own loopback address. Its start-up time, RSS and CPU are recorded.
3. **Runs**, each a child process measured by ``measure.run_child`` (wall from spawn to exit, CPU of the
   process and every child it waited for, largest single-process peak RSS), with the RSS and PSS of the
   whole process group sampled every 0.25 s (the controller plus its forked backup processes and git):

   - ``a``: bare netmiko (ThreadPoolExecutor ``--workers``), inventory fetched from Nautobot's GraphQL API in
     the same process (the fetch counts in its wall time and is reported as ``inventory_s``);
   - ``a_startup``: ``a`` that also fetches the startup configuration where the platform has one (3 in 5
     devices): the same device commands as ``c1``/``c2``, which back up both;
   - ``b``: Nornir 3 + nornir_netmiko (threaded runner, ``--workers``) in its own venv, the same GraphQL fetch
     turned into its SimpleInventory (counted likewise);
   - ``c1``: ``ansible-playbook netops.nautobot_backup.backup`` with the collection's Nautobot inventory plugin
     (url and token from the environment), ``-f --workers``, default inputs plus ``backup_write_timestamp:
     true``: back up running and startup configs, commit, push to a fresh local bare remote, write the status
     back to Nautobot, report. A first run: empty checkout, every file and host key new, no status in
     Nautobot;
   - ``c2``: the same command again, nothing changed: it must make zero commits and zero Nautobot writes
     (``--reuse`` keeps the data, the statuses and the Git remote and checkout of the last run, so that
     ``--variants a,c2`` measures more unchanged reruns, for example at another commit);
     ``c3`` (and any later ``c<n>``) is one more unchanged rerun, a second sample of ``c2``.

   For ``c1``/``c2`` the commits are counted on the remote (``git rev-list --count``) and the Nautobot writes
   as the change-log entries (``/api/extras/object-changes/``) added during the run, besides the report's
   own counts.
4. **Phases of backup.yml** come from the playbook's own task timing: a callback plugin (generated into the
   run directory, enabled with ``ANSIBLE_CALLBACKS_ENABLED``) records the wall-clock time of every task start
   with its role, and a ``sitecustomize`` on ``PYTHONPATH`` times Ansible's ``InventoryManager.parse_sources``
   (the inventory plugin's work inside ``ansible-playbook``). Phases: ``inventory`` (parse_sources), ``startup``
   (spawn to the first task, minus the inventory), ``prepare`` (role prepare_repo), ``backup``
   (backup_devices, including the per-host summary task), ``git`` (publish), ``writeback`` (writeback),
   ``report`` (report, the failed-devices play and the exit). A phase runs from its role's first task start to
   the next phase's first task start.

Everything goes to ``--json`` (default ``<work>/results-<N>.json``) with the command, the commit and the load
before and after; ``print`` shows a table. The instance and the lab are stopped at the end (by PID, what this
run started) unless ``--keep-running`` / ``--keep-lab``.

    make bench BENCH=scale_e2e BENCH_ARGS="--devices 2000"

The same file is the worker of ``a``/``b`` (``--worker netmiko|nornir``); that mode imports only the standard
library, ``measure`` and ``backup_500`` (whose workers do the device work) and netmiko or nornir.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any, Dict, List, Optional

import measure

REPO = Path(__file__).resolve().parents[1]
WORK = REPO / ".cache" / "bench" / "scale_e2e"
CREDENTIALS = {"username": "netops", "password": "Bench-Pass-6c1e", "secret": "Bench-Enable-93b0"}
GRAPHQL = "{ devices { name primary_ip4 { host } platform { network_driver } } }"
# The variants that are a worker child, and the worker each runs; every other variant (c1, c2, c3 ...) is backup.yml.
WORKERS = {"a": "netmiko", "a_startup": "netmiko_startup", "b": "nornir"}
ROLE_PHASES = {
    "prepare_repo": "prepare",
    "backup_devices": "backup",
    "publish": "git",
    "writeback": "writeback",
    "report": "report",
}
PHASES = ["inventory", "startup", "prepare", "backup", "git", "writeback", "report"]

# Task timing of backup.yml: one JSON line per task start (wall clock) with its role, and the end of the run.
CALLBACK = '''
from __future__ import annotations
import json, os, time
from ansible.plugins.callback import CallbackBase

DOCUMENTATION = """
name: bench_phases
type: aggregate
short_description: scale_e2e benchmark task timing
description: Writes every task start with its role to BENCH_PHASE_LOG.
"""


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "bench_phases"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._out = open(os.environ["BENCH_PHASE_LOG"], "a", encoding="utf-8")

    def _write(self, event, **data):
        self._out.write(json.dumps({"t": time.time(), "event": event, **data}) + "\\n")
        self._out.flush()

    def v2_playbook_on_play_start(self, play):
        self._write("play", name=play.get_name())

    def v2_playbook_on_task_start(self, task, is_conditional):
        role = task._role.get_name(include_role_fqcn=False) if task._role else ""
        self._write("task", name=task.get_name(), role=role)

    def v2_playbook_on_stats(self, stats):
        self._write("stats")
'''

# Times InventoryManager.parse_sources in ansible-playbook (loaded through PYTHONPATH; only when the variable
# is set, and it removes the variable so that the modules' own interpreters do nothing).
SITECUSTOMIZE = """
import os, sys
_log = os.environ.pop("BENCH_INVENTORY_LOG", None)
if _log:
    import importlib.abc, importlib.util, json, time

    class _Hook(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path, target=None):
            if name != "ansible.inventory.manager":
                return None
            sys.meta_path.remove(self)
            spec = importlib.util.find_spec(name)
            exec_module = spec.loader.exec_module

            def patched(module):
                exec_module(module)
                original = module.InventoryManager.parse_sources

                def parse_sources(self, *args, **kwargs):
                    start = time.time()
                    try:
                        return original(self, *args, **kwargs)
                    finally:
                        with open(_log, "a", encoding="utf-8") as out:
                            out.write(json.dumps({"start": start, "end": time.time()}) + "\\n")

                module.InventoryManager.parse_sources = parse_sources

            spec.loader.exec_module = patched
            return spec

    sys.meta_path.insert(0, _Hook())
"""


# ---------------------------------------------------------------- workers (child processes)


def fetch_inventory(url: str, token: str, port: int) -> List[Dict[str, Any]]:
    """The devices from Nautobot's GraphQL API, as backup_500's workers take them (host, port, credentials)."""
    request = urllib.request.Request(
        f"{url}/api/graphql/",
        data=json.dumps({"query": GRAPHQL}).encode(),
        headers={"Authorization": f"Token {token}", "Content-Type": "application/json", "Accept": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=300) as response:  # noqa: S310 - the bench Nautobot
        body = json.loads(response.read())
    devices = []
    for dev in body["data"]["devices"]:
        if not dev.get("primary_ip4") or not dev.get("platform"):
            continue
        devices.append(
            {
                "name": dev["name"],
                "host": dev["primary_ip4"]["host"],
                "port": port,
                "platform": dev["platform"]["network_driver"],
                **CREDENTIALS,
            }
        )
    return devices


def worker_main(args: argparse.Namespace) -> int:
    """Fetch the inventory from Nautobot, back up every device (backup_500's workers), print one JSON line."""
    import backup_500  # pylint: disable=import-outside-toplevel  # stdlib-only at import, like this file

    started = time.monotonic()
    devices = fetch_inventory(os.environ["NAUTOBOT_URL"], os.environ["NAUTOBOT_TOKEN"], args.port)
    inventory_s = time.monotonic() - started
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    if args.worker == "nornir":
        report = backup_500.nornir_worker(devices, out_dir, args.workers)
    else:
        report = backup_500.netmiko_worker(devices, out_dir, args.workers, startup=args.worker == "netmiko_startup")
    report.update(inventory_s=inventory_s, devices=len(devices))
    print(json.dumps(report))
    return 0


# ---------------------------------------------------------------- measuring


class TreeSampler:
    """Sample the summed RSS and PSS of every process below the measured command's wrapper."""

    def __init__(self, interval: float = 0.25) -> None:
        self.interval = interval
        self.pgid: Optional[int] = None
        self.peak_rss_mib = 0.0
        self.peak_pss_mib = 0.0
        self.peak_processes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self, pgid: int) -> None:
        """Begin sampling the processes below pgid (run_child's on_start gives the wrapper's PID)."""
        self.pgid = pgid
        self._thread.start()

    def stop(self) -> None:
        """Stop sampling."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            pids = _descendants(measure.process_table(), self.pgid)
            rss = pss = 0.0
            for pid in pids:
                rss += measure.process_memory_mib(pid)["rss"]
                pss += _pss_mib(pid)
            self.peak_rss_mib = max(self.peak_rss_mib, rss)
            self.peak_pss_mib = max(self.peak_pss_mib, pss)
            self.peak_processes = max(self.peak_processes, len(pids))
            self._stop.wait(self.interval)


def _descendants(table: List[tuple[int, int, int]], root: Optional[int]) -> List[int]:
    """Every process below root (by parent links: Ansible's workers call setsid, so the group is not enough)."""
    children: Dict[int, List[int]] = {}
    for pid, ppid, _pgrp in table:
        children.setdefault(ppid, []).append(pid)
    found: List[int] = []
    stack = list(children.get(root or -1, []))
    while stack:
        pid = stack.pop()
        found.append(pid)
        stack.extend(children.get(pid, []))
    return found


def _pss_mib(pid: int) -> float:
    """Proportional set size of a process (shared pages split between the processes sharing them), MiB."""
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text(encoding="ascii")
    except OSError:
        return 0.0
    for line in text.splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1]) / 1024
    return 0.0


def phases(spawn: float, wall_s: float, task_log: Path, inventory_log: Path) -> Dict[str, Any]:
    """Per-phase seconds of one backup.yml run from the callback's task starts and the inventory timing."""
    events = [json.loads(line) for line in task_log.read_text(encoding="utf-8").splitlines() if line.strip()]
    parses = [json.loads(line) for line in inventory_log.read_text(encoding="utf-8").splitlines() if line.strip()]
    inventory = sum(p["end"] - p["start"] for p in parses)
    tasks = [e for e in events if e["event"] == "task"]
    plays = [e for e in events if e["event"] == "play"]
    bounds: List[tuple[str, float]] = []
    for task in tasks:
        phase = ROLE_PHASES.get(task["role"])
        if phase and phase not in [name for name, _t in bounds]:
            bounds.append((phase, task["t"]))
    if len(plays) > 1:  # the failed-devices play counts as report
        bounds.append(("report_play", plays[1]["t"]))
    end = spawn + wall_s
    result: Dict[str, Any] = {"inventory": round(inventory, 2)}
    first = tasks[0]["t"] if tasks else end
    result["startup"] = round(first - spawn - inventory, 2)
    for index, (name, start) in enumerate(bounds):
        stop = bounds[index + 1][1] if index + 1 < len(bounds) else end
        key = "report" if name == "report_play" else name
        result[key] = round(result.get(key, 0.0) + stop - start, 2)
    result["task_count"] = len(tasks)
    return result


def nautobot_changes(url: str, token: str) -> int:
    """Number of change-log entries in Nautobot (every API write of an object adds one)."""
    request = urllib.request.Request(
        f"{url}/api/extras/object-changes/?limit=1", headers={"Authorization": f"Token {token}"}
    )
    with urllib.request.urlopen(request, timeout=120) as response:  # noqa: S310 - the bench Nautobot
        return int(json.loads(response.read())["count"])


def remote_commits(remote: Path) -> int:
    """Commits on the remote's main branch."""
    run = subprocess.run(
        ["git", "--git-dir", str(remote), "rev-list", "--count", "main"], capture_output=True, text=True, check=True
    )
    return int(run.stdout.strip())


# ---------------------------------------------------------------- set-up


def start_lab(plan: List[Dict[str, Any]], network: str, work: Path, port: int) -> Any:
    """Start one lab process serving exactly the seeded devices (names, drivers, addresses); return its client."""
    import yaml  # pylint: disable=import-outside-toplevel

    from lab.lifecycle import start_lab as lab_start  # pylint: disable=import-outside-toplevel
    from lab.lifecycle import stop_lab  # pylint: disable=import-outside-toplevel

    spec = {
        "defaults": dict(CREDENTIALS),
        "network": network,
        "devices": [{"name": dev["name"], "platform": dev["driver"]} for dev in plan],
    }
    spec_path = work / "lab-spec.yml"
    spec_path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    stop_lab(work / "lab")
    lab = lab_start(spec_path, work / "lab", port=port, timeout=600)
    wrong = [
        (dev["name"], dev["host"])
        for dev, lab_dev in zip(plan, lab.devices, strict=True)
        if (dev["name"], dev["host"]) != (lab_dev["name"], lab_dev["host"])
    ]
    if wrong:
        raise SystemExit(f"the lab's addresses differ from the seeded ones: {wrong[:5]}")
    return lab


def status_fields(env: Dict[str, str], work: Path) -> None:
    """Create the backup status custom fields in the bench Nautobot (untimed)."""
    from testbed.ansible_run import BIN  # pylint: disable=import-outside-toplevel

    with open(work / "status-fields.log", "wb") as log:
        subprocess.run(
            [str(BIN / "ansible-playbook"), "netops.nautobot_backup.create_status_fields"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            check=True,
            cwd=work,
        )


# ---------------------------------------------------------------- running


def run_measured(
    command: List[str], env: Dict[str, str], run_dir: Path, lab_pid: int, timeout: float
) -> Dict[str, Any]:
    """Run one command as run_child does, with the process group's RSS/PSS sampled; return the numbers."""
    sampler = TreeSampler()
    load_before = measure.load()
    lab_cpu0 = measure.process_cpu_s(lab_pid)
    spawn = time.time()
    with open(run_dir / "output.log", "wb") as log:
        try:
            usage = measure.run_child(
                command,
                env=env,
                cwd=run_dir,
                stdout=log,
                stderr=subprocess.STDOUT,
                timeout=timeout,
                on_start=sampler.start,
            )
        finally:
            sampler.stop()
    return {
        "spawn": spawn,
        "returncode": usage.returncode,
        "wall_s": round(usage.wall_s, 2),
        "cpu_s": round(usage.cpu_s, 2),
        "max_process_rss_mib": round(usage.peak_rss_mib, 1),
        "tree_peak_rss_mib": round(sampler.peak_rss_mib, 1),
        "tree_peak_pss_mib": round(sampler.peak_pss_mib, 1),
        "tree_peak_processes": sampler.peak_processes,
        "lab_cpu_s": round(measure.process_cpu_s(lab_pid) - lab_cpu0, 2),
        "load_before": load_before["loadavg"],
    }


def run_worker(ctx: Dict[str, Any], name: str, kind: str) -> Dict[str, Any]:
    """Variant a / a_startup (netmiko) or b (nornir): the worker child, its inventory fetched from Nautobot."""
    run_dir = ctx["work"] / "runs" / name
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True)
    python = ctx["nornir_python"] if kind == "nornir" else sys.executable
    command = [str(python), str(Path(__file__).resolve()), "--worker", kind, "--out", str(run_dir / "out")]
    command += ["--workers", str(ctx["workers"]), "--port", str(ctx["port"])]
    env = {**os.environ, "NAUTOBOT_URL": ctx["url"], "NAUTOBOT_TOKEN": ctx["token"]}
    result = {"variant": name, **run_measured(command, env, run_dir, ctx["lab_pid"], ctx["timeout"])}
    output = (run_dir / "output.log").read_text(encoding="utf-8", errors="replace")
    report = next((json.loads(line) for line in output.splitlines() if line.startswith("{")), None)
    files = len(list((run_dir / "out").glob("*.cfg")))
    if report is None:
        result.update(errors=output.splitlines()[-5:], failed=ctx["devices"], files=files)
    else:
        result.update(
            inventory_s=round(report["inventory_s"], 2),
            loop_s=round(report["loop_s"], 2),
            failed=len(report["errors"]),
            errors=report["errors"][:5],
            files=files,
        )
    result["complete"] = result["returncode"] == 0 and result["failed"] == 0 and files == ctx["devices"]
    shutil.rmtree(run_dir / "out", ignore_errors=True)
    return result


def run_playbook(ctx: Dict[str, Any], name: str) -> Dict[str, Any]:
    """Variant c1/c2/c3: backup.yml through the Nautobot inventory; phases, commits and Nautobot writes."""
    from testbed.ansible_run import BIN, ansible_env  # pylint: disable=import-outside-toplevel

    run_dir = ctx["work"] / "runs" / name
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True)
    support = run_dir / "support"
    (support / "callbacks").mkdir(parents=True)
    (support / "callbacks" / "bench_phases.py").write_text(CALLBACK, encoding="utf-8")
    (support / "python").mkdir()
    (support / "python" / "sitecustomize.py").write_text(SITECUSTOMIZE, encoding="utf-8")
    inventory = run_dir / "bench_nautobot.yml"
    inventory.write_text("plugin: netops.nautobot_backup.nautobot\n", encoding="utf-8")
    inputs = {
        "backup_repo_url": f"file://{ctx['remote']}",
        "backup_repo_dir": str(ctx["checkout"]),
        "backup_report_path": str(run_dir / "report.json"),
        "backup_write_timestamp": True,
        "backup_nautobot_timeout": ctx["nautobot_timeout"],
        "ansible_port": ctx["port"],
        "ansible_user": CREDENTIALS["username"],
        "ansible_password": CREDENTIALS["password"],
        "ansible_become_password": CREDENTIALS["secret"],
    }
    (run_dir / "inputs.json").write_text(json.dumps(inputs), encoding="utf-8")
    task_log, inventory_log = run_dir / "tasks.jsonl", run_dir / "inventory.jsonl"
    task_log.touch()
    inventory_log.touch()
    env = ansible_env(
        {
            "ANSIBLE_COLLECTIONS_PATH": ctx["collections"],
            "ANSIBLE_COLLECTIONS_SCAN_SYS_PATH": "false",
            "ANSIBLE_CALLBACK_PLUGINS": str(support / "callbacks"),
            "ANSIBLE_CALLBACKS_ENABLED": "bench_phases",
            "BENCH_PHASE_LOG": str(task_log),
            "BENCH_INVENTORY_LOG": str(inventory_log),
            "PYTHONPATH": os.pathsep.join(filter(None, [str(support / "python"), os.environ.get("PYTHONPATH")])),
            "NAUTOBOT_URL": ctx["url"],
            "NAUTOBOT_TOKEN": ctx["token"],
        }
    )
    command = [str(BIN / "ansible-playbook"), "-i", str(inventory), "-f", str(ctx["workers"])]
    command += ["netops.nautobot_backup.backup", "-e", f"@{run_dir / 'inputs.json'}"]
    commits0 = remote_commits(ctx["remote"])
    changes0 = nautobot_changes(ctx["url"], ctx["token"])
    result = {"variant": name, **run_measured(command, env, run_dir, ctx["lab_pid"], ctx["timeout"])}
    result["commits"] = remote_commits(ctx["remote"]) - commits0
    result["nautobot_writes"] = nautobot_changes(ctx["url"], ctx["token"]) - changes0
    result["phases"] = phases(result["spawn"], result["wall_s"], task_log, inventory_log)
    report_path = run_dir / "report.json"
    report = json.loads(report_path.read_text(encoding="utf-8")) if report_path.is_file() else {}
    status = report.get("git_commit_status") or {}
    writeback = report.get("timestamp_update_status") or {}
    result.update(
        backed_up=report.get("devices_backed_up"),
        failed=report.get("devices_failed"),
        pushed=status.get("error") is None and bool(report),
        git_status={k: v for k, v in status.items() if not isinstance(v, (list, dict))},
        writeback={k: (len(v) if isinstance(v, (list, dict)) else v) for k, v in writeback.items()},
    )
    output = (run_dir / "output.log").read_text(encoding="utf-8", errors="replace")
    result["errors"] = [line.strip()[:300] for line in output.splitlines() if line.startswith("fatal:")][:5]
    # The write-back's failures are warnings (exit 0), so they are checked here: neither the first run nor the
    # unchanged rerun may fail to write a device.
    written_ok = result["writeback"].get("failed_count") == 0 and result["writeback"].get("enabled") is True
    result["complete"] = (
        result["returncode"] == 0
        and result["backed_up"] == ctx["devices"]
        and result["failed"] == 0
        and result["pushed"]
        and written_ok
    )
    return result


def bench_main(args: argparse.Namespace) -> int:
    """Seed Nautobot, start the lab, run a, b, c1, c2, print and save the results, stop what was started."""
    # pylint: disable=import-outside-toplevel
    from lab.lifecycle import stop_lab
    from testbed.ansible_run import ansible_env
    from testbed.git_remotes import seeded
    from testbed.nautobot_bed import NautobotInstance, Started
    from testbed.nautobot_bulk_seed import BenchSpec, device_plan, seed_bench, verify

    names = [n.strip() for n in args.variants.split(",") if n.strip()]
    if "b" in names and not Path(args.nornir_python).exists():
        raise SystemExit(f"{args.nornir_python} missing: see benchmarks/README.md for the Nornir venv")
    collections = measure.collections_path()
    work = Path(args.work_dir).resolve() if args.work_dir else WORK / str(args.devices)
    work.mkdir(parents=True, exist_ok=True)
    machine: Dict[str, Any] = {"before": measure.machine(), "commit": _git_commit()}
    print(f"{measure.load_line()}; {args.devices} devices; commit {machine['commit']}", flush=True)
    spec = BenchSpec(devices=args.devices)
    plan = list(device_plan(spec))
    instance = NautobotInstance(args.instance)
    started = Started()
    results: List[Dict[str, Any]] = []
    setup: Dict[str, Any] = {}
    try:
        mark = time.monotonic()
        instance.up(started=started)
        # --reuse: the data (and the statuses the last run wrote) as the last run left them.
        setup["seed"] = "reused" if args.reuse else seed_bench(instance, spec)
        url, token = instance.url, instance.credentials()["admin"]["token"]
        setup["verified"] = verify(url, token, spec)
        if not args.reuse:
            status_fields(ansible_env({"NAUTOBOT_URL": url, "NAUTOBOT_TOKEN": token}), work)
        setup["nautobot_s"] = round(time.monotonic() - mark, 1)
        print(
            f"nautobot {instance.name}: {args.devices} devices seeded and checked in {setup['nautobot_s']}s", flush=True
        )
        mark = time.monotonic()
        lab = start_lab(plan, spec.parent_prefix, work, args.port)
        setup["lab"] = {
            "start_s": round(time.monotonic() - mark, 1),
            "pid": lab.pid,
            "port": lab.port,
            "devices": len(lab.devices),
            **measure.process_memory_mib(lab.pid),
            "start_cpu_s": measure.process_cpu_s(lab.pid),
        }
        print(f"lab: {setup['lab']}", flush=True)
        git_dir = work / "git"
        remote = git_dir / "remote.git"
        if args.reuse:
            if not remote.is_dir():
                raise SystemExit(f"--reuse: {remote} missing (run without --reuse first)")
        else:
            shutil.rmtree(git_dir, ignore_errors=True)
            git_dir.mkdir()
            seeded(remote)
        ctx = {
            "work": work,
            "devices": args.devices,
            "workers": args.workers,
            "port": lab.port,
            "lab_pid": lab.pid,
            "url": url,
            "token": token,
            "nornir_python": Path(args.nornir_python),
            "collections": collections,
            "remote": remote,
            "checkout": git_dir / "checkout",
            "timeout": args.timeout,
            "nautobot_timeout": args.nautobot_timeout,
        }
        for name in names:
            if name in WORKERS:
                result = run_worker(ctx, name, WORKERS[name])
            else:
                result = run_playbook(ctx, name)
            results.append(result)
            print(_line(result), flush=True)
            _save(args, work, machine, setup, results)
        setup["lab"]["peak_rss_mib"] = measure.process_memory_mib(lab.pid)["peak_rss"]
    finally:
        if not args.keep_lab:
            stop_lab(work / "lab")
        if not args.keep_running:
            instance.down(started=started)
    machine["after"] = measure.load()
    print()
    print_table(results)
    print(f"\n{measure.load_line(machine['before'])} (before)  ->  {measure.load_line(machine['after'])} (after)")
    print(f"results: {_save(args, work, machine, setup, results)}")
    return 0 if all(r["complete"] for r in results) else 1


def _save(
    args: argparse.Namespace, work: Path, machine: Dict[str, Any], setup: Dict[str, Any], results: List[Dict[str, Any]]
) -> Path:
    """Write what was measured so far (after every run, so an interrupted benchmark keeps its finished runs)."""
    out = Path(args.json) if args.json else work / "results.json"
    report = {
        "command": " ".join(sys.argv),
        "devices": args.devices,
        "workers": args.workers,
        "machine": machine,
        "setup": setup,
        "results": results,
    }
    out.write_text(json.dumps(report, indent=2), encoding="utf-8")
    return out


def _line(result: Dict[str, Any]) -> str:
    """One progress line per run."""
    extra = ""
    if "phases" in result:
        extra = f" commits {result['commits']} nautobot_writes {result['nautobot_writes']} phases {result['phases']}"
    return (
        f"{result['variant']:<9} {result['wall_s']:8.2f}s cpu {result['cpu_s']:8.2f}s"
        f" rss(max process) {result['max_process_rss_mib']:7.1f} MiB tree rss {result['tree_peak_rss_mib']:7.1f}"
        f" pss {result['tree_peak_pss_mib']:7.1f} failed {result['failed']}"
        f" {'ok' if result['complete'] else 'INCOMPLETE'}"
        f"{extra}"
    )


def print_table(results: List[Dict[str, Any]]) -> None:
    """Wall, CPU, memory and ratios to bare netmiko; then backup.yml's phases."""
    base = next((r for r in results if r["variant"] == "a"), None)
    print(
        f"{'run':<9} {'wall s':>8} {'ratio':>6} {'CPU s':>8} {'ratio':>6} {'RSS max':>8} {'tree PSS':>9} {'inv s':>6}"
    )
    for r in results:
        wall_ratio = r["wall_s"] / base["wall_s"] if base else float("nan")
        cpu_ratio = r["cpu_s"] / base["cpu_s"] if base else float("nan")
        inv = r.get("inventory_s", r.get("phases", {}).get("inventory", float("nan")))
        print(
            f"{r['variant']:<9} {r['wall_s']:>8.2f} {wall_ratio:>6.2f} {r['cpu_s']:>8.2f} {cpu_ratio:>6.2f}"
            f" {r['max_process_rss_mib']:>8.1f} {r['tree_peak_pss_mib']:>9.1f} {inv:>6.2f}"
        )
    print()
    print(f"{'run':<9} " + " ".join(f"{p:>9}" for p in PHASES) + f" {'commits':>8} {'NB writes':>9}")
    for r in results:
        if "phases" in r:
            cells = " ".join(f"{r['phases'].get(p, 0.0):>9.2f}" for p in PHASES)
            print(f"{r['variant']:<9} {cells} {r['commits']:>8} {r['nautobot_writes']:>9}")


def _git_commit() -> str:
    """The commit measured (``+dirty`` when the working tree has changes)."""
    run = subprocess.run(
        ["git", "-C", str(REPO), "describe", "--always", "--dirty=+dirty"], capture_output=True, text=True, check=False
    )
    return run.stdout.strip() or "unknown"


def main(argv: Optional[List[str]] = None) -> int:
    """Parse arguments; run as the benchmark or as one of its workers."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--devices", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=50, help="threads of a/b, forks of c (default 50)")
    parser.add_argument(
        "--variants", default="a,b,c1,c2", help="a, a_startup, b, c1 (first run), c2, c3 ... (unchanged reruns)"
    )
    parser.add_argument("--instance", default="bench16", help="test-bed Nautobot instance (default bench16)")
    parser.add_argument("--port", type=int, default=0, help="the lab's port (default: a free one)")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds one run may take")
    parser.add_argument(
        "--nautobot-timeout",
        type=int,
        default=300,
        help="backup_nautobot_timeout of backup.yml (default 300: at the default 30 s a bulk write of 200 devices "
        "timed out on the loaded 2-core test bed)",
    )
    parser.add_argument("--json", help="where to write the results (default <work>/results.json)")
    parser.add_argument("--work-dir", help="lab, Git remote and runs (default .cache/bench/scale_e2e/<N>)")
    parser.add_argument("--nornir-python", default=str(REPO / ".cache" / "bench" / "nornir-venv" / "bin" / "python"))
    parser.add_argument("--keep-lab", action="store_true", help="leave the lab running")
    parser.add_argument("--keep-running", action="store_true", help="leave the Nautobot instance up")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="no seeding: keep the instance's data and statuses and the work dir's Git remote and checkout as the"
        " last run left them, for more unchanged reruns (e.g. --variants a,c2 at another commit)",
    )
    parser.add_argument("--worker", choices=sorted(set(WORKERS.values())), help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    return worker_main(args) if args.worker else bench_main(args)


if __name__ == "__main__":
    sys.exit(main())
