"""Knowledge gaps: unanswered questions grouped, with frequency, examples, nearest entry and unit."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import insert

from analytics import gaps
from analytics.synthetic import call_row
from callers.models import CallRecord
from core.clock import utcnow
from hotline.cli import main
from knowledge import interchange
from knowledge.service import KnowledgeBase
from tickets.models import Unit

NOW = utcnow()
KB = [
    {"id": "sb-01", "question": "社保卡丢了怎么补办", "answer": "携带身份证到社保服务网点补办。", "unit": "人社局"},
    {"id": "gjj-01", "question": "公积金怎么提取", "answer": "登录公积金网上服务大厅申请。", "unit": "公积金中心"},
]
CALLS = [
    # four ways of asking about registering an e-bike: nothing matched, or too unsure
    ("g1", "电动车上牌需要什么材料", "no_match", None, None, 30),
    ("g2", "我想问一下电动车怎么上牌", "low_confidence", "gjj-01", 0.21, 28),
    ("g3", "新买的电动车去哪里上牌，我电话13812345678", "no_match", None, None, 20),
    ("g4", "电动车上牌要带什么", "no_match", None, None, 2),
    # an answer was played and did not solve it (the caller pressed 0)
    ("g5", "社保卡密码忘了怎么办", "not_solved", "sb-01", 0.71, 26),
    ("g6", "社保卡的密码忘记了怎么重置", "not_solved", "sb-01", 0.69, 5),
    # alone: not a gap yet (min_count 2)
    ("g7", "晚上楼下狗一直叫", "no_match", None, None, 4),
    # not gaps: solved, no transcript, too old
    ("s1", "电动车上牌需要什么材料", "solved", "x", 0.9, 3),
    ("s2", "", "no_match", None, None, 3),
    ("s3", "电动车上牌需要什么材料", "no_match", None, None, 24 * 40),
]


def load(db) -> None:
    interchange.import_records(db, interchange.parse_lines([json.dumps(e, ensure_ascii=False) for e in KB]), NOW)
    with db.session() as s:
        s.add_all([Unit(code="JJ", name="交警支队", region="", duties="电动车,驾驶证,车辆上牌", active=True, created_at=NOW),
                   Unit(code="RS", name="人社局", region="", duties="社保,医保,就业", active=True, created_at=NOW),
                   Unit(code="GJJ", name="公积金中心", region="", duties="公积金", active=True, created_at=NOW)])
        s.execute(insert(CallRecord), [
            call_row(id=cid, started_at=NOW - timedelta(hours=h), outcome="handed_off", transcript=text,
                     kb_result=result, kb_entry=entry, kb_score=score)
            for cid, text, result, entry, score, h in CALLS])


def _find(db, **kw) -> list[gaps.Gap]:
    with db.read_session() as s:
        return gaps.find_gaps(s, since=NOW - timedelta(days=30), until=NOW + timedelta(seconds=1),
                              similarity=0.4, min_count=2, **kw)


def test_gaps_grouped_with_frequency_examples_nearest_entry_and_unit(database):
    load(database)
    found = _find(database)
    assert [g.calls for g in found] == [4, 2]
    ebike, card = found
    assert ebike.results == {"low_confidence": 1, "no_match": 3}
    assert "电动车" in ebike.question and "上牌" in ebike.question and "电动车" in ebike.terms
    assert len(ebike.examples) == 3 and all("13812345678" not in e for e in ebike.examples)
    assert ebike.first_at == NOW - timedelta(hours=30) and ebike.last_at == NOW - timedelta(hours=2)
    assert ebike.nearest == {"id": "gjj-01", "question": "公积金怎么提取", "score": 0.21}   # what was offered
    assert (ebike.unit, ebike.unit_name, ebike.unit_source) == ("JJ", "交警支队", "duty")
    assert card.results == {"not_solved": 2} and card.nearest == {"id": "sb-01", "question": "社保卡丢了怎么补办",
                                                                  "score": 0.7}
    assert (card.unit, card.unit_name) == ("RS", "人社局")
    assert sorted(card.examples) == ["社保卡密码忘了怎么办", "社保卡的密码忘记了怎么重置"]
    # stable ids: the same data gives the same gap ids
    assert [g.id for g in _find(database)] == [ebike.id, card.id] and ebike.id.startswith("gap-")


def test_each_unit_sees_its_own_gaps(database):
    load(database)
    assert [g.unit for g in _find(database, unit="JJ")] == ["JJ"]
    assert [g.unit for g in _find(database, unit="人社局")] == ["RS"]
    assert _find(database, unit="GJJ") == []


def test_nearest_entry_from_the_knowledge_base_when_calls_name_none(database):
    load(database)
    with database.session() as s:
        s.execute(insert(CallRecord), [call_row(id=f"k{i}", started_at=NOW - timedelta(hours=1), transcript=t,
                                                kb_result="no_match")
                                       for i, t in enumerate(["公积金提取要多久到账", "公积金提取多久能到账"])])
    kb = KnowledgeBase(database, refresh_s=0)
    found = {g.question: g for g in _find(database, kb=kb)}
    gap = next(g for q, g in found.items() if "公积金" in q)
    assert gap.nearest["id"] == "gjj-01" and gap.unit == "GJJ"


def test_promote_gives_an_importable_knowledge_line(database):
    load(database)
    ebike = _find(database)[0]
    line = gaps.promote(ebike, "携带身份证、购车发票和合格证到车管所办理上牌。", category="交通")
    data = json.loads(line)
    assert set(data) == {"id", "question", "answer", "alternates", "keywords", "unit", "category"}
    assert data["id"] == ebike.id and data["question"] == ebike.question and data["unit"] == "交警支队"
    assert data["alternates"] and data["question"] not in data["alternates"]
    records = interchange.parse_lines([line])
    assert interchange.import_records(database, records, NOW).created == 1
    with pytest.raises(ValueError):
        gaps.promote(ebike, "  ")


def test_cli_gaps(database, monkeypatch, capsys):
    load(database)
    monkeypatch.setenv("HOTLINE_DATABASE_URL", database.url)
    assert main(["report", "gaps", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [g["calls"] for g in data] == [4, 2] and data[0]["unit"] == "JJ"
    assert main(["report", "gaps", "--unit", "RS"]) == 0
    out = capsys.readouterr().out
    assert "社保卡" in out and "电动车" not in out and "sb-01" in out
    assert main(["report", "gaps", "--promote", data[0]["id"], "--answer", "到车管所办理。"]) == 0
    assert json.loads(capsys.readouterr().out)["answer"] == "到车管所办理。"
    assert main(["report", "gaps", "--promote", "gap-nothere", "--answer", "x"]) == 2
