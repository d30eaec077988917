"""Faults caused for real (issue 9): SIGKILL and SIGTERM of `hotline serve`, the database away
or locked, the manager interface down, the speech model missing or broken."""
from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from callers.models import CallRecord
from core.db import Database
from tests.dialplan_sim import Channel
from tests.fake_asterisk import Listen, Press, ScriptedCaller, Speak, place_call
from tickets.models import Ticket

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Serve:
    """A real `hotline serve` process on a data directory."""

    def __init__(self, data: Path, **env) -> None:
        self.data, self.port = data, free_port()
        self.env = dict(os.environ, HOTLINE_DATA_DIR=str(data), HOTLINE_SPEECH_ENGINE="transcript",
                        HOTLINE_LOG_LEVEL="INFO", **{k: str(v) for k, v in env.items()})
        self.proc = subprocess.Popen([str(BIN / "hotline"), "serve", "--port", str(self.port), "--no-web"],
                                     env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.time() + 60
        while time.time() < deadline:
            assert self.proc.poll() is None, self.proc.stderr.read().decode()[-3000:]
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.1)
        raise AssertionError("hotline serve did not start")

    def stop(self) -> str:
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            _, err = self.proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate()
        return err.decode(errors="replace")


@pytest.fixture
def data_dir(tmp_path, sqlite_template):
    shutil.copyfile(sqlite_template, tmp_path / "hotline.db")
    return tmp_path


def dialplan_after(result) -> list:
    """What the shipped dialplan does next with the variables the engine left (tests/dialplan_sim.py)."""
    variables = {"AGISTATUS": result.agistatus, **result.variables}
    return Channel(variables, lambda chan, app, args: None).run("hotline-decide", "s")


class RecordingStarts(ScriptedCaller):
    def __init__(self, actions, started: threading.Event):
        super().__init__(actions)
        self.started = started

    def on_record(self, path, fmt, escape_digits, max_ms, silence_s):
        self.started.set()
        time.sleep(1.0)                    # the caller is still speaking when the engine dies
        return super().on_record(path, fmt, escape_digits, max_ms, silence_s)


def test_sigkill_mid_message_the_caller_reaches_a_person_and_the_message_becomes_a_ticket(data_dir):
    engine = Serve(data_dir)
    started, out = threading.Event(), {}
    caller = RecordingStarts([Press("2"), Speak("路灯坏了一个星期", end="#")], started)
    t = threading.Thread(target=lambda: out.setdefault("r", place_call(engine.port, caller=caller,
                                                                        callerid="13912340000")))
    t.start()
    assert started.wait(30), "the call never reached the recording"
    engine.proc.send_signal(signal.SIGKILL)
    engine.proc.wait(10)
    t.join(30)
    result = out["r"]
    assert "HOTLINE_ACTION" not in result.variables and result.agistatus == "SUCCESS"
    assert dialplan_after(result)[0][0] == "Queue"                       # the dialplan's fall-back
    assert result.recordings and os.path.getsize(result.recordings[0]) > 44
    restarted = Serve(data_dir)                                          # recovery runs at start
    restarted.stop()
    db = Database(f"sqlite:///{data_dir / 'hotline.db'}")
    try:
        with db.session() as s:
            [ticket] = s.query(Ticket).all()
            record = s.query(CallRecord).one()
        assert ticket.caller_key == "13912340000" and Path(ticket.recording_path).exists()
        assert record.ended_at is not None and record.ticket_number == ticket.number
    finally:
        db.dispose()


def _open_records(path: Path, wait: float = 0.0) -> int:
    """Call records with no end, read with a plain sqlite3 connection (polls up to ``wait`` s)."""
    deadline = time.time() + wait
    while True:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
        try:
            n = conn.execute("SELECT count(*) FROM calls WHERE ended_at IS NULL").fetchone()[0]
        except sqlite3.OperationalError:          # the schema is not there yet
            n = 0
        finally:
            conn.close()
        if n or time.time() >= deadline:
            return n
        time.sleep(0.02)


def test_sigkill_leaves_no_call_record_open_after_the_stale_period(data_dir):
    engine = Serve(data_dir)
    started = threading.Event()

    class Slow(ScriptedCaller):
        def on_play(self, *a, **kw):          # the greeting is playing when the engine dies
            started.set()
            time.sleep(3.0)
            return super().on_play(*a, **kw)

    t = threading.Thread(target=lambda: place_call(engine.port, caller=Slow([Listen(), Listen()])))
    t.start()
    assert started.wait(30)
    # the record is written behind the call (group commit, a few ms): kill once it is on disk,
    # while the greeting still plays — the record is open, and nobody will close it but recovery
    assert _open_records(data_dir / "hotline.db", wait=10) == 1
    engine.proc.send_signal(signal.SIGKILL)
    engine.proc.wait(10)
    t.join(30)
    assert _open_records(data_dir / "hotline.db") == 1       # the kill left it open
    Serve(data_dir, HOTLINE_STALE_CALL_MINUTES=0).stop()    # a restart long after: the period has passed
    db = Database(f"sqlite:///{data_dir / 'hotline.db'}")
    try:
        with db.session() as s:
            record = s.query(CallRecord).one()
        assert record.ended_at is not None and record.outcome == "error"
    finally:
        db.dispose()


def test_sigterm_lets_the_call_in_progress_finish_and_refuses_new_ones(data_dir):
    engine = Serve(data_dir, HOTLINE_SHUTDOWN_GRACE=20)
    out = {}
    t = threading.Thread(target=lambda: out.setdefault("r", place_call(engine.port, Listen(), Listen(),
                                                                        realtime=0.5)))
    t.start()
    time.sleep(1.5)
    engine.proc.send_signal(signal.SIGTERM)
    time.sleep(0.5)
    late = place_call(engine.port, connect_timeout=1.0)
    t.join(60)
    assert engine.proc.wait(60) == 0
    assert out["r"].variables.get("HOTLINE_ACTION") == "queue" and out["r"].agistatus == "SUCCESS"
    assert not late.connected                                            # Asterisk fails over
    assert dialplan_after(late)[0][0] == "AGI"                           # …to the second node


class Proxy:
    """A TCP relay to PostgreSQL that can be cut (the database 'unreachable') and restored."""

    def __init__(self, target=("127.0.0.1", 5432)) -> None:
        self.target, self.port = target, free_port()
        self.conns: list[socket.socket] = []
        self.listener = None
        self.up()

    def up(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", self.port))
        threading.Thread(target=self._accept, args=(self.listener,), daemon=True).start()

    def _accept(self, listener) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.target)
            self.conns += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(a, b) -> None:
        try:
            while data := a.recv(65536):
                b.sendall(data)
        except OSError:
            pass
        finally:
            for s in (a, b):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def down(self) -> None:
        self.listener.close()
        for s in self.conns:
            try:
                s.shutdown(socket.SHUT_RDWR)
                s.close()
            except OSError:
                pass
        self.conns = []


@pytest.mark.postgres
def test_postgresql_away_calls_still_reach_the_queue_logged_once_and_writes_resume(make_engine, pg_server, caplog):
    from tests.conftest import PG_URL

    proxy = Proxy()
    url = pg_server.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
    assert PG_URL.split("@")[1].startswith("127.0.0.1:5432")
    running = make_engine(database_url=url)
    with running.session() as s:
        s.query(CallRecord).delete()
    # numbers no other test restricts: the PostgreSQL test database is shared by the whole suite
    assert place_call(running.port, Listen(), Listen(), callerid="13911112000").variables["HOTLINE_ACTION"] == "queue"
    proxy.down()
    caplog.set_level(logging.WARNING)
    during = [place_call(running.port, Listen(), Listen(), callerid=f"1391111000{i}") for i in range(5)]
    assert all(r.variables.get("HOTLINE_ACTION") == "queue" for r in during)
    outage_lines = [r for r in caplog.records if "database unavailable" in r.getMessage()]
    assert len(outage_lines) == 1, [r.getMessage() for r in caplog.records]
    proxy.up()
    after = place_call(running.port, Listen(), Listen(), callerid="13911112001")
    assert after.variables["HOTLINE_ACTION"] == "queue"
    deadline = time.time() + 60
    while time.time() < deadline:
        with running.engine.db.read_session() as s:
            done = s.query(CallRecord).filter(CallRecord.ended_at.isnot(None)).count()
        if done == 7:
            break
        time.sleep(0.5)
    assert done == 7, "the call records written during the outage were not written when it returned"
    deadline = time.time() + 10
    while not any("database back" in r.getMessage() for r in caplog.records) and time.time() < deadline:
        time.sleep(0.2)
    assert any("database back" in r.getMessage() for r in caplog.records)


@pytest.mark.postgres
def test_postgresql_query_held_up_stalls_only_its_own_call(make_engine, pg_server):
    """On PostgreSQL the flow's database work runs on worker threads, not on the hub: while one
    call's blocklist read waits for a lock, the hub goes on serving other calls."""
    from sqlalchemy import create_engine, text

    running = make_engine(database_url=pg_server, db_read_timeout_ms=60_000)
    assert running.engine.offload_db
    assert place_call(running.port, Press("0"), callerid="13911113000").variables["HOTLINE_ACTION"] == "queue"
    locker = create_engine(pg_server)
    held: dict = {}
    try:
        with locker.connect() as conn:
            conn.execute(text("LOCK TABLE blocks IN ACCESS EXCLUSIVE MODE"))   # a migration, say
            caller = threading.Thread(target=lambda: held.update(
                result=place_call(running.port, Press("0"), callerid="13911113001", timeout=60)))
            caller.start()
            deadline = time.time() + 20           # the held call is waiting for the lock
            waiting = 0
            while time.time() < deadline and not waiting:
                with locker.connect() as probe:
                    waiting = probe.execute(text(
                        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                        "AND query ILIKE '%blocks%'")).scalar()
                time.sleep(0.05)
            assert waiting, "the call never reached its blocklist read"
            # meanwhile the same hub answers another session (health, a database round trip too)
            other = place_call(running.port, script="monitoring", timeout=15)
            assert other.agistatus == "SUCCESS" and other.variables.get("HOTLINE_STATUS") == "OK"
            assert caller.is_alive() and "result" not in held      # the held call still waits
            conn.rollback()                       # the lock goes: the held call goes on
        caller.join(30)
    finally:
        locker.dispose()
    assert held["result"].variables["HOTLINE_ACTION"] == "queue"


@pytest.mark.postgres
def test_postgresql_read_held_by_a_lock_gives_up_and_the_caller_goes_on(make_engine, pg_server, caplog):
    """The call path's reads carry a statement timeout: a caller whose blocklist check waits for
    a lock goes on to a person after db_read_timeout_ms instead of waiting in silence."""
    from sqlalchemy import create_engine, text

    running = make_engine(database_url=pg_server, db_read_timeout_ms=300)
    assert running.engine.db.read_timeout_ms == 300
    locker = create_engine(pg_server)
    try:
        with locker.connect() as conn:
            conn.execute(text("LOCK TABLE blocks IN ACCESS EXCLUSIVE MODE"))
            with caplog.at_level(logging.ERROR, logger="hotline.incident"):
                result = place_call(running.port, Press("0"), callerid="13911113002", timeout=30)
            still_held = conn.execute(text(
                "SELECT count(*) FROM pg_locks WHERE relation = 'blocks'::regclass AND mode = 'AccessExclusiveLock' "
                "AND granted")).scalar()
            conn.rollback()
    finally:
        locker.dispose()
    assert still_held == 1                                # the call ended while the lock was still held
    assert result.agistatus == "SUCCESS"
    assert result.variables["HOTLINE_ACTION"] == "queue" and result.variables["HOTLINE_TARGET"] == "hotline-cmn"
    assert any("statement timeout" in r.getMessage() for r in caplog.records)


def test_sqlite_locked_by_another_process_calls_go_on_and_writes_resume(make_engine):
    running = make_engine()
    path = running.engine.settings.db_url.split("///", 1)[1]
    blocker = sqlite3.connect(path, timeout=1)
    blocker.isolation_level = None
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        results = [place_call(running.port, Listen(), Listen(), callerid=f"1392222000{i}") for i in range(3)]
        assert all(r.variables.get("HOTLINE_ACTION") == "queue" for r in results)
        time.sleep(11)                       # longer than the 10 s busy timeout: the writes failed once
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    deadline = time.time() + 60
    while time.time() < deadline:
        with running.engine.db.read_session() as s:
            done = s.query(CallRecord).filter(CallRecord.ended_at.isnot(None)).count()
        if done == 3:
            break
        time.sleep(0.5)
    assert done == 3


def test_manager_interface_down_the_caller_still_reaches_a_person(make_engine):
    closed = free_port()
    running = make_engine(ami_host="127.0.0.1", ami_port=closed, ami_secret="x", ami_timeout_s=1.0)
    result = place_call(running.port, Press("0"))
    assert result.variables["HOTLINE_ACTION"] == "queue" and result.variables["HOTLINE_TARGET"] == "hotline-cmn"


def test_a_silent_manager_holds_up_only_the_calls_that_need_its_answer(make_engine):
    """The queue-state refresh is blocking socket work: it runs on a worker thread, so while the
    manager answers nothing the hub goes on serving other sessions (SQLite: steps run on the hub)."""
    from tests.fake_ami import FakeAMI

    with FakeAMI() as ami:
        ami.add_queue("hotline-cmn", members=2, available=1)
        running = make_engine(ami_host="127.0.0.1", ami_port=ami.port, ami_secret="s3cret",
                              ami_timeout_s=20.0, queue_state_cache_s=0.0)
        assert not running.engine.offload_db
        assert place_call(running.port, Press("0"), callerid="13911114000").variables["HOTLINE_ACTION"] == "queue"
        asked = len(ami.actions_named("QueueSummary"))
        assert asked >= 1                                  # a call that goes to the queue asks the manager
        ami.stall = True                                   # the manager reads and answers nothing
        held: dict = {}
        caller = threading.Thread(target=lambda: held.update(
            result=place_call(running.port, Press("0"), callerid="13911114001", timeout=60)))
        caller.start()
        deadline = time.time() + 20
        while time.time() < deadline and len(ami.actions_named("QueueSummary")) == asked:
            time.sleep(0.02)
        assert len(ami.actions_named("QueueSummary")) > asked, "the call never asked the manager"
        other = place_call(running.port, script="monitoring", timeout=10)
        assert other.agistatus == "SUCCESS" and other.variables.get("HOTLINE_STATUS") == "OK"
        assert caller.is_alive() and "result" not in held  # the held call still waits for the manager
        ami.stall = False                                  # the manager restarts: the client's
        ami.drop()                                         # connection drops, it connects again
        caller.join(30)
    assert held["result"].variables["HOTLINE_ACTION"] == "queue"
    assert held["result"].variables["HOTLINE_TARGET"] == "hotline-cmn"


def test_speech_model_missing_means_keypad_only_and_a_person(make_engine, tmp_path):
    running = make_engine(speech_engine="vosk", speech_model_path=tmp_path / "no-such-model")
    assert not running.engine.services.speech_available
    result = place_call(running.port, Listen(), Listen())
    assert result.variables["HOTLINE_ACTION"] == "queue"
    assert not any(c[:2] == ["RECORD", "FILE"] for c in result.commands)


def test_a_broken_speech_model_still_gets_the_caller_to_a_person(make_engine, tmp_path):
    broken = tmp_path / "vosk-model-small-cn-broken"
    (broken / "am").mkdir(parents=True)
    (broken / "conf").mkdir()
    (broken / "am" / "final.mdl").write_bytes(b"\x00not a model" * 100)
    (broken / "conf" / "model.conf").write_text("--sample-frequency=8000\n")
    running = make_engine(speech_engine="vosk", speech_model_path=broken)
    assert running.engine.services.speech_available
    result = place_call(running.port, Speak("社保卡丢了怎么补办"), Listen())
    assert result.variables["HOTLINE_ACTION"] == "queue"
