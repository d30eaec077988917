"""Scheduled work on tickets: the overdue job and the recomputation of provisional deadlines."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.clock import require_aware, utcnow
from tickets import lifecycle as lc
from tickets.lookup import deadline_for
from tickets.models import Ticket
from workcal.calendar import WorkCalendar
from workcal.deadlines import add_working_days

# a ticket whose closure report is waiting for review is with the centre, not late at the unit
MARKED_STATES = (lc.RECEIVED, lc.DISPATCHED, lc.ACCEPTED, lc.RETURNED)


@dataclass
class MarkResult:
    due_soon: list[str] = field(default_factory=list)     # numbers newly marked due soon
    overdue: list[str] = field(default_factory=list)      # numbers newly marked overdue

    def as_json(self) -> dict:
        return {"due_soon": self.due_soon, "overdue": self.overdue}


def mark_deadlines(session: Session, now: datetime, calendar: WorkCalendar,
                   zone: ZoneInfo | None = None) -> MarkResult:
    """Mark open tickets past due (overdue) and due by the end of the next working day (due soon).

    Idempotent: each mark is a conditional UPDATE on the flag still being unset, and only a
    row that changed gets a history event, so a second or overlapping run marks nothing
    again.  A late run simply finds more tickets past due; they are marked overdue directly.
    """
    require_aware(now, "now")
    result = MarkResult()
    tickets = session.scalars(select(Ticket).where(Ticket.state.in_(MARKED_STATES),
                                                   (Ticket.overdue.is_(False)) | (Ticket.due_soon.is_(False)))
                              .order_by(Ticket.due, Ticket.id)).all()
    limits: dict[str, date] = {}
    for ticket in tickets:
        if ticket.due <= now:
            if lc.set_flags(session, ticket, "overdue", actor="deadline-job", at=now, unless={"overdue": True},
                            detail={"due": ticket.due.isoformat()}, overdue=True):
                result.overdue.append(ticket.number)
            continue
        tz = zone or ZoneInfo(ticket.zone)
        if tz.key not in limits:       # the end of the next working day after today (local)
            limits[tz.key] = add_working_days(calendar, now.astimezone(tz).date(), 1)[0]
        if ticket.due_date <= limits[tz.key] and not ticket.due_soon:
            if lc.set_flags(session, ticket, "due_soon", actor="deadline-job", at=now,
                            unless={"due_soon": True}, detail={"due_date": ticket.due_date.isoformat()},
                            due_soon=True):
                result.due_soon.append(ticket.number)
    return result


def recompute_provisional(session: Session, year: int, calendar: WorkCalendar, *,
                          now: datetime | None = None, actor: str = "calendar") -> list[str]:
    """Recompute provisional deadlines that reach into ``year`` (its official schedule was loaded).

    Each changed ticket gets a history entry with the old and new deadline; flags that no
    longer hold are cleared (the overdue job sets them again if they do).  Returns the
    numbers whose deadline or provisional mark changed.
    """
    now = require_aware(now, "now") if now is not None else utcnow()
    changed = []
    tickets = session.scalars(select(Ticket).where(Ticket.provisional.is_(True),
                                                   Ticket.due_date >= date(year, 1, 1))
                              .order_by(Ticket.id)).all()
    for ticket in tickets:
        if ticket.received_at.astimezone(ZoneInfo(ticket.zone)).year > year:
            continue
        new = deadline_for(calendar, ticket.kind, ticket.received_at, ZoneInfo(ticket.zone), ticket.working_days)
        if new.due_date == ticket.due_date and new.provisional == ticket.provisional:
            continue
        detail = {"year": year, "old_due_date": ticket.due_date.isoformat(), "due_date": new.due_date.isoformat(),
                  "old_provisional": ticket.provisional, "provisional": new.provisional}
        values = dict(due_date=new.due_date, due=new.due, provisional=new.provisional)
        if new.due > now:
            values["overdue"] = False
        if new.due_date > ticket.due_date:
            values["due_soon"] = False
        if lc.set_flags(session, ticket, "deadline_recomputed", actor=actor, at=now,
                        unless={"due_date": new.due_date, "provisional": new.provisional}, detail=detail,
                        **values):
            changed.append(ticket.number)
    return changed


def recompute_on_schedule_load(session: Session, year: int) -> None:
    """The ``workcal.loader.on_schedule_loaded`` callback: same transaction as the load."""
    from workcal.loader import calendar_from_db

    recompute_provisional(session, year, calendar_from_db(session))


def install_schedule_hook() -> None:
    """Register :func:`recompute_on_schedule_load` (idempotent); the composition root calls it."""
    from workcal.loader import on_schedule_loaded

    on_schedule_loaded(recompute_on_schedule_load)
