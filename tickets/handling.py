"""A ticket's way through the handling unit: dispatch, acceptance, extensions, the closure
report and its review, reopening, and refusal (不予受理).  Inside the caller's session."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from tickets import lifecycle as lc
from tickets import refusals
from tickets.closure import ClosureCheck, check_report
from tickets.dispatch import UnitSuggester, route
from tickets.lookup import deadline_for, get_ticket, get_unit, unit_name
from tickets.models import ClosureReport, ExtensionRequest, Ticket
from workcal.calendar import WorkCalendar


class ReportRejected(lc.TicketError):
    """The closure report is not specific; ``check.missing`` names what it lacks."""

    def __init__(self, number: str, check: ClosureCheck) -> None:
        super().__init__(f"ticket {number}: {check.message_zh()} ({check.message_en()})")
        self.check = check


def _required(text: str | None, what: str) -> str:
    text = (text or "").strip()
    if not text:
        raise lc.TicketError(f"{what} must be given")
    return text


def dispatch(session: Session, number: str, unit_code: str, *, actor: str, now: datetime,
             note: str = "", source: str = "manual", expected_version: int | None = None) -> Ticket:
    ticket = get_ticket(session, number)
    unit = get_unit(session, unit_code)
    previous = unit_name(session, ticket.unit_id)
    return lc.transition(session, ticket, "dispatch", actor=actor, at=now, unit_id=unit.id,
                         expected_version=expected_version,
                         detail={"unit": unit.code, "previous_unit": previous, "source": source, "note": note})


def auto_dispatch(session: Session, number: str, *, actor: str, now: datetime,
                  suggester: UnitSuggester | None = None) -> Ticket:
    """Dispatch by the rules in force (else duties, else the learned suggestion)."""
    ticket = get_ticket(session, number)
    decision = route(session, kind=ticket.kind, text=ticket.content or ticket.transcript,
                     region=ticket.region, tags=ticket.tag_list, suggester=suggester)
    if decision.unit is None:
        raise lc.TicketError(f"ticket {ticket.number}: no rule, duty or suggestion points to a unit; "
                             f"dispatch it by hand (--unit)")
    return dispatch(session, number, decision.unit, actor=actor, now=now, source=decision.source,
                    note=str(decision.detail) if decision.detail else "")


def accept(session: Session, number: str, *, actor: str, now: datetime,
           expected_version: int | None = None) -> Ticket:
    ticket = get_ticket(session, number)
    return lc.transition(session, ticket, "accept", actor=actor, at=now, expected_version=expected_version,
                         detail={"unit": unit_name(session, ticket.unit_id)})


def decline(session: Session, number: str, *, reason: str, actor: str, now: datetime,
            expected_version: int | None = None) -> Ticket:
    """The unit sends a dispatched ticket back: not its duty (the reason is required)."""
    ticket = get_ticket(session, number)
    reason = _required(reason, "the reason for sending the ticket back")
    return lc.transition(session, ticket, "decline", actor=actor, at=now, unit_id=None,
                         expected_version=expected_version,
                         detail={"unit": unit_name(session, ticket.unit_id), "reason": reason})


def request_extension(session: Session, number: str, *, days: int, reason: str, actor: str, now: datetime,
                      max_days: int = 15) -> ExtensionRequest:
    ticket = get_ticket(session, number)
    reason = _required(reason, "the reason for an extension")
    if ticket.state not in (lc.DISPATCHED, lc.ACCEPTED, lc.RETURNED):
        raise lc.IllegalTransition(f"ticket {ticket.number} is {ticket.state}: only a ticket with its unit "
                                   f"can be extended")
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= max_days:
        raise lc.TicketError(f"an extension is 1 to {max_days} working days, not {days!r}")
    pending = session.scalars(select(ExtensionRequest).where(
        ExtensionRequest.ticket_id == ticket.id, ExtensionRequest.status == "pending")).first()
    if pending is not None:
        raise lc.TicketError(f"ticket {ticket.number} already has an extension request waiting (#{pending.id})")
    req = ExtensionRequest(ticket_id=ticket.id, days=days, reason=reason, requested_by=actor[:64],
                           requested_at=now, status="pending", decision_note="")
    session.add(req)
    session.flush()
    lc.note(session, ticket, "extension_requested", actor=actor, at=now,
            detail={"request": req.id, "days": days, "reason": reason})
    return req


def decide_extension(session: Session, number: str, *, approve: bool, actor: str, now: datetime,
                     calendar: WorkCalendar, zone: ZoneInfo, note: str = "") -> ExtensionRequest:
    """Approve (the deadline moves by the requested working days) or deny the pending request."""
    ticket = get_ticket(session, number)
    req = session.scalars(select(ExtensionRequest).where(
        ExtensionRequest.ticket_id == ticket.id, ExtensionRequest.status == "pending")).first()
    if req is None:
        raise lc.TicketError(f"ticket {ticket.number} has no extension request waiting")
    status = "approved" if approve else "denied"
    done = session.execute(update(ExtensionRequest).where(
        ExtensionRequest.id == req.id, ExtensionRequest.status == "pending").values(
        status=status, decided_by=actor[:64], decided_at=now, decision_note=note)
        .execution_options(synchronize_session=False))
    if done.rowcount != 1:
        raise lc.ConcurrentUpdate(f"extension request #{req.id} was decided by someone else")
    session.refresh(req)
    if not approve:
        lc.note(session, ticket, "extension_denied", actor=actor, at=now, detail={"request": req.id, "note": note})
        return req
    old = ticket.due_date
    deadline = deadline_for(calendar, ticket.kind, ticket.received_at, zone, ticket.working_days + req.days)
    lc.note(session, ticket, "extension_approved", actor=actor, at=now,
            detail={"request": req.id, "days": req.days, "old_due_date": old.isoformat(),
                    "due_date": deadline.due_date.isoformat(), "note": note},
            working_days=deadline.working_days, due_date=deadline.due_date, due=deadline.due,
            provisional=deadline.provisional, due_soon=False, overdue=False)
    return req


def submit_report(session: Session, number: str, body: str, *, actor: str, now: datetime,
                  expected_version: int | None = None) -> ClosureReport:
    """The unit's closure report: checked first; a report that is not specific writes nothing."""
    ticket = get_ticket(session, number)
    lc.check_version(ticket, expected_version)
    lc.target_state(ticket, "report")              # refuse early if the state does not allow it
    check = check_report(body, unit_name=unit_name(session, ticket.unit_id))
    if not check.ok:
        raise ReportRejected(ticket.number, check)
    report = ClosureReport(ticket_id=ticket.id, unit_id=ticket.unit_id, body=body.strip(),
                           resolved=check.resolved, submitted_by=actor[:64], submitted_at=now,
                           review="pending", review_note="")
    session.add(report)
    session.flush()
    lc.transition(session, ticket, "report", actor=actor, at=now,
                  detail={"report": report.id, "resolved": check.resolved})
    return report


def review(session: Session, number: str, *, approve: bool, actor: str, now: datetime, note: str = "",
           expected_version: int | None = None) -> Ticket:
    """Approve the report (the ticket is closed) or return the ticket to its unit (reason required)."""
    ticket = get_ticket(session, number)
    if not approve:
        note = _required(note, "the reason for returning the ticket")
    report = session.scalars(select(ClosureReport).where(ClosureReport.ticket_id == ticket.id)
                             .order_by(ClosureReport.id.desc()).limit(1)).first()
    action = "approve" if approve else "return"
    values = {"closed_at": now} if approve else {}
    lc.transition(session, ticket, action, actor=actor, at=now, expected_version=expected_version,
                  detail={"report": report.id if report else None, "note": note}, **values)
    if report is not None:
        report.review, report.reviewed_by, report.reviewed_at = ("approved" if approve else "returned"), actor, now
        report.review_note = note
    return ticket


def reopen(session: Session, number: str, *, reason: str, actor: str, now: datetime,
           expected_version: int | None = None) -> Ticket:
    """A closed (or refused) ticket opens again, back to its unit; the reason is required."""
    ticket = get_ticket(session, number)
    reason = _required(reason, "the reason for reopening")
    return lc.transition(session, ticket, "reopen", actor=actor, at=now, closed_at=None, refusal_code=None,
                         expected_version=expected_version,
                         detail={"reason": reason})


def refuse(session: Session, number: str, code: str, *, actor: str, now: datetime, note: str = "",
           duplicate_of: str | None = None, expected_version: int | None = None) -> str:
    """不予受理 with a reason code; returns the script the agent reads to the caller."""
    refusal = refusals.get(code)
    ticket = get_ticket(session, number)
    original = None
    if code == "repeat_no_new_facts":
        if not duplicate_of:
            raise lc.TicketError("a repeat is refused with the ticket it repeats (--duplicate-of NUMBER)")
        original = get_ticket(session, duplicate_of)
        if original.id == ticket.id:
            raise lc.TicketError("a ticket cannot repeat itself")
    lc.transition(session, ticket, "refuse", actor=actor, at=now, refusal_code=code, closed_at=now,
                  expected_version=expected_version,
                  duplicate_of=original.id if original else None,
                  detail={"code": code, "reason": refusal.zh, "note": note,
                          "duplicate_of": original.number if original else None})
    return refusals.script_for(code, original.number if original else None)
