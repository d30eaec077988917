"""Twilio calls between webhooks: the flow's state by CallSid, and each served turn's TwiML.

Any engine process serves any turn: the state lives here, not in memory. A turn is claimed
(``busy_*``) before the flow runs, so a retried or duplicated webhook never runs the flow twice;
the new state and the turn's TwiML are stored in one transaction, and a replay of a turn
already served gets the stored TwiML byte for byte.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, UTCDateTime


class TwilioCall(Base):
    __tablename__ = "twilio_calls"

    call_sid: Mapped[str] = mapped_column(String(34), primary_key=True)
    call_id: Mapped[str] = mapped_column(String(32))                 # the engine's call record
    state: Mapped[str] = mapped_column(Text, default="")             # CallState JSON ('' before turn 0)
    turn: Mapped[int] = mapped_column(Integer, default=-1)           # last turn served (0 = the call start)
    done: Mapped[bool] = mapped_column(Boolean, default=False)       # the flow has ended
    status: Mapped[str] = mapped_column(String(16), default="")      # last CallStatus of the status callback
    busy_token: Mapped[str | None] = mapped_column(String(32), nullable=True)  # a request serving it now
    busy_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    recording_sid: Mapped[str | None] = mapped_column(String(34), nullable=True)
    recording_url: Mapped[str | None] = mapped_column(String(255), nullable=True)
    recording_s: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_twilio_calls_call_id", "call_id"),)


class TwilioTurn(Base):
    __tablename__ = "twilio_turns"

    call_sid: Mapped[str] = mapped_column(ForeignKey("twilio_calls.call_sid"), primary_key=True)
    turn: Mapped[int] = mapped_column(Integer, primary_key=True)
    twiml: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
