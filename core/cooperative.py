"""Many calls on one thread: a hub (epoll) that runs each call as a greenlet.

A call's code is ordinary blocking code. Where it would wait — for its socket, for a Future
(a write committed by the writer thread, a recognition in the speech pool), for work handed to
a thread — it switches back to the hub instead, and the hub switches to whichever call can go
on. No call ever waits for the GIL behind another call thread: under load a thread per call
spends more CPU handing the GIL over (futex calls, context switches) than running the calls.

Outside a hub's calls (AGI scripts, web requests, the scheduler, tests) every helper here
simply blocks, so domain code can use ``wait_future``/``offload`` without knowing who runs it.

Rules for code that runs inside a call: no lock may be held across a wait (two calls share one
thread, so a second call blocking on that lock would stop the hub); work that takes longer
than a few milliseconds goes through ``offload``. The hub logs any call that kept it for more
than ``slow_ms`` so such a place is found.
"""
from __future__ import annotations

import collections
import logging
import os
import queue
import select
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future

from greenlet import getcurrent, greenlet

log = logging.getLogger(__name__)

_local = threading.local()
READ, WRITE = select.EPOLLIN | select.EPOLLRDHUP, select.EPOLLOUT
_ONESHOT = select.EPOLLONESHOT
SWEEP_S = 0.25          # how often deadlines are checked (a timeout fires up to this much late)


class _Wait:
    __slots__ = ("glet", "done", "fd", "deadline")

    def __init__(self, glet, fd: int = -1, deadline: float | None = None) -> None:
        self.glet, self.done, self.fd, self.deadline = glet, False, fd, deadline


class _Workers:
    """A fixed set of threads for offloaded work, all started with the hub (a pool that grew on
    demand would show a thread count that still changes after hundreds of calls)."""

    def __init__(self, name: str, size: int) -> None:
        self.name, self.size = name, size
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for _ in range(self.size):
            t = threading.Thread(target=self._work, name=self.name, daemon=True)
            t.start()
            self._threads.append(t)

    def stop(self) -> None:
        for _ in self._threads:
            self._queue.put(None)
        self._threads = []

    def submit(self, fn: Callable, *args) -> Future:
        fut: Future = Future()
        self._queue.put((fn, args, fut))
        return fut

    def _work(self) -> None:
        while (item := self._queue.get()) is not None:
            fn, args, fut = item
            if not fut.set_running_or_notify_cancel():
                continue
            try:
                fut.set_result(fn(*args))
            except BaseException as exc:  # noqa: BLE001 - handed to the waiting call
                fut.set_exception(exc)


class Hub:
    """One thread, an epoll set, timers, and the calls (greenlets) it runs."""

    def __init__(self, name: str = "hub", *, offload_threads: int = 8, slow_ms: float = 100.0) -> None:
        self.name = name
        self.slow_ms = slow_ms
        self._ep = select.epoll()
        self._wake = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
        self._ep.register(self._wake, select.EPOLLIN)
        self._armed: set[int] = set()                 # fds registered (one-shot) in the epoll set
        self._waits: dict[int, _Wait] = {}
        self._handlers: dict[int, Callable[[], None]] = {}   # persistent fds: listeners
        # waits with a deadline, checked every SWEEP_S: a socket timeout is minutes, and a heap
        # of timers would keep one entry per command until it expired
        self._timed: dict[_Wait, None] = {}
        self._posted: collections.deque = collections.deque()
        self._ready: collections.deque = collections.deque()
        self._main = None
        self._thread: threading.Thread | None = None
        self._stop = False
        self._pool = _Workers(f"{name}-offload", offload_threads)

    # -- life ---------------------------------------------------------------------------------
    def start(self) -> None:
        self._pool.start()
        started = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(started,), name=self.name, daemon=True)
        self._thread.start()
        started.wait()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the loop (calls still waiting are abandoned: close their sockets first)."""
        self.post(self._set_stop)
        if self._thread is not None and threading.current_thread() is not self._thread:
            self._thread.join(timeout)
        self._pool.stop()

    def _set_stop(self) -> None:
        self._stop = True

    @property
    def in_loop(self) -> bool:
        return threading.current_thread() is self._thread

    # -- from any thread ----------------------------------------------------------------------
    def post(self, fn: Callable[[], None]) -> None:
        """Run ``fn()`` on the hub's thread soon (safe from any thread)."""
        self._posted.append(fn)
        try:
            os.eventfd_write(self._wake, 1)
        except OSError:
            pass

    def call(self, fn: Callable[[], object], timeout: float = 5.0):
        """Run ``fn()`` on the hub's thread and return its result (from another thread)."""
        if self.in_loop or self._thread is None or not self._thread.is_alive():
            return fn()
        fut: Future = Future()

        def run() -> None:
            try:
                fut.set_result(fn())
            except BaseException as exc:  # noqa: BLE001 - handed to the caller
                fut.set_exception(exc)
        self.post(run)
        return fut.result(timeout)

    # -- on the hub's thread --------------------------------------------------------------------
    def spawn(self, fn: Callable, *args) -> None:
        """Start ``fn(*args)`` as a call; it runs when the hub next gets control."""
        self._ready.append((greenlet(fn, parent=self._main), args))

    def add_reader(self, fd: int, handler: Callable[[], None]) -> None:
        self._handlers[fd] = handler
        self._ep.register(fd, select.EPOLLIN)

    def remove_reader(self, fd: int) -> None:
        if self._handlers.pop(fd, None) is not None:
            try:
                self._ep.unregister(fd)
            except (OSError, ValueError):
                pass

    def forget(self, fd: int) -> None:
        """``fd`` is about to be closed: its number may come back for another socket."""
        if fd in self._armed:
            self._armed.discard(fd)
            try:
                self._ep.unregister(fd)
            except (OSError, ValueError):
                pass
        self._waits.pop(fd, None)

    def wait_fd(self, fd: int, events: int, timeout: float | None) -> None:
        """Switch to the hub until ``fd`` is ready; ``TimeoutError`` after ``timeout`` s."""
        w = _Wait(getcurrent(), fd, None if timeout is None else time.monotonic() + timeout)
        mask = events | _ONESHOT
        if fd in self._armed:
            self._ep.modify(fd, mask)
        else:
            self._ep.register(fd, mask)
            self._armed.add(fd)
        self._waits[fd] = w
        if timeout is not None:
            self._timed[w] = None
        self._main.switch()

    def wait_future(self, fut: Future, timeout: float | None):
        if not fut.done():
            w = _Wait(getcurrent(), -1, None if timeout is None else time.monotonic() + timeout)
            fut.add_done_callback(lambda _f: self.post(lambda: self._resume(w)))
            if timeout is not None:
                self._timed[w] = None
            self._main.switch()
        return fut.result(0)

    def _resume(self, w: _Wait) -> None:
        if not w.done:
            w.done = True
            if w.deadline is not None:
                self._timed.pop(w, None)
            self._switch(w.glet, ())

    def _switch(self, glet, args) -> None:
        t0 = time.perf_counter()
        try:
            glet.switch(*args)
        except BaseException:  # noqa: BLE001 - a call's own code catches what it must; never the hub
            log.exception("%s: a call ended with an uncaught exception", self.name)
        ms = (time.perf_counter() - t0) * 1000
        if ms > self.slow_ms:
            log.warning("%s: one call kept the hub for %.0f ms (blocking work in a call step?)", self.name, ms)

    def _run(self, started: threading.Event) -> None:
        _local.hub = self
        self._main = getcurrent()
        started.set()
        ep, waits, handlers, timed, wake = self._ep, self._waits, self._handlers, self._timed, self._wake
        swept = time.monotonic()
        while not self._stop:
            while self._ready:
                glet, args = self._ready.popleft()
                self._switch(glet, args)
            try:
                events = ep.poll(0.0 if self._posted else SWEEP_S)
            except InterruptedError:
                events = []
            for fd, _mask in events:
                w = waits.pop(fd, None)
                if w is not None:
                    if not w.done:
                        w.done = True
                        if w.deadline is not None:
                            del timed[w]
                        self._switch(w.glet, ())
                elif fd == wake:
                    try:
                        os.eventfd_read(wake)
                    except OSError:
                        pass
                else:
                    handler = handlers.get(fd)
                    if handler is not None:
                        handler()
            while self._posted:
                try:
                    self._posted.popleft()()
                except Exception:  # noqa: BLE001
                    log.exception("%s: a posted task failed", self.name)
            now = time.monotonic()
            if now - swept >= SWEEP_S:
                swept = now
                for w in [w for w in timed if w.deadline <= now]:
                    del timed[w]
                    if w.done:
                        continue
                    w.done = True
                    if w.fd >= 0 and waits.get(w.fd) is w:
                        del waits[w.fd]
                    self._throw(w.glet)

    def _throw(self, glet) -> None:
        try:
            glet.throw(TimeoutError("timed out"))
        except BaseException:  # noqa: BLE001
            log.exception("%s: a call ended with an uncaught exception", self.name)


# -- for code that may or may not run inside a hub's call ------------------------------------------
def current_hub() -> Hub | None:
    """The hub whose call is running now, or None (a plain thread, or the hub's own loop)."""
    hub = getattr(_local, "hub", None)
    if hub is None or getcurrent() is hub._main:
        return None
    return hub


def wait_future(fut: Future, timeout: float | None = None):
    """``fut.result(timeout)``, letting the hub run other calls meanwhile when inside one."""
    hub = current_hub()
    if hub is None:
        return fut.result(timeout)
    return hub.wait_future(fut, timeout)


def offload(fn: Callable, *args, timeout: float | None = None):
    """``fn(*args)`` on a worker thread when inside a hub's call (slow or blocking work), else here."""
    hub = current_hub()
    if hub is None:
        return fn(*args)
    return hub.wait_future(hub._pool.submit(fn, *args), timeout)
