"""Runs a CallSession over one AGI channel: actions become AGI commands, results become events."""
from __future__ import annotations

import logging
import os
import re
import wave
from collections.abc import Callable
from datetime import datetime, time

from core.cooperative import offload
from flow.actions import (HANGUP, CollectDigits, CollectSpeech, HandOff, Hangup, Play, PlayText,
                          RecordMessage, SayDate, SayDigits)
from flow.events import CallStarted, Digits, HungUp, NoInput, Recorded, Speech
from flow.session import CallSession
from ivr import variables as V
from ivr.agi.channel import AGIChannel, AGIError, AGIHangup
from ivr.media import Media

log = logging.getLogger(__name__)

# a prompt path the dialplan may put in Playback(): nothing Asterisk would read as a separator
_ANNOUNCEABLE = re.compile(r"^[A-Za-z0-9_./+-]{1,200}$")


class AGIDriver:
    def __init__(self, chan: AGIChannel, session: CallSession, media: Media,
                 clock: Callable[[], datetime], zone,
                 listen: Callable[[str], tuple[str, float]] | None = None, announce: bool = False,
                 offload_steps: bool = False) -> None:
        # offload_steps: each step of the flow (which reads and writes the database through its
        # services) runs on a worker thread, not on the hub: on PostgreSQL a step waits for the
        # network, and on the hub that wait would hold up every call the hub runs
        self._step = offload if offload_steps else _direct
        # listen: under EAGI, recognise the caller's audio on fd 3 as it arrives (no RECORD FILE)
        self.listen = listen
        # announce: the dialplan plays HOTLINE_ANNOUNCE before it acts on HOTLINE_ACTION (announce=1
        # in the AGI URL), so the prompts that end a session travel in the end-of-call variables
        self.announce = announce
        self._announcement: list[str] = []
        self.chan = chan
        self.session = session
        self.media = media
        self.clock = clock
        self.zone = zone
        self._utterances = 0

    def run(self, started: CallStarted) -> None:
        try:
            actions = self._step(self.session.begin, started)
            while actions:
                event = self._perform(actions)
                if event is None:
                    break
                actions = self._step(self.session.feed, event)
        except AGIHangup:
            self._step(self.session.feed, HungUp()) if self.session.state else None
        except Exception as exc:  # noqa: BLE001 - never leave a caller in silence
            log.exception("call %s: channel error", started.call_id)
            fallback = self._step(self.session.fail, f"{exc.__class__.__name__} in the AGI driver")
            try:
                if fallback and not self.chan.hung_up:
                    self._perform(fallback)
            except Exception:  # noqa: BLE001
                log.exception("call %s: fall-back failed", started.call_id)
        self._export_variables()

    # -- actions -----------------------------------------------------------------------------
    def _perform(self, actions: list):
        """Each action as AGI commands, with as few round trips as the caller cannot tell apart:

        * an interruptible prompt right before a digit collection is joined to the collection's
          own prompt (``Media.chain``) and played by its GET DATA: one command, and any key pressed
          during the first prompt is already the caller's answer;
        * with ``announce``, the uninterruptible prompts that end the session are not streamed but
          handed to the dialplan in HOTLINE_ANNOUNCE, which plays them before the transfer.
        """
        lang = self.session.state.language
        last = len(actions) - 1
        closing = self._closing_prompts(actions, lang) if self.announce else None
        for i, action in enumerate(actions):
            if closing is not None and i == closing[0]:
                self._announcement = closing[1]
                return None
            if isinstance(action, Play):
                after = actions[i + 1] if i < last else None
                if action.barge_in and isinstance(after, CollectDigits) and after.prompt:
                    joined = self.media.chain(action.prompt, after.prompt, lang)
                    if joined is not None:
                        return self._collect_digits(after, lang, joined)
                event = self._play(self.media.prompt(action.prompt, lang), action.barge_in)
            elif isinstance(action, PlayText):
                path = offload(self.media.text_audio, action.text, lang, action.audio)   # espeak-ng may run
                event = self._play(path, action.barge_in) if path else None
            elif isinstance(action, SayDigits):
                digits = "".join(ch for ch in action.digits if ch in "0123456789")
                parts = self.media.digit_prompts(digits, lang) if digits else None
                # one command, EXEC Playback a&b&c, when Asterisk will read every path whole and
                # the line stays well inside its AGI buffer (a 13-digit ticket: about 800 bytes)
                if parts and all(_ANNOUNCEABLE.match(p) for p in parts) and len("&".join(parts)) <= 1200:
                    event = self._play_all(parts)
                else:       # Asterisk's own digits (sounds/<language>/digits/N from its sound pack)
                    event = self._say("SAY DIGITS", digits)
            elif isinstance(action, SayDate):
                # said by the engine: Asterisk's SAY DATE has no Chinese grammar (English order,
                # digits/day-N and digits/mon-N files); it is the fall-back without synthesis
                path = offload(self.media.date_audio, action.day, lang)
                if path:
                    event = self._play(path, "")
                else:
                    noon = datetime.combine(action.day, time(12), tzinfo=self.zone)
                    event = self._say("SAY DATE", str(int(noon.timestamp())))
            elif isinstance(action, CollectDigits):
                return self._collect_digits(action, lang)
            elif isinstance(action, CollectSpeech):
                return self._collect_speech(action, lang)
            elif isinstance(action, RecordMessage):
                return self._record_message(action, lang)
            elif isinstance(action, (HandOff, Hangup)):
                return None
            else:
                raise TypeError(f"unknown action {action!r}")
            if event is not None:
                return event
        return None

    def _closing_prompts(self, actions: list, lang: str) -> tuple[int, list[str]] | None:
        """(index, paths) of the plain prompts that end a session's last turn, or None."""
        if not actions or not isinstance(actions[-1], (HandOff, Hangup)):
            return None
        first, paths = len(actions) - 1, []
        while first > 0 and isinstance(actions[first - 1], Play) and not actions[first - 1].barge_in:
            path = self.media.prompt(actions[first - 1].prompt, lang)
            if not _ANNOUNCEABLE.match(path):
                break
            first -= 1
            paths.insert(0, path)
        return (first, paths) if paths and len("&".join(paths)) <= 200 else None

    def _play(self, path: str, barge_in: str):
        result, _ = self.chan.stream(path, barge_in)
        if result > 0:
            return Digits(chr(result))
        if result < 0:
            if not self.chan.alive():
                return HungUp()
            log.error("prompt could not be played: %s", os.path.basename(path))
        return None

    def _play_all(self, paths: list[str]):
        """Several files in one command (``EXEC Playback a&b&c``; no key interrupts it)."""
        self.chan.execute("EXEC", "Playback", "&".join(paths))
        value = self.chan.last.value
        if value is not None and value < 0 and not self.chan.alive():
            return HungUp()
        return None

    def _say(self, command: str, value: str):
        if not value:
            return None
        if self.chan.say(command, value) < 0 and not self.chan.alive():
            return HungUp()
        return None

    def _collect_digits(self, action: CollectDigits, lang: str, prompt: str | None = None):
        if prompt is None:
            prompt = self.media.prompt(action.prompt, lang) if action.prompt else ""
        digits, _timed_out = self.chan.get_digits(prompt, action.timeout_ms, action.max_digits)
        if digits is None:
            return HungUp() if not self.chan.alive() else NoInput()
        return Digits(digits) if digits else NoInput()

    def _collect_speech(self, action: CollectSpeech, lang: str):
        event = self._play(self.media.prompt(action.prompt, lang), action.barge_in)
        if event is not None:
            return event
        if self.listen is not None:
            text, confidence = self.listen(lang)
            return Speech(text, confidence) if text.strip() else NoInput()
        streaming = self.media.streaming
        if streaming is not None:
            return self._stream_speech(streaming, action)
        self._utterances += 1
        path = str(self.media.utterance_path(self.session.state.call_id, self._utterances))
        resp = self.chan.record(path, "wav", "#" + action.barge_in, action.max_ms, action.silence_s, beep=False)
        if resp.data == "hangup" or resp.result == "-1" and not self.chan.alive():
            return HungUp()
        if resp.data == "dtmf" and (resp.value or 0) > 0 and chr(resp.value) != "#":
            return Digits(chr(resp.value))
        if self.media.recognizer is None or not os.path.exists(path + ".wav"):
            return NoInput()
        try:
            text, confidence = offload(self.media.recognizer.recognize_file, path + ".wav", lang)
        finally:
            _remove_quietly(path + ".wav")
        return Speech(text, confidence) if text.strip() else NoInput()

    def _stream_speech(self, streaming, action: CollectSpeech):
        """EXEC AudioSocket: Asterisk streams the caller's audio here while they speak."""
        key = streaming.expect()
        self.chan.execute("EXEC", "AudioSocket", f"{key},{streaming.address}")
        returned = self.chan.last.value
        kind, value, confidence = streaming.result(key, timeout=action.max_ms / 1000 + 5)
        if returned is not None and returned < 0 and not self.chan.alive():
            return HungUp()
        if kind == "digit":
            return Digits(value)
        return Speech(value, confidence) if kind == "speech" else NoInput()

    def _record_message(self, action: RecordMessage, lang: str):
        event = self._play(self.media.prompt(action.prompt, lang), "")
        if isinstance(event, HungUp):
            return Recorded(path="", duration_ms=0, ended_by="hangup")
        path = str(self.media.message_path(self.session.state.call_id, self.clock()))
        resp = self.chan.record(path, "wav", "#", action.max_ms, action.silence_s, beep=True)
        ended_by = {"dtmf": "dtmf", "timeout": "silence", "hangup": "hangup"}.get(resp.data or "", "error")
        if ended_by == "error" and not self.chan.alive():
            ended_by = "hangup"
        duration = _wav_ms(path + ".wav")
        return Recorded(path=path + ".wav" if duration else "", duration_ms=duration, ended_by=ended_by)

    # -- end of session ----------------------------------------------------------------------
    def _export_variables(self) -> None:
        state = self.session.state
        if state is None:
            return
        if state.route == V.ROUTE_SURVEY:      # same channel as the call: keep its HOTLINE_CALL_ID
            values = [(V.SURVEY_RESULT, state.outcome or "error")]
        else:
            values = [(V.CALL_ID, state.call_id), (V.ACTION, state.action or HANGUP),
                      (V.TARGET, state.target or ""), (V.LANG, state.language)]
        if state.data.get("priority") and state.route != V.ROUTE_SURVEY:
            values.append((V.PRIORITY, str(int(state.data["priority"]))))
        if state.ticket and state.route != V.ROUTE_SURVEY:
            values.append((V.TICKET, state.ticket))
        if self.announce:                       # always set: a later AGI must not replay an old one
            values.append((V.ANNOUNCE, "&".join(self._announcement)))
        try:
            self.chan.set_variables(values)     # EXEC and SET VARIABLE are dead-capable: also after a hang-up
        except (AGIHangup, AGIError, OSError) as exc:
            log.info("call %s: variables not set (%s)", state.call_id, exc.__class__.__name__)


def _direct(fn, *args):
    return fn(*args)


def _wav_ms(path: str) -> int:
    try:
        with wave.open(path, "rb") as w:
            return int(w.getnframes() * 1000 / (w.getframerate() or 8000))
    except (OSError, EOFError, wave.Error):
        return 0


def _remove_quietly(path: str) -> None:
    try:
        os.remove(path)
    except OSError:
        pass
