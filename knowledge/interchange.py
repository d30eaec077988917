"""Knowledge-base interchange: JSON Lines, one entry a line (DESIGN §4).

    {"id", "question", "answer", "alternates": [..], "keywords": [..], "unit", "category"}

Only ``id``, ``question`` and ``answer`` are required. This engine also reads and writes
``audio`` (path of a recorded answer), ``valid_from`` and ``valid_to`` (``YYYY-MM-DD``, local days,
inclusive). Any other field is an error (a typo must not be silently dropped).

Import is all-or-nothing: every line is validated first and *all* problems are reported with
their line numbers; only a clean file is written, in one transaction, as an upsert by id.
"""
from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import IO

from sqlalchemy import select
from sqlalchemy.orm import Session

from knowledge.models import KnowledgeEntry
from knowledge.retrieval import EntryDoc

DEMO_KB = Path(__file__).with_name("demo_kb.jsonl")

FIELDS = ("id", "question", "answer", "alternates", "keywords", "unit", "category", "audio",
          "valid_from", "valid_to")
REQUIRED = ("id", "question", "answer")
MAX_ID = 64
MAX_UNIT = 128
MAX_CATEGORY = 64
MAX_AUDIO = 255
MAX_TEXT = 20_000
MAX_LIST = 100
_ID = re.compile(r"^[^\s\x00-\x1f\x7f]+$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
MAX_REPORTED = 50


@dataclass(frozen=True)
class EntryRecord:
    """One validated line."""

    id: str
    question: str
    answer: str
    alternates: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    unit: str = ""
    category: str = ""
    audio: str | None = None
    valid_from: date | None = None
    valid_to: date | None = None
    line: int = 0

    def to_json(self) -> dict:
        return _to_json(self)

    def to_doc(self) -> EntryDoc:
        return EntryDoc(id=self.id, question=self.question, answer=self.answer, alternates=self.alternates,
                        keywords=self.keywords, audio=self.audio, category=self.category, unit=self.unit,
                        valid_from=self.valid_from, valid_to=self.valid_to)


@dataclass(frozen=True)
class LineError:
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


class ImportFailed(ValueError):
    """The file has bad lines; nothing was imported. ``errors`` lists every one."""

    def __init__(self, errors: list[LineError], source: str = "") -> None:
        self.errors = errors
        self.source = source
        shown = "; ".join(str(e) for e in errors[:5])
        more = f"; … and {len(errors) - 5} more" if len(errors) > 5 else ""
        where = f"{source}: " if source else ""
        super().__init__(f"{where}{len(errors)} bad line(s), nothing imported — {shown}{more}")


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    ids: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.created + self.updated + self.unchanged

    def as_dict(self) -> dict:
        return {"created": self.created, "updated": self.updated, "unchanged": self.unchanged,
                "total": self.total}


# -- parsing -----------------------------------------------------------------------------------

def parse_lines(lines: Iterable[str | bytes], source: str = "") -> list[EntryRecord]:
    """Validate every line; raise :class:`ImportFailed` listing all bad lines, else the records."""
    records: list[EntryRecord] = []
    errors: list[LineError] = []
    seen: dict[str, int] = {}
    for number, raw in enumerate(lines, start=1):
        if isinstance(raw, bytes):
            try:
                raw = raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError as exc:
                errors.append(LineError(number, f"not UTF-8 text (byte {exc.start + 1})"))
                continue
        elif number == 1:
            raw = raw.lstrip("\ufeff")
        if not raw.strip():
            continue                      # blank lines are allowed
        problems: list[str] = []
        record = _parse_one(raw, number, problems)
        if record is not None and record.id in seen:
            problems.append(f"id {record.id!r} already appears on line {seen[record.id]}")
        if problems:
            errors.extend(LineError(number, p) for p in problems)
            continue
        assert record is not None
        seen[record.id] = number
        records.append(record)
    if errors:
        raise ImportFailed(errors, source)
    return records


def parse_file(path: str | Path) -> list[EntryRecord]:
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            return parse_lines(fh, str(path))
    except FileNotFoundError as exc:
        raise ValueError(f"{path}: no such file") from exc
    except IsADirectoryError as exc:
        raise ValueError(f"{path}: is a directory") from exc


def _parse_one(raw: str, number: int, problems: list[str]) -> EntryRecord | None:
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        problems.append(f"not valid JSON ({exc.msg} at column {exc.colno})")
        return None
    if not isinstance(data, dict):
        problems.append(f"expected a JSON object, got {type(data).__name__}")
        return None
    unknown = sorted(set(data) - set(FIELDS))
    if unknown:
        problems.append(f"unknown field(s) {', '.join(map(repr, unknown))} (allowed: {', '.join(FIELDS)})")
    for name in REQUIRED:
        if name not in data or data[name] is None:
            problems.append(f"{name!r} is missing")
    entry_id = data.get("id")
    if isinstance(entry_id, int) and not isinstance(entry_id, bool):
        entry_id = str(entry_id)
    if "id" in data and entry_id is not None:
        if not isinstance(entry_id, str) or not entry_id.strip():
            problems.append("'id' must be a non-empty string")
        elif len(entry_id) > MAX_ID:
            problems.append(f"'id' is longer than {MAX_ID} characters")
        elif not _ID.match(entry_id):
            problems.append("'id' must not contain spaces or control characters")
    question = _text(data, "question", problems, required=True)
    answer = _text(data, "answer", problems, required=True)
    alternates = _text_list(data, "alternates", problems)
    keywords = _text_list(data, "keywords", problems)
    unit = _short(data, "unit", MAX_UNIT, problems)
    category = _short(data, "category", MAX_CATEGORY, problems)
    audio = _short(data, "audio", MAX_AUDIO, problems) or None
    valid_from = _day(data, "valid_from", problems)
    valid_to = _day(data, "valid_to", problems)
    if valid_from and valid_to and valid_from > valid_to:
        problems.append(f"'valid_from' {valid_from} is after 'valid_to' {valid_to}")
    if problems:
        return None
    return EntryRecord(id=entry_id, question=question, answer=answer, alternates=alternates, keywords=keywords,
                       unit=unit, category=category, audio=audio, valid_from=valid_from, valid_to=valid_to,
                       line=number)


def _text(data: dict, name: str, problems: list[str], required: bool = False) -> str:
    value = data.get(name)
    if value is None:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        problems.append(f"{name!r} must be a non-empty string")
        return ""
    if len(value) > MAX_TEXT:
        problems.append(f"{name!r} is longer than {MAX_TEXT} characters")
    if _CONTROL.search(value):
        problems.append(f"{name!r} contains control characters")
    return value.strip()


def _short(data: dict, name: str, limit: int, problems: list[str]) -> str:
    value = data.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        problems.append(f"{name!r} must be a string")
        return ""
    value = value.strip()
    if len(value) > limit:
        problems.append(f"{name!r} is longer than {limit} characters")
    if _CONTROL.search(value) or "\n" in value:
        problems.append(f"{name!r} contains control characters")
    return value


def _text_list(data: dict, name: str, problems: list[str]) -> tuple[str, ...]:
    value = data.get(name)
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        problems.append(f"{name!r} must be a list of non-empty strings")
        return ()
    if len(value) > MAX_LIST:
        problems.append(f"{name!r} has more than {MAX_LIST} items")
    if any(_CONTROL.search(v) or len(v) > 1000 for v in value):
        problems.append(f"{name!r} has an item with control characters or over 1000 characters")
    out: list[str] = []
    for v in value:
        v = v.strip()
        if v not in out:
            out.append(v)
    return tuple(out)


def _day(data: dict, name: str, problems: list[str]) -> date | None:
    value = data.get(name)
    if value in (None, ""):
        return None
    if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        problems.append(f"{name!r} must be a date written YYYY-MM-DD")
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        problems.append(f"{name!r}: {value} is not a calendar date")
        return None


# -- database ----------------------------------------------------------------------------------

def upsert(session: Session, records: list[EntryRecord], now: datetime) -> ImportResult:
    """Insert or update ``records`` by id in ``session`` (the caller's transaction)."""
    if now.tzinfo is None:
        raise ValueError("naive datetime given for the import time; times must carry a zone")
    result = ImportResult()
    existing: dict[str, KnowledgeEntry] = {}
    ids = [r.id for r in records]
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        for row in session.scalars(select(KnowledgeEntry).where(KnowledgeEntry.id.in_(chunk))):
            existing[row.id] = row
    for rec in records:
        values = _row_values(rec)
        row = existing.get(rec.id)
        if row is None:
            session.add(KnowledgeEntry(id=rec.id, updated_at=now, **values))
            result.created += 1
        elif all(getattr(row, k) == v for k, v in values.items()):
            result.unchanged += 1
        else:
            for k, v in values.items():
                setattr(row, k, v)
            row.updated_at = now
            result.updated += 1
        result.ids.append(rec.id)
    session.flush()
    return result


def import_records(db, records: list[EntryRecord], now: datetime) -> ImportResult:
    """All-or-nothing: one transaction (``db.session()`` commits, or rolls back on any error)."""
    with db.session() as s:
        return upsert(s, records, now)


def _row_values(rec: EntryRecord) -> dict:
    return {"question": rec.question, "answer": rec.answer, "alternates": list(rec.alternates),
            "keywords": list(rec.keywords), "unit": rec.unit, "category": rec.category, "audio": rec.audio,
            "valid_from": rec.valid_from, "valid_to": rec.valid_to}


def record_of(row: KnowledgeEntry) -> EntryRecord:
    return EntryRecord(id=row.id, question=row.question, answer=row.answer,
                       alternates=tuple(row.alternates or ()), keywords=tuple(row.keywords or ()),
                       unit=row.unit or "", category=row.category or "", audio=row.audio,
                       valid_from=row.valid_from, valid_to=row.valid_to)


def all_records(session: Session) -> list[EntryRecord]:
    return [record_of(r) for r in session.scalars(select(KnowledgeEntry).order_by(KnowledgeEntry.id))]


def _to_json(rec: EntryRecord) -> dict:
    out = {"id": rec.id, "question": rec.question, "answer": rec.answer, "alternates": list(rec.alternates),
           "keywords": list(rec.keywords), "unit": rec.unit, "category": rec.category}
    if rec.audio:
        out["audio"] = rec.audio
    if rec.valid_from:
        out["valid_from"] = rec.valid_from.isoformat()
    if rec.valid_to:
        out["valid_to"] = rec.valid_to.isoformat()
    return out


def dump_lines(records: Iterable[EntryRecord]) -> Iterator[str]:
    for rec in records:
        yield json.dumps(_to_json(rec), ensure_ascii=False) + "\n"


def write_jsonl(records: Iterable[EntryRecord], out: IO[str]) -> int:
    n = 0
    for line in dump_lines(records):
        out.write(line)
        n += 1
    return n


def read_demo() -> list[EntryRecord]:
    return parse_file(DEMO_KB)


def read_demo_docs() -> list[EntryDoc]:
    return [r.to_doc() for r in read_demo()]
