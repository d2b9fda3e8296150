"""Real Nautobot instances for the test suite and the demo.

Usage::

    python -m testbed.nautobot_bed {install,up,seed,reset,status,down} --instance test|demo
        [--devices-from <lab.json>|<spec.yml>] [--fresh] [--all]

(run from ``tests/`` or with ``PYTHONPATH=tests``). Several named instances (``test``,
``demo``) run side by side: each has its own database, server port, Redis DBs and state
dir, and they share the venv, the PostgreSQL cluster, Redis and the cached dumps (see
:mod:`testbed.nautobot_install` for the layout). The server is uWSGI (``nautobot-server
start``: 2 processes x 4 threads, HTTP/1.1 keep-alive), stopped by PID. Tokens live in
the 0600 credentials file of the base dump and are never printed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import subprocess
import sys
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import requests

from testbed import nautobot_install as inst
from testbed import procs
from testbed.nautobot_seed import SEED_FIELDS, STATUS_FIELDS_FILE, load_devices, seed_devices
from testbed.nautobot_services import pick_port, read_json, write_json

LOG = logging.getLogger(__name__)

#: Fixed Redis DB slots (cache = 2*slot, Celery = 2*slot+1); other names hash into 2..15.
KNOWN_INSTANCES = {"test": 0, "demo": 1}
SERVER_PROCESSES = 2
SERVER_THREADS = 4
SEED_DUMPS_KEPT = 8


@dataclass
class Started:
    """What one up() call started, so that a caller stops exactly that."""

    server: bool = False
    postgres: bool = False
    redis: bool = False


class NautobotInstance:
    """One named Nautobot instance of the test bed."""

    def __init__(self, name: str = "test") -> None:
        if not name.isidentifier() or not name.islower():
            raise inst.NautobotBedError(f"instance names are lower-case identifiers, not {name!r}")
        self.name = name
        self.dir = inst.root_dir() / "instances" / name
        self.config = self.dir / "nautobot_config.py"
        self.state_file = self.dir / "state.json"
        self.pidfile = self.dir / "server.pid"
        self.server_log = self.dir / "server.log"
        self.manage_log = self.dir / "manage.log"
        self.reload_file = self.dir / "reload-workers"
        self.db = f"nautobot_{name}"
        self.seeded_db = f"{self.db}_seeded"
        slot = KNOWN_INSTANCES.get(name, 2 + zlib.crc32(name.encode()) % 14)
        self.redis_db = 2 * slot
        self.pg = inst.postgres()
        self.redis = inst.redis()

    # -- state ----------------------------------------------------------------------------
    def state(self) -> Dict[str, Any]:
        """Return this instance's state.json (port, base_id, seed key, ...)."""
        return read_json(self.state_file)

    def _update_state(self, **values: Any) -> None:
        data = self.state()
        data.update(values)
        write_json(self.state_file, data)

    @property
    def port(self) -> int:
        """HTTP port of the server."""
        port = self.state().get("port")
        if not port:
            raise inst.NautobotBedError(f"instance {self.name} has no port; run `up` first")
        return int(port)

    @property
    def url(self) -> str:
        """Base URL of the server (no trailing slash)."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def version(self) -> str:
        """Nautobot version of this bed (the pinned one)."""
        return inst.pinned_version()

    def credentials(self) -> Dict[str, Any]:
        """Users, passwords and tokens of the base dump (keep them out of logs)."""
        creds = inst.load_credentials(self.version)
        if not creds:
            raise inst.NautobotBedError("no credentials yet; run `up` first")
        return creds

    def server_pid(self) -> Optional[int]:
        """PID of the uWSGI master, or None."""
        return procs.read_pid(self.pidfile)

    def env(self) -> Dict[str, str]:
        """Environment for nautobot-server commands of this instance."""
        return inst.server_env(self.config, self.dir)

    # -- lifecycle ------------------------------------------------------------------------
    def up(self, fresh: bool = False, started: Optional[Started] = None) -> Started:
        """Install, start PostgreSQL and Redis, restore or build the DB, start the server; report what started.

        Pass started to learn what was started even when up() fails half-way.
        """
        started = started if started is not None else Started()
        with inst.bed_lock():
            version = inst.install()
            started.postgres = self.pg.start()
            started.redis = self.redis.start()
            if self.server_pid() is not None:
                LOG.info("instance %s already runs at %s", self.name, self.url)
                self.wait_healthy(timeout=60)
                return started
            self.dir.mkdir(parents=True, exist_ok=True)
            port = pick_port(self.state_file)
            inst.write_config(
                self.config, self.name, self.db, self.pg.port, self.redis.port, self.redis_db, inst.static_dir(version)
            )
            self._update_state(port=port, db=self.db, redis_db=self.redis_db, version=version)
            check = self._prepare_database(version, fresh)
            inst.collect_static(self.env(), version, self.manage_log)
        started.server = True
        try:
            self._start_server()
            if check is not None and check.wait() != 0:
                LOG.warning("migrate --check failed for %s; stopping the server to migrate", self.name)
                self._stop_server()
                with inst.bed_lock():
                    inst.refresh_base(self.pg, self.db, self.env(), version, self.manage_log)
                self._update_state(seed_key=None)
                self._start_server()
            self.wait_healthy()
        except BaseException:
            if check is not None and check.poll() is None:
                check.kill()
                check.wait()
            self._stop_server()
            raise
        return started

    def prepare(self) -> None:
        """Build what every instance starts from (the install and the base dump), then stop what was started.

        The cold path migrates an empty database: 5 minutes on a quiet machine, more than 15 on a loaded one.
        `make integration` runs this first, outside pytest, so that no test's timeout covers it.
        """
        version = inst.install()
        if inst.base_dump(version).exists() and inst.load_credentials(version):
            LOG.info("base dump %s is ready", inst.base_dump(version).name)
            return
        started = Started()
        try:
            self.up(started=started)
        finally:
            self.down(started=started)

    def _prepare_database(self, version: str, fresh: bool) -> Optional[subprocess.Popen[bytes]]:
        """Make self.db hold the base (or keep a compatible DB); return a running migrate --check or None."""
        dump = inst.base_dump(version)
        creds = inst.load_credentials(version)
        if not dump.exists() or not creds:
            self._update_state(base_id=None, seed_key=None)
            creds = inst.build_base(self.pg, self.db, self.env(), version, self.manage_log)
            self._update_state(base_id=creds["base_id"])
            return None
        keep = not fresh and self.state().get("base_id") == creds["base_id"] and self.pg.database_exists(self.db)
        if not keep:
            started = time.monotonic()
            self.pg.restore(dump, self.db)
            self._update_state(base_id=creds["base_id"], seed_key=None)
            LOG.info("restored %s into %s in %.1fs", dump.name, self.db, time.monotonic() - started)
        return inst.migrate_check(self.env(), self.manage_log)

    def _start_server(self) -> None:
        self.reload_file.touch()
        cmd = [
            str(inst.nautobot_server()),
            "start",
            "--http11-socket", f"127.0.0.1:{self.port}",
            "--http-keepalive",
            "--master",
            "--processes", str(SERVER_PROCESSES),
            "--threads", str(SERVER_THREADS),
            "--enable-threads",
            "--single-interpreter",
            "--die-on-term",
            "--vacuum",
            "--buffer-size", "32768",
            "--disable-logging",
            "--log-4xx",
            "--log-5xx",
            "--pidfile", str(self.pidfile),
            f"--touch-workers-reload={self.reload_file}",
        ]  # fmt: skip
        pid = procs.start_background(cmd, self.pidfile, self.server_log, env=self.env(), cwd=self.dir)
        self._update_state(pid=pid)
        LOG.info("instance %s: uWSGI starting at %s (pid %s)", self.name, self.url, pid)

    def wait_healthy(self, timeout: float = 180.0) -> None:
        """Wait for GET /health/ to answer 200; fail early when the server dies."""
        deadline = time.monotonic() + timeout
        last = "no answer"
        while time.monotonic() < deadline:
            pid = self.server_pid()
            if pid is None:
                raise inst.NautobotBedError(f"server {self.name} exited; log tail:\n{_tail(self.server_log)}")
            try:
                resp = requests.get(f"{self.url}/health/", timeout=10, headers={"Accept": "application/json"})
                if resp.status_code == 200:
                    return
                last = f"HTTP {resp.status_code}: {resp.text[:300]}"
            except requests.RequestException as exc:
                last = str(exc)
            time.sleep(0.25)
        raise inst.NautobotBedError(f"{self.url}/health/ not healthy after {timeout:.0f}s: {last}")

    def _stop_server(self) -> bool:
        stopped = procs.stop_pidfile(self.pidfile, timeout=20)
        if stopped:
            LOG.info("instance %s: server stopped", self.name)
        return stopped

    def down(self, everything: bool = False, started: Optional[Started] = None) -> None:
        """Stop the server; stop PostgreSQL and Redis when no other instance runs.

        With everything, stop every instance's server, PostgreSQL and Redis. With started,
        stop only what that up() call started.
        """
        if started is None or started.server:
            self._stop_server()
        if everything:
            for name in running_instances():
                NautobotInstance(name).down()
        others = [name for name in running_instances() if name != self.name]
        if others and not everything:
            LOG.info("leaving PostgreSQL and Redis up for instance(s) %s", ", ".join(others))
            return
        if everything or started is None or started.redis:
            self.redis.stop()
        if everything or started is None or started.postgres:
            self.pg.stop()

    # -- data -----------------------------------------------------------------------------
    def seed_key(self, devices: Sequence[Dict[str, Any]]) -> str:
        """Cache key of a seeded DB: base dump, installed requirements, seed code and device list."""
        creds = self.credentials()
        parts = {
            "base_id": creds["base_id"],
            "requirements": inst.file_digest(inst.REQUIREMENTS),
            "seed_code": inst.file_digest(Path(__file__).with_name("nautobot_seed.py")),
            "status_fields": inst.file_digest(STATUS_FIELDS_FILE),
            "devices": [{key: dev.get(key) for key in SEED_FIELDS} for dev in devices],
        }
        return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]

    def seed(self, devices: Sequence[Dict[str, Any]], use_cache: bool = True) -> Dict[str, Any]:
        """Load the device list into a fresh base DB (or a cached seeded dump), snapshot it, reset to it."""
        started = time.monotonic()
        key = self.seed_key(devices)
        cached = inst.dumps_dir() / f"nautobot-{self.version}-seed-{key}.sql.gz"
        if use_cache and cached.exists():
            self.pg.restore(cached, self.seeded_db)
            source = "cache"
        else:
            self.pg.restore(inst.base_dump(self.version), self.db)
            self._flush_redis()
            seed_devices(self.url, self.credentials()["admin"]["token"], devices)
            self.pg.drop_database(self.seeded_db)
            self.pg.create_database(self.seeded_db, template=self.db)
            self.pg.dump(self.seeded_db, cached)
            _prune_seed_dumps(keep=SEED_DUMPS_KEPT)
            source = "api"
        self.reset()
        self._update_state(seed_key=key, seeded_devices=len(devices))
        summary = {"devices": len(devices), "source": source, "seconds": round(time.monotonic() - started, 1)}
        LOG.info("instance %s seeded: %s", self.name, summary)
        return summary

    def reset(self) -> float:
        """Restore the seeded state (drop, copy the seeded template, flush Redis); return the seconds taken."""
        started = time.monotonic()
        if not self.pg.database_exists(self.seeded_db):
            raise inst.NautobotBedError(f"instance {self.name} has no seeded snapshot; run `seed` first")
        self.pg.drop_database(self.db)
        self.pg.create_database(self.db, template=self.seeded_db)
        self._flush_redis()
        return time.monotonic() - started

    def _flush_redis(self) -> None:
        self.redis.flushdb(self.redis_db)
        self.redis.flushdb(self.redis_db + 1)

    # -- reporting ------------------------------------------------------------------------
    def memory_mib(self) -> Dict[str, float]:
        """Memory of the uWSGI master and its workers in MiB: summed RSS and PSS (shared pages split)."""
        pid = self.server_pid()
        totals = {"rss": 0.0, "pss": 0.0, "processes": 0.0}
        if pid is None:
            return totals
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text(encoding="ascii", errors="replace").rsplit(") ", 1)[1].split()
                if int(fields[2]) != pid:  # process group of the master
                    continue
                rollup = (stat.parent / "smaps_rollup").read_text(encoding="ascii", errors="replace")
            except (OSError, IndexError, ValueError):
                continue
            totals["processes"] += 1
            for line in rollup.splitlines():
                key = line.split(":", 1)[0]
                if key in ("Rss", "Pss"):
                    totals[key.lower()] += int(line.split()[1]) / 1024
        return {key: round(value, 1) for key, value in totals.items()}

    def status(self) -> Dict[str, Any]:
        """Describe the instance without revealing secrets."""
        state = self.state()
        pid = self.server_pid()
        return {
            "instance": self.name,
            "running": pid is not None,
            "pid": pid,
            "url": f"http://127.0.0.1:{state['port']}" if state.get("port") else None,
            "database": self.db,
            "seeded": bool(state.get("seed_key")),
            "seeded_devices": state.get("seeded_devices"),
            "credentials_file": str(inst.credentials_file(self.version)),
            "server_log": str(self.server_log),
            "memory_mib": self.memory_mib(),
            "postgres": self.pg.running(),
            "redis": self.redis.running(),
            "nautobot": inst.installed_version(),
        }


def _prune_seed_dumps(keep: int) -> None:
    """Delete all but the keep newest seeded dumps (older seed code or device lists)."""
    dumps = sorted(inst.dumps_dir().glob("nautobot-*-seed-*.sql.gz"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in dumps[keep:]:
        LOG.debug("pruning %s", old)
        old.unlink(missing_ok=True)


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError as exc:
        return f"(cannot read {path}: {exc})"


def running_instances() -> List[str]:
    """Names of instances whose server runs."""
    base = inst.root_dir() / "instances"
    if not base.is_dir():
        return []
    return sorted(p.parent.name for p in base.glob("*/server.pid") if procs.read_pid(p) is not None)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Command-line entry point."""
    summary = (__doc__ or "").split("\n", maxsplit=1)[0]
    parser = argparse.ArgumentParser(prog="python -m testbed.nautobot_bed", description=summary)
    parser.add_argument("command", choices=["install", "prepare", "up", "seed", "reset", "status", "down"])
    parser.add_argument("--instance", default="test", help="instance name (test, demo, ...)")
    parser.add_argument("--devices-from", type=Path, help="lab.json of the device lab, or a lab spec YAML")
    parser.add_argument("--fresh", action="store_true", help="up: restore the base dump even if the DB exists")
    parser.add_argument("--no-cache", action="store_true", help="seed: ignore cached seeded dumps")
    parser.add_argument("--all", action="store_true", help="down: stop all instances, PostgreSQL and Redis")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(asctime)s %(message)s")

    instance = NautobotInstance(args.instance)
    if args.command == "install":
        print(inst.install())
    elif args.command == "prepare":
        instance.prepare()
    elif args.command == "up":
        instance.up(fresh=args.fresh)
        if args.devices_from:
            instance.seed(load_devices(args.devices_from), use_cache=not args.no_cache)
        print(json.dumps(instance.status(), indent=2))
    elif args.command == "seed":
        if not args.devices_from:
            parser.error("seed needs --devices-from")
        print(json.dumps(instance.seed(load_devices(args.devices_from), use_cache=not args.no_cache)))
    elif args.command == "reset":
        print(f"reset in {instance.reset():.2f}s")
    elif args.command == "status":
        print(json.dumps(instance.status(), indent=2))
    elif args.command == "down":
        instance.down(everything=args.all)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
