"""Sound files as the fake Asterisk sees them: durations of prompts, and recordings it writes.

Asterisk plays ``<name>.<ext>`` for whichever format exists; the fake knows ``wav`` (any rate,
read with :mod:`wave`) and raw ``sln``/``sln16``. It records ``wav`` (8 kHz), ``wav16``,
``sln``/``raw`` and ``sln16``; the audio is 16-bit signed little-endian mono, as Asterisk writes.
"""
from __future__ import annotations

import array
import os
import stat
import sys
import wave
from dataclasses import dataclass

# format name -> (file extension, sample rate, container)
PLAY_FORMATS = (("wav", None, "wav"), ("sln", 8000, "raw"), ("sln16", 16000, "raw"))
RECORD_FORMATS = {
    "wav": ("wav", 8000, "wav"),
    "wav16": ("wav16", 16000, "wav"),
    "sln": ("sln", 8000, "raw"),
    "raw": ("sln", 8000, "raw"),
    "sln16": ("sln16", 16000, "raw"),
}


@dataclass(frozen=True)
class Sound:
    path: str              # the file found, with its extension
    duration_ms: int
    samples: int           # length in samples at 8000/s, the unit of STREAM FILE's endpos


_known: dict[str, tuple[tuple[int, int, int], Sound | None]] = {}   # path -> (its stat, what it holds)


def find_sound(base: str) -> Sound | None:
    """The playable file for ``base`` (a path without extension), or None.

    A file's header is read again only when the file changed (inode, size or mtime): a load
    test plays the same prompts thousands of times, and the fake's cost is not the server's."""
    for ext, rate, kind in PLAY_FORMATS:
        path = f"{base}.{ext}"
        try:
            st = os.stat(path)
        except OSError:
            continue
        if not stat.S_ISREG(st.st_mode):
            continue
        key = (st.st_ino, st.st_size, st.st_mtime_ns)
        known = _known.get(path)
        if known is not None and known[0] == key:
            sound = known[1]
        else:
            try:
                if kind == "wav":
                    with wave.open(path, "rb") as w:
                        frames, rate = w.getnframes(), w.getframerate()
                else:
                    frames = st.st_size // 2
                assert rate
                sound = Sound(path, frames * 1000 // rate, frames * 8000 // rate)
            except (wave.Error, EOFError, OSError):
                sound = None      # Asterisk cannot open a broken file either
            if len(_known) > 10_000:
                _known.clear()
            _known[path] = (key, sound)
        if sound is not None:
            return sound
    return None


def read_pcm(path: str, rate: int = 8000) -> array.array:
    """16-bit mono samples of a WAV file, converted to ``rate`` (linear interpolation)."""
    with wave.open(path, "rb") as w:
        channels, width, src_rate = w.getnchannels(), w.getsampwidth(), w.getframerate()
        raw = w.readframes(w.getnframes())
    samples = _to_int16(raw, width)
    if channels > 1:
        samples = array.array("h", (sum(samples[i:i + channels]) // channels
                                    for i in range(0, len(samples) - channels + 1, channels)))
    return resample(samples, src_rate, rate)


def _to_int16(raw: bytes, width: int) -> array.array:
    if width == 2:
        out = array.array("h")
        out.frombytes(raw[: len(raw) // 2 * 2])
        if sys.byteorder == "big":
            out.byteswap()
        return out
    if width == 1:                              # unsigned 8-bit
        return array.array("h", ((b - 128) << 8 for b in raw))
    if width in (3, 4):
        return array.array("h", (int.from_bytes(raw[i + width - 2:i + width], "little", signed=True)
                                 for i in range(0, len(raw) - width + 1, width)))
    raise ValueError(f"unsupported sample width {width}")


def resample(samples: array.array, src: int, dst: int) -> array.array:
    if src == dst or not samples:
        return array.array("h", samples)
    n = max(1, len(samples) * dst // src)
    step = src / dst
    last = len(samples) - 1
    out = array.array("h", bytes(2 * n))
    for i in range(n):
        pos = i * step
        j = int(pos)
        if j >= last:
            out[i] = samples[last]
            continue
        frac = pos - j
        out[i] = int(samples[j] + (samples[j + 1] - samples[j]) * frac)
    return out


def silence(ms: int, rate: int = 8000) -> array.array:
    return array.array("h", bytes(2 * (max(0, ms) * rate // 1000)))


def write_audio(path: str, samples: array.array, rate: int, container: str,
                keep_samples: int = 0) -> None:
    """Write ``samples`` to ``path``; with ``keep_samples`` the first samples of an existing file are
    kept and the new audio appended (RECORD FILE with an offset)."""
    head = array.array("h")
    if keep_samples and os.path.exists(path):
        try:
            if container == "wav":
                head = read_pcm(path, rate)
            else:
                head.frombytes(open(path, "rb").read())
        except (OSError, wave.Error, EOFError, ValueError):
            head = array.array("h")
        del head[keep_samples:]
    data = head + samples
    if sys.byteorder == "big":
        data.byteswap()
    if container == "wav":
        with wave.open(path, "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(rate)
            w.writeframes(data.tobytes())
    else:
        with open(path, "wb") as f:
            f.write(data.tobytes())


def make_tone_wav(path: str, ms: int, rate: int = 8000, freq: int = 440) -> str:
    """A small test helper: a sine tone WAV (16-bit mono)."""
    import math

    n = ms * rate // 1000
    data = array.array("h", (int(8000 * math.sin(2 * math.pi * freq * i / rate)) for i in range(n)))
    if sys.byteorder == "big":
        data.byteswap()
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(data.tobytes())
    return path
