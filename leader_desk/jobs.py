"""The scheduler's open/close job for leader sessions — a record, not a switch.

Whether a session is live is computed from its times (``service.live_session``); this job only
notes when the engine saw a session start and end (``opened_at`` / ``closed_at``) and logs it, so
a missed or late run changes nothing for callers.
"""
from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.clock import require_aware
from leader_desk.models import PUBLISHED, Leader, LeaderSession

log = logging.getLogger(__name__)


def open_and_close(session: Session, now: datetime) -> dict:
    """Mark published sessions in progress as opened and ended ones as closed; counts."""
    require_aware(now, "now")
    opened = closed = 0
    rows = session.execute(
        select(LeaderSession, Leader).join(Leader, Leader.id == LeaderSession.leader_id)
        .where(LeaderSession.state == PUBLISHED, LeaderSession.starts_at <= now,
               LeaderSession.closed_at.is_(None))
        .order_by(LeaderSession.starts_at)).all()
    for s, leader in rows:
        if s.ends_at <= now:
            s.closed_at = now
            closed += 1
            log.info("leader session #%d (%s %s, %s) closed", s.id, leader.unit, leader.name, s.title)
        elif s.opened_at is None:
            s.opened_at = now
            opened += 1
            log.info("leader session #%d opened: %s %s answers on their seat until %s", s.id, leader.unit,
                     leader.name, s.ends_at.isoformat())
    return {"opened": opened, "closed": closed}
