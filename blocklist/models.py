"""Blocks, their append-only history, the call records they cite, and agents' flags on calls.

Rows are never deleted: a block ends by time (``until``), by an early lift, or (a proposal) by
rejection, and every change adds a ``BlockEvent``.
"""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, UTCDateTime

# Block.state.  "expired" is not a state: an active block whose ``until`` has passed is
# expired by computation (DESIGN §3.1), whether or not any job ran.
PROPOSED, ACTIVE, REJECTED, LIFTED = "proposed", "active", "rejected", "lifted"
STATES = (PROPOSED, ACTIVE, REJECTED, LIFTED)

# BlockEvent.action
EV_PROPOSED, EV_APPROVED, EV_REJECTED = "proposed", "approved", "rejected"
EV_ADDED, EV_IMPORTED, EV_LIFTED, EV_ATTEMPT = "added", "imported", "lifted", "attempt"


class BlockedNumber(Base):
    """One row per number ever proposed or blocked.

    Every change to a number's blocks first bumps ``revision`` here: that write takes the
    row lock (PostgreSQL) or the write lock (SQLite) before anything is read, so two admins
    acting on one number at once are serialised and the second sees the first's result.
    """

    __tablename__ = "block_numbers"

    number_key: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))            # mobile | landline | international
    first_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revision: Mapped[int] = mapped_column(Integer, default=0)


class Block(Base):
    __tablename__ = "blocks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number_key: Mapped[str] = mapped_column(String(32), ForeignKey("block_numbers.number_key"))
    ground: Mapped[str] = mapped_column(String(24))           # blocklist.grounds.GROUNDS
    ground_text: Mapped[str] = mapped_column(Text, default="")
    evidence: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16))            # STATES
    proposed_by: Mapped[str] = mapped_column(String(80))
    proposed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # the decision: approval (or a direct block) or rejection
    decided_by: Mapped[str | None] = mapped_column(String(80), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    decision_note: Mapped[str] = mapped_column(Text, default="")
    # set when the block is decided (blocklist.period): in force while now < until
    until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_day: Mapped[date | None] = mapped_column(Date, nullable=True)
    # when the restriction really ends: `until`, or the moment it was lifted early; None while
    # proposed or once rejected.  The on-call check reads this: in force while now < ends_at.
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    lifted_by: Mapped[str | None] = mapped_column(String(80), nullable=True)
    lifted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    lift_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # calls refused under this block
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    __table_args__ = (
        # the on-call check: one index range seek on (number, end), latest end first
        Index("ix_blocks_number_ends_at", "number_key", "ends_at"),
        # lists by state, blocks ending tomorrow
        Index("ix_blocks_state_until", "state", "until"),
    )


class BlockCall(Base):
    """A call record cited as evidence for a block.

    ``call_id`` is checked against ``calls`` when the block is made, but is no foreign key:
    the evidence must outlive call-record retention, and SQLite migrations that rebuild
    ``calls`` (batch mode) would otherwise fail while any block cites a call.
    """

    __tablename__ = "block_calls"

    block_id: Mapped[int] = mapped_column(Integer, ForeignKey("blocks.id"), primary_key=True)
    call_id: Mapped[str] = mapped_column(String(32), primary_key=True)


class BlockEvent(Base):
    """Append-only history: who did what to which block, when, and why."""

    __tablename__ = "block_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    block_id: Mapped[int] = mapped_column(Integer, ForeignKey("blocks.id"))
    number_key: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(UTCDateTime())          # when it took effect
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())  # when it was written (differs if back-dated)
    actor: Mapped[str] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(24))
    detail: Mapped[str] = mapped_column(Text, default="")
    reason: Mapped[str] = mapped_column(Text, default="")
    call_id: Mapped[str | None] = mapped_column(String(32), nullable=True)

    __table_args__ = (
        Index("ix_block_events_number_id", "number_key", "id"),
        Index("ix_block_events_block_id", "block_id", "id"),
        # blocked attempts per period in reports (analytics; migration 0010)
        Index("ix_block_events_action_at", "action", "at"),
    )


class CallFlag(Base):
    """An agent marked a call as abusive; flags feed suggestions, they block nobody.

    ``call_id`` is checked when the flag is made (no foreign key, as for ``BlockCall``)."""

    __tablename__ = "call_flags"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    call_id: Mapped[str] = mapped_column(String(32))
    number_key: Mapped[str] = mapped_column(String(32))
    flagged_by: Mapped[str] = mapped_column(String(80))
    flagged_at: Mapped[datetime] = mapped_column(UTCDateTime())
    note: Mapped[str] = mapped_column(Text, default="")

    __table_args__ = (
        Index("ix_call_flags_number_flagged", "number_key", "flagged_at"),
        Index("ix_call_flags_flagged_at", "flagged_at"),
    )
