"""CSV export and import of blocks.

Export writes every block (or those of one status) with the columns of ``EXPORT_FIELDS``.
Import takes blocks decided elsewhere, e.g. the previous system's list or another engine's
export: required columns ``number, ground, evidence, decided_at`` (ISO 8601 with offset);
optional ``ground_text, decided_by, proposed_by, state, lifted_at, lifted_by, lift_reason,
call_ids``.  The period is recomputed here from ``decided_at`` (§3.1).  Import is
all-or-nothing: every row is checked first, and one wrong row means nothing is written.  A row
already present (same number and decision time) is skipped, so importing twice is harmless.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO

from sqlalchemy import select
from sqlalchemy.orm import Session

from blocklist.models import ACTIVE, EV_IMPORTED, EV_LIFTED, LIFTED, Block, BlockCall
from blocklist.period import restriction_last_day, restriction_until
from blocklist.queries import block_dict, blocks_of, cited_calls, _status_filter
from blocklist.service import (EVIDENCE_MAX, REASON_MAX, BlocklistError, Policy, ground_of, add_event,
                               blockable_number, clean_name, clean_text, lock_number)
from callers.models import CallRecord
from core.clock import parse_iso, require_aware

EXPORT_FIELDS = ("id", "number", "status", "state", "ground", "ground_text", "evidence", "proposed_by",
                 "proposed_at", "decided_by", "decided_at", "decision_note", "until", "last_day", "lifted_by",
                 "lifted_at", "lift_reason", "attempts", "last_attempt_at", "call_ids")
REQUIRED = ("number", "ground", "evidence", "decided_at")
MAX_ERRORS_SHOWN = 10


def export_csv(session: Session, out: IO[str], zone, now: datetime, status: str | None = None) -> int:
    require_aware(now, "now")
    writer = csv.DictWriter(out, fieldnames=EXPORT_FIELDS, lineterminator="\n")
    writer.writeheader()
    stmt = select(Block).order_by(Block.id)
    if status is not None:
        stmt = _status_filter(stmt, status, now)
    count = 0
    batch: list[Block] = []
    for block in session.scalars(stmt.execution_options(yield_per=1000)):
        batch.append(block)
        if len(batch) == 1000:
            count += _write(session, writer, batch, zone, now)
            batch = []
    return count + _write(session, writer, batch, zone, now)


def _write(session: Session, writer, batch: list[Block], zone, now: datetime) -> int:
    calls = cited_calls(session, [b.id for b in batch])
    for b in batch:
        row = block_dict(b, zone, now, calls[b.id])
        row["call_ids"] = " ".join(row["call_ids"])
        writer.writerow({k: ("" if row[k] is None else row[k]) for k in EXPORT_FIELDS})
    return len(batch)


@dataclass
class _Row:
    line: int
    number: object
    ground: tuple[str, str]
    evidence: str
    decided_at: datetime
    decided_by: str
    proposed_by: str
    lifted: tuple[datetime, str, str] | None
    call_ids: list[str]
    until: datetime | None = None


@dataclass
class ImportResult:
    imported: int = 0
    duplicates: int = 0
    not_blocks: int = 0          # proposals and rejections in an export: not imported
    notes: list[str] = field(default_factory=list)


def _parse_row(raw: dict, line: int, by: str, now: datetime, policy: Policy) -> _Row | None:
    def get(name: str) -> str:
        return (raw.get(name) or "").strip()

    state = get("state").lower()
    if state in ("proposed", "rejected"):
        return None
    if state not in ("", ACTIVE, "expired", LIFTED):
        raise BlocklistError(f"state {state[:20]!r} is not one of active, expired, lifted, proposed, rejected")
    number = blockable_number(get("number"))
    ground = ground_of(get("ground"), get("ground_text"))
    evidence = clean_text(get("evidence"), "evidence", EVIDENCE_MAX)
    decided_at = parse_iso(get("decided_at"), "decided_at")
    if decided_at > now:
        raise BlocklistError(f"decided_at {get('decided_at')} is in the future")
    decided_by = clean_name(get("decided_by") or by)
    proposed_by = clean_name(get("proposed_by") or decided_by)
    lifted = None
    if state == LIFTED or get("lifted_at"):
        if not get("lifted_at"):
            raise BlocklistError("a lifted block needs lifted_at")
        lifted_at = parse_iso(get("lifted_at"), "lifted_at")
        if not decided_at <= lifted_at <= now:
            raise BlocklistError("lifted_at must lie between decided_at and now")
        lifted = (lifted_at, clean_name(get("lifted_by") or by), clean_text(get("lift_reason"), "lift_reason", REASON_MAX))
    call_ids = [c for c in get("call_ids").replace(",", " ").split() if c][:50]
    row = _Row(line, number, ground, evidence, decided_at, decided_by, proposed_by, lifted, call_ids)
    row.until = restriction_until(decided_at, policy.zone)
    return row


def _end(until: datetime, lifted_at: datetime | None) -> datetime:
    return min(until, lifted_at) if lifted_at is not None else until


def _overlap(row: _Row, blocks: list[Block]) -> Block | None:
    end = _end(row.until, row.lifted[0] if row.lifted else None)
    for b in blocks:
        if b.ends_at is not None and b.decided_at < end and row.decided_at < b.ends_at:
            return b
    return None


def import_csv(session: Session, policy: Policy, fh: IO[str], *, by: str, now: datetime,
               source: str = "CSV file") -> ImportResult:
    require_aware(now, "the time of the import")
    by = clean_name(by)
    reader = csv.DictReader(fh)
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise BlocklistError(f"{source} needs the columns {', '.join(REQUIRED)}; missing: {', '.join(missing)}")
    reader.fieldnames = header
    result, rows, errors = ImportResult(), [], []
    try:
        for raw in reader:
            try:
                row = _parse_row(raw, reader.line_num, by, now, policy)
            except ValueError as exc:  # BlocklistError, bad times
                errors.append(f"line {reader.line_num}: {exc}")
                continue
            if row is None:
                result.not_blocks += 1
            else:
                rows.append(row)
    except csv.Error as exc:
        raise BlocklistError(f"{source} is not a readable CSV file: {exc}") from exc
    seen: dict[str, list] = {}
    for row in rows:   # overlaps inside the file
        for other in seen.get(row.number.key, []):
            if other.decided_at < _end(row.until, row.lifted and row.lifted[0]) and \
                    row.decided_at < _end(other.until, other.lifted and other.lifted[0]):
                errors.append(f"line {row.line}: overlaps the block on line {other.line} for the same number")
        seen.setdefault(row.number.key, []).append(row)
    if not errors:
        errors = _write_rows(session, policy, rows, by, now, source, result)
    if errors:
        shown = "; ".join(errors[:MAX_ERRORS_SHOWN]) + ("; …" if len(errors) > MAX_ERRORS_SHOWN else "")
        raise BlocklistError(f"{len(errors)} row(s) of {source} are wrong, nothing was imported: {shown}")
    return result


def _write_rows(session: Session, policy: Policy, rows: list[_Row], by: str, now: datetime, source: str,
                result: ImportResult) -> list[str]:
    errors: list[str] = []
    for row in rows:
        lock_number(session, row.number, now)
        existing = blocks_of(session, row.number.key)
        if any(b.decided_at == row.decided_at and b.state in (ACTIVE, LIFTED) for b in existing):
            result.duplicates += 1
            continue
        clash = _overlap(row, existing)
        if clash is not None:
            errors.append(f"line {row.line}: overlaps block #{clash.id} of {row.number.key} "
                          f"(decided {clash.decided_at.astimezone(policy.zone).isoformat()})")
            continue
        block = Block(number_key=row.number.key, ground=row.ground[0], ground_text=row.ground[1],
                      evidence=row.evidence, state=LIFTED if row.lifted else ACTIVE,
                      proposed_by=row.proposed_by, proposed_at=row.decided_at, decided_by=row.decided_by,
                      decided_at=row.decided_at, decision_note=f"imported from {source}", until=row.until,
                      last_day=restriction_last_day(row.decided_at, policy.zone), attempts=0)
        block.ends_at = _end(row.until, row.lifted[0] if row.lifted else None)
        if row.lifted:
            block.lifted_at, block.lifted_by, block.lift_reason = row.lifted
        session.add(block)
        session.flush()
        linked = _link_calls(session, block, row.call_ids)
        unknown = [c for c in row.call_ids if c not in linked]
        add_event(session, block, EV_IMPORTED, by, now,
                  f"imported from {source} (line {row.line}): decided by {row.decided_by} at "
                  f"{row.decided_at.astimezone(policy.zone).isoformat()}, in force through {block.last_day}"
                  + (f"; cited calls not in this database: {' '.join(unknown)}" if unknown else ""),
                  reason=row.evidence)
        if row.lifted:
            add_event(session, block, EV_LIFTED, row.lifted[1], row.lifted[0],
                      f"lifted early (imported from {source})", reason=row.lifted[2])
        result.imported += 1
    return errors


def _link_calls(session: Session, block: Block, call_ids: list[str]) -> list[str]:
    if not call_ids:
        return []
    ok = list(session.scalars(select(CallRecord.id).where(CallRecord.id.in_(call_ids),
                                                          CallRecord.caller_key == block.number_key)))
    for call_id in dict.fromkeys(ok):
        session.add(BlockCall(block_id=block.id, call_id=call_id))
    return ok

