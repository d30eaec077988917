"""The ticket functions the call flow uses, each in its own committed transaction.

``TicketDesk`` is built once by the composition root.  Every method opens a session, does
its work and returns only after the commit, so a number the caller hears is a ticket that
exists, on every node.
"""
from __future__ import annotations

import logging
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from core.db import Database
from tickets import followup, jobs, service
from tickets.lifecycle import ConcurrentUpdate
from workcal.calendar import WorkCalendar
from workcal.deadlines import DEFAULT_DAYS

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Receipt:
    number: str
    due_date: date
    duplicate: bool = False       # an open ticket of the caller's that this message repeats
    state: str = "received"


def _calendar_from_db(session: Session) -> WorkCalendar:
    from workcal.loader import calendar_from_db

    return calendar_from_db(session)


class TicketDesk:
    def __init__(self, db: Database, zone: ZoneInfo, *, recordings_dir: Path | None = None,
                 calendar_factory: Callable[[Session], WorkCalendar] = _calendar_from_db,
                 days: Mapping[str, int] = DEFAULT_DAYS, message_kind: str = "help",
                 duplicate_window_days: int = 30, duplicate_similarity: float = 0.5,
                 return_visit_days: int = 7, return_visit_attempts: int = 3) -> None:
        self.db = db
        self.zone = zone
        self.recordings_dir = Path(recordings_dir) if recordings_dir else None
        self.calendar_factory = calendar_factory
        self.days = dict(days)
        self.message_kind = message_kind
        self.duplicate_window_days = duplicate_window_days
        self.duplicate_similarity = duplicate_similarity
        self.return_visit_days = return_visit_days
        self.return_visit_attempts = return_visit_attempts

    @classmethod
    def from_settings(cls, db: Database, settings, **kw) -> "TicketDesk":
        return cls(db, settings.zone, recordings_dir=settings.recordings_dir, days=settings.deadline_days,
                   message_kind=settings.ticket_message_kind,
                   duplicate_window_days=settings.ticket_duplicate_window_days,
                   duplicate_similarity=settings.ticket_duplicate_similarity,
                   return_visit_days=settings.ticket_return_visit_days,
                   return_visit_attempts=settings.ticket_return_visit_attempts, **kw)

    def _retrying(self, work):
        """``work(session)`` committed (``Database.write``: batched with other writers on
        SQLite); retried twice when it lost a race or waited too long for a lock."""
        for attempt in range(3):
            try:
                return self.db.write(work)
            except (OperationalError, ConcurrentUpdate) as exc:
                if attempt == 2:
                    raise
                log.warning("tickets: retrying after %s", exc.__class__.__name__)

    # -- the phone -------------------------------------------------------------------------
    def keep_recording(self, path: str, call_id: str, received_at: datetime) -> str:
        """The recording's path under the data directory (copied there if it lies elsewhere)."""
        if not path or self.recordings_dir is None or "://" in path:
            return path
        src = Path(path)
        base = self.recordings_dir.resolve()
        try:
            src.resolve().relative_to(base)
            return path
        except ValueError:
            pass
        if not src.is_file():
            log.warning("tickets: message recording %s not found; kept as a reference", path)
            return path
        dest = base / "messages" / received_at.astimezone(self.zone).strftime("%Y/%m/%d") / \
            f"{call_id}-message{src.suffix}"
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dest)
        return str(dest)

    def take_message(self, *, caller_key: str, call_id: str, recording_path: str, received_at: datetime,
                     transcript: str = "", language: str = "cmn", caller_name: str = "") -> Receipt:
        """A left message becomes a ticket (or repeats an open one); returns after the commit."""
        path = self.keep_recording(recording_path, call_id, received_at)

        def work(session: Session) -> Receipt:
            created = service.create_from_message(
                session, caller_key=caller_key, call_id=call_id, recording_path=path or None,
                transcript=transcript, language=language, received_at=received_at, zone=self.zone,
                calendar=self.calendar_factory(session), kind=self.message_kind, caller_name=caller_name,
                days=self.days, duplicate_window_days=self.duplicate_window_days,
                duplicate_similarity=self.duplicate_similarity)
            t = created.ticket
            return Receipt(t.number, t.due_date, created.duplicate, t.state)
        return self._retrying(work)

    def self_served(self, *, caller_key: str, call_id: str | None, question: str, answered_at: datetime,
                    answer: str = "", language: str = "cmn", entry_id: str = "",
                    answered_by: str = "kb") -> str:
        """A consultation answered at once: a consult ticket closed on creation; its number."""
        def work(session: Session) -> str:
            return service.record_self_service(
                session, caller_key=caller_key, call_id=call_id, question=question, answer=answer,
                received_at=answered_at, zone=self.zone, calendar=self.calendar_factory(session),
                language=language, answered_by=answered_by, entry_id=entry_id, days=self.days).number
        return self._retrying(work)

    def rate(self, subject: str, call_id: str | None, rating: int, now: datetime) -> bool:
        """The survey's rating of a ticket (number) or of a call (id); 4–5 flags it for review."""
        return self._retrying(lambda s: followup.rate(s, subject, rating, now, call_id=call_id))

    def progress(self, number: str, caller_key: str, *, verified: bool = False) -> followup.Progress | None:
        with self.db.read_session() as session:
            return followup.progress(session, number, caller_key, verified=verified)

    def attach_transcript(self, number: str, transcript: str, at: datetime) -> None:
        self._retrying(lambda s: service.attach_transcript(s, number, transcript, at=at))

    # -- jobs --------------------------------------------------------------------------------
    def mark_deadlines(self, now: datetime) -> jobs.MarkResult:
        """The overdue job's body (schedule it with APScheduler, e.g. every 10 minutes)."""
        return self._retrying(lambda s: jobs.mark_deadlines(s, now, self.calendar_factory(s)))

    def return_visits(self, now: datetime) -> list[followup.ReturnVisit]:
        with self.db.read_session() as session:
            return followup.return_visit_list(session, now, within_days=self.return_visit_days,
                                              max_attempts=self.return_visit_attempts)
