"""The post-call rating (route ``survey``): 1 very satisfied … 5 very dissatisfied."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from flow import prompts as P
from flow.actions import HANGUP, CollectDigits, Hangup, Play
from flow.events import CallStarted, Digits, Event, HungUp
from flow.state import CallerInfo, CallState

Turn = tuple[CallState, list]


class SurveyFlow:
    route = "survey"

    def __init__(self, services, clock: Callable[[], datetime], timeout_ms: int = 5000) -> None:
        self.services = services
        self.clock = clock
        self.timeout_ms = timeout_ms

    def start(self, event: CallStarted, caller: CallerInfo) -> Turn:
        state = CallState(call_id=event.call_id, route=self.route, language=event.language,
                          channel=event.channel, caller=caller, subject=event.subject)
        state.enter("start")
        if not event.subject:
            state.enter("no_subject")
            return self._end(state, "error", [Play(P.SURVEY_UNAVAILABLE)])
        state.enter("ask")
        return state, [CollectDigits(P.SURVEY, 1, self.timeout_ms)]

    def handle(self, state: CallState, event: Event) -> Turn:
        if state.done:
            return state, []
        if isinstance(event, HungUp):
            state.hangup_point = state.step
            state.done, state.outcome, state.action = True, "abandoned", HANGUP
            return state, []
        if isinstance(event, Digits) and event.digits[:1] in "12345" and event.digits:
            rating = int(event.digits[0])
            state.data["rating"] = rating
            if not self.services.rate(state.subject, state.call_id, rating, self.clock()):
                state.enter("unknown_subject")
                return self._end(state, "error", [Play(P.SURVEY_UNAVAILABLE)])
            state.enter("rated")
            return self._end(state, "rated", [Play(P.SURVEY_THANKS)])
        if state.data.get("asked_again"):
            state.enter("unrated")
            return self._end(state, "unrated", [Play(P.GOODBYE)])
        state.data["asked_again"] = True
        return state, [CollectDigits(P.SURVEY, 1, self.timeout_ms)]

    @staticmethod
    def _end(state: CallState, outcome: str, outputs: list) -> Turn:
        state.done, state.outcome, state.action, state.target = True, outcome, HANGUP, ""
        return state, outputs + [Hangup()]
