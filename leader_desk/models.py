"""Leaders, their seats, the sessions they answer, and the calls put through to a seat.

A session's times are entered as a local date and local start/end times and stored as aware UTC
instants (``starts_at``/``ends_at``); the zone they were entered in is kept for display. Rows are
never deleted: a session is cancelled (``state``), with who and why. Whether a session is live
is computed from its times (``leader_desk.service.live_session``); ``opened_at``/``closed_at``
only record that the scheduler noticed the start and end, and nothing depends on them.
"""
from __future__ import annotations

import re
from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, UTCDateTime

PUBLISHED, CANCELLED = "published", "cancelled"
STATES = (PUBLISHED, CANCELLED)

# the tag on tickets made from calls a leader took (tickets.models.Ticket.tags)
LEADER_TICKET_TAG = "leader-received"

# A seat's dial string goes into the dialplan's Dial(): only channel technologies and a plain
# resource name are allowed — no '&' (several channels), ',' (Dial options), '(' '$' '{' (dialplan
# functions and variables), spaces or control characters.
DIAL_STRING = re.compile(r"^(PJSIP|SIP|IAX2|DAHDI|Local)/[A-Za-z0-9_.@+-]{1,64}$")


def valid_dial_string(value: str) -> bool:
    return isinstance(value, str) and DIAL_STRING.fullmatch(value) is not None


class Leader(Base):
    """A leader who answers calls (e.g. 张三, 局长, 市交通运输局)."""

    __tablename__ = "leaders"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(String(40))            # 局长, 副市长, ...
    unit: Mapped[str] = mapped_column(String(80))             # 市交通运输局
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(80))

    __table_args__ = (Index("ix_leaders_name_unit", "name", "unit", unique=True),)


class Seat(Base):
    """A leader seat (领导接听专席): a phone the dialplan Dial()s."""

    __tablename__ = "leader_seats"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(40), unique=True)
    dial_string: Mapped[str] = mapped_column(String(80))      # DIAL_STRING, e.g. PJSIP/leader1
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(80))


class LeaderSession(Base):
    """One published leader-answering session on one seat."""

    __tablename__ = "leader_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    leader_id: Mapped[int] = mapped_column(ForeignKey("leaders.id"))
    seat_id: Mapped[int] = mapped_column(ForeignKey("leader_seats.id"))
    day: Mapped[date] = mapped_column(Date)                    # local date it takes place
    zone: Mapped[str] = mapped_column(String(40))              # the zone its times were given in
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime())
    title: Mapped[str] = mapped_column(String(120))
    topic: Mapped[str] = mapped_column(String(200), default="")
    state: Mapped[str] = mapped_column(String(16))             # STATES
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(80))
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    cancelled_by: Mapped[str | None] = mapped_column(String(80), nullable=True)
    cancel_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    # set by the scheduler's open/close job, for the record only (liveness is computed from times)
    opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    __table_args__ = (
        # "which session is live now": state = published and ends_at > now, a short range seek
        Index("ix_leader_sessions_state_ends", "state", "ends_at"),
        # overlap checks per seat and per leader
        Index("ix_leader_sessions_seat_starts", "seat_id", "starts_at"),
        Index("ix_leader_sessions_leader_starts", "leader_id", "starts_at"),
    )


class LeaderCall(Base):
    """A call put through to a leader seat during a session (the call record has action=leader)."""

    __tablename__ = "leader_calls"

    call_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("leader_sessions.id"))
    seat: Mapped[str] = mapped_column(String(80))              # the dial string used
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    dial_status: Mapped[str | None] = mapped_column(String(16), nullable=True)   # DIALSTATUS when reported
    ticket_number: Mapped[str | None] = mapped_column(String(32), nullable=True)

    __table_args__ = (Index("ix_leader_calls_session", "session_id", "at"),)
