"""Offline speech synthesis with espeak-ng, converted by sox to telephone audio (8 kHz, 16-bit, mono).

Text is passed on stdin, never on a command line or through a shell, so caller- or
admin-written text cannot become an option or a command.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

# espeak-ng's plain "cmn" voice reads Latin text as English, and on espeak-ng 1.51 (Debian 12) it
# also reads as English the pinyin its dictionary gives for most characters: 您 came out as "nin
# two". "cmn-latn-pinyin" is the same Mandarin voice reading that pinyin as pinyin. The Hakka
# voice reads Pha̍k-fa-sṳ romanisation only (recordings/prompts.toml).
VOICES = {"cmn": "cmn-latn-pinyin", "yue": "yue", "hak": "hak"}
SPEED_WPM = 220


class SynthesisUnavailable(RuntimeError):
    pass


def available() -> bool:
    return bool(shutil.which("espeak-ng") and shutil.which("sox"))


def synthesize_wav(text: str, language: str, out_path: Path, speed: int = SPEED_WPM) -> Path:
    """Write ``out_path`` (a .wav) atomically; leading and trailing silence trimmed."""
    if not available():
        raise SynthesisUnavailable("espeak-ng and sox are needed for speech synthesis")
    voice = VOICES.get(language)
    if voice is None:
        raise SynthesisUnavailable(f"no voice for language {language!r}")
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "raw.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(raw), "--stdin"],
                       input=text.encode("utf-8"), check=True, capture_output=True, timeout=60)
        staged = Path(tmp) / "out.wav"
        subprocess.run(["sox", str(raw), "-r", "8000", "-b", "16", "-c", "1", "-e", "signed-integer",
                        str(staged), "silence", "1", "0.02", "0.3%", "reverse", "silence", "1", "0.02",
                        "0.3%", "reverse", "pad", "0", "0.15"],
                       check=True, capture_output=True, timeout=60)
        tmp_target = out_path.with_name(out_path.name + ".part")
        shutil.copyfile(staged, tmp_target)
        os.replace(tmp_target, out_path)
    return out_path


class CachedSynthesizer:
    """Synthesised text cached by content hash: the same answer is synthesised once."""

    def __init__(self, cache_dir: Path) -> None:
        self.cache_dir = Path(cache_dir)

    def __call__(self, text: str, language: str) -> str | None:
        voice = VOICES.get(language, language)
        digest = hashlib.sha256(f"{language}\0{voice}\0{SPEED_WPM}\0{text}".encode()).hexdigest()[:32]
        target = self.cache_dir / language / digest
        if not target.with_suffix(".wav").exists():
            synthesize_wav(text, language, target.with_suffix(".wav"))
            # what the file says, beside it: for whoever looks in the cache, and the terminal caller
            note = target.with_suffix(".txt")
            note.with_name(note.name + ".part").write_text(text, encoding="utf-8")
            os.replace(note.with_name(note.name + ".part"), note)
        return str(target)
