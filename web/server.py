"""Runs the web app with uvicorn in a background thread of ``hotline serve``.

The socket is bound here, in the caller's thread, so a port already in use is an error at
start, not a line in a log. uvicorn installs no signal handlers outside the main thread:
``hotline serve`` keeps SIGTERM/SIGINT and calls :meth:`WebListener.stop`.
"""
from __future__ import annotations

import logging
import socket
import threading
import time

import uvicorn

log = logging.getLogger(__name__)


class WebListener:
    def __init__(self, app, host: str, port: int, *, shutdown_grace: float = 30.0) -> None:
        self.host = host
        self.port = port
        self.config = uvicorn.Config(app, host=host, port=port, log_config=None, lifespan="off",
                                     server_header=False, timeout_graceful_shutdown=max(1, int(shutdown_grace)))
        self.server = uvicorn.Server(self.config)
        self._thread: threading.Thread | None = None
        self._sock: socket.socket | None = None

    def start(self, timeout: float = 10.0) -> int:
        """Listen and serve; returns the port (useful with port 0). OSError if it cannot listen."""
        family, kind, proto, _, address = socket.getaddrinfo(self.host, self.port, type=socket.SOCK_STREAM,
                                                             flags=socket.AI_PASSIVE)[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
        except OSError:
            sock.close()
            raise
        self._sock = sock
        self.port = sock.getsockname()[1]
        self._thread = threading.Thread(target=self.server.run, kwargs={"sockets": [sock]}, name="web",
                                        daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop(1.0)
                raise OSError(f"the web listener did not start on {self.host}:{self.port}")
            time.sleep(0.02)
        return self.port

    def request_stop(self) -> None:
        """Take no new requests; those in flight finish (then :meth:`stop` returns). Long
        responses (the console's event streams) see ``app.state.stopping`` and end."""
        stopping = getattr(getattr(self.config.app, "state", None), "stopping", None)
        if stopping is not None:
            stopping.set()
        self.server.should_exit = True

    def stop(self, timeout: float = 30.0) -> None:
        self.request_stop()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                self.server.force_exit = True
                self._thread.join(2.0)
        if self._sock is not None:
            self._sock.close()
