"""Knowledge base on SQLite and PostgreSQL: all-or-nothing import, upsert, export round-trip,
the service facade, and the ``hotline kb`` commands."""
from __future__ import annotations

import io
import json
import shutil
import time
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from knowledge import interchange
from knowledge.interchange import ImportFailed, parse_lines
from knowledge.models import KnowledgeEntry
from knowledge.service import KbAnswer, KnowledgeBase, load_demo

T0 = datetime(2026, 11, 25, 2, 0, tzinfo=timezone.utc)

GOOD = [
    {"id": "e1", "question": "护照怎么办理？", "answer": "到出入境窗口办理。", "alternates": ["第一次办护照"],
     "keywords": ["护照"], "unit": "出入境", "category": "出入境"},
    {"id": "e2", "question": "公积金怎么提取？", "answer": "按规定情形申请提取。"},
    {"id": "e3", "question": "春节假期大厅还办公吗？", "answer": "以通知为准。", "valid_from": "2026-01-15",
     "valid_to": "2026-03-15", "audio": "kb/e3.wav"},
]


def lines(*rows) -> list[str]:
    return [r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in rows]


def count(database) -> int:
    with database.session() as s:
        return s.scalar(select(func.count(KnowledgeEntry.id)))


def test_import_then_read_back(database):
    result = interchange.import_records(database, parse_lines(lines(*GOOD)), T0)
    assert (result.created, result.updated, result.unchanged) == (3, 0, 0)
    with database.session() as s:
        e1 = s.get(KnowledgeEntry, "e1")
        assert e1.alternates == ["第一次办护照"] and e1.keywords == ["护照"] and e1.unit == "出入境"
        assert e1.updated_at == T0 and e1.updated_at.tzinfo is not None
        e3 = s.get(KnowledgeEntry, "e3")
        assert e3.valid_from.isoformat() == "2026-01-15" and e3.audio == "kb/e3.wav"
        assert s.get(KnowledgeEntry, "e2").alternates == []


def test_bad_lines_are_all_reported_by_number_and_nothing_is_imported(database):
    text = lines(GOOD[0],
                 "{not json",
                 {"id": "x", "question": "", "answer": "a"},
                 "",                                     # blank lines are fine
                 {"id": "y", "question": "q", "answer": "a", "colour": "red"},
                 ["a list"],
                 {"id": "e1", "question": "again", "answer": "dup"},
                 {"id": "z", "question": "q", "answer": "a", "valid_from": "2026-03-01", "valid_to": "2026-02-01"},
                 {"question": "no id", "answer": "a"},
                 {"id": "w", "question": "q", "answer": "a", "alternates": "not a list"},
                 GOOD[1])
    with pytest.raises(ImportFailed) as info:
        parse_lines(text)
    by_line = {e.line: e.message for e in info.value.errors}
    assert sorted(by_line) == [2, 3, 5, 6, 7, 8, 9, 10]
    assert "JSON" in by_line[2] and "question" in by_line[3] and "colour" in by_line[5]
    assert "object" in by_line[6] and "line 1" in by_line[7] and "after" in by_line[8]
    assert "'id' is missing" in by_line[9] and "alternates" in by_line[10]
    assert "nothing imported" in str(info.value)
    assert count(database) == 0


def test_a_failure_during_the_write_rolls_everything_back(database, monkeypatch):
    interchange.import_records(database, parse_lines(lines(GOOD[0])), T0)
    records = parse_lines(lines({**GOOD[0], "answer": "changed"}, *GOOD[1:]))
    real = interchange._row_values
    calls = {"n": 0}

    def flaky(rec):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("disk full")
        return real(rec)

    monkeypatch.setattr(interchange, "_row_values", flaky)
    with pytest.raises(RuntimeError):
        interchange.import_records(database, records, T0 + timedelta(hours=1))
    with database.session() as s:
        assert s.scalar(select(func.count(KnowledgeEntry.id))) == 1
        assert s.get(KnowledgeEntry, "e1").answer == GOOD[0]["answer"]


def test_upsert_by_id(database):
    interchange.import_records(database, parse_lines(lines(*GOOD)), T0)
    later = T0 + timedelta(days=1)
    changed = {**GOOD[1], "answer": "新的回答", "alternates": ["取公积金"]}
    result = interchange.import_records(database, parse_lines(lines(GOOD[0], changed)), later)
    assert (result.created, result.updated, result.unchanged) == (0, 1, 1)
    with database.session() as s:
        assert s.get(KnowledgeEntry, "e2").answer == "新的回答"
        assert s.get(KnowledgeEntry, "e2").updated_at == later
        assert s.get(KnowledgeEntry, "e1").updated_at == T0          # unchanged rows keep their time
        assert s.scalar(select(func.count(KnowledgeEntry.id))) == 3  # an upsert deletes nothing


def test_export_round_trip(database):
    demo = interchange.read_demo()
    interchange.import_records(database, demo, T0)
    with database.session() as s:
        records = interchange.all_records(s)
    out = io.StringIO()
    assert interchange.write_jsonl(records, out) == len(demo)
    again = parse_lines(out.getvalue().splitlines())
    key = lambda r: r.id  # noqa: E731
    strip = lambda r: {k: v for k, v in r.to_json().items()}  # noqa: E731
    assert [strip(r) for r in sorted(again, key=key)] == [strip(r) for r in sorted(demo, key=key)]
    result = interchange.import_records(database, again, T0 + timedelta(days=1))
    assert result.unchanged == len(demo) and result.updated == result.created == 0


def test_demo_kb_is_large_and_well_formed():
    demo = interchange.read_demo()
    assert len(demo) >= 60
    categories = {r.category for r in demo}
    for needed in ("社会保险", "医疗保障", "住房公积金", "户籍", "出入境", "水电气", "交通", "不动产登记"):
        assert needed in categories
    assert all(r.unit and r.answer and r.alternates for r in demo)


def test_service_answers_with_its_own_dataclass(database):
    load_demo(database, T0)
    kb = KnowledgeBase(database, threshold=0.65, refresh_s=0, clock=lambda: T0)
    ans = kb.answer("喂你好 社保卡掉了怎么补", "cmn")
    assert isinstance(ans, KbAnswer) and ans.entry_id == "hz-si-001" and ans.confident
    assert ans.text.startswith("社保卡遗失后") and 0.65 <= ans.score <= 1.0
    weak = kb.answer("今天天气怎么样", "cmn")
    assert weak is None or not weak.confident
    assert kb.answer("", "cmn") is None
    assert kb.emergency("我家着火了") == "119"


def test_service_respects_validity_in_local_time(database):
    interchange.import_records(database, parse_lines(lines(*GOOD)), T0)
    kb = KnowledgeBase(database, threshold=0.0, refresh_s=0)
    q = "春节假期大厅还办公吗"
    inside = datetime(2026, 3, 15, 23, 30, tzinfo=timezone(timedelta(hours=8)))
    after = datetime(2026, 3, 15, 16, 30, tzinfo=timezone.utc)   # 2026-03-16 00:30 in Asia/Shanghai
    assert kb.answer(q, "cmn", now=inside).entry_id == "e3"
    assert kb.answer(q, "cmn", now=inside).audio == "kb/e3.wav"
    assert kb.answer(q, "cmn", now=after).entry_id != "e3"


def test_import_through_the_service_rebuilds_the_index(database):
    kb = KnowledgeBase(database, threshold=0.5, refresh_s=0)
    assert kb.warm() == 0 and kb.answer("护照怎么办理", "cmn") is None
    kb.import_lines(lines(*GOOD), now=T0)
    assert kb.answer("护照怎么办理", "cmn").entry_id == "e1"


def test_a_running_engine_picks_up_an_import_from_elsewhere(database):
    engine_kb = KnowledgeBase(database, threshold=0.5, refresh_s=0.001)
    assert engine_kb.warm() == 0
    interchange.import_records(database, parse_lines(lines(*GOOD)), T0)     # e.g. `hotline kb import`
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        ans = engine_kb.answer("护照怎么办理", "cmn")
        if ans is not None:
            break
        time.sleep(0.05)
    assert ans is not None and ans.entry_id == "e1"


# -- the command line --------------------------------------------------------------------------

@pytest.fixture
def cli_db(tmp_path, sqlite_template, monkeypatch):
    path = tmp_path / "cli.db"
    shutil.copyfile(sqlite_template, path)
    monkeypatch.setenv("HOTLINE_DATABASE_URL", f"sqlite:///{path}")
    monkeypatch.delenv("HOTLINE_CONFIG", raising=False)
    monkeypatch.delenv("HOTLINE_KB_THRESHOLD", raising=False)
    return path


def run_cli(capsys, *argv):
    from hotline.cli import main

    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_ask_json(cli_db, capsys):
    code, out, _ = run_cli(capsys, "kb", "load-demo", "--if-empty")
    assert code == 0 and "82" in out
    code, out, _ = run_cli(capsys, "kb", "load-demo", "--if-empty")
    assert code == 0 and "already has 82" in out
    code, out, _ = run_cli(capsys, "kb", "ask", "社保卡掉了怎么补", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["answered"] is True and data["emergency"] is None
    assert data["matches"][0]["id"] == "hz-si-001"
    scores = [m["score"] for m in data["matches"]]
    assert scores == sorted(scores, reverse=True) and all(isinstance(m["id"], str) for m in data["matches"])
    assert data["answer"].startswith("社保卡遗失后")
    code, out, _ = run_cli(capsys, "kb", "ask", "今天天气怎么样", "--json")
    assert code == 0 and json.loads(out)["answered"] is False
    code, out, _ = run_cli(capsys, "kb", "ask", "我家着火了", "--json")
    data = json.loads(out)
    assert data["emergency"] == "119" and data["answered"] is False


def test_cli_import_export_list_show(cli_db, tmp_path, capsys):
    good = tmp_path / "good.jsonl"
    good.write_text("\n".join(lines(*GOOD)) + "\n", encoding="utf-8")
    code, out, _ = run_cli(capsys, "kb", "import", str(good), "--json")
    assert code == 0 and json.loads(out)["created"] == 3
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join(lines({**GOOD[0], "answer": "new"}, "{oops", {"id": "q"})) + "\n", encoding="utf-8")
    code, out, err = run_cli(capsys, "kb", "import", str(bad))
    assert code != 0
    assert f"{bad}:2:" in err and f"{bad}:3:" in err and "nothing imported" in err
    exported = tmp_path / "out.jsonl"
    code, _, _ = run_cli(capsys, "kb", "export", "--out", str(exported))
    assert code == 0
    rows = [json.loads(x) for x in exported.read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in rows] == ["e1", "e2", "e3"] and rows[0]["answer"] == GOOD[0]["answer"]
    code, out, _ = run_cli(capsys, "kb", "export")
    assert code == 0 and len(out.splitlines()) == 3
    code, out, _ = run_cli(capsys, "kb", "list", "--json")
    assert code == 0 and [r["id"] for r in json.loads(out)] == ["e1", "e2", "e3"]
    code, out, _ = run_cli(capsys, "kb", "show", "e3", "--json")
    assert code == 0 and json.loads(out)["valid_to"] == "2026-03-15"
    code, _, err = run_cli(capsys, "kb", "show", "nope")
    assert code != 0 and "no entry" in err
    code, _, err = run_cli(capsys, "kb", "import", str(tmp_path / "missing.jsonl"))
    assert code != 0 and "no such file" in err


def test_cli_without_migrated_database_says_so(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HOTLINE_DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    code, _, err = run_cli(capsys, "kb", "ask", "护照怎么办")
    assert code != 0 and "hotline db upgrade" in err
