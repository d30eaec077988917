"""An AudioSocket listener: streaming recognition of a caller while they speak.

Asterisk's ``AudioSocket(uuid,host:port)`` (or ``Dial(AudioSocket/host:port/uuid/c(slin))``)
connects here and sends, per protocol reference §6: a 3-byte header (kind, big-endian length),
then the payload.

* ``01 00 10`` + 16 bytes — the call's UUID, always first;
* ``10 <len>`` + slin — 16-bit signed little-endian mono audio at 8 kHz, usually 320 bytes every
  20 ms (kinds 0x11–0x18 carry 12–192 kHz on 20.17+/21.12+/22.7+);
* ``03 00 01`` + digit — DTMF (20.14+/21.9+/22.4+ only);
* end of file — the channel hung up (Asterisk never sends ``00``; ``ff`` is never sent either).

Each connection gets a recognition stream; what the caller says is delivered to
``on_result(uuid, Result)`` when the connection ends, or — with ``utterance_silence_ms`` — after
each utterance (speech, then that much quiet). ``on_partial(uuid, text)`` follows the words as
they are recognised. The server may answer with audio (:meth:`AudioSocketCall.send_audio`; the
sender must pace it in real time, Asterisk does not buffer) and end the AudioSocket with
``00 00 00`` (:meth:`AudioSocketCall.hangup`; on 20.14+/21.9+/22.4+ the dialplan then continues,
on older versions the channel is hung up).

One thread per connection, at most ``max_connections``; beyond that a connection is closed at
once (``AudioSocket()`` then fails and the dialplan goes on). Decoding itself is bounded by the
recogniser's worker pool.
"""
from __future__ import annotations

import logging
import socket
import struct
import threading
import uuid as uuidlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from speech.recognizer import Result, SilenceDetector, empty_result

log = logging.getLogger(__name__)

KIND_HANGUP = 0x00
KIND_UUID = 0x01
KIND_DTMF = 0x03
KIND_AUDIO = 0x10
KIND_ERROR = 0xFF
AUDIO_KINDS = {0x10: 8000, 0x11: 12000, 0x12: 16000, 0x13: 24000, 0x14: 32000, 0x15: 44100,
               0x16: 48000, 0x17: 96000, 0x18: 192000}
HANGUP_MESSAGE = b"\x00\x00\x00"
MAX_PAYLOAD = 0xFFFF


class ProtocolError(Exception):
    pass


def pack(kind: int, payload: bytes = b"") -> bytes:
    """One message: ``struct.pack('>BH', kind, len) + payload``."""
    if len(payload) > MAX_PAYLOAD:
        raise ValueError("an AudioSocket payload is at most 65535 bytes")
    return struct.pack(">BH", kind, len(payload)) + payload


def _read_exact(rfile, n: int) -> bytes:
    data = b""
    while len(data) < n:
        block = rfile.read(n - len(data))
        if not block:
            break
        data += block
    return data


def read_message(rfile) -> tuple[int, bytes] | None:
    """The next ``(kind, payload)``, or None at a clean end of file (between messages)."""
    header = _read_exact(rfile, 3)
    if not header:
        return None
    if len(header) < 3:
        raise ProtocolError("connection closed inside a message header")
    kind, length = struct.unpack(">BH", header)
    payload = _read_exact(rfile, length) if length else b""
    if len(payload) < length:
        raise ProtocolError(f"connection closed inside a kind 0x{kind:02x} payload")
    return kind, payload


class AudioSocketCall:
    """One connected channel."""

    def __init__(self, uuid: str, sock: socket.socket, peer, language: str) -> None:
        self.uuid = uuid
        self.peer = peer
        self.language = language           # on_connect may change it
        self.utterances = 0
        self.audio_ms = 0
        self.ended_by = ""                  # eof | hangup | timeout | error | result | shutdown
        self._sock = sock
        self._send_lock = threading.Lock()
        self._hung_up = False

    def send_audio(self, pcm: bytes, kind: int = KIND_AUDIO) -> None:
        """Send audio to the caller (the caller of this method paces it: 320 bytes per 20 ms)."""
        pcm = pcm[: len(pcm) - len(pcm) % 2]
        with self._send_lock:
            if self._hung_up:
                return
            for k in range(0, len(pcm), 32000):            # even-sized pieces below 65535
                self._sock.sendall(pack(kind, pcm[k:k + 32000]))

    def hangup(self) -> None:
        """Ask Asterisk to end the AudioSocket (``00 00 00``), once."""
        with self._send_lock:
            if self._hung_up:
                return
            self._hung_up = True
            try:
                self._sock.sendall(HANGUP_MESSAGE)
            except OSError:
                pass

    @property
    def hung_up(self) -> bool:
        return self._hung_up


class AudioSocketServer:
    """Threaded, bounded AudioSocket listener feeding a recogniser's streams (module docstring)."""

    def __init__(self, recognizer, on_result: Callable[[str, Result], None], *, language: str = "cmn",
                 host: str = "127.0.0.1", port: int = 0, max_connections: int = 100,
                 read_timeout_s: float = 5.0,
                 on_partial: Callable[[str, str], None] | None = None,
                 on_dtmf: Callable[[str, str], None] | None = None,
                 on_connect: Callable[[AudioSocketCall], None] | None = None,
                 utterance_silence_ms: int | None = None, max_utterance_ms: int = 60_000,
                 no_speech_ms: int = 0, hangup_after_result: bool = False,
                 finish_digits: str = "#") -> None:
        self.recognizer = recognizer
        self.on_result, self.on_partial, self.on_dtmf, self.on_connect = on_result, on_partial, on_dtmf, on_connect
        self.language = language
        self.host, self.port = host, port
        self.max_connections = max_connections
        self.read_timeout_s = read_timeout_s
        self.utterance_silence_ms = utterance_silence_ms or 0
        self.max_utterance_ms = max_utterance_ms
        self.no_speech_ms = no_speech_ms
        self.hangup_after_result = hangup_after_result
        self.finish_digits = finish_digits
        self._slots = threading.BoundedSemaphore(max_connections)
        self._pool = ThreadPoolExecutor(max_workers=max_connections, thread_name_prefix="audiosocket")
        self._calls: dict[str, AudioSocketCall] = {}
        self._socks: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self.served = 0
        self.refused = 0

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> int:
        listener = socket.create_server((self.host, self.port), backlog=256)
        listener.settimeout(0.5)
        self._listener = listener
        self.port = listener.getsockname()[1]
        self._thread = threading.Thread(target=self._accept_loop, name="audiosocket-accept", daemon=True)
        self._thread.start()
        log.info("AudioSocket listening on %s:%d (max %d calls)", self.host, self.port, self.max_connections)
        return self.port

    def shutdown(self, grace: float = 5.0) -> None:
        """Stop accepting; end the connections (each still delivers its result)."""
        self._stopping.set()
        if self._listener is not None:
            self._listener.close()
        if self._thread is not None:
            self._thread.join(timeout=2)
        with self._lock:
            socks = list(self._socks)
        for sock in socks:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> "AudioSocketServer":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.shutdown()

    # -- the application's handles ------------------------------------------------------------
    def call(self, uuid: str) -> AudioSocketCall | None:
        with self._lock:
            return self._calls.get(uuid)

    @property
    def active_calls(self) -> list[str]:
        with self._lock:
            return list(self._calls)

    def hangup(self, uuid: str) -> bool:
        call = self.call(uuid)
        if call is None:
            return False
        call.hangup()
        return True

    # -- accepting ---------------------------------------------------------------------------
    def _accept_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                conn, peer = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                if self._stopping.is_set():
                    break
                log.exception("AudioSocket accept failed")
                continue
            if not self._slots.acquire(blocking=False):
                self.refused += 1
                log.warning("AudioSocket: %d calls already connected; one refused", self.max_connections)
                conn.close()
                continue
            try:
                self._pool.submit(self._serve, conn, peer)
            except RuntimeError:
                self._slots.release()
                conn.close()

    def _serve(self, conn: socket.socket, peer) -> None:
        with self._lock:
            self._socks.add(conn)
        call = None
        try:
            conn.settimeout(self.read_timeout_s)
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            rfile = conn.makefile("rb")
            try:
                first = read_message(rfile)
                if first is None:
                    log.info("AudioSocket: connection closed before the UUID (channel not answered?)")
                    return
                kind, payload = first
                if kind != KIND_UUID or len(payload) != 16:
                    log.warning("AudioSocket: first message is kind 0x%02x (%d bytes), not a UUID; closed",
                                kind, len(payload))
                    return
                call = AudioSocketCall(str(uuidlib.UUID(bytes=payload)), conn, peer, self.language)
                with self._lock:
                    self._calls[call.uuid] = call
                self._callback(self.on_connect, call)
                self._converse(call, rfile)
            finally:
                rfile.close()
        except (TimeoutError, ProtocolError, OSError) as exc:
            log.warning("AudioSocket: connection ended before the UUID: %s", exc.__class__.__name__)
        except Exception:  # noqa: BLE001 - one call's failure must not touch the others
            log.exception("AudioSocket connection failed")
        finally:
            try:
                conn.close()
            finally:
                with self._lock:
                    self._socks.discard(conn)
                    if call is not None:
                        self._calls.pop(call.uuid, None)
                    self.served += 1
                self._slots.release()

    # -- one call ----------------------------------------------------------------------------
    def _converse(self, call: AudioSocketCall, rfile) -> None:
        session = detector = None
        rate = None
        partial = ""
        while True:
            try:
                msg = read_message(rfile)
            except TimeoutError:
                call.ended_by = "timeout"
                log.warning("AudioSocket %s: nothing received for %.0f s; closing", call.uuid, self.read_timeout_s)
                break
            except (ProtocolError, OSError) as exc:
                call.ended_by = "shutdown" if self._stopping.is_set() else "error"
                if call.ended_by == "error":
                    log.warning("AudioSocket %s: %s", call.uuid, exc)
                break
            if msg is None:
                call.ended_by = "shutdown" if self._stopping.is_set() else "eof"
                break
            kind, payload = msg
            if kind in AUDIO_KINDS:
                if rate is not None and AUDIO_KINDS[kind] != rate:
                    log.warning("AudioSocket %s: audio at %d Hz after %d Hz ignored", call.uuid, AUDIO_KINDS[kind], rate)
                    continue
                rate = AUDIO_KINDS[kind]
                pcm = payload[: len(payload) - len(payload) % 2]
                call.audio_ms += len(pcm) * 1000 // (rate * 2)
                if session is None:
                    session = self._start(call, rate)
                    detector = SilenceDetector(rate=rate, silence_ms=self.utterance_silence_ms,
                                               max_ms=self.max_utterance_ms, no_speech_ms=self.no_speech_ms)
                    partial = ""
                text = session.feed(pcm)
                if text != partial:
                    partial = text
                    self._callback(self.on_partial, call.uuid, text)
                if detector is not None and detector.feed(pcm):
                    self._deliver(call, session)
                    session = detector = None
                    if self.hangup_after_result:
                        call.hangup()
                        call.ended_by = "result"
                        break
            elif kind == KIND_DTMF:
                digit = payload[:1].decode("ascii", "replace")
                self._callback(self.on_dtmf, call.uuid, digit)
                if digit and digit in self.finish_digits and session is not None:
                    self._deliver(call, session)
                    session = detector = None
                    if self.hangup_after_result:
                        call.hangup()
                        call.ended_by = "result"
                        break
            elif kind == KIND_HANGUP:
                call.ended_by = "hangup"
                break
            elif kind == KIND_ERROR:
                log.warning("AudioSocket %s: error message %s", call.uuid, payload.hex() or "(empty)")
                call.ended_by = "error"
                break
            elif kind == KIND_UUID:
                log.warning("AudioSocket %s: a second UUID message ignored", call.uuid)
            else:
                log.warning("AudioSocket %s: unknown message kind 0x%02x ignored", call.uuid, kind)
        if session is not None or call.utterances == 0:
            self._deliver(call, session)

    def _start(self, call: AudioSocketCall, rate: int):
        try:
            return self.recognizer.start_stream(call.language, rate)
        except Exception as exc:  # noqa: BLE001 - the caller still gets an (empty) result
            log.error("AudioSocket %s: no recognition stream: %s", call.uuid, exc)
            return _NoStream()

    def _deliver(self, call: AudioSocketCall, session) -> None:
        result = empty_result()
        if session is not None:
            try:
                result = session.finish()
            except Exception as exc:  # noqa: BLE001
                log.error("AudioSocket %s: recognition failed: %s", call.uuid, exc.__class__.__name__)
        call.utterances += 1
        self._callback(self.on_result, call.uuid, result)

    @staticmethod
    def _callback(fn, *args) -> None:
        if fn is None:
            return
        try:
            fn(*args)
        except Exception:  # noqa: BLE001 - the application's bug must not end the stream
            log.exception("AudioSocket callback %s failed", getattr(fn, "__name__", fn))


class _NoStream:
    """Stands in when no recognition stream could be started: hears nothing."""

    def feed(self, pcm: bytes) -> str:
        return ""

    def finish(self) -> Result:
        return empty_result()
