"""RECORD FILE (reference §3.9): argument quirks, the beep, silence detection, and the file.

A mixin of :class:`softphone.asterisk.AsteriskPeer`. The recording is a real audio file written
where Asterisk would write it (``<path>.<ext>``; a relative path goes under ``sounds_dir``; the
directory must exist, as Asterisk does not create it). When the caller's outcome carries text, it
is also written to ``<path>.txt`` for transcript-based recognisers in tests.
"""
from __future__ import annotations

import os

from softphone.audio import RECORD_FORMATS, read_pcm, silence, write_audio
from softphone.commands import RESULT_FAILURE, RESULT_SHOWUSAGE, RESULT_SUCCESS
from softphone.wire import DTMF, atoi, scan_int, scan_long

BEEP_MS = 300
WAITFOR_FOREVER_LEFT = 99_980     # ast_waitfor(-1) loops with 100000 ms; what is left of it


class RecordCommands:

    def h_record_file(self, argv: list[str]) -> int:
        if len(argv) < 6:
            return RESULT_SHOWUSAGE
        max_ms = scan_int(argv[5])
        if max_ms is None:
            return RESULT_SHOWUSAGE
        path, fmt, escape = argv[2], argv[3], argv[4]
        silence_ms = _silence_option(argv)
        offset = 0
        beep = False
        if len(argv) > 6:
            scanned = scan_long(argv[6])
            if scanned is not None:
                offset = scanned
            elif "=" not in argv[6]:
                beep = True
        if len(argv) > 7 and "=" not in argv[7]:
            beep = True

        target = self._record_target(path, fmt)
        if target is None and not beep:
            self._send("200 result=-1 (writefile)")
            return RESULT_FAILURE
        out = self.caller.on_record(path, fmt, escape, max_ms, silence_ms // 1000)
        if beep:
            self.caller.on_event("beep")
            key_ok = out.end == "key" and out.key[:1] in DTMF and out.key[:1] in escape
            if out.during_beep and (out.end == "hangup" or key_ok):
                res = -1 if out.end == "hangup" else ord(out.key[:1])
                if res < 0:
                    self._channel_gone("caller")
                self._advance(BEEP_MS // 2)
                self._send(f"200 result={res} (randomerror) endpos={offset}")
                return RESULT_SUCCESS
            self._advance(BEEP_MS)
        if target is None:
            self._send("200 result=-1 (writefile)")
            return RESULT_FAILURE
        filename, rate, container = target

        # what the caller says, then how the recording ends (times from its start)
        if out.wav:
            speech = read_pcm(out.wav, rate)
            speech_ms = len(speech) * 1000 // rate
        else:
            speech_ms = max(0, int(out.speech_ms))
            speech = silence(speech_ms, rate)
        key = out.key[:1]
        if out.end == "key" and key and key in DTMF and key in escape:
            event, at = "dtmf", speech_ms
        elif out.end == "hangup":
            event, at = "hangup", speech_ms
        elif silence_ms > 0:
            event, at = "silence", speech_ms + silence_ms
        elif max_ms >= 0:
            event, at = "max", max_ms
        else:
            self.result.notes.append("endless recording: the caller gave up and hung up")
            event, at = "hangup", speech_ms + self.give_up_ms
        if max_ms >= 0 and at >= max_ms:
            event, at = "max", max_ms
        cut = self._autohangup_cut(at)
        if cut is not None and cut < at:
            event, at = "hangup", cut

        kept_ms = {"dtmf": max(0, at - 200),               # the DTMF tail is trimmed
                   "silence": at - (silence_ms - 1000),     # all but one second of the silence
                   }.get(event, at)
        audio = speech[: kept_ms * rate // 1000]
        audio += silence(kept_ms - len(audio) * 1000 // rate, rate)
        try:
            write_audio(filename, audio, rate, container, keep_samples=max(0, offset))
        except OSError as exc:
            self.result.notes.append(f"recording not written: {exc}")
            self._send("200 result=-1 (writefile)")
            return RESULT_FAILURE
        self.result.recordings.append(filename)
        if out.text is not None:
            with open(_base(filename) + ".txt", "w", encoding="utf-8") as f:
                f.write(out.text)
        endpos = max(0, offset) + len(audio)

        if event == "hangup":
            self._channel_gone("caller" if cut is None else "autohangup")
        self._advance(at)
        if event == "dtmf":
            self._send(f"200 result={ord(key)} (dtmf) endpos={endpos}")
        elif event == "hangup":
            self._send(f"200 result=-1 (hangup) endpos={endpos}")
            return RESULT_FAILURE
        elif event == "silence":
            left = max(0, max_ms - at) if max_ms > 0 else WAITFOR_FOREVER_LEFT
            self._send(f"200 result={left} (timeout) endpos={endpos}")
        else:
            self._send(f"200 result=0 (timeout) endpos={endpos}")
        return RESULT_SUCCESS

    def _record_target(self, path: str, fmt: str) -> tuple[str, int, str] | None:
        """Where ``ast_writefile`` would write, or None if it cannot (unknown format, no dir)."""
        spec = RECORD_FORMATS.get(fmt)
        if spec is None:
            self.result.notes.append(f"RECORD FILE: format {fmt!r} is not supported by the fake")
            return None
        ext, rate, container = spec
        if not path.startswith("/"):
            if not self.sounds_dir:
                self.result.notes.append("RECORD FILE: relative path and no sounds_dir")
                return None
            path = os.path.join(self.sounds_dir, path)
        filename = f"{path}.{ext}"
        folder = os.path.dirname(filename) or "."
        if not os.path.isdir(folder) or not os.access(folder, os.W_OK):
            self.result.notes.append(f"RECORD FILE: cannot create {filename}")
            return None
        return filename, rate, container


def _silence_option(argv: list[str]) -> int:
    """The first of argv[6..8] containing an ``s``, from that ``s``; ``s=N`` (N > 0) = N seconds."""
    text = None
    for k in (6, 7, 8):
        if len(argv) > k and text is None:
            at = argv[k].find("s")
            if at >= 0:
                text = argv[k][at:]
    if text and len(text) > 2 and text.startswith("s="):
        seconds = atoi(text[2:])
        if seconds > 0:
            return seconds * 1000
    return 0


def _base(filename: str) -> str:
    return filename.rsplit(".", 1)[0]
