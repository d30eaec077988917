"""Scheduled work for the blocklist.  Expiry needs none: it is computed at every check."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from blocklist.queries import block_dict, ending_tomorrow
from core.db import Database


def ending_tomorrow_notice(db: Database, now: datetime, zone: ZoneInfo) -> list[dict]:
    """Daily: the blocks whose last day is tomorrow, for the admins' notice (also logged, masked)."""
    with db.read_session() as s:
        return [block_dict(b, zone, now) for b in ending_tomorrow(s, now, zone)]
