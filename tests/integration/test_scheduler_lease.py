"""One engine process at a time runs the scheduled jobs; another takes over when it dies."""
from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone

from core import lease
from hotline.scheduler import Job, Scheduler

T0 = datetime(2026, 11, 25, 8, 0, tzinfo=timezone.utc)


def test_lease_is_exclusive_and_expires(database):
    with database.session() as s:
        assert lease.acquire(s, "scheduler", "node-a", T0, ttl=30)
    with database.session() as s:
        assert not lease.acquire(s, "scheduler", "node-b", T0 + timedelta(seconds=10), ttl=30)
        assert lease.acquire(s, "scheduler", "node-a", T0 + timedelta(seconds=10), ttl=30)   # renewal
    with database.session() as s:
        assert lease.holder_of(s, "scheduler", T0 + timedelta(seconds=39)) == "node-a"
        assert lease.acquire(s, "scheduler", "node-b", T0 + timedelta(seconds=41), ttl=30)   # a dead holder
        assert lease.holder_of(s, "scheduler", T0 + timedelta(seconds=41)) == "node-b"


def test_two_acquirers_at_once_one_wins(database):
    wins = []
    barrier = threading.Barrier(2)

    def contend(name):
        barrier.wait()
        try:
            with database.session() as s:
                wins.append((name, lease.acquire(s, "scheduler", name, T0, ttl=30)))
        except Exception as exc:  # a serialisation error also means "did not get it"
            wins.append((name, False, exc.__class__.__name__))

    threads = [threading.Thread(target=contend, args=(n,)) for n in ("a", "b")]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert sorted(w[1] for w in wins) == [False, True]


class _Engine:
    def __init__(self, db):
        self.db = db
        self.zone = timezone.utc

    def clock(self):
        return datetime.now(timezone.utc)


def test_only_the_leader_runs_jobs_and_a_survivor_takes_over(database):
    runs = []
    engine = _Engine(database)
    a = Scheduler(engine, [Job("tick", lambda: runs.append("a"), "interval", seconds=1)], ttl=2, renew=0.3,
                  holder="a")
    a.start()
    time.sleep(1.0)
    assert a.is_leader
    b = Scheduler(engine, [Job("tick", lambda: runs.append("b"), "interval", seconds=1)], ttl=2, renew=0.3,
                  holder="b")
    # a dies without releasing: its lease thread stops, its lease is left to expire
    a._stop.set()
    a._thread.join()
    a._aps.shutdown(wait=False)
    b.start()
    deadline = time.time() + 10
    while not b.is_leader and time.time() < deadline:
        time.sleep(0.1)
    assert b.is_leader, "the survivor did not take the scheduler over"
    time.sleep(2.5)
    b.stop()
    assert "b" in runs
