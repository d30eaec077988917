"""Issue 3 on the phone: a blocked caller hears the notice and is hung up; an expired block lets them through."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from blocklist.models import Block, BlockEvent
from callers.models import CallRecord
from hotline.cli import main as hotline
from flow.language import spoken_date
from tests.fake_asterisk import Listen, place_call, synthesised

SHANGHAI = timezone(timedelta(hours=8))


def block(running, monkeypatch, number: str, decided: datetime) -> None:
    """An admin blocks the number with the command line, against the running engine's database."""
    monkeypatch.setenv("HOTLINE_DATABASE_URL", running.engine.settings.db_url)
    assert hotline(["blocklist", "add", number, "--ground", "harassing", "--evidence",
                    "辱骂话务员三次，录音 0925-3", "--by", "admin1", "--at", decided.isoformat()]) == 0


def test_blocked_caller_hears_the_notice_the_end_date_and_is_hung_up(running, monkeypatch):
    decided = datetime.now(SHANGHAI) - timedelta(days=1)
    block(running, monkeypatch, "138 0013 8000", decided)
    result = place_call(running.port, Listen(), callerid="+8613800138000")
    assert result.variables["HOTLINE_ACTION"] == "hangup"
    notice = [p.rsplit("/", 1)[-1] for p in result.played]
    assert notice[0] == "restricted_notice" and notice[-1] == "restricted_emergency" and len(notice) == 3
    # the last day, said by the engine in Chinese between the two (二零二六年十二月二十五日)
    last_day = decided.date() + timedelta(days=30)
    assert synthesised(result) == [spoken_date(last_day, "cmn")]
    assert not result.said              # not Asterisk's SAY DATE, which has no Chinese grammar
    with running.session() as s:
        rec = s.query(CallRecord).one()
        assert rec.outcome == "restricted" and rec.action == "hangup"
        events = [e.action for e in s.query(BlockEvent).order_by(BlockEvent.id)]
        assert events[-1] == "attempt"
        assert s.query(Block).one().attempts == 1


def test_expired_block_lets_the_caller_through(running, monkeypatch):
    block(running, monkeypatch, "13800138000", datetime.now(SHANGHAI) - timedelta(days=31, hours=1))
    result = place_call(running.port, Listen(), Listen(), callerid="13800138000")
    assert result.variables["HOTLINE_ACTION"] == "queue"
    assert not any(p.endswith("restricted_notice") for p in result.played)


def test_withheld_caller_is_never_restricted_or_dropped(running):
    result = place_call(running.port, Listen(), Listen(), callerid="anonymous")
    assert result.variables["HOTLINE_ACTION"] == "queue"
