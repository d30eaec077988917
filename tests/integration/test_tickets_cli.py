"""``hotline tickets …`` end to end on a migrated database (SQLite and PostgreSQL)."""
from __future__ import annotations

import json

import pytest

from tests.cli_support import cli_runner, ok, refused, row_counts
from tickets.models import ClosureReport, DispatchRuleSet, ExtensionRequest, Ticket, TicketEvent, Unit

AT = "2026-09-25T10:00:00+08:00"
LATER = "2026-09-28T15:00:00+08:00"
REPORT = ("2026年9月28日上午10时，市水务集团维修人员到现场核查，发现主管道破裂，当即组织抢修，"
          "当日下午已恢复供水。已电话回复来电人，来电人表示满意。")


@pytest.fixture
def cli(database, monkeypatch, tmp_path, capsys):
    return cli_runner(database, monkeypatch, tmp_path, capsys, group=("tickets",))


MODELS = (Ticket, TicketEvent, ClosureReport, ExtensionRequest, Unit, DispatchRuleSet)


def counts(database):
    return row_counts(database, MODELS)


def fails(cli, *argv, match):
    out, err = refused(cli, MODELS, *argv, match=match)
    return out, err


@pytest.fixture
def unit(cli):
    ok(cli, "units", "--add", "water", "--name", "市水务集团", "--duties", "停水,水压")


def create(cli, text="小区停水三天了", caller="13800138000", *extra):
    return ok(cli, "create", "--kind", "complaint", "--caller", caller, "--text", text, "--received", AT,
              "--by", "agent1", "--json", *extra)


def test_create_show_list_json(cli, unit):
    t = create(cli)
    assert t["state"] == "received" and t["due_date"] == "2026-10-22" and t["due"] == "2026-10-23T00:00:00+08:00"
    assert t["duplicate"] is False and len(t["number"]) == 14
    again = create(cli, "我们小区停水三天了")
    assert again["duplicate"] is True and again["number"] == t["number"]
    shown = ok(cli, "show", t["number"], "--json")
    assert [h["action"] for h in shown["history"]] == ["create", "repeat"] and shown["repeats"] == 1
    assert [x["number"] for x in ok(cli, "list", "--state", "received", "--json")] == [t["number"]]
    assert ok(cli, "list", "--overdue", "--json") == []
    assert t["number"] in ok(cli, "show", t["number"])


def test_the_whole_way_by_command_line(cli, unit):
    n = create(cli)["number"]
    assert ok(cli, "dispatch", n, "--auto", "--by", "agent1", "--at", AT, "--json")["unit"] == "water"
    assert ok(cli, "accept", n, "--by", "w1", "--at", AT, "--json")["state"] == "accepted"
    ext = ok(cli, "extend", n, "--days", "3", "--reason", "需停水施工", "--by", "w1", "--approve-by", "admin",
             "--at", AT, "--json")
    assert ext["due_date"] == "2026-10-27" and ext["working_days"] == 18
    assert ok(cli, "close", n, "--report", REPORT, "--by", "w1", "--at", LATER, "--json")["state"] == "reported"
    assert ok(cli, "return", n, "--reason", "请补充后续措施", "--by", "admin", "--at", LATER, "--json")["state"] \
        == "returned"
    ok(cli, "close", n, "--report", REPORT, "--by", "w1", "--at", LATER)
    closed = ok(cli, "review", n, "--by", "admin", "--at", LATER, "--json")
    assert closed["state"] == "closed" and closed["closed_at"] == LATER
    rated = ok(cli, "rate", n, "5", "--by", "rv", "--at", LATER, "--json")
    assert rated["rating"] == 5 and rated["review"] is True
    assert ok(cli, "list", "--review", "--json")[0]["number"] == n
    assert ok(cli, "reopen", n, "--reason", "又停水了", "--by", "admin", "--json")["state"] == "returned"


def test_a_vague_closure_report_lists_what_is_missing_and_writes_nothing(cli, unit, tmp_path):
    n = create(cli, "小区停水三天了", "13800138000", "--unit", "water")["number"]
    ok(cli, "accept", n, "--by", "w1")
    report = tmp_path / "report.txt"
    report.write_text("根据《XX条例》第X条规定，不属于我单位职责。", encoding="utf-8")
    before = counts(cli.database)
    rc, out, err = cli("close", n, "--report", str(report), "--by", "w1", "--json")
    assert rc != 0 and counts(cli.database) == before
    assert [m["code"] for m in json.loads(out)["missing"]][:2] == ["bare_citation", "response"]
    assert "仅引用法规条文" in err and "missing time" in err


def test_errors_are_one_clear_message_and_write_nothing(cli, unit):
    n = create(cli)["number"]
    fails(cli, "accept", n, "--by", "w1", match="cannot accept")
    wrong = n[:-1] + str((int(n[-1]) + 1) % 10)
    fails(cli, "show", wrong, match="check digit")
    fails(cli, "dispatch", n, "--unit", "nobody", "--by", "a", match="no handling unit")
    fails(cli, "create", "--kind", "help", "--text", "x", "--unit", "nobody", "--by", "a", match="no handling unit")
    fails(cli, "create", "--kind", "help", "--text", "x", "--received", "2026-09-25T10:00", "--by", "a",
          match="zone")
    fails(cli, "refuse", n, "--code", "repeat_no_new_facts", "--by", "a", match="duplicate-of")
    fails(cli, "units", "--add", "water", "--name", "again", match="already exists")


def test_refuse_prints_the_script(cli):
    n = create(cli)["number"]
    out = ok(cli, "refuse", n, "--code", "outside_jurisdiction", "--by", "agent1")
    assert "refused" in out and "不属于本市" in out
    assert ok(cli, "show", n, "--json")["refusal_code"] == "outside_jurisdiction"
    codes = ok(cli, "refusals", "--json")
    assert len(codes) == 6 and all(c["script"] for c in codes)


def test_answered_consultation_is_closed_on_creation(cli):
    t = ok(cli, "create", "--kind", "consult", "--caller", "13800138000", "--text", "社保卡掉了怎么补",
           "--answered", "携带身份证到社保网点补办", "--by", "agent1", "--at", AT, "--json")
    assert t["state"] == "closed" and t["kind"] == "consult" and t["closed_at"] == AT


def test_rules_are_versioned(cli, unit, tmp_path):
    path = tmp_path / "rules.json"
    path.write_text(json.dumps([{"unit": "water", "keywords": ["停水"]}]), encoding="utf-8")
    assert ok(cli, "rules", "--set", str(path), "--by", "admin", "--json")["version"] == 1
    path.write_text(json.dumps([{"unit": "nobody", "keywords": ["x"]}]), encoding="utf-8")
    fails(cli, "rules", "--set", str(path), "--by", "admin", match="does not exist")
    assert len(ok(cli, "rules", "--history", "--json")) == 1


def test_jobs_by_command_line(cli):
    n = ok(cli, "create", "--kind", "consult", "--caller", "13800138000", "--text", "问个事",
           "--received", "2026-11-23T10:00:00+08:00", "--by", "a", "--json")["number"]
    assert ok(cli, "mark-deadlines", "--at", "2026-11-24T09:00:00+08:00", "--json") == \
        {"due_soon": [n], "overdue": []}
    assert ok(cli, "mark-deadlines", "--at", "2026-11-30T09:00:00+08:00", "--json") == \
        {"due_soon": [], "overdue": [n]}
    assert ok(cli, "mark-deadlines", "--at", "2026-11-30T09:00:00+08:00", "--json") == \
        {"due_soon": [], "overdue": []}
    assert ok(cli, "return-visits", "--json") == []
