"""Two real ``hotline serve`` processes on one PostgreSQL: exactly one holds the scheduler lease and
runs the jobs; SIGKILL it and the other takes over within ttl + renew (+ a margin)."""
from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from core import db as dbmod
from core import lease
from tests.conftest import PG_URL, _pg_schema_url

ROOT = Path(__file__).resolve().parents[2]
TTL_S, RENEW_S = 4.0, 1.0
MARGIN_S = 4.0                    # process scheduling, the database round trips, a slow CI machine
START_S = 90.0                    # `hotline serve` start-up (migration check, knowledge base, …)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Engine:
    """One `hotline serve` process; its output is collected by a thread."""

    def __init__(self, name: str, url: str, data_dir: Path) -> None:
        self.name = name
        env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
        env.update({"HOTLINE_DATABASE_URL": url, "HOTLINE_DATA_DIR": str(data_dir),
                    "HOTLINE_SCHEDULER_LEASE_TTL_S": str(TTL_S), "HOTLINE_SCHEDULER_LEASE_RENEW_S": str(RENEW_S),
                    "HOTLINE_SPEECH_ENGINE": "off", "HOTLINE_WEB_PORT": str(free_port()),
                    "HOTLINE_LOG_LEVEL": "INFO", "PYTHONUNBUFFERED": "1"})
        exe = Path(sys.executable).with_name("hotline")
        self.proc = subprocess.Popen([str(exe), "serve", "--port", str(free_port())], cwd=ROOT, env=env,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.holder = f"{socket.gethostname()}:{self.proc.pid}"     # hotline.scheduler's lease holder
        self.lines: list[str] = []
        self.ready = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))
            if "FastAGI on" in line:
                self.ready.set()

    def wait_ready(self, timeout: float) -> bool:
        """Listening (True), or exited / still starting after ``timeout`` (False)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.ready.wait(0.2):
                return True
            if self.proc.poll() is not None:
                time.sleep(0.2)                      # let the reader collect the last lines
                return self.ready.is_set()
        return False

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def runs_jobs_logged(self) -> bool:
        return "now runs the scheduled jobs" in self.output

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


@pytest.fixture
def pg_schema_url():
    """A fresh, migrated schema of its own (the test's processes share nothing with other tests)."""
    schema = "t2p_" + secrets.token_hex(4)
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as c:
            c.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:
        pytest.fail(f"PostgreSQL at {PG_URL} is not reachable: {exc}")
    url = _pg_schema_url(schema)
    dbmod.upgrade(url)               # once, before two processes start (both would migrate at once)
    yield url
    with admin.connect() as c:
        c.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


def holder(db: dbmod.Database) -> tuple[str | None, datetime | None]:
    with db.read_session() as s:
        row = s.get(lease.Lease, "scheduler")
        if row is None:
            return None, None
        now = datetime.now(timezone.utc)
        return (row.holder if row.expires_at > now else None), row.expires_at


def wait_for(predicate, timeout: float, step: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    return predicate()


@pytest.mark.postgres
def test_one_scheduler_among_two_processes_and_takeover_after_sigkill(pg_schema_url, tmp_path):
    db = dbmod.Database(pg_schema_url)
    engines = []
    try:
        for name in ("a", "b"):              # one after the other: see the test below for both at once
            engines.append(Engine(name, pg_schema_url, tmp_path / name))
            assert engines[-1].wait_ready(START_S), f"engine {name} did not start:\n{engines[-1].output}"
        by_holder = {e.holder: e for e in engines}
        first = wait_for(lambda: holder(db)[0] in by_holder and holder(db)[0], TTL_S + RENEW_S + MARGIN_S)
        assert first in by_holder, f"no engine took the scheduler lease: {holder(db)}"
        leader = by_holder[first]
        other = next(e for e in engines if e is not leader)

        # the lease is the configured one: renewed every RENEW_S, held for TTL_S
        _, expires = holder(db)
        remaining = (expires - datetime.now(timezone.utc)).total_seconds()
        assert remaining <= TTL_S + 0.5, (
            f"the lease runs {remaining:.0f} s ahead, not ≤ {TTL_S} s: does `hotline serve` pass "
            "settings.scheduler_lease_ttl_s / scheduler_lease_renew_s to hotline.scheduler.Scheduler?")

        # exactly one runs the jobs, for several renewals in a row
        for _ in range(int(3 * RENEW_S / 0.25)):
            assert holder(db)[0] == leader.holder
            time.sleep(0.25)
        assert wait_for(leader.runs_jobs_logged, 5), leader.output
        assert not other.runs_jobs_logged(), f"both engines ran the scheduled jobs:\n{other.output}"

        # the holder dies without a word; the other takes over within ttl + renew
        leader.proc.send_signal(signal.SIGKILL)
        killed_at = time.monotonic()
        leader.proc.wait(timeout=10)
        bound = TTL_S + RENEW_S + MARGIN_S
        took = wait_for(lambda: holder(db)[0] == other.holder, bound, step=0.05)
        elapsed = time.monotonic() - killed_at
        assert took, f"the survivor did not take the lease within {bound} s (holder: {holder(db)})\n{other.output}"
        assert elapsed <= bound
        assert wait_for(other.runs_jobs_logged, 5), other.output
        # and keeps it
        time.sleep(2 * RENEW_S)
        assert holder(db)[0] == other.holder
    finally:
        for e in engines:
            e.stop()
        db.dispose()


@pytest.mark.postgres
def test_two_processes_starting_at_once_on_a_fresh_schema_both_come_up(pg_schema_url, tmp_path):
    """Nodes of a cluster start together (a host reboot, a deploy). Each scheduler's job store
    creates its table on first start; both must come up, one holding the lease."""
    db = dbmod.Database(pg_schema_url)
    engines = [Engine(n, pg_schema_url, tmp_path / n) for n in ("a", "b")]
    try:
        for e in engines:
            assert e.wait_ready(START_S), f"engine {e.name} did not start:\n{e.output[-3000:]}"
        holders = {e.holder for e in engines}
        assert wait_for(lambda: holder(db)[0] in holders, TTL_S + RENEW_S + MARGIN_S), holder(db)
    finally:
        for e in engines:
            e.stop()
        db.dispose()
