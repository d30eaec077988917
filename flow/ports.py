"""What the flow needs from the rest of the engine, as small interfaces with plain data.

The composition root plugs real implementations in (``flow.services``); each port has a
working default there, so a feature that has not landed behaves honestly (nobody is
restricted, nothing is answered automatically, the caller reaches a person).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol

from flow.state import CallerInfo, CallState


@dataclass(frozen=True)
class Restriction:
    last_day: date               # the restriction is in force through this local day, 24:00
    until: datetime              # the instant it ends (next day's 00:00 local)
    ground: str


@dataclass(frozen=True)
class LeaderOnDuty:
    announcement: str            # e.g. "今天由市交通运输局张局长接听"
    seat: str                    # dial string of the leader seat
    session_id: str = ""


@dataclass(frozen=True)
class Answer:
    entry_id: str
    text: str
    score: float
    confident: bool
    audio: str | None = None


@dataclass(frozen=True)
class MessageReceipt:
    ticket: str | None           # ticket number once the ticket is committed
    due_date: date | None = None


@dataclass(frozen=True)
class RouteDecision:
    """Where a caller who asked for a person goes now."""
    queue: str
    priority: int = 0                # QUEUE_PRIO for the dialplan (elderly callers, 适老化)
    offer: str | None = None         # None: the queue | "message_or_callback": no agent can answer now
    staffed: bool = True             # the queue is staffed now (silence then still means the queue)
    callback: bool = False           # a call-back can be offered to this caller


@dataclass(frozen=True)
class Progress:
    """What a caller may hear about a ticket they typed in."""
    found: bool
    own: bool = False            # filed from this number (only then are details spoken)
    status: str = ""             # in_progress | awaiting_review | closed | not_accepted
    due_date: date | None = None


class FlowServices(Protocol):
    speech_available: bool

    def restriction(self, caller: CallerInfo, call_id: str, now: datetime) -> Restriction | None: ...

    def leader_on_duty(self, now: datetime) -> LeaderOnDuty | None: ...

    def emergency(self, text: str) -> str | None: ...

    def answer(self, text: str, language: str) -> Answer | None: ...

    def queue_for(self, state: CallState, now: datetime) -> str: ...

    def route(self, state: CallState, now: datetime) -> RouteDecision: ...

    def language_for(self, caller: CallerInfo, call_id: str) -> tuple[str, str]: ...

    def is_priority(self, caller: CallerInfo) -> bool: ...

    def request_callback(self, state: CallState, queue: str, now: datetime) -> bool: ...

    def leader_call(self, state: CallState, now: datetime) -> str | None: ...

    def take_message(self, state: CallState, path: str, duration_ms: int, now: datetime) -> MessageReceipt: ...

    def ticket_progress(self, number: str, caller: CallerInfo, now: datetime) -> Progress: ...

    def self_served(self, state: CallState, answer: dict, now: datetime) -> str | None: ...

    def rate(self, subject: str, call_id: str, rating: int, now: datetime) -> bool: ...
