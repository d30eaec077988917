"""A recogniser that reads what was said from a ``<recording>.txt`` file beside the audio.

Used by the terminal caller (``hotline call``: the newcomer types what they would say) and by
tests of the flow that are about routing, not about acoustics. It is selected only by
``speech_engine = "transcript"``; production uses Vosk.
"""
from __future__ import annotations

from pathlib import Path


class TranscriptFileRecognizer:
    def recognize_file(self, path: str, language: str) -> tuple[str, float]:
        sidecar = Path(path).with_suffix(".txt")
        try:
            text = sidecar.read_text(encoding="utf-8")[:2000]
        except (OSError, UnicodeDecodeError):
            return "", 0.0
        finally:
            try:
                sidecar.unlink()
            except OSError:
                pass
        text = " ".join(text.split())
        return text, 1.0 if text else 0.0
