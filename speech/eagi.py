"""Recognising the caller live over EAGI: the audio Asterisk writes on file descriptor 3.

Under ``EAGI(hotline-agi,…)`` Asterisk writes the caller's audio to fd 3 as raw 16-bit signed
linear, 8 kHz, mono (unless ``EAGI_AUDIO_FORMAT`` says otherwise), with no framing, typically
320 bytes every 20 ms (protocol reference §5). It writes while it is idle between AGI commands
and during STREAM FILE / GET DATA / WAIT FOR DIGIT / SAY, but not during RECORD FILE, and drops
what the script does not read. So: play the prompt, then — sending no AGI command — call
:func:`listen`, which reads fd 3 as it arrives, feeds a :class:`~speech.recognizer.StreamSession`
and stops after the caller's trailing silence, the maximum length, or when nobody speaks.

FastAGI has no fd 3 (EAGI does not exist for ``agi://``); it records with RECORD FILE instead.
"""
from __future__ import annotations

import logging
import os
import select
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass

from speech.recognizer import (SILENCE_THRESHOLD, TELEPHONE_RATE, Result, SilenceDetector,
                               StreamSession, empty_result)

log = logging.getLogger(__name__)

AUDIO_FD = 3
READ_BYTES = 4096


@dataclass
class Heard:
    result: Result
    ended_by: str        # silence | max | no_speech | eof | stall | error
    audio_ms: int        # audio read from fd 3
    speech_ms: int       # of which voiced

    @property
    def text(self) -> str:
        return self.result.text

    @property
    def confidence(self) -> float:
        return self.result.confidence


def eagi_audio_available(env: dict[str, str] | None = None, fd: int = AUDIO_FD) -> bool:
    """True when this process runs under EAGI and fd 3 is an open pipe or socket."""
    if env is not None and env.get("agi_enhanced", "0.0") in ("", "0", "0.0"):
        return False
    try:
        mode = os.fstat(fd).st_mode
    except OSError:
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)


def drain(fd: int = AUDIO_FD, limit: int = 1 << 20) -> int:
    """Discard audio already waiting on ``fd`` (what was said during the prompt); bytes dropped."""
    dropped = 0
    while dropped < limit:
        ready, _, _ = select.select([fd], [], [], 0)
        if not ready:
            break
        block = os.read(fd, READ_BYTES)
        if not block:
            break
        dropped += len(block)
    return dropped


def listen(session: StreamSession, fd: int = AUDIO_FD, *, max_ms: int = 15_000, silence_ms: int = 2000,
           no_speech_ms: int = 5000, threshold: float = SILENCE_THRESHOLD, rate: int = TELEPHONE_RATE,
           drain_first: bool = True, stall_ms: int = 3000,
           on_partial: Callable[[str], None] | None = None,
           clock: Callable[[], float] = time.monotonic) -> Heard:
    """Feed ``session`` from ``fd`` until the utterance ends; returns what was heard.

    The end is decided on the audio itself (counted in samples): ``silence_ms`` of quiet after
    speech, ``max_ms`` of audio, or ``no_speech_ms`` without speech. ``stall_ms`` on the wall
    clock with no audio at all (a channel that sends no frames) and end of file also end it.
    """
    detector = SilenceDetector(rate=rate, silence_ms=silence_ms, max_ms=max_ms,
                               no_speech_ms=no_speech_ms, threshold=threshold)
    ended_by = "error"
    carry = b""
    partial = ""
    try:
        if drain_first:
            drain(fd)
        last_audio = clock()
        while True:
            ready, _, _ = select.select([fd], [], [], 0.2)
            if not ready:
                if (clock() - last_audio) * 1000 >= stall_ms:
                    ended_by = "stall"
                    break
                continue
            block = os.read(fd, READ_BYTES)
            if not block:
                ended_by = "eof"
                break
            last_audio = clock()
            data = carry + block
            even = len(data) - len(data) % 2
            data, carry = data[:even], data[even:]
            ended = detector.feed(data)
            text = session.feed(data)
            if on_partial is not None and text != partial:
                partial = text
                try:
                    on_partial(text)
                except Exception:  # noqa: BLE001 - a display callback must not end the call
                    log.exception("eagi: partial-result callback failed")
            if ended:
                ended_by = ended
                break
    except OSError as exc:
        log.error("eagi: reading audio on fd %d failed: %s", fd, exc)
        ended_by = "error"
    try:
        result = session.finish()
    except Exception as exc:  # noqa: BLE001 - a recogniser never ends a call
        log.error("eagi: recognition failed: %s", exc.__class__.__name__)
        result = empty_result()
    return Heard(result, ended_by, detector.audio_ms, detector.speech_ms)


def recognize_eagi(recognizer, language: str, fd: int = AUDIO_FD, **options) -> tuple[str, float]:
    """Like ``recognize_file`` for an EAGI script: ``(text, confidence)`` of the next utterance."""
    try:
        session = recognizer.start_stream(language, TELEPHONE_RATE)
    except Exception as exc:  # noqa: BLE001
        log.error("eagi: no recognition stream: %s", exc.__class__.__name__)
        return "", 0.0
    heard = listen(session, fd, **options)
    return heard.result.as_tuple()
