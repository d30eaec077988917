"""FastAGI routes: ``hotline`` (a citizen's call), ``survey`` (post-call rating), ``monitoring``.

``agi://host:4573/hotline?lang=yue&mode=closed`` — the script part names the route; query
parameters and ``agi_arg_N`` carry options. ``answered=1``: the dialplan has answered the
channel already, so the engine does not send ANSWER (one round trip less per call).
``announce=1`` (hotline route): the dialplan plays HOTLINE_ANNOUNCE before it acts on
HOTLINE_ACTION, so the prompts that close the session ("transferring you to an agent") are
handed over in the end-of-call variables instead of streamed (one round trip less again).
Unknown routes are refused with a ``failure`` line (AGISTATUS=FAILURE, the dialplan falls back),
never with a traceback.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Protocol
from urllib.parse import parse_qs

from core.cooperative import offload
from core.ids import new_call_id
from flow.events import CallStarted
from flow.language import language_code
from flow.session import CallSession
from ivr import variables as V
from ivr.agi.channel import AGIChannel, AGIError, AGIHangup, read_env
from ivr.agi.driver import AGIDriver
from ivr.agi.protocol import AGIProtocolError
from ivr.media import Media

log = logging.getLogger(__name__)


class Runtime(Protocol):
    """What the routes need from the composition root."""

    media: Media
    zone: object
    default_language: str
    max_line: int

    def clock(self) -> datetime: ...

    def new_session(self, route: str) -> CallSession: ...

    def healthy(self) -> bool: ...

    def record_outcome(self, call_id: str, kind: str, status: str) -> bool: ...

    # True when the database is reached over the network (PostgreSQL): the flow's steps and the
    # routes' own database work then run on worker threads, never on a hub thread (optional)
    offload_db: bool


_SCRIPTS: dict[str, tuple[str, dict[str, str]]] = {}    # a dialplan has a handful of AGI URLs


def _options(env: dict[str, str]) -> tuple[str, dict[str, str], list[str]]:
    script = env.get("agi_network_script", "")
    parsed = _SCRIPTS.get(script)
    if parsed is None:
        name, _, query = script.partition("?")
        parsed = name.strip("/").lower(), {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
        if len(_SCRIPTS) >= 256:
            _SCRIPTS.clear()
        _SCRIPTS[script] = parsed
    name, params = parsed
    args = []                   # agi_arg_1, agi_arg_2, … (Asterisk numbers them from 1, no gaps)
    while len(args) < 63 and (value := env.get(f"agi_arg_{len(args) + 1}")) is not None:
        args.append(value)
    return name, dict(params), args


def started_event(env: dict[str, str], route: str, params: dict[str, str], args: list[str],
                  channel: str, default_language: str) -> CallStarted:
    given = language_code(params.get("lang")) or language_code(args[0] if args else None)
    language = given or language_code(env.get("agi_language")) or default_language
    subject = params.get("call") or params.get("ticket") or (args[0] if route == V.ROUTE_SURVEY and args else "")
    mode = "closed" if params.get("mode") == "closed" else "normal"
    return CallStarted(
        call_id=new_call_id(), channel=channel, channel_ref=env.get("agi_uniqueid", ""),
        caller_number=env.get("agi_callerid"), caller_name=env.get("agi_calleridname"),
        language=language, dnid=env.get("agi_dnid", ""), mode=mode, route=route, subject=subject,
        language_given=given is not None,
    )


class AGIApplication:
    """Dispatches one AGI session (FastAGI socket or AGI script stdio) to its route."""

    def __init__(self, runtime: Runtime, channel: str = "fastagi") -> None:
        self.runtime = runtime
        self.channel = channel
        self.routes: dict[str, Callable[[AGIChannel, dict, dict, list], None]] = {
            V.ROUTE_HOTLINE: self._call,
            V.ROUTE_SURVEY: self._call,
            V.ROUTE_MONITORING: self._monitoring,
            V.ROUTE_OUTCOME: self._outcome,
        }

    def __call__(self, rfile, wfile) -> None:
        try:
            env = read_env(rfile)
        except (AGIHangup, AGIProtocolError) as exc:
            log.warning("AGI session dropped before it started: %s", exc)
            return
        self.dispatch(env, rfile, wfile)

    def dispatch(self, env: dict[str, str], rfile, wfile, route: str | None = None) -> None:
        name, params, args = _options(env)
        if route is not None:        # AGI script: the route is the first argument
            name, args = route, args[1:]
        handler = self.routes.get(name)
        if handler is None:
            log.warning("refusing unknown FastAGI route %r", name[:40])
            try:
                wfile.write(b"failure\n")
                wfile.flush()
            except OSError:
                pass
            return
        chan = AGIChannel(rfile, wfile, max_line=self.runtime.max_line - 2, env=env)
        handler(chan, env, params, args, name)

    def _call(self, chan: AGIChannel, env, params, args, name: str) -> None:
        rt = self.runtime
        started = started_event(env, name, params, args, self.channel, rt.default_language)
        if params.get("answered") != "1":    # the shipped dialplan answers first and says so
            try:
                chan.answer()
            except (AGIHangup, AGIError):
                pass                # the driver notices a hang-up on its first command
        announce = name == V.ROUTE_HOTLINE and params.get("announce") == "1"
        AGIDriver(chan, rt.new_session(name), rt.media, rt.clock, rt.zone, listen=self._eagi_listener(env),
                  announce=announce, offload_steps=self._offload_db).run(started)

    @property
    def _offload_db(self) -> bool:
        return bool(getattr(self.runtime, "offload_db", False))

    def _db_work(self, fn, *args):
        return offload(fn, *args) if self._offload_db else fn(*args)

    def _eagi_listener(self, env: dict[str, str]):
        """EAGI (an AGI script started with EAGI()): audio arrives on fd 3; Vosk streams it."""
        recognizer = self.runtime.media.recognizer
        if self.channel != "agi" or recognizer is None or not hasattr(recognizer, "start_stream"):
            return None
        from speech.eagi import eagi_audio_available, recognize_eagi

        if not eagi_audio_available(env):
            return None
        return lambda language: recognize_eagi(recognizer, language)

    def _monitoring(self, chan: AGIChannel, env, params, args, name: str) -> None:
        status = "OK" if self._db_work(self.runtime.healthy) else "DEGRADED"
        try:
            chan.set_variable(V.STATUS, status)
        except (AGIHangup, AGIError):
            pass

    def _outcome(self, chan: AGIChannel, env, params, args, name: str) -> None:
        """The dialplan reports QUEUESTATUS/DIALSTATUS after a hand-off; nothing is played."""
        call_id, kind, status = (list(args) + ["", "", ""])[:3]
        try:
            self._db_work(self.runtime.record_outcome, call_id, kind, status)
        except ValueError as exc:
            log.warning("outcome report refused: %s", exc)
        except Exception:  # noqa: BLE001 - a report never disturbs the call
            log.exception("outcome report for call %s not recorded", call_id[:32])
