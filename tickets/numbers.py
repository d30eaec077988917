"""Ticket numbers: digits only, readable over the phone, unique across engine nodes.

``YYYYMMDD`` (the local day of receipt) + a daily sequence (5 digits, zero-padded; wider if
a day ever exceeds 99 999) + one Damm check digit.  The sequence comes from one counter row
per day, incremented with ``UPDATE … SET n = n + 1 … RETURNING n`` inside the caller's
transaction, so nodes sharing a database never hand out the same number (the row lock on
PostgreSQL, the database write lock on SQLite serialise the increments).

The Damm check digit detects every single-digit error and every transposition of two
adjacent digits, so a number mistyped on the keypad is refused, never matched to someone
else's ticket.
"""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from core.clock import require_aware
from tickets.models import TicketCounter

SEQ_WIDTH = 5
MIN_LENGTH = 8 + SEQ_WIDTH + 1

# Damm's totally anti-symmetric quasigroup of order 10 (H. M. Damm, 2004).
_DAMM = (
    (0, 3, 1, 7, 5, 9, 8, 6, 4, 2),
    (7, 0, 9, 2, 1, 5, 4, 8, 6, 3),
    (4, 2, 0, 6, 8, 7, 1, 3, 5, 9),
    (1, 7, 5, 0, 9, 8, 3, 4, 2, 6),
    (6, 1, 2, 3, 0, 4, 5, 9, 7, 8),
    (3, 6, 7, 4, 2, 0, 9, 5, 8, 1),
    (5, 8, 6, 9, 7, 2, 0, 1, 3, 4),
    (8, 9, 4, 5, 3, 6, 2, 0, 1, 7),
    (9, 4, 3, 8, 6, 1, 7, 2, 0, 5),
    (2, 5, 8, 1, 4, 3, 6, 7, 9, 0),
)


def check_digit(digits: str) -> str:
    """The Damm check digit of a string of ASCII digits."""
    interim = 0
    for ch in digits:
        if not ("0" <= ch <= "9"):
            raise ValueError(f"{ch!r} is not a digit")
        interim = _DAMM[interim][ord(ch) - 48]
    return str(interim)


def is_valid(number: str) -> bool:
    """True for a well-formed ticket number whose check digit is right."""
    if not isinstance(number, str) or len(number) < MIN_LENGTH or len(number) > 24:
        return False
    if not number.isascii() or not number.isdigit():
        return False
    return check_digit(number) == "0"        # Damm: a number with its check digit checks to 0


def clean(text: str) -> str | None:
    """What a person typed (spaces, dashes, full-width digits) as a valid number, else None."""
    if not isinstance(text, str):
        return None
    table = {cp: chr(cp - 0xFEE0) for cp in range(0xFF10, 0xFF1A)}
    digits = "".join(ch for ch in text.translate(table) if ch not in " -\u3000\t#*")
    return digits if is_valid(digits) else None


def format_number(day: str, seq: int) -> str:
    body = f"{day}{seq:0{SEQ_WIDTH}d}"
    return body + check_digit(body)


def next_number(session: Session, received_at: datetime, zone: ZoneInfo) -> str:
    """Allocate the next number for the local day of ``received_at`` (in the caller's transaction)."""
    day = require_aware(received_at, "received_at").astimezone(zone).strftime("%Y%m%d")
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = update(TicketCounter).where(TicketCounter.day == day).values(n=TicketCounter.n + 1) \
        .returning(TicketCounter.n)
    # Increment first: once the day's row exists (all but the first ticket of a day) the UPDATE
    # is the transaction's first write, so it takes the lock before anything else is read.
    seq = session.execute(stmt).scalar_one_or_none()
    if seq is None:
        session.execute(insert(TicketCounter).values(day=day, n=0).on_conflict_do_nothing())
        seq = session.execute(stmt).scalar_one()
    return format_number(day, seq)


def spoken_groups(number: str) -> list[str]:
    """The number in groups for reading aloud: date, sequence, check digit."""
    return [number[:8], number[8:-1], number[-1]]
