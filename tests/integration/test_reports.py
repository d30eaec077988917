"""Daily and monthly reports on a small hand-made dataset: every figure known, on SQLite and
PostgreSQL; CSV, JSON and SVG outputs; the CLI."""
from __future__ import annotations

import csv
import io
import json
import xml.etree.ElementTree as ET
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import insert

from analytics import charts, reports
from analytics.synthetic import call_row, ticket_row
from blocklist.models import Block, BlockedNumber, BlockEvent
from callers.models import CallRecord
from hotline.cli import main
from tickets.models import Ticket, Unit

ZONE = ZoneInfo("Asia/Shanghai")
DAY = date(2026, 3, 5)
TRICKY = '水务<集团>&"供水"'          # a unit name that must be escaped in SVG


def at(text: str) -> datetime:
    """Local time on DAY (or a full local ISO date-time) as UTC."""
    moment = datetime.fromisoformat(text if "T" in text else f"{DAY.isoformat()}T{text}")
    return moment.replace(tzinfo=ZONE).astimezone(timezone.utc)


def load(db) -> None:
    with db.session() as s:
        s.add_all([Unit(id=1, code="CG", name="城管局", region="", duties="", active=True, created_at=at("00:00")),
                   Unit(id=2, code="SW", name=TRICKY, region="", duties="", active=True, created_at=at("00:00"))])
        s.flush()
        calls = [
            call_row(id="c1", started_at=at("00:00:00"), outcome="self_served", action="hangup", kb_result="solved"),
            call_row(id="c2", started_at=at("08:30"), agent_answered=True),
            call_row(id="c3", started_at=at("09:15"), agent_answered=False),
            call_row(id="c4", started_at=at("09:40"), agent_answered=None),
            call_row(id="c5", started_at=at("10:00"), action="leader", agent_answered=True),
            call_row(id="c6", started_at=at("11:00"), action="emergency"),
            call_row(id="c7", started_at=at("12:00"), outcome="restricted", action="hangup"),
            call_row(id="c8", started_at=at("23:59:59"), outcome="self_served", action="hangup"),
            call_row(id="c9", started_at=at("2026-03-04T23:59:59"), agent_answered=True),     # day before
            call_row(id="c10", started_at=at("2026-03-06T00:00:00"), agent_answered=True),    # day after
            call_row(id="c11", started_at=at("13:00"), outcome="error", agent_answered=True),
        ]
        s.execute(insert(CallRecord), calls)
        s.add(BlockedNumber(number_key="13800000000", kind="mobile", first_at=at("2026-03-01T09:00"), revision=1))
        s.flush()
        s.add(Block(id=1, number_key="13800000000", ground="harassment", evidence="x", state="active",
                    proposed_by="a", proposed_at=at("2026-03-01T09:00"), attempts=3))
        s.flush()
        for i, (action, when) in enumerate([("attempt", "12:00"), ("attempt", "12:30"), ("added", "12:40"),
                                            ("attempt", "2026-03-04T12:00")]):
            s.add(BlockEvent(block_id=1, number_key="13800000000", at=at(when), recorded_at=at(when), actor="engine",
                             action=action))
        due = lambda t: at(t) + timedelta(days=2)  # noqa: E731
        tickets = [
            ticket_row(number="1", kind="consult", state="closed", received_at=at("01:00"), closed_at=at("01:05"),
                       rating=1, rated_at=at("02:00"), content="社保卡丢了怎么补办"),
            ticket_row(number="2", kind="help", state="dispatched", unit_id=2, received_at=at("08:00"),
                       content="江北停水了"),
            ticket_row(number="3", kind="help", state="closed", unit_id=2, received_at=at("08:10"),
                       closed_at=at("15:00"), rating=2, rated_at=at("16:00"), content="小区没水"),
            ticket_row(number="4", kind="complaint", state="accepted", unit_id=1, received_at=at("09:00"),
                       content="楼下噪音太大"),
            ticket_row(number="5", kind="complaint", state="refused", received_at=at("10:00"), content="隔壁吵架"),
            ticket_row(number="6", kind="report", state="received", received_at=at("23:30"), content="",
                       transcript="举报工地夜间施工噪音"),
            # received earlier, closed today late / on time
            ticket_row(number="7", kind="suggestion", state="closed", unit_id=1, received_at=at("2026-03-01T10:00"),
                       due=at("2026-03-05T00:00"), closed_at=at("11:00"), rating=4, rated_at=at("12:00"),
                       content="建议增设公交站"),
            ticket_row(number="8", kind="consult", state="closed", unit_id=2, received_at=at("2026-03-03T10:00"),
                       due=at("2026-03-06T00:00"), closed_at=at("09:00"), rating=5,
                       rated_at=at("2026-03-06T09:00"), content="水费怎么交"),
            ticket_row(number="9", kind="help", received_at=at("2026-03-06T00:00"), content="停电了"),
            ticket_row(number="10", kind="consult", received_at=at("2026-03-04T23:59"), rating=3,
                       rated_at=at("10:00"), content="公积金怎么提取"),
            # closed exactly at its deadline: on time
            ticket_row(number="11", kind="consult", state="closed", unit_id=1, received_at=at("2026-03-02T10:00"),
                       due=at("20:00"), closed_at=at("20:00"), content="路灯不亮"),
        ]
        s.execute(insert(Ticket), tickets)
        assert due("00:00") > at("00:00")


EXPECTED_DAILY = {
    "period": {"kind": "daily", "label": "2026-03-05", "zone": "Asia/Shanghai",
               "from": "2026-03-04T16:00:00+00:00", "to": "2026-03-05T16:00:00+00:00"},
    "calls": {"total": 9, "self_served": 2, "self_service_rate": 0.2222, "handed_to_queue": 4, "agent_answered": 2,
              "answer_rate": 0.5, "blocked_attempts": 2,
              "by_outcome": {"error": 1, "handed_off": 5, "restricted": 1, "self_served": 2},
              "handoffs_by_action": {"queue": 4, "leader": 1, "emergency": 1}},
    "tickets": {
        "received": 6, "by_kind": {"consult": 1, "help": 2, "suggestion": 0, "complaint": 2, "report": 1},
        "by_state": {"received": 1, "dispatched": 1, "accepted": 1, "reported": 0, "returned": 0, "closed": 2,
                     "refused": 1},
        "by_unit": [{"unit": "-", "name": "", "tickets": 3}, {"unit": "SW", "name": TRICKY, "tickets": 2},
                    {"unit": "CG", "name": "城管局", "tickets": 1}],
        "closed": 5, "closed_on_time": 4, "on_time_rate": 0.8,
        "on_time_by_unit": [{"unit": "-", "name": "", "closed": 1, "on_time": 1, "rate": 1.0},
                            {"unit": "CG", "name": "城管局", "closed": 2, "on_time": 1, "rate": 0.5},
                            {"unit": "SW", "name": TRICKY, "closed": 2, "on_time": 2, "rate": 1.0}],
        "top_topics": [{"topic": "停水", "tickets": 2}, {"topic": "噪声扰民", "tickets": 2},
                       {"topic": "社保医保", "tickets": 1}],
        "unclassified": 1},
    "ratings": {"rated": 4, "distribution": {"1": 1, "2": 1, "3": 1, "4": 1, "5": 0}, "satisfied": 3,
                "satisfaction_rate": 0.75},
}


def _hours(**counts) -> list[int]:
    out = [0] * 24
    for hour, n in counts.items():
        out[int(hour[1:])] = n
    return out


def test_daily_report_every_figure(database):
    load(database)
    with database.read_session() as s:
        report = reports.build_report(s, reports.day_period(DAY, ZONE))
    series = report.pop("series")
    assert report == EXPECTED_DAILY
    assert series["bucket"] == "hour" and series["labels"][0] == "00:00" and series["labels"][23] == "23:00"
    assert series["calls"] == _hours(h0=1, h8=1, h9=2, h10=1, h11=1, h12=1, h13=1, h23=1)
    assert series["tickets"] == _hours(h1=1, h8=2, h9=1, h10=1, h23=1)


def test_monthly_report(database):
    load(database)
    with database.read_session() as s:
        report = reports.build_report(s, reports.month_period(2026, 3, ZONE), top_topics=2)
    assert report["period"]["from"] == "2026-02-28T16:00:00+00:00" and report["period"]["to"] == "2026-03-31T16:00:00+00:00"
    assert report["calls"]["total"] == 11 and report["calls"]["handed_to_queue"] == 6
    assert report["calls"]["agent_answered"] == 4 and report["calls"]["answer_rate"] == 0.6667
    assert report["calls"]["blocked_attempts"] == 3
    assert report["tickets"]["received"] == 11
    assert report["tickets"]["top_topics"] == [{"topic": "停水", "tickets": 2}, {"topic": "噪声扰民", "tickets": 2}]
    assert report["ratings"]["distribution"] == {"1": 1, "2": 1, "3": 1, "4": 1, "5": 1}
    assert report["ratings"]["satisfaction_rate"] == 0.6
    series = report["series"]
    assert series["bucket"] == "day" and len(series["labels"]) == 31 and series["labels"][4] == "2026-03-05"
    assert series["calls"][3:6] == [1, 9, 1] and sum(series["calls"]) == 11
    assert series["tickets"][:6] == [1, 1, 1, 1, 6, 1]


def test_empty_period_has_zeros_and_no_rates(database):
    with database.read_session() as s:
        report = reports.build_report(s, reports.day_period(DAY, ZONE))
    assert report["calls"]["total"] == 0 and report["calls"]["self_service_rate"] is None
    assert report["tickets"]["on_time_rate"] is None and report["ratings"]["satisfaction_rate"] is None
    ET.fromstring(charts.dashboard(report))


def test_csv_and_json_outputs(database):
    load(database)
    with database.read_session() as s:
        report = reports.build_report(s, reports.day_period(DAY, ZONE))
    rows = list(csv.reader(io.StringIO(reports.to_csv(report))))
    assert rows[0] == ["section", "key", "value"]
    table = {(a, b): c for a, b, c in rows[1:]}
    assert len(table) == len(rows) - 1                      # one figure a row, no duplicates
    assert table[("calls", "total")] == "9" and table[("calls", "self_service_rate")] == "0.2222"
    assert table[("calls", "answer_rate")] == "0.5" and table[("calls", "blocked_attempts")] == "2"
    assert table[("handoffs_by_action", "leader")] == "1"
    assert table[("tickets_by_kind", "complaint")] == "2" and table[("tickets_by_state", "refused")] == "1"
    assert table[("tickets_by_unit", "SW")] == "2" and table[("tickets_by_unit", "-")] == "3"
    assert table[("on_time_rate_by_unit", "CG")] == "0.5" and table[("closed_by_unit", "SW")] == "2"
    assert table[("ratings", "4")] == "1" and table[("ratings", "satisfaction_rate")] == "0.75"
    assert table[("top_topics", "停水")] == "2" and table[("calls_by_hour", "09:00")] == "2"
    assert table[("period", "label")] == "2026-03-05"
    assert json.loads(reports.to_json(report)) == report


def test_svg_charts_are_well_formed_with_escaped_text(database):
    load(database)
    with database.read_session() as s:
        report = reports.build_report(s, reports.day_period(DAY, ZONE))
    ns = "{http://www.w3.org/2000/svg}"
    parts = charts.charts(report)
    assert set(parts) >= {"kpi", "series", "tickets_by_kind", "ratings", "on_time_by_unit", "top_topics"}
    for name, svg in parts.items():
        root = ET.fromstring(svg)
        assert root.tag == f"{ns}svg", name
    texts = ["".join(t.itertext()) for t in ET.fromstring(parts["on_time_by_unit"]).iter(f"{ns}text")]
    assert TRICKY in texts and "城管局" in texts and "50.0%" in texts
    assert "&lt;集团&gt;&amp;" in parts["on_time_by_unit"]
    board = ET.fromstring(charts.dashboard(report))
    words = "".join(board.itertext())
    assert "满意度评价" in words and "热点话题" in words and "停水" in words and "12345 热线日报 2026-03-05" in words


def test_cli_report_daily_and_monthly(database, tmp_path, monkeypatch, capsys):
    load(database)
    monkeypatch.setenv("HOTLINE_DATABASE_URL", database.url)
    monkeypatch.setenv("HOTLINE_TIMEZONE", "Asia/Shanghai")
    assert main(["report", "daily", "--date", "2026-03-05", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["calls"]["total"] == 9 and data["tickets"]["on_time_rate"] == 0.8
    assert main(["report", "daily", "--date", "2026-03-05", "--format", "csv", "--out", str(tmp_path)]) == 0
    assert "tickets_by_kind,help,2" in (tmp_path / "daily-2026-03-05.csv").read_text(encoding="utf-8")
    assert main(["report", "monthly", "--month", "2026-03", "--format", "svg", "--out", str(tmp_path)]) == 0
    ET.parse(tmp_path / "monthly-2026-03.svg")
    ET.parse(tmp_path / "monthly-2026-03-ratings.svg")
    capsys.readouterr()
    assert main(["report", "daily", "--date", "2026-13-01"]) == 2
    assert "not a date" in capsys.readouterr().err


@pytest.mark.parametrize("zone", ["Asia/Shanghai", "America/New_York"])
def test_periods_are_local_days(zone):
    z = ZoneInfo(zone)
    p = reports.day_period(date(2026, 3, 8), z)           # New York springs forward that day
    assert p.start.astimezone(z).hour == 0 and p.end.astimezone(z).date() == date(2026, 3, 9)
    assert len(p.buckets) == (23 if zone == "America/New_York" else 24)
    m = reports.month_period(2026, 12, z)
    assert len(m.buckets) == 31 and m.end.astimezone(z).date() == date(2027, 1, 1)
