"""Ticket export for other government systems: the stated schema, masking by role, the export log."""
from __future__ import annotations

import hashlib
import io
import json
from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select

from analytics.export import SCHEMA, SCHEMA_ID, export_log, export_tickets, mask_name, mask_personal
from analytics.models import ExportLog
from analytics.synthetic import ticket_row
from hotline.cli import main
from tickets.models import Ticket, Unit

ZONE = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 3, 10, 9, 0, tzinfo=timezone.utc)


def local(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=ZONE).astimezone(timezone.utc)


def load(db) -> None:
    with db.session() as s:
        s.add(Unit(id=1, code="SW", name="水务集团", region="惠城区", duties="", active=True, created_at=NOW))
        s.flush()
        s.execute(insert(Ticket), [
            ticket_row(number="2026030100011", kind="complaint", state="closed", unit_id=1, region="惠城区",
                       received_at=local("2026-03-01T00:00:00"), closed_at=local("2026-03-02T10:00:00"),
                       rating=2, rated_at=local("2026-03-02T12:00:00"), caller_key="13812345678",
                       caller_name="张三丰", tags="leader,water",
                       content="张三丰反映江北停水，回电13812345678，身份证441302199001011234",
                       transcript="我是张三丰，电话0752-2345678"),
            ticket_row(number="2026030500022", kind="consult", received_at=local("2026-03-05T23:59:59"),
                       content="社保卡怎么补办"),
            ticket_row(number="2026030600033", kind="help", received_at=local("2026-03-06T00:00:00"),
                       content="后一天的工单"),
        ])
        original = s.scalar(select(Ticket.id).where(Ticket.number == "2026030100011"))
        s.execute(insert(Ticket), [ticket_row(number="2026030300044", kind="complaint", duplicate_of=original,
                                              received_at=local("2026-03-03T08:00:00"), content="又停水了")])


def _validate(line: dict) -> None:
    """The stated schema, checked field by field (types, required, no extras)."""
    props = SCHEMA["properties"]
    assert set(line) == set(props) == set(SCHEMA["required"])
    kinds = {"string": str, "integer": int, "boolean": bool, "array": list, "null": type(None)}
    for key, value in line.items():
        spec = props[key]
        if "const" in spec:
            assert value == spec["const"]
        elif "enum" in spec:
            assert value in spec["enum"], key
        else:
            types = spec["type"] if isinstance(spec["type"], list) else [spec["type"]]
            assert any(isinstance(value, kinds[t]) and not (t == "integer" and isinstance(value, bool))
                       for t in types), (key, value)
        if spec.get("format") == "date-time" and value is not None:
            assert datetime.fromisoformat(value).tzinfo is not None


def _export(db, role: str, **kw) -> tuple[list[dict], object, str]:
    buf = io.StringIO()
    result = export_tickets(db, buf, actor="li.si", role=role, now=NOW, zone=ZONE, personal_roles=("admin",), **kw)
    text = buf.getvalue()
    return [json.loads(line) for line in text.splitlines()], result, text


def test_masking_helpers():
    assert mask_name("张三丰") == "张**" and mask_name("李") == "*" and mask_name("") == ""
    assert mask_personal("张三丰说13812345678和441302199001011234", "张三丰") == "张**说138****5678和441302***********4"


def test_export_schema_and_masking_for_an_ordinary_role(database):
    load(database)
    lines, result, text = _export(database, "analyst", date_from=date(2026, 3, 1), date_to=date(2026, 3, 5))
    assert [x["number"] for x in lines] == ["2026030100011", "2026030300044", "2026030500022"]
    for line in lines:
        _validate(line)
        assert line["schema"] == SCHEMA_ID and line["personal_data"] == "masked"
    first = lines[0]
    assert first["caller"] == "138****5678" and first["caller_name"] == "张**"
    assert "13812345678" not in text and "张三丰" not in text and "199001011234" not in text
    assert "0752-2345678" not in text and "2345678" not in first["transcript"]
    assert first["content"].startswith("张**反映江北停水") and "江北停水" in first["content"]
    assert first["unit"] == "SW" and first["unit_name"] == "水务集团" and first["tags"] == ["leader", "water"]
    assert first["kind_zh"] == "投诉" and first["state_zh"] == "已办结" and first["rating"] == 2
    assert first["received_at"] == "2026-02-28T16:00:00+00:00" and first["due_date"]
    assert lines[1]["duplicate_of"] == "2026030100011" and lines[1]["caller"] is None
    assert result.rows == 3 and not result.personal_data
    assert result.sha256 == hashlib.sha256(text.encode("utf-8")).hexdigest()


def test_export_keeps_personal_data_for_admin(database):
    load(database)
    lines, result, text = _export(database, "admin")
    assert len(lines) == 4 and result.personal_data
    first = lines[0]
    assert first["caller"] == "13812345678" and first["caller_name"] == "张三丰"
    assert "441302199001011234" in first["content"] and first["personal_data"] == "included"
    for line in lines:
        _validate(line)


def test_every_export_is_logged(database):
    load(database)
    _export(database, "analyst", date_from=date(2026, 3, 1), date_to=date(2026, 3, 5))
    _export(database, "admin", unit="SW")
    with database.read_session() as s:
        rows = list(s.scalars(select(ExportLog).order_by(ExportLog.id)))
        assert [(r.actor, r.role, r.personal_data, r.rows) for r in rows] == [("li.si", "analyst", False, 3),
                                                                               ("li.si", "admin", True, 1)]
        assert rows[0].date_from == date(2026, 3, 1) and rows[0].date_to == date(2026, 3, 5)
        assert rows[0].at == NOW and rows[0].schema == SCHEMA_ID and len(rows[0].sha256) == 64
        assert json.loads(rows[1].filters) == {"unit": "SW"}
        listed = export_log(s)
    assert [e["role"] for e in listed] == ["admin", "analyst"]


def test_cli_export_tickets(database, tmp_path, monkeypatch, capsys):
    load(database)
    monkeypatch.setenv("HOTLINE_DATABASE_URL", database.url)
    out = tmp_path / "tickets.jsonl"
    assert main(["report", "export-tickets", "--from", "2026-03-01", "--to", "2026-03-31", "--actor", "wang",
                 "--out", str(out)]) == 0
    assert "exported 4 ticket(s), personal data masked" in capsys.readouterr().err
    lines = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    assert len(lines) == 4 and lines[0]["caller"] == "138****5678"
    assert main(["report", "export-tickets", "--role", "admin", "--actor", "zhao"]) == 0
    captured = capsys.readouterr()
    assert "13812345678" in captured.out and "included" in captured.err
    assert main(["report", "export-log", "--json"]) == 0
    log = json.loads(capsys.readouterr().out)
    assert [(e["actor"], e["role"], e["rows"]) for e in log] == [("zhao", "admin", 4), ("wang", "viewer", 4)]
    assert log[1]["destination"] == str(out.resolve())
    assert main(["report", "export-tickets", "--from", "2026-03-05", "--to", "2026-03-01", "--actor", "x"]) == 2


def test_the_documented_schema_is_the_one_exported():
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "data-sharing.md").read_text(encoding="utf-8")
    block = doc.split("```json\n", 1)[1].split("\n```", 1)[0]
    assert json.loads(block) == SCHEMA
