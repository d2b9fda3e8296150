"""Capacity benchmark of the SSH device lab: many devices, many concurrent netmiko fetches.

Starts one lab process with N generated devices (mixed platforms, default 500), then
fetches every device's running configuration with netmiko's ConnectHandler
(connect, ``enable`` where the platform has it, ``show running-config`` /
``show configuration``) from a pool of worker threads (default 50). A fetch counts as
successful only if its output, without volatile lines, equals the lab's canonical
config. Prints wall time, per-fetch p50/p95, failures and the lab process's peak RSS
and CPU time (from /proc), then stops the lab by PID.

    make bench BENCH=lab_capacity BENCH_ARGS="[--devices 500] [--workers 50] [--json]"

The lab comes from the test bed (``lab``, ``testbed``), imported from PYTHONPATH=tests (``make bench`` sets it).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import measure
import yaml
from netmiko import ConnectHandler

from lab.client import LabClient
from lab.lifecycle import start_lab, stop_lab
from lab.platforms import strip_volatile
from testbed import procs

PLATFORMS = ["cisco_ios", "cisco_nxos", "arista_eos", "juniper_junos", "cisco_xr"]


def proc_stats(pid: int) -> dict[str, float]:
    """Return peak RSS (MiB), current RSS (MiB) and CPU seconds (user+system) of the lab process."""
    memory = measure.process_memory_mib(pid)
    return {"peak_rss_mib": memory["peak_rss"], "rss_mib": memory["rss"], "cpu_s": measure.process_cpu_s(pid)}


def fetch(lab: LabClient, dev: dict[str, Any], read_timeout: float) -> dict[str, Any]:
    """Fetch one device's running config with netmiko; return timing and outcome."""
    start = time.monotonic()
    platform = dev["platform"]
    cmd = "show configuration" if platform == "juniper_junos" else "show running-config"
    result: dict[str, Any] = {"name": dev["name"], "platform": platform, "ok": False, "error": None}
    try:
        with ConnectHandler(**lab.netmiko_params(dev["name"], conn_timeout=30, banner_timeout=30)) as conn:
            conn.enable()
            output = conn.send_command(cmd, read_timeout=read_timeout)
        result["ok"] = strip_volatile(platform, output) == lab.running_config(dev["name"])
        if not result["ok"]:
            result["error"] = f"config mismatch ({len(output)} chars)"
    except Exception as exc:  # noqa: BLE001 - a benchmark reports every failure kind, with its type
        result["error"] = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
    result["seconds"] = time.monotonic() - start
    return result


def percentile(values: list[float], pct: float) -> float:
    """Return the pct-th percentile (nearest rank) of values."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(pct / 100 * len(ordered) + 0.5) - 1))]


def run(devices: int, workers: int, config_lines: int, read_timeout: float) -> dict[str, Any]:
    """Start the lab, run the fetches, stop the lab; return the measurements."""
    state_dir = procs.cache_dir() / "lab" / "capacity"
    spec = {
        "defaults": {"username": "netops", "password": "Bench-Pass-51d2", "secret": "Bench-Enable-77a1"},
        "network": "127.3.0.0/16",
        "generate": {"count": devices, "prefix": "cap", "platforms": PLATFORMS, "config_lines": config_lines},
    }
    with tempfile.NamedTemporaryFile("w", suffix=".yml", prefix="capacity-", delete=False) as handle:
        yaml.safe_dump(spec, handle)
        spec_path = Path(handle.name)
    stop_lab(state_dir)
    t_start = time.monotonic()
    try:
        lab = start_lab(spec_path, state_dir, port=0, timeout=120)
        startup_s = time.monotonic() - t_start
        idle = proc_stats(lab.pid)
        lab.clear_log()
        t0 = time.monotonic()
        client_cpu0 = time.process_time()
        load_before = measure.load()
        with ThreadPoolExecutor(max_workers=workers) as pool:
            results = list(pool.map(lambda d: fetch(lab, d, read_timeout), lab.devices))
        wall = time.monotonic() - t0
        client_cpu = time.process_time() - client_cpu0
        busy = proc_stats(lab.pid)
        events = lab.connection_log()
    finally:
        stop_lab(state_dir)
        spec_path.unlink(missing_ok=True)
    times = [r["seconds"] for r in results]
    failures = [r for r in results if not r["ok"]]
    return {
        "devices": devices,
        "workers": workers,
        "config_lines": config_lines,
        "lab_startup_s": round(startup_s, 2),
        "wall_s": round(wall, 2),
        "fetches_per_s": round(len(results) / wall, 1),
        "p50_s": round(statistics.median(times), 2),
        "p95_s": round(percentile(times, 95), 2),
        "max_s": round(max(times), 2),
        "ok": len(results) - len(failures),
        "failures": len(failures),
        "failure_samples": [f"{r['name']}: {r['error']}" for r in failures[:10]],
        "lab_rss_idle_mib": round(idle["rss_mib"], 1),
        "lab_peak_rss_mib": round(busy["peak_rss_mib"], 1),
        "lab_cpu_startup_s": round(idle["cpu_s"], 2),
        "lab_cpu_fetch_s": round(busy["cpu_s"] - idle["cpu_s"], 2),
        "client_cpu_s": round(client_cpu, 2),
        "log_connects": sum(1 for e in events if e["event"] == "connect"),
        "load_before": load_before,
        "load_after": measure.load(),
    }


def main() -> int:
    """Parse arguments, run the benchmark, print the report; exit 1 if any fetch failed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=500)
    parser.add_argument("--workers", type=int, default=50)
    parser.add_argument("--config-lines", type=int, default=150)
    parser.add_argument("--read-timeout", type=float, default=60.0)
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args()
    report = run(args.devices, args.workers, args.config_lines, args.read_timeout)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        width = max(len(k) for k in report)
        for key, value in report.items():
            print(f"{key:<{width}}  {value}")
    return 1 if report["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
