"""Knowledge-base entries: what the engine can answer by itself."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, CheckConstraint, Date, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, UTCDateTime


class KnowledgeEntry(Base):
    """One question and its answer; ``id`` is the interchange id (DESIGN §4), stable across imports."""

    __tablename__ = "kb_entries"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    question: Mapped[str] = mapped_column(Text)
    alternates: Mapped[list[str]] = mapped_column(JSON, default=list)   # other ways to ask it
    keywords: Mapped[list[str]] = mapped_column(JSON, default=list)
    answer: Mapped[str] = mapped_column(Text)
    audio: Mapped[str | None] = mapped_column(String(255), nullable=True)   # recorded answer, a path
    category: Mapped[str] = mapped_column(String(64), default="")
    unit: Mapped[str] = mapped_column(String(128), default="")             # handling unit
    valid_from: Mapped[date | None] = mapped_column(Date, nullable=True)   # first local day it applies
    valid_to: Mapped[date | None] = mapped_column(Date, nullable=True)     # last local day it applies
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        CheckConstraint("valid_from IS NULL OR valid_to IS NULL OR valid_from <= valid_to", name="valid_range"),
        Index("ix_kb_entries_category", "category"),
        Index("ix_kb_entries_updated_at", "updated_at"),
    )
