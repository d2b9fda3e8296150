"""Write-back throughput: how many device updates per second Nautobot applies, and what raises it (issue #16).

The write-back (``nautobot_backup_status``, engine ``module_utils/writeback.py``) writes the status custom fields
of every device a run tried with bulk ``PATCH /api/dcim/devices/``. A next-day run rewrites ``last_backup`` and
``last_backup_attempt`` of every device, so at fleet scale its cost is paid daily. This script measures it
against a real Nautobot of the test bed:

1. **Nautobot**: the test-bed instance ``--instance`` (default ``wbtp``) is brought up and given exactly N devices
   (``--devices``, default 1,000) by ``testbed.nautobot_bulk_seed``, then the backup status custom fields
   (``netops.nautobot_backup.create_status_fields``, as ``scale_e2e.py``; untimed).
2. **Warm-up** (untimed): one write of every status of every device, so that each timed write is the daily case:
   two date fields change on every device, nothing else.
3. **Variants** ``BxC`` (``--variants``): batch size B (devices per request) and C bulk PATCH requests in flight
   at once. Each variant calls the engine's own ``update_backup_status`` (field check, GraphQL read of the
   current values, bulk PATCH of what differs) with a run date one day later than the previous write, so every
   device really changes. Rounds (``--rounds``) run every variant once, the order rotated and reversed each
   round (``backup_500.rotated``), so load drifts do not always hit the same variant; ratios are taken to the
   base variant (``--base``, default ``50x1``: the write-back's batch size before issue #16, one request at a
   time) of the same round.

Per run: the write phase (first PATCH sent to last answer) and the updates per second it gives, the whole call's
wall time (with the reads), the change-log entries Nautobot added (one per device it updated), the PATCH
latencies (median, max), failed requests and timeouts (the client's ``--nautobot-timeout``, default 300 s; the
module's is 30 s), the devices written and failed, the CPU of Nautobot's uWSGI processes and of PostgreSQL
(``inventory_10k.server_cpu``; PostgreSQL is shared by every running instance), this process's own CPU, the CPU
anything else on the machine took ("other", a noise gauge) and the load average before the run. Each run first
waits for an idle uWSGI: a request a client gave up on (a timeout) still runs to its end. Everything goes to
``--json`` (default ``.cache/bench/writeback_throughput/results-<N>.json``) with the command, the commit and the
load before and after. The instance is stopped at the end (what this run started) unless ``--keep-running``.

    make bench BENCH=writeback_throughput BENCH_ARGS="--devices 1000 --rounds 2"

It imports the write-back as ``ansible_collections.netops.nautobot_backup`` and the test bed as ``testbed``, both
from PYTHONPATH (``make bench`` sets it); ``create_status_fields`` runs the collection of
``ANSIBLE_COLLECTIONS_PATH``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import measure
from backup_500 import rotated
from inventory_10k import server_cpu
from scale_e2e import nautobot_changes, status_fields

from ansible_collections.netops.nautobot_backup.plugins.module_utils.nautobot_client import (
    NautobotAPIError,
    NautobotClient,
)
from ansible_collections.netops.nautobot_backup.plugins.module_utils.writeback import update_backup_status
from testbed.ansible_run import ansible_env
from testbed.nautobot_bed import NautobotInstance, Started
from testbed.nautobot_bulk_seed import BenchSpec, seed_bench

REPO = Path(__file__).resolve().parents[1]
WORK = REPO / ".cache" / "bench" / "writeback_throughput"
FIRST_DAY = datetime(2030, 1, 1, 2, 0, 0, tzinfo=UTC)
DEFAULT_VARIANTS = "50x1,25x1,100x1,200x1,50x2,50x4,25x2,25x4"
TIMEOUT_MARK = "did not answer within"


class TimedClient:
    """A NautobotClient whose GraphQL reads and bulk PATCHes are timed, one record per request (thread-safe)."""

    def __init__(self, client: NautobotClient) -> None:
        self._client = client
        self.url = client.url
        self.calls: List[Dict[str, Any]] = []
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def patch(self, path: str, payload: Any) -> Any:
        """The client's patch, timed."""
        return self._timed("patch", len(payload), self._client.patch, path, payload)

    def graphql(self, query: str, variables: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
        """The client's graphql, timed."""
        return self._timed("graphql", len((variables or {}).get("ids") or []), self._client.graphql, query, variables)

    def _timed(self, kind: str, size: int, call: Any, *args: Any) -> Any:
        start = time.monotonic()
        error = ""
        try:
            return call(*args)
        except NautobotAPIError as exc:
            error = str(exc)
            raise
        finally:
            with self._lock:
                self.calls.append(
                    {"kind": kind, "size": size, "start": start, "end": time.monotonic(), "error": error[:300]}
                )


def parse_variant(name: str) -> Tuple[int, int]:
    """``50x4`` -> (batch size 50, concurrency 4)."""
    batch, _x, concurrency = name.partition("x")
    return int(batch), int(concurrency or 1)


def device_results(client: NautobotClient) -> List[Dict[str, Any]]:
    """Every device of the instance as a durable, unchanged backup result (what backup_devices hands over)."""
    records = client.graphql("{ devices { id name } }")["devices"]
    return [
        {
            "device_id": record["id"],
            "device_name": record["name"],
            "running_config_success": True,
            "unsaved_changes": False,
            "changed": False,
        }
        for record in sorted(records, key=lambda record: record["name"])
    ]


def write_once(
    instance: NautobotInstance,
    client: NautobotClient,
    devices: List[Dict[str, Any]],
    day: datetime,
    variant: Tuple[int, int],
) -> Dict[str, Any]:
    """One write of every device's status through the engine, dated day; return what it cost and did.

    variant: (batch size, requests in flight).
    """
    batch, concurrency = variant
    timed = TimedClient(client)
    quiet_s = wait_quiet(instance)
    changes_before = nautobot_changes(client.url, token_of(instance))
    cpu_before = server_cpu(instance)
    busy_before, own_before = measure.machine_busy_cpu_s(), measure.own_cpu_s()
    load_before = measure.load()["loadavg"]
    started = time.monotonic()
    result = update_backup_status(timed, devices, pushed=True, timestamp=day, batch_size=batch, concurrency=concurrency)
    wall = time.monotonic() - started
    own = measure.own_cpu_s() - own_before
    busy = measure.machine_busy_cpu_s() - busy_before
    uwsgi, postgres = (after - before for after, before in zip(server_cpu(instance), cpu_before, strict=True))
    changes = nautobot_changes(client.url, token_of(instance)) - changes_before
    patches = [call for call in timed.calls if call["kind"] == "patch"]
    reads = [call for call in timed.calls if call["kind"] == "graphql"]
    write_s = max(c["end"] for c in patches) - min(c["start"] for c in patches) if patches else 0.0
    read_s = max(c["end"] for c in reads) - min(c["start"] for c in reads) if reads else 0.0
    latencies = sorted(c["end"] - c["start"] for c in patches)
    status = result.status
    written = len(result.updated_devices)
    return {
        "day": day.date().isoformat(),
        "wall_s": round(wall, 2),
        "read_s": round(read_s, 2),
        "write_s": round(write_s, 2),
        "updates_per_s": round(written / write_s, 2) if write_s else 0.0,
        "updated": written,
        "skipped": len(result.skipped_devices),
        "failed": status.failed_count,
        "values_written": dict(result.values_written),
        "nautobot_changes": changes,
        "quiet_wait_s": quiet_s,
        "requests": len(patches),
        "failed_requests": sum(1 for c in patches if c["error"]),
        "timeouts": sum(1 for c in patches if TIMEOUT_MARK in c["error"]),
        "latency_median_s": round(statistics.median(latencies), 2) if latencies else 0.0,
        "latency_max_s": round(latencies[-1], 2) if latencies else 0.0,
        "uwsgi_cpu_s": round(uwsgi, 2),
        "postgres_cpu_s": round(postgres, 2),
        "client_cpu_s": round(own, 2),
        "nautobot_cores": round((uwsgi + postgres) / wall, 2) if wall else 0.0,
        "other_cpu_s": round(max(0.0, busy - uwsgi - postgres - own), 2),
        "load_before": load_before,
        "errors": [error[:300] for error in status.errors[:3]],
    }


def token_of(instance: NautobotInstance) -> str:
    """The admin token of the test bed (never printed)."""
    return str(instance.credentials()["admin"]["token"])


def wait_quiet(instance: NautobotInstance, limit_s: float = 180.0) -> float:
    """Wait until uWSGI is idle (under 0.1 CPU-s per second), so a request a client gave up on (a timeout) does not
    run into the next variant; return the seconds waited."""
    started = time.monotonic()
    while time.monotonic() - started < limit_s:
        before = server_cpu(instance)[0]
        time.sleep(1)
        if server_cpu(instance)[0] - before < 0.1:
            break
    return round(time.monotonic() - started, 1)


def summarize(results: List[Dict[str, Any]], names: List[str], base: str) -> Dict[str, Any]:
    """Per variant: median updates/s and the per-round and median ratio to the base variant (by updates/s)."""
    summary: Dict[str, Any] = {}
    base_by_round = {r["round"]: r["updates_per_s"] for r in results if r["variant"] == base}
    for name in names:
        runs = [r for r in results if r["variant"] == name]
        ratios = [r["updates_per_s"] / base_by_round[r["round"]] for r in runs if base_by_round.get(r["round"])]
        summary[name] = {
            "updates_per_s": [r["updates_per_s"] for r in runs],
            "median_updates_per_s": round(statistics.median(r["updates_per_s"] for r in runs), 2),
            "median_write_s": round(statistics.median(r["write_s"] for r in runs), 1),
            "median_wall_s": round(statistics.median(r["wall_s"] for r in runs), 1),
            "ratios": [round(x, 2) for x in ratios],
            "median_ratio": round(statistics.median(ratios), 2) if ratios else None,
            "median_uwsgi_cpu_ms_per_update": round(
                statistics.median(1000 * r["uwsgi_cpu_s"] / max(1, r["updated"]) for r in runs), 1
            ),
            "median_postgres_cpu_ms_per_update": round(
                statistics.median(1000 * r["postgres_cpu_s"] / max(1, r["updated"]) for r in runs), 1
            ),
            "median_nautobot_cores": round(statistics.median(r["nautobot_cores"] for r in runs), 2),
            "max_latency_s": max(r["latency_max_s"] for r in runs),
            "failed_devices": sum(r["failed"] for r in runs),
            "failed_requests": sum(r["failed_requests"] for r in runs),
            "timeouts": sum(r["timeouts"] for r in runs),
            "load1": [r["load_before"][0] for r in runs],
        }
    return summary


def print_table(results: List[Dict[str, Any]], summary: Dict[str, Any], base: str) -> None:
    """One line per run, then one per variant."""
    print(
        f"{'round':>5} {'variant':<7} {'write s':>8} {'upd/s':>7} {'wall s':>7} {'read s':>6} {'lat med':>7}"
        f" {'lat max':>7} {'uWSGI':>7} {'PG':>6} {'other':>6} {'load1':>6} {'failed':>6} {'t/o':>4}"
    )
    for r in results:
        print(
            f"{r['round']:>5} {r['variant']:<7} {r['write_s']:>8.1f} {r['updates_per_s']:>7.2f} {r['wall_s']:>7.1f}"
            f" {r['read_s']:>6.1f} {r['latency_median_s']:>7.2f} {r['latency_max_s']:>7.2f} {r['uwsgi_cpu_s']:>7.1f}"
            f" {r['postgres_cpu_s']:>6.1f} {r['other_cpu_s']:>6.1f} {r['load_before'][0]:>6.2f} {r['failed']:>6}"
            f" {r['timeouts']:>4}"
        )
        for error in r["errors"][:2]:
            print(f"      ! {error}")
    print()
    print(
        f"{'variant':<7} {'upd/s (median)':>14} {'ratio to ' + base:>14} {'per round':<20} {'uWSGI ms/upd':>12}"
        f" {'PG ms/upd':>9} {'NB cores':>8} {'max lat s':>9} {'failed':>6} {'t/o':>4}"
    )
    for name, s in summary.items():
        ratio = f"{s['median_ratio']:.2f}" if s["median_ratio"] is not None else "-"
        rounds = ", ".join(f"{x:.2f}" for x in s["ratios"])
        print(
            f"{name:<7} {s['median_updates_per_s']:>14.2f} {ratio:>14} {rounds:<20}"
            f" {s['median_uwsgi_cpu_ms_per_update']:>12.1f} {s['median_postgres_cpu_ms_per_update']:>9.1f}"
            f" {s['median_nautobot_cores']:>8.2f} {s['max_latency_s']:>9.2f} {s['failed_devices']:>6}"
            f" {s['timeouts']:>4}"
        )


def git_commit() -> str:
    """The commit measured (``+dirty`` when the working tree has changes)."""
    run = subprocess.run(
        ["git", "-C", str(REPO), "describe", "--always", "--dirty=+dirty"], capture_output=True, text=True, check=False
    )
    return run.stdout.strip() or "unknown"


def bench_main(args: argparse.Namespace) -> int:
    """Seed, create the fields, warm up, run the variants round by round, print and save; stop what was started."""
    names = [name.strip() for name in args.variants.split(",") if name.strip()]
    if args.base not in names:
        names.insert(0, args.base)
    plan = {name: parse_variant(name) for name in names}
    work = Path(args.work_dir).resolve() if args.work_dir else WORK
    work.mkdir(parents=True, exist_ok=True)
    out = Path(args.json) if args.json else work / f"results-{args.devices}.json"
    report: Dict[str, Any] = {
        "command": " ".join(sys.argv),
        "devices": args.devices,
        "machine": {"before": measure.machine(), "commit": git_commit()},
        "setup": {},
        "results": [],
    }
    print(f"{measure.load_line()}; {args.devices} devices; commit {report['machine']['commit']}", flush=True)
    instance = NautobotInstance(args.instance)
    started = Started()
    try:
        mark = time.monotonic()
        instance.up(started=started)
        report["setup"]["seed"] = seed_bench(instance, BenchSpec(devices=args.devices))
        url, token = instance.url, instance.credentials()["admin"]["token"]
        status_fields(ansible_env({"NAUTOBOT_URL": url, "NAUTOBOT_TOKEN": token}), work)
        client = NautobotClient(url, token, timeout=args.nautobot_timeout)
        devices = device_results(client)
        if len(devices) != args.devices:
            raise SystemExit(f"Nautobot serves {len(devices)} devices, not {args.devices}")
        day = FIRST_DAY
        warm = write_once(instance, client, devices, day, (50, 4))
        report["setup"].update(nautobot_s=round(time.monotonic() - mark, 1), warmup=warm)
        print(f"nautobot {instance.name}: {args.devices} devices, fields created, warm-up write {warm}", flush=True)
        for round_no in range(args.rounds):
            for name in rotated(names, round_no):
                day += timedelta(days=1)
                batch, concurrency = plan[name]
                result = {"round": round_no, "variant": name, "batch_size": batch, "concurrency": concurrency}
                result.update(write_once(instance, client, devices, day, plan[name]))
                report["results"].append(result)
                print(
                    f"round {round_no} {name:<6} write {result['write_s']:7.1f}s {result['updates_per_s']:6.2f} upd/s"
                    f" uWSGI {result['uwsgi_cpu_s']:6.1f}s PG {result['postgres_cpu_s']:5.1f}s"
                    f" ({result['nautobot_cores']:.2f} cores)"
                    f" other {result['other_cpu_s']:5.1f}s load {result['load_before'][0]:.2f}"
                    f" failed {result['failed']} timeouts {result['timeouts']} changes {result['nautobot_changes']}"
                    f" (waited {result['quiet_wait_s']}s for an idle Nautobot)",
                    flush=True,
                )
                out.write_text(json.dumps(report, indent=2), encoding="utf-8")
        client.close()
    finally:
        if not args.keep_running:
            instance.down(started=started)
    report["machine"]["after"] = measure.load()
    report["summary"] = summarize(report["results"], names, args.base)
    out.write_text(json.dumps(report, indent=2), encoding="utf-8")
    print()
    print_table(report["results"], report["summary"], args.base)
    before, after = report["machine"]["before"], report["machine"]["after"]
    print(f"\n{measure.load_line(before)} (before)  ->  {measure.load_line(after)} (after)")
    print(f"results: {out}")
    complete = all(r["failed"] == 0 and r["updated"] == args.devices for r in report["results"])
    return 0 if complete else 1


def main(argv: Optional[List[str]] = None) -> int:
    """Parse the arguments and run the benchmark."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument(
        "--variants",
        default=DEFAULT_VARIANTS,
        help=f"BxC: batch size x requests in flight (default {DEFAULT_VARIANTS})",
    )
    parser.add_argument("--base", default="50x1", help="variant the ratios are taken to (default 50x1)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--instance", default="wbtp", help="test-bed Nautobot instance (default wbtp)")
    parser.add_argument(
        "--nautobot-timeout",
        type=float,
        default=300,
        help="seconds per request (default 300: at the module's 30 s, 4 requests of 50 in flight timed out on the "
        "loaded 2-core test bed, and Nautobot went on applying what the client had given up on)",
    )
    parser.add_argument("--json", help="where to write the results")
    parser.add_argument("--work-dir", help="the create_status_fields log (default .cache/bench/writeback_throughput)")
    parser.add_argument("--keep-running", action="store_true", help="leave the Nautobot instance up")
    return bench_main(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
