"""The lab process: per-address SSH listeners, control socket, connection log, state file.

One asyncio process serves every simulated device. Each device gets its own
listening socket on its loopback address (all on the same port), so tools connect
to ``127.1.0.5:port`` exactly as they would to a real device. Accepted sockets are
handed to asyncssh (or, for the ``no_banner`` fault, held open silently). A Unix
control socket lets tests change device state at runtime, every connection event
is appended to a JSON-lines log, and ``lab.json`` describes the running lab.
"""

from __future__ import annotations

import asyncio
import errno
import functools
import hashlib
import json
import logging
import os
import resource
import signal
import socket
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Awaitable, Callable, Optional

import asyncssh
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from lab.device import DeviceState
from lab.session import CliSession
from lab.spec import LabSpec
from lab.state import CONNECTION_LOG, HOST_KEY_FILE, STATE_FILE, control_socket_path, write_json_atomic

log = logging.getLogger(__name__)

LISTEN_BACKLOG = 1024

# What each platform's SSH server announces in its identification string.
SERVER_VERSIONS = {
    "cisco_ios": "Cisco-1.25",
    "cisco_nxos": "OpenSSH_8.3",
    "arista_eos": "OpenSSH_8.7",
    "cisco_xr": "Cisco-2.0",
    "juniper_junos": "OpenSSH_7.5",
}


def derive_host_key(seed: str, key_type: str) -> asyncssh.SSHKey:
    """A device's own host key: ed25519 / ECDSA P-256 derived from the seed (same seed, same key), RSA generated."""
    digest = hashlib.sha256(f"netops-lab-host-key:{seed}".encode()).digest()
    if key_type == "ssh-ed25519":
        private: Any = ed25519.Ed25519PrivateKey.from_private_bytes(digest)
    elif key_type == "ecdsa-sha2-nistp256":
        private = ec.derive_private_key(int.from_bytes(digest, "big") % (2**255) + 1, ec.SECP256R1())
    elif key_type == "ssh-rsa":
        return asyncssh.generate_private_key("ssh-rsa", key_size=2048)
    else:
        raise ValueError(f"unknown host key type {key_type!r}")
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return asyncssh.import_private_key(pem)


def load_host_key(state_dir: Path) -> asyncssh.SSHKey:
    """Load the lab's ed25519 host key, generating and caching it on first use."""
    path = state_dir / HOST_KEY_FILE
    if not path.exists():
        key = asyncssh.generate_private_key("ssh-ed25519", comment="netops-lab")
        tmp = path.with_suffix(".tmp")
        key.write_private_key(str(tmp))
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    return asyncssh.read_private_key(str(path))


class EventLog:
    """JSON-lines record of every connection event (connect, auth, command, ...).

    Each lab run starts with an empty log, so "no device was contacted" can be read
    straight from it; every event is flushed at once so readers see it immediately.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fh = open(path, "w", encoding="utf-8")  # noqa: SIM115 - kept open for the lab's lifetime

    def record(self, dev: DeviceState, peer: str, event: str, **extra: Any) -> None:
        """Append one event."""
        entry = {
            "ts": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "device": dev.name,
            "host": dev.spec.host,
            "peer": peer,
            "event": event,
            **extra,
        }
        self._fh.write(json.dumps(entry) + "\n")
        self._fh.flush()

    def read(self) -> list[dict[str, Any]]:
        """Return all events recorded since the last clear()."""
        with open(self.path, encoding="utf-8") as handle:
            return [json.loads(line) for line in handle if line.strip()]

    def clear(self) -> None:
        """Forget all events."""
        self._fh.close()
        self._fh = open(self.path, "w", encoding="utf-8")  # noqa: SIM115

    def close(self) -> None:
        """Close the file."""
        self._fh.close()


class LabSSHSession(asyncssh.SSHServerSession):  # type: ignore[type-arg]
    """asyncssh session adapter around a CliSession (interactive shell only)."""

    def __init__(self, lab: Lab, dev: DeviceState, peer: str, username: str) -> None:
        self._lab = lab
        self._dev = dev
        self._peer = peer
        self._username = username
        self._chan: Optional[asyncssh.SSHServerChannel[str]] = None
        self._cli: Optional[CliSession] = None
        self._task: Optional[asyncio.Task[None]] = None

    def connection_made(self, chan: asyncssh.SSHServerChannel[str]) -> None:  # type: ignore[override]
        """Remember the channel."""
        self._chan = chan

    def pty_requested(self, term_type: str, term_size: tuple[int, int, int, int], term_modes: Any) -> bool:
        """Accept a PTY (netmiko asks for vt100 511x1000)."""
        return True

    def shell_requested(self) -> bool:
        """Accept the interactive shell."""
        return True

    def exec_requested(self, command: str) -> bool:
        """Reject exec requests: the simulated devices only offer an interactive CLI."""
        return False

    def session_started(self) -> None:
        """Start the CLI loop."""
        assert self._chan is not None
        chan = self._chan
        conn = chan.get_extra_info("connection")
        self._cli = CliSession(
            self._dev,
            self._username,
            write=self._write,
            close=lambda: chan.exit(0),
            abort=conn.abort,
            on_command=lambda cmd: self._lab.events.record(self._dev, self._peer, "command", command=cmd),
        )
        self._dev.sessions += 1
        self._task = self._lab.spawn(self._cli.run())

    def _write(self, text: str) -> None:
        """Write to the channel, ignoring a channel that is already closing."""
        assert self._chan is not None
        try:
            self._chan.write(text)
        except BrokenPipeError:
            if self._cli is not None:
                self._cli.transport_closed()

    def data_received(self, data: str, datatype: Any) -> None:
        """Pass keystrokes to the CLI."""
        if self._cli is not None:
            self._cli.feed(data)

    def eof_received(self) -> bool:
        """The client closed its side: end the CLI and close the channel."""
        if self._cli is not None:
            self._cli.transport_closed()
        return False

    def connection_lost(self, exc: Optional[Exception]) -> None:
        """The channel is gone: end the CLI."""
        if self._cli is not None:
            self._cli.transport_closed()
            self._dev.sessions -= 1
            self._cli = None


class LabSSHServer(asyncssh.SSHServer):
    """Per-connection SSH server: password auth against the device's credentials."""

    def __init__(self, lab: Lab, dev: DeviceState, peer: str) -> None:
        self._lab = lab
        self._dev = dev
        self._peer = peer
        self._username = ""
        self._conn: Optional[asyncssh.SSHServerConnection] = None

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        """Track the connection so shutdown can close it."""
        self._conn = conn
        self._lab.connections.add(conn)

    def connection_lost(self, exc: Optional[Exception]) -> None:
        """Log the disconnect."""
        if self._conn is not None:
            self._lab.connections.discard(self._conn)
        self._lab.events.record(self._dev, self._peer, "disconnect")

    def begin_auth(self, username: str) -> bool:
        """Always require authentication; log that the client began it (its first userauth request)."""
        self._username = username
        self._lab.events.record(self._dev, self._peer, "auth_begin", username=username)
        return True

    def password_auth_supported(self) -> bool:
        """Offer password authentication only."""
        return True

    def validate_password(self, username: str, password: str) -> bool:
        """Accept the device's credentials unless the auth_failure fault is active."""
        spec = self._dev.spec
        ok = username == spec.username and password == spec.password and not self._dev.has_fault("auth_failure")
        self._lab.events.record(self._dev, self._peer, "auth_ok" if ok else "auth_failed", username=username)
        return ok

    def session_requested(self) -> LabSSHSession:
        """Open a CLI session."""
        return LabSSHSession(self._lab, self._dev, self._peer, self._username)


class Lab:
    """The running lab: devices, listeners, control server and bookkeeping."""

    def __init__(self, spec: LabSpec, state_dir: Path, port: int = 0) -> None:
        self.spec = spec
        self.state_dir = state_dir
        self.requested_port = port
        self.port = 0
        self.devices: dict[str, DeviceState] = {d.name: DeviceState(d) for d in spec.devices}
        self.control_path = control_socket_path(state_dir)
        self.events = EventLog(state_dir / CONNECTION_LOG)
        self.connections: set[asyncssh.SSHServerConnection] = set()
        self._listeners: list[tuple[DeviceState, socket.socket]] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self._options: dict[str, asyncssh.SSHServerConnectionOptions] = {}
        self._host_key: Optional[asyncssh.SSHKey] = None
        # Devices given their own host key (set_host_key): (seed, type) -> key, (platform, seed, type) -> options.
        self._device_keys: dict[tuple[str, str], asyncssh.SSHKey] = {}
        self._device_options: dict[tuple[str, str, str], asyncssh.SSHServerConnectionOptions] = {}
        self._control: Optional[asyncio.AbstractServer] = None
        self._stop = asyncio.Event()

    # --- lifecycle ------------------------------------------------------------------

    def spawn(self, coro: Awaitable[Any]) -> asyncio.Task[Any]:
        """Run coro as a task that shutdown cancels."""
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def start(self) -> None:
        """Bind every listener, start the control socket and write lab.json."""
        _raise_fd_limit()
        self._host_key = load_host_key(self.state_dir)
        for platform in SERVER_VERSIONS:
            self._options[platform] = _server_options(platform, self._host_key)
        self.port, socks = _bind_all([d.spec.host for d in self.devices.values()], self.requested_port)
        self._listeners = list(zip(self.devices.values(), socks, strict=True))
        for dev, sock in self._listeners:
            self.spawn(self._accept_loop(dev, sock))
        self.control_path.unlink(missing_ok=True)
        self._control = await asyncio.start_unix_server(self._control_client, path=str(self.control_path))
        os.chmod(self.control_path, 0o600)
        self.write_state()
        log.info("lab up: %d devices on port %d, control %s", len(self.devices), self.port, self.control_path)

    async def run(self) -> None:
        """Serve until SIGTERM/SIGINT, then shut down cleanly."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._stop.set)
        await self.start()
        await self._stop.wait()
        await self.shutdown()

    async def shutdown(self) -> None:
        """Close listeners, connections and the control socket; remove lab.json."""
        log.info("lab shutting down")
        for _dev, sock in self._listeners:
            sock.close()
        if self._control is not None:
            self._control.close()
        for conn in list(self.connections):
            conn.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self.control_path.unlink(missing_ok=True)
        state = self.state_dir / STATE_FILE
        try:
            if json.loads(state.read_text(encoding="utf-8")).get("pid") == os.getpid():
                state.unlink()
        except (OSError, ValueError) as exc:
            log.warning("could not remove %s: %s", state, exc)
        self.events.close()

    def write_state(self) -> None:
        """Write lab.json: the contract other code reads to find the devices."""
        devices = []
        for dev in self.devices.values():
            entry = dev.spec.to_state(self.port)
            entry["faults"] = list(dev.faults)
            devices.append(entry)
        write_json_atomic(
            self.state_dir / STATE_FILE,
            {
                "pid": os.getpid(),
                "port": self.port,
                "control": str(self.control_path),
                "log": str(self.events.path),
                "spec": str(self.spec.path),
                "devices": devices,
            },
        )

    # --- connections ----------------------------------------------------------------

    async def _accept_loop(self, dev: DeviceState, lsock: socket.socket) -> None:
        """Accept connections for one device forever."""
        loop = asyncio.get_running_loop()
        while True:
            try:
                sock, addr = await loop.sock_accept(lsock)
            except OSError as exc:
                if exc.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                    log.warning("%s: accept failed (%s), retrying", dev.name, exc)
                    await asyncio.sleep(0.1)
                    continue
                raise
            peer = f"{addr[0]}:{addr[1]}"
            self.events.record(dev, peer, "connect")
            self.spawn(self._handle(dev, sock, peer))

    async def _handle(self, dev: DeviceState, sock: socket.socket, peer: str) -> None:
        """Run SSH on an accepted socket, or hang silently for the no_banner fault."""
        if dev.has_fault("no_banner"):
            await self._hold_silently(dev, sock, peer)
            return
        factory = functools.partial(LabSSHServer, self, dev, peer)
        try:
            await asyncssh.run_server(sock, options=self._server_options(dev), server_factory=factory)
        except (asyncssh.Error, OSError, TimeoutError) as exc:
            log.debug("%s: SSH from %s ended before login: %r", dev.name, peer, exc)

    def _device_key(self, dev: DeviceState) -> asyncssh.SSHKey:
        """The host key the device presents now: its own (set_host_key) or the lab's shared one."""
        if dev.host_key is None:
            assert self._host_key is not None
            return self._host_key
        wanted = (dev.host_key["seed"], dev.host_key["type"])
        if wanted not in self._device_keys:
            self._device_keys[wanted] = derive_host_key(*wanted)
        return self._device_keys[wanted]

    def _server_options(self, dev: DeviceState) -> asyncssh.SSHServerConnectionOptions:
        """SSH server options for a new connection to dev (its platform's, with its own host key if it has one)."""
        if dev.host_key is None:
            return self._options[dev.platform.name]
        wanted = (dev.platform.name, dev.host_key["seed"], dev.host_key["type"])
        if wanted not in self._device_options:
            self._device_options[wanted] = _server_options(dev.platform.name, self._device_key(dev))
        return self._device_options[wanted]

    async def _hold_silently(self, dev: DeviceState, sock: socket.socket, peer: str) -> None:
        """Keep the TCP connection open without ever sending an SSH banner."""
        loop = asyncio.get_running_loop()
        sock.setblocking(False)
        try:
            while await loop.sock_recv(sock, 4096):
                pass
        except OSError as exc:
            log.debug("%s: silent connection from %s: %s", dev.name, peer, exc)
        finally:
            sock.close()
            self.events.record(dev, peer, "disconnect")

    # --- control --------------------------------------------------------------------

    async def _control_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Answer JSON-line requests on one control connection."""
        try:
            while line := await reader.readline():
                try:
                    request = json.loads(line)
                    result = self.control(request.pop("op"), **request)
                    reply: dict[str, Any] = {"ok": True, "result": result}
                except (KeyError, ValueError, TypeError) as exc:
                    reply = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
                writer.write(json.dumps(reply).encode() + b"\n")
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError) as exc:
            log.debug("control client went away: %s", exc)
        finally:
            writer.close()

    def _device(self, name: str) -> DeviceState:
        """Return the device called name or raise KeyError with a helpful message."""
        try:
            return self.devices[name]
        except KeyError:
            raise KeyError(f"no device {name!r}") from None

    def control(self, op: str, **kw: Any) -> Any:
        """Execute one control operation (see README.md for the list)."""
        handler: Optional[Callable[..., Any]] = getattr(self, f"op_{op}", None)
        if handler is None:
            raise ValueError(f"unknown op {op!r}")
        return handler(**kw)

    def op_ping(self) -> dict[str, Any]:
        """Report liveness and how many listeners are up."""
        return {"pid": os.getpid(), "port": self.port, "devices": len(self.devices), "listening": len(self._listeners)}

    def op_devices(self) -> list[dict[str, Any]]:
        """Return the live state of every device."""
        return [dev.info() for dev in self.devices.values()]

    def op_device(self, name: str) -> dict[str, Any]:
        """Return the live state of one device."""
        return self._device(name).info()

    def op_running_config(self, name: str) -> str:
        """Return the canonical running config (no volatile lines)."""
        return "\n".join(self._device(name).running) + "\n"

    def op_startup_config(self, name: str) -> Optional[str]:
        """Return the canonical startup config, or None where the platform has none."""
        startup = self._device(name).startup
        return None if startup is None else "\n".join(startup) + "\n"

    def op_set_running_config(self, name: str, text: str) -> None:
        """Replace the running config."""
        self._device(name).set_running(text)

    def op_change_config(self, name: str) -> str:
        """Change the running config; return the line added."""
        return self._device(name).change_config()

    def op_write_memory(self, name: str) -> bool:
        """Copy running to startup."""
        return self._device(name).write_memory()

    def op_set_faults(self, name: str, faults: list[str]) -> list[str]:
        """Replace a device's faults and update lab.json."""
        dev = self._device(name)
        dev.set_faults(list(faults))
        self.write_state()
        log.info("%s: faults now %s", name, dev.faults or "none")
        return dev.faults

    def op_set_queue_drops(self, name: str, drops: dict[str, Any], merge: bool = True) -> dict[str, Any]:
        """Set a device's per-interface input/output drop counters (show interfaces)."""
        dev = self._device(name)
        now = dev.set_queue_drops(dict(drops), merge=merge)
        log.info("%s: queue drops now %s", name, now or "none")
        return now

    def op_set_host_key(self, name: str, seed: Optional[str] = None, key_type: str = "ssh-ed25519") -> dict[str, str]:
        """Give a device its own host key from the next connection (None: the lab's shared key); return it."""
        dev = self._device(name)
        dev.set_host_key(seed, key_type)
        log.info("%s: host key now %s", name, dev.host_key or "the lab's shared key")
        return self.op_host_key(name)

    def op_host_key(self, name: str) -> dict[str, str]:
        """The public host key a device presents now: {public_key (OpenSSH line), fingerprint (SHA256:...), type}."""
        key = self._device_key(self._device(name))
        public = key.export_public_key("openssh").decode("ascii").split()
        return {
            "public_key": f"{public[0]} {public[1]}",
            "fingerprint": key.get_fingerprint("sha256"),
            "type": public[0],
        }

    def op_snapshot(self, name: str) -> dict[str, Any]:
        """Return what restore() needs to undo later changes."""
        return self._device(name).snapshot()

    def op_restore(self, name: str, snapshot: dict[str, Any]) -> None:
        """Undo changes since snapshot()."""
        self._device(name).restore(snapshot)
        self.write_state()

    def op_reset(self, name: str) -> None:
        """Return a device to the state its spec describes."""
        self._device(name).reset()
        self.write_state()

    def op_log(self) -> list[dict[str, Any]]:
        """Return the connection log."""
        return self.events.read()

    def op_clear_log(self) -> None:
        """Empty the connection log."""
        self.events.clear()


def _server_options(platform: str, key: asyncssh.SSHKey) -> asyncssh.SSHServerConnectionOptions:
    """asyncssh server options of a platform (its identification string) with one host key."""
    return asyncssh.SSHServerConnectionOptions(
        server_host_keys=[key],
        server_version=SERVER_VERSIONS[platform],
        kbdint_auth=False,
        public_key_auth=False,
        line_editor=False,
        allow_scp=False,
        agent_forwarding=False,
        x11_forwarding=False,
        login_timeout=60,
    )


def _bind_all(hosts: list[str], port: int) -> tuple[int, list[socket.socket]]:
    """Listen on (host, port) for every host; port 0 picks one that is free on all of them."""
    for _attempt in range(20):
        chosen = port
        socks: list[socket.socket] = []
        try:
            for host in hosts:
                sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                socks.append(sock)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.bind((host, chosen))
                chosen = sock.getsockname()[1]
                sock.listen(LISTEN_BACKLOG)
                sock.setblocking(False)
            return chosen, socks
        except OSError as exc:
            for sock in socks:
                sock.close()
            if port or exc.errno != errno.EADDRINUSE:
                raise
            log.info("port %d busy on one of the addresses, picking another", chosen)
    raise OSError(errno.EADDRINUSE, "no port free on all lab addresses")


def _raise_fd_limit() -> None:
    """Raise the soft open-files limit: every device needs a listening socket."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def serve(spec: LabSpec, state_dir: Path, port: int = 0) -> None:
    """Run a lab in this process until SIGTERM/SIGINT."""
    state_dir.mkdir(parents=True, exist_ok=True)
    logging.getLogger("asyncssh").setLevel(logging.WARNING)
    asyncio.run(Lab(spec, state_dir, port).run())
