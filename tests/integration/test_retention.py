"""Retention (privacy/retention.py, ``hotline privacy purge``) on SQLite and PostgreSQL: old closed
records lose their recordings and personal data, open tickets keep everything, a dry run changes
nothing, the counts are reported and every real run is in the audit log."""
from __future__ import annotations

import json
import os
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from callers import calls
from callers.models import CallRecord
from hotline.cli import main as hotline
from privacy.retention import MARKER, purge
from tickets import lifecycle as lc
from tickets import service
from tickets.models import Ticket, TicketEvent
from web.console.audit import AuditEntry
from workcal.calendar import WorkCalendar

Z = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 25, 10, 0, tzinfo=Z)
CAL = WorkCalendar()
REC_DAYS, PERSONAL_DAYS = 180, 365


class Scene:
    """Tickets and calls at known ages, with their recordings on disk."""

    def __init__(self, db, data_dir: Path) -> None:
        self.db = db
        self.data_dir = data_dir
        self.recordings = data_dir / "recordings"
        self.n = 0

    def recording(self, call_id: str, at: datetime, sidecar: bool = True) -> str:
        folder = self.recordings / "messages" / at.strftime("%Y/%m/%d")
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{call_id}-message.wav"
        path.write_bytes(b"RIFF" + bytes(2000))
        if sidecar:
            path.with_suffix(".txt").write_text("说的话", encoding="utf-8")
        old = at.timestamp()
        for p in (path, path.with_suffix(".txt")):
            if p.exists():
                os.utime(p, (old, old))
        return str(path)

    def call(self, at: datetime, *, ended: datetime | None, number: str, transcript: str = "",
             message_path: str | None = None, ticket: str | None = None, name: str = "张三") -> str:
        self.n += 1
        call_id = f"call{self.n:04d}"
        with self.db.session() as s:
            calls.open_call(s, call_id=call_id, channel="fastagi", channel_ref=f"1700000000.{self.n}",
                            caller_key=number, caller_kind="mobile", caller_name=name, dnid="12345",
                            language="cmn", started_at=at)
            if ended is not None:
                calls.close_call(s, call_id, calls.CallOutcome(
                    outcome="message" if message_path else "handed_off", transcript=transcript,
                    message_path=message_path, ticket_number=ticket), ended)
        return call_id

    def message_ticket(self, at: datetime, *, number: str, closed: datetime | None,
                       words: str = "我家楼下的路灯坏了，我电话13900001111") -> tuple[Ticket, str]:
        """A left message (recording on disk, transcript), its call record, and closed at ``closed``."""
        call_id = f"call{self.n + 1:04d}"
        path = self.recording(call_id, at)
        with self.db.session() as s:
            t = service.create_from_message(s, caller_key=number, call_id=call_id, recording_path=path,
                                            transcript=words, language="cmn", received_at=at, zone=Z,
                                            calendar=CAL, caller_name="李四").ticket
            if closed is not None:
                lc.transition(s, t, "close", actor="agent1", at=closed, closed_at=closed,
                              detail={"note": "已答复"})
            number_ = t.number
        self.call(at, ended=at + timedelta(minutes=3), number=number, transcript=words, message_path=path,
                  ticket=number_)
        with self.db.session() as s:
            return s.scalars(select(Ticket).where(Ticket.number == number_)).one(), path


def build(db, data_dir: Path) -> dict:
    sc = Scene(db, data_dir)
    old = NOW - timedelta(days=500)              # beyond both periods
    middle = NOW - timedelta(days=250)           # beyond the recordings period only
    recent = NOW - timedelta(days=20)
    s = {}
    s["old_closed"], s["old_closed_path"] = sc.message_ticket(old, number="13900001111", closed=old + timedelta(days=2))
    s["old_open"], s["old_open_path"] = sc.message_ticket(old, number="13900002222", closed=None)
    s["middle"], s["middle_path"] = sc.message_ticket(middle, number="13900003333", closed=middle + timedelta(days=1))
    s["recent"], s["recent_path"] = sc.message_ticket(recent, number="13900004444", closed=recent + timedelta(days=1))
    # an old ticket received long ago but closed only recently: the periods count from the closure
    s["late"], s["late_path"] = sc.message_ticket(old, number="13900005555", closed=NOW - timedelta(days=3))
    # a self-served consultation (closed on creation), long ago
    with db.session() as ss:
        s["consult"] = service.record_self_service(ss, caller_key="13900006666", call_id=None,
                                                   question="社保卡丢了怎么补办", received_at=old, zone=Z,
                                                   calendar=CAL, entry_id="hz-si-001").number
    # an agent's ticket, closed long ago: its content is the case record (kept), numbers in it masked
    with db.session() as ss:
        t = service.create_ticket(ss, kind="complaint", content="来电人反映小区停水三天，回拨电话13911112222",
                                  received_at=old, zone=Z, calendar=CAL, caller_key="13911112222",
                                  caller_name="王五", actor="agent1").ticket
        lc.transition(ss, t, "close", actor="agent1", at=old + timedelta(days=5), closed_at=old + timedelta(days=5))
        s["agent"] = t.number
    # call records with no ticket: an old one with a transcript, one still open (engine died), a recent one
    s["old_call"] = sc.call(old, ended=old + timedelta(minutes=1), number="13900007777", transcript="我想问一下公积金")
    s["open_call"] = sc.call(old, ended=None, number="13900008888")
    s["recent_call"] = sc.call(recent, ended=recent + timedelta(minutes=1), number="13900009999", transcript="问路")
    # files no record names: an utterance left behind long ago, one from today, an old message
    utt = sc.recordings / "utterances"
    s["stray_old"] = utt / "callx-1.wav"
    s["stray_new"] = utt / "cally-1.wav"
    s["stray_message"] = sc.recordings / "messages" / "2025" / "01" / "01" / "callz-message.wav"
    for key, when in (("stray_old", old), ("stray_new", NOW), ("stray_message", middle)):
        s[key].parent.mkdir(parents=True, exist_ok=True)
        s[key].write_bytes(bytes(100))
        os.utime(s[key], (when.timestamp(), when.timestamp()))
    return s


def ticket(db, number: str) -> Ticket:
    with db.session() as s:                       # (read_session rolls back: objects expire)
        return s.scalars(select(Ticket).where(Ticket.number == number)).one()


def call(db, call_id: str) -> CallRecord:
    with db.session() as s:
        return s.get(CallRecord, call_id)


def events(db, t: Ticket) -> list[str]:
    with db.read_session() as s:
        return [e.action for e in s.scalars(select(TicketEvent).where(TicketEvent.ticket_id == t.id)
                                            .order_by(TicketEvent.id))]


@pytest.fixture
def cli(database, tmp_path, monkeypatch):
    """``hotline privacy purge …`` against the test database; returns (exit status, JSON report)."""
    data_dir = tmp_path / "var"
    data_dir.mkdir()
    monkeypatch.setenv("HOTLINE_DATABASE_URL", database.url)
    monkeypatch.setenv("HOTLINE_DATA_DIR", str(data_dir))
    monkeypatch.delenv("HOTLINE_CONFIG", raising=False)

    def run(*argv: str):
        return hotline(["privacy", "purge", "--at", NOW.isoformat(), "--recordings-older-than", str(REC_DAYS),
                          "--personal-data-older-than", str(PERSONAL_DAYS), "--json", *argv])

    run.data_dir = data_dir
    return run


def _report(capsys) -> dict:
    out = capsys.readouterr().out
    return json.loads(out[out.index("{"):])


def test_old_closed_records_lose_recordings_and_personal_data_open_ones_keep_everything(database, cli, capsys):
    s = build(database, cli.data_dir)
    assert cli("--by", "admin.li") == 0
    report = _report(capsys)

    # beyond both periods, closed: recording gone (file, side file, path), personal data gone
    t = ticket(database, s["old_closed"].number)
    assert t.recording_path is None and not os.path.exists(s["old_closed_path"])
    assert not os.path.exists(Path(s["old_closed_path"]).with_suffix(".txt"))
    assert t.caller_key == "139********" and t.caller_name == ""
    assert t.transcript == MARKER and t.content == MARKER
    assert t.state == "closed" and t.kind == "help" and t.due_date     # what statistics need stays
    assert events(database, t)[-2:] == ["recording_deleted", "anonymised"]
    rec = call(database, t.call_id)
    assert rec.message_path is None and rec.caller_key == "139********" and rec.caller_name == ""
    assert rec.transcript == MARKER and "recording deleted" in rec.notes and "personal data removed" in rec.notes

    # an open ticket, however old, and its call record: untouched
    t = ticket(database, s["old_open"].number)
    assert t.recording_path == s["old_open_path"] and os.path.exists(s["old_open_path"])
    assert t.caller_key == "13900002222" and t.caller_name == "李四" and t.transcript != MARKER
    assert events(database, t) == ["create"]
    rec = call(database, t.call_id)
    assert rec.message_path == s["old_open_path"] and rec.caller_key == "13900002222" and rec.caller_name == "张三"

    # closed 249 days ago: recording gone, personal data kept (personal period 365 days)
    t = ticket(database, s["middle"].number)
    assert t.recording_path is None and not os.path.exists(s["middle_path"])
    assert t.caller_key == "13900003333" and t.transcript != MARKER
    assert events(database, t)[-1] == "recording_deleted"

    # closed recently (even if received long ago): untouched, and so is its call record
    for key in ("recent", "late"):
        t = ticket(database, s[key].number)
        assert t.recording_path == s[f"{key}_path"] and os.path.exists(s[f"{key}_path"])
        assert "*" not in t.caller_key and t.caller_name == "李四"
        rec = call(database, t.call_id)
        assert rec.message_path == s[f"{key}_path"] and "*" not in rec.caller_key and rec.transcript != MARKER
    assert not (cli.data_dir / "recordings" / "messages" / "2025" / "01" / "01").exists()   # emptied: removed

    # the old self-served consultation: number masked, its question (the caller's words) removed
    t = ticket(database, s["consult"])
    assert t.caller_key == "139********" and t.transcript == MARKER and t.content == MARKER

    t = ticket(database, s["agent"])
    assert t.content == "来电人反映小区停水三天，回拨电话139********" and t.caller_name == ""
    assert t.caller_key == "139********" and t.kind == "complaint"

    # call records without a ticket
    assert call(database, s["old_call"]).transcript == MARKER
    assert call(database, s["old_call"]).caller_key == "139********"
    still_open = call(database, s["open_call"])
    assert still_open.ended_at is None and still_open.caller_key == "13900008888"
    assert call(database, s["recent_call"]).caller_key == "13900009999"

    # files no record names: old ones deleted, today's utterance kept
    assert not s["stray_old"].exists() and not s["stray_message"].exists() and s["stray_new"].exists()
    assert (cli.data_dir / "recordings" / "utterances").is_dir()     # the engine writes there: never removed

    # the counts
    assert report["ticket_recordings"] == 2            # old_closed, middle
    assert report["call_recordings"] == 2              # their call records (same files)
    assert report["tickets_anonymised"] == 3           # old_closed, consult, agent
    assert report["calls_anonymised"] == 2             # old_closed's call, old_call
    assert report["stray_files"] == 2
    assert report["files_deleted"] == 2 + 2 + 2        # 2 recordings + their side files + 2 strays
    assert report["files_missing"] == 0
    assert report["open_tickets_kept"] == 1
    assert report["dry_run"] is False and report["by"] == "admin.li"


def test_a_dry_run_changes_nothing_and_reports_what_a_run_would_do(database, cli, capsys):
    s = build(database, cli.data_dir)

    def snapshot():
        with database.read_session() as ss:
            tickets = [(t.number, t.caller_key, t.caller_name, t.transcript, t.content, t.recording_path, t.version)
                       for t in ss.scalars(select(Ticket).order_by(Ticket.id))]
            records = [(c.id, c.caller_key, c.caller_name, c.transcript, c.message_path, c.notes)
                       for c in ss.scalars(select(CallRecord).order_by(CallRecord.id))]
            n_events = ss.scalar(select(func.count()).select_from(TicketEvent))
            n_audit = ss.scalar(select(func.count()).select_from(AuditEntry))
        files = sorted(str(p) for p in (cli.data_dir / "recordings").rglob("*"))
        return tickets, records, n_events, n_audit, files

    before = snapshot()
    assert cli("--dry-run") == 0
    dry = _report(capsys)
    assert snapshot() == before
    assert dry["dry_run"] is True
    assert cli() == 0
    real = _report(capsys)
    counts = [k for k, v in real.items() if isinstance(v, int) and not isinstance(v, bool)]
    assert {k: dry[k] for k in counts} == {k: real[k] for k in counts}
    assert real["tickets_anonymised"] == 3 and real["ticket_recordings"] == 2
    assert s["stray_new"].exists()


def test_every_real_run_is_in_the_audit_log_and_a_second_run_finds_nothing(database, cli, capsys):
    build(database, cli.data_dir)
    assert cli("--by", "admin.li") == 0
    first = _report(capsys)
    assert cli("--by", "admin.wang") == 0
    second = _report(capsys)
    assert cli("--dry-run", "--by", "admin.zhao") == 0
    capsys.readouterr()
    with database.session() as s:
        runs = list(s.scalars(select(AuditEntry).where(AuditEntry.action == "privacy.purge").order_by(AuditEntry.id)))
    assert [r.actor for r in runs] == ["admin.li", "admin.wang"]          # a dry run writes nothing
    assert runs[0].at == NOW and runs[0].address == "cli"
    detail = json.loads(runs[0].detail)
    assert detail["tickets_anonymised"] == first["tickets_anonymised"] == 3
    assert detail["recordings_days"] == REC_DAYS and detail["personal_days"] == PERSONAL_DAYS
    changes = [k for k in ("ticket_recordings", "call_recordings", "files_deleted", "tickets_anonymised",
                           "calls_anonymised", "stray_files")]
    assert all(second[k] == 0 for k in changes), second
    assert json.loads(runs[1].detail)["tickets_anonymised"] == 0


def test_extra_directories_keep_the_recordings_of_calls_with_an_open_ticket(database, cli, capsys, tmp_path):
    s = build(database, cli.data_dir)
    monitor = tmp_path / "monitor"
    monitor.mkdir()
    open_ref = call(database, s["old_open"].call_id).channel_ref
    closed_ref = call(database, s["old_closed"].call_id).channel_ref
    old = (NOW - timedelta(days=400)).timestamp()
    files = {}
    for key, ref in (("open", open_ref), ("closed", closed_ref), ("unknown", "1699999999.1")):
        p = monitor / f"20250721-{ref}.wav"
        p.write_bytes(bytes(64))
        os.utime(p, (old, old))
        files[key] = p
    young = monitor / "20261124-1764000000.5.wav"
    young.write_bytes(bytes(64))
    assert cli("--also-dir", str(monitor)) == 0
    report = _report(capsys)
    assert files["open"].exists() and young.exists()
    assert not files["closed"].exists() and not files["unknown"].exists()
    assert report["extra_dir_files"] == 2


def test_the_domain_function_needs_aware_time_and_positive_periods(database, tmp_path):
    with pytest.raises(ValueError):
        purge(database, now=datetime(2026, 11, 25), recordings_dir=tmp_path, recordings_days=180, personal_days=365)
    with pytest.raises(ValueError):
        purge(database, now=NOW, recordings_dir=tmp_path, recordings_days=0, personal_days=365)


def test_bad_periods_are_refused_with_one_message(cli, capsys):
    assert cli("--recordings-older-than", "0") == 2
    assert "--recordings-older-than" in capsys.readouterr().err


def test_one_record_per_batch_purges_exactly_the_same(database, cli):
    """Keyset paging over several pages (batch=1) reaches every record once."""
    s = build(database, cli.data_dir)
    report = purge(database, now=NOW, recordings_dir=cli.data_dir / "recordings", recordings_days=REC_DAYS,
                   personal_days=PERSONAL_DAYS, batch=1)
    assert (report.ticket_recordings, report.call_recordings, report.tickets_anonymised,
            report.calls_anonymised) == (2, 2, 3, 2)
    assert ticket(database, s["old_closed"].number).recording_path is None
    assert call(database, s["old_call"]).transcript == MARKER
    assert call(database, s["recent_call"]).caller_key == "13900009999"
