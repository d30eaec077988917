"""Database access: one engine per process, short sessions, durable SQLite by default."""
from __future__ import annotations

import contextlib
import logging
import queue
import sqlite3
import threading
from collections import deque, namedtuple
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
from core.cooperative import wait_future
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
                         pool_pre_ping=kw.pop("pool_pre_ping", True), pool_timeout=10, connect_args=connect_args,
                         **kw)


class Database:
    """The engine plus session factories.

    ``with db.session() as s`` is a read-write transaction that commits or rolls back;
    ``db.read_session()`` is for reads on hot paths (on SQLite it does not take the write lock);
    ``db.write(fn)`` runs ``fn(session)`` in a committed transaction — on SQLite one writer
    thread batches concurrent writes into one transaction (one fsync for many calls).
    ``db.write(fn, wait=False)`` queues the write and returns a Future; ``db.write_behind(fn,
    on_error)`` queues it with no Future (call records): it never holds up a call, and
    while the database is away it is kept and retried, so writes resume when it returns.
    ``db.incident`` logs an outage once, not once per call.
    """

    def __init__(self, url: str, *, read_timeout_ms: int | None = 2000, **engine_kw) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        self.engine = make_engine(url, **engine_kw)
        self._factory = sessionmaker(self.engine, expire_on_commit=False)
        reader = self.engine.execution_options(sqlite_begin="DEFERRED") if self.is_sqlite else self.engine
        self._read_factory = sessionmaker(reader, expire_on_commit=False)
        # statements read_first's fast path does not handle (PreparedRead.build → False) run here,
        # with no BEGIN/ROLLBACK around them
        self._hot = (self.engine.execution_options(sqlite_begin="NONE") if self.is_sqlite
                     else self.engine.execution_options(isolation_level="AUTOCOMMIT"))
        self._prepared: dict = {}            # statement -> PreparedRead (or False: not handled)
        # a file database read by the call path: its own connections, no pool lock (SQLiteReaders)
        sqlite_file = self.is_sqlite and self.engine.url.database not in (None, "", ":memory:") \
            and not self.engine.url.query
        self._readers = SQLiteReaders(self.engine.url.database) if sqlite_file else None
        # a server database: the call path's reads have a small pool of their own with no
        # pre-ping (one round trip per read instead of two); a connection found dead by the read
        # itself is replaced and the read run once more (PreparedRead.first_pooled)
        self._read_engine = None
        self.read_timeout_ms: int | None = None
        self._own_reads = not self.is_sqlite and "poolclass" not in engine_kw
        self.set_read_timeout(read_timeout_ms)
        self._writer: GroupCommitWriter | None = None
        self._writer_lock = threading.Lock()
        self.incident = Incident("database", probe=self._probe)
        # SQLite has one writer at a time; threads of this process queue here (and wake at once)
        # rather than in SQLite's busy handler, which sleeps up to 100 ms between tries and lets
        # a waiting writer starve under load. Other processes still meet the busy timeout.
        self._sqlite_write = threading.RLock() if self.is_sqlite else None

    def set_read_timeout(self, ms: int | None) -> None:
        """Bound ``read_first`` on a server database: a read still running after ``ms`` is cancelled
        by the server (PostgreSQL ``statement_timeout`` on the reads' own connections) and raises,
        which the call path treats as an outage — the caller goes on instead of hearing silence
        while, say, a migration holds a lock. None: no bound. SQLite (its reads take no locks in
        WAL mode) and a database given its own ``poolclass`` (reads on the main engine): nothing."""
        if not self._own_reads or (self._read_engine is not None and ms == self.read_timeout_ms):
            return
        old, self.read_timeout_ms = self._read_engine, ms
        engine = make_engine(self.url, pool_size=5, max_overflow=10, pool_pre_ping=False)
        if ms is not None and engine.dialect.name == "postgresql":
            statement = f"SET statement_timeout = {int(ms)}"

            def bound(dbapi_conn, _record) -> None:
                cursor = dbapi_conn.cursor()
                try:
                    cursor.execute(statement)
                finally:
                    cursor.close()
                dbapi_conn.commit()

            event.listen(engine, "connect", bound)
        self._read_engine = engine
        if old is not None:
            old.dispose()

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
        """The first row of one read-only statement (or None), at the least cost per call.

        The statement is compiled once for this database (``PreparedRead``) and run on the
        driver's own cursor: SQLAlchemy's per-execution work (cache key, execution context,
        result object) costs several times what SQLite spends on an indexed lookup, and under
        many call threads each of its GIL hand-offs costs again. The row has the same values
        (the columns' own type processing) as ``conn.execute(statement).first()``.
        """
        prepared = self._prepared.get(statement)
        if prepared is None:
            prepared = self._prepared[statement] = PreparedRead.build(statement, self.engine.dialect)
        if prepared is False:        # a statement the fast path does not handle: SQLAlchemy runs it
            with self._hot.connect() as conn:
                return conn.execute(statement, params or {}).first()
        if self._readers is not None:
            return self._readers.first(prepared, params or {}, self.engine.dialect)
        return prepared.first_pooled(self._read_engine or self.engine, params or {})

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
        fut = self._group_writer().submit(fn, retry=not wait)
        return wait_future(fut, timeout) if wait else fut

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

    def write_behind(self, fn: Callable[[Session], object], on_error: Callable[[BaseException], None] | None = None) -> None:
        """``write(fn, wait=False)`` for the call path: no Future (its Condition and lock cost more
        than queueing the write); ``on_error(exc)`` is called, in the writer thread, if the write
        fails for good."""
        self._group_writer().submit_behind(fn, on_error)

    def _group_writer(self) -> GroupCommitWriter:
        writer = self._writer
        if writer is None:
            with self._writer_lock:
                if self._writer is None:
                    self._writer = GroupCommitWriter(self)
                writer = self._writer
        return writer

    def sync(self, timeout: float = 30.0) -> None:
        """Wait until every write queued so far (``write(..., wait=False)``, ``write_behind``) is committed."""
        if self._writer is not None:
            self._writer.submit(lambda s: None).result(timeout)

    def dispose(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        if self._readers is not None:
            self._readers.close()
        if self._read_engine is not None:
            self._read_engine.dispose()
        self.engine.dispose()


class PreparedRead:
    """One read-only statement compiled once, run on a DBAPI cursor.

    Parameters and result columns go through the same type processing SQLAlchemy applies
    (``dialect_impl(...).bind_processor`` / ``result_processor``), so a ``UTCDateTime`` is bound
    and read back exactly as through a session. Driver errors are raised as SQLAlchemy's
    ``DBAPIError`` subclasses (``connection_invalidated`` set on a lost connection, which is then
    dropped from the pool), so ``Database.outage`` sees them as it sees any other.
    """

    __slots__ = ("sql", "defaults", "required", "allowed", "order", "plan", "binds", "row", "types", "results")

    def __init__(self, sql: str, defaults: dict, required: frozenset, order, binds: dict, fields: list[str],
                 types: list) -> None:
        self.sql, self.defaults, self.required, self.order, self.binds = sql, defaults, required, order, binds
        self.allowed = frozenset(required) | frozenset(defaults)
        self.plan = tuple((name, binds.get(name)) for name in order) if order is not None else None
        self.row = namedtuple("Row", fields, rename=True)
        self.types = types                   # the columns' types for this dialect
        self.results: list | None = None     # result processors, from the first cursor.description

    @classmethod
    def build(cls, statement, dialect, write_keys: tuple[str, ...] | None = None) -> "PreparedRead | bool":
        """``write_keys``: an INSERT/UPDATE given those parameters (``PreparedRead.write``)."""
        if write_keys is None:
            compiled = statement.compile(dialect=dialect)
        else:
            compiled = statement.compile(dialect=dialect, column_keys=list(write_keys))
        if (compiled.literal_execute_params or compiled.post_compile_params
                or (write_keys is None and not hasattr(statement, "selected_columns"))
                or (write_keys is not None and (getattr(compiled, "insert_prefetch", None)
                                                or getattr(compiled, "update_prefetch", None)
                                                or getattr(compiled, "returning", None)))):
            return False             # expanding IN, literal-execute parameters, Python-side
                                     # column defaults, RETURNING: left to SQLAlchemy
        binds, defaults, required = {}, {}, set()
        for bind, name in compiled.bind_names.items():
            key = compiled.escaped_bind_names.get(name, name)
            proc = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if proc is not None:
                binds[key] = proc
            if bind.required and bind.value is None and bind.callable is None:
                required.add(key)
            else:                    # a value in the statement itself (e.g. LIMIT 1)
                defaults[key] = bind.effective_value
        if required:
            try:                     # values given with .params() look required on their binds
                defaults, required = dict(compiled.construct_params()), set()
            except Exception:        # noqa: BLE001 - some really are required: keep what we found
                pass
        columns = list(statement.selected_columns) if write_keys is None else []
        return cls(
            sql=compiled.string,
            defaults=defaults,
            required=frozenset(required),
            order=tuple(compiled.positiontup) if compiled.positional else None,
            binds=binds,
            fields=[c.key or f"c{i}" for i, c in enumerate(columns)],
            types=[c.type.dialect_impl(dialect) for c in columns],
        )

    def parameters(self, params: dict):
        keys = params.keys()
        if not (keys >= self.required and keys <= self.allowed):
            missing, unknown = self.required - keys, keys - self.allowed
            raise KeyError(f"parameters missing {sorted(missing)} or unknown {sorted(unknown)}")
        if self.order is None:
            values = dict(self.defaults)
            values.update(params)
            for name, proc in self.binds.items():
                values[name] = proc(values[name])
            return values
        out = []
        defaults = self.defaults
        for name, proc in self.plan:         # (name, bind processor or None) in the SQL's order
            value = params[name] if name in params else defaults[name]
            out.append(value if proc is None else proc(value))
        return tuple(out)

    def fetch(self, dbapi_conn, values, dialect):
        """Run on a DBAPI connection; the first row with the columns' processing (or None)."""
        cursor = dbapi_conn.cursor()
        try:
            cursor.execute(self.sql, values)
            row = cursor.fetchone()
            if self.results is None and row is not None:
                # some drivers' processors depend on the column's type code (numeric on psycopg)
                self.results = [t.result_processor(dialect, d[1]) for t, d in zip(self.types, cursor.description)]
        finally:
            cursor.close()
        if row is None:
            return None
        return self.row(*[value if proc is None else proc(value) for proc, value in zip(self.results, row)])

    def error(self, exc: Exception, values, dialect, lost: bool = False) -> DBAPIError:
        return DBAPIError.instance(self.sql, values, exc, dialect.loaded_dbapi.Error,
                                   connection_invalidated=lost, dialect=dialect)

    def first_pooled(self, engine: Engine, params: dict, again: bool = True):
        """On a connection from SQLAlchemy's pool, in autocommit. A connection that turns out to
        be dead (the server restarted, a proxy dropped it) is invalidated and, once, the read is
        run again on a fresh one — a read has no effect to repeat, so a pool without pre-ping is safe."""
        values = self.parameters(params)
        dialect = engine.dialect
        try:
            fairy = engine.raw_connection()          # the pool may connect
        except dialect.loaded_dbapi.Error as exc:
            raise self.error(exc, values, dialect) from exc
        dbapi_conn = fairy.dbapi_connection
        manual = dialect.name != "sqlite" and hasattr(dbapi_conn, "autocommit")
        try:
            if manual:               # no BEGIN/ROLLBACK round trips around a one-statement read
                dbapi_conn.autocommit = True
            row = self.fetch(dbapi_conn, values, dialect)
            if manual:
                dbapi_conn.autocommit = False
        except dialect.loaded_dbapi.Error as exc:
            lost = dialect.is_disconnect(exc, dbapi_conn, None)
            if lost:
                fairy.invalidate(exc)
            if not (lost and again):
                raise self.error(exc, values, dialect, lost) from exc
        else:
            return row
        finally:
            fairy.close()
        engine.pool.dispose()        # the others in the pool are likely as dead: new ones, then again
        return self.first_pooled(engine, params, again=False)


class SQLiteReaders:
    """Read-only SQLite connections for the call path, kept in a lock-free free-list.

    A pool with a lock and a condition costs little alone, but with dozens of call threads each
    checkout becomes a hand-off between threads (futex calls, context switches): measured at
    40 threads, ≈ 95 µs of CPU per read through SQLAlchemy's pool against ≈ 30 µs here.
    ``deque.pop``/``append`` are atomic, so no lock is taken. ``size`` connections are opened
    together at the first read and kept (a fixed set of file descriptors, like a pool filled
    up front); a read that finds them all busy opens one of its own and closes it after. A
    connection that saw an error is closed and replaced. 32: with 8, forty saturating call lines
    often found all busy and the two reads cost ≈ 0.54 ms per call instead of ≈ 0.16.
    """

    def __init__(self, path: str, size: int = 32) -> None:
        self.path, self.size = path, size
        self._free: deque = deque()
        self._opened = False
        self._open_lock = threading.Lock()
        self.extra = 0               # reads that found every kept connection busy

    def connect(self) -> sqlite3.Connection:
        """A connection to the database file with the engine's pragmas (autocommit mode)."""
        conn = sqlite3.connect(self.path, timeout=10, check_same_thread=False, isolation_level=None)
        _sqlite_pragmas(conn, None)
        return conn

    def first(self, prepared: PreparedRead, params: dict, dialect):
        values = prepared.parameters(params)
        kept = True
        try:
            if not self._opened:
                with self._open_lock:            # once: the set is opened by one thread
                    if not self._opened:
                        self._free.extend([self.connect() for _ in range(self.size)])
                        self._opened = True
            try:
                conn = self._free.pop()
            except IndexError:
                kept, conn = False, self.connect()
                self.extra += 1
        except sqlite3.Error as exc:
            raise prepared.error(exc, values, dialect) from exc
        try:
            row = prepared.fetch(conn, values, dialect)
        except BaseException as exc:
            conn.close()
            if kept:                 # keep the set whole: a fresh one in its place
                try:
                    self._free.append(self.connect())
                except sqlite3.Error:
                    pass
            if isinstance(exc, sqlite3.Error):
                raise prepared.error(exc, values, dialect) from exc
            raise
        if kept:
            self._free.append(conn)
        else:
            conn.close()
        return row

    def close(self) -> None:
        while True:
            try:
                self._free.pop().close()
            except IndexError:
                return


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
    """One thread that commits queued writes in batches, one transaction (one fsync) per batch.
    A write that fails is rolled back alone and reported to its caller: the batch then runs
    again with each write in its own SAVEPOINT (see ``_transaction``)."""

    MAX_KEPT = 20_000            # writes kept during an outage; beyond that the oldest are dropped

    def __init__(self, db: Database, max_batch: int = 256, linger: float = 0.010) -> None:
        self.db = db
        self.max_batch = max_batch
        # how long a write nobody waits for may wait for company: at 2,000 calls/s, 10 ms make
        # batches of ~40 writes instead of ~4 and cut the writer's CPU per call by more than half
        # (docs/benchmarks.md); a write someone waits for is committed without that wait
        self.linger = linger
        self._urgent = threading.Event()
        self._kept: list = []        # retryable writes that failed because the database was away
        self._backoff = 0.5
        self._queue: queue.SimpleQueue = queue.SimpleQueue()   # C-level: no Python Condition per put
        self._prepared: dict = {}    # (statement, parameter names) -> PreparedRead | False
        self._raw: sqlite3.Connection | None = None
        self._thread = threading.Thread(target=self._run, name="db-writer", daemon=True)
        self._thread.start()

    def submit(self, fn: Callable[[Session], object], retry: bool = False) -> Future:
        """``retry``: a write nobody waits for is kept while the database is away (bounded)."""
        fut: Future = Future()
        self._queue.put((fn, fut, retry))
        if not retry:
            self._urgent.set()
        return fut

    def submit_behind(self, fn: Callable[[Session], object], on_error=None) -> None:
        """A write nobody waits for, kept while the database is away; ``on_error`` hears of a failure."""
        self._queue.put((fn, _Behind(on_error), True))

    def close(self, timeout: float = 30.0) -> None:
        self._queue.put(None)
        self._thread.join(timeout)
        if self._raw is not None and not self._thread.is_alive():
            self._raw.close()
            self._raw = None

    def _run(self) -> None:
        while True:
            if self._kept:           # the database was away: try again after a pause
                try:
                    item = self._queue.get(timeout=self._backoff)
                except queue.Empty:
                    item = _RETRY
            else:
                item = self._queue.get()
                if item is not None and item[2] and self.linger:
                    # nobody waits for this write (a call record): let the calls of the next few
                    # milliseconds join its transaction, one commit and one wake-up for them all;
                    # a write someone waits for (a ticket) ends the wait at once
                    self._urgent.wait(self.linger)
                    self._urgent.clear()
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
        try:
            try:
                outcomes = self._transaction(batch, isolate=False)
            except _WriteFailed:
                # one write raised (the database is there): all rolled back; again, each write in
                # its own SAVEPOINT so that one fails alone. Such a write runs twice.
                outcomes = self._transaction(batch, isolate=True)
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

    def _transaction(self, batch: list, isolate: bool) -> list:
        """One transaction for the batch. Without ``isolate`` the writes run one after the other
        (a SAVEPOINT and its RELEASE per write cost more than the write) and consecutive
        ``Batched`` writes of one statement run as one executemany; a write that raises aborts
        the lot with ``_WriteFailed``. With ``isolate`` each write has its SAVEPOINT and a failing
        one is reported to its caller alone. The database being away always propagates."""
        outcomes = []
        if not isolate:              # inserts of new rows may go first (Batched.first)
            batch = ([item for item in batch if isinstance(item[0], Batched) and item[0].first]
                     + [item for item in batch if not (isinstance(item[0], Batched) and item[0].first)])
            if self.db._readers is not None and all(isinstance(item[0], Batched) for item in batch):
                raw = self._raw_transaction(batch)
                if raw is not None:
                    return raw
        with self.db.session() as s:
            conn = s.connection()             # BEGIN (IMMEDIATE on SQLite): the database takes writes
            i = 0
            while i < len(batch):
                fn, fut, _retry = batch[i]
                group = [batch[i]]
                if not isolate and isinstance(fn, Batched):
                    while (i + len(group) < len(batch) and isinstance(batch[i + len(group)][0], Batched)
                           and batch[i + len(group)][0].statement is fn.statement):
                        group.append(batch[i + len(group)])
                i += len(group)
                try:
                    if isolate:
                        with s.begin_nested():
                            outcomes.append((fut, True, fn(s)))
                    elif len(group) > 1:
                        conn.execute(fn.statement, [item[0].params for item in group])
                        outcomes.extend((item[1], True, None) for item in group)
                    else:
                        outcomes.append((fut, True, fn(s)))
                except DBAPIError as exc:
                    if exc.connection_invalidated or _is_connection_error(exc):
                        raise                 # the whole batch waits for the database
                    if not isolate:
                        if len(batch) == 1:
                            raise             # nothing to isolate it from: reported as it is
                        raise _WriteFailed() from exc
                    outcomes.append((fut, False, exc))
                except Exception as exc:  # noqa: BLE001 - reported to that write's caller
                    if not isolate:
                        if len(batch) == 1:
                            raise
                        raise _WriteFailed() from exc
                    outcomes.append((fut, False, exc))
        return outcomes


    def _raw_transaction(self, batch: list) -> list | None:
        """A batch of ``Batched`` writes only (the call records) on SQLite, run on the driver's
        connection: each statement compiled once (``PreparedRead.build(write_keys=…)``), one
        executemany per run of the same statement, BEGIN IMMEDIATE … COMMIT. SQLAlchemy's session,
        execution context and parameter processing per batch cost more than the writes. None:
        a statement this path does not take (the session runs the batch)."""
        dialect = self.db.engine.dialect
        groups: list = []
        for fn, _fut, _retry in batch:
            keys = tuple(fn.params)
            key = (fn.statement, keys)
            prepared = self._prepared.get(key)
            if prepared is None:
                prepared = self._prepared[key] = PreparedRead.build(fn.statement, dialect, write_keys=keys)
            if prepared is False:
                return None
            if groups and groups[-1][0] is prepared:
                groups[-1][1].append(fn.params)
            else:
                groups.append((prepared, [fn.params]))
        try:
            rows = [(prepared, [prepared.parameters(p) for p in params]) for prepared, params in groups]
        except Exception as exc:  # noqa: BLE001 - a write with wrong parameters: isolate it
            if len(batch) == 1:
                raise
            raise _WriteFailed() from exc
        lock = self.db._sqlite_write
        lock.acquire()
        prepared, values = rows[0][0], None
        try:
            if self._raw is None:                # the writer's own connection, kept
                self._raw = self.db._readers.connect()
            cur = self._raw.cursor()
            try:
                cur.execute("BEGIN IMMEDIATE")
                for prepared, values in rows:
                    cur.executemany(prepared.sql, values)
                cur.execute("COMMIT")
            finally:
                cur.close()
        except sqlite3.Error as exc:
            conn, self._raw = self._raw, None    # whatever state it is in: a fresh one next time
            if conn is not None:
                conn.close()                     # closing rolls back what was not committed
            error = prepared.error(exc, values, dialect)
            if _is_connection_error(error) or len(batch) == 1:
                raise error from exc
            raise _WriteFailed() from error
        finally:
            lock.release()
        return [(fut, True, None) for _fn, fut, _retry in batch]


class Batched:
    """A write that is one statement and its parameters (``db.write(Batched(stmt, params))``):
    the writer runs consecutive ones of the same statement as one executemany. ``first``: an
    insert of a new row that nothing else in the batch depends on not existing, so it may run
    before the batch's other writes (call records opened, then closed in the same batch)."""

    __slots__ = ("statement", "params", "first")

    def __init__(self, statement, params: dict, first: bool = False) -> None:
        self.statement, self.params, self.first = statement, params, first

    def __call__(self, session: Session) -> None:
        session.connection().execute(self.statement, self.params)


class _Behind:
    """Where a write nobody waits for reports: its failure only, to ``on_error``."""

    __slots__ = ("on_error",)

    def __init__(self, on_error: Callable[[BaseException], None] | None) -> None:
        self.on_error = on_error

    def set_result(self, _value) -> None:
        pass

    def set_exception(self, exc: BaseException) -> None:
        if self.on_error is not None:
            try:
                self.on_error(exc)
            except Exception:  # noqa: BLE001 - a report must not stop the writer
                log.exception("write failure report failed")


class _WriteFailed(Exception):
    """A write of a batch raised: the batch is run again with each write isolated."""


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


# SQLAlchemy's default storage format for DATETIME on SQLite
_SQLITE_DT = ("%(year)04d-%(month)02d-%(day)02d %(hour)02d:%(minute)02d:%(second)02d.%(microsecond)06d")


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

    def bind_processor(self, dialect):
        if dialect.name != "sqlite" or getattr(self.impl_instance.dialect_impl(dialect), "_storage_format", None) != _SQLITE_DT:
            return super().bind_processor(dialect)
        utc = timezone.utc
        last = [(None, None)]            # the call path binds one "now" several times in a row

        def process(value):
            # process_bind_param and SQLite's DATETIME formatting in one step (a call record has
            # three times): isoformat with microseconds is that format, written in C
            if value is None:
                return None
            seen, text = last[0]         # one tuple: read and replaced whole, safe across threads
            if value is seen:
                return text
            if value.tzinfo is None:
                raise ValueError("naive datetime given to the database; times must carry a zone")
            text = value.astimezone(utc).replace(tzinfo=None).isoformat(" ", "microseconds")
            last[0] = (value, text)
            return text

        return process

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)
