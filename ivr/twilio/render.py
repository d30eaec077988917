"""One turn of the call flow as TwiML (pure: actions in, a TwiML document out).

A turn is what ``CallSession`` returns: outputs, then one input or one terminal action.

* ``Play(prompt)`` → ``<Play>`` of the engine's prompt audio (``{public_url}/audio/prompts/…``), or
  ``<Say>`` of the prompt's text (recordings/prompts.toml) when ``use_say`` is set or there is
  no audio; ``PlayText`` → ``<Play>`` of the synthesised answer (``/audio/tts/…``) or ``<Say>``.
* ``SayDigits`` → ``<Say>2 0 2 6 …</Say>``; ``SayDate`` → ``<Say>2026年12月25日</Say>``.
* ``CollectSpeech`` / ``CollectDigits`` → ``<Gather action=".../twilio/voice/turn?n=K">`` with the
  turn's outputs nested inside, so a key (or speech) cuts them short like AGI barge-in; Twilio
  goes on to the next verb when nothing was said or pressed, so a ``<Redirect>`` to the same
  turn URL with ``noinput=1`` follows.
* ``RecordMessage`` → ``<Record action=… finishOnKey="#" playBeep="true"
  recordingStatusCallback=…>`` (then the same ``<Redirect>``: an empty recording has no action).
* ``HandOff`` → ``<Enqueue>`` or ``<Dial>`` as configured, whose ``action`` brings the call back
  (``/twilio/voice/after?n=K&kind=queue|leader|emergency``) once the person hangs up or nobody
  answered: the post-call rating, a message, or the agent queue follows, as in the dialplan;
  ``Hangup`` → ``<Hangup/>``.

Caller- or admin-written text is only ever element text or an attribute value, escaped by the
twilio library's XML writer; characters XML cannot carry are removed first.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from twilio.twiml.voice_response import Gather, VoiceResponse

from core.config import dial_target
from flow import prompts as P
from flow.language import LANGUAGES
from flow.actions import (EMERGENCY, LEADER, QUEUE, CollectDigits, CollectSpeech, HandOff, Hangup, Play,
                          PlayText, RecordMessage, SayDate, SayDigits)

TURN_PATH = "/twilio/voice/turn"
AFTER_PATH = "/twilio/voice/after"
RECORDING_PATH = "/twilio/recording"
SAY_MAX_CHARS = 4000          # Twilio's <Say> takes at most 4,096 characters


class Audio(Protocol):
    """Where the engine's audio for a prompt or a text is served (an absolute URL), if it has any."""

    def prompt_url(self, prompt: str, language: str) -> str | None: ...

    def text_url(self, text: str, language: str, recorded: str | None) -> str | None: ...


class NoAudio:
    """Everything is said with Twilio's voices."""

    def prompt_url(self, prompt: str, language: str) -> str | None:
        return None

    def text_url(self, text: str, language: str, recorded: str | None) -> str | None:
        return None


@dataclass(frozen=True)
class TwilioOptions:
    """The deployment's Twilio settings, as plain data (see core.config, group "twilio")."""

    public_url: str
    texts: Mapping[str, Mapping[str, str]] = field(default_factory=dict)   # prompt id → lang → text
    use_say: bool = False
    voices: Mapping[str, str] = field(default_factory=dict)
    say_languages: Mapping[str, str] = field(default_factory=dict)
    gather_languages: Mapping[str, str] = field(default_factory=dict)
    queue_targets: Mapping[str, str] = field(default_factory=dict)
    emergency_numbers: Mapping[str, str] = field(default_factory=dict)
    leader_seats: Mapping[str, str] = field(default_factory=dict)
    default_language: str = "cmn"

    @classmethod
    def from_settings(cls, settings, texts: Mapping[str, Mapping[str, str]]) -> "TwilioOptions":
        return cls(public_url=settings.twilio_public_url, texts=texts, use_say=settings.twilio_use_say,
                   voices=dict(settings.twilio_voices), say_languages=dict(settings.twilio_say_languages),
                   gather_languages=dict(settings.twilio_languages),
                   queue_targets=dict(settings.twilio_queue_numbers),
                   emergency_numbers=dict(settings.twilio_emergency_numbers),
                   leader_seats=dict(settings.twilio_leader_seats),
                   default_language=settings.default_language)


@dataclass(frozen=True)
class Turn:
    """What rendering one turn needs to know about the call."""

    language: str                # cmn | yue | hak
    next_turn: int               # the n of the request that brings this turn's input back
    fallback_queue: str          # the call's agent queue, for hand-offs nobody configured


def turn_url(public_url: str, n: int, noinput: bool = False) -> str:
    return f"{public_url}{TURN_PATH}?n={n}" + ("&noinput=1" if noinput else "")


def after_url(public_url: str, n: int, kind: str) -> str:
    return f"{public_url}{AFTER_PATH}?n={n}&kind={kind}"


def speakable(text: str, limit: int = SAY_MAX_CHARS) -> str:
    """Text as <Say> can carry it: no control or other characters XML 1.0 cannot hold, one line."""
    cleaned = "".join(ch if ch.isprintable() else " " for ch in str(text))
    return " ".join(cleaned.split())[:limit]


def spaced_digits(digits: str) -> str:
    return " ".join(ch for ch in digits if ch.isdigit())


def chinese_date(day) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def render(actions: list, turn: Turn, opts: TwilioOptions, audio: Audio | None = None) -> str:
    return str(_Renderer(turn, opts, audio or NoAudio()).response(actions))


def nothing() -> str:
    """An empty document: for a call Twilio has already moved elsewhere."""
    return str(VoiceResponse())


def fallback(turn: Turn, opts: TwilioOptions, audio: Audio | None = None) -> str:
    """Something went wrong: the caller is told and goes to a person (never left in silence)."""
    return render([Play(P.TRANSFER_ERROR), HandOff(QUEUE, turn.fallback_queue)], turn, opts, audio)


class _Renderer:
    def __init__(self, turn: Turn, opts: TwilioOptions, audio: Audio) -> None:
        self.turn = turn
        self.opts = opts
        self.audio = audio
        self.lang = turn.language if turn.language in LANGUAGES else opts.default_language

    # -- the document ----------------------------------------------------------------------
    def response(self, actions: list) -> VoiceResponse:
        resp = VoiceResponse()
        outputs: list = []
        for action in actions:
            if isinstance(action, (Play, PlayText, SayDigits, SayDate)):
                outputs.append(action)
            elif isinstance(action, (CollectDigits, CollectSpeech)):
                gather = self._gather(action)
                for out in outputs + ([Play(action.prompt)] if action.prompt else []):
                    self._output(gather, out)
                resp.append(gather)
                resp.redirect(turn_url(self.opts.public_url, self.turn.next_turn, noinput=True), method="POST")
                return resp
            elif isinstance(action, RecordMessage):
                for out in outputs + [Play(action.prompt)]:
                    self._output(resp, out)
                self._record(resp, action)
                resp.redirect(turn_url(self.opts.public_url, self.turn.next_turn, noinput=True), method="POST")
                return resp
            elif isinstance(action, HandOff):
                for out in outputs:
                    self._output(resp, out)
                self._hand_off(resp, action)
                return resp
            elif isinstance(action, Hangup):
                break
            else:
                raise TypeError(f"unknown action {action!r}")
        for out in outputs:
            self._output(resp, out)
        resp.hangup()           # a turn with no input and no hand-off ends the call
        return resp

    # -- outputs -----------------------------------------------------------------------------
    def _output(self, parent, action) -> None:
        if isinstance(action, Play):
            url = None if self.opts.use_say else self.audio.prompt_url(action.prompt, self.lang)
            if url:
                parent.play(url)
            else:
                self._say(parent, self._prompt_text(action.prompt))
        elif isinstance(action, PlayText):
            url = None if self.opts.use_say else self.audio.text_url(action.text, self.lang, action.audio)
            if url:
                parent.play(url)
            else:
                self._say(parent, action.text)
        elif isinstance(action, SayDigits):
            self._say(parent, spaced_digits(action.digits))
        elif isinstance(action, SayDate):
            self._say(parent, chinese_date(action.day))

    def _prompt_text(self, prompt: str) -> str:
        """The text in the language the <Say> voice speaks: Twilio has no Hakka voice, so a Hakka
        call's prompts (romanised for espeak-ng) are said from the Mandarin text by the Mandarin voice."""
        texts = self.opts.texts.get(prompt, {})
        spoken = (self.opts.say_languages.get(self.lang) or self.lang).split("-")[0].lower()
        lang = spoken if spoken in LANGUAGES else self.lang
        return texts.get(lang) or texts.get(self.opts.default_language) or texts.get("cmn", "")

    def _say(self, parent, text: str) -> None:
        text = speakable(text)
        if not text:
            return
        attrs = {}
        voice = self.opts.voices.get(self.lang)
        language = self.opts.say_languages.get(self.lang)
        if voice:
            attrs["voice"] = voice
        if language:
            attrs["language"] = language
        parent.say(text, **attrs)

    # -- inputs ------------------------------------------------------------------------------
    def _gather(self, action) -> Gather:
        attrs = {"action": turn_url(self.opts.public_url, self.turn.next_turn), "method": "POST"}
        language = self.opts.gather_languages.get(self.lang)
        if language:
            attrs["language"] = language
        if isinstance(action, CollectSpeech):
            # speech or one key (0 person, 1 progress, 2 message, 9 leader); the words as said
            attrs.update(input="speech dtmf", num_digits=1, timeout=max(3, action.silence_s + 2),
                         speech_timeout=max(1, action.silence_s), profanity_filter="false")
        else:
            attrs.update(input="dtmf", num_digits=max(1, action.max_digits),
                         timeout=max(1, math.ceil(action.timeout_ms / 1000)))
            if action.max_digits > 1:
                attrs["finish_on_key"] = "#"
        return Gather(**attrs)

    def _record(self, resp: VoiceResponse, action: RecordMessage) -> None:
        resp.record(action=turn_url(self.opts.public_url, self.turn.next_turn), method="POST",
                    max_length=max(1, math.ceil(action.max_ms / 1000)), timeout=max(1, action.silence_s),
                    finish_on_key="#", play_beep=True, trim="trim-silence",
                    recording_status_callback=f"{self.opts.public_url}{RECORDING_PATH}",
                    recording_status_callback_method="POST", recording_status_callback_event="completed")

    # -- terminals ---------------------------------------------------------------------------
    def _hand_off(self, resp: VoiceResponse, action: HandOff) -> None:
        opts, dest = self.opts, None
        if action.action == QUEUE:
            dest = opts.queue_targets.get(action.target, action.target)
        elif action.action == LEADER:
            dest = opts.leader_seats.get(action.target)
        elif action.action == EMERGENCY:
            dest = opts.emergency_numbers.get(action.target)
        kind = action.action if action.action in (QUEUE, LEADER, EMERGENCY) else QUEUE
        if not dest:            # nothing configured for Twilio: a person takes the call
            dest, kind = opts.queue_targets.get(self.turn.fallback_queue, self.turn.fallback_queue), QUEUE
        # the call comes back here when the person hangs up or nobody answers (turn 0 is a
        # fall-back outside any stored call: nothing to come back to)
        attrs = ({"action": after_url(opts.public_url, self.turn.next_turn, kind), "method": "POST"}
                 if self.turn.next_turn > 0 else {})
        if dial_target(dest):
            dial = resp.dial(**attrs)
            if dest.startswith(("sip:", "sips:")):
                dial.sip(dest)
            else:
                dial.number(dest)
        else:
            resp.enqueue(dest, **attrs)
