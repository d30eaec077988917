"""Finding tickets and units by what people type; the deadline of a ticket."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from tickets import numbers
from tickets.lifecycle import TicketError, TicketNotFound
from tickets.models import Ticket, TicketCall, Unit
from workcal.calendar import WorkCalendar
from workcal.deadlines import Deadline, compute_deadline


def get_ticket(session: Session, number: str) -> Ticket:
    """The ticket with this number; TicketNotFound (saying why) otherwise."""
    cleaned = numbers.clean(number)
    if cleaned is None:
        raise TicketNotFound(f"{number!r} is not a valid ticket number (wrong length or check digit)")
    ticket = session.scalars(select(Ticket).where(Ticket.number == cleaned)).first()
    if ticket is None:
        raise TicketNotFound(f"no ticket {cleaned}")
    return ticket


def find_ticket(session: Session, number: str) -> Ticket | None:
    try:
        return get_ticket(session, number)
    except TicketNotFound:
        return None


def tickets_of_call(session: Session, call_id: str) -> list[Ticket]:
    """Tickets a call filed, repeated or was answered by, newest first."""
    return list(session.scalars(
        select(Ticket).join(TicketCall, TicketCall.ticket_id == Ticket.id)
        .where(TicketCall.call_id == call_id).order_by(Ticket.id.desc())))


def get_unit(session: Session, code: str, *, active: bool = True) -> Unit:
    unit = session.scalars(select(Unit).where(Unit.code == code)).first()
    if unit is None:
        raise TicketError(f"no handling unit {code!r} (see: hotline tickets units list)")
    if active and not unit.active:
        raise TicketError(f"handling unit {code!r} is inactive")
    return unit


def unit_name(session: Session, unit_id: int | None) -> str | None:
    unit = session.get(Unit, unit_id) if unit_id is not None else None
    return unit.name if unit else None


def deadline_for(calendar: WorkCalendar, kind: str, received_at: datetime, zone: ZoneInfo,
                 working_days: int) -> Deadline:
    """``working_days`` after the day of receipt (the legal days plus approved extensions)."""
    return compute_deadline(calendar, kind, received_at, zone, {kind: working_days})
