"""Call records: opened when a call starts, closed exactly once with what happened."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from callers.models import CallRecord

_NAME_MAX = 80
_CALLS = CallRecord.__table__
# Built once: these run twice per call, and building a statement costs more than running it.
OPEN = insert(_CALLS)
_CLOSED_FIELDS = ("ended_at", "outcome", "action", "target", "route", "hangup_point", "transcript",
                  "message_path", "ticket_number", "notes", "kb_entry", "kb_score", "kb_result")
CLOSE = (update(_CALLS)
          .where(_CALLS.c.id == bindparam("b_id"), _CALLS.c.ended_at.is_(None))
          .values({name: bindparam(f"v_{name}") for name in _CLOSED_FIELDS}))


def clean_name(name: str | None) -> str:
    """Caller ID names are caller-controlled: keep printable text only, bounded."""
    if not name or name == "unknown":
        return ""
    return "".join(ch for ch in name if ch.isprintable())[:_NAME_MAX]


@dataclass(frozen=True)
class CallOutcome:
    outcome: str
    action: str | None = None
    target: str | None = None
    route: tuple[str, ...] = ()
    hangup_point: str | None = None
    transcript: str = ""
    message_path: str | None = None
    ticket_number: str | None = None
    notes: str = ""
    kb_entry: str | None = None
    kb_score: float | None = None
    kb_result: str | None = None


def open_params(*, call_id: str, channel: str, channel_ref: str, caller_key: str, caller_kind: str,
                caller_name: str | None, dnid: str, language: str, started_at: datetime) -> dict:
    """The parameters of ``OPEN`` for one call (what ``open_call`` writes)."""
    return dict(
        id=call_id, channel=channel, channel_ref=(channel_ref or "")[:64], caller_key=caller_key,
        caller_kind=caller_kind, caller_name=clean_name(caller_name), dnid=(dnid or "")[:32],
        language=language, started_at=started_at, outcome="in_progress", route="", transcript="",
        notes="",
    )


def close_params(call_id: str, outcome: CallOutcome, ended_at: datetime) -> dict:
    """The parameters of ``CLOSE`` for one call (what ``close_call`` writes)."""
    values = dict(
        ended_at=ended_at, outcome=outcome.outcome, action=outcome.action,
        target=(outcome.target or None) and outcome.target[:80], route=",".join(outcome.route),
        hangup_point=outcome.hangup_point, transcript=outcome.transcript,
        message_path=outcome.message_path, ticket_number=outcome.ticket_number,
        notes=outcome.notes, kb_entry=outcome.kb_entry, kb_score=outcome.kb_score,
        kb_result=outcome.kb_result,
    )
    return {"b_id": call_id, **{f"v_{name}": values[name] for name in _CLOSED_FIELDS}}


def open_call(session: Session, **fields) -> None:
    # Core statements on the table: this runs twice per call on the hot path, and the ORM's
    # unit of work and bulk-update evaluation cost more than the write itself
    session.connection().execute(OPEN, open_params(**fields))


def close_call(session: Session, call_id: str, outcome: CallOutcome, ended_at: datetime) -> bool:
    """Close an open record; returns False if it was already closed (closing is idempotent)."""
    result = session.connection().execute(CLOSE, close_params(call_id, outcome, ended_at))
    return result.rowcount == 1


def record_rating(session: Session, call_id: str, rating: int, at: datetime) -> bool:
    if not 1 <= rating <= 5:
        raise ValueError("a rating is 1 (very satisfied) to 5 (very dissatisfied)")
    result = session.execute(
        update(CallRecord).where(CallRecord.id == call_id).values(rating=rating, rated_at=at)
    )
    return result.rowcount == 1


# what Asterisk reports after a hand-off (app_queue.c / app_dial.c result variables)
AGENT_STATUSES = {
    "queue": {"CONTINUE": True, "TIMEOUT": False, "FULL": False, "JOINEMPTY": False, "LEAVEEMPTY": False,
              "JOINUNAVAIL": False, "LEAVEUNAVAIL": False, "WITHDRAW": False, "UNKNOWN": False},
    "leader": {"ANSWER": True, "BUSY": False, "NOANSWER": False, "CHANUNAVAIL": False, "CONGESTION": False,
               "CANCEL": False, "DONTCALL": False, "TORTURE": False, "INVALIDARGS": False},
}
AGENT_STATUSES["emergency"] = AGENT_STATUSES["leader"]


def record_agent_status(session: Session, call_id: str, kind: str, status: str) -> bool:
    """The dialplan's report of what happened after the hand-off; unknown values are refused."""
    status = (status or "").strip().upper()
    answered = AGENT_STATUSES.get(kind, {}).get(status or "ABANDONED")
    if kind not in AGENT_STATUSES or (status and status not in AGENT_STATUSES[kind]):
        raise ValueError(f"unknown {kind!r} status {status[:20]!r}")
    result = session.connection().execute(
        update(_CALLS).where(_CALLS.c.id == call_id)
        .values(agent_status=status or "ABANDONED", agent_answered=bool(answered)))
    return result.rowcount == 1


def get_call(session: Session, call_id: str) -> CallRecord | None:
    return session.get(CallRecord, call_id)


def close_stale(session: Session, now: datetime, older_than: timedelta = timedelta(hours=2)) -> int:
    """Records left open by an engine that died mid-call are closed as 'error' with a note."""
    result = session.execute(
        update(CallRecord)
        .where(CallRecord.ended_at.is_(None), CallRecord.started_at < now - older_than)
        .values(ended_at=now, outcome="error", notes="closed after engine restart: call state lost")
    )
    return result.rowcount


def recent_calls(session: Session, caller_key: str, limit: int = 20) -> list[CallRecord]:
    return list(session.scalars(
        select(CallRecord).where(CallRecord.caller_key == caller_key)
        .order_by(CallRecord.started_at.desc()).limit(limit)
    ))
