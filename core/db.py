"""Database access: one engine per process, short sessions, durable SQLite by default."""
from __future__ import annotations

import contextlib
import logging
import queue
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from pathlib import Path

from datetime import timezone

from sqlalchemy import DateTime, MetaData, create_engine, event, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.types import TypeDecorator
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from core.config import PROJECT_ROOT
from core.logs import Incident

log = logging.getLogger(__name__)

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


MIGRATIONS_DIR = PROJECT_ROOT / "migrations"


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    # transactions are begun by _sqlite_begin, not by the driver (SQLAlchemy's pysqlite recipe),
    # so SAVEPOINT works and writers can take the lock up front
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=FULL")  # a confirmed write survives a power cut
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()


def _sqlite_begin(conn) -> None:
    # BEGIN IMMEDIATE takes the write lock at the start: a read-then-write transaction waits
    # its turn instead of failing with "database is locked" when it tries to upgrade.
    mode = conn.get_execution_options().get("sqlite_begin", "IMMEDIATE")
    if mode == "NONE":          # one-statement reads: the statement is its own transaction
        return
    conn.exec_driver_sql(f"BEGIN {mode}" if mode in ("IMMEDIATE", "DEFERRED") else "BEGIN")


def make_engine(url: str, **kw) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 10},
                               pool_size=kw.pop("pool_size", 20), max_overflow=kw.pop("max_overflow", 40),
                               pool_timeout=30, **kw)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    if "poolclass" in kw:
        return create_engine(url, **kw)
    connect_args = kw.pop("connect_args", {})
    if url.startswith("postgresql"):
        connect_args.setdefault("connect_timeout", 5)     # a database that is away is noticed in seconds
    return create_engine(url, pool_size=kw.pop("pool_size", 10), max_overflow=kw.pop("max_overflow", 20),
                         pool_pre_ping=True, pool_timeout=10, connect_args=connect_args, **kw)


class Database:
    """The engine plus session factories.

    ``with db.session() as s`` is a read-write transaction that commits or rolls back;
    ``db.read_session()`` is for reads on hot paths (on SQLite it does not take the write lock);
    ``db.write(fn)`` runs ``fn(session)`` in a committed transaction — on SQLite one writer
    thread batches concurrent writes into one transaction (one fsync for many calls).
    ``db.write(fn, wait=False)`` queues the write (call records): it never holds up a call, and
    while the database is away it is kept and retried, so writes resume when it returns.
    ``db.incident`` logs an outage once, not once per call.
    """

    def __init__(self, url: str, **engine_kw) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        self.engine = make_engine(url, **engine_kw)
        self._factory = sessionmaker(self.engine, expire_on_commit=False)
        reader = self.engine.execution_options(sqlite_begin="DEFERRED") if self.is_sqlite else self.engine
        self._read_factory = sessionmaker(reader, expire_on_commit=False)
        # one-statement reads on the call path (blocklist check, priority registry): a pooled
        # connection and a prebuilt statement, no ORM session, no BEGIN/ROLLBACK around it (the
        # statement reads one consistent snapshot on its own) — on PostgreSQL two round trips
        # (pre-ping, SELECT) instead of four
        self._hot = (self.engine.execution_options(sqlite_begin="NONE") if self.is_sqlite
                     else self.engine.execution_options(isolation_level="AUTOCOMMIT"))
        self._writer: GroupCommitWriter | None = None
        self._writer_lock = threading.Lock()
        self.incident = Incident("database", probe=self._probe)
        # SQLite has one writer at a time; threads of this process queue here (and wake at once)
        # rather than in SQLite's busy handler, which sleeps up to 100 ms between tries and lets
        # a waiting writer starve under load. Other processes still meet the busy timeout.
        self._sqlite_write = threading.RLock() if self.is_sqlite else None

    @contextlib.contextmanager
    def session(self) -> Iterator[Session]:
        """A read-write transaction. Do not call ``write()`` inside one: on SQLite it would wait
        for this very transaction."""
        if self._sqlite_write is not None:
            self._sqlite_write.acquire()
        s = self._factory()
        try:
            yield s
            s.commit()
        except BaseException:
            s.rollback()
            raise
        finally:
            s.close()
            if self._sqlite_write is not None:
                self._sqlite_write.release()

    @contextlib.contextmanager
    def read_session(self) -> Iterator[Session]:
        s = self._read_factory()
        try:
            yield s
        finally:
            s.rollback()
            s.close()

    def read_first(self, statement, params: dict | None = None):
        """The first row of one read-only statement (or None), at the least cost per call."""
        with self._hot.connect() as conn:
            return conn.execute(statement, params or {}).first()

    def write(self, fn: Callable[[Session], object], *, wait: bool = True, timeout: float = 30.0):
        """``fn(session)`` committed; returns its result (wait) or a Future (no wait)."""
        if wait and not self.is_sqlite:      # PostgreSQL: concurrent writers, in the calling thread
            try:
                with self.session() as s:
                    result = fn(s)
            except DBAPIError as exc:
                if exc.connection_invalidated or _is_connection_error(exc):
                    self.incident.failed(exc)
                raise
            return result
        with self._writer_lock:
            if self._writer is None:
                self._writer = GroupCommitWriter(self)
        fut = self._writer.submit(fn, retry=not wait)
        return fut.result(timeout) if wait else fut

    def ping(self) -> bool:
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return True
        except Exception as exc:  # noqa: BLE001 - health probe reports, never raises
            log.warning("database ping failed: %s", exc.__class__.__name__)
            return False

    def _probe(self) -> None:
        """Raises while the database is away (or, on SQLite, locked against writers)."""
        with self.engine.connect() as conn:
            if self.is_sqlite:
                conn.exec_driver_sql("BEGIN IMMEDIATE")   # after connect(): our begin hook has not run
                conn.exec_driver_sql("ROLLBACK")
            else:
                conn.execute(text("SELECT 1"))

    def outage(self, exc: BaseException) -> bool:
        """True (and logged once per incident) when ``exc`` means the database is away or locked."""
        if isinstance(exc, DBAPIError) and (exc.connection_invalidated or _is_connection_error(exc)):
            self.incident.failed(exc)
            return True
        return False

    def sync(self, timeout: float = 30.0) -> None:
        """Wait until every write queued so far (``write(..., wait=False)``) is committed."""
        if self._writer is not None:
            self._writer.submit(lambda s: None).result(timeout)

    def dispose(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        self.engine.dispose()


def _is_connection_error(exc: DBAPIError) -> bool:
    """The database is away or locked (rather than this write being wrong)."""
    from sqlalchemy.exc import OperationalError

    if not isinstance(exc, OperationalError):
        return False
    text_ = str(exc.orig).lower()
    return any(word in text_ for word in ("locked", "unable to open", "connection", "server closed",
                                          "terminating", "could not connect", "timeout", "timed out",
                                          "refused", "no route", "disk i/o"))


_RETRY = object()


class GroupCommitWriter:
    """One thread that commits queued writes in batches; each write runs in its own SAVEPOINT,
    so one failing write is rolled back alone and reported to its caller."""

    MAX_KEPT = 20_000            # writes kept during an outage; beyond that the oldest are dropped

    def __init__(self, db: Database, max_batch: int = 256) -> None:
        self.db = db
        self.max_batch = max_batch
        self._kept: list = []        # retryable writes that failed because the database was away
        self._backoff = 0.5
        self._queue: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="db-writer", daemon=True)
        self._thread.start()

    def submit(self, fn: Callable[[Session], object], retry: bool = False) -> Future:
        """``retry``: a write nobody waits for is kept while the database is away (bounded)."""
        fut: Future = Future()
        self._queue.put((fn, fut, retry))
        return fut

    def close(self, timeout: float = 30.0) -> None:
        self._queue.put(None)
        self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            if self._kept:           # the database was away: try again after a pause
                try:
                    item = self._queue.get(timeout=self._backoff)
                except queue.Empty:
                    item = _RETRY
            else:
                item = self._queue.get()
            if item is None:
                if self._kept:
                    self._commit(self._take_kept())
                return
            batch, stop = self._take_kept() + ([] if item is _RETRY else [item]), False
            while len(batch) < self.max_batch:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    stop = True
                    break
                batch.append(nxt)
            self._commit(batch)
            if stop:
                return

    def _take_kept(self) -> list:
        kept, self._kept = self._kept, []
        return kept

    def _commit(self, batch: list) -> None:
        if not batch:
            return
        outcomes = []
        try:
            with self.db.session() as s:
                s.connection()                # BEGIN (IMMEDIATE on SQLite): the database takes writes
                if len(batch) == 1:           # nothing to isolate it from: no savepoint
                    fn, fut, _retry = batch[0]
                    outcomes.append((fut, True, fn(s)))
                for fn, fut, _retry in batch if len(batch) > 1 else ():
                    try:
                        with s.begin_nested():
                            outcomes.append((fut, True, fn(s)))
                    except DBAPIError as exc:
                        if exc.connection_invalidated or _is_connection_error(exc):
                            raise             # the whole batch waits for the database
                        outcomes.append((fut, False, exc))
                    except Exception as exc:  # noqa: BLE001 - reported to that write's caller
                        outcomes.append((fut, False, exc))
        except Exception as exc:  # noqa: BLE001 - the commit itself failed
            away = isinstance(exc, DBAPIError) and (exc.connection_invalidated or _is_connection_error(exc))
            if away:
                self.db.incident.failed(exc)
            for fn, fut, retry in batch:
                if retry and away:
                    self._kept.append((fn, fut, retry))
                else:
                    fut.set_exception(exc)
            if len(self._kept) > self.MAX_KEPT:
                dropped = len(self._kept) - self.MAX_KEPT
                for _fn, fut, _r in self._kept[:dropped]:
                    fut.set_exception(exc)
                self._kept = self._kept[dropped:]
            self._backoff = min(30.0, self._backoff * 2) if away else 0.5
            return
        self._backoff = 0.5
        for fut, ok, value in outcomes:
            fut.set_result(value) if ok else fut.set_exception(value)


def alembic_config(url: str):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    from alembic import command

    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str) -> None:
    from alembic import command

    command.downgrade(alembic_config(url), revision)


def current_revision(url: str) -> str | None:
    from alembic.runtime.migration import MigrationContext

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()


class UTCDateTime(TypeDecorator):
    """Aware datetimes in, aware UTC datetimes out, on every backend (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; times must carry a zone")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)
