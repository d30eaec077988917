"""Reading the blocklist: status, lists, one number's blocks and history, blocks ending tomorrow."""
from __future__ import annotations

import logging
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from blocklist.models import ACTIVE, LIFTED, PROPOSED, REJECTED, Block, BlockCall, BlockEvent
from core.clock import local_midnight_after, require_aware
from core.logs import mask_number

log = logging.getLogger(__name__)

# what `list` can filter on; "active" and "expired" are computed from `until` at `now`
STATUSES = ("active", "expired", "proposed", "lifted", "rejected")


def status_of(block: Block, now: datetime) -> str:
    """The block's status at ``now``: proposed | active | expired | lifted | rejected
    (| scheduled: decided after ``now``, when looking back with ``--at``)."""
    if block.state in (PROPOSED, REJECTED):
        return block.state
    if block.decided_at > now:
        return "scheduled"
    if now < block.ends_at:
        return "active"
    return LIFTED if block.state == LIFTED else "expired"


def _status_filter(stmt, status: str, now: datetime):
    if status == "active":
        return stmt.where(Block.ends_at > now, Block.decided_at <= now)
    if status == "expired":
        return stmt.where(Block.state == ACTIVE, Block.until <= now)
    if status == LIFTED:
        return stmt.where(Block.state == LIFTED, Block.lifted_at <= now)
    if status in (PROPOSED, REJECTED):
        return stmt.where(Block.state == status)
    raise ValueError(f"unknown status {status!r}; use one of: {', '.join(STATUSES)}")


def list_blocks(session: Session, now: datetime, status: str | None = None,
                limit: int = 1000) -> tuple[list[Block], int]:
    """(newest first, at most ``limit``; how many match in all)."""
    require_aware(now, "now")
    stmt = select(Block)
    count = select(func.count()).select_from(Block)
    if status is not None:
        stmt, count = _status_filter(stmt, status, now), _status_filter(count, status, now)
    rows = list(session.scalars(stmt.order_by(Block.id.desc()).limit(limit)))
    return rows, session.scalar(count)


def blocks_of(session: Session, number_key: str) -> list[Block]:
    """Every block and proposal for one number, oldest first."""
    return list(session.scalars(select(Block).where(Block.number_key == number_key).order_by(Block.id)))


def history(session: Session, number_key: str) -> list[BlockEvent]:
    """One number's history, in the order it was written."""
    return list(session.scalars(
        select(BlockEvent).where(BlockEvent.number_key == number_key).order_by(BlockEvent.id)))


def cited_calls(session: Session, block_ids: list[int]) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {i: [] for i in block_ids}
    if block_ids:
        rows = session.execute(select(BlockCall.block_id, BlockCall.call_id)
                               .where(BlockCall.block_id.in_(block_ids))
                               .order_by(BlockCall.block_id, BlockCall.call_id))
        for block_id, call_id in rows:
            out[block_id].append(call_id)
    return out


def ending_tomorrow(session: Session, now: datetime, zone: ZoneInfo) -> list[Block]:
    """Blocks in force now whose last day is tomorrow (local): the admins' daily notice.

    Only a notice: expiry never waits for this job (``blocklist.check`` computes it).
    """
    require_aware(now, "now")
    today = now.astimezone(zone).date()
    start = local_midnight_after(today, zone)                        # tomorrow 00:00
    end = local_midnight_after(today + timedelta(days=1), zone)      # tomorrow 24:00
    rows = list(session.scalars(
        select(Block).where(Block.state == ACTIVE, Block.until > start, Block.until <= end,
                            Block.decided_at <= now)
        .order_by(Block.until, Block.id)))
    log.info("blocklist notice: %d block(s) end tomorrow %s%s", len(rows), today + timedelta(days=1),
             "".join(f"; #{b.id} {mask_number(b.number_key)}" for b in rows[:20]))
    return rows


def _iso(moment: datetime | None, zone: ZoneInfo) -> str | None:
    return moment.astimezone(zone).isoformat() if moment is not None else None


def block_dict(block: Block, zone: ZoneInfo, now: datetime, call_ids: list[str] | None = None) -> dict:
    """A block as plain data (JSON, CSV); times ISO 8601 with the local offset."""
    return {
        "id": block.id, "number": block.number_key, "status": status_of(block, now), "state": block.state,
        "ground": block.ground, "ground_text": block.ground_text, "evidence": block.evidence,
        "proposed_by": block.proposed_by, "proposed_at": _iso(block.proposed_at, zone),
        "decided_by": block.decided_by, "decided_at": _iso(block.decided_at, zone),
        "decision_note": block.decision_note,
        "until": _iso(block.until, zone), "last_day": block.last_day.isoformat() if block.last_day else None,
        "ends_at": _iso(block.ends_at, zone),
        "lifted_by": block.lifted_by, "lifted_at": _iso(block.lifted_at, zone), "lift_reason": block.lift_reason,
        "attempts": block.attempts, "last_attempt_at": _iso(block.last_attempt_at, zone),
        "call_ids": list(call_ids or []),
    }


def event_dict(event: BlockEvent, zone: ZoneInfo) -> dict:
    return {
        "id": event.id, "block_id": event.block_id, "number": event.number_key,
        "at": _iso(event.at, zone), "recorded_at": _iso(event.recorded_at, zone), "actor": event.actor,
        "action": event.action, "detail": event.detail, "reason": event.reason, "call_id": event.call_id,
    }
