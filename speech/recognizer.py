"""What the engine asks of a speech recogniser, and the audio helpers every recogniser shares.

Two ways in:

* **a recorded file** — ``recognize_file(path, language) -> (text, confidence)``: FastAGI records
  the utterance with ``RECORD FILE`` and hands over the WAV (``ivr.agi.driver._collect_speech``);
* **a stream** — ``start_stream(language, sample_rate=8000) -> StreamSession``; ``feed(pcm)``
  returns the partial text so far, ``finish()`` the :class:`Result`. EAGI scripts (fd 3,
  :mod:`speech.eagi`) and the AudioSocket listener (:mod:`ivr.audiosocket`) stream.

Telephone audio is 16-bit signed little-endian mono at 8 kHz ("slin"). A recogniser never raises
into a call: on any failure it returns an empty result (``""``, confidence 0.0) and logs why, and
the call flow sends the caller to a person.
"""
from __future__ import annotations

import array
import logging
import os
import shutil
import subprocess
import sys
import unicodedata
import wave
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol, runtime_checkable

log = logging.getLogger(__name__)

TELEPHONE_RATE = 8000
SAMPLE_WIDTH = 2                  # bytes per sample (16-bit)
FRAME_MS = 20
FRAME_BYTES = TELEPHONE_RATE * SAMPLE_WIDTH * FRAME_MS // 1000       # 320: one 20 ms slin frame
# Asterisk's default silence threshold (dsp.conf ``silencethreshold``): mean absolute amplitude
SILENCE_THRESHOLD = 256


class Word(NamedTuple):
    word: str
    conf: float          # 0..1
    start: float         # seconds from the start of the audio
    end: float


@dataclass
class Result:
    text: str = ""
    confidence: float = 0.0
    words: list[Word] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.text.strip()

    def as_tuple(self) -> tuple[str, float]:
        return self.text, self.confidence

    def to_dict(self) -> dict:
        return {"text": self.text, "confidence": round(self.confidence, 4),
                "words": [{"word": w.word, "conf": round(w.conf, 4), "start": w.start, "end": w.end}
                          for w in self.words]}


def empty_result() -> Result:
    return Result("", 0.0, [])


@runtime_checkable
class StreamSession(Protocol):
    """One utterance (or one call's audio) being recognised as it arrives."""

    def feed(self, pcm: bytes) -> str:
        """Accept 16-bit mono PCM at the session's rate; returns the partial text so far."""
        ...

    def finish(self) -> Result:
        """Flush and return the final result; the session accepts nothing afterwards."""
        ...


@runtime_checkable
class Recognizer(Protocol):
    def recognize_file(self, path: str, language: str) -> tuple[str, float]: ...

    def start_stream(self, language: str, sample_rate: int = TELEPHONE_RATE) -> StreamSession: ...


class AudioFormatError(ValueError):
    """The audio cannot be read as (or converted to) 16-bit mono PCM at the wanted rate."""


# -- results -------------------------------------------------------------------------------------

def _is_han(ch: str) -> bool:
    return "CJK" in unicodedata.name(ch, "") or "\u3400" <= ch <= "\u9fff"


def join_words(words: list[str]) -> str:
    """Words as one text: no space between two Chinese characters (Vosk's Chinese models put one
    between every word: "社保 卡 掉 了" -> "社保卡掉了"), one space elsewhere (Korean, Latin)."""
    out = ""
    for w in (w.strip() for w in words):
        if not w:
            continue
        if out and not (_is_han(out[-1]) and _is_han(w[0])):
            out += " "
        out += w
    return out


def mean_confidence(words: list[Word]) -> float:
    return sum(w.conf for w in words) / len(words) if words else 0.0


# -- audio ---------------------------------------------------------------------------------------

def sox_available() -> bool:
    return shutil.which("sox") is not None


def convert_with_sox(path: str, rate: int = TELEPHONE_RATE, timeout: float = 30.0) -> bytes:
    """Any audio file sox can read -> raw 16-bit signed mono PCM at ``rate``."""
    try:
        proc = subprocess.run(["sox", "-q", "-V1", "--", path, "-t", "raw", "-r", str(rate), "-b", "16",
                               "-c", "1", "-e", "signed-integer", "-L", "-"],
                              capture_output=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise AudioFormatError(f"{os.path.basename(path)}: sox failed ({exc.__class__.__name__})") from exc
    if proc.returncode != 0:
        detail = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise AudioFormatError(f"{os.path.basename(path)}: sox cannot read it"
                               + (f" ({detail[-1]})" if detail else ""))
    return proc.stdout


def read_pcm(path: str, rate: int = TELEPHONE_RATE, *, convert: bool = True) -> bytes:
    """16-bit signed little-endian mono PCM at ``rate`` from a WAV file.

    A WAV that already is ``rate`` Hz, mono, 16-bit is read with :mod:`wave` as it is. Anything
    else (another rate, stereo, 8/24/32-bit, μ-law, float) is converted with sox when
    ``convert`` is true and sox is installed; otherwise :class:`AudioFormatError` says what the
    file is and what is needed.
    """
    name = os.path.basename(path)
    try:
        with wave.open(path, "rb") as w:
            channels, width, src_rate = w.getnchannels(), w.getsampwidth(), w.getframerate()
            frames = w.readframes(w.getnframes())
    except (wave.Error, EOFError) as exc:
        if convert and sox_available() and os.path.getsize(path) > 44:
            return convert_with_sox(path, rate)
        raise AudioFormatError(f"{name}: not a PCM WAV file ({exc or 'empty'})") from exc
    if (channels, width, src_rate) == (1, SAMPLE_WIDTH, rate):
        return frames[: len(frames) - len(frames) % 2]      # WAV data is little-endian already
    if not frames:
        return b""
    if convert and sox_available():
        return convert_with_sox(path, rate)
    raise AudioFormatError(
        f"{name} is {src_rate} Hz, {channels} channel(s), {8 * width}-bit; telephone audio must be "
        f"{rate} Hz mono 16-bit (install sox to convert it, or: sox {name} -r {rate} -b 16 -c 1 out.wav)")


def mean_amplitude(pcm: bytes) -> float:
    """Mean absolute sample value of 16-bit little-endian PCM (0 for no samples)."""
    n = len(pcm) // 2
    if n == 0:
        return 0.0
    samples = array.array("h")
    samples.frombytes(pcm[: n * 2])
    if sys.byteorder != "little":
        samples.byteswap()
    return sum(map(abs, samples)) / n


class SilenceDetector:
    """End-of-utterance detection on a live stream, frame by frame (energy, like Asterisk's DSP).

    Feed it audio as it arrives; ``ended`` becomes one of ``"silence"`` (speech, then
    ``silence_ms`` without), ``"max"`` (``max_ms`` of audio) or ``"no_speech"`` (``no_speech_ms``
    of audio and nothing said); 0 turns a limit off. Times are counted in samples, not on the
    wall clock.
    """

    def __init__(self, *, rate: int = TELEPHONE_RATE, silence_ms: int = 2000, max_ms: int = 15_000,
                 no_speech_ms: int = 5000, threshold: float = SILENCE_THRESHOLD,
                 min_speech_ms: int = 60) -> None:
        self.rate = rate
        self.frame_bytes = rate * SAMPLE_WIDTH * FRAME_MS // 1000
        self.silence_ms, self.max_ms, self.no_speech_ms = silence_ms, max_ms, no_speech_ms
        self.threshold, self.min_speech_ms = threshold, min_speech_ms
        self._carry = b""
        self.audio_ms = 0
        self.speech_ms = 0
        self._voiced_run = 0
        self._quiet_run = 0
        self.started = False
        self.ended: str | None = None

    def feed(self, pcm: bytes) -> str | None:
        data = self._carry + pcm
        whole = len(data) - len(data) % self.frame_bytes
        self._carry = data[whole:]
        for k in range(0, whole, self.frame_bytes):
            if self.ended:
                break
            self._frame(data[k:k + self.frame_bytes])
        return self.ended

    def _frame(self, frame: bytes) -> None:
        self.audio_ms += FRAME_MS
        if mean_amplitude(frame) > self.threshold:
            self._voiced_run += FRAME_MS
            self._quiet_run = 0
            self.speech_ms += FRAME_MS
            if self._voiced_run >= self.min_speech_ms:
                self.started = True
        else:
            self._voiced_run = 0
            self._quiet_run += FRAME_MS
        if self.started and self.silence_ms and self._quiet_run >= self.silence_ms:
            self.ended = "silence"
        elif self.max_ms and self.audio_ms >= self.max_ms:
            self.ended = "max"
        elif not self.started and self.no_speech_ms and self.audio_ms >= self.no_speech_ms:
            self.ended = "no_speech"
