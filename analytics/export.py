"""Data sharing (共享): tickets as JSON Lines for other government systems.

One ticket a line, in the schema :data:`SCHEMA` (``hotline.ticket-export/1``, documented in
``docs/data-sharing.md``). Personal data — the caller's number and name, phone and ID-card
numbers in the text, the caller's name where the text repeats it — is masked unless the role of
the person exporting is one allowed to see it (``Settings.export_personal_roles``, default
``admin``). Recordings are never exported. Every export is written to ``export_log``: who, which
role, when, which tickets (period, filters, row count) and the SHA-256 of what was written.
"""
from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import IO
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from analytics.models import ExportLog
from core.clock import require_aware
from core.logs import mask_number, mask_text
from tickets.lifecycle import STATE_ZH
from tickets.models import KIND_ZH, KINDS, Ticket, Unit

SCHEMA_ID = "hotline.ticket-export/1"
_STATES = list(STATE_ZH)
_TIME = {"type": "string", "format": "date-time"}
_OPT_TIME = {"type": ["string", "null"], "format": "date-time"}
_OPT_STR = {"type": ["string", "null"]}

# JSON Schema (draft 2020-12) of one line
SCHEMA: dict = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": SCHEMA_ID,
    "title": "12345 hotline ticket (工单), one JSON Lines record",
    "type": "object",
    "additionalProperties": False,
    "required": ["schema", "number", "kind", "kind_zh", "state", "state_zh", "source", "language", "region",
                 "unit", "unit_name", "tags", "content", "transcript", "received_at", "due", "due_date",
                 "provisional", "overdue", "closed_at", "rating", "rated_at", "refusal_code", "duplicate_of",
                 "repeats", "caller", "caller_name", "personal_data"],
    "properties": {
        "schema": {"const": SCHEMA_ID},
        "number": {"type": "string", "pattern": "^[0-9]+$"},
        "kind": {"enum": list(KINDS)},
        "kind_zh": {"type": "string"},
        "state": {"enum": _STATES},
        "state_zh": {"type": "string"},
        "source": {"type": "string"},
        "language": {"type": "string"},
        "region": {"type": "string"},
        "unit": _OPT_STR,
        "unit_name": _OPT_STR,
        "tags": {"type": "array", "items": {"type": "string"}},
        "content": {"type": "string"},
        "transcript": {"type": "string"},
        "received_at": _TIME,
        "due": _TIME,
        "due_date": {"type": "string", "format": "date"},
        "provisional": {"type": "boolean"},
        "overdue": {"type": "boolean"},
        "closed_at": _OPT_TIME,
        "rating": {"type": ["integer", "null"], "minimum": 1, "maximum": 5},
        "rated_at": _OPT_TIME,
        "refusal_code": _OPT_STR,
        "duplicate_of": _OPT_STR,
        "repeats": {"type": "integer", "minimum": 0},
        "caller": _OPT_STR,
        "caller_name": _OPT_STR,
        "personal_data": {"enum": ["masked", "included"]},
    },
}

# 18-digit resident ID numbers (the last may be X); kept: region (6) and check digit
_ID_CARD = re.compile(r"(?<![0-9])([1-9][0-9]{5})[0-9]{11}([0-9Xx])(?![0-9Xx])")


def mask_name(name: str) -> str:
    """张三 → 张*, 欧阳娜娜 → 欧***: the surname's first character is kept."""
    name = (name or "").strip()
    return name[:1] + "*" * (len(name) - 1) if len(name) > 1 else ("*" if name else "")


def mask_personal(text: str, caller_name: str = "") -> str:
    """Phone and ID-card numbers masked; the caller's own name (if given) masked where repeated."""
    text = _ID_CARD.sub(lambda m: m.group(1) + "*" * 11 + m.group(2), text or "")
    text = mask_text(text)
    name = (caller_name or "").strip()
    if len(name) > 1:
        text = text.replace(name, mask_name(name))
    return text


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def record(t: Ticket, unit_code: str | None, unit_name: str | None, duplicate_of: str | None,
           personal: bool) -> dict:
    """One line of the export."""
    name = t.caller_name or ""
    return {
        "schema": SCHEMA_ID, "number": t.number, "kind": t.kind, "kind_zh": KIND_ZH.get(t.kind, t.kind),
        "state": t.state, "state_zh": STATE_ZH.get(t.state, t.state), "source": t.source,
        "language": t.language, "region": t.region or "", "unit": unit_code, "unit_name": unit_name,
        "tags": [x for x in (t.tags or "").split(",") if x],
        "content": t.content if personal else mask_personal(t.content, name),
        "transcript": t.transcript if personal else mask_personal(t.transcript, name),
        "received_at": _iso(t.received_at), "due": _iso(t.due), "due_date": t.due_date.isoformat(),
        "provisional": bool(t.provisional), "overdue": bool(t.overdue), "closed_at": _iso(t.closed_at),
        "rating": t.rating, "rated_at": _iso(t.rated_at), "refusal_code": t.refusal_code,
        "duplicate_of": duplicate_of, "repeats": t.repeats or 0,
        "caller": (t.caller_key or None) if personal else (mask_number(t.caller_key) if t.caller_key else None),
        "caller_name": (name or None) if personal else (mask_name(name) or None),
        "personal_data": "included" if personal else "masked",
    }


@dataclass(frozen=True)
class ExportResult:
    rows: int
    personal_data: bool
    sha256: str
    log_id: int


def _query(date_from: date | None, date_to: date | None, zone: ZoneInfo, unit: str | None):
    original = aliased(Ticket)
    q = (select(Ticket, Unit.code, Unit.name, original.number)
         .outerjoin(Unit, Unit.id == Ticket.unit_id)
         .outerjoin(original, original.id == Ticket.duplicate_of)
         .order_by(Ticket.received_at, Ticket.id))
    if date_from:
        q = q.where(Ticket.received_at >= datetime.combine(date_from, time(0), tzinfo=zone))
    if date_to:
        q = q.where(Ticket.received_at < datetime.combine(date_to + timedelta(days=1), time(0), tzinfo=zone))
    if unit:
        q = q.where(Unit.code == unit)
    return q


def write_tickets(session: Session, out: IO[str], *, personal: bool, zone: ZoneInfo,
                  date_from: date | None = None, date_to: date | None = None,
                  unit: str | None = None) -> tuple[int, str]:
    """Write the tickets received from ``date_from`` to ``date_to`` (local days, inclusive), one
    JSON object a line, oldest first; returns (rows, SHA-256 of the bytes written)."""
    digest, rows = hashlib.sha256(), 0
    result = session.execute(_query(date_from, date_to, zone, unit).execution_options(yield_per=2000))
    for ticket, code, name, original in result:
        line = json.dumps(record(ticket, code, name, original, personal), ensure_ascii=False, sort_keys=True) + "\n"
        out.write(line)
        digest.update(line.encode("utf-8"))
        rows += 1
    return rows, digest.hexdigest()


def export_tickets(db, out: IO[str], *, actor: str, role: str, now: datetime, zone: ZoneInfo,
                   personal_roles: Iterable[str] = ("admin",), date_from: date | None = None,
                   date_to: date | None = None, unit: str | None = None, destination: str = "-") -> ExportResult:
    """Export tickets to ``out`` (read without holding the write lock), then log the export.

    Personal data is included only when ``role`` is one of ``personal_roles``. If the log
    cannot be written the export fails (the caller discards what was written).
    """
    require_aware(now, "now")
    actor, role = (actor or "").strip(), (role or "").strip()
    if not actor or not role:
        raise ValueError("an export needs the name of the person exporting and their role")
    if date_from and date_to and date_from > date_to:
        raise ValueError("--from is after --to")
    personal = role in set(personal_roles)
    with db.read_session() as s:
        rows, sha = write_tickets(s, out, personal=personal, zone=zone, date_from=date_from, date_to=date_to,
                                  unit=unit)
    entry = ExportLog(at=now, actor=actor[:80], role=role[:32], what="tickets", schema=SCHEMA_ID,
                      personal_data=personal, date_from=date_from, date_to=date_to,
                      filters=json.dumps({"unit": unit} if unit else {}, ensure_ascii=False),
                      rows=rows, destination=destination[:255], sha256=sha)
    with db.session() as s:
        s.add(entry)
        s.flush()
        log_id = entry.id
    return ExportResult(rows, personal, sha, log_id)


def export_log(session: Session, limit: int = 50) -> list[dict]:
    entries = session.scalars(select(ExportLog).order_by(ExportLog.id.desc()).limit(limit))
    return [{"id": e.id, "at": e.at.isoformat(), "actor": e.actor, "role": e.role, "what": e.what,
             "schema": e.schema, "personal_data": e.personal_data,
             "from": e.date_from.isoformat() if e.date_from else None,
             "to": e.date_to.isoformat() if e.date_to else None, "filters": json.loads(e.filters or "{}"),
             "rows": e.rows, "destination": e.destination, "sha256": e.sha256} for e in entries]
