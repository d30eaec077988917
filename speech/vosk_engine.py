"""Offline recognition with Vosk: one shared model per process, one recogniser per call.

* The ``vosk.Model`` (hundreds of MB) is loaded once per process and path, lazily and under a
  lock, and shared by every call; each recognition gets its own ``KaldiRecognizer`` at 8000 Hz
  with word details on (``SetWords(True)``). The confidence is the mean of the word confidences.
* Decoding runs in a bounded pool of worker threads (one per CPU core by default; Vosk releases
  the GIL while it decodes), so a hundred calls speaking at once queue for the cores instead of
  fighting over them. The call's thread waits for its job at most ``timeout_s``; on a timeout,
  a full queue, unreadable audio or any error it gets ``("", 0.0)`` and the reason is logged, and
  the call flow hands the caller to a person.
* A file and a stream are decoded in the same 200 ms chunks, so a recording and the same audio
  streamed give the same words.
"""
from __future__ import annotations

import atexit
import json
import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path

from core.cooperative import wait_future
from speech.recognizer import (SAMPLE_WIDTH, TELEPHONE_RATE, AudioFormatError, Result, Word,
                               empty_result, join_words, mean_confidence, read_pcm)

log = logging.getLogger(__name__)

CHUNK_MS = 200                    # decoding step, for files and streams alike
MAX_AUDIO_S = 300                 # a longer file is cut (an utterance is ≤ 15 s by default)


class ModelLoadError(RuntimeError):
    """The Vosk package or the model directory cannot be loaded; the message says which."""


# -- the process-wide model cache ---------------------------------------------------------------

_models: dict[str, object] = {}
_load_locks: dict[str, threading.Lock] = {}
_cache_lock = threading.Lock()
_vosk_module = None


def _vosk():
    global _vosk_module
    if _vosk_module is None:
        try:
            import vosk
        except ImportError as exc:           # pragma: no cover - vosk is a dependency
            raise ModelLoadError("the vosk package is not installed (pip install vosk)") from exc
        vosk.SetLogLevel(-1)                 # Kaldi's C++ logging would go to the AGI's stderr
        _vosk_module = vosk
    return _vosk_module


def _free_models() -> None:
    """Free the models before interpreter teardown (vosk's ``Model.__del__`` fails after it)."""
    with _cache_lock:
        _models.clear()


atexit.register(_free_models)


def _key(path: str | os.PathLike) -> str:
    return str(Path(path).expanduser().resolve())


def shared_model(path: str | os.PathLike):
    """The process's one ``vosk.Model`` for ``path``, loaded on first use (thread-safe)."""
    key = _key(path)
    with _cache_lock:
        model = _models.get(key)
        if model is not None:
            return model
        lock = _load_locks.setdefault(key, threading.Lock())
    with lock:                               # one loader per path; others wait for it
        with _cache_lock:
            model = _models.get(key)
        if model is not None:
            return model
        vosk = _vosk()
        if not (Path(key) / "am").is_dir() and not (Path(key) / "conf").is_dir():
            raise ModelLoadError(f"{key} is not a Vosk model directory (no am/ or conf/)")
        started = time.perf_counter()
        try:
            model = vosk.Model(key)
        except Exception as exc:  # noqa: BLE001 - vosk raises a bare Exception
            raise ModelLoadError(f"Vosk could not load the model at {key}: {exc}") from exc
        log.info("speech: Vosk model %s loaded in %.1f s", key, time.perf_counter() - started)
        with _cache_lock:
            _models[key] = model
        return model


def is_loaded(path: str | os.PathLike) -> bool:
    with _cache_lock:
        return _key(path) in _models


# -- decoding -------------------------------------------------------------------------------------

class _Decoder:
    """One KaldiRecognizer and the words of the segments it has finished so far."""

    def __init__(self, model, rate: int) -> None:
        vosk = _vosk()
        self.rec = vosk.KaldiRecognizer(model, float(rate))
        self.rec.SetWords(True)
        self.words: list[Word] = []
        self.texts: list[str] = []

    def accept(self, pcm: bytes) -> None:
        if pcm and self.rec.AcceptWaveform(pcm):
            self._take(self.rec.Result())

    def partial(self) -> str:
        current = json.loads(self.rec.PartialResult()).get("partial", "")
        return join_words(self.texts + current.split())

    def final(self) -> Result:
        self._take(self.rec.FinalResult())
        self.rec = None                      # free the recogniser now, not at garbage collection
        return Result(join_words(self.texts), mean_confidence(self.words), list(self.words))

    def _take(self, raw: str) -> None:
        data = json.loads(raw)
        words = [Word(str(w["word"]), float(w.get("conf", 0.0)), float(w.get("start", 0.0)),
                      float(w.get("end", 0.0))) for w in data.get("result", []) if w.get("word")]
        self.words.extend(words)
        if words:
            self.texts.extend(w.word for w in words)
        else:                                # no word details (should not happen with SetWords)
            self.texts.extend(data.get("text", "").split())


def _chunks(pcm: bytes, size: int):
    for k in range(0, len(pcm), size):
        yield pcm[k:k + size]


class VoskRecognizer:
    """A :class:`speech.recognizer.Recognizer` over Vosk.

    ``model_path`` is the model for every language unless ``language_models`` names another for a
    language (e.g. ``{"yue": Path(...)}``). ``workers`` decoding threads (default: CPU cores),
    at most ``max_pending`` jobs waiting or running (default 8 per worker; beyond that a request
    fails at once rather than wait), ``timeout_s`` the longest a caller waits for one job.
    """

    def __init__(self, model_path: str | os.PathLike, *, workers: int | None = None,
                 timeout_s: float = 20.0, max_pending: int | None = None,
                 language_models: dict[str, str | os.PathLike] | None = None,
                 max_audio_s: float = MAX_AUDIO_S) -> None:
        self.model_path = Path(model_path)
        self.language_models = {k: Path(v) for k, v in (language_models or {}).items()}
        self.workers = max(1, int(workers or os.cpu_count() or 1))
        self.timeout_s = float(timeout_s)
        self.max_pending = max(1, int(max_pending or self.workers * 8))
        self.max_audio_s = max_audio_s
        self._pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="vosk")
        self._slots = threading.BoundedSemaphore(self.max_pending)
        self._closed = False
        self.failures = 0                    # jobs that gave ("", 0.0) because of an error/timeout

    # -- the model ---------------------------------------------------------------------------
    def model_for(self, language: str) -> Path:
        return self.language_models.get(language, self.model_path)

    @property
    def loaded(self) -> bool:
        return is_loaded(self.model_path)

    def preload(self, background: bool = False) -> None:
        """Load the model now (in a daemon thread if ``background``) so the first caller does not
        wait for it. Raises :class:`ModelLoadError` when not in the background."""
        paths = {self.model_path, *self.language_models.values()}
        if not background:
            for p in paths:
                shared_model(p)
            return

        def load() -> None:
            for p in paths:
                try:
                    shared_model(p)
                except ModelLoadError as exc:
                    log.error("speech: %s", exc)
        threading.Thread(target=load, name="vosk-preload", daemon=True).start()

    def _model(self, language: str):
        return shared_model(self.model_for(language))

    # -- files -------------------------------------------------------------------------------
    def recognize_file(self, path: str, language: str) -> tuple[str, float]:
        """``(text, confidence)`` for a recorded WAV; ``("", 0.0)`` if nothing could be made of it."""
        return self.transcribe(path, language).as_tuple()

    def transcribe(self, path: str, language: str) -> Result:
        """The full :class:`Result` (with word timings) for a recorded WAV."""
        name = os.path.basename(str(path))
        return self._run(self._decode_file, str(path), language, what=f"recognition of {name}") or empty_result()

    def recognize_pcm(self, pcm: bytes, language: str, sample_rate: int = TELEPHONE_RATE) -> Result:
        return self._run(self._decode_pcm, bytes(pcm), language, sample_rate,
                         what="recognition of PCM audio") or empty_result()

    def _decode_file(self, path: str, language: str) -> Result:
        pcm = read_pcm(path, TELEPHONE_RATE)
        return self._decode_pcm(pcm, language, TELEPHONE_RATE)

    def _decode_pcm(self, pcm: bytes, language: str, rate: int) -> Result:
        limit = int(self.max_audio_s * rate) * SAMPLE_WIDTH
        if len(pcm) > limit:
            log.warning("speech: %.0f s of audio cut to %.0f s", len(pcm) / rate / SAMPLE_WIDTH, self.max_audio_s)
            pcm = pcm[:limit]
        pcm = pcm[: len(pcm) - len(pcm) % SAMPLE_WIDTH]
        if not pcm:
            return empty_result()
        decoder = _Decoder(self._model(language), rate)
        for chunk in _chunks(pcm, chunk_bytes(rate)):
            decoder.accept(chunk)
        return decoder.final()

    # -- streams -----------------------------------------------------------------------------
    def start_stream(self, language: str, sample_rate: int = TELEPHONE_RATE) -> "VoskStream":
        if not 8000 <= int(sample_rate) <= 192_000:
            raise ValueError(f"sample rate {sample_rate} Hz is not telephone audio")
        return VoskStream(self, language, int(sample_rate))

    # -- the pool ----------------------------------------------------------------------------
    def _run(self, fn, *args, what: str):
        """Run ``fn(*args)`` on a worker; its value, or None (logged) on any failure."""
        if self._closed:
            log.error("speech: %s skipped, the recogniser is closed", what)
            return None
        if not self._slots.acquire(blocking=False):
            self.failures += 1
            log.error("speech: %d recognitions already queued; %s refused (caller goes to a person)",
                      self.max_pending, what)
            return None
        try:
            future = self._pool.submit(fn, *args)
        except RuntimeError:                 # the pool was shut down meanwhile
            self._slots.release()
            log.error("speech: %s skipped, the recogniser is closed", what)
            return None
        future.add_done_callback(lambda _f: self._slots.release())
        try:
            return wait_future(future, self.timeout_s)
        except FutureTimeout:
            future.cancel()                  # if it has not started; a running decode finishes alone
            self.failures += 1
            log.error("speech: %s took longer than %.1f s; given up", what, self.timeout_s)
        except AudioFormatError as exc:
            self.failures += 1
            log.error("speech: %s: %s", what, exc)
        except ModelLoadError as exc:
            self.failures += 1
            log.error("speech: %s: %s", what, exc)
        except Exception as exc:  # noqa: BLE001 - a recogniser never ends a call
            self.failures += 1
            log.error("speech: %s failed: %s: %s", what, exc.__class__.__name__, exc)
        return None

    def status(self) -> dict:
        return {"engine": "vosk", "model_path": str(self.model_path), "loaded": self.loaded,
                "workers": self.workers, "timeout_s": self.timeout_s, "max_pending": self.max_pending,
                "failures": self.failures,
                "language_models": {k: str(v) for k, v in self.language_models.items()}}

    def close(self, wait: bool = False) -> None:
        """Refuse new work, drop queued jobs; ``wait`` for running decodes to end."""
        self._closed = True
        self._pool.shutdown(wait=wait, cancel_futures=True)


def chunk_bytes(rate: int) -> int:
    return rate * SAMPLE_WIDTH * CHUNK_MS // 1000


class VoskStream:
    """One utterance decoded as it arrives (see :class:`speech.recognizer.StreamSession`).

    Audio is buffered into 200 ms chunks; each full chunk is decoded on the recogniser's pool
    (the feeding thread waits for it). After a failure (timeout, full queue) the session
    ignores further audio and ``finish()`` gives the empty result.
    """

    def __init__(self, owner: VoskRecognizer, language: str, sample_rate: int) -> None:
        self._owner = owner
        self.language = language
        self.sample_rate = sample_rate
        self._chunk = chunk_bytes(sample_rate)
        self._buf = bytearray()
        self._decoder: _Decoder | None = None
        self._partial = ""
        self._result: Result | None = None
        self._lock = threading.Lock()
        self.failed = False
        self.audio_bytes = 0

    @property
    def audio_ms(self) -> int:
        return self.audio_bytes * 1000 // (self.sample_rate * SAMPLE_WIDTH)

    @property
    def finished(self) -> bool:
        return self._result is not None

    def feed(self, pcm: bytes) -> str:
        with self._lock:
            if self._result is not None or self.failed or not pcm:
                return self._partial
            self._buf += pcm
            self.audio_bytes += len(pcm)
            if len(self._buf) < self._chunk:
                return self._partial
            whole = len(self._buf) - len(self._buf) % self._chunk
            chunks = [bytes(self._buf[k:k + self._chunk]) for k in range(0, whole, self._chunk)]
            del self._buf[:whole]
            partial = self._owner._run(self._accept, chunks, what="streaming recognition")
            if partial is None:
                self.failed = True
            else:
                self._partial = partial
            return self._partial

    def finish(self) -> Result:
        with self._lock:
            if self._result is not None:
                return self._result
            tail = bytes(self._buf[: len(self._buf) - len(self._buf) % SAMPLE_WIDTH])
            self._buf.clear()
            if self.failed or (self._decoder is None and not tail):
                self._result = empty_result()
            else:
                self._result = self._owner._run(self._final, tail, what="streaming recognition") or empty_result()
            self._decoder = None
            return self._result

    # on a worker thread
    def _accept(self, chunks: list[bytes]) -> str:
        if self._decoder is None:
            self._decoder = _Decoder(self._owner._model(self.language), self.sample_rate)
        for chunk in chunks:
            self._decoder.accept(chunk)
        return self._decoder.partial()

    def _final(self, tail: bytes) -> Result:
        if self._decoder is None:
            self._decoder = _Decoder(self._owner._model(self.language), self.sample_rate)
        self._decoder.accept(tail)
        return self._decoder.final()
