"""Call-backs: a caller who could not be answered asks to be called back; a scheduled job places
the call through the manager's ``Originate`` when an agent of the queue is free, and records it.

States: ``requested`` → ``placing`` (Originate sent) → ``placed`` (the citizen answered and joined
the queue), or back to ``requested`` after a failed attempt (no answer, busy, error), until
``max_attempts`` attempts have failed → ``failed``. An admin may ``cancel`` an open request.
Every Originate is kept as a :class:`~routing.models.CallbackAttempt`.

The call: ``Originate Channel: Local/<number>@<context>`` with ``Context: <context>``,
``Exten: connect`` (extensions_hotline.conf ``[hotline-callback]``): Asterisk runs
``<context>,<number>,1``, which dials the citizen; when they answer, the other half of the Local
channel runs ``<context>,connect,1``, which puts them in ``HOTLINE_TARGET``'s queue.

Only a person's number (mobile, landline, international — ``callers.numbers``) is called back;
numbers appear masked in every log line.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone, tzinfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from callers.numbers import InvalidNumber, PhoneNumber, normalize
from core.clock import require_aware, utcnow
from routing.ami import AmiActionError, AmiError, new_action_id
from routing.hours import StaffedHours, hours_for
from routing.models import (CANCELLED, FAILED, OPEN_STATES, PLACED, PLACING, REQUESTED, Callback,
                            CallbackAttempt)
from workcal.calendar import WorkCalendar

log = logging.getLogger(__name__)

CONNECT_EXTEN = "connect"
GRACE_S = 15                     # after the ring time, how long an OriginateResponse is awaited

# OriginateResponse Reason (Asterisk's control frame of the outcome) → (attempt result, words)
REASONS = {0: ("failed", "the call could not be placed (no such number or channel failure)"),
           1: ("failed", "hung up before answering"),
           3: ("no_answer", "rang with no answer"),
           4: ("placed", "answered"),
           5: ("busy", "busy"),
           8: ("failed", "network congestion")}


class CallbackError(ValueError):
    """One clear message: this number or state does not allow it."""


@dataclass(frozen=True)
class CallbackPolicy:
    context: str = "hotline-callback"
    max_attempts: int = 3
    ring_s: int = 30
    retry_s: int = 300
    caller_id: str = "12345"
    hours: StaffedHours = field(default_factory=lambda: StaffedHours.parse("daily 08:00-21:00"))
    grace_s: int = GRACE_S

    @classmethod
    def from_settings(cls, settings) -> "CallbackPolicy":
        return cls(context=settings.callback_context, max_attempts=settings.callback_max_attempts,
                   ring_s=settings.callback_ring_s, retry_s=settings.callback_retry_s,
                   caller_id=settings.callback_caller_id, hours=StaffedHours.parse(settings.callback_hours))


def callable_number(key: str) -> PhoneNumber:
    """The number behind a caller key, if a person there can be called back."""
    try:
        number = normalize(key)
    except InvalidNumber as exc:
        raise CallbackError(str(exc)) from None
    if not number.blockable:
        raise CallbackError(f"a {number.kind} number cannot be called back")
    return number


def dial_digits(number: PhoneNumber) -> str:
    """What the [hotline-callback] context dials: national digits, or 00 + an international number."""
    if number.kind == "international":
        return "00" + number.key.lstrip("+")
    return number.key


def callback_channel(number: PhoneNumber, context: str) -> str:
    return f"Local/{dial_digits(number)}@{context}"


# -- requests ------------------------------------------------------------------------------

def request(session: Session, *, caller_key: str, queue: str, language: str, now: datetime,
            call_id: str | None = None) -> Callback:
    """Record a call-back request; an open request for the same number is returned as it is."""
    require_aware(now, "now")
    number = callable_number(caller_key)
    existing = session.scalars(select(Callback).where(Callback.number_key == number.key,
                                                      Callback.state.in_(OPEN_STATES))
                               .order_by(Callback.id).limit(1)).first()
    if existing is not None:
        return existing
    cb = Callback(number_key=number.key, queue=queue[:64], language=language[:8],
                  call_id=(call_id or None) and call_id[:32], requested_at=now, state=REQUESTED,
                  attempts=0, updated_at=now)
    session.add(cb)
    session.flush()
    log.info("call-back #%d requested by %s for %s", cb.id, number.masked, queue)
    return cb


def cancel(session: Session, callback_id: int, *, by: str, now: datetime, reason: str = "") -> Callback:
    require_aware(now, "now")
    by = (by or "").strip()
    if not by or len(by) > 80:
        raise CallbackError("say who cancels it (--by NAME, at most 80 characters)")
    cb = session.get(Callback, callback_id, with_for_update=True)
    if cb is None:
        raise CallbackError(f"no call-back #{callback_id}")
    if cb.state not in OPEN_STATES:
        raise CallbackError(f"call-back #{callback_id} is already {cb.state}")
    cb.state, cb.ended_at, cb.ended_by, cb.updated_at = CANCELLED, now, by, now
    if reason.strip():
        cb.last_error = f"cancelled: {reason.strip()}"
    session.flush()
    return cb


def list_callbacks(session: Session, *, state: str | None = None, limit: int = 200) -> list[Callback]:
    query = select(Callback).order_by(Callback.id.desc()).limit(limit)
    if state:
        query = query.where(Callback.state == state)
    return list(session.scalars(query))


def attempts_of(session: Session, callback_id: int) -> list[CallbackAttempt]:
    return list(session.scalars(select(CallbackAttempt).where(CallbackAttempt.callback_id == callback_id)
                                .order_by(CallbackAttempt.id)))


def as_json(cb: Callback, zone: tzinfo, *, masked: bool = True) -> dict:
    def iso(t):
        return t.astimezone(zone).isoformat() if t else None
    number = cb.number_key
    if masked:
        try:
            number = normalize(cb.number_key).masked
        except InvalidNumber:
            number = "****"
    return {"id": cb.id, "number": number, "queue": cb.queue, "language": cb.language, "call_id": cb.call_id,
            "state": cb.state, "attempts": cb.attempts, "requested_at": iso(cb.requested_at),
            "last_attempt_at": iso(cb.last_attempt_at), "placed_at": iso(cb.placed_at),
            "ended_at": iso(cb.ended_at), "ended_by": cb.ended_by, "last_error": cb.last_error,
            "action_id": cb.action_id}


def _masked(key: str) -> str:
    try:
        return normalize(key).masked
    except InvalidNumber:
        return "****"


def _attempt_ended(session: Session, cb: Callback, attempt: CallbackAttempt | None, result: str, detail: str,
                   at: datetime, max_attempts: int) -> None:
    if attempt is not None:
        attempt.result, attempt.detail, attempt.ended_at = result, detail, at
    cb.updated_at = at
    if result == "placed":
        cb.state, cb.placed_at, cb.ended_at, cb.last_error = PLACED, at, at, None
        log.info("call-back #%d placed: %s answered, now in %s", cb.id, _masked(cb.number_key), cb.queue)
        return
    cb.last_error = detail
    if cb.attempts >= max_attempts:
        cb.state, cb.ended_at = FAILED, at
        log.warning("call-back #%d to %s failed after %d attempt(s): %s", cb.id, _masked(cb.number_key),
                    cb.attempts, detail)
    else:
        cb.state = REQUESTED
        log.info("call-back #%d to %s, attempt %d: %s; will try again", cb.id, _masked(cb.number_key),
                 cb.attempts, detail)


# -- the job -------------------------------------------------------------------------------

class CallbackPlacer:
    """The scheduled job: place due call-backs where an agent is free; record every attempt.

    ``client`` is a :class:`routing.ami.AmiClient` (None: AMI off, nothing is placed).
    ``queue_state(queue)`` gives the queue's current state (None: unknown → nothing placed
    there: a call-back is placed only when an agent is known to be free).
    """

    def __init__(self, db, client, policy: CallbackPolicy, *, queue_state: Callable[[str], object],
                 staffed: Mapping[str, StaffedHours] | None = None,
                 calendar: Callable[[], WorkCalendar] = WorkCalendar, zone: tzinfo = timezone.utc,
                 clock: Callable[[], datetime] = utcnow, batch: int = 50) -> None:
        self.db, self.client, self.policy = db, client, policy
        self.queue_state, self.staffed = queue_state, dict(staffed or {})
        self.calendar, self.zone, self.clock, self.batch = calendar, zone, clock, batch

    def run(self, now: datetime | None = None) -> dict:
        now = require_aware(now or self.clock(), "now")
        summary = {"placed": 0, "retry": 0, "failed": 0, "sent": 0, "recovered": 0, "skipped": None}
        summary["recovered"] = self._recover_stale(now)
        if self.client is None:
            summary["skipped"] = "ami_off"
            return summary
        cal = self.calendar()
        if not self.policy.hours.is_open(now, cal, self.zone):
            summary["skipped"] = "outside_callback_hours"
            return summary
        with self.db.read_session() as s:
            due = s.execute(
                select(Callback.id, Callback.queue).where(
                    Callback.state == REQUESTED,
                    (Callback.last_attempt_at.is_(None))
                    | (Callback.last_attempt_at <= now - timedelta(seconds=self.policy.retry_s)))
                .order_by(Callback.requested_at, Callback.id).limit(self.batch)).all()
        by_queue: dict[str, list[int]] = {}
        for callback_id, queue in due:
            by_queue.setdefault(queue, []).append(callback_id)
        pending = []
        for queue, ids in by_queue.items():
            if not hours_for(self.staffed, queue).is_open(now, cal, self.zone):
                continue
            state = self.queue_state(queue)
            if state is None:
                continue
            free = state.available - state.callers       # live callers first
            for callback_id in ids[:max(0, free)]:
                sent = self._send(callback_id, now, summary)
                if sent is not None:
                    pending.append(sent)
        self._collect(pending, summary)
        return summary

    def _recover_stale(self, now: datetime) -> int:
        """A 'placing' left by a run that died waiting: counted as a failed attempt."""
        limit = now - timedelta(seconds=self.policy.ring_s + self.policy.grace_s + 60)
        with self.db.session() as s:
            stale = list(s.scalars(select(Callback).where(Callback.state == PLACING,
                                                          Callback.last_attempt_at < limit)))
            for cb in stale:
                attempt = s.scalars(select(CallbackAttempt).where(CallbackAttempt.callback_id == cb.id,
                                                                  CallbackAttempt.action_id == (cb.action_id or ""))
                                    .order_by(CallbackAttempt.id.desc()).limit(1)).first()
                _attempt_ended(s, cb, attempt, "lost", "no answer from the manager about this attempt",
                               now, self.policy.max_attempts)
        return len(stale)

    def _send(self, callback_id: int, now: datetime, summary: dict):
        action_id = new_action_id()
        with self.db.session() as s:
            cb = s.get(Callback, callback_id, with_for_update=True)
            if cb is None or cb.state != REQUESTED:      # cancelled meanwhile
                return None
            try:
                number = callable_number(cb.number_key)
            except CallbackError as exc:
                cb.state, cb.ended_at, cb.last_error, cb.updated_at = FAILED, now, str(exc), now
                summary["failed"] += 1
                return None
            cb.state, cb.attempts, cb.last_attempt_at, cb.action_id, cb.updated_at = (
                PLACING, cb.attempts + 1, now, action_id, now)
            attempt = CallbackAttempt(callback_id=cb.id, at=now, action_id=action_id, result="placing", detail="")
            s.add(attempt)
            s.flush()
            attempt_id, queue, language = attempt.id, cb.queue, cb.language
        try:
            handle = self.client.originate(
                callback_channel(number, self.policy.context), context=self.policy.context, exten=CONNECT_EXTEN,
                ring_timeout_s=self.policy.ring_s, caller_id=f'"12345" <{self.policy.caller_id}>',
                variables={"HOTLINE_TARGET": queue, "HOTLINE_LANG": language, "HOTLINE_CALLBACK": str(callback_id)},
                action_id=action_id)
        except AmiError as exc:
            result = "failed" if isinstance(exc, AmiActionError) else "error"
            self._finish(callback_id, attempt_id, result, str(exc), summary)
            return None
        summary["sent"] += 1
        log.info("call-back #%d: Originate to %s queued (attempt action %s)", callback_id, number.masked, action_id)
        return callback_id, attempt_id, handle

    def _collect(self, pending: list, summary: dict) -> None:
        deadline = time.monotonic() + self.policy.ring_s + self.policy.grace_s
        for callback_id, attempt_id, handle in pending:
            try:
                event = handle.wait(max(0.0, deadline - time.monotonic()))
            except AmiError as exc:
                self._finish(callback_id, attempt_id, "lost", f"manager connection lost: {exc}", summary)
                continue
            if event is None:
                handle.cancel()
                self._finish(callback_id, attempt_id, "lost", "no OriginateResponse in time", summary)
                continue
            try:
                reason = int(event.get("Reason", 0))
            except (TypeError, ValueError):
                reason = 0
            if event.get("Response") == "Success":
                self._finish(callback_id, attempt_id, "placed", "answered", summary)
            else:
                result, words = REASONS.get(reason, ("failed", f"failed (reason {reason})"))
                self._finish(callback_id, attempt_id, "failed" if result == "placed" else result, words, summary)

    def _finish(self, callback_id: int, attempt_id: int, result: str, detail: str, summary: dict) -> None:
        at = self.clock()
        with self.db.session() as s:
            cb = s.get(Callback, callback_id, with_for_update=True)
            attempt = s.get(CallbackAttempt, attempt_id)
            if cb is None or cb.state != PLACING:
                if attempt is not None:       # cancelled while ringing: keep what happened
                    attempt.result, attempt.detail, attempt.ended_at = result, detail, at
                return
            _attempt_ended(s, cb, attempt, result, detail[:500], at, self.policy.max_attempts)
            key = "placed" if cb.state == PLACED else ("failed" if cb.state == FAILED else "retry")
        summary[key] += 1
