"""What gc.freeze() before the batch's forks saves in the children's private memory (issue #16, item 4).

    .venv/bin/python benchmarks/fork_memory.py [--hosts 10000] [--items 2500] [--processes 2] [--rounds 3]

The batch task (device_config_backup_batch) runs in an Ansible worker, a fork of ansible-playbook that
holds the whole inventory, and forks one child per shard of devices (``process_pool.run_sharded``). A
child's garbage collections walk every object it inherited and write to their headers, so each page
they touch is copied: the child's private memory grows by the parent's heap. ``gc.freeze()`` across the
forks (``process_pool.FREEZE_BEFORE_FORK``) moves the inherited objects out of the children's
collections.

This script builds a parent heap like that worker's: the collection's engine imported (netmiko,
paramiko, pydantic) and one host-variable dict per host shaped like the inventory plugin's facts. It
then runs ``run_sharded`` with ``--processes`` shards of ``--items`` each. Every child does what a
backup does to memory: a 4 KB configuration text per item, its cleaned lines and a result dict,
the results kept, so the collector runs in every generation. A child reports its own memory from
``/proc/self/smaps_rollup`` (private = Private_Clean + Private_Dirty, the pages it does not share
with the parent) after its last item, once as it is and once after a full ``gc.collect()``. The two
variants, frozen and not, alternate in each round in this one process. The script prints each
child's private MiB and the ratio frozen / not frozen.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import os
import statistics
import sys
from pathlib import Path
from typing import Any, Dict, Iterator, List, Tuple

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / ".build" / "collections"))

# pylint: disable=wrong-import-position
import measure  # noqa: E402  # pylint: disable=import-error

from ansible_collections.netops.nautobot_backup.plugins.module_utils import backup as _engine  # noqa: E402,F401
from ansible_collections.netops.nautobot_backup.plugins.module_utils import process_pool  # noqa: E402


def host_vars(count: int) -> Dict[str, Dict[str, Any]]:
    """Host variables shaped like the inventory plugin's, one dict per host with its own strings."""
    hosts = {}
    for index in range(count):
        name = f"bench-{index:05d}"
        hosts[name] = {
            "ansible_host": f"10.{index // 65536}.{index // 256 % 256}.{index % 256}",
            "netmiko_device_type": "cisco_ios",
            "nautobot_id": hashlib.sha1(name.encode()).hexdigest(),
            "nautobot": {
                "name": name,
                "serial": f"SN{index:08d}",
                "role": {"name": "edge"},
                "status": {"name": "Active"},
                "location": {"name": f"site-{index % 500}", "parent": {"name": f"city-{index % 50}"}},
                "platform": {"name": "ios", "network_driver": "cisco_ios"},
                "tags": [f"tag-{index % 7}", f"zone-{index % 3}"],
                "custom_fields": {"net": f"net-{index % 20}", "last_backup": "2026-12-06"},
            },
        }
    return hosts


def private_mib() -> Tuple[float, float]:
    """(private MiB, PSS MiB) of this process from /proc/self/smaps_rollup."""
    fields: Dict[str, int] = {}
    for line in Path("/proc/self/smaps_rollup").read_text(encoding="ascii").splitlines()[1:]:
        key, _sep, rest = line.partition(":")
        fields[key] = int(rest.split()[0])
    return (fields["Private_Clean"] + fields["Private_Dirty"]) / 1024, fields["Pss"] / 1024


def run_shard(shard: List[Tuple[str, Any]]) -> Iterator[Tuple[str, Dict[str, Any]]]:
    """What a backup child does to memory, then its memory as the last item's result."""
    kept = []
    for name, _item in shard:
        text = "\n".join(f"interface Ethernet{port}\n description {name} port {port}\n!" for port in range(100))
        lines = [line.strip() for line in text.splitlines() if line.strip() != "!"]
        digest = hashlib.sha1(text.encode()).hexdigest()
        result = {"device_name": name, "changed": False, "lines": len(lines), "sha": digest}
        kept.append((result, lines[:20]))
        yield name, {"ok": True}
    private, pss = private_mib()
    gc.collect()
    private_full, pss_full = private_mib()
    yield "memory", {"private": private, "pss": pss, "private_full": private_full, "pss_full": pss_full}


def one_run(freeze: bool, items: int, processes: int) -> List[Dict[str, float]]:
    """run_sharded over processes shards of items each; each child's memory report."""
    process_pool.FREEZE_BEFORE_FORK = freeze
    shards = [[(f"p{shard}-d{index}", None) for index in range(items)] for shard in range(processes)]
    reports: List[Dict[str, float]] = []

    def finished(name: str, result: Dict[str, Any]) -> None:
        if name == "memory":
            reports.append(result)

    def lost(name: str, _item: Any, reason: str) -> Dict[str, Any]:
        raise RuntimeError(f"{name}: {reason}")

    process_pool.run_sharded(shards, run_shard, finished, lost)
    return reports


def main() -> int:
    """Build the parent heap, run the variants alternately, print the children's private memory."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", maxsplit=1)[0])
    parser.add_argument("--hosts", type=int, default=10000, help="host-variable dicts in the parent (default 10000)")
    parser.add_argument("--items", type=int, default=2500, help="items per child (default 2500)")
    parser.add_argument("--processes", type=int, default=2, help="children (default 2)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args()
    print(measure.load_line(), flush=True)
    heap = host_vars(args.hosts)
    parent_private, parent_pss = private_mib()
    print(f"parent: {len(heap)} hosts, private {parent_private:.1f} MiB, PSS {parent_pss:.1f} MiB", flush=True)
    samples: Dict[str, List[Dict[str, float]]] = {"frozen": [], "not_frozen": []}
    for round_index in range(args.rounds):
        order = [True, False] if round_index % 2 == 0 else [False, True]
        for freeze in order:
            reports = one_run(freeze, args.items, args.processes)
            label = "frozen" if freeze else "not_frozen"
            samples[label].extend(reports)
            shown = ", ".join(f"{r['private']:.1f}/{r['private_full']:.1f}" for r in reports)
            print(f"round {round_index + 1} {label:<11} child private MiB (as is/after gc.collect): {shown}")
    summary = {}
    for label, reports in samples.items():
        summary[label] = {key: statistics.median(r[key] for r in reports) for key in reports[0]}
    for key in ("private", "private_full"):
        ratio = summary["frozen"][key] / summary["not_frozen"][key]
        print(
            f"median child {key}: frozen {summary['frozen'][key]:.1f} MiB, not frozen "
            f"{summary['not_frozen'][key]:.1f} MiB, ratio {ratio:.2f}"
        )
    print(measure.load_line(), flush=True)
    if args.json:
        results = {"args": vars(args), "summary": summary, "samples": samples}
        Path(args.json).write_text(json.dumps(results, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main())
