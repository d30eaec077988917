"""One call's run through a flow: identify the caller, keep the call record, never fail silent.

Channels drive a CallSession: ``begin`` with the CallStarted event, then ``feed`` each event
the previous turn's input action produced. Whatever goes wrong inside, the caller is handed
to the agent queue and the call record is closed once.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from callers.numbers import InvalidNumber, normalize
from core import metrics
from core.logs import mask_number
from flow.actions import QUEUE, HandOff, Play
from flow import prompts as P
from flow.events import CallStarted, Event
from flow.state import CallerInfo, CallState

log = logging.getLogger(__name__)


class CallLog(Protocol):
    def open(self, event: CallStarted, caller: CallerInfo, at: datetime) -> None: ...

    def close(self, state: CallState, at: datetime) -> None: ...


class Flow(Protocol):
    route: str

    def start(self, event: CallStarted, caller: CallerInfo) -> tuple[CallState, list]: ...

    def handle(self, state: CallState, event: Event) -> tuple[CallState, list]: ...


def identify(number: str | None, default_area_code: str | None = None) -> CallerInfo:
    try:
        n = normalize(number, default_area_code=default_area_code)
    except InvalidNumber:
        return CallerInfo(key="", kind="invalid", masked="invalid", blockable=False)
    return CallerInfo(key=n.key, kind=n.kind, masked=n.masked, blockable=n.blockable)


class CallSession:
    def __init__(self, flow: Flow, calls: CallLog, clock: Callable[[], datetime],
                 fallback_queue: Callable[[str], str], default_area_code: str | None = None,
                 state: CallState | None = None,
                 outage: Callable[[BaseException], bool] | None = None) -> None:
        self.flow = flow
        self.calls = calls
        self.clock = clock
        self.fallback_queue = fallback_queue
        self.default_area_code = default_area_code
        self.state = state
        # outage(exc): True when exc means a dependency (the database) is away; it logs that once
        # per incident, so an outage does not write one traceback per call
        self.outage = outage or (lambda exc: False)

    @property
    def done(self) -> bool:
        return self.state is not None and self.state.done

    def begin(self, event: CallStarted) -> list:
        caller = identify(event.caller_number, self.default_area_code)
        log.info("call %s from %s (%s) route=%s lang=%s", event.call_id, caller.masked, caller.kind,
                 event.route, event.language)
        self._safe(self.calls.open, event, caller, self.clock())
        try:
            self.state, actions = self.flow.start(event, caller)
        except Exception as exc:
            if not self.outage(exc):
                log.exception("call %s: flow failed at start; handing to the queue", event.call_id)
            self.state = CallState(call_id=event.call_id, route=event.route, language=event.language,
                                   channel=event.channel, caller=caller, mode=event.mode)
            return self._fail()
        return self._after(actions)

    def feed(self, event: Event) -> list:
        if self.state is None:
            raise RuntimeError("feed() before begin()")
        if self.state.done:
            return []
        try:
            self.state, actions = self.flow.handle(self.state, event)
        except Exception as exc:
            if not self.outage(exc):
                log.exception("call %s: flow failed at step %s; handing to the queue",
                              self.state.call_id, self.state.step)
            return self._fail()
        return self._after(actions)

    def fail(self, reason: str) -> list:
        """A channel error (not a hang-up): the caller goes to a person."""
        if self.state is None or self.state.done:
            return []
        log.warning("call %s: %s; handing to the queue", self.state.call_id, reason)
        return self._fail()

    def _fail(self) -> list:
        state = self.state
        state.enter("error")
        state.done, state.outcome, state.action = True, "error", QUEUE
        state.target = self.fallback_queue(state.language)
        self._ended(state)
        return [Play(P.TRANSFER_ERROR), HandOff(QUEUE, state.target)]

    def _after(self, actions: list) -> list:
        if self.state.done:
            self._ended(self.state)
        return actions

    def _ended(self, state: CallState) -> None:
        self._safe(self.calls.close, state, self.clock())
        metrics.labelled(metrics.CALLS, state.route, state.outcome or "unknown").inc()
        if state.action:
            metrics.labelled(metrics.HANDOFFS, state.action).inc()

    def _safe(self, fn, *args) -> None:
        try:
            fn(*args)
        except Exception as exc:  # noqa: BLE001 - the call goes on without its record
            if not self.outage(exc):
                log.error("call record not written (%s: %s); the call continues", exc.__class__.__name__,
                          str(exc)[:200])


__all__ = ["CallSession", "CallLog", "identify", "mask_number"]
