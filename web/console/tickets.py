"""工单: the list by state, unit and deadline (overdue highlighted), a ticket's detail with its
history and recording, dispatch, the unit's work (accept, send back, closure report, extension),
the closure review showing what a report lacks, ratings.

A unit user sees only tickets dispatched to its unit: every query goes through
``roles.ticket_scope`` (the list) or :func:`_scoped` (one ticket), so another unit's ticket is
"not found" whatever URL is typed. Every change passes ``actor`` = the signed-in person and
the version the person saw (``expected_version``): a ticket changed meanwhile is not overwritten.
"""
from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, or_, select
from starlette.responses import FileResponse

from core.clock import local_midnight_after
from tickets import dispatch as rules
from tickets import followup, handling, lifecycle as lc, refusals
from tickets.closure import BASE, ELEMENTS, UNRESOLVED_EXTRA, check_report
from tickets.models import KIND_ZH, KINDS, ClosureReport, ExtensionRequest, Ticket, TicketEvent, Unit
from tickets.numbers import clean as clean_number
from web.console.base import Console, Ctx
from web.console.roles import ticket_scope

PAGE_SIZE = 50
DEADLINES = {"overdue": "已超期", "soon": "今明两天到期", "open": "全部未办结"}
AUDIO_TYPES = {".wav": "audio/wav", ".mp3": "audio/mpeg", ".ogg": "audio/ogg", ".gsm": "audio/x-gsm",
               ".webm": "audio/webm"}
ACTION_ZH = {"create": "受理", "dispatch": "派单", "accept": "签收", "decline": "退回（非本单位职责）",
             "report": "提交办结报告", "approve": "审核通过（办结）", "return": "退回重办", "close": "直接办结",
             "reopen": "重新打开", "refuse": "不予受理", "rate": "满意度评价", "repeat": "重复来电",
             "recording": "追加录音", "transcript": "录音转写", "overdue": "超期", "due_soon": "即将到期",
             "extension_requested": "申请延期", "extension_approved": "延期批准", "extension_denied": "延期驳回",
             "return_visit": "回访", "deadline": "期限重算"}


def _units(s) -> list[Unit]:
    return list(s.scalars(select(Unit).where(Unit.active.is_(True)).order_by(Unit.code)))


def _scoped(s, ctx: Ctx, number: str) -> Ticket | None:
    """The ticket if ``ctx.who`` may see it (a unit: only its own), else None."""
    cleaned = clean_number(number or "")
    if cleaned is None:
        return None
    return s.scalars(ticket_scope(select(Ticket).where(Ticket.number == cleaned), ctx.who)).first()


def list_page(ctx: Ctx):
    # the filter form is posted: its free text (a name, a number) never lands in a URL
    state, unit, deadline = ctx.value("state"), ctx.value("unit"), ctx.value("deadline")
    # the text searched for only ever comes from the posted form: a number typed into a URL is ignored
    kind, q, review = ctx.value("kind"), ctx.field("q")[:100], ctx.value("review") == "1"
    try:
        page = max(1, min(int(ctx.value("page", "1")), 10_000))
    except ValueError:
        page = 1
    now = ctx.now
    today = now.astimezone(ctx.zone).date()
    with ctx.read() as s:
        query = ticket_scope(select(Ticket), ctx.who)
        if state in lc.STATES:
            query = query.where(Ticket.state == state)
        if kind in KINDS:
            query = query.where(Ticket.kind == kind)
        if unit and ctx.who.role != "unit":
            query = query.join(Unit, Unit.id == Ticket.unit_id).where(Unit.code == unit) if unit != "-" \
                else query.where(Ticket.unit_id.is_(None))
        if deadline in DEADLINES:
            query = query.where(Ticket.state.in_(lc.OPEN_STATES))
            if deadline == "overdue":
                query = query.where(Ticket.due <= now)
            elif deadline == "soon":
                query = query.where(Ticket.due > now, Ticket.due <= local_midnight_after(today + timedelta(days=1),
                                                                                          ctx.zone))
        if review:
            query = query.where(Ticket.review.is_(True))
        if q:
            number = clean_number(q)
            if number:
                query = query.where(Ticket.number == number)
            else:
                like = "%" + q.replace("\\", "").replace("%", "").replace("_", "") + "%"
                query = query.where(or_(Ticket.content.like(like), Ticket.transcript.like(like)))
        total = s.scalar(select(func.count()).select_from(query.subquery()))
        order = (Ticket.due, Ticket.id) if deadline in DEADLINES else (Ticket.id.desc(),)
        rows = list(s.scalars(query.order_by(*order).limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)))
        names = {u.id: u.name for u in s.scalars(select(Unit))}
        units = _units(s) if ctx.who.role != "unit" else []
    pages = max(1, (int(total or 0) + PAGE_SIZE - 1) // PAGE_SIZE)
    return ctx.render("tickets.html", title="工单", rows=rows, total=total, page=page, pages=pages, names=names,
                      units=units, states=[(st, lc.STATE_ZH[st]) for st in lc.STATES], kinds=list(KIND_ZH.items()),
                      deadlines=list(DEADLINES.items()),
                      filters={"state": state, "unit": unit, "deadline": deadline, "kind": kind, "q": q,
                               "review": "1" if review else ""})


def _report_check(report: ClosureReport | None, unit_name: str | None) -> list[tuple[str, bool]]:
    """Each element a closure report must give, and whether this report gives it."""
    if report is None:
        return []
    check = check_report(report.body, unit_name=unit_name)
    missing = set(check.codes)
    needed = BASE + (() if check.resolved else UNRESOLVED_EXTRA)
    items = [(ELEMENTS[c].zh, c not in missing) for c in needed]
    if "bare_citation" in missing:
        items.insert(0, (ELEMENTS["bare_citation"].zh, False))
    return items


def _detail_values(s, ctx: Ctx, ticket: Ticket) -> dict:
    unit = s.get(Unit, ticket.unit_id) if ticket.unit_id is not None else None
    events = lc.history(s, ticket.id)
    reports = list(s.scalars(select(ClosureReport).where(ClosureReport.ticket_id == ticket.id)
                             .order_by(ClosureReport.id)))
    extensions = list(s.scalars(select(ExtensionRequest).where(ExtensionRequest.ticket_id == ticket.id)
                                .order_by(ExtensionRequest.id)))
    original = s.get(Ticket, ticket.duplicate_of) if ticket.duplicate_of else None
    latest = reports[-1] if reports else None
    suggestion = []
    if ctx.can("tickets.dispatch") and ticket.state in (lc.RECEIVED, lc.DISPATCHED):
        suggestion = rules.UnitSuggester.from_session(s).suggest(ticket.content or ticket.transcript, k=3)
    return {
        "t": ticket, "unit": unit, "events": [(e, _detail(e)) for e in events], "reports": reports,
        "extensions": extensions, "pending_extension": next((x for x in extensions if x.status == "pending"), None),
        "original": original, "latest": latest,
        "latest_check": _report_check(latest, unit.name if unit else None) if latest else [],
        "units": _units(s) if ctx.can("tickets.dispatch") else [], "suggestion": suggestion,
        "allowed": set(lc.allowed_actions(ticket.state)), "own_unit": ctx.who.role == "unit" and
        ticket.unit_id is not None and ticket.unit_id == ctx.who.unit_id,
        "refusals": list(refusals.REFUSALS.values()), "ratings": list(followup.RATINGS.items()),
        "recording": _recording_kind(ctx, ticket.recording_path), "action_zh": ACTION_ZH,
        "max_extension": ctx.settings.ticket_extension_max_days,
    }


def _detail(event: TicketEvent) -> dict:
    try:
        data = json.loads(event.detail or "{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _recording_kind(ctx: Ctx, path: str | None) -> str | None:
    """"file" when the recording is a file the engine keeps, "url" for a remote one, else None."""
    if not path:
        return None
    if path.startswith(("https://", "http://")):
        return "url"
    return "file" if _recording_file(ctx, path) is not None else None


def _recording_file(ctx: Ctx, path: str) -> Path | None:
    """The recording as a file under the engine's recordings directory (nothing else is served)."""
    try:
        base = Path(ctx.settings.recordings_dir).resolve()
        target = Path(path)
        target = (target if target.is_absolute() else Path.cwd() / target).resolve(strict=True)
        target.relative_to(base)
    except (OSError, RuntimeError, ValueError):
        return None
    return target if target.is_file() and target.suffix.lower() in AUDIO_TYPES else None


def detail(ctx: Ctx, *, draft: str = "", missing: list | None = None, status: int = 200):
    with ctx.read() as s:
        ticket = _scoped(s, ctx, ctx.param("number"))
        if ticket is None:
            return ctx.not_found("没有这个工单，或您无权查看。")
        values = _detail_values(s, ctx, ticket)
    return ctx.render("ticket.html", status=status, title=f"工单 {ticket.number}", draft=draft,
                      missing=missing or [], **values)


def recording(ctx: Ctx):
    with ctx.read() as s:
        ticket = _scoped(s, ctx, ctx.param("number"))
        path = ticket.recording_path if ticket is not None else None
    target = _recording_file(ctx, path) if path else None
    if target is None:
        return ctx.not_found("没有录音。")
    return FileResponse(target, media_type=AUDIO_TYPES[target.suffix.lower()],
                        headers={"Cache-Control": "private, no-store"})


def _version(ctx: Ctx) -> int | None:
    try:
        return int(ctx.field("version"))
    except ValueError:
        return None


def _change(ctx: Ctx, action: str, work, ok: str):
    """Run ``work(session, ticket)`` on the ticket in the URL (scoped) with its audit entry."""
    number = ctx.param("number")
    back = f"/console/tickets/{number}"
    try:
        with ctx.db.session() as s:
            ticket = _scoped(s, ctx, number)
            if ticket is None:
                return ctx.not_found("没有这个工单，或您无权查看。")
            detail = work(s, ticket) or {}
            ctx.audit(s, f"ticket.{action}", ticket.number, detail)
    except lc.ConcurrentUpdate:
        return ctx.redirect(back, error="工单已被他人修改，请查看最新状态后重试。")
    except (lc.TicketError, ValueError) as exc:
        return ctx.redirect(back, error=f"操作未完成：{exc}")
    return ctx.redirect(back, ok=ok)


def dispatch(ctx: Ctx):
    unit = ctx.field("unit")

    def work(s, t):
        if unit == "auto":
            handling.auto_dispatch(s, t.number, actor=ctx.who.name, now=ctx.now,
                                   suggester=rules.UnitSuggester.from_session(s))
        else:
            handling.dispatch(s, t.number, unit, actor=ctx.who.name, now=ctx.now, note=ctx.field("note"),
                              expected_version=_version(ctx))
        return {"unit": unit}
    return _change(ctx, "dispatch", work, "已派单。")


def refuse(ctx: Ctx):
    def work(s, t):
        script = handling.refuse(s, t.number, ctx.field("code"), actor=ctx.who.name, now=ctx.now,
                                 note=ctx.field("note"), duplicate_of=ctx.field("duplicate_of") or None,
                                 expected_version=_version(ctx))
        return {"code": ctx.field("code"), "script": script[:200]}
    return _change(ctx, "refuse", work, "已记录为不予受理。")


def review(ctx: Ctx):
    approve = ctx.field("decision") == "approve"

    def work(s, t):
        handling.review(s, t.number, approve=approve, actor=ctx.who.name, now=ctx.now, note=ctx.field("note"),
                        expected_version=_version(ctx))
        return {"approve": approve}
    return _change(ctx, "review", work, "已审核通过，工单办结。" if approve else "已退回承办单位重办。")


def extension_decision(ctx: Ctx):
    approve = ctx.field("decision") == "approve"

    def work(s, t):
        from workcal.loader import calendar_from_db

        req = handling.decide_extension(s, t.number, approve=approve, actor=ctx.who.name, now=ctx.now,
                                        calendar=calendar_from_db(s), zone=ctx.zone, note=ctx.field("note"))
        return {"request": req.id, "approve": approve}
    return _change(ctx, "extension", work, "已批准延期。" if approve else "已驳回延期申请。")


def reopen(ctx: Ctx):
    return _change(ctx, "reopen", lambda s, t: handling.reopen(
        s, t.number, reason=ctx.field("reason"), actor=ctx.who.name, now=ctx.now,
        expected_version=_version(ctx)) and {"reason": ctx.field("reason")}, "工单已重新打开。")


def rate(ctx: Ctx):
    def work(s, t):
        try:
            value = int(ctx.field("rating"))
        except ValueError:
            raise lc.TicketError("请选择 1–5 的评价") from None
        followup.record_return_visit(s, t.number, outcome="rated", actor=ctx.who.name, now=ctx.now, rating=value)
        return {"rating": value}
    return _change(ctx, "rate", work, "已记录满意度评价。")


# -- the handling unit ------------------------------------------------------------------------

def accept(ctx: Ctx):
    return _change(ctx, "accept", lambda s, t: handling.accept(
        s, t.number, actor=ctx.who.name, now=ctx.now, expected_version=_version(ctx)) and {}, "已签收。")


def decline(ctx: Ctx):
    return _change(ctx, "decline", lambda s, t: handling.decline(
        s, t.number, reason=ctx.field("reason"), actor=ctx.who.name, now=ctx.now,
        expected_version=_version(ctx)) and {"reason": ctx.field("reason")}, "已退回热线（非本单位职责）。")


def extension_request(ctx: Ctx):
    def work(s, t):
        try:
            days = int(ctx.field("days"))
        except ValueError:
            raise lc.TicketError("延期天数须为整数") from None
        req = handling.request_extension(s, t.number, days=days, reason=ctx.field("reason"), actor=ctx.who.name,
                                         now=ctx.now, max_days=ctx.settings.ticket_extension_max_days)
        return {"request": req.id, "days": days}
    return _change(ctx, "extension_request", work, "已提交延期申请。")


def report(ctx: Ctx):
    """The closure report: a report that is not specific is refused and the page says what it lacks."""
    body = ctx.raw_field("body")[:20_000]
    number = ctx.param("number")
    try:
        with ctx.db.session() as s:
            ticket = _scoped(s, ctx, number)
            if ticket is None:
                return ctx.not_found("没有这个工单，或您无权查看。")
            rep = handling.submit_report(s, ticket.number, body, actor=ctx.who.name, now=ctx.now,
                                         expected_version=_version(ctx))
            ctx.audit(s, "ticket.report", ticket.number, {"report": rep.id, "resolved": rep.resolved})
    except handling.ReportRejected as exc:
        return detail(ctx, draft=body, missing=[e.zh for e in exc.check.missing], status=422)
    except lc.ConcurrentUpdate:
        return ctx.redirect(f"/console/tickets/{number}", error="工单已被他人修改，请查看最新状态后重试。")
    except lc.TicketError as exc:
        return ctx.redirect(f"/console/tickets/{number}", error=f"操作未完成：{exc}")
    return ctx.redirect(f"/console/tickets/{number}", ok="办结报告已提交，等待热线审核。")


def routes(console: Console) -> list:
    page = console.page
    post = ["POST"]
    return [
        page("/console/tickets", list_page, "tickets.view", methods=["GET", "POST"]),
        page("/console/tickets/{number}", detail, "tickets.view"),
        page("/console/tickets/{number}/recording", recording, "tickets.view"),
        page("/console/tickets/{number}/dispatch", dispatch, "tickets.dispatch", methods=post),
        page("/console/tickets/{number}/refuse", refuse, "tickets.dispatch", methods=post),
        page("/console/tickets/{number}/review", review, "tickets.review", methods=post),
        page("/console/tickets/{number}/extension-decision", extension_decision, "tickets.review", methods=post),
        page("/console/tickets/{number}/reopen", reopen, "tickets.review", methods=post),
        page("/console/tickets/{number}/rate", rate, "tickets.rate", methods=post),
        page("/console/tickets/{number}/accept", accept, "tickets.unit", methods=post),
        page("/console/tickets/{number}/decline", decline, "tickets.unit", methods=post),
        page("/console/tickets/{number}/extension", extension_request, "tickets.unit", methods=post),
        page("/console/tickets/{number}/report", report, "tickets.unit", methods=post),
    ]

