"""The caller's language from their history: the language of their last calls."""
from __future__ import annotations

from collections import Counter

from sqlalchemy import select
from sqlalchemy.orm import Session

from callers.models import CallRecord

LANGUAGES = ("cmn", "yue", "hak")


def language_from_history(session: Session, caller_key: str, *, calls: int = 3,
                          exclude_call_id: str | None = None) -> str | None:
    """The most frequent language of the caller's last ``calls`` calls (ties: the most recent);
    None for a withheld number, no history, or ``calls`` = 0. One indexed query
    (ix_calls_caller_started)."""
    if not caller_key or calls <= 0:
        return None
    query = (select(CallRecord.language).where(CallRecord.caller_key == caller_key)
             .order_by(CallRecord.started_at.desc()).limit(calls + (1 if exclude_call_id else 0)))
    if exclude_call_id:
        query = query.add_columns(CallRecord.id)
    rows = session.execute(query).all()
    langs = [r[0] for r in rows if not (exclude_call_id and r[1] == exclude_call_id)][:calls]
    langs = [lang for lang in langs if lang in LANGUAGES]
    if not langs:
        return None
    counts = Counter(langs)
    best = max(counts.values())
    return next(lang for lang in langs if counts[lang] == best)     # most recent among the most frequent
