"""Tickets on SQLite and PostgreSQL: lifecycle, history, concurrency, duplicates, the phone, jobs."""
from __future__ import annotations

import json
import threading
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import func, select, text, update

from callers import calls
from core.db import Base
from tickets import dispatch as rules
from tickets import followup, handling, jobs, lifecycle as lc, numbers, service
from tickets.desk import TicketDesk
from tickets.models import (ClosureReport, ExtensionRequest, HistoryIsAppendOnly, Ticket, TicketCall,
                            TicketEvent, Unit)
from workcal import loader
from workcal.calendar import WorkCalendar
from workcal.schedule import OfficialSchedule

Z = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 9, 25, 10, 0, tzinfo=Z)          # a complaint then is due 2026-10-22 (DESIGN §3.2)
CAL = WorkCalendar()
CALLER = "13800138000"
GOOD_REPORT = ("2026年9月28日上午10时，市水务集团维修人员到现场核查，发现主管道破裂，当即组织抢修，"
               "当日下午已恢复供水。已电话回复来电人，来电人表示满意。")
MY_TABLES = {"units", "tickets", "ticket_calls", "ticket_events", "ticket_counters", "dispatch_rule_sets",
             "ticket_extensions", "closure_reports"}


def add_unit(db, code="water", name="市水务集团", duties="停水,水压,自来水", region=""):
    with db.session() as s:
        s.add(Unit(code=code, name=name, region=region, duties=duties, active=True, created_at=T0))


def new(db, text_="小区停水三天了没人管", kind="complaint", caller=CALLER, at=T0, **kw) -> service.Created:
    with db.session() as s:
        return service.create_ticket(s, kind=kind, content=text_, received_at=at, zone=Z, calendar=CAL,
                                     caller_key=caller, **kw)


def events(db, number):
    with db.session() as s:
        t = service.get_ticket(s, number)
        return [(e.action, e.from_state, e.to_state, e.actor) for e in lc.history(s, t.id)]


def state(db, number) -> Ticket:
    with db.session() as s:
        return service.get_ticket(s, number)


def walk_to(db, number, target):
    steps = [("dispatch", lambda s: handling.dispatch(s, number, "water", actor="agent", now=T0)),
             ("accept", lambda s: handling.accept(s, number, actor="unit", now=T0)),
             ("report", lambda s: handling.submit_report(s, number, GOOD_REPORT, actor="unit", now=T0)),
             ("approve", lambda s: handling.review(s, number, approve=True, actor="admin", now=T0))]
    for name, step in steps:
        with db.session() as s:
            step(s)
        if name == target:
            return


# -- creation and numbers --------------------------------------------------------------------

def test_create_gives_number_deadline_and_history(database):
    t = new(database, call_id="call-1").ticket
    assert numbers.is_valid(t.number) and t.number.startswith("20260925")
    assert (t.due_date, t.due) == (date(2026, 10, 22), datetime(2026, 10, 23, tzinfo=Z))
    assert not t.provisional and t.state == "received" and t.zone == "Asia/Shanghai"
    assert events(database, t.number) == [("create", None, "received", "agent")]
    with database.session() as s:
        assert s.scalar(select(TicketCall.role).where(TicketCall.call_id == "call-1")) == "filed"


def test_migrations_match_the_models(database):
    with database.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    mine = [d for d in diff if any(t in repr(d) for t in MY_TABLES)]
    assert mine == [], mine


def test_numbers_are_unique_under_concurrent_creation(database):
    per_thread, threads = 6, 4
    made, errors = [], []
    start = threading.Barrier(threads)

    def worker(i):
        try:
            start.wait()
            for j in range(per_thread):
                made.append(new(database, f"第{i}个线程的第{j}个请求 {i * 100 + j}", caller=f"1380013{i:04d}",
                                dedup=False).ticket.number)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    assert not errors, errors
    assert len(made) == len(set(made)) == per_thread * threads
    assert sorted(int(n[8:-1]) for n in made) == list(range(1, per_thread * threads + 1))


def test_numbers_restart_each_local_day(database):
    a = new(database, "甲", at=datetime(2026, 9, 25, 23, 59, tzinfo=Z)).ticket.number
    b = new(database, "乙", at=datetime(2026, 9, 26, 0, 1, tzinfo=Z), caller="13900139000").ticket.number
    assert a[:8] == "20260925" and b[:8] == "20260926" and a[8:-1] == b[8:-1] == "00001"


# -- lifecycle -----------------------------------------------------------------------------

def test_full_lifecycle_and_complete_history(database):
    add_unit(database)
    n = new(database).ticket.number
    walk_to(database, n, "accept")
    with database.session() as s:
        handling.submit_report(s, n, GOOD_REPORT, actor="unit", now=T0)
    with database.session() as s:
        handling.review(s, n, approve=False, actor="admin", now=T0, note="未说明管道更换计划")
    with database.session() as s:
        handling.submit_report(s, n, GOOD_REPORT + "已安排下周更换旧管道。", actor="unit", now=T0)
    with database.session() as s:
        handling.review(s, n, approve=True, actor="admin", now=T0 + timedelta(days=3))
    t = state(database, n)
    assert t.state == "closed" and t.closed_at == T0 + timedelta(days=3)
    history = events(database, n)
    assert [h[0] for h in history] == ["create", "dispatch", "accept", "report", "return", "report", "approve"]
    for before, after in zip(history, history[1:]):       # an unbroken chain of states
        assert after[1] == before[2]
    with database.session() as s:
        reviews = [r.review for r in s.scalars(select(ClosureReport).order_by(ClosureReport.id))]
    assert reviews == ["returned", "approved"]
    with database.session() as s:
        handling.reopen(s, n, reason="市民反映又停水", actor="admin", now=T0 + timedelta(days=4))
    t = state(database, n)
    assert t.state == "returned" and t.closed_at is None


@pytest.mark.parametrize("action", ["accept", "report", "approve", "return", "reopen"])
def test_illegal_transitions_are_refused_and_write_nothing(database, action):
    n = new(database).ticket.number
    ops = {
        "accept": lambda s: handling.accept(s, n, actor="unit", now=T0),
        "report": lambda s: handling.submit_report(s, n, GOOD_REPORT, actor="unit", now=T0),
        "approve": lambda s: handling.review(s, n, approve=True, actor="admin", now=T0),
        "return": lambda s: handling.review(s, n, approve=False, actor="admin", now=T0, note="x"),
        "reopen": lambda s: handling.reopen(s, n, reason="x", actor="admin", now=T0),
    }
    with pytest.raises(lc.IllegalTransition, match="received"):
        with database.session() as s:
            ops[action](s)
    assert events(database, n) == [("create", None, "received", "agent")]
    with database.session() as s:
        assert s.scalar(select(func.count()).select_from(ClosureReport)) == 0


def test_history_is_append_only(database):
    n = new(database).ticket.number
    with pytest.raises(HistoryIsAppendOnly):
        with database.session() as s:
            s.scalars(select(TicketEvent)).first().actor = "someone else"
    with pytest.raises(HistoryIsAppendOnly):
        with database.session() as s:
            s.delete(s.scalars(select(TicketEvent)).first())
    with pytest.raises(Exception, match="append-only"):
        with database.session() as s:
            s.execute(text("UPDATE ticket_events SET actor = 'x'"))
    assert events(database, n) == [("create", None, "received", "agent")]


def test_two_actors_racing_on_one_ticket_exactly_one_wins(database):
    add_unit(database)
    n = new(database).ticket.number
    walk_to(database, n, "dispatch")
    both_loaded = threading.Barrier(2, timeout=20)
    outcomes = []

    def actor(name):
        try:
            with database.read_session() as s:       # what the actor's screen showed
                seen = service.get_ticket(s, n).version
            both_loaded.wait()
            with database.session() as s:
                handling.accept(s, n, actor=name, now=T0, expected_version=seen)
            outcomes.append("won")
        except lc.ConcurrentUpdate:
            outcomes.append("lost")
        except Exception as exc:  # noqa: BLE001 - reported by the assertion
            outcomes.append(repr(exc))

    pool = [threading.Thread(target=actor, args=(f"unit-{i}",)) for i in range(2)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    assert sorted(outcomes) == ["lost", "won"]
    assert [e[0] for e in events(database, n)].count("accept") == 1
    assert state(database, n).version == 3


def test_a_stale_ticket_object_cannot_be_moved(database):
    """The conditional UPDATE itself: a copy loaded before someone else's change loses."""
    add_unit(database)
    n = new(database).ticket.number
    walk_to(database, n, "dispatch")
    with pytest.raises(lc.ConcurrentUpdate):
        with database.session() as s:
            stale = service.get_ticket(s, n)
            s.execute(update(Ticket).where(Ticket.id == stale.id).values(version=Ticket.version + 1)
                      .execution_options(synchronize_session=False))      # someone else, meanwhile
            lc.transition(s, stale, "accept", actor="second", at=T0)
    assert state(database, n).state == "dispatched"


def test_a_vague_report_is_rejected_and_writes_nothing(database):
    add_unit(database)
    n = new(database).ticket.number
    walk_to(database, n, "accept")
    before = events(database, n)
    with pytest.raises(handling.ReportRejected) as caught:
        with database.session() as s:
            handling.submit_report(s, n, "根据《XX条例》第X条规定，不属于我单位职责。", actor="unit", now=T0)
    assert caught.value.check.codes[0] == "bare_citation"
    assert events(database, n) == before and state(database, n).state == "accepted"
    with database.session() as s:
        assert s.scalar(select(func.count()).select_from(ClosureReport)) == 0


def test_unit_declines_and_dispatch_rules_route_again(database):
    add_unit(database)
    add_unit(database, "roads", "市公路事务中心", duties="路灯,坑洼")
    n = new(database, "家门口路灯坏了，水压也不够").ticket.number
    with database.session() as s:
        assert rules.save_rules(s, [{"unit": "roads", "keywords": ["路灯"], "kinds": ["complaint"]}],
                                actor="admin", now=T0) == 1
        handling.auto_dispatch(s, n, actor="agent", now=T0)
    assert state(database, n).unit_id is not None
    with database.session() as s:
        assert service.get_ticket(s, n).unit_id == s.scalar(select(Unit.id).where(Unit.code == "roads"))
        handling.decline(s, n, reason="路灯属于城管局", actor="roads", now=T0)
    t = state(database, n)
    assert t.state == "received" and t.unit_id is None
    with database.session() as s:
        assert rules.save_rules(s, [], actor="admin", now=T0) == 2
        assert rules.restore_rules(s, 1, actor="admin", now=T0) == 3
        assert rules.current_rules(s).rules[0]["unit"] == "roads"
        with pytest.raises(rules.RuleError, match="does not exist"):
            rules.save_rules(s, [{"unit": "nobody", "keywords": ["x"]}], actor="admin", now=T0)
        with pytest.raises(rules.RuleError, match="at least one condition"):
            rules.save_rules(s, [{"unit": "roads"}], actor="admin", now=T0)


def test_the_suggestion_learns_from_handled_tickets(database):
    add_unit(database, duties="")
    add_unit(database, "roads", "市公路事务中心", duties="")
    for i, (txt, unit) in enumerate([("小区停水了", "water"), ("自来水水压太低", "water"),
                                     ("路面有坑洼", "roads"), ("公路路灯不亮", "roads")]):
        new(database, txt, caller=f"1390000000{i}", unit=unit)
    with database.session() as s:
        top = rules.UnitSuggester.from_session(s).suggest("我家停水了水压低", k=2)
    assert top[0][0] == "water" and top[0][1] > top[1][1]


def test_extension_moves_the_deadline_by_working_days(database):
    add_unit(database)
    n = new(database).ticket.number
    walk_to(database, n, "accept")
    with database.session() as s:
        with pytest.raises(lc.TicketError, match="reason"):
            handling.request_extension(s, n, days=5, reason=" ", actor="unit", now=T0)
    with database.session() as s:
        handling.request_extension(s, n, days=5, reason="需协调供电部门停电施工", actor="unit", now=T0)
    with database.session() as s:
        with pytest.raises(lc.TicketError, match="already"):
            handling.request_extension(s, n, days=2, reason="again", actor="unit", now=T0)
    with database.session() as s:
        handling.decide_extension(s, n, approve=True, actor="admin", now=T0, calendar=CAL, zone=Z)
    t = state(database, n)
    assert t.working_days == 20 and t.due_date == date(2026, 10, 29)
    with database.session() as s:
        assert s.scalar(select(ExtensionRequest.status)) == "approved"
        with pytest.raises(lc.TicketError, match="no extension request"):
            handling.decide_extension(s, n, approve=False, actor="admin", now=T0, calendar=CAL, zone=Z)
    assert [e[0] for e in events(database, n)][-2:] == ["extension_requested", "extension_approved"]


def test_refusal_with_reason_code_and_script(database):
    first = new(database).ticket.number
    second = new(database, "完全不同的另一件事情", dedup=False).ticket.number
    with database.session() as s:
        with pytest.raises(lc.TicketError, match="duplicate-of"):
            handling.refuse(s, second, "repeat_no_new_facts", actor="agent", now=T0)
        with pytest.raises(ValueError, match="unknown refusal code"):
            handling.refuse(s, second, "because", actor="agent", now=T0)
    with database.session() as s:
        script = handling.refuse(s, second, "repeat_no_new_facts", actor="agent", now=T0, duplicate_of=first)
    assert " ".join(first) in script
    t = state(database, second)
    assert t.state == "refused" and t.refusal_code == "repeat_no_new_facts" and t.duplicate_of is not None


# -- duplicates ----------------------------------------------------------------------------

def test_a_repeat_from_the_same_caller_is_linked_not_recreated(database):
    first = new(database, "我们小区停水三天了一直没人管", call_id="c1").ticket
    again = new(database, "小区停水三天了没人管啊", call_id="c2", at=T0 + timedelta(hours=2))
    assert again.duplicate and again.ticket.number == first.number and again.ticket.repeats == 1
    assert not new(database, "小区停水三天了没人管", caller="13900139000").duplicate   # another caller
    assert not new(database, "楼下饭店油烟太大", call_id="c3").duplicate              # another matter
    assert not new(database, "小区停水三天了没人管", caller="").duplicate             # withheld caller
    with database.session() as s:
        assert sorted(s.scalars(select(TicketCall.call_id).where(TicketCall.ticket_id == first.id))) == ["c1", "c2"]
        assert s.scalar(select(func.count()).select_from(Ticket)) == 4
    assert [e[0] for e in events(database, first.number)] == ["create", "repeat"]


def test_a_closed_ticket_is_not_a_duplicate(database):
    add_unit(database)
    first = new(database).ticket.number
    walk_to(database, first, "approve")
    assert not new(database, at=T0 + timedelta(days=1)).duplicate


# -- the phone -----------------------------------------------------------------------------

@pytest.fixture
def desk(database, tmp_path):
    return TicketDesk(database, Z, recordings_dir=tmp_path / "var" / "recordings")


def test_message_then_hang_up_yields_a_ticket_with_the_recording(database, desk, tmp_path):
    spool = tmp_path / "spool"
    spool.mkdir()
    wav = spool / "c9-message.wav"
    wav.write_bytes(b"RIFF....WAVE")
    receipt = desk.take_message(caller_key=CALLER, call_id="c9", recording_path=str(wav), received_at=T0)
    assert numbers.is_valid(receipt.number) and receipt.due_date == date(2026, 10, 15) and not receipt.duplicate
    t = state(database, receipt.number)         # committed: a new session sees it
    assert t.source == "message" and t.kind == "help" and t.transcript == "" and t.call_id == "c9"
    kept = (tmp_path / "var" / "recordings").resolve()
    assert t.recording_path.startswith(str(kept)) and open(t.recording_path, "rb").read() == b"RIFF....WAVE"
    desk.attach_transcript(receipt.number, "楼道灯坏了", T0 + timedelta(minutes=1))
    t = state(database, receipt.number)
    assert t.transcript == t.content == "楼道灯坏了"
    assert [e[0] for e in events(database, receipt.number)] == ["create", "transcript"]


def test_a_recording_already_under_the_data_directory_stays_there(database, desk, tmp_path):
    path = tmp_path / "var" / "recordings" / "messages" / "c10-message.wav"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"x")
    receipt = desk.take_message(caller_key="", call_id="c10", recording_path=str(path), received_at=T0,
                                transcript="路灯不亮")
    assert state(database, receipt.number).recording_path == str(path)


def test_self_service_answer_is_a_consult_closed_on_creation(database, desk):
    number = desk.self_served(caller_key=CALLER, call_id="c11", question="社保卡掉了怎么补",
                              answer="携带身份证到社保服务网点补办", answered_at=T0, entry_id="kb-7")
    t = state(database, number)
    assert t.kind == "consult" and t.state == "closed" and t.closed_at == T0 and t.source == "self_service"
    assert [e[:3] for e in events(database, number)] == [("create", None, "received"), ("close", "received", "closed")]


def test_ratings_flag_review_on_4_and_5(database, desk):
    a = new(database, "一", call_id="call-a").ticket.number
    b = new(database, "二二二二", caller="13900139000", call_id="call-b").ticket.number
    with database.session() as s:
        calls.open_call(s, call_id="call-b", channel="fastagi", channel_ref="1", caller_key="13900139000",
                        caller_kind="mobile", caller_name="", dnid="12345", language="cmn", started_at=T0)
    assert desk.rate(a, None, 2, T0)                       # by ticket number
    assert desk.rate("call-b", "call-b", 4, T0)            # by call id: the survey's subject
    assert not desk.rate("no-such-call", None, 1, T0)
    assert not desk.rate("20260925000990", None, 1, T0)
    with pytest.raises(ValueError):
        desk.rate(a, None, 6, T0)
    ta, tb = state(database, a), state(database, b)
    assert (ta.rating, ta.review) == (2, False) and (tb.rating, tb.review) == (4, True)
    with database.session() as s:
        assert calls.get_call(s, "call-b").rating == 4
    assert state(database, new(database, "三", caller="13700137000").ticket.number).rating is None   # no input


def test_return_visit_list(database):
    add_unit(database)
    closed = [new(database, f"事情{i}号" * 3, caller=f"1370013700{i}").ticket.number for i in range(3)]
    for n in closed:
        walk_to(database, n, "approve")
    new(database, "还开着的事情", caller="13600136000")
    now = T0 + timedelta(days=2)
    with database.session() as s:
        followup.rate(s, closed[0], 1, now)
        for _ in range(3):
            followup.record_return_visit(s, closed[1], outcome="no_answer", actor="rv", now=now)
    with database.session() as s:
        listed = followup.return_visit_list(s, now, within_days=7, max_attempts=3)
        assert [v.number for v in listed] == [closed[2]]
        assert followup.return_visit_list(s, T0 + timedelta(days=30), within_days=7) == []


def test_progress_by_phone_respects_privacy(database, desk):
    n = new(database).ticket.number
    mine = desk.progress(n, CALLER)
    assert mine.details and mine.state == "received" and mine.state_zh == "已受理"
    assert mine.due_date == date(2026, 10, 22)
    other = desk.progress(n, "13900139000")
    assert not other.details and other.state is None and other.due_date is None
    assert not desk.progress(n, "").details                       # withheld: nobody's number
    assert desk.progress(n, "13900139000", verified=True).details  # an agent verified the caller
    assert desk.progress(n[:-1] + str((int(n[-1]) + 1) % 10), CALLER) is None   # mistyped
    assert desk.progress("20260925000990", CALLER) is None


# -- jobs ----------------------------------------------------------------------------------

def test_overdue_job_is_idempotent_when_run_twice_and_late(database):
    consult = new(database, "问个事", kind="consult", at=datetime(2026, 11, 23, 10, tzinfo=Z)).ticket.number
    later = new(database, "投诉一件事", caller="13900139000", at=datetime(2026, 11, 23, 10, tzinfo=Z)).ticket.number
    assert state(database, consult).due_date == date(2026, 11, 25)
    morning = datetime(2026, 11, 24, 9, tzinfo=Z)
    for _ in range(2):
        with database.session() as s:
            result = jobs.mark_deadlines(s, morning, CAL)
        assert result.due_soon == ([consult] if _ == 0 else []) and result.overdue == []
    late = datetime(2026, 11, 30, 9, tzinfo=Z)
    for run in range(2):
        with database.session() as s:
            result = jobs.mark_deadlines(s, late, CAL)
        assert result.overdue == ([consult] if run == 0 else [])
    t = state(database, consult)
    assert t.due_soon and t.overdue
    assert [e[0] for e in events(database, consult)] == ["create", "due_soon", "overdue"]
    assert not state(database, later).overdue and not state(database, later).due_soon


def test_overdue_job_skips_closed_tickets_and_late_run_marks_overdue_directly(database):
    add_unit(database)
    done = new(database, "已办好的事", kind="consult", at=datetime(2026, 11, 23, 10, tzinfo=Z)).ticket.number
    walk_to(database, done, "approve")
    missed = new(database, "没人管的事", kind="consult", caller="13900139000",
                 at=datetime(2026, 11, 23, 10, tzinfo=Z)).ticket.number
    with database.session() as s:
        result = jobs.mark_deadlines(s, datetime(2026, 12, 9, tzinfo=Z), CAL)
    assert result.overdue == [missed] and result.due_soon == []
    assert [e[0] for e in events(database, missed)] == ["create", "overdue"]


def test_provisional_deadlines_are_recomputed_when_the_schedule_is_loaded(database):
    at = datetime(2026, 12, 24, 10, tzinfo=Z)
    n = new(database, at=at).ticket.number
    t = state(database, n)
    assert t.provisional and t.due_date == date(2027, 1, 15)      # statutory 2027: only 1 January off
    schedule = OfficialSchedule(year=2027, source="test notice", title="2027 test",
                                holidays={date(2027, 1, 1): "元旦", date(2027, 1, 4): "元旦"}, workdays={})
    jobs.install_schedule_hook()
    try:
        with database.session() as s:
            loader.store_schedule(s, schedule, by="admin", now=datetime(2026, 12, 25, tzinfo=Z))
    finally:
        loader.remove_schedule_hook(jobs.recompute_on_schedule_load)
    t = state(database, n)
    assert not t.provisional and t.due_date == date(2027, 1, 18) and t.due == datetime(2027, 1, 19, tzinfo=Z)
    last = events(database, n)[-1]
    assert last[0] == "deadline_recomputed" and last[3] == "calendar"
    with database.session() as s:
        detail = json.loads(s.scalars(select(TicketEvent.detail).order_by(TicketEvent.id.desc())).first())
        assert detail["old_due_date"] == "2027-01-15" and detail["due_date"] == "2027-01-18"
        assert jobs.recompute_provisional(s, 2027, loader.calendar_from_db(s), now=at) == []   # nothing left


def test_messages_taken_at_once_on_many_lines_get_distinct_committed_numbers(database, desk):
    start = threading.Barrier(6, timeout=20)
    receipts, errors = [], []

    def line(i):
        try:
            start.wait()
            for j in range(3):
                receipts.append(desk.take_message(caller_key=f"1380000{i:02d}{j:02d}", call_id=f"m{i}-{j}",
                                                  recording_path=f"/spool/m{i}-{j}.wav", received_at=T0))
        except Exception as exc:  # noqa: BLE001 - reported by the assertion
            errors.append(exc)

    pool = [threading.Thread(target=line, args=(i,)) for i in range(6)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    assert not errors, errors
    got = [r.number for r in receipts]
    assert len(got) == len(set(got)) == 18
    with database.read_session() as s:
        assert set(s.scalars(select(Ticket.number))) == set(got)
