"""Numbers registered for priority (适老化): their calls go straight to a person, ahead in the queue.

Numbers are typed any usual way and stored by their canonical key (``callers.numbers``); a
registration is ended, never deleted, and may be made again later.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from callers.numbers import InvalidNumber, PhoneNumber, parse_typed
from core.clock import require_aware
from routing.models import PRIORITY_CATEGORIES, PriorityNumber


class PriorityError(ValueError):
    """One clear message: the number, the category or the state does not allow this."""


def priority_number(text: str) -> PhoneNumber:
    try:
        number = parse_typed(text)
    except InvalidNumber as exc:
        raise PriorityError(str(exc)) from None
    if not number.blockable:
        raise PriorityError(f"{number.masked} is a {number.kind} number: only a person's mobile, "
                            "landline or international number can be registered")
    return number


def _by(by: str) -> str:
    by = (by or "").strip()
    if not by or len(by) > 80:
        raise PriorityError("say who does this (--by NAME, at most 80 characters)")
    return by


def add(session: Session, text: str, *, by: str, now: datetime, category: str = "elderly",
        note: str = "") -> PriorityNumber:
    require_aware(now, "now")
    if category not in PRIORITY_CATEGORIES:
        raise PriorityError(f"category must be one of {', '.join(PRIORITY_CATEGORIES)}")
    number, by = priority_number(text), _by(by)
    row = session.get(PriorityNumber, number.key, with_for_update=True)
    if row is not None and row.removed_at is None:
        raise PriorityError(f"{number.masked} is already registered ({row.category}, since "
                            f"{row.added_at:%Y-%m-%d})")
    if row is None:
        row = PriorityNumber(number_key=number.key)
        session.add(row)
    row.kind, row.category, row.note = number.kind, category, note.strip()
    row.added_at, row.added_by, row.removed_at, row.removed_by = now, by, None, None
    session.flush()
    return row


def remove(session: Session, text: str, *, by: str, now: datetime) -> PriorityNumber:
    require_aware(now, "now")
    number, by = priority_number(text), _by(by)
    row = session.get(PriorityNumber, number.key, with_for_update=True)
    if row is None or row.removed_at is not None:
        raise PriorityError(f"{number.masked} is not registered for priority")
    row.removed_at, row.removed_by = now, by
    session.flush()
    return row


def lookup(session: Session, caller_key: str) -> PriorityNumber | None:
    """The caller's active registration (one primary-key read), or None."""
    if not caller_key:
        return None
    row = session.get(PriorityNumber, caller_key)
    return row if row is not None and row.removed_at is None else None


_ACTIVE = select(PriorityNumber.number_key).where(PriorityNumber.number_key == bindparam("key"),
                                                PriorityNumber.removed_at.is_(None))


def is_registered(db, caller_key: str) -> bool:
    """``lookup`` on the call path: one prebuilt statement on a pooled connection, no session
    (``db`` is a ``core.db.Database``)."""
    return bool(caller_key) and db.read_first(_ACTIVE, {"key": caller_key}) is not None


def list_numbers(session: Session, *, include_removed: bool = False) -> list[PriorityNumber]:
    query = select(PriorityNumber).order_by(PriorityNumber.added_at, PriorityNumber.number_key)
    if not include_removed:
        query = query.where(PriorityNumber.removed_at.is_(None))
    return list(session.scalars(query))


def as_json(row: PriorityNumber, zone) -> dict:
    return {"number": row.number_key, "kind": row.kind, "category": row.category, "note": row.note,
            "added_at": row.added_at.astimezone(zone).isoformat(), "added_by": row.added_by,
            "active": row.removed_at is None,
            "removed_at": row.removed_at.astimezone(zone).isoformat() if row.removed_at else None,
            "removed_by": row.removed_by}
