"""``hotline blocklist …`` end to end on a migrated database (SQLite and PostgreSQL)."""
from __future__ import annotations

import shutil
from datetime import datetime, timedelta

import pytest
from blocklist.models import Block, BlockCall, BlockedNumber, BlockEvent, CallFlag
from callers import calls
from hotline.cli import main
from tests.cli_support import cli_runner, ok, refused, row_counts

AT = "2026-11-25T10:00:00+08:00"


@pytest.fixture
def cli(database, monkeypatch, tmp_path, capsys):
    return cli_runner(database, monkeypatch, tmp_path, capsys, group=("blocklist",))


MODELS = (BlockedNumber, Block, BlockEvent, BlockCall, CallFlag)


def counts(database):
    return row_counts(database, MODELS)


def fails(cli, *argv, match):
    out, err = refused(cli, MODELS, *argv, match=match)
    assert out == "" and err.count("\n") == 1, err                           # one clear message
    return err


def test_add_then_check_json(cli):
    added = ok(cli, "add", "138 0013 8000", "--ground", "harassing", "--evidence", "shouted at the agent",
               "--by", "admin.li", "--at", AT, "--json")
    assert added["status"] == "active" and added["until"] == "2026-12-26T00:00:00+08:00"
    assert added["last_day"] == "2026-12-25" and added["decided_by"] == "admin.li"
    blocked = ok(cli, "check", "13800138000", "--at", "2026-12-25T23:59:59+08:00", "--json")
    assert blocked["blocked"] is True and blocked["until"] == "2026-12-26T00:00:00+08:00"
    assert blocked["ground"] == "harassing" and blocked["block_id"] == added["id"]
    free = ok(cli, "check", "13800138000", "--at", "2026-12-26T00:00:00+08:00", "--json")
    assert free == {**free, "blocked": False, "until": None, "ground": None}
    # the server in UTC: the same instant written in UTC gives the same answer
    assert ok(cli, "check", "13800138000", "--at", "2026-12-25T15:59:59Z", "--json")["blocked"] is True
    assert ok(cli, "check", "13800138000", "--at", "2026-12-25T16:00:00+00:00", "--json")["blocked"] is False
    text = ok(cli, "check", "13800138000", "--at", "2026-12-01T00:00:00+08:00")
    assert "blocked through 2026-12-25" in text


@pytest.mark.parametrize("typed", [["13800138000"], ["138", "0013", "8000"], ["+86 138-0013-8000"],
                                   ["0086", "13800138000"], ["013800138000"], ["+86(138)00138000"]])
def test_any_typed_format_finds_the_same_entry(cli, typed):
    ok(cli, "add", "+8613800138000", "--ground", "insulting", "--evidence", "x", "--by", "a", "--at", AT)
    assert ok(cli, "check", *typed, "--at", AT, "--json")["blocked"] is True
    assert ok(cli, "show", *typed, "--at", AT, "--json")["number"] == "13800138000"
    assert len(ok(cli, "history", *typed, "--json")["events"]) == 1


def test_landline_formats(cli):
    ok(cli, "add", "(0752) 234-5678", "--ground", "other", "--ground-text", "faxes at night",
       "--evidence", "x", "--by", "a", "--at", AT)
    for typed in ("07522345678", "+86 752 2345678", "0086-752-2345678"):
        result = ok(cli, "check", typed, "--at", AT, "--json")
        assert result["blocked"] is True and result["number"] == "07522345678"


@pytest.mark.parametrize("argv,match", [
    (["add", "hello", "--ground", "harassing", "--evidence", "x"], "is not a phone number"),
    (["add", "1380013800", "--ground", "harassing", "--evidence", "x"], "11 digits"),
    (["add", "anonymous", "--ground", "harassing", "--evidence", "x"], "withheld"),
    (["add", "12345", "--ground", "harassing", "--evidence", "x"], "service number"),
    (["add", "13800138000", "--ground", "rude", "--evidence", "x"], "unknown ground 'rude'"),
    (["add", "13800138000", "--ground", "other", "--evidence", "x"], "needs a text"),
    (["add", "13800138000", "--ground", "harassing", "--evidence", "  "], "evidence is required"),
    (["add", "13800138000", "--ground", "harassing", "--evidence", "x", "--at", "2026-11-25T10:00:00"],
     "must carry a time zone"),
    (["add", "13800138000", "--ground", "harassing", "--evidence", "x", "--at", "yesterday"],
     "not an ISO 8601 time"),
    (["add", "13800138000", "--ground", "harassing", "--evidence", "x", "--calls", "nope"], "no call record"),
    (["propose", "13800138000", "--ground", "harassing", "--evidence", "x", "--by", "a\nb"], "one line"),
    (["check", "13800138000", "--at", "2026-11-25 10:00", "--json"], "must carry a time zone"),
    (["check", "unknown", "--json"], "withheld"),
    (["lift", "13800138000", "--reason", "x"], "not blocked"),
    (["approve", "13800138000"], "no proposal"),
    (["list", "--limit", "0"], "--limit"),
])
def test_bad_input_gives_one_message_and_writes_nothing(cli, argv, match):
    fails(cli, *argv, match=match)


def test_missing_required_options_are_refused_by_the_parser(cli, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["blocklist", "add", "13800138000", "--evidence", "x"])
    assert exc.value.code != 0 and "--ground" in capsys.readouterr().err


def test_two_step_on_the_command_line(cli):
    proposed = ok(cli, "propose", "13800138000", "--ground", "no_request", "--evidence", "20 silent calls",
                  "--by", "agent.zhao", "--at", AT, "--json")
    assert proposed["status"] == "proposed" and proposed["until"] is None
    assert ok(cli, "check", "13800138000", "--at", AT, "--json")["blocked"] is False
    waiting = ok(cli, "list", "--proposed", "--at", AT, "--json")
    assert waiting["total"] == 1 and waiting["blocks"][0]["proposed_by"] == "agent.zhao"
    fails(cli, "approve", "13800138000", "--by", "agent.zhao", "--at", AT, match="another person must approve")
    approved = ok(cli, "approve", "13800138000", "--by", "admin.li", "--note", "confirmed",
                  "--at", "2026-11-25T23:59:59+08:00", "--json")
    assert approved["status"] == "active" and approved["until"] == "2026-12-26T00:00:00+08:00"
    assert ok(cli, "list", "--proposed", "--json")["total"] == 0
    assert ok(cli, "list", "--active", "--at", "2026-12-01T00:00:00+08:00", "--json")["total"] == 1
    assert ok(cli, "list", "--expired", "--at", "2026-12-26T00:00:00+08:00", "--json")["total"] == 1
    ok(cli, "propose", "13900139000", "--ground", "threatening", "--evidence", "x", "--by", "agent.zhao", "--at", AT)
    rejected = ok(cli, "reject", "13900139000", "--reason", "a misunderstanding", "--by", "admin.li", "--json")
    assert rejected["status"] == "rejected" and rejected["decision_note"] == "a misunderstanding"


def test_one_step_when_configured(cli, monkeypatch):
    monkeypatch.setenv("HOTLINE_BLOCKLIST_TWO_STEP", "false")
    assert ok(cli, "propose", "13800138000", "--ground", "harassing", "--evidence", "x", "--by", "agent.zhao",
              "--at", AT, "--json")["status"] == "active"
    monkeypatch.setenv("HOTLINE_BLOCKLIST_DIRECT_ADD", "false")
    fails(cli, "add", "13900139000", "--ground", "harassing", "--evidence", "x", match="direct blocking is off")


def test_lift_show_history(cli):
    ok(cli, "add", "13800138000", "--ground", "threatening", "--evidence", "threatened to come over",
       "--by", "admin.li", "--at", AT)
    fails(cli, "add", "13800138000", "--ground", "harassing", "--evidence", "again", "--at", AT,
          match="already blocked through 2026-12-25")
    lifted = ok(cli, "lift", "138-0013-8000", "--reason", "apologised in writing", "--by", "admin.wang",
                "--at", "2026-11-30T09:00:00+08:00", "--json")
    assert lifted["status"] == "lifted" and lifted["lift_reason"] == "apologised in writing"
    ok(cli, "add", "13800138000", "--ground", "harassing", "--evidence", "again", "--by", "admin.li",
       "--at", "2026-12-10T09:00:00+08:00")
    shown = ok(cli, "show", "13800138000", "--at", "2026-12-10T09:00:00+08:00", "--json")
    assert shown["blocked"] is True and [b["status"] for b in shown["blocks"]] == ["lifted", "active"]
    events = ok(cli, "history", "13800138000", "--json")["events"]
    assert [(e["action"], e["actor"]) for e in events] == [
        ("added", "admin.li"), ("lifted", "admin.wang"), ("added", "admin.li")]
    assert events[1]["reason"] == "apologised in writing" and events[1]["at"] == "2026-11-30T09:00:00+08:00"
    text = ok(cli, "history", "13800138000")
    assert text.count("\n") == 3 and "lifted by admin.wang" in text


def test_export_then_import(cli, tmp_path, sqlite_template, monkeypatch):
    ok(cli, "add", "13800138000", "--ground", "harassing", "--evidence", 'said "you, again"', "--by", "admin.li",
       "--at", AT)
    ok(cli, "add", "13900139000", "--ground", "other", "--ground-text", "spam", "--evidence", "多次骚扰",
       "--by", "admin.li", "--at", AT)
    ok(cli, "lift", "13900139000", "--reason", "done", "--by", "admin.wang", "--at", "2026-11-28T10:00:00+08:00")
    ok(cli, "propose", "13700137000", "--ground", "harassing", "--evidence", "x", "--by", "agent.zhao", "--at", AT)
    out_file = tmp_path / "blocks.csv"
    assert "exported 3 block(s)" in ok(cli, "export", "--output", str(out_file), "--at", AT)
    # importing into the same database: everything is already there
    later = "2026-12-01T00:00:00+08:00"
    again = ok(cli, "import", str(out_file), "--by", "admin.zhou", "--at", later, "--json")
    assert again == {"imported": 0, "already_present": 2, "not_imported_proposals_or_rejections": 1}
    # into a fresh database
    fresh = tmp_path / "fresh.db"
    shutil.copyfile(sqlite_template, fresh)
    monkeypatch.setenv("HOTLINE_DATABASE_URL", f"sqlite:///{fresh}")
    result = ok(cli, "import", str(out_file), "--by", "admin.zhou", "--at", later, "--json")
    assert result["imported"] == 2
    assert ok(cli, "check", "13800138000", "--at", "2026-12-25T23:00:00+08:00", "--json")["blocked"] is True
    assert ok(cli, "check", "13900139000", "--at", "2026-11-29T00:00:00+08:00", "--json")["blocked"] is False
    assert ok(cli, "check", "13900139000", "--at", "2026-11-27T00:00:00+08:00", "--json")["blocked"] is True
    shown = ok(cli, "show", "13800138000", "--json")["blocks"][0]
    assert shown["evidence"] == 'said "you, again"' and shown["decided_by"] == "admin.li"
    assert [e["action"] for e in ok(cli, "history", "13900139000", "--json")["events"]] == ["imported", "lifted"]


def test_a_bad_import_writes_nothing(cli, tmp_path):
    good = "13800138000,harassing,x,2026-11-25T10:00:00+08:00\n"
    cases = {
        "number,ground,evidence\n13800138000,harassing,x\n": "missing: decided_at",
        f"number,ground,evidence,decided_at\n{good}hello,harassing,x,2026-11-25T10:00:00+08:00\n": "line 3",
        f"number,ground,evidence,decided_at\n{good}13900139000,harassing,x,2026-11-25T10:00:00\n": "time zone",
        f"number,ground,evidence,decided_at\n{good}13800138000,harassing,y,2026-12-01T10:00:00+08:00\n": "overlaps",
        f"number,ground,evidence,decided_at\n{good}13900139000,rude,x,2026-11-25T10:00:00+08:00\n": "unknown ground",
    }
    for i, (content, match) in enumerate(cases.items()):
        path = tmp_path / f"bad{i}.csv"
        path.write_text(content, encoding="utf-8")
        fails(cli, "import", str(path), "--by", "admin", "--at", "2027-01-01T00:00:00+08:00", match=match)
    fails(cli, "import", str(tmp_path / "missing.csv"), "--by", "admin", match="cannot read")
    (tmp_path / "latin1.csv").write_bytes("number,ground,evidence,decided_at\n\xe9\n".encode("latin-1"))
    fails(cli, "import", str(tmp_path / "latin1.csv"), "--by", "admin", match="not UTF-8")


def test_ending_tomorrow_suggest_and_flag(cli):
    ok(cli, "add", "13800138000", "--ground", "harassing", "--evidence", "x", "--by", "a",
       "--at", "2026-11-25T23:30:00+08:00")
    ok(cli, "add", "13900139000", "--ground", "harassing", "--evidence", "x", "--by", "a",
       "--at", "2026-11-26T00:30:00+08:00")
    ending = ok(cli, "ending-tomorrow", "--at", "2026-12-24T08:00:00+08:00", "--json")["blocks"]
    assert [b["number"] for b in ending] == ["13800138000"]
    start = datetime.fromisoformat("2026-11-25T08:00:00+08:00")
    with cli.database.session() as s:
        for i in range(3):
            calls.open_call(s, call_id=f"c{i}", channel="fastagi", channel_ref=str(i), caller_key="13700137000",
                            caller_kind="mobile", caller_name="", dnid="12345", language="cmn",
                            started_at=start + timedelta(days=i))
    for i in range(2):
        ok(cli, "flag", f"c{i}", "--by", "agent.zhao", "--note", "insults", "--at", f"2026-11-2{5 + i}T18:00:00+08:00")
    fails(cli, "flag", "nope", "--by", "agent.zhao", match="no call record")
    found = ok(cli, "suggest", "--at", "2026-11-28T00:00:00+08:00", "--json")["suggestions"]
    assert [(x["number"], x["evidence"][0]["rule"], x["evidence"][0]["call_ids"]) for x in found] == [
        ("13700137000", "flagged_abusive", ["c0", "c1"])]
    assert ok(cli, "check", "13700137000", "--json")["blocked"] is False      # a suggestion blocks nobody


def test_an_unmigrated_database_is_explained(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("HOTLINE_DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    rc, out, err = cli("check", "13800138000", "--json")
    assert rc != 0 and "hotline db upgrade" in err and err.count("\n") == 1
