"""Official holiday schedules loaded by admins, with the history of every load.

Each load of a year is kept. The one in force for a year has ``current_year = year``; loading
the year again sets the earlier load's ``current_year`` to NULL and ``replaced_at``. The unique
constraint on ``current_year`` makes "at most one schedule in force per year" hold in the
database itself (NULLs do not collide on SQLite or PostgreSQL).
"""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, UTCDateTime

HOLIDAY, WORKDAY = "holiday", "workday"


class CalendarLoad(Base):
    """One load of one year's official schedule (``hotline calendar load``)."""

    __tablename__ = "calendar_loads"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    year: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(Text)                  # the notice: title, number or URL
    title: Mapped[str] = mapped_column(String(200), default="")
    file_name: Mapped[str] = mapped_column(String(255), default="")
    loaded_at: Mapped[datetime] = mapped_column(UTCDateTime())
    loaded_by: Mapped[str] = mapped_column(String(80))
    # = year while this load is the schedule in force; NULL once a later load replaced it
    current_year: Mapped[int | None] = mapped_column(Integer, nullable=True)
    replaced_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    __table_args__ = (
        UniqueConstraint("current_year", name="uq_calendar_loads_current_year"),
        Index("ix_calendar_loads_year_id", "year", "id"),
    )


class CalendarDay(Base):
    """A day a loaded schedule names: a day off, or a weekend day made a working day (调休)."""

    __tablename__ = "calendar_days"

    load_id: Mapped[int] = mapped_column(Integer, ForeignKey("calendar_loads.id"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))               # holiday | workday
    name: Mapped[str] = mapped_column(String(80))

    __table_args__ = (
        CheckConstraint("kind IN ('holiday', 'workday')", name="kind"),
    )
