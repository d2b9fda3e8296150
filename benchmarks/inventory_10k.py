"""Benchmark of the Nautobot inventory plugin at 10,000 devices, against a real Nautobot.

Brings up the test-bed instance ``bench`` (``testbed.nautobot_bed``), gives it the
10,000-device data set of :mod:`testbed.nautobot_bulk_seed` (copied from its template DB,
restored from the cached dump, or seeded once through the ORM), warms both uWSGI workers'
GraphQL schemas, then runs ``ansible-inventory -i <tmp>/bench_nautobot.yml --list`` as a
child process several times per row and reports its wall time, peak RSS and CPU, plus
the CPU that Nautobot (uWSGI) and PostgreSQL spent meanwhile and the CPU that anything
else on the machine took ("other": a noise gauge; results are only comparable when it is
near zero), and the largest uWSGI worker peak RSS after each row. Every run's output must
hold exactly the number of hosts that Nautobot's REST API counts for the same filter, or
the benchmark fails. The plugin's own fetch (``iter_device_pages``: the lookups, the same
query, variables, paging and parallel requests) is also timed without Ansible to show the
server's share. Stops what it started, by PID.

    make bench BENCH=inventory_10k BENCH_ARGS="[--repeat 3] [--rows all|NAME,...] [--json FILE]
        [--profile FILE.prof] [--server-breakdown] [--keep-running] [--collection LABEL=PATH ...]"

``--collection LABEL=PATH`` (repeatable; ``make bench-galaxy BENCH_BEFORE=<commit>`` passes
``before=...``) adds, for every plugin row, the row ``NAME@LABEL``: the same ``ansible-inventory``
on that collections path, its runs interleaved with the row's own (A B, B A, A B, ...), so two
versions of the plugin are compared under the same load in one run.

The plugin's fetch code is imported as ``ansible_collections.netops.nautobot_backup`` and the test bed as
``testbed``, both from PYTHONPATH (``make bench`` sets it); ``ansible-inventory`` runs the collection of
``ANSIBLE_COLLECTIONS_PATH``.

Rows (``--rows``): ``p1000`` (10,000 devices, default page_size 1000), ``p0`` (page_size 0,
one unpaged request), ``p2500``, ``p500``, ``p200``, ``t2500`` / ``t5000`` / ``t7500`` / ``t10000``
(default paging, filtered to 1, 2, 3 or 4 of the 4 tenants: 2,500 ... 10,000 devices), and
``graph`` (``--graph`` instead of ``--list``: the plugin's parse without ansible-inventory
serialising every host's variables, which is what a playbook run pays), ``export`` (``--list --export``,
the command AWX's inventory sync runs, less its ``--output FILE``, which writes the same text to a file), ``seq``
(``parallel_requests: 1``, one page request at a time), ``stages`` (p1000 through
``benchmarks/inventory_stages.py``: RSS and time after parsing, after gathering host variables and
after ansible-inventory's JSON dump), ``script`` (no plugin and no Nautobot: ansible-core's script
inventory printing the JSON that p1000 listed, the same hosts and variables; what ansible-inventory
costs for them without us). ``p0`` is also what networktocode's
``gql_inventory`` does by default (no paging unless configured): one request for every device.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import pstats
import signal
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence

import measure
import requests
import yaml

from ansible_collections.netops.nautobot_backup.plugins.module_utils.device_query import (
    DEVICE_FIELDS,
    LOOKUP_QUERY,
    TAGS_FIELD,
    build_query,
    build_tag_query,
    iter_device_pages,
)
from ansible_collections.netops.nautobot_backup.plugins.module_utils.nautobot_client import (
    NautobotClient,
)
from testbed import nautobot_install as inst
from testbed import procs
from testbed.nautobot_bed import NautobotInstance, Started
from testbed.nautobot_bulk_seed import BenchSpec, BulkSeedError, seed_bench, tenant_name, verify
from testbed.nautobot_services import ServiceError

PLUGIN = "netops.nautobot_backup.nautobot"
ANSIBLE_INVENTORY = Path(sys.executable).parent / "ansible-inventory"
STAGES = Path(__file__).resolve().parent / "inventory_stages.py"
RUN_TIMEOUT = 600.0
GOAL_SECONDS = 10.0
GOAL_MIB = 300.0
PLUGIN_PARALLEL_DEFAULT = 4  # the plugin's parallel_requests default
PLUGIN_PAGE_SIZE_DEFAULT = 1000  # the plugin's page_size default


class BenchmarkError(RuntimeError):
    """The benchmark could not run, or a run gave a wrong answer."""


@dataclasses.dataclass
class Row:
    """One configuration to time: an inventory file and the host count it must produce."""

    name: str
    label: str
    config: Dict[str, Any]
    page_size: Optional[int]  # None: the plugin's default
    mode: str = "--list"  # or "--graph", or "--list --export" (several arguments, split on spaces)
    expected: int = 0
    # "plugin": ansible-inventory on our plugin; "stages": the same through inventory_stages.py (RSS per
    # stage); "script": ansible-core's script inventory serving the JSON our plugin's --list produced.
    kind: str = "plugin"


@dataclasses.dataclass
class Run:
    """What one ansible-inventory child process cost."""

    wall_s: float
    peak_rss_mib: float
    cpu_s: float
    server_cpu_s: float
    postgres_cpu_s: float
    other_cpu_s: float
    hosts: int
    stages: Optional[Dict[str, Dict[str, float]]] = None


# -- rows ---------------------------------------------------------------------------------------
def make_rows(spec: BenchSpec) -> List[Row]:
    """All rows the benchmark knows, in report order."""
    all_tenants = [tenant_name(i) for i in range(spec.tenants)]
    rows = [
        Row("p1000", "all devices, page_size 1000 (default)", {}, None),
        Row("p0", "all devices, page_size 0 (one request, no paging)", {"page_size": 0}, 0),
        Row("p2500", "all devices, page_size 2500 (4 pages, all in flight at once)", {"page_size": 2500}, 2500),
        Row("p500", "all devices, page_size 500", {"page_size": 500}, 500),
        Row("p200", "all devices, page_size 200", {"page_size": 200}, 200),
    ]
    for keep in range(1, spec.tenants + 1):
        rows.append(
            Row(
                f"t{keep * spec.devices // spec.tenants}",
                f"{keep} of {spec.tenants} tenants, page_size 1000",
                {"tenants": all_tenants[:keep]},
                None,
            )
        )
    rows.append(Row("graph", "all devices, page_size 1000, `--graph`", {}, None, mode="--graph"))
    rows.append(Row("export", "all devices, page_size 1000, `--list --export` (AWX)", {}, None, mode="--list --export"))
    rows.append(Row("seq", "all devices, page_size 1000, parallel_requests 1", {"parallel_requests": 1}, None))
    rows.append(Row("stages", "all devices, page_size 1000, RSS per stage", {}, None, kind="stages"))
    rows.append(Row("script", "no plugin: a script inventory printing the same JSON", {}, None, kind="script"))
    return rows


def row_command(row: Row, work: Path, env: Dict[str, str]) -> List[str]:
    """The command line of a row (for "script": first saves what the plugin lists, untimed)."""
    source = inventory_file(row, work)
    if row.kind == "stages":
        return [sys.executable, str(STAGES), "-i", str(source), *row.mode.split()]
    if row.kind == "script":
        listing = work / "listing.json"
        with open(listing, "wb") as out:
            subprocess.run([str(ANSIBLE_INVENTORY), "-i", str(source), "--list"], stdout=out, env=env, check=True)
        script = work / "static_inventory.sh"
        script.write_text(f"#!/bin/sh\nexec cat '{listing}'\n", encoding="utf-8")
        script.chmod(0o700)
        return [str(ANSIBLE_INVENTORY), "-i", str(script), *row.mode.split()]
    return [str(ANSIBLE_INVENTORY), "-i", str(source), *row.mode.split()]


def read_stages(path: Path) -> Dict[str, Dict[str, float]]:
    """The ``STAGE name seconds rss peak`` lines that inventory_stages.py wrote to stderr."""
    stages = {}
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        parts = line.split()
        if len(parts) == 5 and parts[0] == "STAGE":
            stages[parts[1]] = {"at_s": float(parts[2]), "rss_mib": float(parts[3]), "peak_mib": float(parts[4])}
    return stages


def inventory_file(row: Row, directory: Path) -> Path:
    """Write the row's inventory source; url and token come from the environment, never the file."""
    path = directory / "bench_nautobot.yml"
    path.write_text(yaml.safe_dump({"plugin": PLUGIN, **row.config}, sort_keys=False), encoding="utf-8")
    return path


# -- measuring ----------------------------------------------------------------------------------
def server_cpu(instance: NautobotInstance) -> tuple[float, float]:
    """CPU seconds used so far by the instance's uWSGI processes and by the PostgreSQL cluster.

    uWSGI: every process in the master's process group. PostgreSQL: the postmaster with its
    reaped children (Nautobot opens a connection per request, CONN_MAX_AGE=0) plus the live
    backends. PostgreSQL is shared with any other running instance, so keep those idle.
    """
    table = measure.process_table()
    master = instance.server_pid()
    uwsgi = sum(measure.process_cpu_s(pid) for pid, _ppid, pgrp in table if master and pgrp == master)
    postmaster = instance.pg.pid()
    pg = 0.0
    if postmaster:
        backends = sum(measure.process_cpu_s(pid) for pid, ppid, _pgrp in table if ppid == postmaster)
        pg = measure.process_cpu_s(postmaster, children=True) + backends
    return uwsgi, pg


def uwsgi_peak_rss_mib(instance: NautobotInstance) -> float:
    """Largest peak RSS (VmHWM) of the instance's uWSGI processes so far: what one worker needed at most."""
    master = instance.server_pid()
    pids = [pid for pid, _ppid, pgrp in measure.process_table() if master and pgrp == master]
    return max([0.0] + [measure.process_memory_mib(pid)["peak_rss"] for pid in pids])


def run_child(cmd: Sequence[str], env: Dict[str, str], stdout: Path, stderr: Path) -> measure.ChildUsage:
    """Run cmd with stdout/stderr to files and return what it cost (measure.run_child); over RUN_TIMEOUT fails."""
    with open(stdout, "wb") as out, open(stderr, "wb") as err:
        try:
            return measure.run_child(cmd, env=env, stdout=out, stderr=err, timeout=RUN_TIMEOUT)
        except subprocess.TimeoutExpired as exc:
            raise BenchmarkError(f"{cmd[0]} ran longer than {RUN_TIMEOUT:.0f} s and was killed") from exc


def ansible_env(url: str, token: str, collections: str) -> Dict[str, str]:
    """Environment of an ansible-inventory run: our collection only, url/token as the plugin reads them."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("ANSIBLE_", "NAUTOBOT_"))}
    env.update(
        ANSIBLE_COLLECTIONS_PATH=collections,
        ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="false",
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_DEPRECATION_WARNINGS="0",
        NAUTOBOT_URL=url,
        NAUTOBOT_TOKEN=token,
    )
    return env


def count_hosts(path: Path, row: Row) -> int:
    """Host count of an ``ansible-inventory --list`` (or ``--graph``) answer; check one host's variables too."""
    if row.mode == "--graph":
        # Lines are "@group:" or "|--@group:" or "|--host"; a host shows once per group it is in.
        leaves = (line.rsplit("--", 1)[-1] for line in path.read_text(encoding="utf-8").splitlines())
        return len({leaf for leaf in leaves if leaf and not leaf.startswith("@")})
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise BenchmarkError(f"row {row.name}: ansible-inventory printed no JSON ({exc}); see {path}") from exc
    hostvars = data.get("_meta", {}).get("hostvars", {})
    if not hostvars:
        raise BenchmarkError(f"row {row.name}: ansible-inventory listed no hosts")
    name, variables = next(iter(sorted(hostvars.items())))
    if not variables.get("ansible_host"):
        raise BenchmarkError(f"row {row.name}: host {name} has no ansible_host: {sorted(variables)}")
    if not (variables.get("nautobot") or {}).get("custom_fields", {}).get("net"):
        raise BenchmarkError(f"row {row.name}: host {name} lacks nautobot.custom_fields.net")
    return len(hostvars)


def time_row(
    row: Row, instance: NautobotInstance, command: List[str], env: Dict[str, str], work: Path, repeat: int
) -> List[Run]:
    """Run one row repeat times; fail on a non-zero exit or a wrong host count."""
    runs = []
    for attempt in range(1, repeat + 1):
        out, err = work / f"{row.name}.{attempt}.out", work / f"{row.name}.{attempt}.err"
        before, busy_before = server_cpu(instance), measure.machine_busy_cpu_s()
        usage = run_child(command, env, out, err)
        after, busy = server_cpu(instance), measure.machine_busy_cpu_s() - busy_before
        if usage.returncode != 0:
            tail = err.read_text(encoding="utf-8", errors="replace")[-3000:]
            raise BenchmarkError(f"row {row.name}: ansible-inventory exited {usage.returncode}:\n{tail}")
        hosts = count_hosts(out, row)
        if hosts != row.expected:
            raise BenchmarkError(f"row {row.name}: {hosts} hosts listed, Nautobot has {row.expected}")
        cpu = usage.cpu_s
        run = Run(
            wall_s=usage.wall_s,
            peak_rss_mib=usage.peak_rss_mib,
            cpu_s=cpu,
            server_cpu_s=after[0] - before[0],
            postgres_cpu_s=after[1] - before[1],
            other_cpu_s=max(0.0, busy - cpu - (after[0] - before[0]) - (after[1] - before[1])),
            hosts=hosts,
            stages=read_stages(err) if row.kind == "stages" else None,
        )
        print(
            f"  {row.name} #{attempt}: {run.wall_s:6.2f} s  {run.peak_rss_mib:6.1f} MiB  client CPU {run.cpu_s:5.2f} s"
            f"  uWSGI CPU {run.server_cpu_s:5.2f} s  PostgreSQL CPU {run.postgres_cpu_s:5.2f} s"
            f"  other CPU {run.other_cpu_s:5.2f} s  {hosts} hosts",
            flush=True,
        )
        if run.stages:
            parts = (
                f"{name} at {v['at_s']:.2f} s, RSS {v['rss_mib']:.0f} MiB, peak {v['peak_mib']:.0f} MiB"
                for name, v in run.stages.items()
            )
            print("    stages: " + "; ".join(parts), flush=True)
        runs.append(run)
        out.unlink()
    return runs


def raw_graphql(row: Row, url: str, token: str, repeat: int) -> List[float]:
    """Time the plugin's own fetch (lookups, query, variables, paging, parallel requests) without Ansible.

    This is ``iter_device_pages`` with the plugin's ``NautobotClient``, as the plugin calls it
    for the row's options, the pages only counted: Nautobot's share plus JSON decoding and the
    client-side join, without the inventory or Ansible's start-up.
    """
    filters = {"tenants": row.config.get("tenants", [])}
    page_size = PLUGIN_PAGE_SIZE_DEFAULT if row.page_size is None else row.page_size
    workers = int(row.config.get("parallel_requests", PLUGIN_PARALLEL_DEFAULT))
    times = []
    for _attempt in range(repeat):
        client = NautobotClient(url=url, token=token, timeout=300)
        try:
            started = time.perf_counter()
            total = sum(len(page) for page in iter_device_pages(client, filters, (), page_size, workers=workers))
            times.append(time.perf_counter() - started)
        finally:
            client.close()
        if total != row.expected:
            raise BenchmarkError(f"raw GraphQL for row {row.name}: {total} devices, expected {row.expected}")
    return times


# The per-device selection the plugin used before it joined platforms and locations itself
# (up to commit 8a848a7): kept here only to show what the change saved on the server.
PREVIOUS_DEVICE_FIELDS = """
id name serial asset_tag primary_ip4 { host } primary_ip6 { host } status { name } role { name }
platform { name network_driver network_driver_mappings manufacturer { name } }
device_type { model manufacturer { name } } tenant { name tenant_group { name } } rack { name rack_group { name } }
location { id name location_type { name }
  parent { name location_type { name } parent { name location_type { name } } } }
tags { name } _custom_field_data
"""


def server_breakdown(url: str, token: str, devices: int, repeat: int) -> Dict[str, Any]:
    """Where Nautobot's time goes: the plugin's query, the previous one, parts left out, requests in parallel.

    Fields: the first 2,000 devices (4 pages of 500, one at a time) with each selection; the
    plugin's lookup query (platforms, locations, tag names; once per run) alone, and the ID
    queries of the data set's 4 tags over all devices (once per run). Concurrency: all
    devices in pages of 500 with 1, 2 and 4 requests in flight (the plugin's default is 4).
    """
    full = DEVICE_FIELDS.replace(TAGS_FIELD, "")
    parts = {
        "the plugin's device query (platform, location as IDs; tags joined)": full,
        "the same with tags { name } per device": DEVICE_FIELDS,
        "previous query (per-device network_driver_mappings, location chain, tags)": PREVIOUS_DEVICE_FIELDS,
        "minimal: id name primary_ip4 platform.network_driver": "id name primary_ip4 {host} platform {network_driver}",
    }
    headers = {"Authorization": f"Token {token}", "Accept": "application/json"}

    def post(query: str, variables: Optional[Dict[str, Any]] = None) -> None:
        payload = {"query": query, "variables": variables or {}}
        resp = requests.post(f"{url}/api/graphql/", json=payload, headers=headers, timeout=300)
        try:
            failed = resp.status_code != 200 or bool(resp.json().get("errors"))
        except ValueError:
            failed = True
        if failed:
            raise BenchmarkError(f"breakdown GraphQL -> HTTP {resp.status_code}: {resp.text[:500]}")

    def pages(fields: str, offsets: Sequence[int], workers: int) -> float:
        query = f"query ($limit: Int, $offset: Int) {{ devices(limit: $limit, offset: $offset) {{ {fields} }} }}"
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(lambda offset: post(query, {"limit": 500, "offset": offset}), offsets))
        return time.perf_counter() - started

    fields: Dict[str, Optional[float]] = {}
    for label, selection in parts.items():
        times = [pages(selection, range(0, 2000, 500), 1) for _attempt in range(repeat)]
        fields[label] = round(statistics.median(times), 2)
    lookup, tag_ids = [], []
    for _attempt in range(repeat):
        started = time.perf_counter()
        post(LOOKUP_QUERY)
        lookup.append(time.perf_counter() - started)
        started = time.perf_counter()
        for tag in ("backup", "core", "edge", "dmz"):
            post(build_tag_query({}), {"tag": [tag]})
        tag_ids.append(time.perf_counter() - started)
    concurrency = {n: round(pages(full, range(0, devices, 500), n), 2) for n in (1, 2, 4)}
    return {
        "fields_2000_devices_s": fields,
        "lookup_query_s": round(statistics.median(lookup), 2),
        "tag_id_queries_all_devices_s": round(statistics.median(tag_ids), 2),
        "concurrency_all_devices_s": concurrency,
    }


def warm_up(url: str, token: str) -> float:
    """Build the GraphQL schema in both uWSGI workers (the first query per worker takes seconds).

    Rounds of concurrent requests, more than the workers' 2 x 4 threads, reach both
    processes; a full 500-device page per round warms the ORM paths the plugin uses too.
    """
    started = time.perf_counter()
    query = build_query({}, paged=True)
    headers = {"Authorization": f"Token {token}", "Accept": "application/json"}

    def one(index: int) -> None:
        payload = {"query": query, "variables": {"limit": 500 if index % 4 == 0 else 1, "offset": 0}}
        resp = requests.post(f"{url}/api/graphql/", json=payload, headers=headers, timeout=300)
        if resp.status_code != 200 or resp.json().get("errors"):
            raise BenchmarkError(f"warm-up GraphQL -> HTTP {resp.status_code}: {resp.text[:500]}")

    with ThreadPoolExecutor(max_workers=10) as pool:
        for _round in range(3):
            list(pool.map(one, range(10)))
    return time.perf_counter() - started


def expected_hosts(url: str, token: str, row: Row) -> int:
    """Devices with a primary IP that Nautobot's REST API counts for the row's filter."""
    params: List[tuple[str, Any]] = [("limit", 1), ("has_primary_ip", "true")]
    params += [("tenant", name) for name in row.config.get("tenants", [])]
    resp = requests.get(
        f"{url}/api/dcim/devices/", params=params, headers={"Authorization": f"Token {token}"}, timeout=120
    )
    if resp.status_code != 200:
        raise BenchmarkError(f"counting devices -> HTTP {resp.status_code}: {resp.text[:500]}")
    return int(resp.json()["count"])


# -- profile ------------------------------------------------------------------------------------
#: Phases of an ``ansible-inventory --list`` run: (label, file suffix, function) whose cumulative time is shown.
PHASES = [
    ("ansible-inventory run (total, main thread)", "ansible/cli/inventory.py", "run"),
    ("plugin parse: fetch pages and add hosts", "plugins/inventory/nautobot.py", "parse"),
    ("  waiting for the next GraphQL page, and the join", "plugins/module_utils/device_query.py", "iter_device_pages"),
    ("  adding hosts (_add_devices)", "plugins/inventory/nautobot.py", "_add_devices"),
    ("    of which InventoryManager.set_variable (trust tagging)", "ansible/inventory/manager.py", "set_variable"),
    ("    of which InventoryData.set_variable (behind the proxy)", "ansible/inventory/data.py", "set_variable"),
    ("    of which groups (_add_groups)", "plugins/inventory/nautobot.py", "_add_groups"),
    ("    of which host_variables()", "plugins/module_utils/device_query.py", "host_variables"),
    ("--list: collect every host's variables (get_vars)", "ansible/cli/inventory.py", "json_inventory"),
    ("--list: serialise to JSON (dump)", "ansible/cli/inventory.py", "dump"),
    ("    of which json encoder (pure Python, as indent=4)", "json/encoder.py", "encode"),
    ("    of which pre-serialisation visitor", "ansible/_internal/_json/_profiles/_legacy.py", "pre_serialize"),
]


def profile(row: Row, env: Dict[str, str], work: Path, target: Path, top: int) -> str:
    """Run the row once under cProfile and return its phases and top functions as text.

    cProfile sees the main thread only: the plugin's page prefetch thread shows up as the
    main thread waiting in iter_device_pages.
    """
    config = inventory_file(row, work)
    cmd = [sys.executable, "-m", "cProfile", "-o", str(target), str(ANSIBLE_INVENTORY), "-i", str(config), "--list"]
    usage = run_child(cmd, env, work / "profile.out", work / "profile.err")
    code, wall = usage.returncode, usage.wall_s
    if code != 0:
        raise BenchmarkError(f"profiled run exited {code}: {(work / 'profile.err').read_text()[-2000:]}")
    stats = pstats.Stats(str(target))
    cumulative: Dict[tuple[str, str], float] = {}
    for (filename, _line, function), (_cc, _nc, _tt, cum, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        for _label, suffix, name in PHASES:
            if function == name and filename.endswith(suffix):
                cumulative[(suffix, name)] = cumulative.get((suffix, name), 0.0) + cum
    lines = [
        f"profiled run: {wall:.2f} s wall with the profiler's overhead, {usage.peak_rss_mib:.0f} MiB peak RSS",
        "--- phases (cumulative seconds under the profiler) ---",
    ]
    lines += [f"{cumulative.get((suffix, name), 0.0):8.2f} s  {label}" for label, suffix, name in PHASES]
    for key in ("tottime", "cumulative"):
        stream = _Capture()
        pstats.Stats(str(target), stream=stream).sort_stats(key).print_stats(top)  # type: ignore[arg-type]
        lines.append(f"--- top {top} by {key} ---")
        lines.append(stream.text())
    return "\n".join(lines)


class _Capture:
    """A minimal text sink for pstats (which writes with print(..., file=stream)); shortens paths."""

    PREFIXES = sorted(
        {
            sysconfig.get_paths()["purelib"] + "/",
            sysconfig.get_paths()["stdlib"] + "/",
            *(
                root.rstrip("/") + "/"
                for root in os.environ.get("ANSIBLE_COLLECTIONS_PATH", "").split(os.pathsep)
                if root
            ),
        },
        key=len,
        reverse=True,
    )

    def __init__(self) -> None:
        self.parts: List[str] = []

    def write(self, text: str) -> int:
        self.parts.append(text)
        return len(text)

    def text(self) -> str:
        lines = "".join(self.parts).splitlines()
        start = next((i for i, line in enumerate(lines) if "ncalls" in line), 0)
        kept = []
        for line in lines[start:]:
            for prefix in self.PREFIXES:
                line = line.replace(prefix, "")
            if line.strip():
                kept.append(line)
        return "\n".join(kept)


# -- report -------------------------------------------------------------------------------------
def summarise(row: Row, runs: List[Run], raw: List[float], uwsgi_peak: float) -> Dict[str, Any]:
    """Min and median of each measure over the runs."""

    def both(values: Callable[[Run], float]) -> Dict[str, float]:
        data = [values(run) for run in runs]
        return {"min": round(min(data), 2), "median": round(statistics.median(data), 2)}

    result = {
        "row": row.name,
        "label": row.label,
        "mode": row.mode,
        "page_size": row.page_size,
        "hosts": runs[0].hosts,
        "runs": len(runs),
        "wall_s": both(lambda run: run.wall_s),
        "peak_rss_mib": both(lambda run: run.peak_rss_mib),
        "client_cpu_s": both(lambda run: run.cpu_s),
        "uwsgi_cpu_s": both(lambda run: run.server_cpu_s),
        "postgres_cpu_s": both(lambda run: run.postgres_cpu_s),
        "other_cpu_s": both(lambda run: run.other_cpu_s),
        "uwsgi_peak_rss_mib_after": round(uwsgi_peak, 1),
    }
    if runs[0].stages:
        result["stages"] = [run.stages for run in runs]
    if raw:
        result["raw_graphql_s"] = {"min": round(min(raw), 2), "median": round(statistics.median(raw), 2)}
    return result


def markdown(results: List[Dict[str, Any]]) -> str:
    """The results as a Markdown table (medians; min in parentheses)."""
    head = (
        "| row | hosts | wall time | peak RSS | client CPU | uWSGI CPU | PostgreSQL CPU | other CPU | raw GraphQL |\n"
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    )
    lines = [head]
    for res in results:
        raw = res.get("raw_graphql_s")
        raw_text = f"{raw['median']:.2f} s" if raw else "-"
        lines.append(
            f"| {res['label']} | {res['hosts']:,} | {res['wall_s']['median']:.2f} s ({res['wall_s']['min']:.2f}) "
            f"| {res['peak_rss_mib']['median']:.0f} MiB | {res['client_cpu_s']['median']:.2f} s "
            f"| {res['uwsgi_cpu_s']['median']:.2f} s | {res['postgres_cpu_s']['median']:.2f} s "
            f"| {res['other_cpu_s']['median']:.2f} s | {raw_text} |"
        )
    return "\n".join(lines)


# -- main ---------------------------------------------------------------------------------------
def run(args: argparse.Namespace) -> Dict[str, Any]:
    """Bring the instance up with the data, time the rows, stop what was started; return the report."""
    spec = BenchSpec(devices=args.devices)
    wanted = set(args.rows.split(",")) if args.rows != "all" else None
    rows = [row for row in make_rows(spec) if wanted is None or row.name in wanted]
    if wanted is not None and wanted - {row.name for row in rows}:
        raise BenchmarkError(f"unknown rows: {sorted(wanted - {row.name for row in rows})}")
    collections = measure.collections_path()

    instance = NautobotInstance(args.instance)
    started = Started()
    report: Dict[str, Any] = {"devices": spec.devices, "command": " ".join(sys.argv), "load_before": measure.machine()}
    try:
        clock = time.monotonic()
        instance.up(started=started)
        report["up_s"] = round(time.monotonic() - clock, 1)
        report["seed"] = seed_bench(instance, spec, use_cache=not args.no_cache)
        url, token = instance.url, instance.credentials()["admin"]["token"]
        report["verified"] = verify(url, token, spec)
        report["warm_up_s"] = round(warm_up(url, token), 1)
        print(f"bench instance at {url}: {json.dumps({k: report[k] for k in ('up_s', 'seed', 'warm_up_s')})}")
        report["nautobot"] = inst.installed_version()
        report["server_memory_mib"] = instance.memory_mib()
        env = ansible_env(url, token, collections)
        results = []
        with tempfile.TemporaryDirectory(prefix="inventory-bench-") as tmp:
            work = Path(tmp)
            others = dict(item.split("=", 1) for item in args.collection)
            for row in rows:
                row.expected = expected_hosts(url, token, row)
                variants = [(row, env)]
                if row.kind in ("plugin", "stages"):
                    for label, path in others.items():
                        other = dataclasses.replace(row, name=f"{row.name}@{label}", label=f"{row.label} @{label}")
                        variants.append((other, ansible_env(url, token, measure.collections_path(path))))
                commands = [row_command(variant, work, variant_env) for variant, variant_env in variants]
                print(f"{row.name}: {row.label} ({row.expected} hosts expected)", flush=True)
                timed: Dict[str, List[Run]] = {variant.name: [] for variant, _env in variants}
                for attempt in range(args.repeat):
                    order = list(zip(variants, commands, strict=True))
                    for (variant, variant_env), command in order if attempt % 2 == 0 else reversed(order):
                        timed[variant.name] += time_row(variant, instance, command, variant_env, work, 1)
                raw = raw_graphql(row, url, token, args.repeat) if row.mode == "--list" and row.kind == "plugin" else []
                if raw:
                    print(f"  {row.name} raw GraphQL (no Ansible): " + ", ".join(f"{t:.2f} s" for t in raw))
                for variant, _env in variants:
                    results.append(summarise(variant, timed[variant.name], raw, uwsgi_peak_rss_mib(instance)))
            if args.profile:
                default = next(row for row in make_rows(spec) if row.name == "p1000")
                default.expected = spec.devices
                report["profile"] = profile(default, env, work, args.profile, args.profile_top)
            if args.server_breakdown:
                report["server_breakdown"] = server_breakdown(url, token, spec.devices, args.repeat)
        report["results"] = results
        report["server_memory_after_mib"] = instance.memory_mib()
    finally:
        report["load_after"] = measure.load()
        if not args.keep_running:
            instance.down(started=started)
    return report


def _stop_on_signal(signum: int, _frame: Any) -> None:
    """Turn SIGTERM into SystemExit so that the finally blocks stop the child and the instance."""
    raise SystemExit(128 + signum)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Parse arguments, run, print the table, the goal verdict and the profile; exit 2 when the benchmark fails."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--instance", default="bench", help="test-bed instance (default: bench)")
    parser.add_argument("--devices", type=int, default=10_000, help="devices in the data set (default: 10000)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per row (default: 3)")
    parser.add_argument("--rows", default="all", help="comma-separated row names, or all (default)")
    parser.add_argument("--no-cache", action="store_true", help="re-seed even if a dump of the data is cached")
    parser.add_argument("--profile", type=Path, help="also profile one default run with cProfile into this file")
    parser.add_argument("--profile-top", type=int, default=20, help="functions to show per profile listing")
    parser.add_argument(
        "--server-breakdown", action="store_true", help="also time the GraphQL query without each part, and in parallel"
    )
    parser.add_argument("--json", type=Path, help="also write the full report as JSON to this file")
    parser.add_argument("--keep-running", action="store_true", help="leave the bench instance up afterwards")
    parser.add_argument(
        "--collection",
        action="append",
        default=[],
        metavar="LABEL=PATH",
        help="also run every plugin row on this collections path, as NAME@LABEL, interleaved (repeatable)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    # A background job starts with SIGINT ignored; both signals must reach the cleanup in run().
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _stop_on_signal)
    try:
        report = run(args)
    except (
        BenchmarkError,
        BulkSeedError,
        inst.NautobotBedError,
        ServiceError,
        procs.ProcessError,
        requests.RequestException,
    ) as exc:
        print(f"benchmark failed ({type(exc).__name__}): {exc}", file=sys.stderr)
        return 2
    print()
    print(markdown(report["results"]))
    print(f"\n{measure.load_line(report['load_before'])} (before) -> {measure.load_line(report['load_after'])} (after)")
    if "profile" in report:
        print()
        print(report["profile"])
    if "server_breakdown" in report:
        print("\nNautobot GraphQL time, 2,000 devices in 4 pages of 500 (median):")
        for label, seconds in report["server_breakdown"]["fields_2000_devices_s"].items():
            print(f"  {'n/a' if seconds is None else f'{seconds:.2f} s':>8}  {label}")
        breakdown = report["server_breakdown"]
        print(f"  {breakdown['lookup_query_s']:8.2f} s  lookup query (platforms, locations, tag names)")
        print(f"  {breakdown['tag_id_queries_all_devices_s']:8.2f} s  tag ID queries, 4 tags, all devices")
        print(f"Nautobot GraphQL time, all {report['devices']:,} devices in pages of 500, by requests in flight:")
        for workers, seconds in report["server_breakdown"]["concurrency_all_devices_s"].items():
            print(f"  {seconds:8.2f} s  {workers} in flight")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2), encoding="utf-8")
    default = next((res for res in report["results"] if res["row"] == "p1000"), None)
    if default is not None:
        met = default["wall_s"]["median"] <= GOAL_SECONDS and default["peak_rss_mib"]["median"] <= GOAL_MIB
        print(
            f"\ngoal at {default['hosts']:,} hosts (<= {GOAL_SECONDS:.0f} s and <= {GOAL_MIB:.0f} MiB): "
            f"{'met' if met else 'NOT met'} ({default['wall_s']['median']:.2f} s, "
            f"{default['peak_rss_mib']['median']:.0f} MiB)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
