"""Call records on SQLite and PostgreSQL."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from callers import calls
from callers.models import CallRecord
from core.db import Base

T0 = datetime(2026, 11, 25, 1, 2, 3, tzinfo=timezone.utc)


def open_one(database, call_id="c1", name="Alice", at=T0):
    with database.session() as s:
        calls.open_call(s, call_id=call_id, channel="fastagi", channel_ref="171.1", caller_key="13800138000",
                        caller_kind="mobile", caller_name=name, dnid="12345", language="cmn", started_at=at)


def test_open_then_close_once(database):
    open_one(database)
    outcome = calls.CallOutcome(outcome="handed_off", action="queue", target="hotline-cmn",
                                route=("start", "main_menu", "queue"))
    with database.session() as s:
        assert calls.close_call(s, "c1", outcome, T0 + timedelta(seconds=14))
    with database.session() as s:
        assert not calls.close_call(s, "c1", calls.CallOutcome(outcome="error"), T0 + timedelta(minutes=5))
    with database.session() as s:
        rec = s.get(CallRecord, "c1")
        assert rec.outcome == "handed_off" and rec.route == "start,main_menu,queue"
        assert rec.started_at == T0 and rec.ended_at == T0 + timedelta(seconds=14)
        assert rec.started_at.tzinfo is not None


def test_caller_names_are_cleaned(database):
    open_one(database, name='Bob "x"\n\x00\x1bHANGUP' + "长" * 200)
    with database.session() as s:
        rec = s.get(CallRecord, "c1")
        assert "\n" not in rec.caller_name and "\x00" not in rec.caller_name and len(rec.caller_name) == 80
        assert rec.caller_name.startswith('Bob "x"HANGUP')


def test_stale_open_records_are_closed_as_errors(database):
    open_one(database, "old", at=T0 - timedelta(hours=3))
    open_one(database, "new", at=T0)
    with database.session() as s:
        assert calls.close_stale(s, T0) == 1
    with database.session() as s:
        assert s.get(CallRecord, "old").outcome == "error" and s.get(CallRecord, "new").ended_at is None


def test_naive_times_are_refused(database):
    with pytest.raises(Exception, match="naive"):
        open_one(database, at=datetime(2026, 11, 25, 1, 0))


def test_rating_range(database):
    open_one(database)
    with database.session() as s:
        assert calls.record_rating(s, "c1", 2, T0)
        with pytest.raises(ValueError):
            calls.record_rating(s, "c1", 6, T0)


def test_migrations_match_the_models(database):
    """Every model of every package agrees with the hand-written migrations (nothing missing)."""
    # APScheduler creates and owns its job table; it is not one of ours
    opts = {"include_name": lambda name, type_, parent: not (type_ == "table" and name == "scheduler_jobs")}
    with database.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts=opts), Base.metadata)
    assert diff == [], diff
