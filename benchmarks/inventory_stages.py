"""Run ``ansible-inventory`` and report the memory and time of its stages (for benchmarks/inventory_10k.py).

    python benchmarks/inventory_stages.py -i nautobot.yml --list > out.json

Same arguments and output as ``ansible-inventory``; on stderr, one line per stage:
``STAGE <name> <seconds since start> <RSS MiB> <peak RSS MiB>`` for ``parse`` (the
inventory sources parsed: our plugin's whole job), ``hostvars`` (every host's variables
gathered by ansible-inventory) and ``dump`` (ansible-core's JSON serialisation of them).
It wraps ansible-core's own InventoryCLI methods without changing what they do, so the
peak RSS between ``hostvars`` and ``dump`` is ansible-inventory's serialisation alone.
"""

from __future__ import annotations

import sys
import time

from ansible.cli import inventory as inventory_cli

STARTED = time.monotonic()


def _stage(name: str) -> None:
    values = {}
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            key, _sep, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(value.split()[0]) / 1024
    sys.stderr.write(
        f"STAGE {name} {time.monotonic() - STARTED:.2f} {values.get('VmRSS', 0):.1f} {values.get('VmHWM', 0):.1f}\n"
    )


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
