"""Routing's tables: numbers registered for priority (适老化) and call-back requests.

Nothing is deleted: a priority registration is ended (``removed_at``), a call-back ends in a
final state (placed, failed, cancelled) and every Originate tried for it is kept as an attempt.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, UTCDateTime

# PriorityNumber.category
PRIORITY_CATEGORIES = ("elderly", "disabled", "other")

# Callback.state
REQUESTED, PLACING, PLACED, FAILED, CANCELLED = "requested", "placing", "placed", "failed", "cancelled"
CALLBACK_STATES = (REQUESTED, PLACING, PLACED, FAILED, CANCELLED)
OPEN_STATES = (REQUESTED, PLACING)


class PriorityNumber(Base):
    """A number whose calls go straight to a person, ahead in the queue (e.g. an elderly caller)."""

    __tablename__ = "priority_numbers"

    number_key: Mapped[str] = mapped_column(String(32), primary_key=True)   # callers.numbers key
    kind: Mapped[str] = mapped_column(String(16))                # mobile | landline | international
    category: Mapped[str] = mapped_column(String(16))            # PRIORITY_CATEGORIES
    note: Mapped[str] = mapped_column(Text, default="")
    added_at: Mapped[datetime] = mapped_column(UTCDateTime())
    added_by: Mapped[str] = mapped_column(String(80))
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    removed_by: Mapped[str | None] = mapped_column(String(80), nullable=True)


class Callback(Base):
    """A caller asked to be called back when an agent of ``queue`` is free."""

    __tablename__ = "callbacks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    number_key: Mapped[str] = mapped_column(String(32))
    queue: Mapped[str] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(8))
    call_id: Mapped[str | None] = mapped_column(String(32), nullable=True)   # the call it was asked on
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime())
    state: Mapped[str] = mapped_column(String(16))               # CALLBACK_STATES
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    action_id: Mapped[str | None] = mapped_column(String(64), nullable=True)   # of the last Originate
    placed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    ended_by: Mapped[str | None] = mapped_column(String(80), nullable=True)   # who cancelled it
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        Index("ix_callbacks_state_requested", "state", "requested_at"),
        Index("ix_callbacks_number_state", "number_key", "state"),
    )


class CallbackAttempt(Base):
    """One Originate tried for a call-back, and what came of it."""

    __tablename__ = "callback_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    callback_id: Mapped[int] = mapped_column(ForeignKey("callbacks.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    action_id: Mapped[str] = mapped_column(String(64))
    # placing (sent, no answer yet) | placed | no_answer | busy | failed | error | lost
    result: Mapped[str] = mapped_column(String(16))
    detail: Mapped[str] = mapped_column(Text, default="")
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    __table_args__ = (Index("ix_callback_attempts_callback", "callback_id", "id"),)
