"""The leader desk (issue 6) on SQLite and PostgreSQL: publishing with overlap and time rules,
cancelling, "live" computed from the times alone (no job needs to run), the open/close job as a
record only, the dial-string allow-list, and the iCalendar export parsed back."""
from __future__ import annotations

import re
import threading
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event

from leader_desk import ical, jobs, service
from leader_desk.models import CANCELLED, LeaderSession, valid_dial_string
from leader_desk.service import LeaderDeskError

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 20, 10, 0, tzinfo=SH)           # when the schedule is published
DAY = "2026-11-25"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SH)


@pytest.fixture
def desk(database):
    with database.session() as s:
        service.add_leader(s, name="张三", title="局长", unit="市交通运输局", by="admin", now=NOW)
        service.add_leader(s, name="李四", title="副局长", unit="市住房和城乡建设局", by="admin", now=NOW)
        service.add_seat(s, name="seat1", dial_string="PJSIP/leader1", by="admin", now=NOW)
        service.add_seat(s, name="seat2", dial_string="SIP/leader2@pbx", by="admin", now=NOW)
    return database


def add(db, *, leader="张三", seat="seat1", day=DAY, start="09:00", end="11:00", topic="公交线路优化",
        now=NOW, force=False, title=""):
    with db.session() as s:
        row = service.add_session(s, leader=leader, seat=seat, day=day, start=start, end=end, topic=topic,
                                  title=title, by="admin", now=now, zone=SH, force=force)
        return row.id


def live(db, moment):
    with db.read_session() as s:
        return service.live_session(s, moment)


# -- publishing ------------------------------------------------------------------------------

def test_a_session_is_stored_as_utc_instants_from_local_times(desk):
    sid = add(desk)
    with desk.read_session() as s:
        row = s.get(LeaderSession, sid)
        assert row.starts_at == datetime(2026, 11, 25, 1, 0, tzinfo=timezone.utc)
        assert row.ends_at == datetime(2026, 11, 25, 3, 0, tzinfo=timezone.utc)
        assert row.day.isoformat() == DAY and row.zone == "Asia/Shanghai"
        assert row.state == "published" and row.created_by == "admin"
        assert row.title == "市交通运输局局长接听"                      # default title


def test_end_must_follow_start_and_24_00_ends_at_midnight(desk):
    for start, end in (("11:00", "09:00"), ("09:00", "09:00")):
        with pytest.raises(LeaderDeskError, match="end after it starts"):
            add(desk, start=start, end=end)
    for start, end in (("9:00", "10:00"), ("09:00", "25:00"), ("24:00", "24:00")):
        with pytest.raises(LeaderDeskError):
            add(desk, start=start, end=end)
    with pytest.raises(LeaderDeskError, match="YYYY-MM-DD"):
        add(desk, day="25/11/2026")
    sid = add(desk, start="20:00", end="24:00")
    with desk.read_session() as s:
        assert s.get(LeaderSession, sid).ends_at == at("2026-11-26T00:00")


def test_no_overlap_on_a_seat_or_for_a_leader(desk):
    add(desk, start="09:00", end="11:00")
    for start, end in (("10:00", "12:00"), ("08:00", "09:30"), ("09:30", "10:30"), ("08:00", "12:00")):
        with pytest.raises(LeaderDeskError, match="overlaps"):
            add(desk, leader="李四", start=start, end=end)              # same seat
    with pytest.raises(LeaderDeskError, match="overlaps"):
        add(desk, seat="seat2", start="10:00", end="12:00")              # same leader, other seat
    add(desk, start="11:00", end="12:00")                                # touching is fine
    add(desk, leader="李四", seat="seat2", start="09:00", end="11:00")   # other leader, other seat


def test_not_in_the_past_unless_forced(desk):
    with pytest.raises(LeaderDeskError, match="past"):
        add(desk, day="2026-11-19")
    with pytest.raises(LeaderDeskError, match="past"):
        add(desk, day="2026-11-20", start="09:30", end="11:00")          # started half an hour ago
    add(desk, day="2026-11-19", force=True)


def test_unknown_leader_or_seat_and_ambiguous_names(desk):
    with pytest.raises(LeaderDeskError, match="no leader"):
        add(desk, leader="王五")
    with pytest.raises(LeaderDeskError, match="no seat"):
        add(desk, seat="seat9")
    with desk.session() as s:
        service.add_leader(s, name="张三", title="主任", unit="市信访局", by="admin", now=NOW)
        with pytest.raises(LeaderDeskError, match="already exists"):
            service.add_leader(s, name="张三", title="主任", unit="市信访局", by="admin", now=NOW)
    with pytest.raises(LeaderDeskError, match="--unit"):
        add(desk)
    with desk.session() as s:
        row = service.add_session(s, leader="张三", unit="市信访局", seat="seat1", day=DAY, start="09:00",
                                  end="10:00", by="admin", now=NOW, zone=SH)
        assert row.title == "市信访局主任接听"


def test_two_admins_publishing_overlapping_sessions_at_once_one_wins(desk):
    outcomes = []
    barrier = threading.Barrier(2)

    def publish(leader):
        barrier.wait()
        try:
            add(desk, leader=leader)
            outcomes.append("ok")
        except LeaderDeskError:
            outcomes.append("overlap")
        except Exception as exc:  # a serialisation failure also means "not published"
            outcomes.append(exc.__class__.__name__)

    threads = [threading.Thread(target=publish, args=(n,)) for n in ("张三", "李四")]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert outcomes.count("ok") == 1, outcomes
    with desk.read_session() as s:
        assert len(service.sessions_between(s)) == 1


# -- cancelling ------------------------------------------------------------------------------

def test_cancel_with_reason_frees_the_slot_and_is_kept(desk):
    sid = add(desk)
    with desk.session() as s:
        with pytest.raises(LeaderDeskError, match="reason"):
            service.cancel_session(s, sid, reason="  ", by="admin", now=NOW)
    with desk.session() as s:
        service.cancel_session(s, sid, reason="临时公务", by="office", now=NOW + timedelta(hours=1))
    with desk.session() as s:
        with pytest.raises(LeaderDeskError, match="already cancelled"):
            service.cancel_session(s, sid, reason="again", by="admin", now=NOW)
        with pytest.raises(LeaderDeskError, match="no leader session"):
            service.cancel_session(s, 9999, reason="x", by="admin", now=NOW)
    assert live(desk, at("2026-11-25T10:00")) is None
    add(desk)                                                            # the slot is free again
    with desk.read_session() as s:
        rows = service.sessions_between(s)
        assert [r[0].state for r in rows] == [CANCELLED, "published"]
        assert rows[0][0].cancel_reason == "临时公务" and rows[0][0].cancelled_by == "office"
        assert len(service.sessions_between(s, include_cancelled=False)) == 1


def test_a_session_that_took_place_cannot_be_cancelled(desk):
    sid = add(desk)
    with desk.session() as s:
        with pytest.raises(LeaderDeskError, match="already taken place"):
            service.cancel_session(s, sid, reason="late", by="admin", now=at("2026-11-25T11:00"))


# -- live, from the times only ----------------------------------------------------------------

@pytest.mark.parametrize("moment,is_live", [
    ("2026-11-25T08:59:59", False), ("2026-11-25T09:00:00", True), ("2026-11-25T10:59:59", True),
    ("2026-11-25T11:00:00", False), ("2026-11-24T10:00:00", False), ("2026-11-26T10:00:00", False),
])
def test_live_is_computed_from_the_times_without_any_job(desk, moment, is_live):
    add(desk)
    found = live(desk, at(moment))
    assert (found is not None) is is_live
    if is_live:
        assert found.dial_string == "PJSIP/leader1" and found.seat == "seat1"
        assert found.announcement == "今天由市交通运输局张三局长在线接听，主题：公交线路优化"


def test_live_in_utc_and_announcement_without_topic(desk):
    add(desk, topic="")
    found = live(desk, datetime(2026, 11, 25, 1, 30, tzinfo=timezone.utc))
    assert found.announcement == "今天由市交通运输局张三局长在线接听"


def test_live_is_one_query(desk):
    add(desk)
    statements = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(desk.engine, "before_cursor_execute", count)
    try:
        with desk.read_session() as s:
            statements.clear()
            assert service.live_session(s, at("2026-11-25T10:00")) is not None
            queries = [q for q in statements if q.lstrip().upper().startswith("SELECT")]
    finally:
        event.remove(desk.engine, "before_cursor_execute", count)
    assert len(queries) == 1


def test_the_open_close_job_is_a_record_and_missing_it_changes_nothing(desk):
    sid = add(desk)
    with desk.session() as s:
        assert jobs.open_and_close(s, at("2026-11-25T08:00")) == {"opened": 0, "closed": 0}
    # the job did not run at 09:00: the session is live anyway
    assert live(desk, at("2026-11-25T09:30")).session_id == sid
    with desk.session() as s:
        assert jobs.open_and_close(s, at("2026-11-25T09:31")) == {"opened": 1, "closed": 0}
        assert jobs.open_and_close(s, at("2026-11-25T09:32")) == {"opened": 0, "closed": 0}
    with desk.session() as s:
        assert jobs.open_and_close(s, at("2026-11-25T12:00")) == {"opened": 0, "closed": 1}
        row = s.get(LeaderSession, sid)
        assert row.opened_at == at("2026-11-25T09:31") and row.closed_at == at("2026-11-25T12:00")
    # closed by the job or not, liveness is the times
    assert live(desk, at("2026-11-25T10:00")).session_id == sid
    # a session whose start and end were both missed is only closed
    sid2 = add(desk, day="2026-11-26")
    with desk.session() as s:
        assert jobs.open_and_close(s, at("2026-11-27T00:00")) == {"opened": 0, "closed": 1}
        assert s.get(LeaderSession, sid2).opened_at is None


def test_calls_put_through_to_a_seat_are_recorded(desk):
    sid = add(desk)
    with desk.session() as s:
        service.record_leader_call(s, call_id="call-1", session_id=sid, seat="PJSIP/leader1",
                                   at=at("2026-11-25T09:10"))
        service.record_leader_call(s, call_id="call-1", session_id=sid, seat="PJSIP/leader1",
                                   at=at("2026-11-25T09:11"))              # idempotent
        assert service.record_leader_outcome(s, "call-1", "busy") is True
        assert service.record_leader_outcome(s, "call-x", "ANSWER") is False
    with desk.read_session() as s:
        [call] = service.leader_calls(s, sid)
        assert (call.call_id, call.dial_status, call.at) == ("call-1", "BUSY", at("2026-11-25T09:10"))


# -- the dial-string allow-list ---------------------------------------------------------------

@pytest.mark.parametrize("dial", ["PJSIP/leader1", "SIP/1001@pbx.example", "IAX2/leader+1", "DAHDI/g1",
                                  "Local/8001@leaders", "PJSIP/" + "a" * 64])
def test_allowed_dial_strings(desk, dial):
    assert valid_dial_string(dial)
    with desk.session() as s:
        service.add_seat(s, name=f"s{abs(hash(dial)) % 10000}", dial_string=dial, by="admin", now=NOW)


@pytest.mark.parametrize("dial", ["PJSIP/a&PJSIP/b", "PJSIP/x,10,G(evil)", "PJSIP/${EVIL}", "PJSIP/x)",
                                  "Console/dsp", "pjsip/leader", "PJSIP/", "PJSIP/a b", "PJSIP/a\nb",
                                  "PJSIP/" + "a" * 65, "leader1", "PJSIP/a;b", "PJSIP/a|b", " PJSIP/a/b"])
def test_refused_dial_strings(desk, dial):
    assert not valid_dial_string(dial)
    with desk.session() as s:
        with pytest.raises(LeaderDeskError, match="not an allowed dial string"):
            service.add_seat(s, name="evil", dial_string=dial, by="admin", now=NOW)


# -- iCalendar ---------------------------------------------------------------------------------

def parse_ical(text: str) -> list[dict]:
    """An independent reader: CRLF lines ≤ 75 octets, unfolding, TEXT unescaping (RFC 5545)."""
    assert text.endswith("\r\n")
    raw = text.encode("utf-8").split(b"\r\n")[:-1]
    for line in raw:
        assert len(line) <= 75, line
        line.decode("utf-8")                       # a fold never splits a character
        assert b"\n" not in line and b"\r" not in line
    lines: list[str] = []
    for line in (r.decode("utf-8") for r in raw):
        if line.startswith(" "):
            lines[-1] += line[1:]
        else:
            lines.append(line)
    assert lines[0] == "BEGIN:VCALENDAR" and lines[-1] == "END:VCALENDAR"
    assert "VERSION:2.0" in lines and any(line.startswith("PRODID:") for line in lines)
    events, current = [], None
    for line in lines:
        if line == "BEGIN:VEVENT":
            current = {}
        elif line == "END:VEVENT":
            events.append(current)
            current = None
        elif current is not None:
            name, _, value = line.partition(":")
            current[name] = value
    return events


def unescape(value: str) -> str:
    return re.sub(r"\\([\\;,nN])", lambda m: "\n" if m.group(1) in "nN" else m.group(1), value)


def test_ical_export_parses_back(desk):
    tricky = "公交线路优化, 地铁换乘; 票价\\优惠\n第二行" + "，很长的主题" * 12
    sid = add(desk, topic=tricky, title="局长接听日, 第1期")
    sid2 = add(desk, leader="李四", seat="seat2", day="2026-11-26", start="14:00", end="16:00", topic="物业管理")
    with desk.session() as s:
        service.cancel_session(s, sid2, reason="会议冲突, 改期", by="office", now=NOW)
    with desk.read_session() as s:
        text = ical.export_ical(service.sessions_between(s), now=NOW, domain="hotline.example.gov.cn")
    events = parse_ical(text)
    assert [e["UID"] for e in events] == [f"leader-session-{sid}@hotline.example.gov.cn",
                                          f"leader-session-{sid2}@hotline.example.gov.cn"]
    first, second = events
    assert first["DTSTART"] == "20261125T010000Z" and first["DTEND"] == "20261125T030000Z"
    assert first["DTSTAMP"] == "20261120T020000Z"
    assert unescape(first["SUMMARY"]) == "局长接听日, 第1期"
    description = unescape(first["DESCRIPTION"])
    assert " ".join(tricky.split()) in description and "张三" in description   # a topic is one line
    assert description.endswith("\n拨打12345，在提示后按9转接领导接听专席。")       # a newline round-trips
    assert first["STATUS"] == "CONFIRMED" and first["SEQUENCE"] == "0"
    assert "PJSIP" not in text                    # dial strings are not published
    assert second["STATUS"] == "CANCELLED" and second["SEQUENCE"] == "1"
    assert "会议冲突, 改期" in unescape(second["DESCRIPTION"])
    # unescaped ; and , never appear inside TEXT values
    for e in events:
        for key in ("SUMMARY", "DESCRIPTION", "LOCATION"):
            assert not re.search(r"(?<!\\)[;,]", e[key].replace("\\\\", "")), (key, e[key])


def test_ical_uids_are_stable_across_exports(desk):
    sid = add(desk)
    with desk.read_session() as s:
        before = parse_ical(ical.export_ical(service.sessions_between(s), now=NOW))
    add(desk, day="2026-11-27")
    with desk.read_session() as s:
        after = parse_ical(ical.export_ical(service.sessions_between(s), now=NOW + timedelta(days=1)))
    assert before[0]["UID"] == after[0]["UID"] == f"leader-session-{sid}@hotline12345.local"
    assert len({e["UID"] for e in after}) == 2


def test_fold_and_escape_units():
    assert ical.escape_text("a\\b;c,d\ne") == "a\\\\b\\;c\\,d\\ne"
    folded = ical.fold("DESCRIPTION:" + "中" * 60)
    parts = folded.split("\r\n")
    assert all(len(p.encode()) <= 75 for p in parts) and all(p.startswith(" ") for p in parts[1:])
    assert "".join([parts[0]] + [p[1:] for p in parts[1:]]) == "DESCRIPTION:" + "中" * 60
