"""Runs the call flow over Twilio webhooks: one turn per request, the state in the database.

Like ``ivr.agi.driver`` it turns channel results into flow events and flow actions into
channel commands — here a TwiML document per webhook. Between webhooks the call's
``CallState`` lives in ``twilio_calls`` keyed by CallSid, so any engine process serves any turn.

One turn:

1. a turn already served (a Twilio retry, a duplicate delivery) gets its stored TwiML back,
   byte for byte, and nothing runs;
2. otherwise the request claims the call (``store.claim``), rebuilds the ``CallSession`` from
   the stored state, feeds it the event built from the form, renders the actions, and stores
   the new state with the turn's TwiML in one transaction (``store.save``);
3. a second delivery arriving while the first is still running waits for its TwiML.

Whatever goes wrong inside a turn, the caller is told and handed to a person.
"""
from __future__ import annotations

import logging
import math
import re
import secrets
import time
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol

from sqlalchemy.exc import IntegrityError, OperationalError

from core.config import PROJECT_ROOT
from core.ids import new_call_id
from flow import prompts as P
from flow.actions import EMERGENCY, LEADER, QUEUE, HandOff, Play
from flow.citizen import CitizenFlow
from flow.actions import Hangup
from flow.events import CallStarted, Digits, Event, HungUp, NoInput, Recorded, Speech
from flow.session import CallSession
from flow.state import CallState
from ivr.media import Media
from ivr.twilio import recordings, store
from ivr.twilio.render import Turn, TwilioOptions, nothing, render
from ivr.twilio.render import fallback as render_fallback
from tickets.lifecycle import ConcurrentUpdate

log = logging.getLogger(__name__)

CALL_SID = re.compile(r"CA[0-9a-f]{32}")
RECORDING_SID = re.compile(r"RE[0-9a-f]{32}")
DIGITS = re.compile(r"[0-9*#]{0,40}")
RECORDING_URL = re.compile(r"https://[A-Za-z0-9.-]{1,100}(?::[0-9]{1,5})?/[A-Za-z0-9._~/%-]{1,200}")
TTS_NAME = re.compile(r"[0-9a-f]{32}")
ENDED = ("completed", "busy", "failed", "no-answer", "canceled")
CALL_STATUSES = ("queued", "initiated", "ringing", "in-progress", *ENDED)
HAND_OFF_KINDS = (QUEUE, LEADER, EMERGENCY)
# what Twilio reports when a hand-off ends (<Enqueue action> QueueResult, <Dial action>
# DialCallStatus), as the words the dialplan reports from Asterisk (callers.calls.AGENT_STATUSES)
QUEUE_RESULTS = ("bridged", "bridging-in-process", "redirected-from-bridged", "queue-full", "hangup", "leave",
                 "redirected", "error", "system-error", "system-shutdown")
DIAL_STATUSES = ("completed", "answered", "busy", "no-answer", "failed", "canceled")
_ANSWERED = ("bridged", "redirected-from-bridged", "completed", "answered")
# moved elsewhere through the REST API (e.g. by TaskRouter): Twilio runs none of our TwiML now
_MOVED = ("redirected", "redirected-from-bridged")
_NOT_ANSWERED_AS = {
    QUEUE: {"queue-full": "FULL", "leave": "LEAVEEMPTY", "no-answer": "TIMEOUT", "busy": "JOINUNAVAIL",
            "failed": "JOINUNAVAIL"},
    LEADER: {"busy": "BUSY", "no-answer": "NOANSWER", "failed": "CHANUNAVAIL", "queue-full": "BUSY",
             "canceled": "CANCEL"},
}
_NOT_ANSWERED_AS[EMERGENCY] = _NOT_ANSWERED_AS[LEADER]
SPEECH_MAX_CHARS = 2000       # more than any utterance a <Gather> returns; longer is refused
TRANSCRIPT_CHARS = 500        # what the flow keeps of one utterance


class BadRequest(ValueError):
    """A form field is missing or malformed; the message says which (answered with 400)."""


class OutOfTurn(RuntimeError):
    """A turn that is neither the next one nor one already served (answered with 409)."""


# -- form fields → values and events ------------------------------------------------------------
def call_sid(form: Mapping[str, str]) -> str:
    sid = form.get("CallSid", "")
    if not CALL_SID.fullmatch(sid):
        raise BadRequest("CallSid is missing or malformed")
    return sid


def printable(text: str | None, limit: int) -> str:
    return "".join(ch for ch in (text or "") if ch.isprintable())[:limit]


def _seconds(raw: str | None, name: str) -> int:
    if raw in (None, ""):
        return 0
    if not re.fullmatch(r"-?[0-9]{1,7}", raw):
        raise BadRequest(f"{name} is not a whole number of seconds")
    return max(0, int(raw))


def recording_url(raw: str | None) -> str:
    if not raw or len(raw) > 255 or not RECORDING_URL.fullmatch(raw):
        raise BadRequest("RecordingUrl is missing or not an https URL")
    return raw


def _confidence(raw: str | None) -> float:
    if raw in (None, ""):
        return 0.0
    try:
        value = float(raw)
    except ValueError:
        raise BadRequest("Confidence is not a number") from None
    if not math.isfinite(value):
        raise BadRequest("Confidence is not a number")
    return min(1.0, max(0.0, value))


def event_from_form(form: Mapping[str, str], *, noinput: bool = False) -> Event:
    """The flow event a turn request carries (the result of the previous turn's input)."""
    digits = form.get("Digits", "")
    if digits != "hangup" and not DIGITS.fullmatch(digits):
        raise BadRequest("Digits must be at most 40 of 0-9 * #")
    status = form.get("CallStatus", "")
    if status and status not in CALL_STATUSES:
        raise BadRequest("CallStatus is not a Twilio call status")
    if noinput:                     # the <Redirect> after a <Gather>/<Record> that got nothing
        return HungUp() if status in ENDED else NoInput()
    if form.get("RecordingUrl"):
        url = recording_url(form.get("RecordingUrl"))
        seconds = _seconds(form.get("RecordingDuration"), "RecordingDuration")
        ended_by = "hangup" if digits == "hangup" or status in ENDED else ("dtmf" if digits else "silence")
        return Recorded(path=url, duration_ms=seconds * 1000, ended_by=ended_by)
    if digits == "hangup":
        return HungUp()
    if digits:
        return Digits(digits)
    speech = form.get("SpeechResult")
    if speech:
        if len(speech) > SPEECH_MAX_CHARS:
            raise BadRequest("SpeechResult is too long")
        confidence = _confidence(form.get("Confidence"))
        text = " ".join(printable(" ".join(speech.split()), TRANSCRIPT_CHARS).split())
        if text:
            return Speech(text, confidence)
    if status in ENDED:
        return HungUp()
    return NoInput()


@dataclass(frozen=True)
class AfterHandOff:
    """How a hand-off ended, from the <Enqueue>/<Dial> action request."""

    kind: str                    # queue | leader | emergency (the engine wrote it into the action URL)
    answered: bool               # a person took the call (and has hung up since)
    caller_gone: bool            # the caller hung up (in the queue, or while the seat rang)
    status: str                  # as the dialplan would report it: CONTINUE, FULL, ANSWER, BUSY, … '' = abandoned
    moved: bool = False          # the call was redirected elsewhere: nothing more of ours is played


def after_from_form(kind: str, form: Mapping[str, str]) -> AfterHandOff:
    if kind not in HAND_OFF_KINDS:
        raise BadRequest("kind must be queue, leader or emergency")
    status = form.get("CallStatus", "")
    if status and status not in CALL_STATUSES:
        raise BadRequest("CallStatus is not a Twilio call status")
    if form.get("QueueResult"):
        result = form["QueueResult"]
        if result not in QUEUE_RESULTS:
            raise BadRequest("QueueResult is not a Twilio queue result")
    elif form.get("DialCallStatus"):
        result = form["DialCallStatus"]
        if result not in DIAL_STATUSES:
            raise BadRequest("DialCallStatus is not a Twilio dial status")
    else:
        raise BadRequest("QueueResult or DialCallStatus is missing")
    # only the call's own status says the caller has gone ("canceled" is a dial cancelled through the
    # REST API; "bridging-in-process" a bridge that may never have been made: neither was answered)
    answered = result in _ANSWERED
    gone = result == "hangup" or status in ENDED
    if answered:
        word = "CONTINUE" if kind == QUEUE else "ANSWER"
    elif result == "hangup":
        word = ""
    else:
        word = _NOT_ANSWERED_AS[kind].get(result, "UNKNOWN" if kind == QUEUE else "CHANUNAVAIL")
    return AfterHandOff(kind=kind, answered=answered, caller_gone=gone, status=word, moved=result in _MOVED)


@dataclass(frozen=True)
class CallStart:
    """What the first webhook says about the call."""

    call_sid: str
    caller: str | None           # From, as Twilio gave it (normalised by the session)
    caller_name: str | None
    dialled: str                 # To
    language: str
    mode: str = "normal"


# -- the engine's audio over HTTP ------------------------------------------------------------------
class EngineAudio:
    """Prompt and synthesised audio as URLs under the web listener's /audio/ routes."""

    def __init__(self, media: Media, public_url: str, tts_dir: Path) -> None:
        self.media = media
        self.public_url = public_url
        self.tts_dir = Path(tts_dir).resolve()

    def prompt_url(self, prompt: str, language: str) -> str | None:
        path = Path(self.media.prompt(prompt, language) + ".wav")
        if not path.is_file():
            return None
        return f"{self.public_url}/audio/prompts/{path.parent.name}/{path.name}"

    def text_url(self, text: str, language: str, recorded: str | None) -> str | None:
        if recorded:            # a recorded answer lives outside what the web listener serves
            return None
        base = self.media.text_audio(text, language)
        if not base:
            return None
        path = Path(base + ".wav").resolve()
        if path.parent.parent != self.tts_dir or not TTS_NAME.fullmatch(path.stem) or not path.is_file():
            return None
        return f"{self.public_url}/audio/tts/{path.parent.name}/{path.name}"


def tts_dir(media: Media, data_dir: Path) -> Path:
    return Path(getattr(media.synthesize, "cache_dir", None) or Path(data_dir) / "tts")


def load_prompt_texts(prompt_dir: Path) -> dict:
    """recordings/prompts.toml (next to the prompt directory, else the project's own)."""
    for path in (Path(prompt_dir).parent / "prompts.toml", PROJECT_ROOT / "recordings" / "prompts.toml"):
        try:
            with open(path, "rb") as fh:
                return tomllib.load(fh)
        except FileNotFoundError:
            continue
        except tomllib.TOMLDecodeError as exc:
            log.error("twilio: prompt texts %s unreadable (%s); prompts without audio are skipped", path, exc)
            return {}
    log.warning("twilio: no prompts.toml; prompts without audio are skipped")
    return {}


# -- the driver ------------------------------------------------------------------------------------
class Runtime(Protocol):
    """What the Twilio channel needs from the composition root (hotline.bootstrap.Engine)."""

    settings: object
    db: object
    media: Media
    services: object
    calls: object
    timing: object

    def clock(self) -> datetime: ...

    def new_session(self, route: str) -> CallSession: ...

    def record_outcome(self, call_id: str, kind: str, status: str) -> bool: ...


class _SpeechByTwilio:
    """Twilio recognises speech itself (<Gather input="speech">): the flow always offers speech."""

    speech_available = True

    def __init__(self, services) -> None:
        self._services = services

    def __getattr__(self, name: str):
        return getattr(self._services, name)


class TwilioDriver:
    def __init__(self, runtime: Runtime, opts: TwilioOptions, audio, *, claim_s: float = 30.0,
                 wait_s: float = 10.0) -> None:
        self.rt = runtime
        self.db = runtime.db
        self.opts = opts
        self.audio = audio
        self.claim = timedelta(seconds=claim_s)
        self.wait_s = wait_s

    @classmethod
    def from_engine(cls, engine, **kw) -> "TwilioDriver":
        s = engine.settings
        opts = TwilioOptions.from_settings(s, load_prompt_texts(s.prompt_dir))
        return cls(engine, opts, EngineAudio(engine.media, s.twilio_public_url, tts_dir(engine.media, s.data_dir)),
                   **kw)

    # -- requests ------------------------------------------------------------------------------
    def start(self, call: CallStart) -> str:
        """POST /twilio/voice: the call's first turn (turn 0)."""
        sid = call.call_sid
        served = self._served(sid, 0)
        if served is not None:
            return served
        token, now = secrets.token_hex(16), self.rt.clock()
        try:
            mine = self.db.write(lambda s: store.create(s, sid, new_call_id(), token, now, now + self.claim))
        except IntegrityError:          # PostgreSQL: another node inserted it first
            mine = False
        if not mine and not self.db.write(lambda s: store.claim(s, sid, token, now, now + self.claim, after_turn=-1)):
            return self._wait_for(sid, 0, call.language)
        row = self._load(sid)
        started = CallStarted(call_id=row.call_id, channel="twilio", channel_ref=sid, caller_number=call.caller,
                              caller_name=call.caller_name, language=call.language, dnid=call.dialled,
                              mode=call.mode)
        session = self._session(None)
        try:
            actions = session.begin(started)
        except Exception:  # noqa: BLE001 - begin never raises today; a caller is never left waiting
            log.exception("twilio call %s: start failed", started.call_id)
            self._release(sid, token)
            return self.fallback(call.language)
        return self._finish(sid, token, 0, session, actions)

    def turn(self, sid: str, n: int, event: Event) -> str:
        """POST /twilio/voice/turn?n=K: the result of turn K-1's input; serves turn K."""
        served = self._served(sid, n)
        if served is not None:
            return served
        row = self._load(sid)
        if row is None:
            log.warning("twilio: turn %d of a call this engine never started; to a person", n)
            return self.fallback(self.rt.settings.default_language)
        if row.done or row.turn != n - 1:
            return self._served_or_out_of_turn(sid, n, row.turn, done=row.done)
        token, now = secrets.token_hex(16), self.rt.clock()
        if not self.db.write(lambda s: store.claim(s, sid, token, now, now + self.claim, after_turn=n - 1)):
            return self._wait_for(sid, n, _language(row.state, self.rt.settings.default_language))
        try:
            row = self._load(sid)       # the state as of the claim (a status callback may have run)
            session = self._session(CallState.from_json(row.state))
            actions = session.feed(event)
        except Exception:  # noqa: BLE001 - e.g. a state this version cannot read: to a person
            log.exception("twilio call %s: turn %d failed before the flow ran", row.call_id, n)
            self._release(sid, token)
            return self.fallback(_language(row.state, self.rt.settings.default_language))
        return self._finish(sid, token, n, session, actions)

    def after(self, sid: str, n: int, ended: AfterHandOff) -> str:
        """POST /twilio/voice/after?n=K&kind=…: the hand-off of turn K-1 ended. As in the
        dialplan: the outcome goes on the call record; a person answered → the rating (queue,
        leader seat); the queue did not answer → a message; a seat or emergency line did not
        answer → the agent queue; the caller gone → nothing more."""
        served = self._served(sid, n)
        if served is not None:
            return served
        row = self._load(sid)
        if row is None:
            log.warning("twilio: hand-off result for a call this engine never started")
            return self._hangup()
        if row.turn != n - 1:
            return self._served_or_out_of_turn(sid, n, row.turn)
        token = secrets.token_hex(16)
        now = self.rt.clock()
        if not self.db.write(lambda s: store.claim(s, sid, token, now, now + self.claim, after_turn=n - 1)):
            return self._wait_for(sid, n, _language(row.state, self.rt.settings.default_language))
        try:
            row = self._load(sid)
            state = CallState.from_json(row.state)
            try:
                self.rt.record_outcome(row.call_id, ended.kind, ended.status)
            except Exception:  # noqa: BLE001 - the report is for figures; the caller goes on
                log.exception("twilio call %s: hand-off outcome not recorded", row.call_id)
            call_id, session, actions = row.call_id, None, []
            # the status callback may have come first: the caller is gone even if this form says not
            gone = ended.caller_gone or row.status in ENDED
            if ended.moved:
                actions = None                # an empty document: Twilio runs nothing of ours now
            elif gone or (ended.answered and ended.kind == EMERGENCY):
                actions = [Hangup()]
            elif ended.answered:
                session = self.rt.new_session("survey")
                actions = session.begin(self._restart(sid, state, new_call_id(), route="survey", subject=row.call_id))
            elif ended.kind == QUEUE:
                call_id = new_call_id()       # a new call record, as the dialplan's message leg has
                session = self._session(None)
                actions = session.begin(self._restart(sid, state, call_id, mode="closed"))
            else:
                actions = [Play(P.TRANSFER_AGENT), HandOff(QUEUE, self.rt.settings.queue_for(state.language))]
        except Exception:  # noqa: BLE001 - a person takes the call
            log.exception("twilio call %s: turn %d (after the hand-off) failed", row.call_id, n)
            self._release(sid, token)
            return self.fallback(_language(row.state, self.rt.settings.default_language))
        if session is None:             # the flow is over; only the TwiML and the turn are stored
            turn = Turn(language=state.language, next_turn=n + 1,
                        fallback_queue=self.rt.settings.queue_for(state.language))
            twiml = render(actions, turn, self.opts, self.audio) if actions is not None else nothing()
            try:
                self.db.write(lambda s: store.save(s, sid, token, state=row.state, done=True, now=now, turn=n,
                                                   twiml=twiml))
            except (store.ClaimLost, IntegrityError):
                return self._served(sid, n) or twiml
            return twiml
        return self._finish(sid, token, n, session, actions, call_id=call_id)

    def _served_or_out_of_turn(self, sid: str, n: int, last: int, done: bool = False) -> str:
        """A duplicate delivery that lost the race to the first one gets the first one's TwiML;
        a late turn of a call whose flow has ended hears the end."""
        served = self._served(sid, n)
        if served is not None:
            return served
        if done:
            return self._hangup()
        raise OutOfTurn(f"turn {n} is not the next turn of this call (last served: {last})")

    @staticmethod
    def _restart(sid: str, state: CallState, call_id: str, **kw) -> CallStarted:
        """The next leg of the same call (the rating, or a message), as the dialplan starts one."""
        return CallStarted(call_id=call_id, channel="twilio", channel_ref=sid, caller_number=state.caller.key or None,
                           caller_name=None, language=state.language, **kw)

    def status(self, sid: str, call_status: str) -> bool:
        """POST /twilio/status: the call ended; its record is closed through the flow (HungUp)."""
        row = self._load(sid)
        if row is None:
            return False
        now = self.rt.clock()
        if call_status not in ENDED:
            self.db.write(lambda s: store.set_status(s, sid, call_status, now))
            return False
        # claimed like a turn, even when the flow looks done: a hand-off's return may be starting
        # the next leg right now, and that leg's record must be closed too
        token = secrets.token_hex(16)
        deadline = time.monotonic() + self.wait_s
        while not self.db.write(lambda s: store.claim(s, sid, token, self.rt.clock(),
                                                      self.rt.clock() + self.claim)):
            if time.monotonic() > deadline:
                log.warning("twilio call %s: still busy at hang-up; the stale-call job closes it", row.call_id)
                return False
            time.sleep(0.05)
        try:
            row = self._load(sid)
            if row.done or not row.state:
                self.db.write(lambda s: store.save(s, sid, token, state=row.state, done=row.done, now=now,
                                                   status=call_status))
                return False
            session = self._session(CallState.from_json(row.state))
            session.feed(HungUp())
            self.db.write(lambda s: store.save(s, sid, token, state=session.state.to_json(), done=session.done,
                                               now=now, status=call_status))
        except BaseException:
            self._release(sid, token)
            raise
        return True

    def recording(self, sid: str, recording_sid: str, url: str, seconds: int) -> list[str]:
        """POST /twilio/recording: attach the finished recording to the call's ticket(s)."""
        row = self._load(sid)
        if row is None:
            return []
        now = self.rt.clock()

        def work(s):
            store.keep_recording(s, sid, recording_sid, url, seconds, now)
            return recordings.attach(s, row.call_id, recording_sid=recording_sid, url=url, seconds=seconds, at=now)

        for attempt in range(3):
            try:
                return self.db.write(work)
            except (ConcurrentUpdate, OperationalError) as exc:   # the ticket changed meanwhile
                if attempt == 2:
                    raise
                log.warning("twilio: recording attach retried after %s", exc.__class__.__name__)
        return []

    # -- inside a turn ---------------------------------------------------------------------------
    def _session(self, state: CallState | None) -> CallSession:
        rt = self.rt
        if state is not None and state.route == "survey":
            session = rt.new_session("survey")
            session.state = state
            return session
        flow = CitizenFlow(_SpeechByTwilio(rt.services), rt.clock, rt.timing)
        return CallSession(flow, rt.calls, rt.clock, rt.settings.queue_for, state=state)

    def _finish(self, sid: str, token: str, n: int, session: CallSession, actions: list,
                call_id: str | None = None) -> str:
        state = session.state
        turn = Turn(language=state.language, next_turn=n + 1, fallback_queue=self.rt.settings.queue_for(state.language))
        try:
            twiml = render(actions, turn, self.opts, self.audio)
        except Exception:  # noqa: BLE001 - a rendering fault still puts the caller through
            log.exception("twilio call %s: turn %d could not be rendered", state.call_id, n)
            twiml = render(session.fail("TwiML rendering failed") or
                           [Play(P.TRANSFER_ERROR), HandOff(QUEUE, turn.fallback_queue)], turn, self.opts)
        now = self.rt.clock()
        try:
            self.db.write(lambda s: store.save(s, sid, token, state=session.state.to_json(), done=session.done,
                                               now=now, turn=n, twiml=twiml, call_id=call_id))
        except store.ClaimLost:
            log.warning("twilio call %s: turn %d was taken over; serving the stored one", state.call_id, n)
            return self._served(sid, n) or twiml
        except IntegrityError:
            return self._served(sid, n) or twiml
        return twiml

    def _wait_for(self, sid: str, n: int, language: str) -> str:
        """Another delivery of this turn is running: its TwiML, once stored."""
        deadline = time.monotonic() + self.wait_s
        while time.monotonic() < deadline:
            served = self._served(sid, n)
            if served is not None:
                return served
            time.sleep(0.05)
        log.warning("twilio: turn %d of %s not served in %.0f s; caller to a person", n, sid[:6], self.wait_s)
        return self.fallback(language)

    def fallback(self, language: str) -> str:
        """The caller is told and goes to a person (the call's state is not touched)."""
        turn = Turn(language=language, next_turn=0, fallback_queue=self.rt.settings.queue_for(language))
        return render_fallback(turn, self.opts, self.audio)

    def _hangup(self) -> str:
        return render([], Turn(self.rt.settings.default_language, 0, ""), self.opts)

    def _release(self, sid: str, token: str) -> None:
        try:
            self.db.write(lambda s: store.release(s, sid, token))
        except Exception:  # noqa: BLE001 - the claim runs out by itself
            log.exception("twilio: claim not released")

    def _served(self, sid: str, n: int) -> str | None:
        with self.db.read_session() as s:
            return store.served(s, sid, n)

    def _load(self, sid: str):
        with self.db.read_session() as s:
            return store.load(s, sid)


def _language(state_json: str, default: str) -> str:
    try:
        return CallState.from_json(state_json).language
    except (ValueError, TypeError, KeyError):
        return default


__all__ = ["TwilioDriver", "CallStart", "AfterHandOff", "BadRequest", "OutOfTurn", "event_from_form",
           "after_from_form", "call_sid",
           "recording_url", "printable", "EngineAudio"]
