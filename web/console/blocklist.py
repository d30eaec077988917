"""黑名单 (admins): search by any number format, block with ground and evidence, approve or reject
proposals, lift early with a reason, the full history; agents propose from a call.

A phone number never appears in a URL (nor, so, in access logs or browser history): a search is a
POST, a number's page is reached by one of its blocks (``/console/blocklist/block/<id>``), and
after a decision the browser goes back to that block's page.

Every action calls ``blocklist.service`` with ``by`` = the signed-in person, in one transaction
with its audit entry; the domain's own history gets the same name.
"""
from __future__ import annotations

from blocklist import queries, service, suggest
from blocklist.check import active_block
from blocklist.grounds import GROUNDS
from blocklist.models import Block
from callers.models import CallRecord
from callers.numbers import InvalidNumber, parse_typed
from web.console.base import Console, Ctx, safe_next

GROUND_CHOICES = [(code, zh) for code, (_en, zh) in GROUNDS.items()]


INDEX = "/console/blocklist"


def _block_page(block_id: int) -> str:
    return f"/console/blocklist/block/{int(block_id)}#number"


def _number_page(ctx: Ctx, typed: str) -> str:
    """Back to the number's page (through its latest block) when it has one, else the index."""
    try:
        key = parse_typed(typed).key
    except InvalidNumber:
        return INDEX
    with ctx.read() as s:
        blocks = queries.blocks_of(s, key)
    return _block_page(blocks[-1].id) if blocks else INDEX


def _policy(ctx: Ctx) -> service.Policy:
    return service.Policy.from_settings(ctx.settings)


def _calls(text: str) -> list[str]:
    return [c.strip() for c in text.replace("，", ",").split(",") if c.strip()]


def index(ctx: Ctx):
    return _render(ctx, "")


def search(ctx: Ctx):
    """POST: the number typed in any format (kept out of the URL)."""
    return _render(ctx, ctx.field("q")[:60])


def of_block(ctx: Ctx):
    """The page of the number a block belongs to."""
    try:
        block_id = int(ctx.param("block_id"))
    except ValueError:
        return ctx.redirect(INDEX, error="没有这条限制记录。")
    with ctx.read() as s:
        block = s.get(Block, block_id)
    if block is None:
        return ctx.redirect(INDEX, error="没有这条限制记录。")
    return _render(ctx, block.number_key)


def _render(ctx: Ctx, q: str):
    zone, now = ctx.zone, ctx.now
    found = None
    problem = ""
    with ctx.read() as s:
        if q:
            try:
                number = parse_typed(q)
            except InvalidNumber as exc:
                problem = f"“{q[:40]}”不是有效的电话号码（{exc.reason}）。"
            else:
                blocks = queries.blocks_of(s, number.key)
                cited = queries.cited_calls(s, [b.id for b in blocks])
                found = {"number": number, "current": active_block(s, number.key, now),
                         "blocks": [queries.block_dict(b, zone, now, cited[b.id]) for b in reversed(blocks)],
                         "history": queries.history(s, number.key),
                         "waiting": service.pending_proposal(s, number.key)}
        proposals, n_proposals = queries.list_blocks(s, now, "proposed", 200)
        active, n_active = queries.list_blocks(s, now, "active", 200)
        suggestions = suggest.suggestions(s, now, suggest.Thresholds.from_settings(ctx.settings))[:20]
    return ctx.render("blocklist.html", title="黑名单", q=q, found=found, problem=problem, proposals=proposals,
                      n_proposals=n_proposals, active=active, n_active=n_active, suggestions=suggestions,
                      grounds=GROUND_CHOICES, two_step=ctx.settings.blocklist_two_step,
                      direct_add=ctx.settings.blocklist_direct_add,
                      status_of=lambda b: queries.status_of(b, now))


def _act(ctx: Ctx, action: str, fn, ok: str):
    """Run one blocklist decision for the form's number; back to that number's page."""
    typed = ctx.field("number")
    try:
        number = service.blockable_number(typed)
        with ctx.db.session() as s:
            block = fn(s, number)
            ctx.audit(s, f"blocklist.{action}", number.key,
                      {"block": block.id, "state": block.state, "ground": block.ground})
    except service.BlocklistError as exc:
        return ctx.redirect(safe_next(ctx.field("next"), _number_page(ctx, typed)), error=f"操作未完成：{exc}")
    return ctx.redirect(safe_next(ctx.field("next"), _block_page(block.id)),
                        ok=ok.format(number=number.key, last_day=block.last_day))


def add(ctx: Ctx):
    return _act(ctx, "add", lambda s, n: service.add(
        s, _policy(ctx), n, ctx.field("ground"), ctx.field("evidence"), by=ctx.who.name, now=ctx.now,
        ground_text=ctx.field("ground_text"), call_ids=_calls(ctx.field("calls"))),
        "已封禁 {number}，限制至 {last_day} 24:00。")


def approve(ctx: Ctx):
    return _act(ctx, "approve", lambda s, n: service.approve(
        s, _policy(ctx), n, by=ctx.who.name, now=ctx.now, note=ctx.field("note")),
        "已批准对 {number} 的限制，至 {last_day} 24:00。")


def reject(ctx: Ctx):
    return _act(ctx, "reject", lambda s, n: service.reject(
        s, _policy(ctx), n, by=ctx.who.name, now=ctx.now, reason=ctx.field("reason")), "已驳回对 {number} 的限制申请。")


def lift(ctx: Ctx):
    return _act(ctx, "lift", lambda s, n: service.lift(
        s, _policy(ctx), n, by=ctx.who.name, now=ctx.now, reason=ctx.field("reason")), "已提前解除对 {number} 的限制。")


def propose(ctx: Ctx):
    """An agent (or admin) proposes a block from a call: the number comes from the call record."""
    call_id = ctx.field("call_id")
    back = safe_next(ctx.field("next"), "/console/agent")
    if call_id:
        with ctx.read() as s:
            call = s.get(CallRecord, call_id[:32])
            if call is None or not call.caller_key:
                return ctx.redirect(back, error="该来电没有可限制的号码（号码隐藏或记录不存在）。")
            typed = call.caller_key
    else:
        typed = ctx.field("number")
    try:
        number = service.blockable_number(typed)
        with ctx.db.session() as s:
            block = service.propose(s, _policy(ctx), number, ctx.field("ground"), ctx.field("evidence"),
                                    by=ctx.who.name, now=ctx.now, ground_text=ctx.field("ground_text"),
                                    call_ids=[call_id] if call_id else [])
            ctx.audit(s, "blocklist.propose", number.key, {"block": block.id, "state": block.state,
                                                           "call_id": call_id or None})
    except service.BlocklistError as exc:
        return ctx.redirect(back, error=f"申请未提交：{exc}")
    if block.state == "proposed":
        return ctx.redirect(back, ok=f"已提交限制申请（#{block.id}），等待管理员审批。")
    return ctx.redirect(back, ok=f"限制已生效（#{block.id}），至 {block.last_day} 24:00。")


def routes(console: Console) -> list:
    return [console.page("/console/blocklist", index, "blocklist.admin"),
            console.page("/console/blocklist/search", search, "blocklist.admin", methods=["POST"]),
            console.page("/console/blocklist/block/{block_id}", of_block, "blocklist.admin"),
            console.page("/console/blocklist/add", add, "blocklist.admin", methods=["POST"]),
            console.page("/console/blocklist/approve", approve, "blocklist.admin", methods=["POST"]),
            console.page("/console/blocklist/reject", reject, "blocklist.admin", methods=["POST"]),
            console.page("/console/blocklist/lift", lift, "blocklist.admin", methods=["POST"]),
            console.page("/console/blocklist/propose", propose, "blocklist.propose", methods=["POST"])]
