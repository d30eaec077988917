"""The on-call check: is this number restricted now?  One indexed query, nothing scanned.

``active_block`` runs before the greeting of every call, so it reads only the columns it needs
through ``ix_blocks_number_ends_at`` (number_key, ends_at): an index range seek over the
number's blocks that end after ``now``, latest end first.  Expiry is computed here, at check
time: a block is in force exactly while ``decided_at <= now < ends_at``, where ``ends_at`` is
``until`` (or the moment of an early lift); no job has to run for a block to expire.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from blocklist.models import EV_ATTEMPT, Block, BlockEvent
from core.clock import require_aware, utcnow
from core.logs import mask_number

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ActiveBlock:
    id: int
    number_key: str
    ground: str
    until: datetime              # aware (UTC); the instant the restriction ends
    last_day: date               # the last local day in force (through 24:00)
    decided_at: datetime         # aware (UTC)


# Built once: constructing a statement per call costs more than running it (SQLAlchemy
# derives its cache key from the statement's structure each time a new one is executed).
_CHECK = (
    select(Block.id, Block.ground, Block.until, Block.last_day, Block.decided_at)
    .where(Block.number_key == bindparam("number_key"), Block.ends_at > bindparam("now"),
           Block.decided_at <= bindparam("now"))
    .order_by(Block.ends_at.desc())
    .limit(1)
)


def active_block(session: Session, number_key: str, now: datetime) -> ActiveBlock | None:
    """The block in force for ``number_key`` at ``now``, or None.

    ``number_key`` is ``PhoneNumber.key``; a withheld caller ('' key) is never blocked.
    """
    require_aware(now, "now")
    if not number_key:
        return None
    return _as_block(number_key, session.connection().execute(_CHECK, {"number_key": number_key, "now": now}).first())


def active_block_in(db, number_key: str, now: datetime) -> ActiveBlock | None:
    """``active_block`` on the call path: one statement on a pooled connection, no session
    (``db`` is a ``core.db.Database``)."""
    require_aware(now, "now")
    if not number_key:
        return None
    return _as_block(number_key, db.read_first(_CHECK, {"number_key": number_key, "now": now}))


def _as_block(number_key: str, row) -> ActiveBlock | None:
    if row is None:
        return None
    return ActiveBlock(id=row.id, number_key=number_key, ground=row.ground, until=row.until,
                       last_day=row.last_day, decided_at=row.decided_at)


def record_attempt(session: Session, block_id: int, call_id: str, now: datetime) -> None:
    """A call was refused under this block: count it and add it to the block's history."""
    require_aware(now, "now")
    result = session.execute(
        update(Block).where(Block.id == block_id)
        .values(attempts=Block.attempts + 1, last_attempt_at=now)
        .returning(Block.number_key)
    )
    number_key = result.scalar_one_or_none()
    if number_key is None:
        raise LookupError(f"no block #{block_id}")
    session.add(BlockEvent(block_id=block_id, number_key=number_key, at=now, recorded_at=utcnow(),
                           actor="system", action=EV_ATTEMPT, detail="blocked call attempt",
                           reason="", call_id=(call_id or "")[:32] or None))
    log.info("blocked call attempt from %s under block #%d (call %s)", mask_number(number_key),
             block_id, call_id)


def check_and_record(session: Session, number_key: str, call_id: str, now: datetime) -> ActiveBlock | None:
    """For the call flow: the block in force, with the refused attempt already recorded on it."""
    block = active_block(session, number_key, now)
    if block is not None:
        record_attempt(session, block.id, call_id, now)
    return block
