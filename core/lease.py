"""A lease in the database: exactly one engine process at a time holds a named role.

Used so that of several engine processes sharing one database, one runs the scheduled jobs.
The holder renews the lease every few seconds; if it dies, the lease expires and another
process takes it over within ``ttl`` seconds. Taking and renewing are single conditional
UPDATE/INSERT statements, so two processes can never both believe they hold it.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import String, insert, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from core.db import Base, UTCDateTime


class Lease(Base):
    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())


def acquire(session: Session, name: str, holder: str, now: datetime, ttl: float) -> bool:
    """Take or renew ``name`` for ``holder`` until now+ttl; False if another live holder has it."""
    until = now + timedelta(seconds=ttl)
    table = Lease.__table__
    result = session.connection().execute(
        update(table)
        .where(table.c.name == name, (table.c.holder == holder) | (table.c.expires_at <= now))
        .values(holder=holder, expires_at=until)
    )
    if result.rowcount == 1:
        return True
    try:
        with session.begin_nested():
            session.connection().execute(insert(table).values(name=name, holder=holder, expires_at=until))
        return True
    except IntegrityError:           # someone else holds it (or took it a moment ago)
        return False


def release(session: Session, name: str, holder: str, now: datetime) -> None:
    table = Lease.__table__
    session.connection().execute(
        update(table).where(table.c.name == name, table.c.holder == holder).values(expires_at=now))


def holder_of(session: Session, name: str, now: datetime) -> str | None:
    lease = session.get(Lease, name)
    return lease.holder if lease is not None and lease.expires_at > now else None
