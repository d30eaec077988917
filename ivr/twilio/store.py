"""The ``twilio_calls`` / ``twilio_turns`` rows, one short statement at a time.

Each function works inside the caller's session (``Database.write`` commits it). A request
*claims* a call (``busy_token`` with an expiry) before it runs the flow, and ``save`` stores the
new state and the turn's TwiML together only while it still holds the claim: two deliveries of
the same webhook never both run the flow, on one engine process or several.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert, or_, select, update
from sqlalchemy.orm import Session

from ivr.twilio.models import TwilioCall, TwilioTurn

_CALLS = TwilioCall.__table__
_TURNS = TwilioTurn.__table__


class ClaimLost(RuntimeError):
    """Another request took the call over (this one ran past its claim); nothing was stored."""


def create(session: Session, call_sid: str, call_id: str, token: str, now: datetime, until: datetime) -> bool:
    """A new call, claimed for its first turn; False if the CallSid is already known."""
    if load(session, call_sid) is not None:
        return False
    session.connection().execute(insert(_CALLS).values(
        call_sid=call_sid, call_id=call_id, state="", turn=-1, done=False, status="", busy_token=token,
        busy_until=until, created_at=now, updated_at=now))
    return True


def claim(session: Session, call_sid: str, token: str, now: datetime, until: datetime,
          after_turn: int | None = None) -> bool:
    """Take the call for one request, if nobody holds it (or their claim ran out) and, when
    ``after_turn`` is given, the last turn served is that one."""
    query = update(_CALLS).where(_CALLS.c.call_sid == call_sid,
                                 or_(_CALLS.c.busy_token.is_(None), _CALLS.c.busy_until < now))
    if after_turn is not None:
        query = query.where(_CALLS.c.turn == after_turn)
    return session.connection().execute(query.values(busy_token=token, busy_until=until)).rowcount == 1


def save(session: Session, call_sid: str, token: str, *, state: str, done: bool, now: datetime,
         turn: int | None = None, twiml: str | None = None, status: str | None = None,
         call_id: str | None = None) -> None:
    """The new state (and the turn's TwiML) in the caller's transaction; releases the claim.
    ``call_id``: the call record of a new leg (the message after an unanswered queue)."""
    values = {"state": state, "done": done, "busy_token": None, "busy_until": None, "updated_at": now}
    if call_id is not None:
        values["call_id"] = call_id
    if turn is not None:
        values["turn"] = turn
    if status is not None:
        values["status"] = status[:16]
    result = session.connection().execute(
        update(_CALLS).where(_CALLS.c.call_sid == call_sid, _CALLS.c.busy_token == token).values(**values))
    if result.rowcount != 1:
        raise ClaimLost(call_sid)
    if turn is not None and twiml is not None:
        session.connection().execute(insert(_TURNS).values(call_sid=call_sid, turn=turn, twiml=twiml,
                                                           created_at=now))


def release(session: Session, call_sid: str, token: str) -> None:
    session.connection().execute(update(_CALLS).where(_CALLS.c.call_sid == call_sid, _CALLS.c.busy_token == token)
                                 .values(busy_token=None, busy_until=None))


def set_status(session: Session, call_sid: str, status: str, now: datetime) -> None:
    session.connection().execute(update(_CALLS).where(_CALLS.c.call_sid == call_sid)
                                 .values(status=status[:16], updated_at=now))


def keep_recording(session: Session, call_sid: str, recording_sid: str, url: str, seconds: int,
                   now: datetime) -> None:
    session.connection().execute(update(_CALLS).where(_CALLS.c.call_sid == call_sid).values(
        recording_sid=recording_sid, recording_url=url, recording_s=seconds, updated_at=now))


def load(session: Session, call_sid: str):
    """The call's row (a plain Row, usable after the session ends), or None."""
    return session.execute(select(_CALLS).where(_CALLS.c.call_sid == call_sid)).one_or_none()


def served(session: Session, call_sid: str, turn: int) -> str | None:
    return session.execute(select(_TURNS.c.twiml).where(_TURNS.c.call_sid == call_sid,
                                                        _TURNS.c.turn == turn)).scalar_one_or_none()
