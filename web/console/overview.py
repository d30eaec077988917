"""概览: today's calls, answer and self-service rates, blocked attempts, tickets due and overdue by
unit, the rating distribution — figures from ``analytics.reports`` (today, local day), charts
drawn server-side as SVG by ``analytics.charts`` (every label escaped there), plus the open
tickets' deadlines by unit computed here at request time.
"""
from __future__ import annotations

from datetime import timedelta

from markupsafe import Markup
from sqlalchemy import case, func, select

from analytics import charts
from analytics.reports import build_report, day_period
from core.clock import local_midnight_after
from tickets import lifecycle as lc
from tickets.models import Ticket, Unit
from web.console.base import Console, Ctx


def deadlines_by_unit(s, now, zone) -> list[dict]:
    """Open tickets per unit: overdue (past due now), due by the end of tomorrow, open in all."""
    today = now.astimezone(zone).date()
    soon = local_midnight_after(today + timedelta(days=1), zone)
    rows = s.execute(
        select(Unit.code, Unit.name, func.count(),
               func.sum(case((Ticket.due <= now, 1), else_=0)),
               func.sum(case(((Ticket.due > now) & (Ticket.due <= soon), 1), else_=0)))
        .select_from(Ticket).outerjoin(Unit, Unit.id == Ticket.unit_id)
        .where(Ticket.state.in_(lc.OPEN_STATES)).group_by(Unit.code, Unit.name))
    out = [{"unit": code or "-", "name": name or "热线（未派单）", "open": int(n or 0), "overdue": int(o or 0),
            "due_soon": int(d or 0)} for code, name, n, o, d in rows]
    out.sort(key=lambda r: (-r["overdue"], -r["due_soon"], r["unit"]))
    return out


def index(ctx: Ctx):
    today = ctx.now.astimezone(ctx.zone).date()
    with ctx.read() as s:
        report = build_report(s, day_period(today, ctx.zone), top_topics=ctx.settings.report_top_topics)
        units = deadlines_by_unit(s, ctx.now, ctx.zone)
    drawn = charts.charts(report)
    overdue_chart = charts.bar_chart("各单位超期工单",
                                     [(r["name"], r["overdue"]) for r in units if r["overdue"]] or [],
                                     color="#c44e52")
    soon_chart = charts.bar_chart("各单位今明两天到期工单",
                                  [(r["name"], r["due_soon"]) for r in units if r["due_soon"]] or [],
                                  color="#e0803a")
    # analytics.charts escapes every text it draws (unit names, topics), so the SVG may go in as is
    svg = {name: Markup(drawn[name]) for name in ("series", "ratings", "handoffs", "tickets_by_kind", "top_topics")}
    svg["overdue"], svg["soon"] = Markup(overdue_chart), Markup(soon_chart)
    calls, tickets, ratings = report["calls"], report["tickets"], report["ratings"]
    return ctx.render("overview.html", title="概览", today=today, calls=calls, tickets=tickets, ratings=ratings,
                      units=units, svg=svg, overdue_total=sum(r["overdue"] for r in units),
                      soon_total=sum(r["due_soon"] for r in units), open_total=sum(r["open"] for r in units))


def routes(console: Console) -> list:
    return [console.page("/console/overview", index, "overview")]
