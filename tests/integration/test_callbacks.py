"""Call-backs (issue 6) end to end with a fake manager over TCP, on SQLite and PostgreSQL: a request
is placed by Originate only when an agent of its queue is free, attempts are bounded and every one
is recorded; plus the Router the flow calls (priority registry, state, safe defaults)."""
from __future__ import annotations

import logging
import socket
from types import SimpleNamespace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from core.config import load_settings
from routing import callbacks, priority
from routing.ami import AmiClient
from routing.callbacks import CallbackError, CallbackPlacer, CallbackPolicy
from routing.decide import OFFER_MESSAGE_OR_CALLBACK
from routing.hours import StaffedHours
from routing.models import Callback, CallbackAttempt
from routing.router import Router
from routing.state import QueueStates
from tests.fake_ami import FakeAMI

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 25, 10, 0, tzinfo=SH)          # a Wednesday morning
NUMBER = "13800138000"


@pytest.fixture
def ami():
    server = FakeAMI()
    server.add_queue("hotline-cmn", members=2, available=1, callers=0, talktime=200)
    server.add_queue("hotline-yue", members=1, available=0, callers=0)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def client(ami):
    c = AmiClient("127.0.0.1", ami.port, "hotline", "s3cret", timeout=1.0, backoff_initial=0.2)
    yield c
    c.close()


def placer(db, client, *, max_attempts=3, retry_s=300, hours="daily 08:00-21:00", staffed=None, now=NOW):
    policy = CallbackPolicy(max_attempts=max_attempts, ring_s=5, retry_s=retry_s, hours=StaffedHours.parse(hours),
                            grace_s=3)
    states = QueueStates.from_client(client, ttl=0, timeout=1.0) if client is not None else None
    return CallbackPlacer(db, client, policy, queue_state=(lambda q: states.get(q, fresh=True)) if states else
                          (lambda q: None), staffed={k: StaffedHours.parse(v) for k, v in (staffed or {}).items()},
                          zone=SH, clock=lambda: now)


def request(db, number=NUMBER, queue="hotline-cmn", *, at=NOW, call_id="call-1"):
    with db.session() as s:
        return callbacks.request(s, caller_key=number, queue=queue, language="cmn", now=at, call_id=call_id).id


def _copy(obj):
    return SimpleNamespace(**{c.key: getattr(obj, c.key) for c in obj.__table__.columns})


def row(db, cid):
    """The request and its attempts, as plain copies (read_session's objects expire on close)."""
    with db.read_session() as s:
        return _copy(s.get(Callback, cid)), [_copy(a) for a in callbacks.attempts_of(s, cid)]


# -- requests ---------------------------------------------------------------------------------

@pytest.mark.parametrize("key", ["", "12345", "110", "95588"])
def test_only_a_persons_number_can_be_called_back(database, key):
    with database.session() as s:
        with pytest.raises(CallbackError):
            callbacks.request(s, caller_key=key, queue="hotline-cmn", language="cmn", now=NOW)


def test_an_open_request_is_not_duplicated(database):
    first = request(database)
    assert request(database, call_id="call-2") == first
    with database.session() as s:
        callbacks.cancel(s, first, by="agent7", now=NOW, reason="caller rang again")
    second = request(database)
    assert second != first
    cb, _ = row(database, first)
    assert cb.state == "cancelled" and cb.ended_by == "agent7" and "rang again" in cb.last_error


# -- the job ------------------------------------------------------------------------------------

def test_placed_by_originate_when_an_agent_is_free(database, ami, client, caplog):
    cid = request(database)
    caplog.set_level(logging.INFO)
    result = placer(database, client).run(NOW)
    assert result["sent"] == 1 and result["placed"] == 1
    [sent] = ami.actions_named("Originate")
    assert sent["Channel"] == f"Local/{NUMBER}@hotline-callback"
    assert (sent["Context"], sent["Exten"], sent["Priority"], sent["Async"]) == ("hotline-callback", "connect", "1", "true")
    assert "HOTLINE_TARGET=hotline-cmn" in sent["Variable"] and f"HOTLINE_CALLBACK={cid}" in sent["Variable"]
    cb, attempts = row(database, cid)
    assert (cb.state, cb.attempts, cb.placed_at, cb.last_error) == ("placed", 1, NOW, None)
    assert cb.action_id == sent["ActionID"]
    [attempt] = attempts
    assert (attempt.result, attempt.action_id, attempt.detail) == ("placed", sent["ActionID"], "answered")
    # numbers are masked in every log line
    assert NUMBER not in caplog.text and "138****8000" in caplog.text
    assert placer(database, client).run(NOW + timedelta(minutes=1))["sent"] == 0      # done: not again


def test_not_placed_while_no_agent_is_free(database, ami, client):
    cid = request(database, queue="hotline-yue")                 # 1 agent, busy
    assert placer(database, client).run(NOW)["sent"] == 0
    ami.add_queue("hotline-cmn", members=1, available=1, callers=1)   # a free agent, but a caller waiting
    cid2 = request(database, number="13900139000")
    assert placer(database, client).run(NOW)["sent"] == 0
    assert not ami.actions_named("Originate")
    for c in (cid, cid2):
        cb, attempts = row(database, c)
        assert (cb.state, cb.attempts, attempts) == ("requested", 0, [])
    ami.add_queue("hotline-yue", members=1, available=1)         # the agent is free now
    assert placer(database, client).run(NOW)["placed"] == 1
    assert row(database, cid)[0].state == "placed"


def test_as_many_as_there_are_free_agents_oldest_first(database, ami, client):
    ami.add_queue("hotline-cmn", members=3, available=2, callers=0)
    ids = [request(database, number=f"1390000000{i}", at=NOW - timedelta(minutes=10 - i)) for i in range(3)]
    result = placer(database, client).run(NOW)
    assert result["placed"] == 2
    assert [row(database, c)[0].state for c in ids] == ["placed", "placed", "requested"]


def test_attempts_are_bounded_and_spaced(database, ami, client):
    ami.originate_result, ami.originate_reason = "Failure", 3          # rings out: no answer
    cid = request(database)
    job = placer(database, client, max_attempts=2, retry_s=300)
    assert job.run(NOW)["retry"] == 1
    cb, [a1] = row(database, cid)
    assert (cb.state, cb.attempts, a1.result) == ("requested", 1, "no_answer") and "no answer" in cb.last_error
    assert job.run(NOW + timedelta(seconds=60))["sent"] == 0            # not before retry_s
    assert job.run(NOW + timedelta(seconds=301))["failed"] == 1
    cb, attempts = row(database, cid)
    assert (cb.state, cb.attempts, [a.result for a in attempts]) == ("failed", 2, ["no_answer", "no_answer"])
    assert cb.ended_at is not None
    assert job.run(NOW + timedelta(hours=1))["sent"] == 0               # never a third time
    assert len(ami.actions_named("Originate")) == 2


def test_busy_and_refused_originates_are_recorded(database, ami, client):
    ami.originate_result, ami.originate_reason = "Failure", 5
    cid = request(database)
    placer(database, client).run(NOW)
    cb, [attempt] = row(database, cid)
    assert attempt.result == "busy" and cb.last_error == "busy"
    ami.originate_result = "Success"
    assert placer(database, client).run(NOW + timedelta(seconds=400))["placed"] == 1
    assert [a.result for a in row(database, cid)[1]] == ["busy", "placed"]


def test_nothing_is_placed_or_consumed_when_the_manager_is_away(database, ami):
    cid = request(database)
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    dead_port = probe.getsockname()[1]
    probe.close()
    dead = AmiClient("127.0.0.1", dead_port, "hotline", "s3cret", timeout=0.5)
    assert placer(database, dead).run(NOW)["sent"] == 0
    assert placer(database, None).run(NOW)["skipped"] == "ami_off"
    cb, attempts = row(database, cid)
    assert (cb.state, cb.attempts, attempts) == ("requested", 0, [])


def test_not_placed_outside_call_back_hours_or_staffed_hours(database, ami, client):
    request(database)
    assert placer(database, client, now=NOW.replace(hour=22)).run()["skipped"] == "outside_callback_hours"
    holiday = datetime(2026, 10, 1, 10, 0, tzinfo=SH)
    assert placer(database, client, staffed={"hotline-cmn": "workdays 08:30-17:30"}).run(holiday)["sent"] == 0
    assert not ami.actions_named("Originate")


def test_a_cancelled_request_is_not_placed(database, ami, client):
    cid = request(database)
    with database.session() as s:
        callbacks.cancel(s, cid, by="agent7", now=NOW)
    assert placer(database, client).run(NOW)["sent"] == 0
    with database.session() as s:
        with pytest.raises(CallbackError, match="already cancelled"):
            callbacks.cancel(s, cid, by="agent7", now=NOW)


def test_a_placing_left_by_a_dead_run_counts_as_a_failed_attempt(database, ami, client):
    cid = request(database)
    with database.session() as s:
        cb = s.get(Callback, cid)
        cb.state, cb.attempts, cb.last_attempt_at, cb.action_id = "placing", 1, NOW - timedelta(hours=1), "old-1"
        s.add(CallbackAttempt(callback_id=cid, at=NOW - timedelta(hours=1), action_id="old-1", result="placing",
                              detail=""))
    result = placer(database, client).run(NOW)
    assert result["recovered"] == 1 and result["placed"] == 1
    assert [a.result for a in row(database, cid)[1]] == ["lost", "placed"]


def test_international_numbers_are_dialled_with_00(database, ami, client):
    request(database, number="+447700900123")
    placer(database, client).run(NOW)
    [sent] = ami.actions_named("Originate")
    assert sent["Channel"] == "Local/00447700900123@hotline-callback"


# -- the Router the flow calls ------------------------------------------------------------------

def _settings(tmp_path, ami_port: int | None, **kw):
    extra = {"ami_secret": "s3cret", "ami_port": ami_port} if ami_port else {}
    return load_settings(env={}, data_dir=tmp_path / "var", **extra, **kw)


def test_router_priority_state_and_callbacks(database, ami, tmp_path):
    settings = _settings(tmp_path, ami.port, overflow_wait_s=120, queue_state_cache_s=0.0)
    router = Router.from_settings(database, settings, clock=lambda: NOW)
    try:
        with database.session() as s:
            priority.add(s, "138 0013 8000", by="admin", now=NOW, note="独居老人")
        ami.add_queue("hotline-cmn", members=2, available=0, callers=6, talktime=200)
        ordinary = router.route("13900000000", "cmn", NOW)
        assert ordinary.offer == OFFER_MESSAGE_OR_CALLBACK and ordinary.reason == "overflow"
        elderly = router.route(NUMBER, "cmn", NOW)
        assert (elderly.priority, elderly.offer, elderly.reason) == (10, None, "priority")
        assert router.can_call_back("13900000000") and not router.can_call_back("")
        cid = router.request_callback("13900000000", ordinary.queue, "cmn", "call-9", NOW)
        assert cid and router.request_callback("", "hotline-cmn", "cmn", "call-9", NOW) is None
        ami.add_queue("hotline-cmn", members=2, available=1, callers=0)
        assert router.place_callbacks()["placed"] == 1
        with database.session() as s:
            priority.remove(s, NUMBER, by="admin", now=NOW)
        assert not router.is_priority(NUMBER)
    finally:
        router.close()


def test_router_without_a_manager_routes_to_the_queue(database, tmp_path):
    router = Router.from_settings(database, _settings(tmp_path, None), clock=lambda: NOW)
    r = router.route("13900000000", "yue", NOW)
    assert (r.queue, r.offer, r.reason) == ("hotline-yue", None, "state_unknown")
    assert not router.can_call_back("13900000000")             # no AMI: no call-back offer
    assert router.language_for("13900000000", "hak") == ("hak", "dialplan")
    assert router.language_for("13900000000", None) == ("cmn", "default")


def test_priority_registry_rules(database):
    with database.session() as s:
        with pytest.raises(priority.PriorityError, match="service"):
            priority.add(s, "12345", by="admin", now=NOW)
        with pytest.raises(priority.PriorityError):
            priority.add(s, "not a number", by="admin", now=NOW)
        priority.add(s, "+86 138-0013-8000", by="admin", now=NOW)
        with pytest.raises(priority.PriorityError, match="already registered"):
            priority.add(s, "13800138000", by="admin", now=NOW)
    with database.session() as s:
        assert priority.lookup(s, NUMBER).category == "elderly"
    assert priority.is_registered(database, NUMBER) and not priority.is_registered(database, "13900000000")
    with database.session() as s:
        priority.remove(s, NUMBER, by="admin", now=NOW + timedelta(days=1))
        assert priority.lookup(s, NUMBER) is None
    assert not priority.is_registered(database, NUMBER) and not priority.is_registered(database, "")
    with database.session() as s:
        with pytest.raises(priority.PriorityError, match="not registered"):
            priority.remove(s, NUMBER, by="admin", now=NOW)
        priority.add(s, NUMBER, by="admin", now=NOW + timedelta(days=2), category="disabled")
    with database.read_session() as s:
        assert [p.category for p in priority.list_numbers(s)] == ["disabled"]
