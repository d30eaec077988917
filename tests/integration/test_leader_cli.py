"""``hotline leader …`` and ``hotline routing …`` end to end on a migrated database (SQLite and
PostgreSQL): JSON where scripts read it, one clear error and nothing written on a mistake."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from leader_desk.models import Leader, LeaderSession, Seat
from routing.models import Callback, PriorityNumber
from tests.cli_support import cli_runner, ok, refused, row_counts
from tests.fake_ami import FakeAMI

NOW = "2026-11-20T10:00:00+08:00"


@pytest.fixture
def cli(database, monkeypatch, tmp_path, capsys):
    return cli_runner(database, monkeypatch, tmp_path, capsys,
                      unset=("HOTLINE_AMI_SECRET", "HOTLINE_AMI_PORT"))


MODELS = (Leader, Seat, LeaderSession, PriorityNumber, Callback)


def counts(database):
    return row_counts(database, MODELS)


def fails(cli, *argv, match):
    out, err = refused(cli, MODELS, *argv, match=match)
    return err


@pytest.fixture
def desk(cli):
    ok(cli, "leader", "leaders", "add", "张三", "--title", "局长", "--unit", "市交通运输局", "--by", "admin", "--at", NOW)
    ok(cli, "leader", "seats", "add", "seat1", "PJSIP/leader1", "--by", "admin", "--at", NOW)
    return cli


def add_session(cli, *extra, date="2026-11-25", start="09:00", end="11:00"):
    return ok(cli, "leader", "add-session", "--leader", "张三", "--title", "局长接听日", "--seat", "seat1",
              "--date", date, "--start", start, "--end", end, "--topic", "公交线路优化", "--by", "office",
              "--at", NOW, "--json", *extra)


def test_publish_list_live_cancel(desk):
    s = add_session(desk)
    assert (s["date"], s["start"], s["end"], s["leader"], s["seat"], s["state"]) == (
        "2026-11-25", "09:00", "11:00", "张三", "seat1", "published")
    assert s["starts_at"] == "2026-11-25T09:00:00+08:00" and s["created_by"] == "office"
    listed = ok(desk, "leader", "list", "--json", "--at", "2026-11-25T10:00:00+08:00")
    assert [r["id"] for r in listed] == [s["id"]] and listed[0]["live"] is True
    assert ok(desk, "leader", "list", "--from", "2026-11-26", "--json") == []
    assert len(ok(desk, "leader", "list", "--from", "2026-11-25", "--to", "2026-11-25", "--json")) == 1
    live = ok(desk, "leader", "live", "--json", "--at", "2026-11-25T10:30:00+08:00")
    assert live["announcement"] == "今天由市交通运输局张三局长在线接听，主题：公交线路优化"
    assert live["dial_string"] == "PJSIP/leader1"
    assert ok(desk, "leader", "live", "--json", "--at", "2026-11-25T11:00:00+08:00") is None
    text = ok(desk, "leader", "list", "--at", "2026-11-25T10:00:00+08:00")
    assert "[LIVE]" in text and "市交通运输局张三局长" in text
    c = ok(desk, "leader", "cancel", str(s["id"]), "--reason", "临时公务", "--by", "office", "--at", NOW, "--json")
    assert (c["state"], c["cancel_reason"], c["cancelled_by"]) == ("cancelled", "临时公务", "office")
    assert ok(desk, "leader", "live", "--json", "--at", "2026-11-25T10:30:00+08:00") is None
    assert "CANCELLED" in ok(desk, "leader", "list")


def test_mistakes_are_one_clear_message_and_write_nothing(desk):
    add_session(desk)
    fails(desk, "leader", "add-session", "--leader", "张三", "--seat", "seat1", "--date", "2026-11-25",
          "--start", "10:00", "--end", "12:00", "--by", "office", "--at", NOW, match="overlaps")
    fails(desk, "leader", "add-session", "--leader", "张三", "--seat", "seat1", "--date", "2026-11-26",
          "--start", "12:00", "--end", "10:00", "--by", "office", "--at", NOW, match="end after it starts")
    fails(desk, "leader", "add-session", "--leader", "张三", "--seat", "seat1", "--date", "2026-11-19",
          "--start", "09:00", "--end", "10:00", "--by", "office", "--at", NOW, match="past")
    fails(desk, "leader", "add-session", "--leader", "王五", "--seat", "seat1", "--date", "2026-11-26",
          "--start", "09:00", "--end", "10:00", "--by", "office", "--at", NOW, match="no leader")
    fails(desk, "leader", "seats", "add", "evil", "PJSIP/a&DAHDI/1", "--by", "admin", match="not an allowed dial string")
    fails(desk, "leader", "seats", "add", "seat1", "PJSIP/other", "--by", "admin", match="already exists")
    fails(desk, "leader", "cancel", "999", "--reason", "x", "--by", "admin", match="no leader session")
    fails(desk, "leader", "leaders", "add", "王五", "--by", "admin", match="usage")
    # a past session may be recorded with --force
    assert add_session(desk, "--force", date="2026-11-19")["date"] == "2026-11-19"


def test_seats_and_leaders_json(desk):
    assert ok(desk, "leader", "seats", "--json")[0]["dial_string"] == "PJSIP/leader1"
    [leader] = ok(desk, "leader", "leaders", "--json")
    assert (leader["name"], leader["title"], leader["unit"]) == ("张三", "局长", "市交通运输局")


def test_ical_export_to_a_file(desk, tmp_path):
    s = add_session(desk)
    out = tmp_path / "leaders.ics"
    ok(desk, "leader", "ical", "--out", str(out), "--at", NOW, "--domain", "hotline.example.gov.cn")
    data = out.read_bytes()
    assert data.startswith(b"BEGIN:VCALENDAR\r\n") and data.endswith(b"END:VCALENDAR\r\n")
    assert f"UID:leader-session-{s['id']}@hotline.example.gov.cn".encode() in data
    assert b"DTSTART:20261125T010000Z" in data and b"STATUS:CONFIRMED" in data
    stdout = ok(desk, "leader", "ical", "--at", NOW)
    assert "BEGIN:VEVENT" in stdout


def test_routing_priority_and_callbacks(cli):
    p = ok(cli, "routing", "priority", "add", "138", "0013", "8000", "--note", "独居老人", "--by", "admin", "--json")
    assert (p["number"], p["category"], p["active"]) == ("13800138000", "elderly", True)
    fails(cli, "routing", "priority", "add", "+86 138 0013 8000", "--by", "admin", match="already registered")
    fails(cli, "routing", "priority", "add", "12345", "--by", "admin", match="service")
    assert [r["number"] for r in ok(cli, "routing", "priority", "list", "--json")] == ["13800138000"]
    ok(cli, "routing", "priority", "remove", "13800138000", "--by", "admin")
    assert ok(cli, "routing", "priority", "list", "--json") == []
    assert ok(cli, "routing", "priority", "list", "--all", "--json")[0]["removed_by"] == "admin"
    fails(cli, "routing", "priority", "remove", "13800138000", "--by", "admin", match="not registered")
    assert ok(cli, "routing", "callbacks", "list", "--json") == []
    from datetime import datetime, timezone

    from routing import callbacks
    with cli.database.session() as s:
        cid = callbacks.request(s, caller_key="13900139000", queue="hotline-cmn", language="cmn",
                                now=datetime.now(timezone.utc)).id
    [cb] = ok(cli, "routing", "callbacks", "list", "--json")
    assert (cb["id"], cb["number"], cb["state"]) == (cid, "139****9000", "requested")     # masked
    assert ok(cli, "routing", "callbacks", "list", "--numbers", "--json")[0]["number"] == "13900139000"
    assert ok(cli, "routing", "callbacks", "cancel", str(cid), "--by", "agent7", "--json")["state"] == "cancelled"


def test_routing_queues_live_from_the_manager(cli, monkeypatch):
    fails(cli, "routing", "queues", match="not configured")
    with FakeAMI() as ami:
        ami.add_queue("hotline-cmn", members=3, available=1, callers=2, holdtime=30, talktime=150)
        monkeypatch.setenv("HOTLINE_AMI_SECRET", "s3cret")
        monkeypatch.setenv("HOTLINE_AMI_PORT", str(ami.port))
        [q] = ok(cli, "routing", "queues", "--json")
        assert (q["queue"], q["available"], q["callers"], q["logged_in"], q["talktime_s"]) == ("hotline-cmn", 1, 2, 3, 150)
        [q] = ok(cli, "routing", "queues", "--members", "--json")
        assert len(q["members"]) == 3 and len(q["waiting"]) == 2
        assert "1 of 3 agent(s) free, 2 waiting" in ok(cli, "routing", "queues")
        ami.refuse_logins = True
        err = fails(cli, "routing", "queues", match="refused the login")
        assert "s3cret" not in err


def test_help_lists_the_groups():
    root = Path(__file__).resolve().parents[2]
    exe = Path(sys.executable).with_name("hotline")
    for argv in (["leader", "--help"], ["routing", "--help"], ["leader", "add-session", "--help"]):
        proc = subprocess.run([str(exe), *argv], capture_output=True, text=True, cwd=root, timeout=60)
        assert proc.returncode == 0 and "usage: hotline" in proc.stdout, proc.stderr
