"""Creating tickets: numbers, deadlines, duplicates, messages, consultations answered at once.

Functions here work inside the caller's session and never commit; ``tickets.desk.TicketDesk``
wraps them in their own transactions for the phone.  The other operations live in
``tickets.handling`` (dispatch → closure), ``tickets.followup`` (ratings, progress, return
visits) and ``tickets.jobs`` (overdue marking, provisional deadlines); they are re-exported here.
"""
from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from core.clock import require_aware
from tickets import lifecycle as lc
from tickets import numbers
from tickets.dispatch import features
from tickets.lookup import deadline_for, find_ticket, get_ticket, get_unit
from tickets.models import KINDS, Ticket, TicketCall
from workcal.calendar import WorkCalendar
from workcal.deadlines import DEFAULT_DAYS

__all__ = [
    "Created", "create_ticket", "find_ticket", "get_ticket", "find_duplicate", "similarity",
    "create_from_message", "record_self_service", "attach_transcript", "deadline_for",
    # re-exported
    "dispatch", "auto_dispatch", "accept", "decline", "request_extension", "decide_extension",
    "submit_report", "review", "reopen", "refuse", "rate", "progress", "Progress",
    "return_visit_list", "record_return_visit", "mark_deadlines", "recompute_provisional",
]


@dataclass(frozen=True)
class Created:
    ticket: Ticket
    duplicate: bool = False        # True: linked to this existing open ticket, nothing new made


def similarity(a: str, b: str) -> float:
    """Cosine of the character-bigram counts of two texts (0 … 1)."""
    ca, cb = Counter(features(a)), Counter(features(b))
    if not ca or not cb:
        return 0.0
    dot = sum(v * cb[k] for k, v in ca.items())
    return dot / math.sqrt(sum(v * v for v in ca.values()) * sum(v * v for v in cb.values()))


def find_duplicate(session: Session, caller_key: str, text: str, now: datetime, *,
                   window_days: int = 30, threshold: float = 0.5) -> Ticket | None:
    """The caller's open ticket, received within the window, that this request repeats."""
    if not caller_key or not text.strip():
        return None              # a withheld caller or an empty request matches nothing
    candidates = session.scalars(
        select(Ticket).where(Ticket.caller_key == caller_key, Ticket.state.in_(lc.OPEN_STATES),
                             Ticket.received_at >= now - timedelta(days=window_days))
        .order_by(Ticket.received_at.desc()))
    best, best_score = None, threshold
    for ticket in candidates:
        score = similarity(text, ticket.content or ticket.transcript)
        if score >= best_score:
            best, best_score = ticket, score
    return best


def create_ticket(session: Session, *, kind: str, content: str, received_at: datetime, zone: ZoneInfo,
                  calendar: WorkCalendar, caller_key: str = "", caller_name: str = "",
                  call_id: str | None = None, source: str = "agent", actor: str = "agent",
                  transcript: str = "", recording_path: str | None = None, language: str = "cmn",
                  unit: str | None = None, region: str = "", tags: Iterable[str] = (),
                  days: Mapping[str, int] = DEFAULT_DAYS, dedup: bool = True,
                  duplicate_window_days: int = 30, duplicate_similarity: float = 0.5,
                  closed_by: str | None = None, close_note: str = "") -> Created:
    """A new ticket (number, deadline, history), or the caller's open ticket it repeats.

    ``unit`` dispatches it at once; ``closed_by`` records it closed on creation (a
    consultation answered at once).  Nothing is committed here.
    """
    require_aware(received_at, "received_at")
    if kind not in KINDS:
        raise lc.TicketError(f"unknown kind {kind!r}; kinds are {', '.join(KINDS)}")
    text = (content or transcript or "").strip()
    if dedup and closed_by is None:
        existing = find_duplicate(session, caller_key, text, received_at, window_days=duplicate_window_days,
                                  threshold=duplicate_similarity)
        if existing is not None:
            link_repeat(session, existing, call_id=call_id, text=text, actor=actor, at=received_at)
            return Created(existing, duplicate=True)
    target = get_unit(session, unit) if unit else None
    number = numbers.next_number(session, received_at, zone)   # the first write: takes the lock
    deadline = deadline_for(calendar, kind, received_at, zone, days[kind])
    ticket = Ticket(
        number=number, kind=kind, state=lc.RECEIVED, version=1, source=source, caller_key=caller_key or "",
        caller_name=(caller_name or "")[:80], call_id=call_id, language=language, content=content or "",
        transcript=transcript or "", recording_path=recording_path, region=region or "",
        tags=",".join(sorted({t.strip() for t in tags if t.strip()})), received_at=received_at, zone=zone.key,
        working_days=deadline.working_days, due_date=deadline.due_date, due=deadline.due,
        provisional=deadline.provisional, due_soon=False, overdue=False, review=False, repeats=0,
        updated_at=received_at)
    session.add(ticket)
    session.flush()
    if call_id:
        session.add(TicketCall(ticket_id=ticket.id, call_id=call_id, at=received_at,
                               role="self_service" if source == "self_service" else "filed"))
    lc.record_creation(session, ticket, actor=actor, at=received_at, detail={
        "kind": kind, "source": source, "call_id": call_id, "due_date": deadline.due_date.isoformat(),
        "provisional": deadline.provisional, "recording": recording_path})
    if target is not None:
        lc.transition(session, ticket, "dispatch", actor=actor, at=received_at, unit_id=target.id,
                      detail={"unit": target.code})
    if closed_by is not None:
        lc.transition(session, ticket, "close", actor=closed_by, at=received_at, closed_at=received_at,
                      detail={"note": close_note, "closed_on_creation": True})
    return Created(ticket)


def link_repeat(session: Session, ticket: Ticket, *, call_id: str | None, text: str, actor: str,
                at: datetime) -> None:
    """A repeated request: the call is linked to the ticket and the repeat is in its history."""
    if call_id and session.get(TicketCall, (ticket.id, call_id)) is None:
        session.add(TicketCall(ticket_id=ticket.id, call_id=call_id, at=at, role="repeat"))
    session.execute(update(Ticket).where(Ticket.id == ticket.id).values(repeats=Ticket.repeats + 1)
                    .execution_options(synchronize_session=False))
    lc.note(session, ticket, "repeat", actor=actor, at=at, detail={"call_id": call_id, "text": text[:2000]})
    session.refresh(ticket)


def create_from_message(session: Session, *, caller_key: str, call_id: str, recording_path: str,
                        transcript: str, language: str, received_at: datetime, zone: ZoneInfo,
                        calendar: WorkCalendar, kind: str = "help", caller_name: str = "",
                        days: Mapping[str, int] = DEFAULT_DAYS, duplicate_window_days: int = 30,
                        duplicate_similarity: float = 0.5) -> Created:
    """A left message: always kept with its recording; the transcript, when there is one."""
    created = create_ticket(
        session, kind=kind, content=transcript or "", transcript=transcript or "", received_at=received_at,
        zone=zone, calendar=calendar, caller_key=caller_key, caller_name=caller_name, call_id=call_id,
        source="message", actor="message", recording_path=recording_path, language=language, days=days,
        duplicate_window_days=duplicate_window_days, duplicate_similarity=duplicate_similarity)
    if created.duplicate and recording_path:
        lc.note(session, created.ticket, "recording", actor="message", at=received_at,
                detail={"call_id": call_id, "recording": recording_path})
    return created


def record_self_service(session: Session, *, caller_key: str, call_id: str | None, question: str,
                        received_at: datetime, answer: str = "", zone: ZoneInfo, calendar: WorkCalendar,
                        language: str = "cmn", answered_by: str = "kb", entry_id: str = "",
                        days: Mapping[str, int] = DEFAULT_DAYS) -> Ticket:
    """A consultation answered at once (knowledge base or agent): a consult ticket closed on creation."""
    content = question.strip() or "（自助服务咨询）"
    note = f"knowledge entry {entry_id}: {answer}" if entry_id else answer
    return create_ticket(
        session, kind="consult", content=content, transcript=question, received_at=received_at, zone=zone,
        calendar=calendar, caller_key=caller_key, call_id=call_id,
        source="self_service" if answered_by == "kb" else "agent", actor=answered_by, language=language,
        days=days, dedup=False, closed_by=answered_by, close_note=note[:4000]).ticket


def attach_transcript(session: Session, number: str, transcript: str, *, at: datetime,
                      actor: str = "speech") -> Ticket:
    """The transcript of a message, once recognised; the content too while it is still empty."""
    ticket = get_ticket(session, number)
    values = {"transcript": transcript}
    if not ticket.content:
        values["content"] = transcript
    return lc.note(session, ticket, "transcript", actor=actor, at=at, detail={"chars": len(transcript)},
                   **values)


from tickets.followup import Progress, progress, rate, record_return_visit, return_visit_list  # noqa: E402
from tickets.handling import (accept, auto_dispatch, decide_extension, decline, dispatch,  # noqa: E402
                              refuse, reopen, request_extension, review, submit_report)
from tickets.jobs import mark_deadlines, recompute_provisional  # noqa: E402
