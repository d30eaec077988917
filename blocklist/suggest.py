"""Suggestions from call patterns.  They block nobody: a person reads the evidence and proposes.

Rules (thresholds in configuration, ``blocklist_suggest_*``), over the calls of the last
``window_hours`` before ``now``:

* ``calls_without_request``: many calls from one number with no request recorded (no ticket,
  no message left, not answered by self-service);
* ``short_or_silent_calls``: repeated very short calls (shorter than ``short_call_seconds``) or
  calls abandoned before the caller said or pressed anything;
* ``flagged_abusive``: calls agents flagged as abusive, over ``flag_window_days``.

Numbers already blocked, with a proposal waiting, or withheld are never suggested.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from blocklist.models import PROPOSED, Block, CallFlag
from blocklist.service import BlocklistError, clean_name, clean_text
from callers.models import CallRecord
from core.clock import require_aware

EVIDENCE_CALLS = 20                     # call ids listed per rule (the count covers them all)
_BLOCKABLE_KINDS = ("mobile", "landline", "international")
# answered, left a message (a request), refused under a block, or still running
_EXCLUDED_OUTCOMES = ("self_served", "in_progress", "restricted", "message")
_SILENT_STEPS = ("start", "main_menu")


@dataclass(frozen=True)
class Thresholds:
    window_hours: int = 24
    calls_without_request: int = 10
    short_calls: int = 5
    short_call_seconds: int = 5
    flagged_calls: int = 2
    flag_window_days: int = 30

    @classmethod
    def from_settings(cls, s) -> "Thresholds":
        return cls(window_hours=s.blocklist_suggest_window_hours,
                   calls_without_request=s.blocklist_suggest_calls_without_request,
                   short_calls=s.blocklist_suggest_short_calls,
                   short_call_seconds=s.blocklist_suggest_short_call_seconds,
                   flagged_calls=s.blocklist_suggest_flagged_calls,
                   flag_window_days=s.blocklist_suggest_flag_window_days)


@dataclass(frozen=True)
class Evidence:
    rule: str
    count: int
    threshold: int
    since: datetime
    call_ids: tuple[str, ...]
    description: str


@dataclass(frozen=True)
class Suggestion:
    number_key: str
    ground: str                          # the ground a person would most likely choose
    evidence: tuple[Evidence, ...]

    @property
    def summary(self) -> str:
        return "; ".join(e.description for e in self.evidence)


def flag_call(session: Session, call_id: str, *, by: str, now: datetime, note: str = "") -> CallFlag:
    """An agent flags a call as abusive (feeds ``flagged_abusive``; blocks nobody)."""
    require_aware(now, "the time of the flag")
    by, note = clean_name(by), clean_text(note, "the note", 1000, required=False)
    call = session.get(CallRecord, (call_id or "").strip())
    if call is None:
        raise BlocklistError(f"no call record {(call_id or '')[:40]!r}")
    if not call.caller_key or call.caller_kind not in _BLOCKABLE_KINDS:
        raise BlocklistError(f"call {call.id} came from a withheld or service number, which cannot be blocked")
    flag = CallFlag(call_id=call.id, number_key=call.caller_key, flagged_by=by, flagged_at=now, note=note)
    session.add(flag)
    session.flush()
    return flag


def _is_short_or_silent(row, seconds: int) -> bool:
    if row.ended_at is not None and row.ended_at - row.started_at < timedelta(seconds=seconds):
        return True
    return row.outcome == "abandoned" and not row.has_words and row.hangup_point in _SILENT_STEPS


def _without_request(row) -> bool:
    return row.ticket_number is None and row.message_path is None and row.outcome not in _EXCLUDED_OUTCOMES


def _handled(session: Session, keys: set[str], now: datetime) -> set[str]:
    """Numbers with a block in force or a proposal waiting."""
    if not keys:
        return set()
    rows = session.scalars(select(Block.number_key).where(
        Block.number_key.in_(keys),
        (Block.ends_at > now) | (Block.state == PROPOSED)))
    return set(rows)


def suggestions(session: Session, now: datetime, t: Thresholds) -> list[Suggestion]:
    require_aware(now, "now")
    since = now - timedelta(hours=t.window_hours)
    in_window = (CallRecord.started_at >= since, CallRecord.started_at < now, CallRecord.caller_key != "",
                 CallRecord.caller_kind.in_(_BLOCKABLE_KINDS))
    busy = set(session.scalars(
        select(CallRecord.caller_key).where(*in_window).group_by(CallRecord.caller_key)
        .having(func.count() >= min(t.calls_without_request, t.short_calls))))
    found: dict[str, list[Evidence]] = defaultdict(list)
    if busy:
        rows = session.execute(
            select(CallRecord.id, CallRecord.caller_key, CallRecord.started_at, CallRecord.ended_at,
                   CallRecord.outcome, CallRecord.ticket_number, CallRecord.message_path,
                   CallRecord.hangup_point, (CallRecord.transcript != "").label("has_words"))
            .where(*in_window, CallRecord.caller_key.in_(busy))
            .order_by(CallRecord.caller_key, CallRecord.started_at, CallRecord.id)).all()
        by_number: dict[str, list] = defaultdict(list)
        for row in rows:
            by_number[row.caller_key].append(row)
        for key, calls in by_number.items():
            idle = [r.id for r in calls if _without_request(r)]
            if len(idle) >= t.calls_without_request:
                found[key].append(Evidence(
                    "calls_without_request", len(idle), t.calls_without_request, since,
                    tuple(idle[:EVIDENCE_CALLS]),
                    f"{len(idle)} calls in {t.window_hours} h with no request recorded "
                    f"(threshold {t.calls_without_request})"))
            short = [r.id for r in calls if _is_short_or_silent(r, t.short_call_seconds)]
            if len(short) >= t.short_calls:
                found[key].append(Evidence(
                    "short_or_silent_calls", len(short), t.short_calls, since, tuple(short[:EVIDENCE_CALLS]),
                    f"{len(short)} calls in {t.window_hours} h shorter than {t.short_call_seconds} s "
                    f"or silent (threshold {t.short_calls})"))
    flag_since = now - timedelta(days=t.flag_window_days)
    flagged = session.execute(
        select(CallFlag.number_key, func.count(func.distinct(CallFlag.call_id)))
        .where(CallFlag.flagged_at >= flag_since, CallFlag.flagged_at < now)
        .group_by(CallFlag.number_key)
        .having(func.count(func.distinct(CallFlag.call_id)) >= t.flagged_calls)).all()
    for key, count in flagged:
        ids = list(dict.fromkeys(session.scalars(
            select(CallFlag.call_id).where(CallFlag.number_key == key, CallFlag.flagged_at >= flag_since,
                                           CallFlag.flagged_at < now).order_by(CallFlag.flagged_at, CallFlag.id))))
        found[key].append(Evidence(
            "flagged_abusive", count, t.flagged_calls, flag_since, tuple(ids[:EVIDENCE_CALLS]),
            f"{count} calls flagged abusive by agents in {t.flag_window_days} days (threshold {t.flagged_calls})"))
    skip = _handled(session, set(found), now)
    out = []
    for key in sorted(found):
        if key in skip:
            continue
        rules = {e.rule for e in found[key]}
        ground = ("harassing" if "flagged_abusive" in rules
                  else "malicious_calls" if "short_or_silent_calls" in rules else "no_request")
        out.append(Suggestion(key, ground, tuple(found[key])))
    return out


def suggestion_dict(s: Suggestion, zone) -> dict:
    return {"number": s.number_key, "ground": s.ground, "summary": s.summary,
            "evidence": [{"rule": e.rule, "count": e.count, "threshold": e.threshold,
                          "since": e.since.astimezone(zone).isoformat(), "call_ids": list(e.call_ids),
                          "description": e.description} for e in s.evidence]}
