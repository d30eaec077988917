"""领导接听: the leader sessions as a month calendar; publish a session, cancel one with a reason.

Sessions are kept by ``leader_desk.service`` (local date and times in the engine's zone, no
overlap per seat or per leader, never in the past); cancelled ones stay on the calendar, struck
through. Leaders and seats are set up with ``hotline leader leaders|seats add``.
"""
from __future__ import annotations

import calendar as pycal
from datetime import date, datetime, time, timedelta

from leader_desk import service as desk
from leader_desk.models import PUBLISHED, Leader
from web.console.base import Console, Ctx

WEEKDAYS = ("一", "二", "三", "四", "五", "六", "日")


def _month(text: str, today: date) -> date:
    try:
        year, month = (int(x) for x in text.split("-"))
        return date(year, month, 1) if 2000 <= year <= 2100 and 1 <= month <= 12 else today.replace(day=1)
    except ValueError:
        return today.replace(day=1)


def index(ctx: Ctx):
    now = ctx.now
    today = now.astimezone(ctx.zone).date()
    first = _month(ctx.arg("month"), today)
    last = date(first.year, first.month, pycal.monthrange(first.year, first.month)[1])
    start = datetime.combine(first, time(0), tzinfo=ctx.zone)
    end = datetime.combine(last + timedelta(days=1), time(0), tzinfo=ctx.zone)
    with ctx.read() as s:
        rows = desk.sessions_between(s, start=start, end=end)
        leaders = [l for l in desk.list_leaders(s) if l.active]
        seats = [seat for seat in desk.list_seats(s) if seat.active]
        live = desk.live_session(s, now)
    by_day: dict[date, list] = {}
    items = []
    for sess, leader, seat in rows:
        item = {"s": sess, "leader": leader, "seat": seat,
                "start": sess.starts_at.astimezone(ctx.zone).strftime("%H:%M"),
                "end": "24:00" if sess.ends_at.astimezone(ctx.zone).date() > sess.day
                else sess.ends_at.astimezone(ctx.zone).strftime("%H:%M"),
                "live": sess.state == PUBLISHED and sess.starts_at <= now < sess.ends_at,
                "past": sess.ends_at <= now}
        by_day.setdefault(sess.day, []).append(item)
        items.append(item)
    weeks = pycal.Calendar(firstweekday=0).monthdatescalendar(first.year, first.month)
    prev_month = (first - timedelta(days=1)).replace(day=1)
    next_month = last + timedelta(days=1)
    return ctx.render("leader.html", title="领导接听", weeks=weeks, by_day=by_day, items=items, first=first,
                      today=today, weekdays=WEEKDAYS, leaders=leaders, seats=seats, live=live,
                      prev=prev_month.strftime("%Y-%m"), next=next_month.strftime("%Y-%m"),
                      default_day=max(today, first).isoformat() if first.month == today.month or first > today
                      else first.isoformat())


def publish(ctx: Ctx):
    month = ctx.field("day")[:7]
    back = f"/console/leader?month={month}" if len(month) == 7 else "/console/leader"
    try:
        leader_id = int(ctx.field("leader"))
    except ValueError:
        return ctx.redirect(back, error="请选择接听领导。")
    try:
        with ctx.db.session() as s:
            leader = s.get(Leader, leader_id)
            if leader is None or not leader.active:
                return ctx.redirect(back, error="没有这位领导。")
            row = desk.add_session(s, leader=leader.name, unit=leader.unit, seat=ctx.field("seat"),
                                   day=ctx.field("day"), start=ctx.field("start"), end=ctx.field("end"),
                                   title=ctx.field("title"), topic=ctx.field("topic"), by=ctx.who.name, now=ctx.now,
                                   zone=ctx.zone)
            ctx.audit(s, "leader.publish", f"session {row.id}",
                      {"leader": leader.name, "seat": ctx.field("seat"), "day": row.day.isoformat(),
                       "start": ctx.field("start"), "end": ctx.field("end")})
    except desk.LeaderDeskError as exc:
        return ctx.redirect(back, error=f"未发布：{exc}")
    return ctx.redirect(back, ok=f"已发布：{row.day.isoformat()} {ctx.field('start')}–{ctx.field('end')} "
                                 f"{leader.unit}{leader.name}{leader.title}接听。")


def cancel(ctx: Ctx):
    back = "/console/leader" + (f"?month={ctx.field('month')[:7]}" if ctx.field("month") else "")
    try:
        session_id = int(ctx.field("session"))
        with ctx.db.session() as s:
            row = desk.cancel_session(s, session_id, reason=ctx.field("reason"), by=ctx.who.name, now=ctx.now)
            ctx.audit(s, "leader.cancel", f"session {row.id}", {"reason": ctx.field("reason")})
    except ValueError as exc:          # LeaderDeskError is a ValueError
        return ctx.redirect(back, error=f"未取消：{exc}")
    return ctx.redirect(back, ok=f"已取消接听场次 #{session_id}。")


def routes(console: Console) -> list:
    return [console.page("/console/leader", index, "leader.view"),
            console.page("/console/leader/publish", publish, "leader.publish", methods=["POST"]),
            console.page("/console/leader/cancel", cancel, "leader.publish", methods=["POST"])]
