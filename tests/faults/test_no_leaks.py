"""After 1,000 calls the engine holds no more threads, file descriptors or database connections
than after 10 (issue 9)."""
from __future__ import annotations

import gc
import os
import threading
import time

from tests.fake_asterisk import Listen, Press, ScriptedCaller, Speak, place_calls


def resources(running) -> dict[str, int]:
    """Counted once the engine is idle: background work (transcripts, index refresh) may hold a
    connection for a moment; a leaked one stays checked out for good."""
    running.engine.drain()
    pool = running.engine.db.engine.pool
    deadline = time.time() + 10
    while pool.checkedout() and time.time() < deadline:
        time.sleep(0.1)
    gc.collect()
    return {"threads": threading.active_count(), "names": sorted(t.name.split("_")[0] for t in threading.enumerate()), "fds": len(os.listdir("/proc/self/fd")),
            "db_checked_out": pool.checkedout(), "db_connections": pool.checkedin() + pool.checkedout(),
            "active_calls": running.server.active_calls}


def calls(n: int, realtime: float = 0.0):
    scripts = []
    for i in range(n):
        kind = i % 4
        actions = ([Listen(), Listen()], [Press("0")], [Press("2"), Speak("留言", end="#")],
                   [Speak("社保卡丢了怎么补办"), Press("0")])[kind]
        scripts.append((ScriptedCaller(actions), {"callerid": f"1390000{i % 9000:04d}", "realtime": realtime}))
    return scripts


def test_1000_calls_leave_nothing_behind(make_engine):
    """Counted after 10, 500 and 1,000 calls. Call-bound resources (calls in progress, database
    connections checked out) are back to zero each time. Threads, file descriptors and pooled
    database connections may grow from the first 10 calls only up to their pools' fixed sizes
    (call threads ≤ max_calls, connections ≤ pool size); from 500 to 1,000 calls nothing may grow
    at all — a per-call leak would add hundreds."""
    running = make_engine(speech_engine="transcript", max_calls=10, accept_queue=200)
    pool = running.engine.db.engine.pool
    results = place_calls("127.0.0.1", running.port, calls(10, realtime=0.02), concurrency=10)
    assert all(r.variables.get("HOTLINE_ACTION") for r in results)
    # the database pool keeps up to pool.size() connections and opens them as load needs them;
    # open them all now, so later growth can only be a leak, not the pool filling up
    held = [running.engine.db.engine.connect() for _ in range(pool.size())]
    for conn in held:
        conn.close()
    after_10 = resources(running)
    seen = []
    for _ in range(2):
        results = place_calls("127.0.0.1", running.port, calls(500), concurrency=10)
        assert sum(1 for r in results if r.variables.get("HOTLINE_ACTION")) == 500
        seen.append(resources(running))
    after_500, after_1000 = seen
    for snapshot in (after_10, after_500, after_1000):
        assert snapshot["active_calls"] == 0 and snapshot["db_checked_out"] == 0, snapshot
    for key in ("threads", "fds", "db_connections"):
        assert after_1000[key] <= after_500[key], (key, after_500, after_1000)
    assert after_1000["names"] == after_500["names"]
    assert after_1000["threads"] - after_10["threads"] <= 10            # the call-thread pool's size
    assert after_1000["db_connections"] <= pool.size()
    assert after_1000["fds"] <= after_10["fds"] + 2       # a file or two the message recorder may hold
