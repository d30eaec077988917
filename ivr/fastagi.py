"""The FastAGI server: calls as greenlets on a hub thread, bounded, with back-pressure.

Each accepted connection becomes a call on a hub (``core.cooperative``): one thread runs many
calls, switching between them where each waits for Asterisk, so no call thread ever waits for
the GIL behind another. Up to ``max_calls`` calls run at once; up to ``accept_queue`` more wait
for a place. Beyond that a connection is refused at once with a ``failure`` line
(AGISTATUS=FAILURE), so Asterisk's dialplan fall-back sends the caller to the queue instead of
letting them wait in silence. On shutdown the listener closes first (new calls fail over),
calls in progress get ``grace`` seconds, then their sockets are shut.

``hubs`` > 1 spreads calls over several hub threads. On
PostgreSQL a call's database work does not run on its hub at all but on the hub's worker threads
(``Engine.offload_db``, ``AGIDriver(offload_steps=…)``), so a slow query holds up its own call only.
"""
from __future__ import annotations

import collections
import logging
import socket
import threading
from collections.abc import Callable

from core.cooperative import READ, WRITE, Hub

log = logging.getLogger(__name__)


class _SocketReader:
    """``readline`` over a socket. A silent peer raises ``TimeoutError`` (a buffered socket file
    would return b"" and make a timeout look like a hang-up).

    With ``hub``, the socket is non-blocking and a read that must wait lets the hub run other
    calls; without, the socket blocks and its SO_RCVTIMEO ends a wait.
    """

    def __init__(self, sock: socket.socket, hub: Hub | None = None, timeout: float | None = None) -> None:
        self.sock = sock
        self.hub, self.timeout = hub, timeout
        self._fd = sock.fileno()
        self._buf = b""
        self._fresh = hub is not None    # no read yet: try one before waiting

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
            self._buf = buf
            chunk = self._recv()
            if not chunk:                           # closed: what is left, then b""
                self._buf = b""
                return buf
            buf += chunk

    def read_block(self, limit: int) -> bytes | None:
        """The AGI environment block at once: everything up to and including its empty line
        (two line feeds in a row, or one when the block is empty), consumed. None, with nothing
        consumed, when no empty line comes within ``limit`` bytes or the connection ends first
        (``readline`` then reads what there is, line by line)."""
        buf = self._buf
        searched = 0
        while True:
            if buf[:1] == b"\n":
                self._buf = buf[1:]
                return b"\n"
            end = buf.find(b"\n\n", max(0, searched - 1))
            if end >= 0:
                self._buf = buf[end + 2:]
                return buf[:end + 2]
            self._buf = buf
            if len(buf) >= limit:
                return None
            searched = len(buf)
            chunk = self._recv()
            if not chunk:
                return None
            buf += chunk

    def _recv(self) -> bytes:
        """The next bytes from Asterisk, b"" once it closed the connection."""
        if self._fresh:                  # the environment is sent with the connection: often here
            self._fresh = False
            try:
                return self.sock.recv(65536)
            except BlockingIOError:
                pass
        while True:
            if self.hub is not None:     # Asterisk answers after a while: wait first, then read
                self.hub.wait_fd(self._fd, READ, self.timeout)
            try:
                return self.sock.recv(65536)
            except BlockingIOError as exc:           # hub: woken without data, wait again
                if self.hub is None:                  # blocking: SO_RCVTIMEO ran out
                    raise TimeoutError("Asterisk sent nothing within the socket timeout") from exc

    def close(self) -> None:
        self._buf = b""


class _SocketWriter:
    """One write per command, so a command always leaves in one piece."""

    def __init__(self, sock: socket.socket, hub: Hub | None = None, timeout: float | None = None) -> None:
        self.sock = sock
        self.hub, self.timeout = hub, timeout

    def write(self, data: bytes) -> int:
        if self.hub is None:
            self.sock.sendall(data)
            return len(data)
        view, sent = memoryview(data), 0
        while sent < len(data):
            try:
                sent += self.sock.send(view[sent:])
            except BlockingIOError:
                self.hub.wait_fd(self.sock.fileno(), WRITE, self.timeout)
        return len(data)

    def flush(self) -> None:
        pass


class FastAGIServer:
    def __init__(self, handler: Callable[[object, object], None], host: str = "127.0.0.1",
                 port: int = 4573, *, max_calls: int = 1000, accept_queue: int = 200,
                 socket_timeout: float = 180.0, hubs: int = 1) -> None:
        self.handler = handler
        self.host, self.port = host, port
        self.max_calls = max_calls
        self.accept_queue = accept_queue
        self.socket_timeout = socket_timeout
        self._hubs = [Hub(f"fastagi-{i}") for i in range(max(1, hubs))]
        self._next_hub = 0
        self._waiting: collections.deque = collections.deque()   # accepted, waiting for a place
        self._running = 0
        self._active: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._listener: socket.socket | None = None
        self._stopping = threading.Event()
        self.refused = 0
        self.served = 0

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> int:
        """Bind and start accepting on the first hub; returns the bound port."""
        listener = socket.create_server((self.host, self.port), backlog=1024, reuse_port=False)
        listener.setblocking(False)
        self._listener = listener
        self.port = listener.getsockname()[1]
        for hub in self._hubs:
            hub.start()
        self._hubs[0].call(lambda: self._hubs[0].add_reader(listener.fileno(), self._accept))
        log.info("FastAGI listening on %s:%d (max %d calls, %d hub thread(s))", self.host, self.port,
                 self.max_calls, len(self._hubs))
        return self.port

    def stop_accepting(self) -> None:
        """Close the listener at once: Asterisk's next connection is refused and it fails over."""
        self._stopping.set()
        listener, self._listener = self._listener, None
        if listener is None:
            return

        def close() -> None:
            self._hubs[0].remove_reader(listener.fileno())
            listener.close()
            while self._waiting:            # accepted but never started: they fail over too
                conn = self._waiting.popleft()
                self._refuse(conn)
                self._finished(conn, served=False)
        try:
            self._hubs[0].call(close)
        except Exception:  # noqa: BLE001 - the hub is gone: close here
            listener.close()

    def shutdown(self, grace: float = 30.0) -> int:
        """Stop accepting, let calls finish for ``grace`` s, then cut them; returns calls cut."""
        self.stop_accepting()
        with self._idle:
            self._idle.wait_for(lambda: not self._active, timeout=grace)
            cut = list(self._active)
        for sock in cut:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        with self._idle:                     # the cut calls see their sockets end and finish
            self._idle.wait_for(lambda: not self._active, timeout=5)
        for hub in self._hubs:
            hub.stop()
        log.info("FastAGI stopped; %d call(s) cut after the %.0f s grace", len(cut), grace)
        return len(cut)

    @property
    def active_calls(self) -> int:
        with self._lock:
            return len(self._active)

    # -- accepting (first hub's thread) -------------------------------------------------------
    def _accept(self) -> None:
        listener = self._listener
        while listener is not None:
            try:
                conn, _addr = listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                if not self._stopping.is_set():
                    log.exception("accept failed")
                return
            with self._lock:
                self._active.add(conn)
            if self._running < self.max_calls:
                self._start(conn)
            elif len(self._waiting) < self.accept_queue:
                self._waiting.append(conn)
            else:
                self.refused += 1
                log.warning("FastAGI saturated: refusing a call (Asterisk falls back to the queue)")
                self._refuse(conn)
                self._finished(conn, served=False)

    def _start(self, conn: socket.socket) -> None:
        self._running += 1
        hub = self._hubs[self._next_hub]
        self._next_hub = (self._next_hub + 1) % len(self._hubs)
        if hub is self._hubs[0]:
            hub.spawn(self._serve, hub, conn)
        else:
            hub.post(lambda: hub.spawn(self._serve, hub, conn))

    @staticmethod
    def _refuse(conn: socket.socket) -> None:
        try:
            conn.setblocking(True)
            conn.settimeout(1.0)
            conn.sendall(b"failure\n")
        except OSError:
            pass

    def _serve(self, hub: Hub, conn: socket.socket) -> None:
        fd = conn.fileno()
        try:
            conn.setblocking(False)
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            rfile = _SocketReader(conn, hub, self.socket_timeout)
            try:
                self.handler(rfile, _SocketWriter(conn, hub, self.socket_timeout))
            finally:
                rfile.close()
        except Exception:  # noqa: BLE001 - one call's failure must not touch the others
            log.exception("FastAGI connection failed")
        finally:
            hub.forget(fd)
            self._finished(conn, served=True)
            if hub is self._hubs[0]:
                self._place_freed()
            else:                             # places are counted on the accepting hub's thread
                self._hubs[0].post(self._place_freed)

    def _place_freed(self) -> None:
        self._running -= 1
        if self._waiting and self._running < self.max_calls:
            self._start(self._waiting.popleft())

    def _finished(self, conn: socket.socket, *, served: bool) -> None:
        try:
            conn.close()
        finally:
            with self._idle:
                if served:
                    self.served += 1
                self._active.discard(conn)
                self._idle.notify_all()
