"""One interactive CLI session on a simulated device: line discipline, pager, faults.

The session is transport-agnostic: the SSH layer feeds it received text and gives it
callables to write, close and abort. It echoes each line it reads (netmiko waits
for the command echo), ends lines with CRLF, pauses long output at the platform's
pager until paging is disabled (``terminal length 0`` / ``set cli screen-length 0``),
and applies the device's output faults to configuration output.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from typing import Callable, Optional

from lab.commands import TABLES, CliError, ExitSession, Match, apply_pipe, match_command, tokenize, xr_preamble
from lab.device import DeviceState

log = logging.getLogger(__name__)

CRLF = "\r\n"
_START = time.monotonic()
SLOW_CHUNKS = 20


class SessionClosed(Exception):
    """The transport went away; stop the session loop."""


class CliSession:
    """Run the CLI of one device over one channel."""

    def __init__(
        self,
        dev: DeviceState,
        username: str,
        write: Callable[[str], None],
        close: Callable[[], None],
        abort: Callable[[], None],
        on_command: Callable[[str], None],
    ) -> None:
        self.dev = dev
        self.platform = dev.platform
        self.username = username
        self.privileged = not self.platform.has_enable or bool(dev.option("privileged"))
        self.page_lines = int(dev.option("page_lines"))
        self._write = write
        self._close = close
        self._abort = abort
        self._on_command = on_command
        self._buf = ""
        self._skip_lf = False
        self._event = asyncio.Event()
        self._closed = False

    # --- transport side ---------------------------------------------------------------

    def feed(self, data: str) -> None:
        """Queue received keystrokes."""
        self._buf += data
        self._event.set()

    def transport_closed(self) -> None:
        """Wake the loop so it ends: the channel or connection is gone."""
        self._closed = True
        self._event.set()

    def uptime_seconds(self) -> float:
        """Return how long the lab process has been running."""
        return time.monotonic() - _START

    # --- input ------------------------------------------------------------------------

    async def _wait_input(self) -> None:
        """Wait until there is unread input (raise SessionClosed when the peer left)."""
        while True:
            if self._skip_lf and self._buf.startswith("\n"):
                self._buf = self._buf[1:]
            if self._buf:
                self._skip_lf = False
                return
            if self._closed:
                raise SessionClosed()
            self._event.clear()
            await self._event.wait()

    async def read_line(self, echo: bool = True) -> str:
        """Read one line (CR, LF or CRLF ends it), applying backspaces; echo it if asked."""
        while True:
            await self._wait_input()
            cut = min((i for i in (self._buf.find("\r"), self._buf.find("\n")) if i >= 0), default=-1)
            if cut >= 0:
                raw, term, self._buf = self._buf[:cut], self._buf[cut], self._buf[cut + 1 :]
                self._skip_lf = term == "\r"
                break
            if self._closed:
                raise SessionClosed()
            self._event.clear()
            await self._event.wait()
        line: list[str] = []
        for ch in raw:
            if ch in "\x08\x7f":
                if line:
                    line.pop()
            elif ch >= " " or ch == "\t":
                line.append(ch)
        text = "".join(line)
        self.write((text if echo else "") + CRLF)
        return text

    async def read_key(self) -> str:
        """Read a single keystroke (a CRLF pair counts as one)."""
        await self._wait_input()
        key, self._buf = self._buf[0], self._buf[1:]
        self._skip_lf = key == "\r"
        return key

    async def ask(self, question: str, echo: bool) -> str:
        """Print question and read the answer (without echo for passwords)."""
        self.write(question)
        return await self.read_line(echo=echo)

    # --- output -----------------------------------------------------------------------

    def write(self, text: str) -> None:
        """Send text to the peer unless the session is over."""
        if not self._closed:
            self._write(text)

    @property
    def prompt(self) -> str:
        """Return the current prompt."""
        return self.platform.prompt(self.dev.name, self.username, self.privileged)

    async def _send(self, text: str, slow: bool) -> None:
        """Write text, in delayed chunks when slow."""
        if not slow or not text:
            self.write(text)
            return
        delay = float(self.dev.option("slow_seconds")) / SLOW_CHUNKS
        size = max(1, len(text) // SLOW_CHUNKS + 1)
        for start in range(0, len(text), size):
            self.write(text[start : start + size])
            await asyncio.sleep(delay)

    async def emit(self, lines: list[str], kind: str, paging: bool = True) -> None:
        """Print command output, applying faults (for config output) and the pager."""
        dev = self.dev
        if kind == "running":
            if dev.has_fault("empty_output"):
                return
            if dev.has_fault("truncated_output"):
                lines = lines[: max(1, len(lines) * 3 // 4)]
                while lines and lines[-1].strip() == "end":
                    lines.pop()
            if dev.has_fault("disconnect_mid_output"):
                self.write(CRLF.join(lines[: len(lines) // 2]) + CRLF)
                await asyncio.sleep(0.2)
                log.info("%s: disconnect_mid_output: dropping the connection", dev.name)
                self._abort()
                raise SessionClosed()
        slow = kind in ("running", "startup") and dev.has_fault("slow_output")
        page = self.page_lines if paging else 0
        if page <= 0 or len(lines) <= page:
            await self._send("".join(line + CRLF for line in lines), slow)
            return
        pos, budget = 0, page
        while pos < len(lines):
            chunk = lines[pos : pos + budget]
            await self._send("".join(line + CRLF for line in chunk), slow)
            pos += len(chunk)
            if pos >= len(lines):
                return
            pager = self.platform.pager
            self.write(pager)
            key = await self.read_key()
            self.write("\b" * len(pager) + " " * len(pager) + "\b" * len(pager))
            if key == " ":
                budget = page
            elif key in "\r\n":
                budget = 1
            else:
                return

    # --- main loop --------------------------------------------------------------------

    async def run(self) -> None:
        """Greet, then read and execute lines until exit or disconnect."""
        try:
            self.write(self._greeting() + self.prompt)
            while True:
                line = await self.read_line()
                if line.strip():
                    self._on_command(line.strip())
                    try:
                        await self.execute(line)
                    except ExitSession:
                        self._close()
                        return
                    if self.platform.blank_before_prompt:
                        self.write(CRLF)
                self.write(self.prompt)
        except SessionClosed:
            log.debug("%s: session ended by the peer", self.dev.name)

    def _greeting(self) -> str:
        """Return what the device prints after login, before the first prompt."""
        if self.platform.name == "juniper_junos":
            return f"Last login: never{CRLF}--- JUNOS {self.platform.version} Kernel 64-bit  JNPR-12.1{CRLF}{CRLF}"
        return CRLF

    def _parse(self, tokens: list[str]) -> Match:
        """Match tokens against the commands visible in the current mode."""
        table = TABLES[self.platform.name]
        visible = [c for c in table if self.privileged or not c.privileged]
        try:
            return match_command(visible, tokens)
        except CliError as exc:
            if exc.kind == "invalid" and self.platform.name == "arista_eos" and not self.privileged:
                try:
                    match_command(table, tokens)
                except CliError:
                    raise exc from None
                raise CliError("invalid", exc.token_index, ["% Invalid input (privileged mode required)"]) from None
            raise

    async def execute(self, line: str) -> None:
        """Run one command line (with optional '| filter' stages) and print its output."""
        stages = _split_pipes(line)
        toks = tokenize(stages[0][0])
        try:
            match = self._parse([t for t, _pos in toks])
            preamble = []
            if self.platform.show_preamble and match.command.words[0] == "show":
                preamble = xr_preamble()  # printed before the command runs, not filtered by pipes
            lines = await match.command.handler(self, match.args) or []
            paging = True
            for stage, start in stages[1:]:
                ptoks = tokenize(stage)
                try:
                    lines, allowed = apply_pipe(self.platform.name, lines, [t for t, _pos in ptoks])
                except CliError as exc:
                    at = ptoks[exc.token_index] if exc.token_index < len(ptoks) else ("", len(stage) + 1)
                    self._error(exc, start + at[1], at[0], len(toks) + 1 + exc.token_index)
                    return
                paging = paging and allowed
            lines = preamble + lines
        except CliError as exc:
            if exc.token_index < len(toks):
                token, col = toks[exc.token_index]
            else:
                token, col = "", len(stages[0][0].rstrip()) + 1
            self._error(exc, col, token, exc.token_index)
            return
        await self.emit(lines, match.command.output, paging)

    def _error(self, exc: CliError, col: int, token: str, index: int) -> None:
        """Print the platform's error for a failed parse, caret under column col of the line."""
        if exc.message is not None:
            lines: Optional[list[str]] = exc.message
        else:
            render = {"invalid": self.platform.invalid, "incomplete": self.platform.incomplete}.get(
                exc.kind, self.platform.ambiguous
            )
            lines = render(len(self.prompt) + col, index, token)
        self.write("".join(line + CRLF for line in lines or []))


def _split_pipes(line: str) -> list[tuple[str, int]]:
    """Split line at ' |' into (stage text, start column); a '|' inside a regex (a|b) stays."""
    stages: list[tuple[str, int]] = []
    start = 0
    for m in re.finditer(r"\s\|", line):
        stages.append((line[start : m.start()], start))
        start = m.end()
    stages.append((line[start:], start))
    return stages
