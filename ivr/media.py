"""Where a channel finds audio: prompts by logical id and language, synthesised text, recordings."""
from __future__ import annotations

import logging
import os
import stat
import wave
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Protocol

from flow import prompts as P
from flow.language import spoken_date

log = logging.getLogger(__name__)


class Recognizer(Protocol):
    def recognize_file(self, path: str, language: str) -> tuple[str, float]: ...


@dataclass
class Media:
    prompt_dir: Path
    recordings_dir: Path
    default_language: str = "cmn"
    synthesize: Callable[[str, str], str | None] | None = None   # (text, lang) -> path without .wav
    recognizer: Recognizer | None = None
    streaming: object = None   # ivr.streaming.StreamingSpeech: speech streamed over AudioSocket()
    _known: dict = field(default_factory=dict, repr=False)
    _chains: dict = field(default_factory=dict, repr=False)

    def prompt(self, prompt_id: str, language: str) -> str:
        """Absolute path without extension, as STREAM FILE wants; falls back to the default language."""
        key = (prompt_id, language)
        if key not in self._known:
            path = self.prompt_dir / language / prompt_id
            if not path.with_suffix(".wav").exists():
                path = self.prompt_dir / self.default_language / prompt_id
            self._known[key] = str(path)
        return self._known[key]

    def chain(self, first: str, second: str, language: str) -> str | None:
        """One file that plays prompt ``first`` then prompt ``second`` (path without extension), so
        a channel can play both with one command; None when it cannot be had.

        Built on first use beside the second prompt as ``<first>+<second>.wav`` from the two WAVs
        (same sample rate, width and channels, uncompressed), rebuilt when either part is newer,
        written to a temporary name and renamed so Asterisk never reads half a file. A prompt
        folder the engine may not write to, or parts in different formats: None (two commands).
        """
        key = (first, second, language)
        if key not in self._chains:
            self._chains[key] = self._build_chain(self.prompt(first, language), self.prompt(second, language))
        return self._chains[key]

    def _build_chain(self, first: str, second: str) -> str | None:
        folder, name = os.path.split(second)
        target = os.path.join(folder, f"{os.path.basename(first)}+{name}")
        try:
            parts = (first + ".wav", second + ".wav")
            newest = max(os.stat(p).st_mtime_ns for p in parts)
            try:
                built = os.stat(target + ".wav")
                if stat.S_ISREG(built.st_mode) and built.st_mtime_ns >= newest:
                    return target
            except FileNotFoundError:
                pass
            frames, params = [], None
            for part in parts:
                with wave.open(part, "rb") as w:
                    shape = (w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getcomptype())
                    if params is not None and shape != params:
                        log.info("prompts %s and %s differ in format: played one by one", first, second)
                        return None
                    params = shape
                    frames.append(w.readframes(w.getnframes()))
            temporary = f"{target}.{os.getpid()}.tmp"
            try:
                with wave.open(temporary, "wb") as out:
                    out.setnchannels(params[0])
                    out.setsampwidth(params[1])
                    out.setframerate(params[2])
                    out.writeframes(b"".join(frames))
                os.replace(temporary, target + ".wav")
            finally:
                if os.path.exists(temporary):
                    os.remove(temporary)
            return target
        except (OSError, EOFError, wave.Error) as exc:
            log.info("prompts %s+%s not joined (%s): played one by one", os.path.basename(first), name,
                     exc.__class__.__name__)
            return None

    def text_audio(self, text: str, language: str, recorded: str | None = None) -> str | None:
        if recorded:
            return recorded[:-4] if recorded.endswith(".wav") else recorded
        if self.synthesize is None:
            return None
        try:
            return self.synthesize(text, language)
        except Exception as exc:  # noqa: BLE001 - a missing voice must not end the call
            log.error("synthesis failed: %s", exc.__class__.__name__)
            return None

    def date_audio(self, day, language: str) -> str | None:
        """``day`` said in ``language`` (flow.language.spoken_date), synthesised once per date and
        language and kept; None without synthesis (the channel then falls back to its own)."""
        return self.text_audio(spoken_date(day, language), language)

    def digit_prompts(self, digits: str, language: str) -> list[str] | None:
        """The prompt (path without extension) of each digit of ``digits``, to be played one after
        another; None when a digit has no recording (the channel then uses its own)."""
        paths = []
        for d in digits:
            path = self.prompt(P.DIGITS[d], language) if d in P.DIGITS else ""
            if not path or not os.path.isfile(path + ".wav"):
                return None
            paths.append(path)
        return paths or None

    def message_path(self, call_id: str, now: datetime) -> Path:
        folder = self.recordings_dir / "messages" / now.strftime("%Y/%m/%d")
        folder.mkdir(parents=True, exist_ok=True)
        return folder / f"{call_id}-message"

    def utterance_path(self, call_id: str, n: int) -> Path:
        folder = self.recordings_dir / "utterances"
        folder.mkdir(parents=True, exist_ok=True)
        return folder / f"{call_id}-{n}"
