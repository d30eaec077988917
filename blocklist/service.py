"""Deciding blocks: propose, approve, reject, block directly, lift (DESIGN §3.1).

Every function takes an open session and an aware ``now`` (the time the action takes effect;
``--at`` on the command line), checks its input before writing anything, and adds one history
entry per change.  Two admins acting on one number at once are serialised by
``lock_number``; the state change itself is a conditional UPDATE whose row count says
whether this caller won, so exactly one of them succeeds and the other gets a clear error.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from blocklist.grounds import InvalidGround, describe, parse_ground
from blocklist.models import (ACTIVE, EV_ADDED, EV_APPROVED, EV_LIFTED, EV_PROPOSED, EV_REJECTED, LIFTED,
                              PROPOSED, REJECTED, Block, BlockCall, BlockedNumber, BlockEvent)
from blocklist.period import restriction_last_day, restriction_until
from callers.models import CallRecord
from callers.numbers import InvalidNumber, PhoneNumber, parse_typed
from core.clock import require_aware, utcnow
from core.logs import mask_number

log = logging.getLogger(__name__)

NAME_MAX = 80
EVIDENCE_MAX = 4000
REASON_MAX = 1000
CALLS_MAX = 50


class BlocklistError(ValueError):
    """The action cannot be done; the message says why in one sentence.  Nothing was written."""


@dataclass(frozen=True)
class Policy:
    zone: ZoneInfo
    two_step: bool = True      # a proposal waits for an admin's approval, by someone else
    direct_add: bool = True    # an admin may block directly, without a proposal

    @classmethod
    def from_settings(cls, settings) -> "Policy":
        return cls(zone=settings.zone, two_step=settings.blocklist_two_step,
                   direct_add=settings.blocklist_direct_add)


# -- input --------------------------------------------------------------------------------

def blockable_number(text: str) -> PhoneNumber:
    """A number an admin typed, in any usual format; withheld and service numbers are refused."""
    try:
        number = parse_typed(text)
    except InvalidNumber as exc:
        raise BlocklistError(str(exc)) from exc
    if not number.blockable:
        raise BlocklistError(f"{number.key} is a service number; service numbers cannot be blocked")
    return number


def clean_text(value: str | None, what: str, limit: int, required: bool = True) -> str:
    text = (value or "").strip()
    if required and not text:
        raise BlocklistError(f"{what} is required and may not be empty")
    if len(text) > limit:
        raise BlocklistError(f"{what} is {len(text)} characters long, at most {limit}")
    if any(not (ch.isprintable() or ch in "\n\t") for ch in text):
        raise BlocklistError(f"{what} contains a control character")
    return text


def clean_name(value: str | None) -> str:
    name = clean_text(value, "the name of the person acting (--by)", NAME_MAX)
    if "\n" in name or "\t" in name:
        raise BlocklistError("the name of the person acting (--by) must be one line")
    return name


def ground_of(ground: str, ground_text: str | None) -> tuple[str, str]:
    try:
        return parse_ground(ground, ground_text)
    except InvalidGround as exc:
        raise BlocklistError(str(exc)) from exc


def _check_calls(session: Session, number_key: str, call_ids: Iterable[str]) -> list[str]:
    ids = list(dict.fromkeys(c.strip() for c in call_ids if c and c.strip()))
    if len(ids) > CALLS_MAX:
        raise BlocklistError(f"at most {CALLS_MAX} call records may be cited, {len(ids)} were given")
    if not ids:
        return []
    found = dict(session.execute(
        select(CallRecord.id, CallRecord.caller_key).where(CallRecord.id.in_(ids))).all())
    missing = [c for c in ids if c not in found]
    if missing:
        raise BlocklistError(f"no call record {missing[0][:40]!r}")
    other = [c for c in ids if found[c] != number_key]
    if other:
        raise BlocklistError(f"call {other[0]} did not come from this number")
    return ids


# -- locking and lookups -------------------------------------------------------------------

def lock_number(session: Session, number: PhoneNumber, now: datetime) -> None:
    """Serialise changes to one number: write its row first, before reading anything.

    On PostgreSQL the UPDATE holds the row lock until commit, so a second admin's transaction
    waits here and then reads the first one's result (READ COMMITTED reads afresh per
    statement).  On SQLite write transactions are already serial (``core.db`` begins them
    IMMEDIATE); the same write keeps this true should a transaction begin deferred.
    """
    dialect = session.get_bind().dialect.name
    values = {"number_key": number.key, "kind": number.kind, "first_at": now, "revision": 0}
    if dialect in ("sqlite", "postgresql"):
        if dialect == "sqlite":
            from sqlalchemy.dialects.sqlite import insert as dialect_insert
        else:
            from sqlalchemy.dialects.postgresql import insert as dialect_insert
        session.execute(dialect_insert(BlockedNumber).values(**values)
                        .on_conflict_do_nothing(index_elements=["number_key"]))
    elif session.get(BlockedNumber, number.key) is None:
        session.execute(insert(BlockedNumber).values(**values))
    session.execute(update(BlockedNumber).where(BlockedNumber.number_key == number.key)
                    .values(revision=BlockedNumber.revision + 1))


def block_in_force(session: Session, number_key: str, now: datetime) -> Block | None:
    """The block in force at ``now`` (a block lifted later than ``now`` was in force then)."""
    return session.scalars(
        select(Block).where(Block.number_key == number_key, Block.ends_at > now, Block.decided_at <= now)
        .order_by(Block.ends_at.desc()).limit(1).execution_options(populate_existing=True)
    ).first()


def pending_proposal(session: Session, number_key: str) -> Block | None:
    return session.scalars(
        select(Block).where(Block.number_key == number_key, Block.state == PROPOSED)
        .order_by(Block.id).limit(1).execution_options(populate_existing=True)
    ).first()


def _fmt(moment: datetime, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).isoformat()


def add_event(session: Session, block: Block, action: str, actor: str, at: datetime, detail: str,
              reason: str = "", call_id: str | None = None) -> None:
    session.add(BlockEvent(block_id=block.id, number_key=block.number_key, at=at, recorded_at=utcnow(),
                           actor=actor, action=action, detail=detail, reason=reason, call_id=call_id))


def _refuse_if_blocked(session: Session, number: PhoneNumber, now: datetime, zone: ZoneInfo,
                       new_until: datetime | None = None) -> None:
    """Refuse when a block is in force at ``now`` or, for a block decided now (possibly back-dated),
    when another one overlaps its period."""
    current = block_in_force(session, number.key, now)
    if current is None and new_until is not None:
        current = session.scalars(
            select(Block).where(Block.number_key == number.key, Block.ends_at > now,
                                Block.decided_at < new_until).order_by(Block.decided_at).limit(1)).first()
    if current is not None:
        raise BlocklistError(f"{number.key} is already blocked through {current.last_day} "
                             f"(block #{current.id}, until {_fmt(current.until, zone)})")


def _in_force_detail(block: Block, zone: ZoneInfo) -> str:
    return (f"{describe(block.ground, block.ground_text)}; in force through {block.last_day} 24:00 "
            f"(until {_fmt(block.until, zone)})")


def _new_block(session: Session, number: PhoneNumber, ground: tuple[str, str], evidence: str,
               by: str, now: datetime, call_ids: list[str], state: str) -> Block:
    block = Block(number_key=number.key, ground=ground[0], ground_text=ground[1], evidence=evidence,
                  state=state, proposed_by=by, proposed_at=now, decision_note="", attempts=0)
    session.add(block)
    session.flush()
    for call_id in call_ids:
        session.add(BlockCall(block_id=block.id, call_id=call_id))
    return block


def _decide(session: Session, block: Block, by: str, now: datetime, zone: ZoneInfo, note: str) -> None:
    """proposed -> active, only if nobody decided it meanwhile."""
    until, last_day = restriction_until(now, zone), restriction_last_day(now, zone)
    result = session.execute(
        update(Block).where(Block.id == block.id, Block.state == PROPOSED)
        .values(state=ACTIVE, decided_by=by, decided_at=now, decision_note=note, until=until,
                last_day=last_day, ends_at=until).execution_options(synchronize_session=False))
    if result.rowcount != 1:
        raise BlocklistError(f"proposal #{block.id} was decided by someone else meanwhile")
    session.refresh(block)


# -- actions ---------------------------------------------------------------------------------

def propose(session: Session, policy: Policy, number: PhoneNumber, ground: str, evidence: str, *,
            by: str, now: datetime, ground_text: str | None = None, call_ids: Iterable[str] = ()) -> Block:
    """An agent proposes a block; it takes effect when an admin approves it (or at once, one-step)."""
    require_aware(now, "the time of the proposal")
    grounds, evidence, by = ground_of(ground, ground_text), clean_text(evidence, "evidence", EVIDENCE_MAX), clean_name(by)
    calls = _check_calls(session, number.key, call_ids)
    lock_number(session, number, now)
    waiting = pending_proposal(session, number.key)
    if waiting is not None:
        raise BlocklistError(f"a proposal to block {number.key} is already waiting (#{waiting.id}, "
                             f"by {waiting.proposed_by} at {_fmt(waiting.proposed_at, policy.zone)})")
    _refuse_if_blocked(session, number, now, policy.zone)
    block = _new_block(session, number, grounds, evidence, by, now, calls, PROPOSED)
    add_event(session, block, EV_PROPOSED, by, now, f"proposed: {describe(*grounds)}"
           + (f"; cites calls {', '.join(calls)}" if calls else ""), reason=evidence)
    if not policy.two_step:
        _decide(session, block, by, now, policy.zone, "in force at once: two-step control is off")
        add_event(session, block, EV_APPROVED, by, now,
               "approved at once (two-step control is off): " + _in_force_detail(block, policy.zone))
    log.info("block of %s proposed by %s (#%d)", mask_number(number.key), by, block.id)
    return block


def approve(session: Session, policy: Policy, number: PhoneNumber, *, by: str, now: datetime,
            note: str | None = None) -> Block:
    require_aware(now, "the time of the approval")
    by, note = clean_name(by), clean_text(note, "the note", REASON_MAX, required=False)
    lock_number(session, number, now)
    block = pending_proposal(session, number.key)
    if block is None:
        raise BlocklistError(f"no proposal to block {number.key} is waiting")
    if policy.two_step and block.proposed_by == by:
        raise BlocklistError(f"proposal #{block.id} was made by {by}; another person must approve it "
                             "(two-step control)")
    if now < block.proposed_at:
        raise BlocklistError(f"proposal #{block.id} was made at {_fmt(block.proposed_at, policy.zone)}, "
                             "after the approval time given")
    _refuse_if_blocked(session, number, now, policy.zone, restriction_until(now, policy.zone))
    _decide(session, block, by, now, policy.zone, note)
    add_event(session, block, EV_APPROVED, by, now, "approved: " + _in_force_detail(block, policy.zone), reason=note)
    log.info("block #%d of %s approved by %s", block.id, mask_number(number.key), by)
    return block


def reject(session: Session, policy: Policy, number: PhoneNumber, *, by: str, now: datetime,
           reason: str) -> Block:
    require_aware(now, "the time of the rejection")
    by, reason = clean_name(by), clean_text(reason, "the reason", REASON_MAX)
    lock_number(session, number, now)
    block = pending_proposal(session, number.key)
    if block is None:
        raise BlocklistError(f"no proposal to block {number.key} is waiting")
    result = session.execute(
        update(Block).where(Block.id == block.id, Block.state == PROPOSED)
        .values(state=REJECTED, decided_by=by, decided_at=now, decision_note=reason)
        .execution_options(synchronize_session=False))
    if result.rowcount != 1:
        raise BlocklistError(f"proposal #{block.id} was decided by someone else meanwhile")
    session.refresh(block)
    add_event(session, block, EV_REJECTED, by, now, "proposal rejected", reason=reason)
    log.info("block #%d of %s rejected by %s", block.id, mask_number(number.key), by)
    return block


def add(session: Session, policy: Policy, number: PhoneNumber, ground: str, evidence: str, *,
        by: str, now: datetime, ground_text: str | None = None, call_ids: Iterable[str] = ()) -> Block:
    """An admin blocks a number directly (when ``policy.direct_add``)."""
    require_aware(now, "the decision time")
    if not policy.direct_add:
        raise BlocklistError("direct blocking is off (blocklist_direct_add = false): "
                             "propose the block, then an admin approves it")
    grounds, evidence, by = ground_of(ground, ground_text), clean_text(evidence, "evidence", EVIDENCE_MAX), clean_name(by)
    calls = _check_calls(session, number.key, call_ids)
    lock_number(session, number, now)
    waiting = pending_proposal(session, number.key)
    if waiting is not None:
        raise BlocklistError(f"a proposal to block {number.key} is waiting (#{waiting.id}); "
                             "approve or reject it instead")
    _refuse_if_blocked(session, number, now, policy.zone, restriction_until(now, policy.zone))
    block = _new_block(session, number, grounds, evidence, by, now, calls, PROPOSED)
    _decide(session, block, by, now, policy.zone, "")
    add_event(session, block, EV_ADDED, by, now, "blocked directly: " + _in_force_detail(block, policy.zone)
           + (f"; cites calls {', '.join(calls)}" if calls else ""), reason=evidence)
    log.info("%s blocked by %s (#%d)", mask_number(number.key), by, block.id)
    return block


def lift(session: Session, policy: Policy, number: PhoneNumber, *, by: str, now: datetime,
         reason: str) -> Block:
    """End the block in force early, with a reason."""
    require_aware(now, "the time of the lift")
    by, reason = clean_name(by), clean_text(reason, "the reason", REASON_MAX)
    lock_number(session, number, now)
    block = block_in_force(session, number.key, now)
    if block is None or block.state != ACTIVE:
        raise BlocklistError(f"{number.key} is not blocked at {_fmt(now, policy.zone)}; nothing to lift")
    result = session.execute(
        update(Block).where(Block.id == block.id, Block.state == ACTIVE, Block.lifted_at.is_(None))
        .values(state=LIFTED, lifted_by=by, lifted_at=now, lift_reason=reason, ends_at=now)
        .execution_options(synchronize_session=False))
    if result.rowcount != 1:
        raise BlocklistError(f"block #{block.id} was lifted by someone else meanwhile")
    session.refresh(block)
    add_event(session, block, EV_LIFTED, by, now, f"lifted early (was in force through {block.last_day})",
           reason=reason)
    log.info("block #%d of %s lifted by %s", block.id, mask_number(number.key), by)
    return block
