"""Live queue state from the manager, cached briefly so 500 calls make one AMI query.

``QueueStates.get(queue)`` is a ``QueueState`` or None. None means "unknown" — the manager is
not configured, unreachable, slow, or does not know the queue — and the routing decision is then
always "route to the queue" (``routing.decide``): a caller is never dropped for want of state.
A failure is cached like a success (for ``ttl`` seconds), so a dead manager costs one bounded
wait per ``ttl``, not one per call; the client's own back-off does the rest.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import asdict, dataclass

from core.cooperative import offload, wait_future

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class QueueState:
    available: int              # agents logged in, free, not paused
    callers: int                # callers waiting now
    longest_wait_s: int         # the longest current wait
    holdtime_s: int             # average wait before an answer (Asterisk's rolling HoldTime)
    talktime_s: int = 0         # average conversation length
    logged_in: int | None = None   # agents logged in (None: not reported)

    def as_json(self) -> dict:
        return asdict(self)


def state_from_summary(item: dict) -> QueueState:
    """A ``QueueSummary`` event's headers as a QueueState."""
    def num(key: str) -> int:
        value = item.get(key, 0)
        try:
            return max(0, int(value))
        except (TypeError, ValueError):
            return 0

    return QueueState(available=num("Available"), callers=num("Callers"),
                      longest_wait_s=num("LongestHoldTime"), holdtime_s=num("HoldTime"),
                      talktime_s=num("TalkTime"),
                      logged_in=num("LoggedIn") if "LoggedIn" in item else None)


def summary_source(client) -> Callable[[], dict[str, QueueState]]:
    """Every queue's state from one ``QueueSummary`` (raises the client's AmiError)."""
    def fetch() -> dict[str, QueueState]:
        return {name: state_from_summary(item) for name, item in client.queue_summary().items()}
    return fetch


class QueueStates:
    """A short cache over ``source()`` (all queues at once), safe for many threads and hub calls.

    One caller refreshes at a time; the others join its refresh and wait at most ``wait_s`` for
    it, then answer None (unknown) — a call never waits longer than that on the manager. The
    refresh itself is blocking socket work (the manager client), so inside a hub's call it runs
    on one of the hub's worker threads (``core.cooperative.offload``) and the waiting calls wait
    with ``wait_future``: a slow or silent manager holds up the calls that need its answer, never
    the hub and the other calls on it.
    """

    def __init__(self, source: Callable[[], dict[str, QueueState]] | None, *, ttl: float = 2.0,
                 wait_s: float = 2.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.source = source
        self.ttl, self.wait_s, self.clock = ttl, wait_s, clock
        self._guard = threading.Lock()          # held for a few bytecodes, never across I/O
        self._states: dict[str, QueueState] | None = None
        self._at: float | None = None
        self._refresh: Future | None = None     # the refresh in progress, which others join
        self.fetches = 0

    @classmethod
    def from_client(cls, client, *, ttl: float = 2.0, timeout: float = 1.5) -> "QueueStates":
        return cls(summary_source(client) if client is not None else None, ttl=ttl, wait_s=timeout + 0.5)

    def all(self, *, fresh: bool = False) -> dict[str, QueueState] | None:
        if self.source is None:
            return None
        if not fresh and self._valid():
            return self._states
        with self._guard:
            if not fresh and self._valid():          # refreshed meanwhile
                return self._states
            refresh = self._refresh
            mine = refresh is None
            if mine:
                refresh = self._refresh = Future()
                self.fetches += 1
        if not mine:
            try:
                return wait_future(refresh, self.wait_s)
            except TimeoutError:
                return self._states if self._valid() else None
        states = None
        try:
            states = offload(self._fetch)
        finally:                                     # whatever happens, the joiners are released
            with self._guard:
                self._states, self._at, self._refresh = states, self.clock(), None
            refresh.set_result(states)
        return states

    def get(self, queue: str, *, fresh: bool = False) -> QueueState | None:
        states = self.all(fresh=fresh)
        return None if states is None else states.get(queue)

    def _fetch(self) -> dict[str, QueueState] | None:
        try:
            return self.source()
        except Exception as exc:  # noqa: BLE001 - any failure means "unknown": route to the queue
            log.warning("queue state unavailable: %s", exc)
            return None

    def _valid(self) -> bool:
        return self._at is not None and self.clock() - self._at < self.ttl
