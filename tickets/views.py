"""Tickets as plain data (JSON for scripts, one line for people)."""
from __future__ import annotations

from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from tickets.lifecycle import STATE_ZH
from tickets.lookup import unit_name
from tickets.models import KIND_ZH, Ticket, Unit


def _iso(moment, zone: ZoneInfo):
    return moment.astimezone(zone).isoformat() if moment else None


def ticket_dict(session: Session, t: Ticket, zone: ZoneInfo) -> dict:
    unit = session.get(Unit, t.unit_id) if t.unit_id is not None else None
    original = session.get(Ticket, t.duplicate_of) if t.duplicate_of is not None else None
    return {
        "number": t.number, "kind": t.kind, "kind_name": KIND_ZH[t.kind], "state": t.state,
        "state_name": STATE_ZH[t.state], "source": t.source, "caller": t.caller_key, "caller_name": t.caller_name,
        "call_id": t.call_id, "language": t.language, "content": t.content, "transcript": t.transcript,
        "recording": t.recording_path, "unit": unit.code if unit else None, "unit_name": unit.name if unit else None,
        "region": t.region, "tags": t.tag_list, "received_at": _iso(t.received_at, zone),
        "working_days": t.working_days, "due_date": t.due_date.isoformat(), "due": _iso(t.due, zone),
        "provisional": t.provisional, "due_soon": t.due_soon, "overdue": t.overdue, "review": t.review,
        "refusal_code": t.refusal_code, "rating": t.rating, "rated_at": _iso(t.rated_at, zone),
        "closed_at": _iso(t.closed_at, zone), "duplicate_of": original.number if original else None,
        "repeats": t.repeats,
    }


def ticket_line(session: Session, t: Ticket, zone: ZoneInfo) -> str:
    flags = [f for f in ("overdue", "due_soon", "review", "provisional") if getattr(t, f)]
    unit = unit_name(session, t.unit_id) or "-"
    line = (f"{t.number} {t.kind}({KIND_ZH[t.kind]}) {t.state}({STATE_ZH[t.state]}) unit={unit} "
            f"due={t.due_date.isoformat()} received={t.received_at.astimezone(zone):%Y-%m-%d %H:%M}")
    if t.rating:
        line += f" rating={t.rating}"
    if flags:
        line += " [" + ",".join(flags) + "]"
    return line
