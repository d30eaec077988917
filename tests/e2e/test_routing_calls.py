"""Issue 6 on the phone: a live leader session, 9 for the seat; a priority caller straight to a person."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from callers.models import CallRecord
from hotline.cli import main as hotline
from tests.fake_asterisk import Listen, Press, place_call
from tickets.models import Ticket

SHANGHAI = timezone(timedelta(hours=8))


def cli(running, monkeypatch, *argv) -> None:
    monkeypatch.setenv("HOTLINE_DATABASE_URL", running.engine.settings.db_url)
    assert hotline(list(argv)) == 0, argv


def test_live_leader_session_is_announced_and_9_reaches_the_seat(running, monkeypatch):
    now = datetime.now(SHANGHAI)
    cli(running, monkeypatch, "leader", "leaders", "add", "张三", "--title", "局长", "--unit", "市交通运输局", "--by", "admin")
    cli(running, monkeypatch, "leader", "seats", "add", "seat1", "PJSIP/leader1", "--by", "admin")
    start, end = now - timedelta(minutes=30), now + timedelta(minutes=30)
    if start.date() != now.date() or end.date() != now.date():          # keep the session inside one local day
        start, end = now.replace(hour=0, minute=0), now.replace(hour=23, minute=59)
    cli(running, monkeypatch, "leader", "add-session", "--leader", "张三", "--seat", "seat1",
        "--date", now.date().isoformat(), "--start", start.strftime("%H:%M"), "--end", end.strftime("%H:%M"),
        "--topic", "公交线路优化", "--force", "--by", "admin")
    result = place_call(running.port, Listen(), Listen(), Listen(), Press("9"))
    played = [part for p in result.played for part in p.rsplit("/", 1)[-1].split("+")]   # joined prompts too
    assert "leader_on_duty" in played and "leader_press_9" in played
    assert any("/tts/" in p for p in result.played)                      # the announcement, synthesised
    assert (result.variables["HOTLINE_ACTION"], result.variables["HOTLINE_TARGET"]) == ("leader", "PJSIP/leader1")
    number = result.variables["HOTLINE_TICKET"]
    with running.session() as s:
        ticket = s.query(Ticket).filter_by(number=number).one()
        assert "leader-received" in ticket.tags
        assert s.query(CallRecord).one().action == "leader"


def test_a_registered_elderly_caller_goes_straight_to_a_person(running, monkeypatch):
    cli(running, monkeypatch, "routing", "priority", "add", "139-0000-8888", "--category", "elderly", "--by", "admin")
    result = place_call(running.port, Listen(), callerid="+86 13900008888")
    assert result.variables["HOTLINE_ACTION"] == "queue" and int(result.variables["HOTLINE_PRIORITY"]) > 0
    assert not any(p.endswith("main_menu_keypad") for p in result.played)
    other = place_call(running.port, Listen(), Listen(), callerid="13900007777")
    assert "HOTLINE_PRIORITY" not in other.variables
