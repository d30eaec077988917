"""A small client for Asterisk's manager interface (AMI), built on pyst2's ``Manager``.

``AmiClient`` connects with a timeout, logs in, runs ``QueueSummary`` / ``QueueStatus`` and
collects their events until ``EventList: Complete``, sends ``Originate`` (async) and lets the
caller wait, bounded, for its ``OriginateResponse``. Every public call is bounded by
``timeout`` seconds. A lost connection is re-opened on the next call; a failed connect or login,
or a manager that does not answer in time, puts the client in back-off (0.5 s doubling to 30 s)
during which calls fail at once with :class:`AmiUnavailable` — so 500 callers never queue up on
a dead manager. Callers of this module treat any :class:`AmiError` as "state unknown".

pyst2 0.5.1's ``Manager`` is wrapped once, here (``_Manager``). Kept from pyst2: its message
model (``ManagerMsg``/``Event`` header parsing), event registration and its event-dispatch
thread, ``login()`` and its exceptions. Replaced, each for a reason found on Python 3.11
(tests/integration/test_ami.py exercises every one):

1. ``connect()`` has no timeout: ``socket.connect`` and the wait for the banner block forever.
   Here: ``socket.create_connection`` with the timeout, the banner awaited at most that long.
2. ``send_action()`` waits for its response forever, matches responses by arrival order and
   writes without a lock (two threads interleave their actions). Here: one action at a time per
   connection, a bounded wait, the response's ``ActionID`` checked; a response that does not
   come in time ends the connection (a late answer would otherwise be taken for the next one).
3. The reader (``_receive_data``) treats any line containing "status will follow" as the legacy
   ``Status`` action's output and glues every following message together until a line with
   "StatusComplete": ``QueueStatus`` answers "Message: Queue status will follow", so its whole
   list became one garbled response and no event was delivered. It also reads the unbuffered
   socket one byte per system call. Here: a reader on the raw socket (buffered) that frames
   messages by the blank line only, as manager.c writes them.
4. ``ManagerMsg.parse`` calls ``dict.has_key`` (Python 2) for ``ChanVariable`` headers: one event
   carrying channel variables (manager.conf ``channelvars``) kills the message thread, after
   which every action hangs. Here: a parse that keeps them in a dict.
5. ``close()`` sends Logoff and joins the threads without bounds, and ``__del__`` calls it: a
   stalled connection hangs the caller, even the garbage collector. Here: the socket is shut
   down first (waking the reader), Logoff is bounded, ``__del__`` never blocks.
6. ``setDaemon``/``isSet``/``currentThread`` (deprecated since 3.10) are not used: the threads
   and events are made with the 3.x API, so no DeprecationWarnings.
7. Header values are written as given: a CR or LF inside one (a number someone typed) would
   inject AMI headers. Here they are refused.
8. ``originate()`` cannot be given an ``ActionID``, which is how an async Originate's
   ``OriginateResponse`` event is matched to it. Here the action is built with one.

A ``Manager`` cannot be reconnected (its threads start once), so each connection is a new one.
"""
from __future__ import annotations

import itertools
import logging
import os
import queue
import secrets
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from asterisk import manager as pyst

log = logging.getLogger(__name__)

MAX_MESSAGE_LINES = 5000           # a longer message means a broken peer: the connection is dropped
BACKOFF_INITIAL_S = 0.5
BACKOFF_MAX_S = 30.0


class AmiError(Exception):
    """Anything that went wrong talking to the manager; the message says what, for one log line."""


class AmiUnavailable(AmiError):
    """Cannot connect, the connection was lost, or the client is in back-off after a failure."""


class AmiTimeout(AmiError):
    """The manager did not answer within the timeout (the connection is dropped)."""


class AmiAuthError(AmiError):
    """The manager refused the login (username/secret, or manager.conf permit/deny)."""


class AmiActionError(AmiError):
    """The manager answered ``Response: Error`` to an action."""


_ids = itertools.count(1)
_ID_PREFIX = f"hotline-{os.getpid()}-{secrets.token_hex(3)}"


def new_action_id() -> str:
    return f"{_ID_PREFIX}-{next(_ids)}"


def encode_action(fields: Mapping[str, object]) -> bytes:
    """One AMI action: ``Key: Value`` lines and a blank line; lists repeat the key."""
    lines = []
    for key, value in fields.items():
        for item in (value if isinstance(value, (list, tuple)) else [value]):
            text = f"{key}: {item}"
            if "\r" in text or "\n" in text or not str(key).strip() or ":" in str(key):
                raise ValueError(f"AMI header {str(key)[:30]!r} has a line break or a bad name")
            lines.append(text)
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")


class _Flag(threading.Event):
    isSet = threading.Event.is_set          # the pre-3.10 name pyst2's event_dispatch calls


class _Msg(pyst.ManagerMsg):
    def parse(self, response):              # quirk 4: ChanVariable without dict.has_key
        data = []
        for n, line in enumerate(response):
            if not line.endswith("\r\n"):
                data.extend(response[n:])
                break
            key, sep, value = line.partition(":")
            if not sep:
                data.extend(response[n:])
                break
            key, value = key.strip(), value.strip()
            if "ChanVariable" in key:
                name, _, val = value.partition("=")
                self.headers.setdefault("ChanVariable", {})[name.strip()] = val.strip()
            else:
                self.headers[key] = value
        self.data = "".join(data)


class _Waiter:
    """Collects the events of one action (by ActionID) until ``complete(event)`` is true."""

    def __init__(self, complete: Callable[[pyst.Event], bool]) -> None:
        self.complete = complete
        self.events: list[dict] = []
        self.done = threading.Event()
        self.error: AmiError | None = None

    def add(self, event: pyst.Event) -> None:
        self.events.append(dict(event.headers))
        if self.complete(event):
            self.done.set()

    def fail(self, error: AmiError) -> None:
        if not self.done.is_set():
            self.error = error
            self.done.set()


class _Manager(pyst.Manager):
    """pyst2's Manager with the quirks listed in the module docstring fixed."""

    def __init__(self, timeout: float) -> None:
        # pyst2's __init__, with the 3.x threading API (quirk 6); the attribute names are pyst2's
        self._sock = None
        self.title = None
        self.version = None
        self._connected = _Flag()
        self._running = _Flag()
        self.hostname = socket.gethostname()
        self._message_queue: queue.Queue = queue.Queue()
        self._response_queue: queue.Queue = queue.Queue()
        self._event_queue: queue.Queue = queue.Queue()
        self._event_callbacks: dict = {}
        self._reswaiting: list = []
        self._seqlock = threading.Lock()
        self._seq = 0
        self.message_thread = threading.Thread(target=self.message_loop, name="ami-messages", daemon=True)
        self.event_dispatch_thread = threading.Thread(target=self.event_dispatch, name="ami-events",
                                                      daemon=True)
        # ours
        self.timeout = timeout
        self._raw: socket.socket | None = None
        self._send_lock = threading.Lock()
        self._waiters: dict[str, _Waiter] = {}
        self._waiters_lock = threading.Lock()
        self.register_event("*", self._route_event)

    # -- connection ----------------------------------------------------------------------
    def connect(self, host: str, port: int = 5038, deadline: float | None = None):
        deadline = deadline or time.monotonic() + self.timeout
        try:
            raw = socket.create_connection((host, int(port)), timeout=max(0.05, deadline - time.monotonic()))
        except OSError as exc:
            raise AmiUnavailable(f"cannot connect to the manager at {host}:{port}: "
                                 f"{exc.strerror or exc.__class__.__name__}") from None
        raw.settimeout(None)                 # the reader blocks; every wait on it is bounded instead
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        self._raw = raw
        self._sock = raw.makefile("rwb")     # buffered (quirk 3)
        self._connected.set()
        self._running.set()
        self.message_thread.start()
        self.event_dispatch_thread.start()
        try:
            banner = self._response_queue.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            self.abort()
            raise AmiTimeout(f"the manager at {host}:{port} sent no banner in time") from None
        if banner is None or not self.title:
            self.abort()
            raise AmiUnavailable(f"{host}:{port} closed the connection or is not an Asterisk manager")
        return banner

    def connected(self) -> bool:
        return self._connected.is_set()

    def abort(self) -> None:
        """Drop the connection now: wakes the reader, fails every waiter, never blocks."""
        self._running.clear()
        self._connected.clear()
        raw, self._raw = self._raw, None
        if raw is not None:
            try:
                raw.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            try:
                raw.close()
            except OSError:
                pass
        self._message_queue.put(None)

    def close(self) -> None:                 # quirk 5: bounded
        if self._connected.is_set():
            try:
                self.send_action({"Action": "Logoff"}, timeout=min(self.timeout, 1.0))
            except (AmiError, ValueError):
                pass
        self.abort()
        for thread in (self.message_thread, self.event_dispatch_thread):
            if thread.is_alive() and thread is not threading.current_thread():
                thread.join(timeout=min(self.timeout, 1.0))

    def __del__(self) -> None:
        try:
            self.abort()
        except Exception:  # noqa: BLE001 - never raise from the garbage collector
            pass

    # -- reading (quirk 3) ----------------------------------------------------------------
    def _receive_data(self) -> None:
        lines: list[str] = []
        try:
            for raw_line in self._sock:
                line = raw_line.decode("utf-8", "replace")
                if self.title is None:       # the banner: "Asterisk Call Manager/9.0.0"
                    if "/" in line and ":" not in line:
                        title, _, version = line.partition("/")
                        self.title, self.version = title.strip(), version.strip()
                        self._message_queue.put(["Response: Generated Header\r\n", line])
                        continue
                    break                    # not an Asterisk manager
                if not line.strip():
                    if lines:
                        self._message_queue.put(lines)
                        lines = []
                    continue
                if len(lines) >= MAX_MESSAGE_LINES:
                    log.warning("AMI message longer than %d lines: connection dropped", MAX_MESSAGE_LINES)
                    break
                lines.append(line.rstrip("\r\n") + "\r\n")
        except (OSError, ValueError):        # ValueError: the file was closed under us
            pass
        finally:
            self._connected.clear()
            self._message_queue.put(None)

    def message_loop(self) -> None:
        reader = threading.Thread(target=self._receive_data, name="ami-reader", daemon=True)
        reader.start()
        try:
            while True:
                data = self._message_queue.get()
                if not data:
                    break
                message = _Msg(data)
                if message.has_header("Event"):
                    self._event_queue.put(pyst.Event(message))
                else:
                    self._response_queue.put(message)
        finally:
            self._connected.clear()
            self._running.clear()
            self._event_queue.put(None)
            self._response_queue.put(None)
            with self._waiters_lock:
                waiters = list(self._waiters.values())
            for w in waiters:
                w.fail(AmiUnavailable("the manager connection was lost"))
            if self._sock is not None:
                try:
                    self._sock.close()
                except (OSError, ValueError):
                    pass

    def _route_event(self, event: pyst.Event, _manager) -> None:
        action_id = event.headers.get("ActionID")
        if action_id:
            with self._waiters_lock:
                waiter = self._waiters.get(action_id)
            if waiter is not None:
                waiter.add(event)

    # -- actions (quirk 2) ----------------------------------------------------------------
    def send_action(self, cdict=None, timeout: float | None = None, **kwargs):
        fields = dict(cdict or {})
        fields.update(kwargs)
        fields.setdefault("ActionID", new_action_id())
        data = encode_action(fields)         # quirk 7
        name = fields.get("Action", "?")
        timeout = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        if not self._connected.is_set():
            raise AmiUnavailable("not connected to the manager")
        if not self._send_lock.acquire(timeout=max(0.0, timeout)):
            raise AmiTimeout(f"{name}: another action on this connection did not finish in time")
        try:
            try:
                self._sock.write(data)
                self._sock.flush()
            except (OSError, ValueError, AttributeError):
                self.abort()
                raise AmiUnavailable(f"{name}: the manager connection was lost") from None
            try:
                response = self._response_queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                self.abort()
                raise AmiTimeout(f"{name}: no response from the manager in {timeout:.1f} s") from None
            if response is None:
                raise AmiUnavailable(f"{name}: the manager closed the connection")
            if response.get_header("ActionID") != fields["ActionID"]:
                self.abort()
                raise AmiError(f"{name}: the manager answered another action "
                               f"({response.get_header('ActionID')!r}); connection dropped")
            return response
        finally:
            self._send_lock.release()

    def expect(self, action_id: str, complete: Callable[[pyst.Event], bool]) -> _Waiter:
        waiter = _Waiter(complete)
        with self._waiters_lock:
            self._waiters[action_id] = waiter
        if not self._connected.is_set():
            waiter.fail(AmiUnavailable("the manager connection was lost"))
        return waiter

    def forget(self, action_id: str) -> None:
        with self._waiters_lock:
            self._waiters.pop(action_id, None)


def _list_complete(event: pyst.Event) -> bool:
    return str(event.headers.get("EventList", "")).lower() == "complete"


@dataclass
class OriginateHandle:
    """An async Originate the manager accepted; ``wait()`` gives its ``OriginateResponse``."""

    action_id: str
    response: dict
    _waiter: _Waiter = field(repr=False)
    _forget: Callable[[], None] = field(repr=False)

    def wait(self, timeout: float) -> dict | None:
        """The OriginateResponse headers (``Response: Success|Failure``, ``Reason``), or None if
        none came in ``timeout`` seconds; AmiUnavailable if the connection was lost first."""
        try:
            if not self._waiter.done.wait(max(0.0, timeout)):
                return None
            if self._waiter.error is not None:
                raise self._waiter.error
            return next((e for e in self._waiter.events if e.get("Event") == "OriginateResponse"), None)
        finally:
            if self._waiter.done.is_set():
                self._forget()

    def cancel(self) -> None:
        self._forget()


class AmiClient:
    """One connection to the manager, shared by the engine's threads (actions are serialised)."""

    def __init__(self, host: str, port: int = 5038, username: str = "", secret: str = "", *,
                 timeout: float = 1.5, backoff_initial: float = BACKOFF_INITIAL_S,
                 backoff_max: float = BACKOFF_MAX_S, clock: Callable[[], float] = time.monotonic) -> None:
        self.host, self.port = host, int(port)
        self.username, self._secret = username, secret
        self.timeout = timeout
        self.backoff_initial, self.backoff_max = backoff_initial, backoff_max
        self.clock = clock
        self._mgr: _Manager | None = None
        self._lock = threading.Lock()
        self._failures = 0
        self._retry_at = 0.0
        self.last_error: str | None = None

    @classmethod
    def from_settings(cls, settings) -> "AmiClient | None":
        """None when AMI is not configured (empty ami_secret)."""
        if not settings.ami_secret:
            return None
        return cls(settings.ami_host, settings.ami_port, settings.ami_username, settings.ami_secret,
                   timeout=settings.ami_timeout_s)

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def connected(self) -> bool:
        mgr = self._mgr
        return mgr is not None and mgr.connected()

    def status(self) -> dict:
        return {"address": self.address, "connected": self.connected, "last_error": self.last_error,
                "retry_in_s": round(max(0.0, self._retry_at - self.clock()), 2) if self._failures else 0.0}

    # -- connection ----------------------------------------------------------------------
    def _manager(self, deadline: float) -> _Manager:
        if not self._lock.acquire(timeout=max(0.0, deadline - self.clock())):
            raise AmiTimeout(f"the manager at {self.address} is still being connected to")
        try:
            mgr = self._mgr
            if mgr is not None and mgr.connected():
                return mgr
            self._mgr = None
            now = self.clock()
            if self._failures and now < self._retry_at:
                raise AmiUnavailable(f"the manager at {self.address} is unavailable ({self.last_error}); "
                                     f"next try in {self._retry_at - now:.1f} s")
            mgr = _Manager(self.timeout)
            try:
                mgr.connect(self.host, self.port, deadline)
                # pyst2's login(); its send_action is ours, bounded by mgr.timeout
                mgr.timeout = max(0.05, deadline - self.clock())
                try:
                    mgr.login(self.username, self._secret)
                except pyst.ManagerAuthException as exc:
                    raise AmiAuthError(f"the manager at {self.address} refused the login of user "
                                       f"{self.username!r}: {exc} (check ami_username / ami_secret and "
                                       f"manager.conf permit/deny)") from None
                finally:
                    mgr.timeout = self.timeout
            except AmiError as exc:
                mgr.abort()
                self._failed(str(exc))
                raise
            return self._logged_in(mgr)
        finally:
            self._lock.release()

    def _logged_in(self, mgr: _Manager) -> _Manager:
        self._mgr = mgr
        if self._failures:
            log.info("manager at %s reachable again", self.address)
        self._failures, self.last_error = 0, None
        return mgr

    def _failed(self, error: str) -> None:
        self._failures += 1
        self.last_error = error
        delay = min(self.backoff_max, self.backoff_initial * 2 ** (self._failures - 1))
        self._retry_at = self.clock() + delay
        log.warning("AMI: %s (retry in %.1f s)", error, delay)

    def _drop(self, mgr: _Manager, error: AmiError) -> None:
        """After a failed action: a timeout means back-off; a lost connection is re-opened next time."""
        mgr.abort()
        with self._lock:
            if self._mgr is mgr:
                self._mgr = None
            if isinstance(error, AmiTimeout):
                self._failed(str(error))

    # -- actions -------------------------------------------------------------------------
    def action(self, fields: Mapping[str, object], *, timeout: float | None = None) -> dict:
        """Send one action; its response headers (``Response: Error`` raises AmiActionError)."""
        deadline = self.clock() + (self.timeout if timeout is None else timeout)
        mgr = self._manager(deadline)
        try:
            response = mgr.send_action(dict(fields), timeout=max(0.05, deadline - self.clock()))
        except AmiError as exc:
            self._drop(mgr, exc)
            raise
        headers = dict(response.headers)
        if headers.get("Response") == "Error":
            raise AmiActionError(f"{fields.get('Action')}: {headers.get('Message', 'error')}")
        return headers

    def list_action(self, fields: Mapping[str, object], *, timeout: float | None = None,
                    retry: bool = True) -> tuple[dict, list[dict]]:
        """An action that answers with a list (``EventList: start`` … ``EventList: Complete``):
        its response headers and its item events (without the Complete event)."""
        try:
            return self._list_action(fields, timeout)
        except AmiUnavailable:
            # an idle connection the manager closed is found out only now: one fresh try
            if not retry or self._failures:
                raise
            return self._list_action(fields, timeout)

    def _list_action(self, fields, timeout) -> tuple[dict, list[dict]]:
        deadline = self.clock() + (self.timeout if timeout is None else timeout)
        mgr = self._manager(deadline)
        action_id = new_action_id()
        waiter = mgr.expect(action_id, _list_complete)
        try:
            try:
                response = mgr.send_action({**fields, "ActionID": action_id},
                                           timeout=max(0.05, deadline - self.clock()))
            except AmiError as exc:
                self._drop(mgr, exc)
                raise
            headers = dict(response.headers)
            if headers.get("Response") == "Error":
                raise AmiActionError(f"{fields.get('Action')}: {headers.get('Message', 'error')}")
            if str(headers.get("EventList", "")).lower() != "start":
                return headers, []
            if not waiter.done.wait(max(0.0, deadline - self.clock())):
                error = AmiTimeout(f"{fields.get('Action')}: the list did not complete in time")
                self._drop(mgr, error)
                raise error
            if waiter.error is not None:
                self._drop(mgr, waiter.error)
                raise waiter.error
            events = list(waiter.events)
            complete = events.pop() if events and _list_complete_dict(events[-1]) else {}
            items = complete.get("ListItems")
            if items is not None and str(items).isdigit() and int(items) != len(events):
                log.warning("AMI %s: %s items announced, %d received", fields.get("Action"), items, len(events))
            return headers, events
        finally:
            mgr.forget(action_id)

    def queue_summary(self, queue: str | None = None) -> dict[str, dict]:
        """``QueueSummary``: per queue LoggedIn, Available, Callers, HoldTime, TalkTime,
        LongestHoldTime (as ints where they are numbers)."""
        fields = {"Action": "QueueSummary"}
        if queue:
            fields["Queue"] = queue
        _, events = self.list_action(fields)
        return {e["Queue"]: _ints(e) for e in events if e.get("Event") == "QueueSummary" and e.get("Queue")}

    def queue_status(self, queue: str | None = None) -> dict[str, dict]:
        """``QueueStatus``: per queue its ``params`` (QueueParams), ``members`` (QueueMember) and
        ``entries`` (QueueEntry, the callers waiting)."""
        fields = {"Action": "QueueStatus"}
        if queue:
            fields["Queue"] = queue
        _, events = self.list_action(fields)
        result: dict[str, dict] = {}
        for e in events:
            name = e.get("Queue")
            if not name:
                continue
            entry = result.setdefault(name, {"params": {}, "members": [], "entries": []})
            kind = e.get("Event")
            if kind == "QueueParams":
                entry["params"] = _ints(e)
            elif kind == "QueueMember":
                entry["members"].append(_ints(e))
            elif kind == "QueueEntry":
                entry["entries"].append(_ints(e))
        return result

    def originate(self, channel: str, *, context: str, exten: str, priority: int | str = 1,
                  ring_timeout_s: int = 30, caller_id: str = "", variables: Mapping[str, str] | None = None,
                  action_id: str | None = None, timeout: float | None = None) -> OriginateHandle:
        """``Originate`` with ``Async: yes``: returns once the manager queued it (or raises);
        ``handle.wait(t)`` then gives the ``OriginateResponse``. Never retried here: a retry
        could ring the citizen twice."""
        deadline = self.clock() + (self.timeout if timeout is None else timeout)
        action_id = action_id or new_action_id()
        fields: dict[str, object] = {"Action": "Originate", "ActionID": action_id, "Channel": channel,
                                     "Context": context, "Exten": exten, "Priority": str(priority),
                                     "Timeout": str(int(ring_timeout_s * 1000)), "Async": "true"}
        if caller_id:
            fields["CallerID"] = caller_id
        if variables:
            fields["Variable"] = [f"{k}={v}" for k, v in variables.items()]
        encode_action(fields)                # refuse line breaks before anything is sent
        mgr = self._manager(deadline)
        waiter = mgr.expect(action_id, lambda ev: ev.name == "OriginateResponse")
        try:
            response = mgr.send_action(fields, timeout=max(0.05, deadline - self.clock()))
        except AmiError as exc:
            mgr.forget(action_id)
            self._drop(mgr, exc)
            raise
        headers = dict(response.headers)
        if headers.get("Response") == "Error":
            mgr.forget(action_id)
            raise AmiActionError(f"Originate: {headers.get('Message', 'error')}")
        return OriginateHandle(action_id, headers, waiter, lambda: mgr.forget(action_id))

    def ping(self) -> bool:
        try:
            return self.action({"Action": "Ping"}).get("Response") == "Success"
        except AmiError:
            return False

    def close(self) -> None:
        with self._lock:
            mgr, self._mgr = self._mgr, None
        if mgr is not None:
            mgr.close()


def _list_complete_dict(headers: dict) -> bool:
    return str(headers.get("EventList", "")).lower() == "complete"


def _ints(headers: dict) -> dict:
    out = {}
    for key, value in headers.items():
        if isinstance(value, str) and value.lstrip("-").isdigit():
            out[key] = int(value)
        else:
            out[key] = value
    return out
