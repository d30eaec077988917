"""After the request: satisfaction ratings, progress by phone, return visits."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from callers import calls
from tickets import lifecycle as lc
from tickets import numbers
from tickets.lookup import find_ticket, tickets_of_call, unit_name
from tickets.models import Ticket, TicketEvent

RATINGS = {1: "非常满意", 2: "满意", 3: "基本满意", 4: "不满意", 5: "非常不满意"}
REVIEW_RATINGS = (4, 5)


def rate(session: Session, subject: str, rating: int, now: datetime, *, call_id: str | None = None,
         actor: str = "caller") -> bool:
    """Record a 1–5 rating (DESIGN §3.2) of a ticket, given its number or the call's id.

    ``subject`` is a ticket number, or the id of the call that filed (or repeated) one; the
    call's record gets the rating too.  4 or 5 flags the ticket for review.  False when the
    subject names no ticket and no call.  A later rating (a return visit) replaces the earlier
    one; both stay in the history.
    """
    if isinstance(rating, bool) or not isinstance(rating, int) or rating not in RATINGS:
        raise ValueError("a rating is 1 (very satisfied) to 5 (very dissatisfied)")
    subject = (subject or "").strip()
    ticket = find_ticket(session, subject) if numbers.clean(subject) else None
    call_rated = False
    for cid in {c for c in (call_id, None if ticket else subject) if c}:
        call_rated = calls.record_rating(session, cid, rating, now) or call_rated
        if ticket is None:
            found = tickets_of_call(session, cid)
            ticket = found[0] if found else None
    if ticket is None:
        return call_rated
    values = {"rating": rating, "rated_at": now}
    if rating in REVIEW_RATINGS:
        values["review"] = True
    lc.note(session, ticket, "rate", actor=actor, at=now,
            detail={"rating": rating, "label": RATINGS[rating], "call_id": call_id,
                    "review": rating in REVIEW_RATINGS}, **values)
    return True


@dataclass(frozen=True)
class Progress:
    number: str
    details: bool                 # False: the caller may not hear anything about this ticket
    state: str | None = None
    state_zh: str | None = None
    due_date: date | None = None
    provisional: bool = False
    closed: bool = False
    unit: str | None = None
    overdue: bool = False


def progress(session: Session, number: str, caller_key: str, *, verified: bool = False) -> Progress | None:
    """What a caller hears about a ticket (None: no such ticket or a mistyped number).

    Privacy: status and deadline only for the number that filed it or a caller an agent has
    verified; anyone else learns that the number exists and must ask from the filing phone or
    a person.  Ticket numbers are sequential, so this stops strangers from enumerating them.
    """
    ticket = find_ticket(session, number)
    if ticket is None:
        return None
    owner = bool(caller_key) and caller_key == ticket.caller_key
    if not (owner or verified):
        return Progress(number=ticket.number, details=False)
    return Progress(number=ticket.number, details=True, state=ticket.state, state_zh=lc.STATE_ZH[ticket.state],
                    due_date=ticket.due_date, provisional=ticket.provisional, closed=not ticket.is_open,
                    unit=unit_name(session, ticket.unit_id), overdue=ticket.overdue)


@dataclass(frozen=True)
class ReturnVisit:
    number: str
    caller_key: str
    kind: str
    unit: str | None
    closed_at: datetime
    attempts: int


def return_visit_list(session: Session, now: datetime, *, within_days: int = 7, max_attempts: int = 3,
                      limit: int = 500) -> list[ReturnVisit]:
    """Closed, unrated tickets of reachable callers to call back for a rating, oldest first."""
    attempts = (select(TicketEvent.ticket_id, func.count().label("n"))
                .where(TicketEvent.action == "return_visit").group_by(TicketEvent.ticket_id).subquery())
    rows = session.execute(
        select(Ticket, func.coalesce(attempts.c.n, 0))
        .outerjoin(attempts, attempts.c.ticket_id == Ticket.id)
        .where(Ticket.state == lc.CLOSED, Ticket.rating.is_(None), Ticket.caller_key != "",
               Ticket.closed_at >= now - timedelta(days=within_days), Ticket.closed_at <= now,
               func.coalesce(attempts.c.n, 0) < max_attempts)
        .order_by(Ticket.closed_at, Ticket.id).limit(limit)).all()
    return [ReturnVisit(t.number, t.caller_key, t.kind, unit_name(session, t.unit_id), t.closed_at, n)
            for t, n in rows]


def record_return_visit(session: Session, number: str, *, outcome: str, actor: str, now: datetime,
                        rating: int | None = None) -> Ticket:
    """One call-back attempt (outcome e.g. rated | no_answer | refused), with its rating if given."""
    ticket = find_ticket(session, number)
    if ticket is None:
        raise lc.TicketNotFound(f"no ticket {number}")
    lc.note(session, ticket, "return_visit", actor=actor, at=now, detail={"outcome": outcome, "rating": rating})
    if rating is not None:
        rate(session, ticket.number, rating, now, actor=actor)
    return ticket
