"""Tickets (工单) and everything kept about them: history, units, dispatch rules, extensions,
closure reports, and the per-day counter that hands out ticket numbers."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, String, Text, event
from sqlalchemy.orm import Mapped, Session, mapped_column

from core.db import Base, UTCDateTime

KINDS = ("consult", "help", "suggestion", "complaint", "report")
KIND_ZH = {"consult": "咨询", "help": "求助", "suggestion": "建议", "complaint": "投诉", "report": "举报"}


class Unit(Base):
    """A handling unit (承办单位)."""

    __tablename__ = "units"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    region: Mapped[str] = mapped_column(String(64), default="")
    duties: Mapped[str] = mapped_column(Text, default="")          # duty keywords, comma-separated
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Ticket(Base):
    __tablename__ = "tickets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    number: Mapped[str] = mapped_column(String(24), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    # received | dispatched | accepted | reported | returned | closed | refused
    state: Mapped[str] = mapped_column(String(16))
    version: Mapped[int] = mapped_column(Integer, default=1)      # optimistic concurrency
    source: Mapped[str] = mapped_column(String(16), default="agent")  # agent | message | self_service | cli
    caller_key: Mapped[str] = mapped_column(String(32), default="")  # '' when withheld
    caller_name: Mapped[str] = mapped_column(String(80), default="")
    call_id: Mapped[str | None] = mapped_column(String(32), nullable=True)   # the call that filed it
    language: Mapped[str] = mapped_column(String(8), default="cmn")
    content: Mapped[str] = mapped_column(Text, default="")
    transcript: Mapped[str] = mapped_column(Text, default="")
    recording_path: Mapped[str | None] = mapped_column(String(255), nullable=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), nullable=True)
    region: Mapped[str] = mapped_column(String(64), default="")
    tags: Mapped[str] = mapped_column(String(255), default="")      # comma-separated, e.g. leader
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    zone: Mapped[str] = mapped_column(String(40))                    # the deadline's time zone
    working_days: Mapped[int] = mapped_column(Integer)              # legal days + approved extensions
    due_date: Mapped[date] = mapped_column(Date)
    due: Mapped[datetime] = mapped_column(UTCDateTime())
    provisional: Mapped[bool] = mapped_column(Boolean, default=False)
    due_soon: Mapped[bool] = mapped_column(Boolean, default=False)
    overdue: Mapped[bool] = mapped_column(Boolean, default=False)
    review: Mapped[bool] = mapped_column(Boolean, default=False)
    refusal_code: Mapped[str | None] = mapped_column(String(32), nullable=True)
    rating: Mapped[int | None] = mapped_column(Integer, nullable=True)
    rated_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    duplicate_of: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), nullable=True)
    repeats: Mapped[int] = mapped_column(Integer, default=0)       # later requests linked to it
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        Index("ix_tickets_caller_state", "caller_key", "state"),
        Index("ix_tickets_state_due", "state", "due"),
        Index("ix_tickets_unit_state", "unit_id", "state"),
        Index("ix_tickets_call_id", "call_id"),
        Index("ix_tickets_closed_at", "closed_at"),
        # reports by period (analytics; created by migration 0010)
        Index("ix_tickets_received_at", "received_at"),
        Index("ix_tickets_rated_at", "rated_at"),
    )

    @property
    def tag_list(self) -> list[str]:
        return [t for t in self.tags.split(",") if t]

    @property
    def is_open(self) -> bool:
        return self.state not in ("closed", "refused")


class TicketCall(Base):
    """Every call that concerns a ticket: the one that filed it and repeats linked to it."""

    __tablename__ = "ticket_calls"

    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), primary_key=True)
    call_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    role: Mapped[str] = mapped_column(String(16))                   # filed | repeat | self_service

    __table_args__ = (Index("ix_ticket_calls_call_id", "call_id"),)


class TicketEvent(Base):
    """Append-only history: every transition and every change, with who and when."""

    __tablename__ = "ticket_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    from_state: Mapped[str | None] = mapped_column(String(16), nullable=True)
    to_state: Mapped[str | None] = mapped_column(String(16), nullable=True)
    detail: Mapped[str] = mapped_column(Text, default="{}")         # JSON object

    __table_args__ = (Index("ix_ticket_events_ticket_id", "ticket_id", "id"),)


class TicketCounter(Base):
    """One row per local day; ``n`` is the last sequence number handed out that day."""

    __tablename__ = "ticket_counters"

    day: Mapped[str] = mapped_column(String(8), primary_key=True)   # YYYYMMDD
    n: Mapped[int] = mapped_column(Integer, default=0)


class DispatchRuleSet(Base):
    """Dispatch rules, versioned: every edit is a new row; the highest version is the one in force."""

    __tablename__ = "dispatch_rule_sets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    version: Mapped[int] = mapped_column(Integer, unique=True)
    rules: Mapped[str] = mapped_column(Text)                         # JSON list of rules
    note: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    restored_from: Mapped[int | None] = mapped_column(Integer, nullable=True)


class ExtensionRequest(Base):
    """A unit asks for more working days; an admin approves or denies it."""

    __tablename__ = "ticket_extensions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"))
    days: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text)
    requested_by: Mapped[str] = mapped_column(String(64))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | approved | denied
    decided_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    decision_note: Mapped[str] = mapped_column(Text, default="")

    __table_args__ = (Index("ix_ticket_extensions_ticket_id", "ticket_id"),)


class ClosureReport(Base):
    """A unit's closure report (办结报告) that passed the specificity check, and its review."""

    __tablename__ = "closure_reports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), nullable=True)
    body: Mapped[str] = mapped_column(Text)
    resolved: Mapped[bool] = mapped_column(Boolean)
    submitted_by: Mapped[str] = mapped_column(String(64))
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime())
    review: Mapped[str] = mapped_column(String(16), default="pending")  # pending | approved | returned
    reviewed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    review_note: Mapped[str] = mapped_column(Text, default="")

    __table_args__ = (Index("ix_closure_reports_ticket_id", "ticket_id"),)


class HistoryIsAppendOnly(RuntimeError):
    pass


@event.listens_for(Session, "before_flush")
def _history_is_append_only(session: Session, _ctx, _instances) -> None:
    """The ORM never updates or deletes history (the database refuses UPDATE as well)."""
    for obj in list(session.dirty) + list(session.deleted):
        if isinstance(obj, TicketEvent) and (obj in session.deleted or session.is_modified(obj)):
            raise HistoryIsAppendOnly("ticket history is append-only")
