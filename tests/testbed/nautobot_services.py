"""PostgreSQL cluster and Redis server shared by the Nautobot test-bed instances.

Both live under ``<cache>/nautobot/`` and are started and stopped by PID through
:mod:`testbed.procs`. PostgreSQL runs as the ``postgres`` user when we are root (it
refuses to run as root) and as the current user otherwise; it trusts every local
TCP connection, listens on 127.0.0.1 only and trades durability for speed.
"""

from __future__ import annotations

import json
import logging
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from testbed import procs

LOG = logging.getLogger(__name__)

DB_SUPERUSER = "postgres"
PG_SETTINGS = {
    "listen_addresses": "127.0.0.1",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "200",
    "log_min_messages": "warning",
}


class ServiceError(RuntimeError):
    """PostgreSQL or Redis could not be set up, started or used."""


def _port_is_free(port: int) -> bool:
    """Tell whether 127.0.0.1:port can be bound right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # Like the servers themselves: a port whose old connections linger in TIME_WAIT is free.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def pick_port(state_file: Path) -> int:
    """Reuse the port recorded in state_file when it is free, else ask the kernel for one."""
    try:
        old = int(json.loads(state_file.read_text(encoding="utf-8"))["port"])
    except (OSError, ValueError, KeyError, TypeError):
        old = 0
    if old and _port_is_free(old):
        return old
    return procs.free_port()


def write_json(path: Path, data: Dict[str, Any], private: bool = False) -> None:
    """Write data as JSON atomically (mode 0600 when private)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o644)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2, sort_keys=True)
        handle.write("\n")
    os.replace(tmp, path)


def read_json(path: Path) -> Dict[str, Any]:
    """Read a JSON object, or return {} when the file is missing."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    if not isinstance(data, dict):
        raise ServiceError(f"{path} does not hold a JSON object")
    return data


def _reap(pid: int) -> None:
    """Collect pid if it is our exited child."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def pg_bin_dir() -> Path:
    """Locate the PostgreSQL server binaries (override: NB_BACKUP_PG_BIN)."""
    override = os.environ.get("NB_BACKUP_PG_BIN")
    if override:
        return Path(override)
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/postgres"), key=lambda p: int(p.parent.parent.name), reverse=True
    )
    if not candidates:
        found = shutil.which("postgres")
        if found:
            return Path(found).parent
        raise ServiceError("PostgreSQL server binaries not found; install postgresql or set NB_BACKUP_PG_BIN")
    return candidates[0].parent


class Postgres:
    """A private PostgreSQL cluster in ``root`` (data/, run/ socket dir, pidfile, log, state.json)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.data = root / "data"
        self.sockets = root / "run"
        self.pidfile = root / "postgres.pid"
        self.logfile = root / "postgres.log"
        self.state_file = root / "state.json"
        self.bin = pg_bin_dir()

    # -- identity -------------------------------------------------------------------------
    @staticmethod
    def _owner() -> Optional[pwd.struct_passwd]:
        """Return the account PostgreSQL must run as when we are root, else None (run as ourselves)."""
        if os.geteuid() != 0:
            return None
        try:
            return pwd.getpwnam("postgres")
        except KeyError as exc:
            raise ServiceError("running as root needs a 'postgres' account to own the cluster") from exc

    def _as_owner(self, cmd: Sequence[str]) -> List[str]:
        """Prefix cmd so that it runs as the cluster owner (setpriv execs in place: the PID stays the same)."""
        owner = self._owner()
        if owner is None:
            return list(cmd)
        return ["setpriv", f"--reuid={owner.pw_uid}", f"--regid={owner.pw_gid}", "--init-groups", "--", *cmd]

    def _chown(self, path: Path) -> None:
        owner = self._owner()
        if owner is not None:
            os.chown(path, owner.pw_uid, owner.pw_gid)

    # -- lifecycle ------------------------------------------------------------------------
    @property
    def port(self) -> int:
        """Port of the running cluster (from state.json)."""
        port = read_json(self.state_file).get("port")
        if not port:
            raise ServiceError("PostgreSQL has no recorded port; is it started?")
        return int(port)

    def pid(self) -> Optional[int]:
        """PID of the running postmaster, from our pidfile or postmaster.pid, or None."""
        pid = procs.read_pid(self.pidfile)
        if pid is not None:
            return pid
        try:
            pid = int((self.data / "postmaster.pid").read_text(encoding="ascii").splitlines()[0])
            comm = Path(f"/proc/{pid}/comm").read_text(encoding="ascii").strip()
        except (OSError, ValueError, IndexError):
            return None  # no postmaster.pid, or a stale one left by a crash
        return pid if comm == "postgres" and procs.pid_alive(pid) else None

    def running(self) -> bool:
        """Tell whether the postmaster is alive."""
        return self.pid() is not None

    def init(self) -> None:
        """Create the cluster with initdb unless it exists."""
        if (self.data / "PG_VERSION").exists():
            return
        self.root.mkdir(parents=True, exist_ok=True)
        for path in (self.data, self.sockets):
            path.mkdir(mode=0o700, exist_ok=True)
            self._chown(path)
        LOG.info("initdb %s", self.data)
        cmd = [
            str(self.bin / "initdb"),
            "-D",
            str(self.data),
            "-U",
            DB_SUPERUSER,
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C.UTF-8",
            "--no-sync",
        ]
        result = subprocess.run(self._as_owner(cmd), cwd=self.root, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            shutil.rmtree(self.data, ignore_errors=True)
            hint = " (the postgres account must be able to enter every parent directory)" if self._owner() else ""
            raise ServiceError(f"initdb failed ({result.returncode}){hint}: {result.stdout}{result.stderr}")

    def start(self) -> bool:
        """Start the cluster unless it runs; return True when this call started it."""
        if self.running():
            return False
        self.init()
        port = pick_port(self.state_file)
        cmd = [str(self.bin / "postgres"), "-D", str(self.data), "-p", str(port)]
        cmd += ["-c", f"unix_socket_directories={self.sockets}"]
        for key, value in PG_SETTINGS.items():
            cmd += ["-c", f"{key}={value}"]
        pid = procs.start_background(self._as_owner(cmd), self.pidfile, self.logfile, cwd=self.root)
        write_json(self.state_file, {"port": port, "pid": pid})
        LOG.info("PostgreSQL starting on 127.0.0.1:%s (pid %s)", port, pid)
        try:
            procs.wait_port("127.0.0.1", port, timeout=60, pid=pid)
            deadline = time.monotonic() + 60
            while True:
                result = self.psql("SELECT 1", check=False)
                if result.returncode == 0:
                    return True
                if time.monotonic() > deadline or not procs.pid_alive(pid):
                    raise ServiceError(f"PostgreSQL not ready: {result.stderr.strip()} (log: {self.logfile})")
                time.sleep(0.2)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> bool:
        """Fast-shutdown the postmaster by PID (SIGINT, then the procs fallback); True if it ran."""
        pid = self.pid()
        if pid is None:
            self.pidfile.unlink(missing_ok=True)
            return False
        LOG.info("stopping PostgreSQL (pid %s)", pid)
        try:
            os.kill(pid, signal.SIGINT)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            _reap(pid)
            if not procs.pid_alive(pid):
                break
            time.sleep(0.1)
        else:
            LOG.warning("PostgreSQL pid %s ignored SIGINT; escalating", pid)
            procs.stop_pid(pid)
        self.pidfile.unlink(missing_ok=True)
        return True

    # -- client tools ---------------------------------------------------------------------
    def _client_cmd(self, tool: str, *args: str) -> List[str]:
        return [str(self.bin / tool), "-h", "127.0.0.1", "-p", str(self.port), "-U", DB_SUPERUSER, *args]

    def psql(self, sql: str, database: str = "postgres", check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run SQL through psql (ON_ERROR_STOP, tuples only); raise ServiceError on failure when check."""
        cmd = self._client_cmd("psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", database, "-c", sql)
        result = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if check and result.returncode != 0:
            raise ServiceError(f"psql failed on {database}: {sql!r}: {result.stderr.strip()}")
        return result

    def database_exists(self, name: str) -> bool:
        """Tell whether database name exists."""
        out = self.psql(f"SELECT 1 FROM pg_database WHERE datname = '{_ident(name)}'").stdout
        return out.strip() == "1"

    def drop_database(self, name: str) -> None:
        """Drop a database, disconnecting its clients."""
        self.psql(f'DROP DATABASE IF EXISTS "{_ident(name)}" WITH (FORCE)')

    def create_database(self, name: str, template: Optional[str] = None) -> None:
        """Create an empty database, or a copy of template (whose clients are disconnected first)."""
        sql = f'CREATE DATABASE "{_ident(name)}"'
        if template is None:
            self.psql(sql)
            return
        sql += f' TEMPLATE "{_ident(template)}"'
        kick = (
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            f"WHERE datname = '{_ident(template)}' AND pid <> pg_backend_pid()"
        )
        for attempt in range(20):
            self.psql(kick)
            result = self.psql(sql, check=False)
            if result.returncode == 0:
                return
            if "is being accessed by other users" not in result.stderr:
                raise ServiceError(f"cannot create {name} from {template}: {result.stderr.strip()}")
            LOG.debug("template %s busy (attempt %s)", template, attempt)
            time.sleep(0.1)
        raise ServiceError(f"template database {template} stayed busy")

    def dump(self, database: str, target: Path) -> None:
        """Write a gzip-compressed plain SQL dump of database to target (atomically)."""
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        cmd = self._client_cmd("pg_dump", "--no-owner", "--no-privileges", "-Z", "6", "-f", str(tmp), database)
        result = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            tmp.unlink(missing_ok=True)
            raise ServiceError(f"pg_dump {database} failed: {result.stderr.strip()}")
        os.replace(tmp, target)

    def restore(self, source: Path, database: str) -> None:
        """Recreate database from a gzip SQL dump made by dump()."""
        self.drop_database(database)
        self.create_database(database)
        cmd = self._client_cmd("psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", database)
        with subprocess.Popen(["gzip", "-dc", str(source)], stdout=subprocess.PIPE) as gunzip:
            result = subprocess.run(cmd, stdin=gunzip.stdout, capture_output=True, text=True, check=False)
            if gunzip.stdout is not None:
                gunzip.stdout.close()
        if gunzip.returncode != 0 or result.returncode != 0:
            raise ServiceError(f"restoring {source} into {database} failed: {result.stderr.strip()[-2000:]}")


def _ident(name: str) -> str:
    """Accept only plain identifiers for database names (they are interpolated into SQL)."""
    if not name or not all(ch.isalnum() or ch == "_" for ch in name):
        raise ServiceError(f"unsafe database name {name!r}")
    return name


class Redis:
    """A throw-away redis-server on 127.0.0.1 without persistence, in ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.pidfile = root / "redis.pid"
        self.logfile = root / "redis.log"
        self.state_file = root / "state.json"

    @property
    def port(self) -> int:
        """Port of the running server (from state.json)."""
        port = read_json(self.state_file).get("port")
        if not port:
            raise ServiceError("Redis has no recorded port; is it started?")
        return int(port)

    def running(self) -> bool:
        """Tell whether our redis-server is alive."""
        return procs.read_pid(self.pidfile) is not None

    def start(self) -> bool:
        """Start redis-server unless it runs; return True when this call started it."""
        if self.running():
            return False
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.root.mkdir(parents=True, exist_ok=True)
        port = pick_port(self.state_file)
        cmd = [
            binary,
            "--bind", "127.0.0.1",
            "--port", str(port),
            "--save", "",
            "--appendonly", "no",
            "--daemonize", "no",
            "--databases", "32",
            "--dir", str(self.root),
            "--loglevel", "warning",
        ]  # fmt: skip
        pid = procs.start_background(cmd, self.pidfile, self.logfile, cwd=self.root)
        write_json(self.state_file, {"port": port, "pid": pid})
        LOG.info("Redis starting on 127.0.0.1:%s (pid %s)", port, pid)
        try:
            procs.wait_port("127.0.0.1", port, timeout=30, pid=pid)
        except BaseException:
            self.stop()
            raise
        return True

    def stop(self) -> bool:
        """Stop redis-server by PID; return True if it was running."""
        return procs.stop_pidfile(self.pidfile)

    def commands(self, *cmds: Sequence[str]) -> List[bytes]:
        """Send commands on one connection (RESP) and return their status replies; raise on an error reply."""
        replies: List[bytes] = []
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as sock:
            for cmd in cmds:
                data = f"*{len(cmd)}\r\n" + "".join(f"${len(arg.encode())}\r\n{arg}\r\n" for arg in cmd)
                sock.sendall(data.encode())
                reply = b""
                while not reply.endswith(b"\r\n"):
                    chunk = sock.recv(4096)
                    if not chunk:
                        break
                    reply += chunk
                if not reply.startswith((b"+", b":")):
                    raise ServiceError(f"redis {cmd[0]} failed: {reply.decode(errors='replace').strip()}")
                replies.append(reply)
        return replies

    def flushdb(self, number: int) -> None:
        """Empty one Redis database (SELECT is per connection, so both go on one connection)."""
        self.commands(("SELECT", str(number)), ("FLUSHDB",))
