"""The floor: a minimal FastAGI server that only answers and sets a variable.

Same concurrency model as the engine (a pool of threads, one per call), so the difference
between the two is what the engine does per call, not how it accepts connections.

``--replay FILE`` makes it send, instead, the command lines in FILE (one per line, verbatim)
and nothing else: fed the commands the engine sent on a real call, it is the same call on the
wire with no flow, no database and no pyst2 — the protocol's own cost for that call.
"""
from __future__ import annotations

import argparse
import signal
import socket
import threading
from concurrent.futures import ThreadPoolExecutor


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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--threads", type=int, default=1000)
    ap.add_argument("--replay", help="a file of AGI command lines to send on each call instead")
    args = ap.parse_args()
    commands = ANSWER_AND_SET
    if args.replay:
        with open(args.replay, "rb") as f:
            commands = tuple(line.rstrip(b"\n") + b"\n" for line in f if line.strip())
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
        pool.submit(handle, conn, commands)


if __name__ == "__main__":
    main()
