"""A loopback HTTP server that answers every request with a chosen fault.

Private to the test suite. It stands in for a broken Nautobot (HTTP 500, a login page
instead of JSON, a GraphQL error body, a server that never answers) so tests can prove
that clients fail closed. It runs in a thread of the test process and records the
requests it received (path and headers) for leak checks.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Dict, Iterator, List, Optional

import pytest


@dataclass
class Fault:
    """What the server answers: status, body, content type, and a delay before answering."""

    status: int = 500
    body: str = "<html><body>Internal Server Error</body></html>"
    content_type: str = "text/html"
    delay: float = 0.0


FAULTS = {
    "http_500": Fault(),
    "http_502": Fault(status=502, body="Bad Gateway"),
    "not_json": Fault(status=200, body="<html><title>Nautobot login</title></html>"),
    "graphql_errors": Fault(
        status=200,
        body=json.dumps({"errors": [{"message": "Cannot query field 'devices'"}], "data": None}),
        content_type="application/json",
    ),
    "json_list": Fault(status=200, body="[]", content_type="application/json"),
    "hang": Fault(status=200, body="{}", content_type="application/json", delay=30.0),
}


@dataclass
class FaultServer:
    """A running fault server; ``url`` is its base URL."""

    server: ThreadingHTTPServer
    fault: Fault
    requests: List[Dict[str, str]] = field(default_factory=list)

    @property
    def url(self) -> str:
        """Base URL of the server."""
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"


def start_fault_server(fault: Fault) -> FaultServer:
    """Start a fault server on a free loopback port in a daemon thread."""
    holder: Dict[str, FaultServer] = {}

    class Handler(BaseHTTPRequestHandler):
        """Answer every method with the configured fault."""

        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            holder["server"].requests.append({"path": self.path, **dict(self.headers.items())})
            if fault.delay:
                time.sleep(fault.delay)
            payload = fault.body.encode()
            try:
                self.send_response(fault.status)
                self.send_header("Content-Type", fault.content_type)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up first (the "hang" fault): nothing left to answer

        do_GET = do_POST = do_PATCH = _answer  # noqa: N815

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002  # pylint: disable=redefined-builtin
            """Keep test output quiet."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    holder["server"] = FaultServer(server=server, fault=fault)
    threading.Thread(target=server.serve_forever, name="fault-http", daemon=True).start()
    return holder["server"]


@pytest.fixture
def fault_server(request: pytest.FixtureRequest) -> Iterator[FaultServer]:
    """A fault server for the fault named by indirect parametrization (default: http_500)."""
    name: Optional[str] = getattr(request, "param", None)
    running = start_fault_server(FAULTS[name or "http_500"])
    try:
        yield running
    finally:
        running.server.shutdown()
        running.server.server_close()


def start_failing_proxy(target: str, fail_methods: tuple = ("PATCH",), status: int = 503) -> FaultServer:
    """Forward requests to target (a real Nautobot), but answer fail_methods with an error status.

    Reads (GraphQL, GET) and empty pre-flight writes (a bulk PATCH of ``[]``, which only
    checks permissions) succeed, real writes fail: Nautobot "going down" between a run's
    pre-flight checks and its write-back.
    """
    import requests  # pylint: disable=import-outside-toplevel

    holder: Dict[str, FaultServer] = {}

    class Proxy(BaseHTTPRequestHandler):
        """Forward to target, or fail."""

        def _forward(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            holder["server"].requests.append({"path": self.path, "method": self.command})
            if self.command in fail_methods and body.strip() not in (b"[]", b""):
                payload, code, ctype = b'{"detail": "Service Unavailable"}', status, "application/json"
            else:
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
                answer = requests.request(self.command, target + self.path, data=body, headers=headers, timeout=60)
                payload, code = answer.content, answer.status_code
                ctype = answer.headers.get("Content-Type", "application/json")
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PATCH = _forward  # noqa: N815

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002  # pylint: disable=redefined-builtin
            """Keep test output quiet."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Proxy)
    server.daemon_threads = True
    holder["server"] = FaultServer(server=server, fault=Fault(status=status))
    threading.Thread(target=server.serve_forever, name="failing-proxy", daemon=True).start()
    return holder["server"]
