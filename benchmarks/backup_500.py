"""Backup of 500 lab devices: our Ansible playbook against a bare netmiko loop and Nornir.

Starts ONE device lab (``tests/lab``) with N generated devices (default 500, round-robin
over cisco_ios, cisco_nxos, arista_eos, juniper_junos and cisco_xr) in its own state
directory, then runs every selected variant once per round (default 3 rounds, the order
rotated each round and reversed every other round, so that no variant always runs first or last
and no two always run in the same order) and reports wall time,
client CPU and peak RSS, lab CPU, files written and failures (``measure.run_child``).
Every variant runs as its own child process and is timed from spawn to exit, so
interpreter start-up and imports count for all of them alike. The Ansible variants run
the collection found through ``ANSIBLE_COLLECTIONS_PATH`` (``make bench`` sets it).

Variants (``--variants``, comma-separated; default ``a,b,c,c_nostartup``):

- ``a``: bare netmiko, ``ThreadPoolExecutor(--workers)``: ConnectHandler, ``enable()``
  on IOS/EOS, ``send_command("show running-config")`` (Junos ``show configuration``),
  disconnect, one file per device.
- ``a_startup``: ``a`` plus ``show startup-config`` on IOS/NX-OS/EOS (the same commands
  the collection's default task sends).
- ``b``: Nornir 3 + nornir_netmiko (``netmiko_send_command(..., enable=True)`` on
  IOS/EOS), threaded runner with ``num_workers=--workers``, SimpleInventory built from the
  lab, one file per device; runs in the separate venv ``--nornir-python``.
- ``c``: the product: ``ansible-playbook -f --workers netops.nautobot_backup.backup`` (the
  installed collection's ``playbooks/backup.yml``; batch mode,
  the default: one ``device_config_backup_batch`` task with ``backup_workers`` 50 threads;
  running + startup; prepare, Git commit and push to a ``file://`` remote, report, the
  failed-devices play) on the same static inventory. Each playbook variant gets its own
  seeded remote and keeps its checkout across rounds; one untimed warm-up run clones and
  commits every file first, so the timed runs are a daily run (nothing changed, no commit).
- ``c_nostartup``: ``c`` with ``backup_startup=false`` (the same commands as ``a``).
- ``c_nosummary``: ``c`` with ``backup_host_summary=false`` (no per-host task giving each device its
  own status in the recap): what the host summary costs.
- ``c_linear``: ``c`` with ``backup_strategy=linear``: Ansible's own strategy, so the per-host status task
  forks a worker per host (without the collection's strategy, which answers it in the controller).
- ``c_per_host``: ``c`` with ``backup_mode=per_host`` (one task per host).
- ``c_role``: the ``backup_devices`` role alone (its batch task), ``backup_startup: false``.
- ``p``: ``ansible-playbook -f --workers`` with one per-host task
  ``netops.nautobot_backup.device_config_backup: {repo_dir: ...}`` (running + startup).
- ``p_nostartup``: ``p`` with ``backup_startup: false`` (the same commands as ``a``).
- ``p_f100`` / ``p_f200``: ``p_nostartup`` with 100 / 200 forks.
- ``p_free``: ``p_nostartup`` with ``strategy: free``.
- ``p_poll``: ``p_nostartup`` with ``internal_poll_interval = 0.005`` (ansible.cfg).
- ``p_nofactvars``: ``p_nostartup`` with ``ANSIBLE_INJECT_FACT_VARS=false``.
- ``p_oneline``: ``p_nostartup`` with the ``ansible.builtin.oneline`` stdout callback.
- ``s_floor``: not a backup: one run-once ``ansible.builtin.debug`` task over the same inventory (no
  device contact): what any ``ansible-playbook`` run of these hosts costs before it does anything.
- ``e_floor``: not a backup: a per-host ``ansible.builtin.debug`` task (no device contact),
  i.e. what Ansible's per-host machinery alone costs for N hosts (expects no files).
- ``NAME@LABEL``: the Ansible variant NAME on the collections path of ``--collection LABEL=PATH``,
  in the same rounds as NAME: two versions of the collection under the same load.

Correctness: a/a_startup/b must leave one file per device that contains the device's
name; c*/p* must leave ``backups/<name>.running-config`` for every device (plus
``.startup-config`` for IOS/NX-OS/EOS in ``c``). Missing files and per-host failures
(PLAY RECAP / worker report) are reported; the exit status is 1 if any run was incomplete.

    make bench BENCH_ARGS="[--devices 500] [--workers 50] [--rounds 3] [--variants a,b,c,c_nostartup]
        [--json FILE] [--keep-lab]"

The same file is also the worker of ``a``/``b`` (``--worker netmiko|nornir``), started
with the right interpreter; that mode imports nothing but the standard library (with
``measure``) and netmiko/nornir.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

import measure

REPO = Path(__file__).resolve().parents[1]
WORK = REPO / ".cache" / "bench" / "backup_500"
PLATFORMS = ["cisco_ios", "cisco_nxos", "arista_eos", "juniper_junos", "cisco_xr"]
ENABLE_PLATFORMS = {"cisco_ios", "arista_eos"}
STARTUP_PLATFORMS = {"cisco_ios", "cisco_nxos", "arista_eos"}
PROGRESS_FAILED = re.compile(r"^\[\d+/\d+\] \S+ failed \(", re.MULTILINE)
RECAP = re.compile(r"^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.MULTILINE)


# ---------------------------------------------------------------- workers (child processes)


def running_command(platform: str) -> str:
    """Return the command that prints the running configuration on platform."""
    return "show configuration" if platform == "juniper_junos" else "show running-config"


def netmiko_params(dev: Dict[str, Any]) -> Dict[str, Any]:
    """ConnectHandler arguments for a lab device, the same options the collection passes."""
    return {
        "device_type": dev["platform"],
        "host": dev["host"],
        "port": dev["port"],
        "username": dev["username"],
        "password": dev["password"],
        "secret": dev["secret"],
        "conn_timeout": 10,
        "auth_timeout": 20,
        "banner_timeout": 15,
        "fast_cli": True,
        "ssh_strict": False,
        "system_host_keys": False,
        "alt_host_keys": False,
        "use_keys": False,
        "allow_agent": False,
    }


def first_line(exc: BaseException) -> str:
    """Return the exception type and the first non-empty line of its message."""
    text = next((line.strip() for line in str(exc).splitlines() if line.strip()), "")
    return f"{type(exc).__name__}: {text}"


def netmiko_worker(devices: List[Dict[str, Any]], out_dir: Path, workers: int, startup: bool) -> Dict[str, Any]:
    """Variant a: back up every device with bare netmiko from a thread pool; return the report."""
    from netmiko import ConnectHandler  # pylint: disable=import-outside-toplevel

    def one(dev: Dict[str, Any]) -> Optional[str]:
        """Back up one device; return an error text or None."""
        try:
            with ConnectHandler(**netmiko_params(dev)) as conn:
                if dev["platform"] in ENABLE_PLATFORMS:
                    conn.enable()
                output = conn.send_command(running_command(dev["platform"]), read_timeout=120)
                (out_dir / f"{dev['name']}.cfg").write_text(output, encoding="utf-8")
                if startup and dev["platform"] in STARTUP_PLATFORMS:
                    output = conn.send_command("show startup-config", read_timeout=120)
                    (out_dir / f"{dev['name']}.startup").write_text(output, encoding="utf-8")
        except Exception as exc:  # noqa: BLE001 - a benchmark reports every failure kind
            return f"{dev['name']}: {first_line(exc)}"
        return None

    start = time.monotonic()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        errors = [e for e in pool.map(one, devices) if e]
    return {"loop_s": time.monotonic() - start, "errors": errors}


def nornir_worker(devices: List[Dict[str, Any]], out_dir: Path, workers: int) -> Dict[str, Any]:
    """Variant b: back up every device with Nornir + nornir_netmiko; return the report."""
    # pylint: disable=import-outside-toplevel,import-error
    from nornir import InitNornir
    from nornir.core.task import Result, Task
    from nornir_netmiko.tasks import netmiko_send_command

    t_init = time.monotonic()
    inv_dir = out_dir.parent / f"{out_dir.name}.inventory"
    inv_dir.mkdir(parents=True, exist_ok=True)
    hosts = {}
    for dev in devices:
        params = netmiko_params(dev)
        extras = {k: v for k, v in params.items() if k not in ("device_type", "host", "port", "username", "password")}
        hosts[dev["name"]] = {
            "hostname": dev["host"],
            "port": dev["port"],
            "username": dev["username"],
            "password": dev["password"],
            "platform": dev["platform"],
            "connection_options": {"netmiko": {"extras": extras}},
        }
    # JSON is valid YAML: SimpleInventory reads these files with its YAML loader.
    (inv_dir / "hosts.yaml").write_text(json.dumps(hosts), encoding="utf-8")
    (inv_dir / "groups.yaml").write_text("{}", encoding="utf-8")
    (inv_dir / "defaults.yaml").write_text("{}", encoding="utf-8")
    nr = InitNornir(
        runner={"plugin": "threaded", "options": {"num_workers": workers}},
        inventory={
            "plugin": "SimpleInventory",
            "options": {
                "host_file": str(inv_dir / "hosts.yaml"),
                "group_file": str(inv_dir / "groups.yaml"),
                "defaults_file": str(inv_dir / "defaults.yaml"),
            },
        },
        logging={"enabled": False},
    )

    def backup(task: Task) -> Result:
        """Fetch the running config of task.host, write it to a file, close the session."""
        platform = str(task.host.platform)
        try:
            fetched = task.run(
                task=netmiko_send_command,
                command_string=running_command(platform),
                enable=platform in ENABLE_PLATFORMS,
                read_timeout=120,
            )
            (out_dir / f"{task.host.name}.cfg").write_text(str(fetched.result), encoding="utf-8")
        finally:
            task.host.close_connections()
        return Result(host=task.host)

    start = time.monotonic()
    agg = nr.run(task=backup, on_failed=True)
    loop_s = time.monotonic() - start
    errors = []
    for name, multi in agg.items():
        if multi.failed:
            exc = next((r.exception for r in multi if r.exception is not None), None)
            errors.append(f"{name}: {first_line(exc) if exc else 'failed'}")
    return {"loop_s": loop_s, "init_s": start - t_init, "errors": errors}


def worker_main(args: argparse.Namespace) -> int:
    """Run one worker variant and print its report as one JSON line."""
    devices = json.loads(Path(args.hosts).read_text(encoding="utf-8"))
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    if args.worker == "nornir":
        report = nornir_worker(devices, out_dir, args.workers)
    else:
        report = netmiko_worker(devices, out_dir, args.workers, startup=args.worker == "netmiko_startup")
    print(json.dumps(report))
    return 0


# ---------------------------------------------------------------- variants


@dataclass
class Variant:
    """One way of backing up the devices; kind is 'netmiko', 'nornir' or 'ansible'."""

    name: str
    kind: str
    description: str
    forks: int = 0
    module: str = "netops.nautobot_backup.device_config_backup"
    task_args: Dict[str, Any] = field(default_factory=dict)
    strategy: str = "linear"
    cfg: Dict[str, str] = field(default_factory=dict)
    env: Dict[str, str] = field(default_factory=dict)
    startup_files: bool = False
    floor: bool = False
    run_once: bool = False  # the task runs once (s_floor)
    playbook: bool = False  # the product's playbooks/backup.yml (Git remote, report)
    role: bool = False  # the backup_devices role alone
    extra_vars: Dict[str, Any] = field(default_factory=dict)
    collections: str = ""  # ANSIBLE_COLLECTIONS_PATH of a ``name@label`` variant; empty: the caller's


def variants(workers: int) -> Dict[str, Variant]:
    """Return every known variant by name (forks default to the worker count)."""
    nostartup = {"backup_startup": False}
    table = [
        Variant("a", "netmiko", f"bare netmiko, ThreadPoolExecutor({workers})"),
        Variant("a_startup", "netmiko", "bare netmiko + show startup-config (IOS/NX-OS/EOS)", startup_files=True),
        Variant("b", "nornir", f"Nornir 3 + nornir_netmiko, threaded num_workers={workers}"),
        Variant("p", "ansible", f"ansible-playbook -f {workers}, per-host task, running + startup", startup_files=True),
        Variant(
            "p_nostartup", "ansible", f"ansible-playbook -f {workers}, per-host task, no startup", task_args=nostartup
        ),
        Variant("p_f100", "ansible", "p_nostartup, -f 100", forks=100, task_args=nostartup),
        Variant("p_f200", "ansible", "p_nostartup, -f 200", forks=200, task_args=nostartup),
        Variant("p_free", "ansible", "p_nostartup, strategy: free", strategy="free", task_args=nostartup),
        Variant(
            "p_poll",
            "ansible",
            "p_nostartup, internal_poll_interval=0.005",
            cfg={"internal_poll_interval": "0.005"},
            task_args=nostartup,
        ),
        Variant(
            "p_nofactvars",
            "ansible",
            "p_nostartup, ANSIBLE_INJECT_FACT_VARS=false",
            env={"ANSIBLE_INJECT_FACT_VARS": "false"},
            task_args=nostartup,
        ),
        Variant(
            "p_oneline",
            "ansible",
            "p_nostartup, ANSIBLE_STDOUT_CALLBACK=ansible.builtin.oneline",
            env={"ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.oneline"},
            task_args=nostartup,
        ),
        Variant(
            "e_floor",
            "ansible",
            "per-host ansible.builtin.debug, no device contact: the per-host machinery alone",
            module="ansible.builtin.debug",
            floor=True,
        ),
        Variant(
            "s_floor",
            "ansible",
            "one run-once ansible.builtin.debug, no device contact: ansible-playbook start-up and inventory alone",
            module="ansible.builtin.debug",
            floor=True,
            run_once=True,
        ),
        Variant(
            "c",
            "ansible",
            f"playbooks/backup.yml -f {workers} (batch mode, running + startup, Git commit/push, report)",
            playbook=True,
            startup_files=True,
        ),
        Variant(
            "c_nostartup",
            "ansible",
            "c with backup_startup=false (the same commands as a)",
            playbook=True,
            extra_vars={"backup_startup": False},
        ),
        Variant(
            "c_nosummary",
            "ansible",
            "c with backup_host_summary=false (no per-host status task after the batch)",
            playbook=True,
            startup_files=True,
            extra_vars={"backup_host_summary": False},
        ),
        Variant(
            "c_linear",
            "ansible",
            "c with backup_strategy=linear (the per-host status task in a worker per host, as before issue #16)",
            playbook=True,
            startup_files=True,
            extra_vars={"backup_strategy": "linear"},
        ),
        Variant(
            "c_per_host",
            "ansible",
            "c with backup_mode=per_host (one task per host)",
            playbook=True,
            startup_files=True,
            extra_vars={"backup_mode": "per_host"},
        ),
        Variant(
            "c_role",
            "ansible",
            "the backup_devices role alone (batch task), no startup: the backup part of c_nostartup",
            role=True,
            extra_vars={"backup_startup": False},
        ),
    ]
    for variant in table:
        if variant.kind == "ansible" and not variant.forks:
            variant.forks = workers
    return {v.name: v for v in table}


# ---------------------------------------------------------------- running


def write_playbook(path: Path, variant: Variant, repo_dir: Path) -> None:
    """Write the playbook of an Ansible variant (JSON is YAML).

    Per-host and floor variants: one task; c_role: the backup_devices role imported as
    playbooks/backup.yml imports it, plus a run-once summary.
    """
    if variant.role:
        backup_run = {"repo_dir": str(repo_dir), "timestamp": "2026-01-01T00:00:00+00:00"}
        role_play = {
            "name": "Backup",
            "hosts": "all",
            "gather_facts": False,
            "vars": {"backup_run": backup_run, **variant.extra_vars},
            "tasks": [
                {
                    "name": "Back up",
                    # As playbooks/backup.yml imports it.
                    "ansible.builtin.import_role": {"name": "netops.nautobot_backup.backup_devices"},
                    "run_once": True,
                },
                {
                    "name": "Summary",
                    "ansible.builtin.debug": {"msg": "BATCH: {{ backup_batch.msg }}; {{ backup_batch.elapsed }}"},
                    "run_once": True,
                },
            ],
        }
        path.write_text(json.dumps([role_play], indent=1), encoding="utf-8")
        return
    module_args = {"msg": "{{ inventory_hostname }}"} if variant.floor else {"repo_dir": str(repo_dir)}
    task: Dict[str, Any] = {"name": "Back up", variant.module: {**module_args, **variant.task_args}}
    if variant.run_once:
        task["run_once"] = True
    tasks: List[Dict[str, Any]] = [task]
    play = {"name": "Backup", "hosts": "all", "gather_facts": False, "strategy": variant.strategy, "tasks": tasks}
    path.write_text(json.dumps([play], indent=1), encoding="utf-8")


def count_files(out_dir: Path, devices: List[Dict[str, Any]], variant: Variant, faulty: List[str]) -> Dict[str, Any]:
    """Count the expected output files of a run (none for faulty devices); name the missing or implausible ones."""
    missing: List[str] = []
    found = 0
    startup_found = 0
    for dev in devices:
        if dev["name"] in faulty:
            continue
        if variant.kind == "ansible":
            running = out_dir / "backups" / f"{dev['name']}.running-config"
            startup = out_dir / "backups" / f"{dev['name']}.startup-config"
        else:
            running = out_dir / f"{dev['name']}.cfg"
            startup = out_dir / f"{dev['name']}.startup"
        try:
            text = running.read_text(encoding="utf-8")
        except OSError:
            missing.append(dev["name"])
            continue
        if dev["name"] in text and len(text) > 200:
            found += 1
        else:
            missing.append(f"{dev['name']} (implausible: {len(text)} chars)")
        if variant.startup_files and dev["platform"] in STARTUP_PLATFORMS and startup.is_file():
            startup_found += 1
    expected_startup = (
        sum(1 for d in devices if d["platform"] in STARTUP_PLATFORMS and d["name"] not in faulty)
        if variant.startup_files
        else 0
    )
    return {
        "files": found,
        "startup_files": startup_found,
        "startup_expected": expected_startup,
        "missing": missing[:10],
        "missing_count": len(missing),
    }


@dataclass
class Context:
    """What every run needs: the devices, paths, interpreters and settings."""

    devices: List[Dict[str, Any]]
    hosts_file: Path
    inventory: Path
    workers: int
    nornir_python: Path
    collections: str
    lab_pid: int
    keep_output: bool
    faulty: List[str] = field(default_factory=list)
    py_spy: Optional[Path] = None
    profile_dir: Optional[Path] = None
    ansible_env: Dict[str, str] = field(default_factory=dict)


def ansible_command(ctx: Context, variant: Variant, run_dir: Path, out_dir: Path) -> tuple[List[str], Dict[str, str]]:
    """Return the ansible-playbook command line and environment for one run (the installed collection)."""
    from testbed.ansible_run import BIN, ansible_env  # pylint: disable=import-outside-toplevel

    playbook = str(run_dir / "play.yml")
    extra_args: List[str] = []
    if variant.playbook:
        playbook = "netops.nautobot_backup.backup"  # playbooks/backup.yml of the installed collection
        inputs = {
            "backup_repo_url": f"file://{git_dirs(variant)[0]}",
            "backup_repo_dir": str(out_dir),
            "backup_report_path": str(run_dir / "report.json"),
            **variant.extra_vars,
        }
        (run_dir / "inputs.json").write_text(json.dumps(inputs), encoding="utf-8")
        extra_args = ["-e", f"@{run_dir / 'inputs.json'}"]
    else:
        write_playbook(run_dir / "play.yml", variant, out_dir)
    collections = variant.collections or ctx.collections
    extra = {"ANSIBLE_COLLECTIONS_PATH": collections, "ANSIBLE_COLLECTIONS_SCAN_SYS_PATH": "false"}
    cfg = run_dir / "ansible.cfg"
    cfg.write_text("[defaults]\n" + "".join(f"{k} = {v}\n" for k, v in variant.cfg.items()), encoding="utf-8")
    extra["ANSIBLE_CONFIG"] = str(cfg)
    extra.update(ctx.ansible_env)
    extra.update(variant.env)
    command = [str(BIN / "ansible-playbook"), "-i", str(ctx.inventory), "-f", str(variant.forks)]
    command += [playbook, *extra_args]
    return command, ansible_env(extra)


def git_dirs(variant: Variant) -> tuple[Path, Path]:
    """The bare remote and the checkout of a playbook variant (kept across rounds: a daily run)."""
    base = WORK / "git" / variant.name
    return base / "remote.git", base / "checkout"


def prepare_git(ctx: Context, variant: Variant) -> Dict[str, Any]:
    """Give a playbook variant a fresh seeded remote, then run it once untimed (clone, first commit of every file).

    The timed runs are then what a daily backup is: an existing checkout, devices mostly unchanged.
    """
    from testbed.git_remotes import seeded  # pylint: disable=import-outside-toplevel

    remote, _checkout = git_dirs(variant)
    shutil.rmtree(remote.parent, ignore_errors=True)
    remote.parent.mkdir(parents=True)
    seeded(remote)
    return run_variant(ctx, variant, -1)


def run_variant(ctx: Context, variant: Variant, round_no: int) -> Dict[str, Any]:
    """Run one variant once as a child process; return its measurements."""
    run_dir = WORK / "runs" / f"r{round_no}-{variant.name}"
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True)
    out_dir = git_dirs(variant)[1] if variant.playbook else run_dir / "out"
    env: Dict[str, str] = dict(os.environ)
    if variant.kind == "ansible":
        command, env = ansible_command(ctx, variant, run_dir, out_dir)
    else:
        python = str(ctx.nornir_python) if variant.kind == "nornir" else sys.executable
        mode = "nornir" if variant.kind == "nornir" else ("netmiko_startup" if variant.startup_files else "netmiko")
        command = [python, str(Path(__file__).resolve()), "--worker", mode, "--hosts", str(ctx.hosts_file)]
        command += ["--out", str(out_dir), "--workers", str(ctx.workers)]
    load_before = measure.load()
    lab_cpu0 = measure.process_cpu_s(ctx.lab_pid)
    log_path = run_dir / "output.log"
    spies: List[subprocess.Popen] = []

    def attach(pid: int) -> None:
        """Start py-spy on the run when --profile is given."""
        spy = start_py_spy(ctx, pid, variant, round_no)
        if spy is not None:
            spies.append(spy)

    with open(log_path, "wb") as log:
        usage = measure.run_child(command, env=env, cwd=run_dir, stdout=log, stderr=subprocess.STDOUT, on_start=attach)
    for spy in spies:
        spy.wait(timeout=60)
    returncode = usage.returncode
    result: Dict[str, Any] = {
        "round": round_no,
        "variant": variant.name,
        "wall_s": round(usage.wall_s, 2),
        "client_cpu_s": round(usage.cpu_s, 2),
        "client_peak_rss_mib": round(usage.peak_rss_mib, 1),
        "lab_cpu_s": round(measure.process_cpu_s(ctx.lab_pid) - lab_cpu0, 2),
        "load1_before": load_before["loadavg"][0],
        "returncode": returncode,
    }
    output = log_path.read_text(encoding="utf-8", errors="replace")
    result.update(count_files(out_dir, ctx.devices, variant, ctx.faulty))
    if variant.kind == "ansible":
        recap = RECAP.findall(output)
        failed = [m[0] for m in recap if int(m[4]) or int(m[3])]
        result["recap_hosts"] = len(recap)
        result["failed_hosts"] = len(failed)
        result["errors"] = [line.strip()[:200] for line in output.splitlines() if line.startswith("fatal:")][:5]
        if variant.role:
            result["failed_hosts"] = len(PROGRESS_FAILED.findall(output))
        if variant.playbook:
            report_path = run_dir / "report.json"
            report = json.loads(report_path.read_text(encoding="utf-8")) if report_path.is_file() else {}
            result["report_backed_up"] = report.get("devices_backed_up")
            result["report_failed"] = report.get("devices_failed")
            result["pushed"] = (report.get("git_commit_status") or {}).get("error") is None
    else:
        report = next((json.loads(line) for line in output.splitlines() if line.startswith("{")), None)
        if report is None:
            result.update(failed_hosts=len(ctx.devices), errors=output.splitlines()[-5:])
        else:
            result.update(failed_hosts=len(report["errors"]), errors=report["errors"][:5])
            result["loop_s"] = round(report["loop_s"], 2)
    # ansible-playbook exits 2 when a host failed; the role alone reports failures as data.
    host_failures = variant.kind == "ansible" and not variant.role
    expected_rc = 2 if ctx.faulty and host_failures else 0
    expected_files = 0 if variant.floor else len(ctx.devices) - len(ctx.faulty)
    if variant.floor:
        expected_rc = 0
    result["complete"] = (
        returncode == expected_rc
        and result["files"] == expected_files
        and result["failed_hosts"] == (0 if variant.floor else len(ctx.faulty))
        and result["startup_files"] == result["startup_expected"]
    )
    if variant.playbook:
        result["complete"] = (
            result["complete"]
            and result["report_backed_up"] == expected_files
            and result["report_failed"] == len(ctx.faulty)
            and result["pushed"]
        )
    if not ctx.keep_output and not variant.playbook:
        shutil.rmtree(out_dir, ignore_errors=True)
    return result


def start_py_spy(ctx: Context, pid: int, variant: Variant, round_no: int) -> Optional[subprocess.Popen]:
    """Attach py-spy (record, with subprocesses) to an Ansible run when --profile is given."""
    if ctx.py_spy is None or ctx.profile_dir is None or variant.kind != "ansible":
        return None
    ctx.profile_dir.mkdir(parents=True, exist_ok=True)
    base = ctx.profile_dir / f"r{round_no}-{variant.name}"
    command = [str(ctx.py_spy), "record", "--pid", str(pid), "--rate", "200", "--format", "raw"]
    command += ["--output", f"{base}.txt", "--nonblocking", "--subprocesses"]
    with open(f"{base}.log", "wb") as log:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log)  # noqa: S603


def summarize_profile(path: Path, top: int = 25) -> str:
    """Summarize a py-spy raw file: inclusive samples per frame, controller process vs forked workers.

    py-spy prefixes each stack with one ``process N:...`` frame per process level (measure's wrapper,
    then ansible-playbook, then its forked workers), so a stack whose last process frame is the first
    ``ansible-playbook`` one is the controller, and one with a process frame below it is a worker.
    """
    counters: Dict[str, Dict[str, int]] = {"controller": {}, "workers": {}}
    totals = {"controller": 0, "workers": 0}
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _sep, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        frames = stack.split(";")
        processes = [f for f in frames if f.startswith("process ")]
        first = next((i for i, f in enumerate(processes) if "ansible-playbook" in f), None)
        if first is None:
            continue  # the wrapper, not Ansible
        kind = "controller" if len(processes) == first + 1 else "workers"
        totals[kind] += int(count)
        seen = set()
        for frame in frames:
            if frame.startswith("process "):
                continue
            key = re.sub(r":\d+\)", ")", frame)
            if key not in seen:
                seen.add(key)
                counters[kind][key] = counters[kind].get(key, 0) + int(count)
    lines = []
    for kind, counter in counters.items():
        lines.append(f"== {kind}: {totals[kind]} samples (inclusive, top {top})")
        for key, value in sorted(counter.items(), key=lambda kv: -kv[1])[:top]:
            lines.append(f"{value:7d} {100 * value / max(1, totals[kind]):5.1f}%  {key}")
    return "\n".join(lines)


# ---------------------------------------------------------------- orchestration


def start_bench_lab(devices: int, state_dir: Path) -> Any:
    """Start a lab with `devices` generated devices in state_dir; return its LabClient."""
    import yaml  # pylint: disable=import-outside-toplevel

    from lab.lifecycle import start_lab, stop_lab  # pylint: disable=import-outside-toplevel

    spec = {
        "defaults": {"username": "netops", "password": "Bench-Pass-6c1e", "secret": "Bench-Enable-93b0"},
        "network": "127.5.0.0/16",
        "generate": {"count": devices, "prefix": "bk", "platforms": PLATFORMS},
    }
    spec_path = WORK / "spec.yml"
    spec_path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    stop_lab(state_dir)
    return start_lab(spec_path, state_dir, port=0, timeout=120)


def rotated(names: List[str], round_no: int) -> List[str]:
    """Return the order of one round: rotated by round_no, and reversed in odd rounds.

    Round 0: a,b,c; round 1: b,a,c; round 2: c,a,b; round 3: c,b,a. Rotating keeps any variant from
    always running first or last; reversing keeps two neighbours (c and c@before) from always running in
    the same order, which measurably favours the second of the two (warm caches).
    """
    order = names if round_no % 2 == 0 else names[::-1]
    shift = round_no % len(order)
    return order[shift:] + order[:shift]


def summarize(results: List[Dict[str, Any]], names: List[str], base: str) -> Dict[str, Any]:
    """Per variant: median wall time and the per-round and median ratio to the base variant."""
    summary: Dict[str, Any] = {}
    base_by_round = {r["round"]: r["wall_s"] for r in results if r["variant"] == base}
    for name in names:
        runs = [r for r in results if r["variant"] == name]
        ratios = [r["wall_s"] / base_by_round[r["round"]] for r in runs if r["round"] in base_by_round]
        summary[name] = {
            "wall_s": [r["wall_s"] for r in runs],
            "median_wall_s": round(statistics.median(r["wall_s"] for r in runs), 2),
            "median_client_cpu_s": round(statistics.median(r["client_cpu_s"] for r in runs), 2),
            "median_client_peak_rss_mib": round(statistics.median(r["client_peak_rss_mib"] for r in runs), 1),
            "ratios": [round(x, 2) for x in ratios],
            "median_ratio": round(statistics.median(ratios), 2) if ratios else None,
            "failures": sum(r["failed_hosts"] for r in runs),
            "incomplete_runs": sum(1 for r in runs if not r["complete"]),
            "files": [r["files"] for r in runs],
        }
    return summary


def print_table(results: List[Dict[str, Any]], summary: Dict[str, Any], base: str, devices: int) -> None:
    """Print one line per run, then the per-variant medians."""
    head = f"{'round':>5} {'variant':<18} {'wall s':>7} {'loop s':>7} {'cli CPU':>8} {'cli RSS':>8} {'lab CPU':>8}"
    head += f" {'load1':>6}"
    print(head + f" {'files':>9} {'failed':>6} {'ratio':>6}")
    base_by_round = {r["round"]: r["wall_s"] for r in results if r["variant"] == base}
    for r in results:
        ratio = r["wall_s"] / base_by_round[r["round"]] if r["round"] in base_by_round else float("nan")
        loop = f"{r['loop_s']:.2f}" if "loop_s" in r else "-"
        print(
            f"{r['round']:>5} {r['variant']:<18} {r['wall_s']:>7.2f} {loop:>7} {r['client_cpu_s']:>8.2f}"
            f" {r['client_peak_rss_mib']:>8.1f} {r['lab_cpu_s']:>8.2f} {r['load1_before']:>6.2f}"
            f" {r['files']:>5}/{devices:<3} {r['failed_hosts']:>6} {ratio:>6.2f}"
        )
        for err in r.get("errors", [])[:3]:
            print(f"      ! {err}")
    print()
    title = f"{'variant':<18} {'median s':>9} {'runs (s)':<24} {'ratio to ' + base + ' (per round)':<28} {'median':>6}"
    print(title + f" {'CPU s':>6} {'RSS MiB':>7}")
    for name, s in summary.items():
        walls = ", ".join(f"{w:.2f}" for w in s["wall_s"])
        ratios = ", ".join(f"{x:.2f}" for x in s["ratios"])
        ratio = f"{s['median_ratio']:.2f}" if s["median_ratio"] is not None else "-"
        print(
            f"{name:<18} {s['median_wall_s']:>9.2f} {walls:<24} {ratios:<28} {ratio:>6}"
            f" {s['median_client_cpu_s']:>6.2f} {s['median_client_peak_rss_mib']:>7.1f}"
        )


def git_commit() -> str:
    """The commit measured: BENCH_COMMIT (make bench-galaxy sets it), else the working tree's (``+dirty``)."""
    if os.environ.get("BENCH_COMMIT"):
        return os.environ["BENCH_COMMIT"]
    run = subprocess.run(
        ["git", "-C", str(REPO), "describe", "--always", "--dirty=+dirty"], capture_output=True, text=True, check=False
    )
    return run.stdout.strip() or "unknown"


def with_labels(known: Dict[str, Variant], names: List[str], labelled: List[str]) -> Dict[str, Variant]:
    """Add the ``name@LABEL`` variants: an Ansible variant run on the collection of ``--collection LABEL=PATH``.

    That compares two versions of the collection (e.g. before and after a change) in the same rounds, under
    the same load, instead of in two runs minutes apart.
    """
    paths = dict(item.split("=", 1) for item in labelled)
    result = dict(known)
    for name in names:
        base, _sep, label = name.partition("@")
        if label and base in known and known[base].kind == "ansible" and label in paths:
            path = measure.collections_path(str(Path(paths[label]).resolve()))
            description = f"{known[base].description} [collection {label}: {path}]"
            result[name] = dataclasses.replace(known[base], name=name, description=description, collections=path)
    return result


def bench_main(args: argparse.Namespace) -> int:
    """Start the lab, run the rounds, print and save the results, stop the lab."""
    from lab.lifecycle import stop_lab  # pylint: disable=import-outside-toplevel
    from testbed.ansible_run import lab_inventory  # pylint: disable=import-outside-toplevel

    names = [n.strip() for n in args.variants.split(",") if n.strip()]
    known = with_labels(variants(args.workers), names, args.collection)
    unknown = [n for n in names if n not in known]
    if unknown:
        raise SystemExit(f"unknown variants {unknown}; known: {', '.join(known)}; name@LABEL needs --collection")
    if "b" in names and not Path(args.nornir_python).exists():
        raise SystemExit(f"{args.nornir_python} missing: see benchmarks/README.md for the Nornir venv")
    collections = measure.collections_path() if any(known[n].kind == "ansible" for n in names) else ""
    WORK.mkdir(parents=True, exist_ok=True)
    state_dir = WORK / "lab"
    results: List[Dict[str, Any]] = []
    machine = {"before": measure.machine(), "commit": git_commit()}
    print(f"{measure.load_line()}; collections {collections or '-'}; commit {machine['commit']}", flush=True)
    t_lab = time.monotonic()
    lab = start_bench_lab(args.devices, state_dir)
    try:
        lab_start_s = time.monotonic() - t_lab
        devices = lab.devices
        faulty = (
            [d["name"] for d in devices[:: max(1, len(devices) // args.faulty)]][: args.faulty] if args.faulty else []
        )
        for name in faulty:
            lab.set_faults(name, ["auth_failure"])
        hosts_file = WORK / "hosts.json"
        hosts_file.write_text(json.dumps(devices), encoding="utf-8")
        ctx = Context(
            devices=devices,
            hosts_file=hosts_file,
            inventory=lab_inventory(devices, WORK / "inventory.yml"),
            workers=args.workers,
            nornir_python=Path(args.nornir_python),
            collections=collections,
            lab_pid=lab.pid,
            keep_output=args.keep_output,
            faulty=faulty,
            py_spy=Path(args.py_spy) if args.profile else None,
            profile_dir=WORK / "profiles" if args.profile else None,
            ansible_env=dict(item.split("=", 1) for item in args.ansible_env),
        )
        print(f"lab: {len(devices)} devices, pid {lab.pid}, port {lab.port}, started in {lab_start_s:.2f}s", flush=True)
        if faulty:
            print(f"auth_failure set on {len(faulty)} devices: {', '.join(faulty)}", flush=True)
        for name in names:
            if known[name].playbook:
                warm = prepare_git(ctx, known[name])
                print(f"warm-up {name:<18} {warm['wall_s']:7.2f}s (untimed: clone + first commit)", flush=True)
        for round_no in range(args.rounds):
            for name in rotated(names, round_no):
                result = run_variant(ctx, known[name], round_no)
                results.append(result)
                status = "ok" if result["complete"] else "INCOMPLETE"
                print(
                    f"round {round_no} {name:<18} {result['wall_s']:7.2f}s  files {result['files']}/{len(devices)}"
                    f"  failed {result['failed_hosts']}  {status}",
                    flush=True,
                )
    finally:
        if not args.keep_lab:
            stop_lab(state_dir)
    machine["after"] = measure.load()
    base = names[0] if "a" not in names else "a"
    summary = summarize(results, names, base)
    print()
    print_table(results, summary, base, len(devices))
    print(f"\n{measure.load_line(machine['before'])} (before)  ->  {measure.load_line(machine['after'])} (after)")
    report = {
        "command": " ".join(sys.argv),
        "devices": len(devices),
        "workers": args.workers,
        "rounds": args.rounds,
        "variants": {n: known[n].description for n in names},
        "base": base,
        "machine": machine,
        "lab_start_s": round(lab_start_s, 2),
        "faulty": faulty,
        "results": results,
        "summary": summary,
        "variant_defs": {n: asdict(known[n]) for n in names},
    }
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(report, indent=2), encoding="utf-8")
    print(f"results: {args.json}")
    return 0 if all(r["complete"] for r in results) else 1


def main(argv: Optional[List[str]] = None) -> int:
    """Parse arguments; run as the benchmark or as one of its workers."""
    global WORK  # pylint: disable=global-statement  # --work-dir
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--devices", type=int, default=500)
    parser.add_argument("--workers", type=int, default=50, help="threads of a/b, forks of c (default 50)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--variants", default="a,b,c,c_nostartup")
    parser.add_argument("--json", default=str(WORK / "results.json"), help="where to write the results")
    parser.add_argument("--nornir-python", default=str(REPO / ".cache" / "bench" / "nornir-venv" / "bin" / "python"))
    parser.add_argument("--profile", action="store_true", help="py-spy record every Ansible run (raw stacks)")
    parser.add_argument("--py-spy", default=str(REPO / ".cache" / "bench" / "tools-venv" / "bin" / "py-spy"))
    parser.add_argument("--keep-lab", action="store_true", help="leave the lab running (stop: python -m lab stop)")
    parser.add_argument(
        "--faulty",
        type=int,
        default=0,
        help="give N devices (spread out) the lab's auth_failure fault: each run "
        "must then report exactly N failures and write no file for them",
    )
    parser.add_argument(
        "--collection",
        action="append",
        default=[],
        metavar="LABEL=PATH",
        help="a second collections path; variant NAME@LABEL runs NAME on it (e.g. c@before); repeatable",
    )
    parser.add_argument(
        "--ansible-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra environment of every Ansible run (e.g. a timing callback); repeatable",
    )
    parser.add_argument("--keep-output", action="store_true", help="keep the backup files of every run")
    parser.add_argument(
        "--work-dir",
        help=f"lab, Git remotes and runs (default {WORK.relative_to(REPO)}); two benchmarks at once need two",
    )
    parser.add_argument("--worker", choices=["netmiko", "netmiko_startup", "nornir"], help=argparse.SUPPRESS)
    parser.add_argument("--hosts", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--summarize-profile", metavar="RAW", help="print a summary of a --profile file and exit")
    args = parser.parse_args(argv)
    if args.work_dir:
        WORK = Path(args.work_dir).resolve()
    if args.summarize_profile:
        print(summarize_profile(Path(args.summarize_profile)))
        return 0
    runner: Callable[[argparse.Namespace], int] = worker_main if args.worker else bench_main
    return runner(args)


if __name__ == "__main__":
    sys.exit(main())
