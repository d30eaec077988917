"""Where a channel finds audio: prompts by logical id and language, synthesised text, recordings."""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Protocol

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

    def prompt(self, prompt_id: str, language: str) -> str:
        """Absolute path without extension, as STREAM FILE wants; falls back to the default language."""
        key = (prompt_id, language)
        if key not in self._known:
            path = self.prompt_dir / language / prompt_id
            if not path.with_suffix(".wav").exists():
                path = self.prompt_dir / self.default_language / prompt_id
            self._known[key] = str(path)
        return self._known[key]

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

    def message_path(self, call_id: str, now: datetime) -> Path:
        folder = self.recordings_dir / "messages" / now.strftime("%Y/%m/%d")
        folder.mkdir(parents=True, exist_ok=True)
        return folder / f"{call_id}-message"

    def utterance_path(self, call_id: str, n: int) -> Path:
        folder = self.recordings_dir / "utterances"
        folder.mkdir(parents=True, exist_ok=True)
        return folder / f"{call_id}-{n}"
