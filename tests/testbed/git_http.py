"""Loopback Git smart-HTTP server: git-http-backend behind HTTP Basic auth.

Private to the test suite. It stands in for a Git hosting service, so the product's
pushes meet the same things they meet in production: a 401 challenge before
credentials are sent, chunked request bodies for big pushes, gzip-encoded
upload-pack requests, and several clients pushing into one branch at once.

Run it as a separate process and stop it by PID:

    NB_BACKUP_GIT_HTTP_PASSWORD=... python -m testbed.git_http --root DIR --port P \\
        --user backup-bot --password-env NB_BACKUP_GIT_HTTP_PASSWORD

or from Python with `start_server(...)` / `GitHttpServer.stop()`. The password is read
from the environment (not argv, which `ps` shows) and is never logged, nor is the
Authorization header.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hmac
import logging
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import IO, Iterator, Optional, Sequence
from urllib.parse import unquote

from testbed import procs

LOG = logging.getLogger("testbed.git_http")

PASSWORD_ENV = "NB_BACKUP_GIT_HTTP_PASSWORD"
REALM = "netops-git-testbed"
_MODULE = "testbed.git_http"
_BLOCK = 64 * 1024
# Response headers that describe one hop; the server sets its own framing.
_HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "content-length", "status"}


@dataclass(frozen=True)
class ServerConfig:
    """What every request handler needs: where the repositories are and who may use them."""

    root: Path
    username: bytes
    password: bytes = field(repr=False)
    realm: str
    backend: str


def backend_path() -> str:
    """Return the path of git-http-backend from `git --exec-path`."""
    exec_path = subprocess.run(["git", "--exec-path"], capture_output=True, text=True, check=True).stdout.strip()
    path = Path(exec_path) / "git-http-backend"
    if not path.is_file():
        raise FileNotFoundError(f"git-http-backend not found at {path}")
    return str(path)


class _Body:
    """A request body being copied to the backend's stdin by a helper thread."""

    def __init__(self, chunks: Iterator[bytes], sink: IO[bytes]) -> None:
        self.bytes = 0
        self.complete = False
        self.error: Optional[BaseException] = None
        self._chunks = chunks
        self._sink = sink
        self.thread = threading.Thread(target=self._pump, name="git-http-body", daemon=True)
        self.thread.start()

    def _pump(self) -> None:
        """Copy chunks to the sink; if the backend stops reading, drain the rest so the connection stays usable."""
        sink_open = True
        try:
            for chunk in self._chunks:
                self.bytes += len(chunk)
                if sink_open:
                    try:
                        self._sink.write(chunk)
                    except BrokenPipeError:
                        sink_open = False
            self.complete = True
        except (OSError, ValueError) as exc:  # client vanished, timed out, or sent bad chunk framing
            self.error = exc
        finally:
            try:
                self._sink.close()
            except BrokenPipeError:
                pass


class GitHttpHandler(BaseHTTPRequestHandler):
    """Serve one connection: authenticate, then run git-http-backend as CGI for each request."""

    protocol_version = "HTTP/1.1"
    server_version = "testbed-git-http/1"
    timeout = 120  # seconds a client may stay silent mid-request before its connection is dropped

    @property
    def config(self) -> ServerConfig:
        """The server-wide configuration."""
        return self.server.config  # type: ignore[attr-defined, no-any-return]

    def do_GET(self) -> None:
        """Smart-protocol ref advertisement (info/refs) and dumb-protocol files."""
        self._serve()

    def do_POST(self) -> None:
        """git-upload-pack and git-receive-pack RPCs."""
        self._serve()

    def handle_expect_100(self) -> bool:
        """Challenge before the client sends a body it would have to send again with credentials."""
        if self._authenticated_user() is None:
            self._challenge()
            return False
        return bool(super().handle_expect_100())

    def log_request(self, code: object = "-", size: object = "-") -> None:
        """Silence the default access log; `_serve` logs one line per request without headers."""

    def log_message(self, format: str, *args: object) -> None:  # pylint: disable=redefined-builtin
        """Route the base class's error messages to logging (they hold no headers)."""
        message = format % args
        LOG.warning("%s: %s", self.client_address[0], message)

    def _authenticated_user(self) -> Optional[str]:
        """Return the user if the Basic credentials match, else None. Constant-time comparison."""
        header = self.headers.get("Authorization", "")
        scheme, _sep, token = header.partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            decoded = base64.b64decode(token.strip(), validate=True)
        except (binascii.Error, ValueError):
            return None
        user, sep, password = decoded.partition(b":")
        user_ok = hmac.compare_digest(user, self.config.username)
        password_ok = hmac.compare_digest(password, self.config.password)
        if sep and user_ok & password_ok:
            return user.decode("utf-8", "replace")
        return None

    def _challenge(self) -> None:
        """Answer 401 with a Basic challenge; git only sends credentials after one."""
        body = b"Authentication required\n"
        self._discard_small_body()
        self.send_response(401, "Unauthorized")
        self.send_header("WWW-Authenticate", f'Basic realm="{self.config.realm}", charset="UTF-8"')
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        # A large body may be left unread, so this connection cannot carry another request.
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True
        LOG.info(
            "%s %s -> 401 (%s)", self.command, self.path, "bad credentials" if self._has_auth() else "no credentials"
        )

    def _has_auth(self) -> bool:
        """Tell whether the client sent any Authorization header (its value is never logged)."""
        return "Authorization" in self.headers

    def _discard_small_body(self) -> None:
        """Read and drop a small fixed-length body, so closing the socket does not reset the connection.

        Closing with unread data makes the kernel send RST, and the client may lose the 401 answer.
        A body announced with Expect: 100-continue has not been sent, so there is nothing to read.
        """
        length = self.headers.get("Content-Length", "")
        if self.headers.get("Expect", "").lower() == "100-continue" or not length.isdigit():
            return
        if int(length) <= 1024 * 1024:
            try:
                for _chunk in _read_exact(self.rfile, int(length)):
                    pass
            except (OSError, EOFError) as exc:
                LOG.debug("could not drain unauthenticated body: %s", exc)

    def _serve(self) -> None:
        """Run git-http-backend for this request and stream its answer back."""
        started = time.monotonic()
        user = self._authenticated_user()
        if user is None:
            self._challenge()
            return
        path, _sep, query = self.path.partition("?")
        path_info = unquote(path)
        if ".." in path_info.split("/"):
            self.send_error(400, "Bad path")
            return
        env = self._cgi_env(user, path_info, query)
        try:
            body_mode, chunks = self._request_body()
        except ValueError:
            self.send_error(400, "Bad Content-Length")
            return
        proc = subprocess.Popen(  # pylint: disable=consider-using-with
            [self.config.backend],
            stdin=subprocess.PIPE if chunks is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            cwd=str(self.config.root),
        )
        body = _Body(chunks, proc.stdin) if chunks is not None and proc.stdin is not None else None
        stderr = threading.Thread(target=_log_stderr, args=(proc.stderr, path), name="git-http-stderr", daemon=True)
        stderr.start()
        status, out_bytes = 502, 0
        try:
            status, out_bytes = self._relay(proc)
        except OSError as exc:  # broken pipe, reset, or the client stopped reading (timeout)
            LOG.warning("%s %s: client went away while streaming: %s", self.command, path, exc)
            self.close_connection = True
            proc.kill()
        finally:
            proc.stdout.close()  # type: ignore[union-attr]
            returncode = proc.wait()
            stderr.join(self.timeout)
            if body is not None:
                body.thread.join(self.timeout)
                if not body.complete:
                    self.close_connection = True
                    if body.error is not None:
                        LOG.warning("%s %s: request body: %s", self.command, path, body.error)
        LOG.info(
            "%s %s -> %s user=%s body=%s in=%d out=%d rc=%s %.3fs",
            self.command,
            self.path,
            status,
            user,
            body_mode,
            body.bytes if body else 0,
            out_bytes,
            returncode,
            time.monotonic() - started,
        )

    def _cgi_env(self, user: str, path_info: str, query: str) -> dict[str, str]:
        """Build the CGI environment from scratch: nothing of the server's own environment leaks in."""
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": os.environ.get("HOME", "/"),
            "LANG": "C",
            "GIT_PROJECT_ROOT": str(self.config.root),
            "GIT_HTTP_EXPORT_ALL": "1",
            "GATEWAY_INTERFACE": "CGI/1.1",
            "SERVER_PROTOCOL": self.request_version,
            "SERVER_SOFTWARE": self.server_version,
            "REQUEST_METHOD": self.command,
            "PATH_INFO": path_info,
            "QUERY_STRING": query,
            "REMOTE_USER": user,
            "REMOTE_ADDR": self.client_address[0],
            "AUTH_TYPE": "Basic",
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
        }
        if "Content-Length" in self.headers and "Transfer-Encoding" not in self.headers:
            env["CONTENT_LENGTH"] = self.headers["Content-Length"].strip()
        encoding = self.headers.get("Content-Encoding")
        if encoding:
            env["HTTP_CONTENT_ENCODING"] = encoding.strip()
        git_protocol = self.headers.get("Git-Protocol")
        if git_protocol:
            env["HTTP_GIT_PROTOCOL"] = git_protocol.strip()
        return env

    def _request_body(self) -> tuple[str, Optional[Iterator[bytes]]]:
        """Return how the body is framed ("chunked", "length", "none") and an iterator over its bytes.

        For a chunked body CONTENT_LENGTH stays unset, so git-http-backend reads its stdin to EOF.
        """
        transfer = self.headers.get("Transfer-Encoding", "").lower()
        if "chunked" in transfer:
            return "chunked", _read_chunked(self.rfile)
        length = self.headers.get("Content-Length")
        if length is not None:
            size = int(length)  # ValueError: answered with 400
            if size < 0:
                raise ValueError(f"negative Content-Length {size}")
            if size > 0:
                return "length", _read_exact(self.rfile, size)
        if self.command == "POST":
            return "length", iter(())
        return "none", None

    def _relay(self, proc: subprocess.Popen[bytes]) -> tuple[int, int]:
        """Parse the backend's CGI headers, send the response, stream the body; return (status, bytes sent)."""
        assert proc.stdout is not None
        status, reason, headers = _read_cgi_headers(proc.stdout)
        if status is None:
            self.send_error(502, "git-http-backend produced no response")
            return 502, 0
        self.send_response(status, reason)
        length = None
        for name, value in headers:
            if name.lower() == "content-length":
                length = value
            if name.lower() not in _HOP_HEADERS:
                self.send_header(name, value)
        chunked = length is None and self.request_version == "HTTP/1.1"
        if length is not None:
            self.send_header("Content-Length", length)
        elif chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        sent = 0
        while True:
            data = proc.stdout.read1(_BLOCK)
            if not data:
                break
            sent += len(data)
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data) if chunked else data)
        if chunked:
            self.wfile.write(b"0\r\n\r\n")
        return status, sent


def _log_stderr(stream: IO[bytes], path: str) -> None:
    """Log what git-http-backend says on stderr, one record per line."""
    with stream:
        for line in stream:
            LOG.warning("git-http-backend %s: %s", path, line.decode("utf-8", "replace").rstrip())


def _read_cgi_headers(stream: IO[bytes]) -> tuple[Optional[int], str, list[tuple[str, str]]]:
    """Read CGI response headers up to the blank line; return (status, reason, other headers).

    Status defaults to 200 (302 with a Location header); None means the backend wrote nothing.
    """
    headers: list[tuple[str, str]] = []
    status: Optional[int] = None
    reason = ""
    seen_any = False
    while True:
        line = stream.readline()
        if not line:
            break
        seen_any = True
        line = line.rstrip(b"\r\n")
        if not line:
            break
        name, _sep, value = line.decode("latin-1").partition(":")
        name, value = name.strip(), value.strip()
        if name.lower() == "status":
            code, _sep, reason = value.partition(" ")
            status = int(code)
        else:
            headers.append((name, value))
    if not seen_any:
        return None, "", []
    if status is None:
        status = 302 if any(name.lower() == "location" for name, _value in headers) else 200
    return status, reason or ("OK" if status == 200 else ""), headers


def _read_exact(rfile: IO[bytes], size: int) -> Iterator[bytes]:
    """Yield exactly size bytes from rfile; raise EOFError if the client stops short."""
    remaining = size
    while remaining > 0:
        data = rfile.read(min(_BLOCK, remaining))
        if not data:
            raise EOFError(f"request body ended {remaining} bytes short")
        remaining -= len(data)
        yield data


def _read_chunked(rfile: IO[bytes]) -> Iterator[bytes]:
    """Decode a `Transfer-Encoding: chunked` body from rfile, yielding its data; trailers are discarded."""
    while True:
        line = rfile.readline(1024)
        if not line:
            raise EOFError("chunked body ended before the last chunk")
        size_text = line.split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError as exc:
            raise ValueError(f"bad chunk size line {line[:40]!r}") from exc
        if size == 0:
            break
        yield from _read_exact(rfile, size)
        if rfile.read(2) != b"\r\n":
            raise ValueError("chunk not followed by CRLF")
    while True:  # trailer section, ends with an empty line
        line = rfile.readline(8192)
        if not line or line in (b"\r\n", b"\n"):
            return


class _Server(ThreadingHTTPServer):
    """One thread per connection, so several pushes run side by side."""

    daemon_threads = True
    request_queue_size = 64

    def __init__(self, address: tuple[str, int], config: ServerConfig) -> None:
        self.config = config
        super().__init__(address, GitHttpHandler)


def make_server(root: Path, host: str, port: int, username: str, password: str, realm: str = REALM) -> _Server:
    """Bind the server (not yet serving); port 0 picks a free one."""
    config = ServerConfig(
        root=Path(root).resolve(),
        username=username.encode("utf-8"),
        password=password.encode("utf-8"),
        realm=realm,
        backend=backend_path(),
    )
    return _Server((host, port), config)


@dataclass
class GitHttpServer:
    """A git_http server running as a separate process, stoppable by PID."""

    root: Path
    host: str
    port: int
    username: str
    password: str = field(repr=False)
    pid: int
    pidfile: Path
    logfile: Path

    @property
    def base_url(self) -> str:
        """http://host:port, without credentials."""
        return f"http://{self.host}:{self.port}"

    def url_for(self, repo: Path) -> str:
        """Return the HTTP URL (without credentials) of a repository under root."""
        relative = Path(repo).resolve().relative_to(self.root.resolve())
        return f"{self.base_url}/{relative.as_posix()}"

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server process (and its git-http-backend children) by its PID."""
        if procs.pid_alive(self.pid):
            LOG.info("stopping git http server pid %s", self.pid)
            procs.stop_pid(self.pid, timeout=timeout)
        self.pidfile.unlink(missing_ok=True)


def start_server(
    root: Path,
    username: str,
    password: str,
    pidfile: Path,
    logfile: Path,
    host: str = "127.0.0.1",
    port: Optional[int] = None,
    timeout: float = 20.0,
) -> GitHttpServer:
    """Start `python -m testbed.git_http` in the background and wait until it answers.

    With port None a free port is picked, and picked again if another process grabs it first.
    The password reaches the child through its environment only.
    """
    root = Path(root).resolve()
    tests_dir = str(Path(__file__).resolve().parents[1])
    pythonpath = os.pathsep.join(p for p in (tests_dir, os.environ.get("PYTHONPATH", "")) if p)
    env = {PASSWORD_ENV: password, "PYTHONPATH": pythonpath}
    attempts = 1 if port is not None else 3
    last_error: Optional[Exception] = None
    for _attempt in range(attempts):
        chosen = port if port is not None else procs.free_port(host)
        cmd = [sys.executable, "-m", _MODULE, "--root", str(root), "--host", host, "--port", str(chosen)]
        cmd += ["--user", username, "--password-env", PASSWORD_ENV]
        pid = procs.start_background(cmd, pidfile, logfile, env=env)
        server = GitHttpServer(root, host, chosen, username, password, pid, Path(pidfile), Path(logfile))
        try:
            procs.wait_port(host, chosen, timeout=timeout, pid=pid)
            _probe(server, timeout)
            LOG.info("git http server pid %s serving %s at %s", pid, root, server.base_url)
            return server
        except procs.ProcessError as exc:
            last_error = exc
            server.stop()
    raise procs.ProcessError(f"git http server did not start (log: {logfile}): {last_error}")


def _probe(server: GitHttpServer, timeout: float) -> None:
    """Check that our process (not another one on the port) answers with our 401 challenge."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not procs.pid_alive(server.pid):
            raise procs.ProcessError(f"git http server pid {server.pid} exited")
        try:
            with urllib.request.urlopen(server.base_url + "/", timeout=2):
                pass
        except urllib.error.HTTPError as exc:
            if exc.code == 401 and REALM in exc.headers.get("WWW-Authenticate", ""):
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise procs.ProcessError(f"{server.base_url} did not answer with the git http challenge")


def is_git_http_process(pid: int) -> bool:
    """Tell whether pid runs this module (guards against stopping a reused PID)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return _MODULE.encode() in cmdline


def _parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=f"python -m {_MODULE}", description=__doc__.splitlines()[0])
    parser.add_argument("--root", required=True, type=Path, help="directory holding the bare repositories")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: loopback)")
    parser.add_argument("--port", type=int, default=0, help="port to bind (0: any free port)")
    parser.add_argument("--user", required=True, help="the one username accepted")
    parser.add_argument(
        "--password-env",
        default=PASSWORD_ENV,
        help=f"environment variable holding the password (default {PASSWORD_ENV})",
    )
    parser.add_argument("--realm", default=REALM, help="Basic auth realm")
    parser.add_argument("--log-level", default="INFO", help="logging level (default INFO)")
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Command line entry point: serve until SIGTERM or Ctrl-C."""
    args = _parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    password = os.environ.pop(args.password_env, "")
    if not password:
        LOG.error("environment variable %s is unset or empty", args.password_env)
        return 2
    if not args.root.is_dir():
        LOG.error("root %s is not a directory", args.root)
        return 2
    server = make_server(args.root, args.host, args.port, args.user, password, args.realm)
    signal.signal(signal.SIGTERM, _exit_on_signal)
    host, port = server.server_address[:2]
    LOG.info("serving %s at http://%s:%s/ for user %s (pid %s)", server.config.root, host, port, args.user, os.getpid())
    try:
        server.serve_forever(poll_interval=0.5)
    except (KeyboardInterrupt, SystemExit):
        LOG.info("stopping")
    finally:
        server.server_close()
    return 0


def _exit_on_signal(signum: int, _frame: object) -> None:
    """Turn SIGTERM into SystemExit so serve_forever unwinds and the socket is closed."""
    raise SystemExit(128 + signum)


if __name__ == "__main__":
    sys.exit(main())
