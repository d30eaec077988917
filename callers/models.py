"""What the engine remembers about each call."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Float, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, UTCDateTime


class CallRecord(Base):
    """One call, from the first AGI command (or webhook) to the hand-off or hang-up.

    Opened when the call starts and closed once with its outcome; a record still open long
    after its start means the engine died mid-call (``callers.calls.close_stale`` settles it).
    """

    __tablename__ = "calls"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))          # fastagi | agi | twilio
    channel_ref: Mapped[str] = mapped_column(String(64))      # agi_uniqueid / CallSid
    caller_key: Mapped[str] = mapped_column(String(32), default="")   # normalised number, '' if withheld
    caller_kind: Mapped[str] = mapped_column(String(16))
    caller_name: Mapped[str] = mapped_column(String(80), default="")
    dnid: Mapped[str] = mapped_column(String(32), default="")
    language: Mapped[str] = mapped_column(String(8))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # in_progress | handed_off | abandoned | restricted | self_served | message | refused | error
    outcome: Mapped[str] = mapped_column(String(16), default="in_progress")
    action: Mapped[str | None] = mapped_column(String(16), nullable=True)
    target: Mapped[str | None] = mapped_column(String(80), nullable=True)
    route: Mapped[str] = mapped_column(Text, default="")      # steps taken, comma-separated
    hangup_point: Mapped[str | None] = mapped_column(String(32), nullable=True)
    transcript: Mapped[str] = mapped_column(Text, default="")
    message_path: Mapped[str | None] = mapped_column(String(255), nullable=True)
    ticket_number: Mapped[str | None] = mapped_column(String(32), nullable=True)
    rating: Mapped[int | None] = mapped_column(Integer, nullable=True)
    rated_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    notes: Mapped[str] = mapped_column(Text, default="")
    # self-service: the knowledge entry offered and what came of it
    # (solved | not_solved | low_confidence | no_match), for reports and knowledge gaps
    kb_entry: Mapped[str | None] = mapped_column(String(64), nullable=True)
    kb_score: Mapped[float | None] = mapped_column(Float, nullable=True)
    kb_result: Mapped[str | None] = mapped_column(String(16), nullable=True)
    # after the hand-off, the dialplan reports what Asterisk did (route `outcome`)
    agent_status: Mapped[str | None] = mapped_column(String(16), nullable=True)   # QUEUESTATUS / DIALSTATUS
    agent_answered: Mapped[bool | None] = mapped_column(Boolean, nullable=True)

    __table_args__ = (
        Index("ix_calls_caller_started", "caller_key", "started_at"),
        Index("ix_calls_channel_ref", "channel", "channel_ref"),
        Index("ix_calls_outcome_started", "outcome", "started_at"),
        Index("ix_calls_started_at", "started_at"),   # reports by period (analytics; migration 0010)
    )
