"""A fake Asterisk: the Asterisk side of one FastAGI session, over real TCP, byte for byte.

It connects to a FastAGI server, sends the environment block, then runs res_agi.c's ``run_agi()``
loop — read one command line, answer it, read the next — with a :class:`~softphone.outcomes.Caller`
deciding what the person on the phone does. Reference: shared/docs/asterisk-agi-protocol.md,
§9.1 lists what this reproduces. It imports nothing from the engine, so the engine's protocol code
is checked against an independent implementation.

Time is virtual: every media command advances ``elapsed_ms`` by what it would take on a phone;
``realtime`` > 0 also sleeps that long (times the factor) so benchmarks can simulate real calls.
"""
from __future__ import annotations

import itertools
import select
import socket
import threading
import time
from dataclasses import dataclass, field

from softphone.apps import AppCommands
from softphone.channel import STATE_RING, STATE_UP, AstDB, Channel, ast_false, ast_true
from softphone.commands import (MSG_510, MSG_511, MSG_520_HEAD, MSG_520_NONE, MSG_520_TAIL,
                                RESULT_FAILURE, RESULT_SHOWUSAGE, find_command)
from softphone.handlers import ControlCommands
from softphone.media import MediaCommands
from softphone.outcomes import Caller
from softphone.wire import Failure, LineReader, ReadTimeout, parse_args

AGI_VERSION = "22.5.2"
_seq = itertools.count(0x2A)
_seq_lock = threading.Lock()


def _next_seq() -> int:
    with _seq_lock:
        return next(_seq)


@dataclass
class CallResult:
    """Everything observable about one session, for assertions."""
    transcript: list[tuple[str, str]] = field(default_factory=list)   # ('A>'|'S>', line)
    commands: list[list[str]] = field(default_factory=list)           # parsed argv per command
    variables: dict[str, str] = field(default_factory=dict)
    agistatus: str = "SUCCESS"
    hungup: bool = False
    played: list[str] = field(default_factory=list)                   # paths streamed
    said: list[tuple[str, str]] = field(default_factory=list)         # ("SAY DIGITS", "123")
    recordings: list[str] = field(default_factory=list)               # files written
    apps: list[tuple[str, str]] = field(default_factory=list)         # EXEC (app, options)
    continuation: tuple[str, str, int | str] | None = None
    elapsed_ms: int = 0
    errors: list[str] = field(default_factory=list)                   # 510/511/520 lines sent
    closed_by: str = ""                                               # 'server' | 'asterisk'
    # extras
    env: list[tuple[str, str]] = field(default_factory=list)
    raw_sent: bytes = b""
    raw_received: bytes = b""
    missing_files: list[str] = field(default_factory=list)
    verbose: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)                    # harness diagnostics
    timed_out: bool = False
    connected: bool = True
    hangup_by: str = ""                  # '' | 'caller' | 'server' | 'autohangup'
    channel: str = ""
    uniqueid: str = ""
    music: str | None = None             # MOH class playing at the end, if any
    turnaround_ms: list[float] = field(default_factory=list)  # response written -> next command read

    def lines(self, direction: str) -> list[str]:
        """Lines one way only: 'A>' (Asterisk to server) or 'S>' (server to Asterisk)."""
        return [line for d, line in self.transcript if d == direction]

    def responses(self) -> list[str]:
        """What Asterisk sent after the environment block."""
        sent = self.lines("A>")
        return sent[sent.index("") + 1:] if "" in sent else sent


class AsteriskPeer(MediaCommands, ControlCommands, AppCommands):
    """One call: connect to ``host:port`` as Asterisk would for ``AGI(agi://host:port/<script>)``.

    Keyword options beyond the brief: ``realtime`` (sleep factor), ``sounds_dir`` (where relative
    sound names live: ``<sounds_dir>/<lang>/<name>`` then ``<sounds_dir>/<name>``), ``answered``
    (channel already up), ``astdb`` (an :class:`AstDB` shared between calls), ``context``,
    ``extension``, ``priority``, ``dnid``, ``rdnis``, ``accountcode``, ``channel`` (name),
    ``labels`` ({(context, exten): {label: priority}}; when given, unknown labels give 520),
    ``subroutines`` ((context, exten) pairs GOSUB may call), ``give_up_ms`` (how long a silent
    caller waits on an endless wait before hanging up), ``connect_timeout``.
    """

    def __init__(self, host: str, port: int, caller: Caller | None = None, *,
                 env: dict[str, str | None] | None = None, script: str = "hotline",
                 args: tuple[str, ...] | list[str] = (), callerid: str | None = "13800138000",
                 calleridname: str | None = "unknown", language: str = "zh",
                 uniqueid: str | None = None, agi_buf_len: int = 2048,
                 exit_on_hangup: bool = False, sighup: bool = True,
                 variables: dict[str, str] | None = None, timeout: float = 30.0,
                 dead_start: bool = False, realtime: float = 0.0, sounds_dir: str | None = None,
                 answered: bool = False, astdb: AstDB | None = None,
                 context: str = "from-pstn", extension: str = "12345", priority: int = 2,
                 dnid: str | None = "12345", rdnis: str | None = None, accountcode: str = "",
                 channel: str | None = None,
                 labels: dict[tuple[str, str], dict[str, int]] | None = None,
                 subroutines: tuple[tuple[str, str], ...] | list[tuple[str, str]] = (),
                 give_up_ms: int = 60_000, connect_timeout: float = 2.0):
        if caller is None:
            from softphone.callers import ScriptedCaller
            caller = ScriptedCaller()
        seq = _next_seq()
        self.host, self.port, self.caller = host, port, caller
        self.env_overrides = dict(env or {})
        self.script, self.args = script, tuple(args)
        self.agi_buf_len, self.timeout = agi_buf_len, timeout
        self.exit_on_hangup, self.sighup, self.dead_start = exit_on_hangup, sighup, dead_start
        self.realtime, self.sounds_dir = realtime, sounds_dir
        self.dnid, self.rdnis, self.accountcode = dnid, rdnis, accountcode
        self.labels, self.subroutines = labels, {tuple(s) for s in subroutines}
        self.give_up_ms, self.connect_timeout = give_up_ms, connect_timeout
        self.threadid = str(140286045701824 + seq * 4096)
        self.channel = Channel(
            name=channel or f"PJSIP/{callerid or 'anonymous'}-{seq:08x}",
            uniqueid=uniqueid or f"{int(time.time())}.{seq}",
            language=language, callerid=callerid,
            calleridname=None if calleridname is None else calleridname,
            context=context, exten=extension, priority=priority,
            state=STATE_UP if answered else STATE_RING, astdb=astdb or AstDB())
        for name, value in (variables or {}).items():
            self.channel.set_var(name, value)
        # read once at session start, like run_agi() (§4.4)
        if ast_false(self.channel.variables.get("AGISIGHUP")):
            self.sighup = False
        if ast_true(self.channel.variables.get("AGIEXITONHANGUP")):
            self.exit_on_hangup = True
        self.result = CallResult(channel=self.channel.name, uniqueid=self.channel.uniqueid)
        self.elapsed_ms = 0
        self._status = "SUCCESS"
        self._dead = dead_start
        self._needhup = False
        self._autohangup_at: int | None = None
        self._music: str | None = None
        self._sock: socket.socket | None = None
        self._reader: LineReader | None = None
        self._sent = bytearray()
        self._last_sent_at: float | None = None
        if dead_start:
            self.channel.hungup = True

    # --- the environment block (§1.4) ---------------------------------------------------------

    def env_pairs(self) -> list[tuple[str, str]]:
        ch = self.channel
        url = f"agi://{self.host}:{self.port}" + (f"/{self.script}" if self.script else "")
        pairs: list[tuple[str, str]] = [("agi_network", "yes")]
        if self.script:
            pairs.append(("agi_network_script", self.script))
        pairs += [
            ("agi_request", url), ("agi_channel", ch.name), ("agi_language", ch.language),
            ("agi_type", ch.name.split("/", 1)[0]), ("agi_uniqueid", ch.uniqueid),
            ("agi_version", AGI_VERSION),
            ("agi_callerid", "unknown" if ch.callerid is None else ch.callerid),
            ("agi_calleridname", "unknown" if ch.calleridname is None else ch.calleridname),
            ("agi_callingpres", "0"), ("agi_callingani2", "0"), ("agi_callington", "0"),
            ("agi_callingtns", "0"), ("agi_dnid", self.dnid or "unknown"),
            ("agi_rdnis", self.rdnis or "unknown"), ("agi_context", ch.context),
            ("agi_extension", ch.exten), ("agi_priority", str(ch.priority)),
            ("agi_enhanced", "0.0"), ("agi_accountcode", self.accountcode),
            ("agi_threadid", self.threadid),
        ]
        pairs += [(f"agi_arg_{i}", a) for i, a in enumerate(self.args, 1)]
        for key, value in self.env_overrides.items():
            idx = next((i for i, (k, _) in enumerate(pairs) if k == key), None)
            if idx is None:
                if value is not None:
                    pairs.append((key, value))
            elif value is None:
                del pairs[idx]
            else:
                pairs[idx] = (key, value)
        return pairs

    # --- the session ------------------------------------------------------------------------

    def run(self) -> CallResult:
        r = self.result
        try:
            sock = socket.create_connection((self.host, self.port), timeout=self.connect_timeout)
        except OSError as exc:
            r.connected = False
            r.notes.append(f"Couldn't connect to any host. FastAGI failed. ({exc})")
            self._status = "FAILURE"
            return self._finish()
        self._sock = sock
        self._reader = LineReader(sock, self.agi_buf_len, self.timeout)
        try:
            r.env = self.env_pairs()
            for key, value in r.env:
                self._send(f"{key}: {value}")
            self._send("")
            self._loop()
        finally:
            if self.sighup:
                self._send("HANGUP")          # at teardown, always (§4.2); errors ignored
            try:
                sock.close()
            except OSError:
                pass
        return self._finish()

    def _finish(self) -> CallResult:
        r, ch = self.result, self.channel
        r.agistatus = self._status
        r.hungup = ch.hungup
        r.variables = dict(ch.variables)
        r.variables.update(ch.functions)
        r.elapsed_ms = self.elapsed_ms
        r.raw_sent = bytes(self._sent)
        r.raw_received = bytes(self._reader.received) if self._reader else b""
        r.music = self._music
        r.continuation = None if ch.hungup else (ch.context, ch.exten, _next_priority(ch.priority))
        return r

    def _loop(self) -> None:
        r, ch = self.result, self.channel
        assert self._reader is not None
        while True:
            if self._needhup:
                self._needhup = False
                self._dead = True
                if self.sighup:
                    self._send("HANGUP")
                if self.exit_on_hangup:
                    r.closed_by = "asterisk"
                    return
            if not self._dead and not ch.hungup:
                if self._autohangup_at is not None and self.elapsed_ms >= self._autohangup_at:
                    self._channel_gone("autohangup")
                    continue
                if self.caller.between_commands():
                    self._channel_gone("caller")
                    continue
            try:
                if self._reader.buffered and not self._readable(self.timeout):
                    r.notes.append("stalled: a pipelined command sat in Asterisk's stdio buffer "
                                   "while the socket stayed idle (§2.1 no pipelining)")
                    r.timed_out, r.closed_by = True, "asterisk"
                    return
                line = self._reader.read_command()
                if self._last_sent_at is not None and line is not None:
                    r.turnaround_ms.append((time.perf_counter() - self._last_sent_at) * 1000)
                    self._last_sent_at = None
            except ReadTimeout:
                r.notes.append(f"no command from the server for {self.timeout} s")
                r.timed_out, r.closed_by = True, "asterisk"
                return
            if line is None:
                r.closed_by = "server"
                return
            text = line.rstrip(b"\n").decode("utf-8", "surrogateescape")
            r.transcript.append(("S>", text))
            if isinstance(line, Failure):
                self._status = "FAILURE"
                r.closed_by = "asterisk"
                return
            self._handle(text)

    def _handle(self, text: str) -> None:
        argv = parse_args(text)
        self.result.commands.append(argv)
        cmd = find_command(argv)
        if cmd is None:
            self._error(MSG_510)
            return
        if self._dead and not cmd.dead:
            self._error(MSG_511)
            return
        res = getattr(self, "h_" + cmd.handler)(argv)
        if res == RESULT_SHOWUSAGE:
            if cmd.usage:
                self._error(MSG_520_HEAD)
                self._send(cmd.usage)             # one write: the paragraphs and an empty line
                self._send(MSG_520_TAIL)
            else:
                self._error(MSG_520_NONE)
        elif res == RESULT_FAILURE and not self._dead and not self.channel.hungup:
            self._status = "FAILURE"

    # --- helpers used by the handlers -------------------------------------------------------

    def _send(self, line: str) -> None:
        """One ``ast_agi_send()``: ``line`` plus ``\\n`` in a single write; errors are ignored."""
        data = (line + "\n").encode("utf-8", "surrogateescape")
        if self._sock is None:
            return
        try:
            self._sock.sendall(data)
        except OSError as exc:
            self.result.notes.append(f"write failed ({exc.__class__.__name__}): {line!r}")
            return
        self._sent += data
        self._last_sent_at = time.perf_counter()
        for part in line.split("\n"):
            self.result.transcript.append(("A>", part))

    def _error(self, line: str) -> None:
        self.result.errors.append(line)
        self._send(line)

    def _readable(self, wait: float) -> bool:
        assert self._sock is not None
        try:
            return bool(select.select([self._sock], [], [], max(0.0, wait))[0])
        except (OSError, ValueError):
            return True

    def _advance(self, ms: int, watch: bool = False) -> bool:
        """Let ``ms`` of call time pass. With ``watch`` (commands that pass the socket to
        ``ast_waitstream_full``/``ast_waitfordigit_full``), returns True if the socket became
        readable meanwhile: such a command is interrupted (§2.7)."""
        ms = max(0, int(ms))
        self.elapsed_ms += ms
        wait = ms / 1000 * self.realtime if self.realtime > 0 else 0.0
        if watch:
            return self._readable(wait)
        if wait:
            time.sleep(wait)
        return False

    def _autohangup_cut(self, until_ms: int) -> int | None:
        """If SET AUTOHANGUP fires within the next ``until_ms``, when (from now)."""
        if self._autohangup_at is None:
            return None
        left = self._autohangup_at - self.elapsed_ms
        return max(0, left) if left <= until_ms else None

    def _channel_gone(self, by: str) -> None:
        """The channel hung up; the loop sends HANGUP at its next turn and goes dead (§4.1)."""
        ch = self.channel
        if ch.hungup:
            return
        ch.hungup = True
        self._needhup = True
        self._music = None
        self.result.hangup_by = by
        if self._status == "SUCCESS":
            self._status = "HANGUP"
        if by != "caller":
            self.caller.on_event("hangup", by)


def _next_priority(priority: int | str) -> int | str:
    return priority + 1 if isinstance(priority, int) else priority
