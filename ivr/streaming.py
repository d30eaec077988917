"""Understanding the caller while they speak, over FastAGI: Asterisk's AudioSocket() streams the
channel's audio to the engine, which recognises it frame by frame (speech/ + ivr/audiosocket.py).

FastAGI carries no audio (EAGI is refused over agi://), so for the spoken menu the AGI driver runs
``EXEC AudioSocket "<uuid>,<host:port>"``: Asterisk connects here, sends 20 ms frames, and the
listener ends the socket (``00 00 00``) once the utterance ends (silence after speech, nothing
said, the length limit, ``#``) or the caller presses a menu key — AudioSocket() then returns to
the AGI session and the driver collects the result by the UUID it made. This needs Asterisk
20.14+/21.9+/22.4+ (older ones hang the channel up when the server ends an AudioSocket, and send
no DTMF); it is used only when ``audiosocket_port`` is set.
"""
from __future__ import annotations

import logging
import threading
import uuid as uuidlib
from concurrent.futures import Future, TimeoutError as FutureTimeout

from core.cooperative import wait_future
from ivr.audiosocket import AudioSocketServer

log = logging.getLogger(__name__)


class StreamingSpeech:
    def __init__(self, recognizer, *, host: str = "127.0.0.1", port: int = 0, keys: str = "0129",
                 silence_ms: int = 1500, max_ms: int = 15_000, no_speech_ms: int = 3000,
                 max_connections: int = 200) -> None:
        self.keys = keys
        self._waiting: dict[str, Future] = {}
        self._lock = threading.Lock()
        self.server = AudioSocketServer(
            recognizer, self._on_result, host=host, port=port, on_dtmf=self._on_dtmf,
            utterance_silence_ms=silence_ms, max_utterance_ms=max_ms, no_speech_ms=no_speech_ms,
            hangup_after_result=True, finish_digits="#", max_connections=max_connections)

    def start(self) -> str:
        port = self.server.start()
        return self.address if port else ""

    @property
    def address(self) -> str:
        return f"{self.server.host}:{self.server.port}"

    def stop(self) -> None:
        self.server.shutdown()

    def expect(self) -> str:
        """A fresh UUID for one utterance (made here, so nothing caller-controlled reaches AGI)."""
        key = str(uuidlib.uuid4())
        with self._lock:
            self._waiting[key] = Future()
        return key

    def result(self, key: str, timeout: float) -> tuple[str, str, float]:
        """("speech", text, confidence) | ("digit", key, 0) | ("none", "", 0)."""
        with self._lock:
            fut = self._waiting.get(key)
        try:
            return wait_future(fut, timeout) if fut is not None else ("none", "", 0.0)
        except FutureTimeout:
            self.server.hangup(key)
            return "none", "", 0.0
        finally:
            with self._lock:
                self._waiting.pop(key, None)

    def _settle(self, key: str, value: tuple) -> None:
        with self._lock:
            fut = self._waiting.get(key)
        if fut is not None and not fut.done():
            fut.set_result(value)

    def _on_result(self, key: str, result) -> None:
        text = (getattr(result, "text", "") or "").strip()
        self._settle(key, ("speech", text, float(getattr(result, "confidence", 0.0))) if text
                     else ("none", "", 0.0))

    def _on_dtmf(self, key: str, digit: str) -> None:
        if digit in self.keys:               # a menu key: the caller wants that, not to speak
            self._settle(key, ("digit", digit, 0.0))
            self.server.hangup(key)
