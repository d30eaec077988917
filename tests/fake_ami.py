"""A fake Asterisk manager interface (AMI) over real TCP, for tests.

It speaks the protocol as Asterisk 20–22 does (manager.c, app_queue.c), independently of the
engine's client:

* on connect it sends the banner ``Asterisk Call Manager/9.0.0\\r\\n``;
* every message is ``Key: Value\\r\\n`` lines ended by a blank line (``\\r\\n``);
* ``Action: Login`` → ``Response: Success`` / ``Message: Authentication accepted`` (then a
  ``FullyBooted`` event), or ``Response: Error`` / ``Message: Authentication failed`` and the
  connection is closed (as Asterisk does); any other action before login is refused;
* the ``ActionID`` of an action is echoed on its response and on every event it produces;
* ``QueueSummary`` / ``QueueStatus`` → ``Response: Success`` with ``EventList: start``, then one
  event per item (``QueueSummary``; ``QueueParams``, ``QueueMember``, ``QueueEntry``), then the
  ``...Complete`` event with ``EventList: Complete`` and ``ListItems``;
* ``Originate`` with ``Async: yes`` → ``Response: Success`` / ``Message: Originate successfully
  queued``, then later an ``OriginateResponse`` event (``Response: Success|Failure``, ``Reason``);
* ``Ping`` → ``Response: Success`` / ``Ping: Pong``; ``Logoff`` → ``Response: Goodbye`` and close.

Tests can tell it to drop every connection, to stall (read actions, answer nothing), to refuse
logins, to fail originates, and to push unsolicited events (e.g. with ``ChanVariable`` headers).
"""
from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass, field

BANNER = "Asterisk Call Manager/9.0.0\r\n"
EOL = "\r\n"

# device states (AST_DEVICE_*) as QueueMember's Status reports them
NOT_INUSE, INUSE, BUSY, INVALID, UNAVAILABLE, RINGING = 1, 2, 3, 4, 5, 6


@dataclass
class Member:
    name: str
    interface: str
    status: int = NOT_INUSE
    paused: bool = False
    in_call: bool = False
    calls_taken: int = 0

    @property
    def logged_in(self) -> bool:
        return self.status not in (INVALID, UNAVAILABLE)

    @property
    def available(self) -> bool:
        # app_queue.c QueueSummary: logged in, NOT_INUSE (or unknown), not paused, not in a call
        return self.status == NOT_INUSE and not self.paused and not self.in_call


@dataclass
class Entry:
    channel: str
    caller_id: str
    since: float = field(default_factory=time.time)
    priority: int = 0


@dataclass
class Queue:
    name: str
    members: list[Member] = field(default_factory=list)
    entries: list[Entry] = field(default_factory=list)
    holdtime: int = 0          # average seconds callers waited before an answer
    talktime: int = 0          # average seconds of a conversation
    completed: int = 0
    abandoned: int = 0
    strategy: str = "rrmemory"
    max: int = 0


class FakeAMI:
    def __init__(self, *, username: str = "hotline", secret: str = "s3cret", host: str = "127.0.0.1") -> None:
        self.username, self.secret, self.host = username, secret, host
        self.queues: dict[str, Queue] = {}
        self.port = 0
        # behaviour switches
        self.refuse_logins = False
        self.stall = False                  # read actions, answer nothing
        self.originate_result = "Success"   # or "Failure"
        self.originate_reason = 4           # 4 answered; 1 hung up, 3 rang out (no answer), 5 busy, 8 congestion
        self.originate_delay_s = 0.05
        # what happened
        self.actions: list[dict] = []       # every action received (headers; repeated keys as lists)
        self.logins = 0
        self.connections = 0
        self._sock: socket.socket | None = None
        self._clients: list[socket.socket] = []
        self._sessions: list["_Session"] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- set-up --------------------------------------------------------------------------
    def add_queue(self, name: str, *, members: int = 0, available: int | None = None, callers: int = 0,
                  holdtime: int = 0, talktime: int = 0, longest_wait: int = 0) -> Queue:
        """A queue with ``members`` logged-in agents of which ``available`` are free."""
        available = members if available is None else available
        q = Queue(name, holdtime=holdtime, talktime=talktime)
        for i in range(members):
            q.members.append(Member(f"agent{i}", f"PJSIP/{name}-agent{i}",
                                    status=NOT_INUSE if i < available else INUSE, in_call=i >= available))
        now = time.time()
        for i in range(callers):
            q.entries.append(Entry(f"PJSIP/trunk-{i:08x}", f"1380000{i:04d}", since=now - (longest_wait if i == 0 else 0)))
        with self._lock:
            self.queues[name] = q
        return q

    def start(self) -> int:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((self.host, 0))
        self._sock.listen(50)
        self.port = self._sock.getsockname()[1]
        self._thread = threading.Thread(target=self._accept, name="fake-ami", daemon=True)
        self._thread.start()
        return self.port

    def stop(self) -> None:
        self._stop.set()
        if self._sock is not None:
            try:
                self._sock.shutdown(socket.SHUT_RDWR)     # wakes accept() (close alone does not)
            except OSError:
                pass
            try:
                self._sock.close()
            except OSError:
                pass
        self.drop()
        if self._thread is not None:
            self._thread.join(timeout=2)

    def __enter__(self) -> "FakeAMI":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- test controls -------------------------------------------------------------------
    def drop(self) -> None:
        """Close every open connection at once (as when Asterisk restarts)."""
        with self._lock:
            clients, self._clients = self._clients, []
            self._sessions = []
        for c in clients:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            try:
                c.close()
            except OSError:
                pass

    def emit(self, *lines: tuple[str, str]) -> None:
        """Send one unsolicited event to every logged-in session: emit(("Event", "Newchannel"), ...)."""
        with self._lock:
            sessions = [s for s in self._sessions if s.authenticated]
        for s in sessions:
            s.send(list(lines))

    def actions_named(self, name: str) -> list[dict]:
        return [a for a in list(self.actions) if a.get("Action", "").lower() == name.lower()]

    # -- server --------------------------------------------------------------------------
    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            with self._lock:
                self._clients.append(conn)
                self.connections += 1
            session = _Session(self, conn)
            threading.Thread(target=session.run, name="fake-ami-session", daemon=True).start()


class _Session:
    def __init__(self, server: FakeAMI, conn: socket.socket) -> None:
        self.server, self.conn = server, conn
        self.authenticated = False
        self._wlock = threading.Lock()

    def send(self, lines: list[tuple[str, object]]) -> None:
        data = "".join(f"{k}: {v}{EOL}" for k, v in lines) + EOL
        with self._wlock:
            try:
                self.conn.sendall(data.encode("utf-8"))
            except OSError:
                pass

    def close(self) -> None:
        try:
            self.conn.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.conn.close()

    def run(self) -> None:
        try:
            self.conn.sendall(BANNER.encode())
            buf = b""
            while True:
                chunk = self.conn.recv(4096)
                if not chunk:
                    return
                buf += chunk
                while b"\r\n\r\n" in buf:
                    raw, buf = buf.split(b"\r\n\r\n", 1)
                    action = self._parse(raw.decode("utf-8", "replace"))
                    if action is None:
                        continue
                    self.server.actions.append(action)
                    if self.server.stall:
                        continue
                    if not self._handle(action):
                        self.close()
                        return
        except OSError:
            return

    @staticmethod
    def _parse(text: str) -> dict | None:
        action: dict = {}
        for line in text.split("\r\n"):
            if not line.strip():
                continue
            key, sep, value = line.partition(":")
            if not sep:
                continue
            key, value = key.strip(), value.strip()
            if key in action:               # repeated headers (Variable: a=1, Variable: b=2)
                prev = action[key]
                action[key] = (prev if isinstance(prev, list) else [prev]) + [value]
            else:
                action[key] = value
        return action or None

    def _reply(self, action: dict, *lines: tuple[str, object]) -> None:
        head = [lines[0]]
        if "ActionID" in action:
            head.append(("ActionID", action["ActionID"]))
        self.send(head + list(lines[1:]))

    def _event(self, action: dict, name: str, *lines: tuple[str, object]) -> None:
        head = [("Event", name)]
        if "ActionID" in action:
            head.append(("ActionID", action["ActionID"]))
        self.send(head + list(lines))

    def _handle(self, action: dict) -> bool:
        """Answer one action; False closes the connection."""
        name = str(action.get("Action", "")).lower()
        server = self.server
        if name == "login":
            if server.refuse_logins or action.get("Username") != server.username \
                    or action.get("Secret") != server.secret:
                self._reply(action, ("Response", "Error"), ("Message", "Authentication failed"))
                return False                     # manager.c: a failed login ends the session
            self.authenticated = True
            server.logins += 1
            with server._lock:
                server._sessions.append(self)
            self._reply(action, ("Response", "Success"), ("Message", "Authentication accepted"))
            self.send([("Event", "FullyBooted"), ("Privilege", "system,all"), ("Uptime", "1000"),
                       ("LastReload", "1000"), ("Status", "Fully Booted")])
            return True
        if not self.authenticated:
            self._reply(action, ("Response", "Error"), ("Message", "Permission denied"))
            return True
        if name == "logoff":
            self._reply(action, ("Response", "Goodbye"), ("Message", "Thanks for all the fish."))
            return False
        if name == "ping":
            self._reply(action, ("Response", "Success"), ("Ping", "Pong"), ("Timestamp", f"{time.time():.6f}"))
            return True
        if name == "queuesummary":
            self._queue_summary(action)
            return True
        if name == "queuestatus":
            self._queue_status(action)
            return True
        if name == "originate":
            self._originate(action)
            return True
        self._reply(action, ("Response", "Error"), ("Message", "Invalid/unknown command"))
        return True

    def _selected(self, action: dict) -> list[Queue]:
        with self.server._lock:
            queues = list(self.server.queues.values())
        wanted = action.get("Queue")
        return [q for q in queues if not wanted or q.name == wanted]

    def _queue_summary(self, action: dict) -> None:
        queues = self._selected(action)
        self._reply(action, ("Response", "Success"), ("EventList", "start"),
                    ("Message", "Queue summary will follow"))
        now = time.time()
        for q in queues:
            longest = max((int(now - e.since) for e in q.entries), default=0)
            self._event(action, "QueueSummary", ("Queue", q.name),
                        ("LoggedIn", sum(m.logged_in for m in q.members)),
                        ("Available", sum(m.available for m in q.members)),
                        ("Callers", len(q.entries)), ("HoldTime", q.holdtime), ("TalkTime", q.talktime),
                        ("LongestHoldTime", longest))
        self._event(action, "QueueSummaryComplete", ("EventList", "Complete"), ("ListItems", len(queues)))

    def _queue_status(self, action: dict) -> None:
        queues = self._selected(action)
        self._reply(action, ("Response", "Success"), ("EventList", "start"),
                    ("Message", "Queue status will follow"))
        items, now = 0, time.time()
        for q in queues:
            self._event(action, "QueueParams", ("Queue", q.name), ("Max", q.max), ("Strategy", q.strategy),
                        ("Calls", len(q.entries)), ("Holdtime", q.holdtime), ("TalkTime", q.talktime),
                        ("Completed", q.completed), ("Abandoned", q.abandoned), ("ServiceLevel", 0),
                        ("ServicelevelPerf", "0.0"), ("ServicelevelPerf2", "0.0"), ("Weight", 0))
            items += 1
            for m in q.members:
                self._event(action, "QueueMember", ("Queue", q.name), ("MemberName", m.name),
                            ("Interface", m.interface), ("StateInterface", m.interface),
                            ("Membership", "static"), ("Penalty", 0), ("CallsTaken", m.calls_taken),
                            ("LastCall", 0), ("LastPause", 0), ("LoginTime", int(now) - 3600),
                            ("InCall", int(m.in_call)), ("Status", m.status), ("Paused", int(m.paused)),
                            ("PausedReason", ""), ("Wrapuptime", 0))
                items += 1
            for pos, e in enumerate(q.entries, 1):
                self._event(action, "QueueEntry", ("Queue", q.name), ("Position", pos), ("Channel", e.channel),
                            ("Uniqueid", f"1700000000.{pos}"), ("CallerIDNum", e.caller_id),
                            ("CallerIDName", "<unknown>"), ("ConnectedLineNum", "<unknown>"),
                            ("ConnectedLineName", "<unknown>"), ("Wait", int(now - e.since)),
                            ("Priority", e.priority))
                items += 1
        self._event(action, "QueueStatusComplete", ("EventList", "Complete"), ("ListItems", items))

    def _originate(self, action: dict) -> None:
        if not action.get("Channel") or not (action.get("Exten") or action.get("Application")):
            self._reply(action, ("Response", "Error"), ("Message", "Channel and Exten or Application required"))
            return
        if str(action.get("Async", "")).lower() not in ("yes", "true", "1"):
            # a synchronous originate answers only when the call is answered or failed
            time.sleep(self.server.originate_delay_s)
            ok = self.server.originate_result == "Success"
            self._reply(action, ("Response", "Success" if ok else "Error"),
                        ("Message", "Originate successfully queued" if ok else "Originate failed"))
            return
        self._reply(action, ("Response", "Success"), ("Message", "Originate successfully queued"))
        result, reason, delay = (self.server.originate_result, self.server.originate_reason,
                                 self.server.originate_delay_s)

        def later() -> None:
            time.sleep(delay)
            self._event(action, "OriginateResponse", ("Privilege", "call,all"), ("Response", result),
                        ("Channel", action.get("Channel")), ("Context", action.get("Context", "")),
                        ("Exten", action.get("Exten", "")), ("Application", action.get("Application", "")),
                        ("Data", action.get("Data", "")), ("Reason", reason if result == "Success" or
                                                           reason != 4 else 0),
                        ("Uniqueid", "1700000000.99" if result == "Success" else "<null>"),
                        ("CallerIDNum", "<unknown>"), ("CallerIDName", "<unknown>"))

        threading.Thread(target=later, daemon=True).start()
