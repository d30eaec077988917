"""The routing decision, pure: no database, no socket, no clock of its own.

Given the caller's language (and skill, where configured), whether their number is registered
for priority, the live queue state (or None when unknown), the queues' staffed hours on the
holiday-aware calendar and ``now``, :func:`decide` returns a :class:`Route`:

* the queue — ``queues["<language>.<skill>"]`` when configured, else ``queues[language]``, else
  the default language's queue; when the language's queue is not staffed now but the default
  one is, the default one (a person who speaks Mandarin beats a message);
* the priority (Asterisk ``QUEUE_PRIO``): ``priority_level`` for registered numbers, else 0;
* ``offer``: None, or ``"message_or_callback"`` when no agent can answer — the queue is not
  staffed now, no agent is logged in, or the estimated wait exceeds ``overflow_wait_s``. The
  flow then offers the caller a message (1) or a call-back (2); 0 or silence still reaches the
  queue unless it is closed.

When the state is unknown (manager unreachable) the answer is always the queue, never an offer:
the caller is never dropped for want of information. Priority callers are never offered an
overflow (they go ahead of the queue), only the closed / no-agent cases.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, tzinfo

from routing.hours import StaffedHours, hours_for
from routing.state import QueueState
from workcal.calendar import WorkCalendar

OFFER_MESSAGE_OR_CALLBACK = "message_or_callback"

# Route.reason
STAFFED, STATE_UNKNOWN, CLOSED, NO_AGENTS, OVERFLOW, PRIORITY = (
    "staffed", "state_unknown", "closed", "no_agents", "overflow", "priority")


@dataclass(frozen=True)
class Route:
    queue: str
    priority: int = 0
    offer: str | None = None             # None | OFFER_MESSAGE_OR_CALLBACK
    reason: str = STAFFED
    language: str = "cmn"
    estimated_wait_s: int | None = None  # None when the state is unknown
    staffed: bool = True                 # is the queue staffed now (False: silence means a message)

    def as_json(self) -> dict:
        return {"queue": self.queue, "priority": self.priority, "offer": self.offer, "reason": self.reason,
                "language": self.language, "estimated_wait_s": self.estimated_wait_s, "staffed": self.staffed}


def queue_name(queues: Mapping[str, str], language: str, default_language: str, skill: str | None = None) -> str:
    if skill and f"{language}.{skill}" in queues:
        return queues[f"{language}.{skill}"]
    return queues.get(language) or queues[default_language]


def estimated_wait_s(state: QueueState, *, priority: bool = False) -> int:
    """A newcomer's expected wait from the queue's state.

    Free agents for everyone already waiting: 0. Otherwise, with N agents logged in and an
    average conversation of T seconds, the callers ahead (waiting minus free agents) plus this
    one are served N at a time: ceil((ahead + 1) · T / N); a priority caller is served first:
    ceil(T / N). Without a talk-time average yet, Asterisk's hold-time average or the current
    longest wait, whichever is larger.
    """
    if state.available > (0 if priority else state.callers):
        return 0
    agents = state.logged_in if state.logged_in is not None else state.available
    if state.talktime_s > 0 and agents and agents > 0:
        ahead = 0 if priority else max(0, state.callers - state.available)
        return int(math.ceil((ahead + 1) * state.talktime_s / agents))
    return max(state.holdtime_s, state.longest_wait_s)


def decide(*, language: str, queues: Mapping[str, str], default_language: str,
           states: Mapping[str, QueueState] | None, hours: Mapping[str, StaffedHours],
           calendar: WorkCalendar, now: datetime, zone: tzinfo, overflow_wait_s: int,
           priority: bool = False, priority_level: int = 10, skill: str | None = None) -> Route:
    if now.tzinfo is None:
        raise ValueError("now must carry a time zone")
    prio = priority_level if priority else 0
    queue = queue_name(queues, language, default_language, skill)
    staffed = hours_for(hours, queue).is_open(now, calendar, zone)
    if not staffed:
        fallback = queues[default_language]
        if fallback != queue and hours_for(hours, fallback).is_open(now, calendar, zone):
            queue, staffed = fallback, True
    if not staffed:
        return Route(queue, prio, OFFER_MESSAGE_OR_CALLBACK, CLOSED, language, None, staffed=False)
    state = None if states is None else states.get(queue)
    if state is None:
        return Route(queue, prio, None, STATE_UNKNOWN, language, None)
    if state.logged_in == 0:
        return Route(queue, prio, OFFER_MESSAGE_OR_CALLBACK, NO_AGENTS, language, None)
    wait = estimated_wait_s(state, priority=priority)
    if priority:
        return Route(queue, prio, None, PRIORITY, language, wait)
    if overflow_wait_s > 0 and wait > overflow_wait_s:
        return Route(queue, prio, OFFER_MESSAGE_OR_CALLBACK, OVERFLOW, language, wait)
    return Route(queue, prio, None, STAFFED, language, wait)


# where the call's language came from
FROM_DIALPLAN, FROM_HISTORY, FROM_DEFAULT, ASK = "dialplan", "history", "default", "ask"


def choose_language(explicit: str | None, history: str | None, default: str, *,
                    prompt: bool = False) -> tuple[str, str]:
    """(language, source): the dialplan's argument wins, then the caller's history; with neither,
    ``ASK`` when the short language prompt is on (the flow asks, 1 普通话 2 粤语 3 客家话, and
    uses ``default`` on silence), else the default."""
    if explicit:
        return explicit, FROM_DIALPLAN
    if history:
        return history, FROM_HISTORY
    return default, (ASK if prompt else FROM_DEFAULT)


LANGUAGE_KEYS = {"1": "cmn", "2": "yue", "3": "hak"}


def language_from_key(digits: str, default: str) -> str:
    """The language prompt's answer (1 普通话, 2 粤语, 3 客家话; anything else: ``default``)."""
    return LANGUAGE_KEYS.get((digits or "")[:1], default)
