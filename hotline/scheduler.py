"""Scheduled jobs: APScheduler 3 with a persistent SQLAlchemy job store, run by one process.

Every ``hotline serve`` process starts a scheduler, paused. A lease in the database
(``core.lease``) decides which one runs the jobs: the holder renews it every ``renew`` seconds
and resumes its scheduler; the others stay paused and try to take the lease over, which they
can once the holder has not renewed for ``ttl`` seconds (it died). Jobs are stored by name and
call :func:`run_job`, so the job store keeps no pickled engine objects. No rule depends on a job
having run: expiry of blocks and "is a leader session live" are computed at check time.
"""
from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

from core import lease

log = logging.getLogger(__name__)

LEASE = "scheduler"
JOB_TABLE = "scheduler_jobs"
_active: "Scheduler | None" = None


def run_job(name: str) -> None:
    """Entry point stored in the job store (``hotline.scheduler:run_job``)."""
    sched = _active
    if sched is None or not sched.is_leader:
        return
    job = sched.jobs.get(name)
    if job is None:
        log.warning("scheduled job %r is not known to this engine version", name)
        return
    try:
        job.func()
    except Exception:  # noqa: BLE001 - one failed run is logged; the next run tries again
        log.exception("scheduled job %s failed", name)


class Job:
    def __init__(self, name: str, func: Callable[[], object], trigger: str, **trigger_args) -> None:
        self.name, self.func, self.trigger, self.trigger_args = name, func, trigger, trigger_args


class Scheduler:
    def __init__(self, engine, jobs: list[Job], *, ttl: float = 30.0, renew: float = 10.0,
                 holder: str | None = None) -> None:
        self.engine = engine
        self.jobs = {job.name: job for job in jobs}
        self.ttl, self.renew = ttl, renew
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}"
        self.is_leader = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._aps: BackgroundScheduler | None = None

    def start(self) -> None:
        global _active
        _active = self
        store = SQLAlchemyJobStore(engine=self.engine.db.engine, tablename=JOB_TABLE)
        for attempt in range(5):      # another engine process may be creating the table right now
            try:
                store.jobs_t.create(self.engine.db.engine, checkfirst=True)
                break
            except (IntegrityError, ProgrammingError, OperationalError):
                time.sleep(0.2 * (attempt + 1))
        self._aps = BackgroundScheduler(
            jobstores={"default": store},
            timezone=self.engine.zone,
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600},
        )
        self._aps.start(paused=True)
        for job in self.jobs.values():
            self._aps.add_job("hotline.scheduler:run_job", job.trigger, args=[job.name], id=job.name,
                              name=job.name, replace_existing=True, **job.trigger_args)
        self._thread = threading.Thread(target=self._lease_loop, name="scheduler-lease", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        global _active
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.renew + 5)
        if self._aps is not None:
            self._aps.shutdown(wait=False)
        if self.is_leader:
            try:
                with self.engine.db.session() as s:
                    lease.release(s, LEASE, self.holder, self.engine.clock())
            except Exception:  # noqa: BLE001 - the lease then simply expires
                log.warning("scheduler lease not released; it expires in %.0f s", self.ttl)
        self.is_leader = False
        if _active is self:
            _active = None

    def _lease_loop(self) -> None:
        while not self._stop.is_set():
            try:
                with self.engine.db.session() as s:
                    held = lease.acquire(s, LEASE, self.holder, self.engine.clock(), self.ttl)
            except Exception as exc:  # noqa: BLE001 - database away: stand down until it is back
                log.warning("scheduler lease check failed (%s); jobs paused here", exc.__class__.__name__)
                held = False
            if held and not self.is_leader:
                log.info("this process (%s) now runs the scheduled jobs", self.holder)
                self._aps.resume()
            elif not held and self.is_leader:
                log.warning("scheduler lease lost; jobs paused in %s", self.holder)
                self._aps.pause()
            self.is_leader = held
            self._stop.wait(self.renew)
