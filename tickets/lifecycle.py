"""States of a ticket, the transitions allowed between them, and the history they write.

Every change goes through :func:`transition` (or :func:`note` for changes that keep the
state): a conditional ``UPDATE … WHERE state = :expected AND version = :expected`` so two
actors racing on one ticket cannot both win, followed by one row in ``ticket_events``.
"""
from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import and_, select, true, update
from sqlalchemy.orm import Session

from core.clock import require_aware
from tickets.models import Ticket, TicketEvent

RECEIVED, DISPATCHED, ACCEPTED = "received", "dispatched", "accepted"
REPORTED, RETURNED, CLOSED, REFUSED = "reported", "returned", "closed", "refused"
STATES = (RECEIVED, DISPATCHED, ACCEPTED, REPORTED, RETURNED, CLOSED, REFUSED)
OPEN_STATES = (RECEIVED, DISPATCHED, ACCEPTED, REPORTED, RETURNED)
STATE_ZH = {
    RECEIVED: "已受理", DISPATCHED: "已派单", ACCEPTED: "办理中", REPORTED: "办结审核中",
    RETURNED: "退回重办", CLOSED: "已办结", REFUSED: "不予受理",
}

# (from state, action) -> to state
TRANSITIONS: dict[tuple[str, str], str] = {
    (RECEIVED, "dispatch"): DISPATCHED,
    (RECEIVED, "refuse"): REFUSED,
    (RECEIVED, "close"): CLOSED,               # answered by the centre itself (e.g. a consultation)
    (DISPATCHED, "dispatch"): DISPATCHED,      # re-dispatch to another unit
    (DISPATCHED, "accept"): ACCEPTED,
    (DISPATCHED, "decline"): RECEIVED,         # the unit says it is not its duty
    (ACCEPTED, "report"): REPORTED,
    (RETURNED, "report"): REPORTED,
    (REPORTED, "approve"): CLOSED,
    (REPORTED, "return"): RETURNED,
    (CLOSED, "reopen"): RETURNED,              # back to the unit that handled it
    (REFUSED, "reopen"): RECEIVED,
}
# a closed ticket without a unit (answered by the centre) reopens to RECEIVED
REOPEN_WITHOUT_UNIT = RECEIVED


class TicketError(ValueError):
    """A request about a ticket that cannot be carried out; the message says why."""


class TicketNotFound(TicketError):
    pass


class IllegalTransition(TicketError):
    pass


class ConcurrentUpdate(TicketError):
    """Someone else changed the ticket first; reload and decide again."""


def allowed_actions(state: str) -> list[str]:
    return sorted(action for (frm, action) in TRANSITIONS if frm == state)


def target_state(ticket: Ticket, action: str) -> str:
    to = TRANSITIONS.get((ticket.state, action))
    if to is None:
        allowed = ", ".join(allowed_actions(ticket.state)) or "nothing"
        raise IllegalTransition(
            f"ticket {ticket.number} is {ticket.state} ({STATE_ZH[ticket.state]}): cannot {action}; "
            f"allowed: {allowed}")
    if action == "reopen" and ticket.state == CLOSED and ticket.unit_id is None:
        return REOPEN_WITHOUT_UNIT
    return to


def _event(session: Session, ticket_id: int, at: datetime, actor: str, action: str,
           frm: str | None, to: str | None, detail: dict | None) -> TicketEvent:
    ev = TicketEvent(ticket_id=ticket_id, at=require_aware(at, "event time"), actor=(actor or "system")[:64],
                     action=action, from_state=frm, to_state=to,
                     detail=json.dumps(detail or {}, ensure_ascii=False, sort_keys=True, default=str))
    session.add(ev)
    return ev


def transition(session: Session, ticket: Ticket, action: str, *, actor: str, at: datetime,
               detail: dict | None = None, expected_version: int | None = None, **values) -> Ticket:
    """Move ``ticket`` by ``action``, setting ``values`` too; one history event.

    Raises ConcurrentUpdate if the ticket changed since it was loaded (here, or where the
    actor saw ``expected_version``), IllegalTransition if the action is not allowed from
    the ticket's state.
    """
    check_version(ticket, expected_version)
    to = target_state(ticket, action)
    frm = ticket.state
    _conditional_update(session, ticket, dict(values, state=to), at)
    _event(session, ticket.id, at, actor, action, frm, to, detail)
    return ticket


def check_version(ticket: Ticket, expected_version: int | None) -> None:
    if expected_version is not None and expected_version != ticket.version:
        raise ConcurrentUpdate(f"ticket {ticket.number} was changed by someone else (version "
                               f"{ticket.version}, you saw {expected_version}); reload and try again")


def note(session: Session, ticket: Ticket, action: str, *, actor: str, at: datetime,
         detail: dict | None = None, **values) -> Ticket:
    """A change that keeps the state (rating, flags, deadline, duplicates): same guarantees."""
    if values:
        _conditional_update(session, ticket, values, at)
    _event(session, ticket.id, at, actor, action, ticket.state, ticket.state, detail)
    return ticket


def _conditional_update(session: Session, ticket: Ticket, values: dict, at: datetime) -> None:
    session.flush()
    result = session.execute(
        update(Ticket)
        .where(Ticket.id == ticket.id, Ticket.state == ticket.state, Ticket.version == ticket.version)
        .values(version=Ticket.version + 1, updated_at=at, **values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise ConcurrentUpdate(f"ticket {ticket.number} was changed by someone else; reload and try again")
    session.refresh(ticket)


def set_flags(session: Session, ticket: Ticket, action: str, *, actor: str, at: datetime,
              unless: dict, detail: dict | None = None, **values) -> bool:
    """Change fields that are no part of the workflow (flags, deadlines) without a version check,
    only while ``unless`` does not already hold: running twice changes and records nothing."""
    session.flush()
    guard = [getattr(Ticket, k) == v for k, v in unless.items()]
    result = session.execute(
        update(Ticket).where(Ticket.id == ticket.id, ~and_(*guard) if guard else true())
        .values(**values).execution_options(synchronize_session=False))
    if result.rowcount != 1:
        return False
    session.refresh(ticket)
    _event(session, ticket.id, at, actor, action, ticket.state, ticket.state, detail)
    return True


def record_creation(session: Session, ticket: Ticket, *, actor: str, at: datetime, detail: dict) -> None:
    _event(session, ticket.id, at, actor, "create", None, ticket.state, detail)


def history(session: Session, ticket_id: int) -> list[TicketEvent]:
    return list(session.scalars(select(TicketEvent).where(TicketEvent.ticket_id == ticket_id)
                                .order_by(TicketEvent.id)))
