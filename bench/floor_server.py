"""The floor: a minimal FastAGI server that only answers and sets a variable.

Two models, so the engine is compared with the cheapest floor of its own kind and of the other:

* ``--model hub`` (default): the engine's own — every call a greenlet on one hub thread
  (``core.cooperative.Hub``), a call switching out where it waits for Asterisk;
* ``--model threads``: a pool of threads, one per call, blocking sockets (the engine's model
  until 2026-11-26).

``--replay FILE`` makes it send, instead, the command lines in FILE (one per line, verbatim)
and nothing else: fed the commands the engine sent on a real call, it is the same call on the
wire with no flow, no database and no pyst2 — the protocol's own cost for that call.
"""
from __future__ import annotations

import argparse
import signal
import socket
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

ANSWER_AND_SET = (b"ANSWER\n", b'SET VARIABLE HOTLINE_ACTION "queue"\n')


def handle(conn: socket.socket, commands: tuple[bytes, ...] = ANSWER_AND_SET) -> None:
    with conn:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        rfile = conn.makefile("rb")
        while rfile.readline() not in (b"\n", b""):
            pass
        for command in commands:
            conn.sendall(command)
            while True:
                line = rfile.readline()
                if not line or line.startswith(b"200") or line.startswith(b"5"):
                    break


def serve_threads(server: socket.socket, commands, threads: int, stop: threading.Event) -> None:
    pool = ThreadPoolExecutor(max_workers=threads)
    server.settimeout(0.5)
    while not stop.is_set():
        try:
            conn, _ = server.accept()
        except TimeoutError:
            continue
        pool.submit(handle, conn, commands)


def serve_hub(server: socket.socket, commands, stop: threading.Event) -> None:
    from core.cooperative import READ, Hub

    hub = Hub("floor")

    def call(conn: socket.socket) -> None:
        fd, buf = conn.fileno(), b""

        def readline() -> bytes:
            nonlocal buf
            while b"\n" not in buf:
                hub.wait_fd(fd, READ, 60)
                try:
                    chunk = conn.recv(65536)
                except BlockingIOError:
                    continue
                if not chunk:
                    return b""
                buf += chunk
            line, _, buf = buf.partition(b"\n")
            return line + b"\n"

        try:
            while readline() not in (b"\n", b""):
                pass
            for command in commands:
                conn.send(command)             # a few bytes on a fresh socket: never short
                while True:
                    line = readline()
                    if not line or line.startswith(b"200") or line.startswith(b"5"):
                        break
        except OSError:
            pass
        finally:
            hub.forget(fd)
            conn.close()

    def accept() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except BlockingIOError:
                return
            conn.setblocking(False)
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            hub.spawn(call, conn)

    server.setblocking(False)
    hub.start()
    hub.call(lambda: hub.add_reader(server.fileno(), accept))
    stop.wait()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--model", choices=("hub", "threads"), default="hub")
    ap.add_argument("--threads", type=int, default=1000)
    ap.add_argument("--replay", help="a file of AGI command lines to send on each call instead")
    args = ap.parse_args()
    commands = ANSWER_AND_SET
    if args.replay:
        with open(args.replay, "rb") as f:
            commands = tuple(line.rstrip(b"\n") + b"\n" for line in f if line.strip())
    server = socket.create_server(("127.0.0.1", args.port), backlog=1024)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print("ready", flush=True)
    if args.model == "hub":
        serve_hub(server, commands, stop)
    else:
        serve_threads(server, commands, args.threads, stop)


if __name__ == "__main__":
    main()
