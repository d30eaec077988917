"""A threaded FastAGI server: a bounded pool of call threads, back-pressure, clean shutdown.

Each accepted connection gets a thread from a pool of ``max_calls``; up to ``accept_queue``
more wait for a thread. Beyond that, a connection is refused at once with a ``failure`` line
(AGISTATUS=FAILURE), so Asterisk's dialplan fall-back sends the caller to the queue instead of
letting them wait in silence. On shutdown the listener closes first (new calls fail over),
calls in progress get ``grace`` seconds, then their sockets are closed.
"""
from __future__ import annotations

import logging
import socket
import struct
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

log = logging.getLogger(__name__)


def kernel_timeouts(conn: socket.socket, seconds: float) -> None:
    """A blocking socket whose reads and writes fail after ``seconds`` (SO_RCVTIMEO/SO_SNDTIMEO).

    ``settimeout()`` would do the same in Python by calling poll() before every recv and send:
    two system calls and two releases of the GIL per operation instead of one, which under a few
    hundred call threads costs more CPU than the engine's own work on a command.
    """
    conn.settimeout(None)
    whole = int(seconds)
    tv = struct.pack("ll", whole, int((seconds - whole) * 1_000_000))
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, tv)
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, tv)


class _SocketReader:
    """``readline`` over a socket with kernel timeouts: a silent peer raises ``TimeoutError``
    (a buffered socket file would return b"" and make a timeout look like a hang-up)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._buf = b""

    def readline(self, limit: int = -1) -> bytes:
        buf = self._buf
        while True:
            end = buf.find(b"\n")
            if end >= 0 and (limit < 0 or end < limit):
                self._buf = buf[end + 1:]
                return buf[:end + 1]
            if 0 <= limit <= len(buf):
                self._buf = buf[limit:]
                return buf[:limit]
            try:
                chunk = self.sock.recv(65536)
            except BlockingIOError as exc:          # SO_RCVTIMEO ran out
                self._buf = buf
                raise TimeoutError("Asterisk sent nothing within the socket timeout") from exc
            if not chunk:                           # closed: what is left, then b""
                self._buf = b""
                return buf
            buf += chunk

    def close(self) -> None:
        self._buf = b""


class _SocketWriter:
    """One sendall per write, so a command always leaves in one piece."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    def write(self, data: bytes) -> int:
        self.sock.sendall(data)
        return len(data)

    def flush(self) -> None:
        pass


class FastAGIServer:
    def __init__(self, handler: Callable[[object, object], None], host: str = "127.0.0.1",
                 port: int = 4573, *, max_calls: int = 1000, accept_queue: int = 200,
                 socket_timeout: float = 180.0) -> None:
        self.handler = handler
        self.host, self.port = host, port
        self.max_calls = max_calls
        self.socket_timeout = socket_timeout
        self._slots = threading.BoundedSemaphore(max_calls + accept_queue)
        self._pool = ThreadPoolExecutor(max_workers=max_calls, thread_name_prefix="call")
        self._active: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._listener: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self.refused = 0
        self.served = 0

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> int:
        """Bind and start accepting in a background thread; returns the bound port."""
        listener = socket.create_server((self.host, self.port), backlog=1024, reuse_port=False)
        listener.settimeout(0.5)
        self._listener = listener
        self.port = listener.getsockname()[1]
        self._thread = threading.Thread(target=self._accept_loop, name="fastagi-accept", daemon=True)
        self._thread.start()
        log.info("FastAGI listening on %s:%d (max %d calls)", self.host, self.port, self.max_calls)
        return self.port

    def stop_accepting(self) -> None:
        """Close the listener at once: Asterisk's next connection is refused and it fails over."""
        self._stopping.set()
        if self._listener is not None:
            self._listener.close()

    def shutdown(self, grace: float = 30.0) -> int:
        """Stop accepting, let calls finish for ``grace`` s, then cut them; returns calls cut."""
        self.stop_accepting()
        if self._thread is not None:
            self._thread.join(timeout=2)
        with self._idle:
            self._idle.wait_for(lambda: not self._active, timeout=grace)
            cut = list(self._active)
        for sock in cut:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._pool.shutdown(wait=True, cancel_futures=False)
        log.info("FastAGI stopped; %d call(s) cut after the %.0f s grace", len(cut), grace)
        return len(cut)

    @property
    def active_calls(self) -> int:
        with self._lock:
            return len(self._active)

    # -- accepting ---------------------------------------------------------------------------
    def _accept_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                conn, _addr = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                if self._stopping.is_set():
                    break
                log.exception("accept failed")
                continue
            if not self._slots.acquire(blocking=False):
                self.refused += 1
                self._refuse(conn)
                continue
            try:
                self._pool.submit(self._serve, conn)
            except RuntimeError:          # pool shut down under us
                self._slots.release()
                self._refuse(conn)

    @staticmethod
    def _refuse(conn: socket.socket) -> None:
        log.warning("FastAGI saturated: refusing a call (Asterisk falls back to the queue)")
        try:
            conn.sendall(b"failure\n")
        except OSError:
            pass
        conn.close()

    def _serve(self, conn: socket.socket) -> None:
        with self._lock:
            self._active.add(conn)
        try:
            kernel_timeouts(conn, self.socket_timeout)
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            rfile = _SocketReader(conn)
            try:
                self.handler(rfile, _SocketWriter(conn))
            finally:
                rfile.close()
        except Exception:  # noqa: BLE001 - one call's failure must not touch the others
            log.exception("FastAGI connection failed")
        finally:
            try:
                conn.close()
            finally:
                with self._idle:
                    self.served += 1
                    self._active.discard(conn)
                    self._idle.notify_all()
                self._slots.release()
