"""What the call flow asks of routing, in one object the composition root builds once.

    router = Router.from_settings(db, settings)
    language, source = router.language_for(caller.key, explicit=lang_arg, call_id=call_id)
    route = router.route(caller.key, language, now)          # routing.decide.Route
    callback_id = router.request_callback(caller.key, route.queue, language, call_id, now)

Every method answers even when its sources fail: the database or the manager being away gives
the honest default (no history, no priority, state unknown → the language's queue), logged.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime

from core.clock import utcnow
from core.db import Database
from routing import callbacks, decide, priority
from routing.ami import AmiClient
from routing.hours import StaffedHours, hours_table
from routing.language import language_from_history
from routing.state import QueueStates
from workcal.calendar import WorkCalendar
from workcal.loader import calendar_from_db

log = logging.getLogger(__name__)


class Router:
    def __init__(self, db: Database, settings, client: AmiClient | None = None, *,
                 states: QueueStates | None = None, calendar_ttl_s: float = 300.0,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.db, self.settings, self.client, self.clock = db, settings, client, clock
        self.states = states or QueueStates.from_client(client, ttl=settings.queue_state_cache_s,
                                                        timeout=settings.ami_timeout_s)
        self.hours: dict[str, StaffedHours] = hours_table(settings.staffed_hours)
        self.policy = callbacks.CallbackPolicy.from_settings(settings)
        self._calendar: WorkCalendar | None = None
        self._calendar_at = 0.0
        self._calendar_ttl = calendar_ttl_s
        self._calendar_lock = threading.Lock()

    @classmethod
    def from_settings(cls, db: Database, settings, **kw) -> "Router":
        return cls(db, settings, AmiClient.from_settings(settings), **kw)

    # -- the calendar (loaded schedules change rarely: re-read every few minutes) -----------
    def calendar(self) -> WorkCalendar:
        now = time.monotonic()
        if self._calendar is not None and now - self._calendar_at < self._calendar_ttl:
            return self._calendar
        with self._calendar_lock:
            if self._calendar is None or time.monotonic() - self._calendar_at >= self._calendar_ttl:
                try:
                    with self.db.read_session() as s:
                        self._calendar = calendar_from_db(s)
                except Exception as exc:  # noqa: BLE001 - the package's official data still applies
                    log.warning("routing: calendar not read (%s); using the built-in one", exc.__class__.__name__)
                    self._calendar = self._calendar or WorkCalendar()
                self._calendar_at = time.monotonic()
            return self._calendar

    # -- language ---------------------------------------------------------------------------
    def history_language(self, caller_key: str, *, call_id: str | None = None) -> str | None:
        if not caller_key or self.settings.language_history_calls <= 0:
            return None
        try:
            with self.db.read_session() as s:
                return language_from_history(s, caller_key, calls=self.settings.language_history_calls,
                                             exclude_call_id=call_id)
        except Exception as exc:  # noqa: BLE001 - no history is an honest answer
            if not self.db.outage(exc):      # an outage is logged once, by the database's incident
                log.warning("routing: caller history not read (%s)", exc.__class__.__name__)
            return None

    def language_for(self, caller_key: str, explicit: str | None, *, call_id: str | None = None) -> tuple[str, str]:
        """(language, source): source is dialplan | history | default, or ask (the flow plays the
        short language prompt and calls ``decide.language_from_key`` on the answer)."""
        history = None if explicit else self.history_language(caller_key, call_id=call_id)
        return decide.choose_language(explicit, history, self.settings.default_language,
                                      prompt=self.settings.language_prompt)

    # -- priority and the route -------------------------------------------------------------
    def is_priority(self, caller_key: str) -> bool:
        if not caller_key:
            return False
        try:
            return priority.is_registered(self.db, caller_key)
        except Exception as exc:  # noqa: BLE001 - not knowing means: the ordinary queue
            if not self.db.outage(exc):
                log.warning("routing: priority registry not read (%s)", exc.__class__.__name__)
            return False

    def route(self, caller_key: str, language: str, now: datetime, *, skill: str | None = None,
              is_priority: bool | None = None) -> decide.Route:
        """Where this caller goes now (never raises: any failure routes to the language's queue)."""
        try:
            prio = self.is_priority(caller_key) if is_priority is None else is_priority
            return decide.decide(language=language, queues=self.settings.queues,
                                 default_language=self.settings.default_language, states=self.states.all(),
                                 hours=self.hours, calendar=self.calendar(), now=now, zone=self.settings.zone,
                                 overflow_wait_s=self.settings.overflow_wait_s, priority=prio,
                                 priority_level=self.settings.priority_level, skill=skill)
        except Exception:  # noqa: BLE001 - a person, never an error
            log.exception("routing decision failed; caller sent to the queue")
            return decide.Route(self.settings.queue_for(language), 0, None, decide.STATE_UNKNOWN, language)

    # -- call-backs -------------------------------------------------------------------------
    def request_callback(self, caller_key: str, queue: str, language: str, call_id: str | None,
                         now: datetime) -> int | None:
        """Record a call-back request (committed before it returns); its id, or None when this
        number cannot be called back (withheld, a service number) or the write failed."""
        try:
            callbacks.callable_number(caller_key)
        except callbacks.CallbackError:
            return None
        try:
            return self.db.write(lambda s: callbacks.request(s, caller_key=caller_key, queue=queue,
                                                             language=language, now=now, call_id=call_id).id)
        except Exception as exc:  # noqa: BLE001 - the flow then offers a message instead
            if not self.db.outage(exc):
                log.exception("call-back request not recorded")
            return None

    def can_call_back(self, caller_key: str) -> bool:
        """Offer a call-back only to a number that can be called (and only with AMI configured)."""
        if self.client is None:
            return False
        try:
            callbacks.callable_number(caller_key)
            return True
        except callbacks.CallbackError:
            return False

    def placer(self) -> callbacks.CallbackPlacer:
        return callbacks.CallbackPlacer(
            self.db, self.client, self.policy, queue_state=lambda q: self.states.get(q, fresh=True),
            staffed=self.hours, calendar=self.calendar, zone=self.settings.zone, clock=self.clock)

    def place_callbacks(self) -> dict:
        """The scheduled job ``routing_callbacks``."""
        result = self.placer().run(self.clock())
        if result["sent"] or result["recovered"]:
            log.info("call-backs: %s", result)
        return result

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
