"""Command line for the device lab: ``python -m lab <command>`` (with tests/ on PYTHONPATH).

start/stop/status manage the lab process; the other commands steer a running lab
through its control socket (see README.md).
"""

from __future__ import annotations

import argparse
import collections
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any, Optional

from lab.client import LabClient
from lab.lifecycle import default_state_dir, lab_pid, start_lab, stop_lab
from lab.spec import SpecError, load_spec
from lab.state import PID_FILE, STATE_FILE, LabError
from testbed import procs

SUMMARY_TABLE_MAX = 30


def _state_dir(args: argparse.Namespace) -> Path:
    """Resolve the state directory: --state-dir, else from --spec, else the only running lab."""
    if args.state_dir:
        return Path(args.state_dir).resolve()
    if getattr(args, "spec", None):
        return default_state_dir(args.spec)
    root = procs.cache_dir() / "lab"
    running = sorted(p.parent for p in root.glob(f"*/{STATE_FILE}")) if root.is_dir() else []
    if len(running) == 1:
        return running[0]
    if not running:
        raise LabError(f"no running lab under {root}; give --state-dir")
    raise LabError(f"several labs under {root} ({', '.join(p.name for p in running)}); give --state-dir")


def _print_summary(client: LabClient) -> None:
    """Print where the lab is and what it serves."""
    devices = client.devices
    print(f"lab running: pid {client.pid}, port {client.port}, {len(devices)} devices")
    print(f"  state dir: {client.state_dir}")
    print(f"  control:   {client.control_path}")
    print(f"  log:       {client.log_path}")
    if len(devices) <= SUMMARY_TABLE_MAX:
        for dev in devices:
            faults = ",".join(dev["faults"]) or "-"
            print(f"  {dev['name']:<16} {dev['platform']:<14} {dev['host']:<15} faults={faults}")
    else:
        counts = collections.Counter(d["platform"] for d in devices)
        print("  " + ", ".join(f"{n} {p}" for p, n in sorted(counts.items())))
        print(f"  {devices[0]['name']} ({devices[0]['host']}) .. {devices[-1]['name']} ({devices[-1]['host']})")
    first = devices[0]
    print(f"  try: ssh -p {client.port} {first['username']}@{first['host']}   (password {first['password']})")


def cmd_start(args: argparse.Namespace) -> int:
    """Start a lab (detached unless --foreground)."""
    state_dir = Path(args.state_dir).resolve() if args.state_dir else default_state_dir(args.spec)
    if args.foreground:
        from lab.server import serve  # imported here: only the lab process needs asyncssh

        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        spec = load_spec(args.spec)
        state_dir.mkdir(parents=True, exist_ok=True)
        pidfile = state_dir / PID_FILE
        if procs.read_pid(pidfile) not in (None, os.getpid()):
            raise LabError(f"a lab is already running from {state_dir}")
        pidfile.write_text(f"{os.getpid()}\n", encoding="ascii")
        port = args.port if args.port is not None else (spec.port or 0)
        serve(spec, state_dir, port)
        return 0
    client = start_lab(args.spec, state_dir, port=args.port, timeout=args.timeout)
    _print_summary(client)
    return 0


def cmd_stop(args: argparse.Namespace) -> int:
    """Stop a lab by PID."""
    state_dir = _state_dir(args)
    if stop_lab(state_dir):
        print(f"lab stopped ({state_dir})")
    else:
        print(f"no lab was running ({state_dir})")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    """Show whether the lab runs and the live state of its devices (exit 3 when stopped)."""
    try:
        state_dir = _state_dir(args)
    except LabError as exc:
        print(exc)
        return 3
    if lab_pid(state_dir) is None:
        print(f"lab not running ({state_dir})")
        return 3
    client = LabClient(state_dir)
    live = client.live_devices()
    if args.json:
        print(json.dumps({"state": client.state, "live": live}, indent=2))
        return 0
    _print_summary(client)
    changed = [d for d in live if d["changes"] or d["sessions"] or d["startup_equals_running"] is False]
    for dev in changed:
        print(
            f"  {dev['name']}: changes={dev['changes']} sessions={dev['sessions']} "
            f"startup_equals_running={dev['startup_equals_running']}"
        )
    return 0


def _client(args: argparse.Namespace) -> LabClient:
    """Return a client for the selected lab."""
    return LabClient(_state_dir(args))


def cmd_set_config(args: argparse.Namespace) -> int:
    """Replace a device's running config from a file."""
    _client(args).set_running_config(args.name, Path(args.file).read_text(encoding="utf-8"))
    print(f"{args.name}: running config replaced from {args.file}")
    return 0


def cmd_change_config(args: argparse.Namespace) -> int:
    """Change a device's running config; print the new line."""
    print(_client(args).change_config(args.name))
    return 0


def cmd_set_faults(args: argparse.Namespace) -> int:
    """Set a device's faults (comma-separated; '' or 'none' clears)."""
    faults = [f.strip() for f in args.faults.split(",") if f.strip() and f.strip() != "none"]
    now = _client(args).set_faults(args.name, faults)
    print(f"{args.name}: faults {','.join(now) or 'none'}")
    return 0


def cmd_set_drops(args: argparse.Namespace) -> int:
    """Set one interface's input/output drop counters (show interfaces)."""
    now = _client(args).set_queue_drops(args.name, {args.interface: {"input": args.input, "output": args.output}})
    counters = ", ".join(f"{name} in={c['input']} out={c['output']}" for name, c in sorted(now.items()))
    print(f"{args.name}: queue drops {counters or 'none'}")
    return 0


def cmd_set_host_key(args: argparse.Namespace) -> int:
    """Give a device its own host key (from a seed), or back the lab's shared key ('none')."""
    seed = None if args.seed in ("", "none") else args.seed
    key = _client(args).set_host_key(args.name, seed, args.type)
    print(f"{args.name}: host key {key['type']} {key['fingerprint']}")
    return 0


def cmd_host_key(args: argparse.Namespace) -> int:
    """Print a device's current host key as a known_hosts line."""
    print(_client(args).known_hosts_line(args.name))
    return 0


def cmd_write_memory(args: argparse.Namespace) -> int:
    """Copy a device's running config to startup."""
    ok = _client(args).write_memory(args.name)
    print(f"{args.name}: {'saved' if ok else 'platform has no startup config'}")
    return 0 if ok else 1


def cmd_running_config(args: argparse.Namespace) -> int:
    """Print a device's canonical running config."""
    sys.stdout.write(_client(args).running_config(args.name))
    return 0


def cmd_reset(args: argparse.Namespace) -> int:
    """Return a device to its spec state."""
    _client(args).reset_device(args.name)
    print(f"{args.name}: reset")
    return 0


def cmd_log(args: argparse.Namespace) -> int:
    """Print (or clear) the connection log."""
    client = _client(args)
    if args.clear:
        client.clear_log()
        print("connection log cleared")
        return 0
    for event in client.connection_log(device=args.device, event=args.event):
        extra = event.get("command") or event.get("username") or ""
        print(f"{event['ts']} {event['device']:<16} {event['peer']:<21} {event['event']:<11} {extra}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--state-dir", help="lab state directory (default: .cache/lab/<spec stem>)")
    common.add_argument("--spec", help="lab spec YAML (selects the default state directory)")
    parser = argparse.ArgumentParser(prog="python -m lab", description="SSH device lab for the backup tests")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("start", parents=[common], help="start a lab")
    p.add_argument("--port", type=int, default=None, help="TCP port (default: spec 'port', else a free one)")
    p.add_argument("--foreground", action="store_true", help="run in this process (no detach)")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for start-up")
    p.set_defaults(func=cmd_start)
    sub.add_parser("stop", parents=[common], help="stop a lab by PID").set_defaults(func=cmd_stop)
    p = sub.add_parser("status", parents=[common], help="show lab and device state")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_status)

    for name, func, helptext in (
        ("change-config", cmd_change_config, "change a device's running config"),
        ("write-memory", cmd_write_memory, "copy running to startup"),
        ("running-config", cmd_running_config, "print the canonical running config"),
        ("reset", cmd_reset, "return a device to its spec state"),
        ("host-key", cmd_host_key, "print the device's host key as a known_hosts line"),
    ):
        p = sub.add_parser(name, parents=[common], help=helptext)
        p.add_argument("name")
        p.set_defaults(func=func)
    p = sub.add_parser("set-config", parents=[common], help="replace a device's running config")
    p.add_argument("name")
    p.add_argument("--file", required=True)
    p.set_defaults(func=cmd_set_config)
    p = sub.add_parser("set-faults", parents=[common], help="set faults, e.g. slow_output,invalid_startup")
    p.add_argument("name")
    p.add_argument("faults", help="comma-separated fault names; '' or none clears")
    p.set_defaults(func=cmd_set_faults)
    p = sub.add_parser("set-drops", parents=[common], help="set an interface's input/output queue drops")
    p.add_argument("name")
    p.add_argument("interface", help="e.g. GigabitEthernet2 (IOS), Ethernet1/1 (NX-OS), Ethernet2 (EOS)")
    p.add_argument("--input", type=int, default=0, help="input queue drops / discards")
    p.add_argument("--output", type=int, default=0, help="output queue drops / discards")
    p.set_defaults(func=cmd_set_drops)
    p = sub.add_parser("set-host-key", parents=[common], help="give a device its own SSH host key")
    p.add_argument("name")
    p.add_argument("seed", help="any text: the same seed gives the same key; none = the lab's shared key")
    p.add_argument("--type", default="ssh-ed25519", choices=["ssh-ed25519", "ecdsa-sha2-nistp256", "ssh-rsa"])
    p.set_defaults(func=cmd_set_host_key)
    p = sub.add_parser("log", parents=[common], help="print the connection log")
    p.add_argument("--device")
    p.add_argument("--event", choices=["connect", "auth_begin", "auth_ok", "auth_failed", "command", "disconnect"])
    p.add_argument("--clear", action="store_true")
    p.set_defaults(func=cmd_log)
    return parser


def main(argv: Optional[list[str]] = None) -> int:
    """Run the CLI; return the exit code."""
    args: Any = build_parser().parse_args(argv)
    if args.command == "start" and not args.spec:
        print("start needs --spec", file=sys.stderr)
        return 2
    try:
        return int(args.func(args))
    except (LabError, SpecError, KeyError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
