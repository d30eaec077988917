"""Daily and monthly figures, computed in the database (SQL aggregates, GROUP BY).

Periods are local calendar days (or months) in the configured zone; their boundaries and the
hourly / daily buckets of the series are computed here in Python and the database is asked for
UTC ranges — no database time-zone function is used, so SQLite and PostgreSQL agree.

Which rows each figure counts:

* calls — call records that *started* in the period; self-service rate = outcome
  ``self_served`` / calls; answer rate = calls handed to the queue that an agent answered
  (``agent_answered``) / calls handed to the queue (action ``queue``); hand-offs by action =
  calls whose action is not ``hangup``; blocked attempts = ``block_events`` with action
  ``attempt`` in the period.
* tickets — tickets *received* in the period, by kind, unit and current state; top topics
  (``analytics.topics``) of those tickets.
* closure — tickets *closed* in the period (state ``closed``): on time = ``closed_at ≤ due``;
  on-time closure rate per unit = on time / closed.
* ratings — tickets *rated* in the period: the 1–5 distribution; satisfaction rate =
  ratings 1–3 / rated.
"""
from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, func, literal, select
from sqlalchemy.orm import Session

from analytics.topics import topic_expr
from blocklist.models import EV_ATTEMPT, BlockEvent
from callers.models import CallRecord
from tickets.models import KINDS, Ticket, Unit

STATES = ("received", "dispatched", "accepted", "reported", "returned", "closed", "refused")
ACTIONS = ("queue", "leader", "emergency")
RATINGS = (1, 2, 3, 4, 5)
SATISFIED = (1, 2, 3)
NO_UNIT = "-"


@dataclass(frozen=True)
class Period:
    kind: str                                             # daily | monthly
    label: str                                            # 2026-03-05 | 2026-03
    zone: ZoneInfo
    start: datetime                                       # aware, UTC
    end: datetime
    buckets: tuple[tuple[str, datetime, datetime], ...]   # (local label, start, end), UTC

    def as_json(self) -> dict:
        return {"kind": self.kind, "label": self.label, "zone": self.zone.key,
                "from": self.start.isoformat(), "to": self.end.isoformat()}


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(timezone.utc)


def day_period(day: date, zone: ZoneInfo) -> Period:
    """One local day, in hourly buckets (23 or 25 on a daylight-saving change)."""
    start, end = _midnight(day, zone), _midnight(day + timedelta(days=1), zone)
    buckets, at = [], start
    while at < end:
        buckets.append((at.astimezone(zone).strftime("%H:00"), at, min(at + timedelta(hours=1), end)))
        at += timedelta(hours=1)
    return Period("daily", day.isoformat(), zone, start, end, tuple(buckets))


def month_period(year: int, month: int, zone: ZoneInfo) -> Period:
    """One local month, in daily buckets."""
    first = date(year, month, 1)
    after = date(year + (month == 12), month % 12 + 1, 1)
    days = [first + timedelta(days=i) for i in range((after - first).days)]
    buckets = tuple((d.isoformat(), _midnight(d, zone), _midnight(d + timedelta(days=1), zone)) for d in days)
    return Period("monthly", f"{year:04d}-{month:02d}", zone, _midnight(first, zone), _midnight(after, zone), buckets)


def rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _bucket_expr(column, period: Period):
    return case(*[(column < end, literal(i)) for i, (_l, _s, end) in enumerate(period.buckets)],
                else_=literal(len(period.buckets)))


def _series(session: Session, column, period: Period, *where) -> list[int]:
    sub = select(_bucket_expr(column, period).label("b")).where(
        column >= period.start, column < period.end, *where).subquery()
    counts = dict(session.execute(select(sub.c.b, func.count()).group_by(sub.c.b)).all())
    return [int(counts.get(i, 0)) for i in range(len(period.buckets))]


def _n(value) -> int:
    return int(value or 0)


def call_figures(session: Session, p: Period) -> dict:
    c = CallRecord
    when = (c.started_at >= p.start, c.started_at < p.end)
    total, served, queued, answered = session.execute(select(
        func.count(),
        func.sum(case((c.outcome == "self_served", 1), else_=0)),
        func.sum(case((c.action == "queue", 1), else_=0)),
        func.sum(case((and_(c.action == "queue", c.agent_answered.is_(True)), 1), else_=0)),
    ).where(*when)).one()
    total, served, queued, answered = _n(total), _n(served), _n(queued), _n(answered)
    outcomes = {k: _n(v) for k, v in session.execute(
        select(c.outcome, func.count()).where(*when).group_by(c.outcome).order_by(c.outcome))}
    handoffs = {a: 0 for a in ACTIONS}
    handoffs.update({k: _n(v) for k, v in session.execute(
        select(c.action, func.count()).where(*when, c.action.isnot(None), c.action != "hangup")
        .group_by(c.action).order_by(c.action))})
    blocked = _n(session.scalar(select(func.count()).select_from(BlockEvent).where(
        BlockEvent.action == EV_ATTEMPT, BlockEvent.at >= p.start, BlockEvent.at < p.end)))
    return {"total": total, "self_served": served, "self_service_rate": rate(served, total),
            "handed_to_queue": queued, "agent_answered": answered, "answer_rate": rate(answered, queued),
            "by_outcome": outcomes, "handoffs_by_action": handoffs, "blocked_attempts": blocked}


def ticket_figures(session: Session, p: Period, top_topics: int = 10) -> dict:
    t = Ticket
    when = (t.received_at >= p.start, t.received_at < p.end)
    by_kind = {k: 0 for k in KINDS}
    by_kind.update({k: _n(v) for k, v in session.execute(
        select(t.kind, func.count()).where(*when).group_by(t.kind))})
    by_state = {s: 0 for s in STATES}
    by_state.update({k: _n(v) for k, v in session.execute(
        select(t.state, func.count()).where(*when).group_by(t.state))})
    by_unit = [{"unit": code or NO_UNIT, "name": name or "", "tickets": _n(n)} for code, name, n in session.execute(
        select(Unit.code, Unit.name, func.count()).select_from(t).outerjoin(Unit, Unit.id == t.unit_id)
        .where(*when).group_by(Unit.code, Unit.name))]
    by_unit.sort(key=lambda r: (-r["tickets"], r["unit"]))
    closed_when = (t.state == "closed", t.closed_at >= p.start, t.closed_at < p.end)
    closure = []
    for code, name, closed, on_time in session.execute(
            select(Unit.code, Unit.name, func.count(), func.sum(case((t.closed_at <= t.due, 1), else_=0)))
            .select_from(t).outerjoin(Unit, Unit.id == t.unit_id).where(*closed_when)
            .group_by(Unit.code, Unit.name)):
        closure.append({"unit": code or NO_UNIT, "name": name or "", "closed": _n(closed),
                        "on_time": _n(on_time), "rate": rate(_n(on_time), _n(closed))})
    closure.sort(key=lambda r: r["unit"])
    closed_total = sum(r["closed"] for r in closure)
    on_time_total = sum(r["on_time"] for r in closure)
    dialect = session.get_bind().dialect.name
    sub = select(topic_expr(t.content, t.transcript, dialect).label("topic")).where(*when).subquery()
    topics = [(k, _n(v)) for k, v in session.execute(select(sub.c.topic, func.count()).group_by(sub.c.topic))]
    unclassified = sum(n for k, n in topics if not k)
    ranked = sorted(((k, n) for k, n in topics if k), key=lambda kv: (-kv[1], kv[0]))[:top_topics]
    return {"received": sum(by_kind.values()), "by_kind": by_kind, "by_state": by_state, "by_unit": by_unit,
            "closed": closed_total, "closed_on_time": on_time_total, "on_time_rate": rate(on_time_total, closed_total),
            "on_time_by_unit": closure,
            "top_topics": [{"topic": k, "tickets": n} for k, n in ranked], "unclassified": unclassified}


def rating_figures(session: Session, p: Period) -> dict:
    t = Ticket
    dist = {str(r): 0 for r in RATINGS}
    dist.update({str(k): _n(v) for k, v in session.execute(
        select(t.rating, func.count()).where(t.rated_at >= p.start, t.rated_at < p.end, t.rating.isnot(None))
        .group_by(t.rating))})
    rated = sum(dist.values())
    satisfied = sum(dist[str(r)] for r in SATISFIED)
    return {"rated": rated, "distribution": dist, "satisfied": satisfied, "satisfaction_rate": rate(satisfied, rated)}


def build_report(session: Session, period: Period, *, top_topics: int = 10) -> dict:
    """Every figure of the period, as plain JSON-ready data."""
    return {
        "period": period.as_json(),
        "calls": call_figures(session, period),
        "tickets": ticket_figures(session, period, top_topics),
        "ratings": rating_figures(session, period),
        "series": {"bucket": "hour" if period.kind == "daily" else "day",
                   "labels": [label for label, _s, _e in period.buckets],
                   "calls": _series(session, CallRecord.started_at, period),
                   "tickets": _series(session, Ticket.received_at, period)},
    }


# -- output ---------------------------------------------------------------------------------------

def _cell(value) -> str:
    return "" if value is None else str(value)


def rows(report: dict) -> list[tuple[str, str, str]]:
    """The report as (section, key, value) rows: one figure a row."""
    out: list[tuple[str, str, str]] = [("period", k, _cell(v)) for k, v in report["period"].items()]
    calls, tickets, ratings = report["calls"], report["tickets"], report["ratings"]
    for key in ("total", "self_served", "self_service_rate", "handed_to_queue", "agent_answered", "answer_rate",
                "blocked_attempts"):
        out.append(("calls", key, _cell(calls[key])))
    out += [("calls_by_outcome", k, _cell(v)) for k, v in calls["by_outcome"].items()]
    out += [("handoffs_by_action", k, _cell(v)) for k, v in calls["handoffs_by_action"].items()]
    for key in ("received", "closed", "closed_on_time", "on_time_rate", "unclassified"):
        out.append(("tickets", key, _cell(tickets[key])))
    out += [("tickets_by_kind", k, _cell(v)) for k, v in tickets["by_kind"].items()]
    out += [("tickets_by_state", k, _cell(v)) for k, v in tickets["by_state"].items()]
    out += [("tickets_by_unit", r["unit"], _cell(r["tickets"])) for r in tickets["by_unit"]]
    for r in tickets["on_time_by_unit"]:
        out += [("closed_by_unit", r["unit"], _cell(r["closed"])),
                ("closed_on_time_by_unit", r["unit"], _cell(r["on_time"])),
                ("on_time_rate_by_unit", r["unit"], _cell(r["rate"]))]
    out += [("top_topics", r["topic"], _cell(r["tickets"])) for r in tickets["top_topics"]]
    out += [("ratings", k, _cell(v)) for k, v in ratings["distribution"].items()]
    out += [("ratings", k, _cell(ratings[k])) for k in ("rated", "satisfied", "satisfaction_rate")]
    series = report["series"]
    for name in ("calls", "tickets"):
        out += [(f"{name}_by_{series['bucket']}", label, _cell(v)) for label, v in zip(series["labels"], series[name])]
    return out


def to_csv(report: dict) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(("section", "key", "value"))
    writer.writerows(rows(report))
    return buf.getvalue()


def to_json(report: dict) -> str:
    return json.dumps(report, ensure_ascii=False, indent=2, sort_keys=True) + "\n"


def report_job(db, settings, clock: Callable[[], datetime]) -> Callable[[], None]:
    """A scheduled job (e.g. daily at 01:00): yesterday's report as CSV, JSON and SVG under
    ``<data_dir>/reports``; on the 1st of a month also last month's."""
    from analytics.charts import dashboard

    def daily_reports() -> None:
        zone = settings.zone
        today = clock().astimezone(zone).date()
        periods = [day_period(today - timedelta(days=1), zone)]
        if today.day == 1:
            last = today - timedelta(days=1)
            periods.append(month_period(last.year, last.month, zone))
        out = settings.data_dir / "reports"
        out.mkdir(parents=True, exist_ok=True)
        for period in periods:
            with db.read_session() as s:
                report = build_report(s, period, top_topics=settings.report_top_topics)
            stem = out / f"{period.kind}-{period.label}"
            stem.with_suffix(".csv").write_text(to_csv(report), encoding="utf-8")
            stem.with_suffix(".json").write_text(to_json(report), encoding="utf-8")
            stem.with_suffix(".svg").write_text(dashboard(report), encoding="utf-8")
    return daily_reports
