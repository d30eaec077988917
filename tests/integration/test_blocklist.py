"""The blocklist domain on SQLite and PostgreSQL: lifecycle, two-step control, history, suggestions,
concurrency, and the migration."""
from __future__ import annotations

import secrets
import threading
import time
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import create_engine, func, inspect, select, text

from blocklist import queries, service, suggest
from blocklist.check import active_block, active_block_in, check_and_record, record_attempt
from blocklist.jobs import ending_tomorrow_notice
from blocklist.models import Block, BlockCall, BlockedNumber
from blocklist.service import BlocklistError, Policy
from callers import calls
from core import db as dbmod

ZONE = ZoneInfo("Asia/Shanghai")
POLICY = Policy(zone=ZONE)
MOBILE = "13800138000"
DECIDED = datetime.fromisoformat("2026-11-25T10:00:00+08:00")
UNTIL = datetime.fromisoformat("2026-12-26T00:00:00+08:00")
SECOND = timedelta(seconds=1)


def num(text: str = MOBILE):
    return service.blockable_number(text)


def add(database, number=MOBILE, at=DECIDED, by="admin.li", policy=POLICY, **kw):
    with database.session() as s:
        return service.add(s, policy, num(number), kw.pop("ground", "harassing"),
                           kw.pop("evidence", "shouted at the agent"), by=by, now=at, **kw)


def check(database, number=MOBILE, at=DECIDED):
    with database.session() as s:
        block = active_block(s, num(number).key, at)
    # the call path's lean read (no session, no transaction) must give the very same answer
    assert active_block_in(database, num(number).key, at) == block
    return block


def events(database, number=MOBILE):
    with database.session() as s:
        return [(e.id, e.block_id, e.action, e.actor, e.at, e.detail, e.reason, e.call_id)
                for e in queries.history(s, num(number).key)]


def open_call(database, call_id, number=MOBILE, at=DECIDED, seconds=60, outcome="handed_off", **kw):
    with database.session() as s:
        calls.open_call(s, call_id=call_id, channel="fastagi", channel_ref=call_id, caller_key=number,
                        caller_kind=kw.pop("kind", "mobile"), caller_name="", dnid="12345", language="cmn",
                        started_at=at)
    with database.session() as s:
        calls.close_call(s, call_id, calls.CallOutcome(outcome=outcome, **kw), at + timedelta(seconds=seconds))


# -- lifecycle --------------------------------------------------------------------------------

def test_a_block_is_in_force_until_its_last_second(database):
    block = add(database)
    assert block.until == UNTIL and block.last_day == date(2026, 12, 25)
    assert check(database, at=DECIDED - SECOND) is None                 # not before the decision
    found = check(database, at=DECIDED)
    assert found is not None and found.id == block.id and found.ground == "harassing"
    assert found.until == UNTIL and found.until.tzinfo is not None and found.last_day == date(2026, 12, 25)
    assert check(database, at=UNTIL - SECOND) is not None               # 23:59:59 on the last day: refused
    assert check(database, at=UNTIL) is None                            # at until: accepted, no job ran
    with database.session() as s:
        assert queries.status_of(s.get(Block, block.id), UNTIL) == "expired"
        assert [b.id for b in queries.list_blocks(s, UNTIL - SECOND, "active")[0]] == [block.id]
        assert [b.id for b in queries.list_blocks(s, UNTIL, "expired")[0]] == [block.id]
        assert queries.list_blocks(s, UNTIL, "active") == ([], 0)


def test_decided_just_after_local_midnight_in_utc(database):
    # the server clock in UTC: 16:00:00Z on the 25th is 00:00 on the 26th in Shanghai
    block = add(database, at=datetime(2026, 11, 25, 16, 0, 0, tzinfo=timezone.utc))
    assert block.until == datetime.fromisoformat("2026-12-27T00:00:00+08:00")
    assert block.last_day == date(2026, 12, 26)
    assert check(database, at=datetime(2026, 12, 26, 15, 59, 59, tzinfo=timezone.utc)) is not None
    assert check(database, at=datetime(2026, 12, 26, 16, 0, 0, tzinfo=timezone.utc)) is None


def test_every_typed_format_finds_the_same_entry(database):
    add(database, "+86 138-0013-8000")
    for typed in ("13800138000", "138 0013 8000", "+8613800138000", "0086 138 0013 8000", "013800138000",
                  "(+86) 138.0013.8000", "１３８００１３８０００"):
        assert check(database, typed) is not None, typed
    add(database, "0752-2345678")
    for typed in ("07522345678", "+86 752 2345678", "0086-752-2345678", "(0752) 234 5678"):
        assert check(database, typed) is not None, typed


def test_withheld_and_service_numbers_cannot_be_blocked(database):
    for typed in ("anonymous", "", "unknown", "sip:anonymous@anonymous.invalid"):
        with pytest.raises(BlocklistError, match="withheld|nothing"):
            num(typed)
    with pytest.raises(BlocklistError, match="service number"):
        num("12345")
    with database.session() as s:
        assert active_block(s, "", DECIDED) is None                       # a withheld caller is never blocked
        assert s.scalar(select(func.count()).select_from(Block)) == 0


def test_lift_early_then_block_again_and_again(database):
    first = add(database)
    with pytest.raises(BlocklistError, match="already blocked through 2026-12-25"):
        add(database, at=DECIDED + timedelta(days=3))
    lift_at = DECIDED + timedelta(days=5)
    with database.session() as s:
        lifted = service.lift(s, POLICY, num(), by="admin.wang", now=lift_at, reason="agent mistook the caller")
    assert lifted.state == "lifted" and lifted.lift_reason == "agent mistook the caller"
    assert check(database, at=lift_at - SECOND) is not None and check(database, at=lift_at) is None
    with database.session() as s, pytest.raises(BlocklistError, match="not blocked"):
        service.lift(s, POLICY, num(), by="admin.wang", now=lift_at, reason="again")
    second = add(database, at=lift_at + timedelta(days=1), ground="insulting")   # a new block after a lift
    third_at = second.until + timedelta(days=2)                                   # ... and after expiry
    third = add(database, at=third_at, ground="malicious_calls")
    assert check(database, at=third_at).id == third.id
    with database.session() as s:
        blocks = queries.blocks_of(s, MOBILE)
        assert [(b.id, queries.status_of(b, third_at)) for b in blocks] == [
            (first.id, "lifted"), (second.id, "expired"), (third.id, "active")]
    assert [e[2] for e in events(database)] == ["added", "lifted", "added", "added"]


def test_a_back_dated_block_may_not_overlap_a_later_one(database):
    later = add(database)
    with pytest.raises(BlocklistError, match=f"block #{later.id}"):
        add(database, at=DECIDED - timedelta(days=10))                 # its 30 days would run into `later`
    earlier = add(database, at=DECIDED - timedelta(days=40))           # ends 2026-11-16 24:00: no overlap
    assert earlier.until <= later.decided_at


def test_an_expired_block_cannot_be_lifted(database):
    add(database)
    with database.session() as s, pytest.raises(BlocklistError, match="nothing to lift"):
        service.lift(s, POLICY, num(), by="admin.wang", now=UNTIL, reason="too late")


# -- two-step control ---------------------------------------------------------------------------

def test_a_proposal_waits_for_another_persons_approval(database):
    with database.session() as s:
        p = service.propose(s, POLICY, num(), "insulting", "called the agent names", by="agent.zhao", now=DECIDED)
    assert p.state == "proposed" and p.until is None
    assert check(database, at=DECIDED + timedelta(hours=1)) is None           # not in force yet
    with database.session() as s:
        waiting, total = queries.list_blocks(s, DECIDED, "proposed")
        assert total == 1 and waiting[0].proposed_by == "agent.zhao"          # undecided proposals are visible
        with pytest.raises(BlocklistError, match="another person must approve"):
            service.approve(s, POLICY, num(), by="agent.zhao", now=DECIDED)
        with pytest.raises(BlocklistError, match="already waiting"):
            service.propose(s, POLICY, num(), "insulting", "again", by="agent.qian", now=DECIDED)
        with pytest.raises(BlocklistError, match="approve or reject it"):
            service.add(s, POLICY, num(), "insulting", "direct", by="admin.li", now=DECIDED)
    approved_at = datetime.fromisoformat("2026-11-26T09:00:00+08:00")          # decided the next day
    with database.session() as s:
        block = service.approve(s, POLICY, num(), by="admin.li", now=approved_at, note="recording confirms it")
    assert block.state == "active" and block.decided_by == "admin.li" and block.proposed_by == "agent.zhao"
    assert block.until == datetime.fromisoformat("2026-12-27T00:00:00+08:00")  # counted from the decision
    assert check(database, at=approved_at) is not None
    assert [(e[2], e[3]) for e in events(database)] == [("proposed", "agent.zhao"), ("approved", "admin.li")]
    with database.session() as s, pytest.raises(BlocklistError, match="no proposal"):
        service.approve(s, POLICY, num(), by="admin.li", now=approved_at)


def test_a_rejected_proposal_blocks_nobody(database):
    with database.session() as s:
        service.propose(s, POLICY, num(), "no_request", "silent calls", by="agent.zhao", now=DECIDED)
    with database.session() as s:
        with pytest.raises(BlocklistError, match="reason"):
            service.reject(s, POLICY, num(), by="admin.li", now=DECIDED, reason="  ")
        r = service.reject(s, POLICY, num(), by="admin.li", now=DECIDED, reason="an elderly caller, not malicious")
    assert r.state == "rejected" and check(database, at=DECIDED) is None
    with database.session() as s:
        again = service.propose(s, POLICY, num(), "no_request", "more silent calls", by="agent.zhao",
                                now=DECIDED + timedelta(days=1))
    assert again.state == "proposed"
    assert [e[2] for e in events(database)] == ["proposed", "rejected", "proposed"]


def test_one_step_configuration(database):
    one_step = Policy(zone=ZONE, two_step=False)
    with database.session() as s:
        block = service.propose(s, one_step, num(), "threatening", "threatened the agent", by="agent.zhao",
                                now=DECIDED)
    assert block.state == "active" and block.until == UNTIL and check(database) is not None
    assert [e[2] for e in events(database)] == ["proposed", "approved"]


def test_direct_blocking_can_be_switched_off(database):
    with pytest.raises(BlocklistError, match="direct blocking is off"):
        add(database, policy=Policy(zone=ZONE, direct_add=False))
    with database.session() as s:
        assert s.scalar(select(func.count()).select_from(Block)) == 0


def test_cited_calls_must_exist_and_come_from_the_number(database):
    open_call(database, "c1")
    open_call(database, "c2", number="13900139000")
    with pytest.raises(BlocklistError, match="no call record"):
        add(database, call_ids=["c1", "nope"])
    with pytest.raises(BlocklistError, match="did not come from this number"):
        add(database, call_ids=["c2"])
    block = add(database, call_ids=["c1", "c1"])
    with database.session() as s:
        assert queries.cited_calls(s, [block.id]) == {block.id: ["c1"]}
        assert s.scalar(select(func.count()).select_from(BlockCall)) == 1


# -- history and attempts -------------------------------------------------------------------------

def test_history_is_append_only_and_counts_attempts(database):
    snapshots = []
    block = add(database, evidence="threats recorded on call c0")
    snapshots.append(events(database))
    open_call(database, "call-1", at=DECIDED + timedelta(days=1), outcome="restricted")
    with database.session() as s:
        record_attempt(s, block.id, "call-1", DECIDED + timedelta(days=1))
    snapshots.append(events(database))
    with database.session() as s:
        record_attempt(s, block.id, "call-2", DECIDED + timedelta(days=2))
        service.lift(s, POLICY, num(), by="admin.wang", now=DECIDED + timedelta(days=3), reason="apologised")
    snapshots.append(events(database))
    for earlier, later in zip(snapshots, snapshots[1:]):
        assert later[:len(earlier)] == earlier and len(later) > len(earlier)   # nothing changed or removed
    final = snapshots[-1]
    assert [e[2] for e in final] == ["added", "attempt", "attempt", "lifted"]
    assert final[1][5] == "blocked call attempt" and final[1][7] == "call-1" and final[2][7] == "call-2"
    assert final[3][6] == "apologised" and final[3][3] == "admin.wang"
    with database.session() as s:
        b = s.get(Block, block.id)
        assert b.attempts == 2 and b.last_attempt_at == DECIDED + timedelta(days=2)
    with database.session() as s, pytest.raises(LookupError):
        record_attempt(s, 999_999, "call-3", DECIDED)


def test_the_flow_check_records_the_refused_attempt(database):
    block = add(database)
    with database.session() as s:
        assert check_and_record(s, MOBILE, "call-9", DECIDED - SECOND) is None        # before: let through
        found = check_and_record(s, MOBILE, "call-10", UNTIL - SECOND)
        assert found.id == block.id and found.last_day == date(2026, 12, 25)
        assert check_and_record(s, MOBILE, "call-11", UNTIL) is None                   # at until: let through
        assert check_and_record(s, "", "call-12", DECIDED) is None                     # withheld
    attempts = [e for e in events(database) if e[2] == "attempt"]
    assert [e[7] for e in attempts] == ["call-10"]


def test_blocks_ending_tomorrow(database):
    ends_tomorrow = add(database, "13800138001", at=datetime.fromisoformat("2026-11-25T23:59:00+08:00"))
    add(database, "13800138002", at=datetime.fromisoformat("2026-11-26T00:00:00+08:00"))   # one day later
    lifted = add(database, "13800138003", at=datetime.fromisoformat("2026-11-25T08:00:00+08:00"))
    with database.session() as s:
        service.lift(s, POLICY, num("13800138003"), by="admin", now=DECIDED + timedelta(days=1), reason="ok")
    # the job runs at 01:00 on the last day but one, with the server clock in UTC
    job_time = datetime(2026, 12, 23, 17, 0, tzinfo=timezone.utc)          # 2026-12-24 01:00 local
    with database.session() as s:
        rows = queries.ending_tomorrow(s, job_time, ZONE)
    assert [b.id for b in rows] == [ends_tomorrow.id] and lifted.id not in [b.id for b in rows]
    notice = ending_tomorrow_notice(database, job_time, ZONE)
    assert [(n["number"], n["last_day"]) for n in notice] == [("13800138001", "2026-12-25")]


# -- suggestions --------------------------------------------------------------------------------------

def test_suggestions_show_their_evidence_and_block_nobody(database):
    now = datetime.fromisoformat("2026-11-25T20:00:00+08:00")
    start = now - timedelta(hours=10)
    for i in range(10):                                   # 10 calls, no request recorded
        open_call(database, f"many-{i}", "13800000001", start + timedelta(minutes=i * 5))
    open_call(database, "many-msg", "13800000001", start, outcome="message", message_path="/m.wav")
    for i in range(9):                                    # 9: under the threshold
        open_call(database, f"few-{i}", "13800000002", start + timedelta(minutes=i))
    for i in range(5):                                    # 5 calls of 2 s
        open_call(database, f"short-{i}", "13800000003", start + timedelta(minutes=i), seconds=2,
                  outcome="abandoned", hangup_point="main_menu")
    open_call(database, "old-0", "13800000003", now - timedelta(hours=30), seconds=1)   # outside the window
    for i in range(12):                                   # withheld callers are never suggested
        open_call(database, f"anon-{i}", "", start + timedelta(minutes=i), kind="withheld")
    for i in range(3):                                    # flagged by agents
        open_call(database, f"abuse-{i}", "13800000004", now - timedelta(days=3 + i), seconds=300)
    with database.session() as s:
        for i in range(3):
            suggest.flag_call(s, f"abuse-{i}", by="agent.zhao", now=now - timedelta(days=3 + i), note="insults")
        suggest.flag_call(s, "abuse-0", by="agent.qian", now=now - timedelta(days=2))   # same call twice
        with pytest.raises(BlocklistError, match="withheld"):
            suggest.flag_call(s, "anon-0", by="agent.zhao", now=now)
    for i in range(10):                                   # already blocked: nothing to suggest
        open_call(database, f"blocked-{i}", "13800000005", start + timedelta(minutes=i))
    add(database, "13800000005", at=start)
    with database.session() as s:
        found = {x.number_key: x for x in suggest.suggestions(s, now, suggest.Thresholds())}
        assert s.scalar(select(func.count()).select_from(Block)) == 1          # nothing applied
    assert sorted(found) == ["13800000001", "13800000003", "13800000004"]
    many = found["13800000001"].evidence
    assert [(e.rule, e.count) for e in many] == [("calls_without_request", 10)]
    assert list(many[0].call_ids) == [f"many-{i}" for i in range(10)] and found["13800000001"].ground == "no_request"
    short = {e.rule: e for e in found["13800000003"].evidence}["short_or_silent_calls"]
    assert short.count == 5 and "old-0" not in short.call_ids and found["13800000003"].ground == "malicious_calls"
    flagged = found["13800000004"].evidence[0]
    assert (flagged.rule, flagged.count, flagged.call_ids) == ("flagged_abusive", 3, ("abuse-2", "abuse-1", "abuse-0"))
    assert "3 calls flagged abusive" in found["13800000004"].summary


# -- concurrency -----------------------------------------------------------------------------------

def _race(database, actions, monkeypatch):
    """Run the actions in threads at the same moment, widening the read-then-write window."""
    original = service.block_in_force

    def slow(*a, **kw):
        result = original(*a, **kw)
        time.sleep(0.2)
        return result

    monkeypatch.setattr(service, "block_in_force", slow)
    barrier, results = threading.Barrier(len(actions)), [None] * len(actions)

    def run(i, action):
        barrier.wait()
        try:
            with database.session() as s:
                results[i] = action(s)
        except BlocklistError as exc:
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i, a)) for i, a in enumerate(actions)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return results


def test_two_admins_lifting_at_once(database, monkeypatch):
    block = add(database)
    later = DECIDED + timedelta(days=2)
    results = _race(database, [
        lambda s: service.lift(s, POLICY, num(), by="admin.li", now=later, reason="reason one"),
        lambda s: service.lift(s, POLICY, num(), by="admin.wang", now=later, reason="reason two"),
    ], monkeypatch)
    wins = [r for r in results if isinstance(r, Block)]
    assert len(wins) == 1 and sum(isinstance(r, BlocklistError) for r in results) == 1, results
    with database.session() as s:
        b = s.get(Block, block.id)
        assert b.state == "lifted" and b.lifted_by == wins[0].lifted_by
    lifts = [e for e in events(database) if e[2] == "lifted"]
    assert len(lifts) == 1 and lifts[0][3] == wins[0].lifted_by


def test_two_admins_approving_or_rejecting_at_once(database, monkeypatch):
    with database.session() as s:
        service.propose(s, POLICY, num(), "threatening", "threat", by="agent.zhao", now=DECIDED)
    results = _race(database, [
        lambda s: service.approve(s, POLICY, num(), by="admin.li", now=DECIDED + SECOND),
        lambda s: service.approve(s, POLICY, num(), by="admin.wang", now=DECIDED + SECOND),
        lambda s: service.reject(s, POLICY, num(), by="admin.zhou", now=DECIDED + SECOND, reason="no"),
    ], monkeypatch)
    wins = [r for r in results if isinstance(r, Block)]
    assert len(wins) == 1 and sum(isinstance(r, BlocklistError) for r in results) == 2, results
    history = events(database)
    assert [e[2] for e in history][0] == "proposed" and len(history) == 2
    assert history[1][3] == wins[0].decided_by
    with database.session() as s:
        assert s.scalar(select(Block.state)) == wins[0].state


def test_two_admins_blocking_one_number_at_once(database, monkeypatch):
    results = _race(database, [
        lambda s: service.add(s, POLICY, num("138 0013 8000"), "harassing", "a", by="admin.li", now=DECIDED),
        lambda s: service.add(s, POLICY, num("+8613800138000"), "insulting", "b", by="admin.wang", now=DECIDED),
    ], monkeypatch)
    assert sum(isinstance(r, Block) for r in results) == 1, results
    with database.session() as s:
        assert s.scalar(select(func.count()).select_from(Block)) == 1
        assert s.scalar(select(BlockedNumber.revision)) == 1      # the loser wrote nothing
    assert len(events(database)) == 1


# -- migration ---------------------------------------------------------------------------------------

BLOCKLIST_TABLES = {"block_numbers", "blocks", "block_calls", "block_events", "call_flags"}


def _tables(url):
    engine = dbmod.make_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_migration_upgrades_and_downgrades_on_sqlite(tmp_path):
    url = f"sqlite:///{tmp_path / 'm.db'}"
    dbmod.upgrade(url, "0002")
    assert BLOCKLIST_TABLES <= _tables(url)
    dbmod.downgrade(url, "0001")
    assert not BLOCKLIST_TABLES & _tables(url) and "calls" in _tables(url)
    dbmod.upgrade(url, "0002")
    assert BLOCKLIST_TABLES <= _tables(url)


@pytest.mark.postgres
def test_migration_upgrades_and_downgrades_on_postgresql():
    from tests.conftest import PG_URL, _pg_schema_url

    schema = "m_" + secrets.token_hex(5)
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        url = _pg_schema_url(schema)
        dbmod.upgrade(url, "0002")
        assert BLOCKLIST_TABLES <= _tables(url)
        dbmod.downgrade(url, "0001")
        assert not BLOCKLIST_TABLES & _tables(url) and "calls" in _tables(url)
        dbmod.upgrade(url, "0002")
        assert BLOCKLIST_TABLES <= _tables(url)
    finally:
        with admin.connect() as c:
            c.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
