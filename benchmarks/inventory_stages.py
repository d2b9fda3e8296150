"""Run ``ansible-inventory`` and report the memory and time of its stages (for benchmarks/inventory_10k.py).

    ANSIBLE_COLLECTIONS_PATH=.build/collections .venv/bin/python benchmarks/inventory_stages.py -i nautobot.yml --list

Same arguments and output as ``ansible-inventory``; on stderr, one line per stage:
``STAGE <name> <seconds since start> <RSS MiB> <peak RSS MiB>`` for ``parse`` (the
inventory sources parsed: our plugin's whole job), ``hostvars`` (every host's variables
gathered by ansible-inventory) and ``dump`` (ansible-core's JSON serialisation of them).
It wraps ansible-core's own InventoryCLI methods without changing what they do, so the
peak RSS between ``hostvars`` and ``dump`` is ansible-inventory's serialisation alone.
"""

from __future__ import annotations

import os
import sys
import time

import measure
from ansible.cli import inventory as inventory_cli

STARTED = time.monotonic()


def _stage(name: str) -> None:
    """Write one STAGE line: seconds since start, current and peak RSS of this process."""
    memory = measure.process_memory_mib(os.getpid())
    sys.stderr.write(f"STAGE {name} {time.monotonic() - STARTED:.2f} {memory['rss']:.1f} {memory['peak_rss']:.1f}\n")


def _wrap(owner: type, attribute: str, stage: str, static: bool = False) -> None:
    original = getattr(owner, attribute)

    def wrapper(*args, **kwargs):
        result = original(*args, **kwargs)
        _stage(stage)
        return result

    setattr(owner, attribute, staticmethod(wrapper) if static else wrapper)


def main() -> None:
    """Wrap the three stages and run ansible-inventory with this process's arguments."""
    cli = inventory_cli.InventoryCLI
    _wrap(cli, "_play_prereqs", "parse")
    _wrap(cli, "json_inventory", "hostvars")
    _wrap(cli, "dump", "dump", static=True)
    sys.argv = ["ansible-inventory", *sys.argv[1:]]
    inventory_cli.main()


if __name__ == "__main__":
    main()
