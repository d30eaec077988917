"""Time is injected: rules take an aware ``now``; this module only helps build one."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def require_aware(moment: datetime, what: str = "time") -> datetime:
    if moment.tzinfo is None or moment.tzinfo.utcoffset(moment) is None:
        raise ValueError(f"{what} must carry a time zone (e.g. 2026-11-25T10:00:00+08:00)")
    return moment


def local_midnight_after(day: date, zone: ZoneInfo) -> datetime:
    """The instant a local calendar day ends (24:00 = next day's 00:00 local), as aware time."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)


def parse_iso(text: str, what: str = "time") -> datetime:
    """Parse ISO 8601 with an offset; a time without a zone is an error, never guessed."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise ValueError(f"{what}: {text!r} is not an ISO 8601 time") from exc
    return require_aware(moment, what)
