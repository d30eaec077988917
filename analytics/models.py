"""What analytics keeps: weak-signal alerts with the tickets behind them, and the export log."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, UTCDateTime

# SignalAlert.state
OPEN, ACKNOWLEDGED, CLOSED = "open", "acknowledged", "closed"
ALERT_STATES = (OPEN, ACKNOWLEDGED, CLOSED)


class SignalAlert(Base):
    """An unusual cluster of similar requests from one region (弱信号预警).

    Raised once per cluster: while it is open or acknowledged, later scans that find the same
    cluster (same key, a shared ticket, or the same words) add their tickets to it.
    """

    __tablename__ = "signal_alerts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    cluster_key: Mapped[str] = mapped_column(String(200))     # region|topic:停水  or  region|words:a+b+c
    region: Mapped[str] = mapped_column(String(64), default="")
    topic: Mapped[str] = mapped_column(String(32), default="")   # '' for a cluster by text similarity
    terms: Mapped[str] = mapped_column(Text, default="{}")     # JSON: top words of the centroid, weights
    label: Mapped[str] = mapped_column(String(200))           # e.g. "惠城区 · 停水"
    state: Mapped[str] = mapped_column(String(16), default=OPEN)
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    first_at: Mapped[datetime] = mapped_column(UTCDateTime())     # earliest ticket received
    last_at: Mapped[datetime] = mapped_column(UTCDateTime())      # latest ticket received
    ticket_count: Mapped[int] = mapped_column(Integer, default=0)
    # the latest detection: tickets in the window, the usual count per window, the Poisson tail
    window_count: Mapped[int] = mapped_column(Integer, default=0)
    peak_count: Mapped[int] = mapped_column(Integer, default=0)
    expected: Mapped[float] = mapped_column(Float, default=0.0)
    p_value: Mapped[float] = mapped_column(Float, default=1.0)
    acknowledged_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    closed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    note: Mapped[str] = mapped_column(Text, default="")

    __table_args__ = (
        Index("ix_signal_alerts_state_last_at", "state", "last_at"),
        Index("ix_signal_alerts_cluster_key", "cluster_key", "state"),
    )


class SignalAlertTicket(Base):
    """A ticket behind an alert (a ticket belongs to at most one alert)."""

    __tablename__ = "signal_alert_tickets"

    alert_id: Mapped[int] = mapped_column(ForeignKey("signal_alerts.id"), primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), primary_key=True)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_signal_alert_tickets_ticket_id", "ticket_id"),)


class ExportLog(Base):
    """Who exported which tickets, when, with or without personal data (append-only)."""

    __tablename__ = "export_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(80))
    role: Mapped[str] = mapped_column(String(32))
    what: Mapped[str] = mapped_column(String(32))               # tickets
    schema: Mapped[str] = mapped_column(String(64))             # the stated schema's id
    personal_data: Mapped[bool] = mapped_column(Boolean)        # True: numbers and names not masked
    date_from: Mapped[date | None] = mapped_column(Date, nullable=True)
    date_to: Mapped[date | None] = mapped_column(Date, nullable=True)
    filters: Mapped[str] = mapped_column(Text, default="{}")    # JSON object
    rows: Mapped[int] = mapped_column(Integer, default=0)
    destination: Mapped[str] = mapped_column(String(255), default="-")
    sha256: Mapped[str] = mapped_column(String(64), default="")

    __table_args__ = (Index("ix_export_log_at", "at"),)
