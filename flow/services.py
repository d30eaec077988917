"""The flow's ports wired to the engine's domain packages and database.

Each feature that plugs into a call (restrictions, leader desk, emergency detection,
knowledge base, tickets) is passed in by the composition root; where a feature is not
given, the default here is the honest behaviour without it.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from callers import calls
from core.db import Batched, Database
from flow.events import CallStarted
from flow.ports import Answer, LeaderOnDuty, MessageReceipt, Progress, Restriction, RouteDecision
from flow.state import CallerInfo, CallState

log = logging.getLogger(__name__)


class DbCallLog:
    """Call records in the database (callers.calls)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def open(self, event: CallStarted, caller: CallerInfo, at: datetime) -> None:
        # written behind the call (SQLite: batched by the writer thread, before the batch's
        # closes, opens of a batch in one executemany); a call never waits on the disk for its record
        self.db.write_behind(Batched(calls.OPEN, calls.open_params(
            call_id=event.call_id, channel=event.channel, channel_ref=event.channel_ref,
            caller_key=caller.key, caller_kind=caller.kind, caller_name=event.caller_name,
            dnid=event.dnid, language=event.language, started_at=at), first=True), _log_failure)

    def close(self, state: CallState, at: datetime) -> None:
        outcome = calls.CallOutcome(
            outcome=state.outcome or "error", action=state.action, target=state.target,
            route=tuple(state.steps), hangup_point=state.hangup_point,
            transcript="\n".join(state.transcript), message_path=state.message_path,
            ticket_number=state.ticket, **kb_outcome(state),
        )
        # not waited for: the caller's hand-off does not wait on the disk; a record whose close
        # is lost in a crash is closed by callers.calls.close_stale at the next start
        self.db.write_behind(Batched(calls.CLOSE, calls.close_params(state.call_id, outcome, at)), _log_failure)


def kb_outcome(state: CallState) -> dict:
    """What self-service did on this call, for the call record (reports, knowledge gaps)."""
    offered, best = state.data.get("kb_answer"), state.data.get("kb_best")
    if offered:
        result = "not_solved" if offered.get("not_solved") else (
            "solved" if state.outcome == "self_served" else None)
        return {"kb_entry": offered["id"], "kb_score": offered["score"], "kb_result": result}
    if best:
        return {"kb_entry": best["id"], "kb_score": best["score"], "kb_result": "low_confidence"}
    if state.transcript:
        return {"kb_entry": None, "kb_score": None, "kb_result": "no_match"}
    return {}


def _log_failure(exc: BaseException) -> None:
    # outages are logged once by Database.incident; what arrives here is kept writes dropped
    # after a long outage, or a write that was itself wrong
    log.error("call record not written: %s", exc.__class__.__name__)


class EngineServices:
    """Implements flow.ports.FlowServices."""

    def __init__(self, db: Database, queue_for_language: Callable[[str], str], *,
                 speech_available: bool = False,
                 restrictions: Callable[[CallerInfo, str, datetime], Restriction | None] | None = None,
                 leaders: Callable[[datetime], LeaderOnDuty | None] | None = None,
                 emergency: Callable[[str], str | None] | None = None,
                 knowledge: Callable[[str, str], Answer | None] | None = None,
                 messages: Callable[[CallState, str, int, datetime], MessageReceipt] | None = None,
                 self_service: Callable[[CallState, dict, datetime], str | None] | None = None,
                 progress: Callable[[str, CallerInfo, datetime], Progress] | None = None,
                 router=None,
                 leader_calls: Callable[[CallState, datetime], str | None] | None = None,
                 ratings: Callable[[str, str, int, datetime], bool] | None = None) -> None:
        self.db = db
        self.queue_for_language = queue_for_language
        self.speech_available = speech_available
        self._restrictions = restrictions
        self._leaders = leaders
        self._emergency = emergency
        self._knowledge = knowledge
        self._messages = messages
        self._self_service = self_service
        self._progress = progress
        self._router = router            # routing.router.Router (queue state, hours, priority, call-backs)
        self._leader_calls = leader_calls
        self._ratings = ratings

    def restriction(self, caller: CallerInfo, call_id: str, now: datetime) -> Restriction | None:
        # without a blocklist nobody is restricted
        return self._restrictions(caller, call_id, now) if self._restrictions else None

    def leader_on_duty(self, now: datetime) -> LeaderOnDuty | None:
        return self._leaders(now) if self._leaders else None

    def emergency(self, text: str) -> str | None:
        return self._emergency(text) if self._emergency else None

    def answer(self, text: str, language: str) -> Answer | None:
        # without a knowledge base nothing is answered automatically: the transcript goes to a person
        return self._knowledge(text, language) if self._knowledge else None

    def queue_for(self, state: CallState, now: datetime) -> str:
        return self.queue_for_language(state.language)

    def route(self, state: CallState, now: datetime) -> RouteDecision:
        # without routing: the language's queue, always (the dialplan still falls back to a message)
        if self._router is None:
            return RouteDecision(queue=self.queue_for_language(state.language))
        # the flow asked about priority before the greeting; not asking the registry twice
        route = self._router.route(state.caller.key, state.language, now,
                                   is_priority=bool(state.data.get("priority_caller")))
        return RouteDecision(queue=route.queue, priority=route.priority, offer=route.offer, staffed=route.staffed,
                             callback=bool(route.offer) and self._router.can_call_back(state.caller.key))

    def language_for(self, caller: CallerInfo, call_id: str) -> tuple[str | None, str]:
        if self._router is None:
            return None, "default"
        return self._router.language_for(caller.key, None, call_id=call_id)

    def is_priority(self, caller: CallerInfo) -> bool:
        return bool(self._router is not None and caller.key and self._router.is_priority(caller.key))

    def request_callback(self, state: CallState, queue: str, now: datetime) -> bool:
        if self._router is None:
            return False
        return self._router.request_callback(state.caller.key, queue, state.language, state.call_id, now) is not None

    def leader_call(self, state: CallState, now: datetime) -> str | None:
        return self._leader_calls(state, now) if self._leader_calls else None

    def take_message(self, state: CallState, path: str, duration_ms: int, now: datetime) -> MessageReceipt:
        if self._messages:
            return self._messages(state, path, duration_ms, now)
        # without tickets the recording is kept and linked on the call record (state.message_path)
        return MessageReceipt(ticket=None)

    def ticket_progress(self, number: str, caller: CallerInfo, now: datetime) -> Progress:
        # without tickets there is no ticket to find
        return self._progress(number, caller, now) if self._progress else Progress(found=False)

    def self_served(self, state: CallState, answer: dict, now: datetime) -> str | None:
        return self._self_service(state, answer, now) if self._self_service else None

    def rate(self, subject: str, call_id: str, rating: int, now: datetime) -> bool:
        if self._ratings:
            return self._ratings(subject, call_id, rating, now)
        with self.db.session() as s:
            return calls.record_rating(s, subject, rating, now)
