"""坐席工作台: for a call handed to the agent queue, the caller's history, open tickets and block
status, the transcript of what they said, a form to create the ticket, and a proposal to block.

Live updates are Server-Sent Events read from the ``calls`` table: the stream polls the
database every ``POLL_S`` seconds for calls handed to a queue since its cursor (the call's end
time and id), so calls answered by any engine process appear, and nothing is kept in memory
between processes. A stream ends when the listener stops, when its session ends, and after
``STREAM_MAX_S`` (the browser reconnects on its own, resuming from ``Last-Event-ID``).
"""
from __future__ import annotations

import asyncio
import json
import logging
import time
from datetime import datetime, timedelta, timezone

from sqlalchemy import and_, or_, select
from starlette.concurrency import run_in_threadpool
from starlette.responses import StreamingResponse

from blocklist.check import active_block
from blocklist.grounds import GROUNDS
from blocklist.service import BlocklistError, pending_proposal
from blocklist.suggest import flag_call
from callers.calls import recent_calls
from callers.models import CallRecord
from core.logs import mask_number
from tickets import lifecycle as lc
from tickets import service as tickets
from tickets.models import KIND_ZH, KINDS, Ticket, Unit
from web.console.base import Console, Ctx

log = logging.getLogger(__name__)

POLL_S = 1.5
STREAM_MAX_S = 600
REVALIDATE_S = 30
KEEPALIVE_S = 15
RECENT = timedelta(hours=12)
LIST_SIZE = 30


def _queued(since: tuple[datetime, str] | None, queue: str, now: datetime, limit: int):
    query = select(CallRecord).where(CallRecord.action == "queue", CallRecord.ended_at.is_not(None))
    if since is not None:
        at, call_id = since
        query = query.where(or_(CallRecord.ended_at > at, and_(CallRecord.ended_at == at, CallRecord.id > call_id)))
    else:
        query = query.where(CallRecord.ended_at > now - RECENT)
    if queue:
        query = query.where(CallRecord.target == queue)
    return query.limit(limit)


def _cursor(call: CallRecord) -> str:
    return f"{call.ended_at.astimezone(timezone.utc).isoformat()}|{call.id}"


def _parse_cursor(text: str | None) -> tuple[datetime, str] | None:
    if not text or "|" not in text or len(text) > 120:
        return None
    at, call_id = text.split("|", 1)
    at = at.replace(" ", "+")          # a "+" in an unencoded query string arrives as a space
    try:
        moment = datetime.fromisoformat(at)
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    return moment.astimezone(timezone.utc), call_id[:32]


def _call_item(ctx_or_console, call: CallRecord, personal: bool) -> dict:
    console = getattr(ctx_or_console, "console", ctx_or_console)
    return {"id": call.id, "cursor": _cursor(call), "number": (call.caller_key if personal else mask_number(call.caller_key))
            if call.caller_key else "隐藏号码", "queue": call.target or "", "language": call.language,
            "at": console.fmt_time(call.ended_at, "%H:%M:%S"), "transcript": (call.transcript or "")[:80]}


def index(ctx: Ctx):
    queue = ctx.arg("queue")[:80]
    with ctx.read() as s:
        calls = list(s.scalars(_queued(None, queue, ctx.now, 200).order_by(CallRecord.ended_at.desc(),
                                                                             CallRecord.id.desc()).limit(LIST_SIZE)))
        queues = sorted(set(ctx.settings.queues.values()))
        selected = ctx.arg("call")[:32] or (calls[0].id if calls else "")
        panel = _panel_values(s, ctx, selected) if selected else None
    items = [_call_item(ctx, c, ctx.can("tickets.personal")) for c in calls]
    cursor = items[0]["cursor"] if items else f"{ctx.now.astimezone(timezone.utc).isoformat()}|"
    return ctx.render("agent.html", title="坐席工作台", calls=items, queue=queue, queues=queues, cursor=cursor,
                      panel=panel, **_form_choices(ctx))


def _form_choices(ctx: Ctx) -> dict:
    with ctx.read() as s:
        units = list(s.scalars(select(Unit).where(Unit.active.is_(True)).order_by(Unit.code)))
    return {"kinds": [(k, KIND_ZH[k]) for k in KINDS], "units": units,
            "grounds": [(code, zh) for code, (_en, zh) in GROUNDS.items()]}


def _panel_values(s, ctx: Ctx, call_id: str) -> dict | None:
    call = s.get(CallRecord, call_id)
    if call is None:
        return None
    history, tickets_of, block, waiting = [], [], None, None
    if call.caller_key:
        history = [c for c in recent_calls(s, call.caller_key, 11) if c.id != call.id][:10]
        tickets_of = list(s.scalars(select(Ticket).where(Ticket.caller_key == call.caller_key)
                                    .order_by(Ticket.state.in_(lc.OPEN_STATES).desc(), Ticket.id.desc()).limit(20)))
        block = active_block(s, call.caller_key, ctx.now)
        waiting = pending_proposal(s, call.caller_key)
    names = {u.id: u.name for u in s.scalars(select(Unit))}
    return {"call": call, "history": history, "tickets": tickets_of, "block": block, "waiting": waiting,
            "unit_names": names, "blockable": bool(call.caller_key) and call.caller_kind in ("mobile", "landline",
                                                                                            "international")}


def panel(ctx: Ctx):
    """The selected call's panel alone (the page's script swaps it in when a call arrives)."""
    with ctx.read() as s:
        values = _panel_values(s, ctx, ctx.param("call_id")[:32])
    if values is None:
        return ctx.not_found("没有这通来电。")
    return ctx.render("agent_panel.html", panel=values, **_form_choices(ctx))


async def events(ctx: Ctx):
    """Server-Sent Events: ``call`` for each call handed to the queue after the cursor."""
    request = ctx.request
    console = ctx.console
    queue = ctx.arg("queue")[:80]
    personal = ctx.can("tickets.personal")
    cursor = _parse_cursor(request.headers.get("last-event-id")) or _parse_cursor(ctx.arg("since")) \
        or (ctx.now.astimezone(timezone.utc), "")
    stopping = getattr(request.app.state, "stopping", None)
    sid = ctx.signed.id

    def poll(since):
        with console.db.read_session() as s:
            rows = list(s.scalars(_queued(since, queue, console.now(), 50)
                                  .order_by(CallRecord.ended_at, CallRecord.id)))
            return [_call_item(console, c, personal) for c in rows], (
                (rows[-1].ended_at.astimezone(timezone.utc), rows[-1].id) if rows else since)

    async def stream():
        started = last_check = last_sent = time.monotonic()
        nonlocal cursor
        yield "retry: 3000\n: connected\n\n"
        while True:
            if stopping is not None and stopping.is_set():
                return
            if await request.is_disconnected():
                return
            clock = time.monotonic()
            if clock - started > STREAM_MAX_S:
                return
            if clock - last_check > REVALIDATE_S:
                last_check = clock
                if not await run_in_threadpool(console.auth.still_valid, sid):
                    yield "event: expired\ndata: {}\n\n"
                    return
            try:
                items, cursor = await run_in_threadpool(poll, cursor)
            except Exception:  # noqa: BLE001 - a database hiccup: try again at the next tick
                log.warning("agent feed: poll failed", exc_info=True)
                items = []
            for item in items:
                last_sent = time.monotonic()
                yield f"id: {item['cursor']}\nevent: call\ndata: {json.dumps(item, ensure_ascii=False)}\n\n"
            if time.monotonic() - last_sent > KEEPALIVE_S:
                last_sent = time.monotonic()
                yield ": keep-alive\n\n"
            await asyncio.sleep(POLL_S)

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


def create_ticket(ctx: Ctx):
    call_id = ctx.field("call_id")[:32]
    back = "/console/agent" + (f"?call={call_id}" if call_id else "")
    kind = ctx.field("kind")
    content = ctx.raw_field("content").strip()[:20_000]
    answer = ctx.raw_field("answer").strip()[:4000]
    from workcal.loader import calendar_from_db

    try:
        with ctx.db.session() as s:
            call = s.get(CallRecord, call_id) if call_id else None
            if call_id and call is None:
                return ctx.redirect("/console/agent", error="没有这通来电。")
            caller_key = call.caller_key if call else ""
            if not content:
                raise lc.TicketError("请填写诉求内容")
            if answer:
                if kind != "consult":
                    raise lc.TicketError("当场答复的只能是咨询类工单")
                ticket, duplicate = tickets.record_self_service(
                    s, caller_key=caller_key, call_id=call_id or None, question=content, answer=answer,
                    received_at=ctx.now, zone=ctx.zone, calendar=calendar_from_db(s),
                    language=call.language if call else "cmn", answered_by=ctx.who.name,
                    days=ctx.settings.deadline_days), False
            else:
                created = tickets.create_ticket(
                    s, kind=kind, content=content, received_at=ctx.now, zone=ctx.zone, calendar=calendar_from_db(s),
                    caller_key=caller_key, caller_name=ctx.field("caller_name")[:80], call_id=call_id or None,
                    source="agent", actor=ctx.who.name, transcript=call.transcript if call else "",
                    language=call.language if call else "cmn", unit=ctx.field("unit") or None,
                    region=ctx.field("region")[:64], days=ctx.settings.deadline_days,
                    duplicate_window_days=ctx.settings.ticket_duplicate_window_days,
                    duplicate_similarity=ctx.settings.ticket_duplicate_similarity)
                ticket, duplicate = created.ticket, created.duplicate
            if call is not None and not call.ticket_number:
                call.ticket_number = ticket.number
            ctx.audit(s, "ticket.create", ticket.number, {"call_id": call_id or None, "kind": ticket.kind,
                                                          "duplicate": duplicate, "answered": bool(answer)})
            number, state = ticket.number, ticket.state
    except lc.TicketError as exc:
        return ctx.redirect(back, error=f"未受理：{exc}")
    if duplicate:
        return ctx.redirect(f"/console/tickets/{number}",
                            ok=f"与在办工单 {number} 重复，已关联（当前状态：{lc.STATE_ZH[state]}）。请告知来电人该工单号。")
    return ctx.redirect(f"/console/tickets/{number}", ok=f"已受理，工单号 {number}。请告知来电人。")


def flag(ctx: Ctx):
    call_id = ctx.field("call_id")[:32]
    back = f"/console/agent?call={call_id}"
    try:
        with ctx.db.session() as s:
            flagged = flag_call(s, call_id, by=ctx.who.name, now=ctx.now, note=ctx.field("note"))
            ctx.audit(s, "call.flag", call_id, {"number": flagged.number_key})
    except BlocklistError as exc:
        return ctx.redirect(back, error=f"未标记：{exc}")
    return ctx.redirect(back, ok="已标记为骚扰来电（供黑名单建议参考，不会直接限制）。")


def routes(console: Console) -> list:
    return [console.page("/console/agent", index, "agent.screen"),
            console.page("/console/agent/events", events, "agent.screen"),
            console.page("/console/agent/call/{call_id}", panel, "agent.screen"),
            console.page("/console/agent/ticket", create_ticket, "tickets.create", methods=["POST"]),
            console.page("/console/agent/flag", flag, "agent.screen", methods=["POST"])]
