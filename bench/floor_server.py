"""The floor: a minimal FastAGI server that only answers and sets a variable.

Same concurrency model as the engine (a pool of threads, one per call), so the difference
between the two is what the engine does per call, not how it accepts connections.
"""
from __future__ import annotations

import argparse
import signal
import socket
import threading
from concurrent.futures import ThreadPoolExecutor


def handle(conn: socket.socket) -> None:
    with conn:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        rfile = conn.makefile("rb")
        while rfile.readline() not in (b"\n", b""):
            pass
        for command in (b"ANSWER\n", b'SET VARIABLE HOTLINE_ACTION "queue"\n'):
            conn.sendall(command)
            while True:
                line = rfile.readline()
                if not line or line.startswith(b"200") or line.startswith(b"5"):
                    break


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--threads", type=int, default=1000)
    args = ap.parse_args()
    pool = ThreadPoolExecutor(max_workers=args.threads)
    server = socket.create_server(("127.0.0.1", args.port), backlog=1024)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    server.settimeout(0.5)
    print("ready", flush=True)
    while not stop.is_set():
        try:
            conn, _ = server.accept()
        except TimeoutError:
            continue
        pool.submit(handle, conn)


if __name__ == "__main__":
    main()
