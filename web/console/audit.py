"""Every change made through the console (and ``hotline users``): who, when, what, from where.

Written in the same transaction as the change itself, so a change and its audit entry are
committed together or not at all. Append-only: nothing updates or deletes an entry. Domain
histories (block events, ticket events) carry the actor's name as well.
"""
from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import Index, Integer, String, Text, event, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from core.clock import require_aware
from core.db import Base, UTCDateTime


class AuditEntry(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(80))          # the user name ('-' before log-in)
    role: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(48))         # e.g. blocklist.add, ticket.dispatch
    target: Mapped[str] = mapped_column(String(200))        # what it was done to (a number, a ticket)
    detail: Mapped[str] = mapped_column(Text, default="{}")  # JSON object
    address: Mapped[str] = mapped_column(String(64))        # client address, or "cli"

    __table_args__ = (
        Index("ix_audit_log_at", "at"),
        Index("ix_audit_log_actor_at", "actor", "at"),
    )


class AuditIsAppendOnly(RuntimeError):
    pass


@event.listens_for(Session, "before_flush")
def _audit_is_append_only(session: Session, _ctx, _instances) -> None:
    for obj in list(session.dirty) + list(session.deleted):
        if isinstance(obj, AuditEntry) and (obj in session.deleted or session.is_modified(obj)):
            raise AuditIsAppendOnly("the audit log is append-only")


def record(session: Session, *, actor: str, role: str, action: str, target: str = "", detail: dict | None = None,
           address: str = "", at: datetime) -> AuditEntry:
    require_aware(at, "the audit time")
    entry = AuditEntry(at=at, actor=(actor or "-")[:80], role=(role or "-")[:16], action=action[:48],
                       target=(target or "")[:200],
                       detail=json.dumps(detail or {}, ensure_ascii=False, sort_keys=True, default=str),
                       address=(address or "-")[:64])
    session.add(entry)
    session.flush()
    return entry


def recent(session: Session, *, limit: int = 100, offset: int = 0, actor: str | None = None,
           action: str | None = None) -> tuple[list[AuditEntry], int]:
    query = select(AuditEntry)
    count = select(func.count()).select_from(AuditEntry)
    if actor:
        query, count = query.where(AuditEntry.actor == actor), count.where(AuditEntry.actor == actor)
    if action:
        like = action.replace("%", "").replace("_", r"\_") + "%"
        query = query.where(AuditEntry.action.like(like, escape="\\"))
        count = count.where(AuditEntry.action.like(like, escape="\\"))
    rows = list(session.scalars(query.order_by(AuditEntry.id.desc()).limit(limit).offset(offset)))
    return rows, int(session.scalar(count) or 0)
