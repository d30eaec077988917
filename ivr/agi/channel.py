"""pyst2's AGI command layer, wrapped once so it is safe over a socket and in threads.

pyst2 0.5.1 installs a SIGHUP handler, writes str, prints debug lines to stderr, quotes
without escaping and mis-parses several results. ``AGIChannel`` keeps pyst2's command methods
(answer, stream_file, get_data, say_digits, …) and replaces the transport: every argument is
quoted exactly once (``protocol.quote``), a command is one write, responses are read one at a
time with the HANGUP notification, 510/511/520 and parenthesised data handled per §2 and §9.2.
"""
from __future__ import annotations

import io
import logging
import re

from asterisk.agi import (AGI, AGIAppError, AGIError, AGIHangup, AGIInvalidCommand,
                          AGIUnknownError, AGIUsageError)

from ivr.agi.protocol import (DEAD_CAPABLE, AGIProtocolError, Quoted, Response, build_line,
                              check_digits, check_variable_name, parse_200, parse_env_line, quote)

log = logging.getLogger(__name__)
_ENV_LEFTOVER = re.compile(r"^agi_[a-z0-9_]+:( |$)")
_MSET_VALUE = re.compile(r"^[A-Za-z0-9_.:/@+*#&-]{0,200}$")

__all__ = ["AGIChannel", "AGIDeadChannel", "AGIConnectionClosed", "AGIError", "AGIHangup",
           "AGIAppError", "AGIInvalidCommand", "AGIUsageError", "read_env"]


class AGIDeadChannel(AGIHangup):
    """Asterisk answered 511: the channel is hung up."""


class AGIConnectionClosed(AGIHangup):
    """Asterisk closed the connection."""


class _Discard(io.TextIOBase):
    def write(self, s: str) -> int:
        return len(s)


def read_env(rfile, max_lines: int = 512) -> dict[str, str]:
    """The environment block up to its empty line (§1.4); unknown keys kept, junk skipped.

    A reader with ``read_block`` (the FastAGI socket) hands over the whole block at once; a line
    of 8,192 bytes or more there is refused (Asterisk's own lines are far shorter). Otherwise,
    line by line, each line read at most 8,192 bytes at a time."""
    env: dict[str, str] = {}
    read_block = getattr(rfile, "read_block", None)
    block = read_block(max_lines * 512) if read_block is not None else None
    if block is not None:
        lines = block.split(b"\n")[:-2] if block != b"\n" else []
        if len(lines) >= max_lines:
            raise AGIProtocolError("AGI environment block too long")
        if lines and max(map(len, lines)) >= 8192:
            raise AGIProtocolError("AGI environment line too long")
        # decoded at once: no UTF-8 sequence holds a line feed, and "replace" never makes one
        for line in block[:-2].decode("utf-8", "replace").split("\n") if lines else ():
            parsed = parse_env_line(line)
            if parsed:
                env[parsed[0]] = parsed[1]
        return env
    for _ in range(max_lines):
        raw = rfile.readline(8192)
        if not raw:
            raise AGIConnectionClosed("connection closed before the AGI environment ended")
        line = raw.decode("utf-8", "replace").rstrip("\n")
        if line == "":
            return env
        parsed = parse_env_line(line)
        if parsed:
            env[parsed[0]] = parsed[1]
    raise AGIProtocolError("AGI environment block too long")


class AGIChannel(AGI):
    """One AGI session over binary file objects (socket makefile, or stdin/stdout buffers)."""

    def __init__(self, rfile, wfile, *, max_line: int = 2046, env: dict[str, str] | None = None) -> None:
        # pyst2's __init__ is skipped on purpose: no SIGHUP handler, no stderr chatter
        self.stdin, self.stdout, self.stderr = rfile, wfile, _Discard()
        self._got_sighup = False
        self.max_line = max_line
        self.hung_up = False
        self.closed = False          # the connection failed or ended: no command can be sent
        self.last: Response | None = None
        self.env = read_env(rfile) if env is None else env

    # -- transport ---------------------------------------------------------------------------
    def _quote(self, string) -> Quoted:  # pyst2 calls this for some arguments
        return quote(string)

    def execute(self, command, *args):
        command = command.strip().upper()
        if self.closed:
            raise AGIConnectionClosed(f"{command}: the connection to Asterisk is closed")
        if self.hung_up and command not in DEAD_CAPABLE:
            raise AGIDeadChannel(f"{command}: the caller has hung up")
        self.send_command(command, *args)
        return self.get_result()

    def send_command(self, command, *args) -> None:
        line = build_line(command.strip().upper(), args, self.max_line)
        try:
            self.stdout.write(line)
            self.stdout.flush()
        except (BrokenPipeError, ConnectionError, OSError) as exc:
            self.closed = True
            raise AGIConnectionClosed(f"write failed: {exc.__class__.__name__}") from exc

    def _readline(self) -> str:
        try:
            raw = self.stdin.readline(65536)
        except (ConnectionError, OSError) as exc:  # includes socket timeouts
            self.closed = True
            raise AGIConnectionClosed(f"read failed: {exc.__class__.__name__}") from exc
        if not raw:
            self.closed = True
            raise AGIConnectionClosed("Asterisk closed the connection")
        return raw.decode("utf-8", "replace").rstrip("\n")

    def get_result(self, stdin=None):
        """Read until the command's final response; returns pyst2's dict shape.

        Asterisk does not escape the environment block: a caller ID with a newline in it ends
        the block early, and the rest of the block then arrives where responses are expected.
        Such leftovers (``agi_*: …`` lines and the block's blank line) are skipped, within a bound.
        """
        leftovers = 0
        while True:
            line = self._readline()
            if line == "" or _ENV_LEFTOVER.match(line):
                leftovers += 1
                if leftovers > 256:
                    raise AGIProtocolError("too many stray lines from Asterisk")
                if leftovers == 1:
                    log.warning("stray environment lines after the AGI environment block (a caller ID "
                                "with a line break?); skipped")
                continue
            if line == "HANGUP":           # a notification, not the response (§4.2)
                self.hung_up = True
                continue
            if line.startswith("100 "):    # GOSUB's provisional line
                continue
            if line.startswith("200 ") or line == "200":
                resp = parse_200(line)
                self.last = resp
                result = {"result": (resp.result, resp.data or "")}
                for k, v in resp.extra.items():
                    result[k] = (v, "")
                return result
            if line.startswith("510"):
                raise AGIInvalidCommand(line)
            if line.startswith("511"):
                self.hung_up = True
                raise AGIDeadChannel(line)
            if line.startswith("520-"):
                usage = [line]
                while not line.startswith("520 "):
                    line = self._readline()
                    usage.append(line)
                raise AGIUsageError("\n".join(usage))
            if line.startswith("520"):
                raise AGIUsageError(line)
            raise AGIUnknownError(line[:200])

    # -- safer versions of pyst2 calls --------------------------------------------------------
    def set_variable(self, name, value) -> None:
        self.execute("SET VARIABLE", Quoted(check_variable_name(name)), quote(value))

    def set_variables(self, pairs: list[tuple[str, str]]) -> None:
        """Several channel variables in one round trip: ``EXEC MSet`` (Asterisk's own application)
        when every value is a plain token, else one SET VARIABLE each.

        MSet splits its argument at ``,`` and each pair at ``=``, honours quotes, brackets and
        backslashes (main/app.c, __ast_app_separate_args), so a value is sent this way only when it
        holds none of those; anything else (caller-derived text, spaces) takes the safe road.
        """
        if len(pairs) > 1 and all(_MSET_VALUE.match(str(value)) for _, value in pairs):
            words = ",".join(f"{check_variable_name(name)}={value}" for name, value in pairs)
            self.execute("EXEC", "MSet", words)
            if self.last.value != -2:             # -2: no such application (never on Asterisk 20-22)
                return
        for name, value in pairs:
            self.set_variable(name, value)

    def get_variable(self, name) -> str | None:
        res = self.execute("GET VARIABLE", Quoted(check_variable_name(name)))
        return res["result"][1] if res["result"][0] == "1" else None

    def stream(self, path: str, escape_digits: str = "") -> tuple[int, int]:
        """STREAM FILE → (result, endpos); result is 0, an ASCII digit code or -1."""
        self.execute("STREAM FILE", path, check_digits(escape_digits))
        return self.last.value or 0, int(self.last.extra.get("endpos", 0) or 0)

    def get_digits(self, prompt: str, timeout_ms: int, max_digits: int) -> tuple[str | None, bool]:
        """GET DATA → (digits or None on hang-up/failure, timed_out)."""
        self.execute("GET DATA", prompt, int(timeout_ms), int(max_digits))
        if self.last.result == "-1":
            return None, False
        return self.last.result, self.last.data == "timeout"

    def say(self, command: str, value: str, escape_digits: str = "") -> int:
        self.execute(command, value, check_digits(escape_digits))
        return self.last.value or 0

    def record(self, path: str, fmt: str, escape_digits: str, max_ms: int, silence_s: int,
               beep: bool = True) -> Response:
        """RECORD FILE (§3.9): the response keeps (dtmf)/(timeout)/(hangup) in ``data``."""
        args = [path, fmt, check_digits(escape_digits), int(max_ms)]
        if beep:
            args.append("BEEP")
        if silence_s:
            args.append(f"s={int(silence_s)}")
        self.execute("RECORD FILE", *args)
        return self.last

    def alive(self) -> bool:
        """After an ambiguous -1: CHANNEL STATUS is not dead-capable, so it tells hang-up apart."""
        if self.hung_up:
            return False
        try:
            self.execute("CHANNEL STATUS")
        except AGIHangup:
            return False
        return (self.last.value or -1) >= 0
