"""The restriction period (DESIGN §3.1), counted like a period under the Civil Code (Arts. 201, 203).

The day the block is decided is not counted; the period runs from the next local day for 30
natural days; the last day ends at 24:00 local time, i.e. the block ends at 00:00 local time of
the day after the last day.  A block decided at any time on 2026-11-25 (Asia/Shanghai) has
2026-12-25 as its last day and ends at 2026-12-26T00:00:00+08:00.

"Local" is the configured zone, whatever zone the server clock runs in: a decision at
2026-11-25T16:30:00Z is 2026-11-26 00:30 in Shanghai, so it is a decision of 2026-11-26.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from core.clock import local_midnight_after, require_aware

# Natural days; holidays do not extend them (DESIGN §3.1).
RESTRICTION_DAYS = 30


def decision_day(decided_at: datetime, zone: ZoneInfo) -> date:
    """The local calendar day on which the block was decided (not counted in the period)."""
    return require_aware(decided_at, "decision time").astimezone(zone).date()


def restriction_last_day(decided_at: datetime, zone: ZoneInfo, days: int = RESTRICTION_DAYS) -> date:
    """The last local day on which the block is in force (through 24:00 of that day)."""
    if days < 1:
        raise ValueError("a restriction lasts at least one day")
    return decision_day(decided_at, zone) + timedelta(days=days)


def restriction_until(decided_at: datetime, zone: ZoneInfo, days: int = RESTRICTION_DAYS) -> datetime:
    """The instant the block ends: 24:00 local time of its last day, as an aware datetime in ``zone``."""
    return local_midnight_after(restriction_last_day(decided_at, zone, days), zone)


def in_force(until: datetime, now: datetime) -> bool:
    """A decided block is in force exactly while ``now < until`` (expiry is computed, never cleaned up)."""
    return require_aware(now, "now") < until


def last_day_of(until: datetime, zone: ZoneInfo) -> date:
    """The last local day of a period that ends at ``until`` (the day before its local midnight)."""
    return (until.astimezone(zone) - timedelta(microseconds=1)).date()
