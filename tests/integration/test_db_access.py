"""Database access on the call path. ``read_first``: reads on the driver's cursor give what SQLAlchemy
gives, leave pooled connections as they found them, and fail the way an outage is recognised."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import bindparam, func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from blocklist import service
from blocklist.models import Block
from blocklist.service import Policy
from callers import calls
from callers.models import CallRecord
from core import db as dbmod

T0 = datetime(2026, 11, 25, 2, 0, 0, 123456, tzinfo=timezone.utc)
ROW = select(CallRecord.id, CallRecord.started_at, CallRecord.ended_at, CallRecord.kb_score,
             CallRecord.outcome.label("what")).where(CallRecord.caller_key == bindparam("key"),
                                                     CallRecord.started_at >= bindparam("since"))


def record(database, call_id: str, key: str = "13800138000", at: datetime = T0, end: bool = True) -> None:
    with database.session() as s:
        calls.open_call(s, call_id=call_id, channel="fastagi", channel_ref=call_id, caller_key=key,
                        caller_kind="mobile", caller_name="", dnid="12345", language="cmn", started_at=at)
    if end:
        with database.session() as s:
            calls.close_call(s, call_id, calls.CallOutcome(outcome="handed_off", kb_score=0.75),
                             at + timedelta(seconds=61))


def through_sqlalchemy(database, statement, params):
    with database.engine.connect() as conn:
        return conn.execute(statement, params).first()


def test_same_row_types_and_values_as_sqlalchemy(database):
    record(database, "c1")
    record(database, "c2", key="13900000000", end=False)
    for params in ({"key": "13800138000", "since": T0 - timedelta(days=1)},
                   {"key": "13900000000", "since": T0},
                   {"key": "13800138000", "since": T0 + timedelta(seconds=1)},     # none
                   {"key": "13800138000\"; DROP TABLE calls; --", "since": T0}):     # data, not SQL
        fast, slow = database.read_first(ROW, params), through_sqlalchemy(database, ROW, params)
        assert (fast is None) == (slow is None)
        if fast is not None:
            assert tuple(fast) == tuple(slow)
            assert [type(v) for v in fast] == [type(v) for v in slow]
            assert fast.started_at.tzinfo is not None and fast.what == slow.what == slow._mapping["what"]
    row = database.read_first(ROW, {"key": "13800138000", "since": T0})
    assert row.started_at == T0 and row.ended_at == T0 + timedelta(seconds=61) and row.kb_score == 0.75
    assert database.read_first(ROW, {"key": "13900000000", "since": T0}).ended_at is None
    with database.session() as s:
        assert s.scalar(select(func.count()).select_from(CallRecord)) == 2     # nothing dropped


def test_literal_values_dates_and_limits(database):
    with database.session() as s:
        service.add(s, Policy(zone=ZoneInfo("Asia/Shanghai")), service.blockable_number("13800138000"),
                    "harassing", "shouted at the agent", by="admin.li", now=T0)
    statement = (select(Block.last_day, Block.until).where(Block.number_key == bindparam("k"))
                 .order_by(Block.until.desc()).limit(1))
    row = database.read_first(statement, {"k": "13800138000"})
    assert isinstance(row.last_day, date) and row.last_day > T0.date()
    assert row.until > T0 and row.until.tzinfo is not None
    assert tuple(row) == tuple(through_sqlalchemy(database, statement, {"k": "13800138000"}))


def test_statements_it_does_not_handle_still_run(database):
    record(database, "c1")
    record(database, "c2", key="13900000000")
    expanding = select(func.count()).select_from(CallRecord).where(CallRecord.caller_key.in_(bindparam("keys", expanding=True)))
    assert database.read_first(expanding, {"keys": ["13800138000", "13900000000", "x"]})[0] == 2
    assert database._prepared[expanding] is False


def test_wrong_parameters_are_refused_before_the_database(database):
    with pytest.raises(KeyError, match="missing"):
        database.read_first(ROW, {"key": "1"})
    with pytest.raises(KeyError, match="unknown"):
        database.read_first(ROW, {"key": "1", "since": T0, "other": 2})


def test_pooled_connections_stay_transactional_after_a_read(database):
    """On PostgreSQL the read runs in autocommit; the connection must go back to the pool as it
    came, or the next session's rollback would not undo anything."""
    for _ in range(3):
        database.read_first(ROW, {"key": "13800138000", "since": T0})
    with pytest.raises(RuntimeError):
        with database.session() as s:
            calls.open_call(s, call_id="gone", channel="fastagi", channel_ref="", caller_key="1",
                            caller_kind="mobile", caller_name="", dnid="", language="cmn", started_at=T0)
            raise RuntimeError("rolled back")
    with database.session() as s:
        assert s.get(CallRecord, "gone") is None


def test_a_missing_sqlite_database_is_an_outage(tmp_path):
    database = dbmod.Database(f"sqlite:///{tmp_path / 'nowhere' / 'x.db'}")
    (tmp_path / "nowhere").rmdir()            # make_engine created the folder; take it away
    try:
        with pytest.raises(DBAPIError) as caught:
            database.read_first(select(text("1")).where(text("1 = :n")).params(n=1), {})
        assert database.outage(caught.value)
    finally:
        database.dispose()


@pytest.mark.postgres
def test_postgresql_away_is_an_outage_and_a_killed_connection_is_replaced(pg_server):
    away = dbmod.Database("postgresql+psycopg://postgres@127.0.0.1:1/test")
    try:
        with pytest.raises(DBAPIError) as caught:
            away.read_first(ROW, {"key": "1", "since": T0})
        assert away.outage(caught.value)
    finally:
        away.dispose()
    database = dbmod.Database(pg_server)
    try:
        record(database, "c1")
        assert database.read_first(ROW, {"key": "13800138000", "since": T0}).id == "c1"
        # the reads' own pool (no pre-ping) now holds one connection: kill it from outside
        fairy = database._read_engine.raw_connection()
        cur = fairy.dbapi_connection.cursor()
        cur.execute("SELECT pg_backend_pid()")
        pid = cur.fetchone()[0]
        cur.close()
        fairy.dbapi_connection.rollback()
        fairy.close()
        admin = dbmod.make_engine(pg_server, poolclass=NullPool)
        with admin.connect() as c:
            assert c.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid}).scalar()
            c.commit()
        admin.dispose()
        # the read finds its connection dead, takes a new one and answers: the call never sees it
        assert database.read_first(ROW, {"key": "13800138000", "since": T0}).id == "c1"
        assert database.read_first(ROW, {"key": "13800138000", "since": T0}).id == "c1"
    finally:
        database.dispose()


# -- the group-commit writer --------------------------------------------------------------------

def _insert(call_id: str):
    def fn(s):
        calls.open_call(s, call_id=call_id, channel="fastagi", channel_ref="", caller_key="13800138000",
                        caller_kind="mobile", caller_name="", dnid="12345", language="cmn", started_at=T0)
        return call_id
    return fn


def _held_batch(database, writes):
    """Queue ``writes`` while the writer is busy, so they reach it as one batch."""
    import threading

    entered, release = threading.Event(), threading.Event()

    def hold(s):
        entered.set()
        assert release.wait(10)

    first = database.write(hold, wait=False)
    assert entered.wait(10)
    futures = [database.write(fn, wait=False) for fn in writes]
    release.set()
    first.result(10)
    return [f.exception(10) or f.result(10) for f in futures]


def test_one_failing_write_in_a_batch_fails_alone(database):
    record(database, "dup")

    def broken(s):
        _insert("half")(s)                    # written, then the write fails: must not stay
        raise ValueError("a bug in this write")

    out = _held_batch(database, [_insert("a"), _insert("dup"), _insert("b"), broken, _insert("c")])
    assert out[0] == "a" and out[2] == "b" and out[4] == "c"
    assert isinstance(out[1], DBAPIError)                       # duplicate key: that write only
    assert isinstance(out[3], ValueError)
    with database.session() as s:
        ids = sorted(s.scalars(select(CallRecord.id)))
    assert ids == ["a", "b", "c", "dup"]                        # nothing twice, nothing half-done


def test_a_batch_of_good_writes_commits_them_all_once(database):
    out = _held_batch(database, [_insert(f"k{i}") for i in range(50)])
    assert out == [f"k{i}" for i in range(50)]
    with database.session() as s:
        assert s.scalar(select(func.count()).select_from(CallRecord)) == 50


def test_a_single_failing_write_reports_its_own_error(database):
    record(database, "dup")
    with pytest.raises(DBAPIError):
        database.write(_insert("dup"))
    assert database.write(_insert("next")) == "next"


def _open(call_id: str):
    return dbmod.Batched(calls.OPEN, calls.open_params(
        call_id=call_id, channel="fastagi", channel_ref="", caller_key="13800138000", caller_kind="mobile",
        caller_name="", dnid="12345", language="cmn", started_at=T0), first=True)


def _close(call_id: str):
    return dbmod.Batched(calls.CLOSE, calls.close_params(call_id, calls.CallOutcome(outcome="handed_off"),
                                                         T0 + timedelta(seconds=30)))


def test_batched_call_records_open_and_close_in_one_batch(database):
    out = _held_batch(database, [_open("a"), _close("a"), _open("b"), _insert("plain"), _close("b"),
                                 _open("c"), _open("d"), _close("d")])
    assert out == [None, None, None, "plain", None, None, None, None]
    with database.session() as s:
        rows = {r.id: (r.outcome, r.ended_at is not None) for r in s.query(CallRecord)}
    assert rows == {"a": ("handed_off", True), "b": ("handed_off", True), "c": ("in_progress", False),
                    "d": ("handed_off", True), "plain": ("in_progress", False)}


def test_one_bad_row_in_an_executemany_fails_alone(database):
    record(database, "dup")
    out = _held_batch(database, [_open("x"), _open("dup"), _open("y"), _close("x")])
    assert out[0] is None and out[2] is None and out[3] is None
    assert isinstance(out[1], DBAPIError)
    with database.session() as s:
        rows = {r.id: r.outcome for r in s.query(CallRecord)}
    assert rows == {"dup": "handed_off", "x": "handed_off", "y": "in_progress"}


def test_call_records_written_by_the_writer_read_back_as_through_a_session(database):
    """A batch of call-record writes only: on SQLite it runs on the writer's own connection with
    the statements compiled once; the rows must be what a session would have written."""
    record(database, "via-session")                            # open_call + close_call, in sessions
    opened = dbmod.Batched(calls.OPEN, calls.open_params(
        call_id="via-writer", channel="fastagi", channel_ref="via-session", caller_key="13800138000",
        caller_kind="mobile", caller_name="", dnid="12345", language="cmn", started_at=T0), first=True)
    closed = dbmod.Batched(calls.CLOSE, calls.close_params(
        "via-writer", calls.CallOutcome(outcome="handed_off", kb_score=0.75), T0 + timedelta(seconds=61)))
    assert _held_batch(database, [opened, closed]) == [None, None]
    if database.is_sqlite:
        assert database._writer._raw is not None                # the batch took the driver's path
    with database.session() as s:
        rows = {r.id: r for r in s.query(CallRecord)}
        columns = [c.key for c in CallRecord.__table__.columns if c.key not in ("id", "channel_ref")]
        session_row = {c: getattr(rows["via-session"], c) for c in columns}
        writer_row = {c: getattr(rows["via-writer"], c) for c in columns}
    assert writer_row == session_row
    assert writer_row["started_at"] == T0 and writer_row["ended_at"].tzinfo is not None
    with database.engine.connect() as conn:                     # stored alike, not only read alike
        stored = {r[0]: (str(r[1]), str(r[2])) for r in conn.execute(text("SELECT id, started_at, ended_at FROM calls"))}
    assert stored["via-writer"] == stored["via-session"]


def test_sqlite_times_are_stored_exactly_as_sqlalchemy_would_store_them():
    """UTCDateTime's one-step SQLite bind (isoformat in C) writes SQLAlchemy's own DATETIME text."""
    from datetime import datetime, timedelta, timezone

    from sqlalchemy import DateTime
    from sqlalchemy.dialects import sqlite

    from core.db import UTCDateTime

    dialect = sqlite.dialect()
    ours = UTCDateTime().dialect_impl(dialect).bind_processor(dialect)
    theirs = DateTime().dialect_impl(dialect).bind_processor(dialect)
    for value in (datetime(2026, 11, 26, 5, 30, tzinfo=timezone.utc),
                  datetime(2027, 1, 1, 0, 0, 0, 1, tzinfo=timezone(timedelta(hours=8))),
                  datetime(999, 12, 31, 23, 59, 59, 999999, tzinfo=timezone(timedelta(hours=-5))),
                  datetime.now(timezone.utc)):
        assert ours(value) == theirs(value.astimezone(timezone.utc).replace(tzinfo=None))
    assert ours(None) is None
    with pytest.raises(ValueError):
        ours(datetime(2026, 1, 1))


def test_a_write_someone_waits_for_does_not_linger_behind_call_records(database):
    """Writes nobody waits for wait up to ``linger`` for company; one that a caller waits for (a
    ticket) is committed at once and takes them along. With a linger of a minute, the waited
    write must still come back within seconds, and the call record with it."""
    if not database.is_sqlite:
        pytest.skip("PostgreSQL writes run in the calling thread")
    database.write(lambda s: None)                               # the writer thread exists
    database._writer.linger = 60.0
    try:
        opened = dbmod.Batched(calls.OPEN, calls.open_params(
            call_id="lingering", channel="fastagi", channel_ref="x", caller_key="13800138000",
            caller_kind="mobile", caller_name="", dnid="12345", language="cmn", started_at=T0), first=True)
        behind = database.write(opened, wait=False)
        assert database.write(lambda s: s.execute(text("SELECT count(*) FROM calls")).scalar(), timeout=10) == 1
        assert behind.done() and behind.exception() is None
    finally:
        database._writer.linger = 0.010
