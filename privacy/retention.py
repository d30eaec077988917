"""Retention: recordings and callers' personal data are kept only as long as they are needed.

Two periods (settings ``retention_recordings_days``, ``retention_personal_days``; docs/operations.md
explains them and the PIPL articles behind them). A record is eligible once it is *finished* and
the period has passed since then:

* a ticket: closed or refused (``closed_at``) before the cutoff — an open ticket is never touched,
  however old, and neither is a call record that belongs to one;
* a call record: ended (``ended_at``) before the cutoff, and its ticket, if it has one, eligible
  too (a call record is kept as long as its ticket) — a record still open is never touched.

What happens to an eligible record:

* **recordings** (recordings period): the message recording is deleted from disk (with its
  ``.txt`` side file), and its path removed from the ticket (a ``recording_deleted`` event in the
  ticket's history) and from the call record (a line in its notes), so nothing points to a missing
  file. Files under ``recordings_dir`` older than the period that no record points to (utterances
  left by an interrupted recognition, recordings of calls that never made a ticket) are deleted
  too, as are old files in ``extra_dirs`` (e.g. Asterisk's MixMonitor directory) unless their name
  carries the Asterisk unique id of a call whose ticket is kept. Recordings held
  elsewhere (a Twilio recording URL) are counted, not deleted: delete them at the provider.
* **personal data** (personal-data period): caller numbers are masked (139********), caller
  names blanked, transcripts replaced by ``[已按保留期限删除]`` (a ticket's content too when it is
  the caller's transcribed words; otherwise phone numbers in it are masked). The ticket gets an
  ``anonymised`` event; the call record a line in its notes. What remains — kind, dates, unit,
  region, outcome, rating — is what statistics and the case archive need, with nobody in it.

``purge`` works in batches, each committed on its own, then deletes the files of that batch (a
crash between the two leaves a file no record points to, which the next run deletes). A dry run
reads only: it reports what a run would do and writes nothing, not even the run log.
"""
from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import and_, exists, func, not_, or_, select, update
from sqlalchemy.orm import Session

from callers.models import CallRecord
from core.clock import require_aware
from core.db import Database
from core.logs import mask_text
from tickets import lifecycle as lc
from tickets.models import Ticket, TicketCall

log = logging.getLogger(__name__)

MARKER = "[已按保留期限删除]"
FINISHED_STATES = (lc.CLOSED, lc.REFUSED)
SIDE_SUFFIXES = (".txt",)         # written beside a recording (the transcript recogniser's input)
_CALLS = CallRecord.__table__


@dataclass
class PurgeReport:
    """What a run did (or, dry, would do). Counts are of records and files."""

    at: datetime
    dry_run: bool
    by: str
    recordings_days: int
    personal_days: int
    recordings_before: datetime
    personal_before: datetime
    ticket_recordings: int = 0       # tickets whose recording was deleted (path removed)
    call_recordings: int = 0         # call records whose message recording was deleted (path removed)
    files_deleted: int = 0           # files removed from disk (recordings, side files, strays, extra dirs)
    bytes_deleted: int = 0
    files_missing: int = 0           # a removed path whose file was already gone
    stray_files: int = 0             # of files_deleted: old files under the recordings directory no record names
    extra_dir_files: int = 0         # of files_deleted: old files in the extra directories (MixMonitor …)
    remote_recordings_kept: int = 0  # eligible recordings held elsewhere (URL): delete them at the provider
    tickets_anonymised: int = 0
    calls_anonymised: int = 0
    open_tickets_kept: int = 0       # tickets received before the personal-data cutoff and still open
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        data = asdict(self)
        for key in ("at", "recordings_before", "personal_before"):
            data[key] = data[key].isoformat()
        return data


# --- which records -------------------------------------------------------------------------------

def finished_ticket(cutoff: datetime, t=Ticket):
    """A ticket closed or refused before ``cutoff`` (never an open one)."""
    return and_(t.state.in_(FINISHED_STATES), t.closed_at.is_not(None), t.closed_at < cutoff)


def _ticket_kept(cutoff: datetime):
    """The call record filed, or repeated, a ticket that is open or was finished after ``cutoff``:
    a call record is kept as long as its ticket is."""
    by_number = exists().where(Ticket.number == CallRecord.ticket_number, not_(finished_ticket(cutoff)))
    by_link = exists().where(TicketCall.call_id == CallRecord.id, TicketCall.ticket_id == Ticket.id,
                             not_(finished_ticket(cutoff)))
    return or_(by_number, by_link)


def finished_call(cutoff: datetime):
    """A call record ended before ``cutoff`` whose ticket, if any, was also finished before it."""
    return and_(CallRecord.ended_at.is_not(None), CallRecord.ended_at < cutoff, not_(_ticket_kept(cutoff)))


def _local(column):
    return and_(column.is_not(None), not_(column.contains("://")))


def _not_anonymised(model):
    return or_(model.caller_name != "",
               and_(model.transcript != "", model.transcript != MARKER),
               and_(model.caller_key != "", not_(model.caller_key.contains("*"))))


# --- the run -------------------------------------------------------------------------------------

def purge(db: Database, *, now: datetime, recordings_dir: Path | str, recordings_days: int, personal_days: int,
          dry_run: bool = False, by: str = "system", extra_dirs: Iterable[Path | str] = (), batch: int = 500,
          record_run: Callable[[Session, PurgeReport], None] | None = None) -> PurgeReport:
    """Delete recordings older than ``recordings_days`` and anonymise personal data older than
    ``personal_days`` (both counted from when the record was finished); see the module docstring.

    ``record_run(session, report)`` is called once at the end of a real run (also after a
    failure, with the error in ``report.errors``), in its own committed transaction.
    """
    require_aware(now, "now")
    if recordings_days < 1 or personal_days < 1:
        raise ValueError("retention periods are whole numbers of days ≥ 1")
    report = PurgeReport(at=now, dry_run=dry_run, by=by, recordings_days=recordings_days,
                         personal_days=personal_days, recordings_before=now - timedelta(days=recordings_days),
                         personal_before=now - timedelta(days=personal_days))
    run = _Run(db, report, Path(recordings_dir), [Path(d) for d in extra_dirs], max(1, batch))
    try:
        run.ticket_recordings()
        run.call_recordings()
        run.stray_files()
        run.extra_dirs()
        run.anonymise_tickets()
        run.anonymise_calls()
        run.count_open_kept()
    except Exception as exc:
        report.errors.append(f"{exc.__class__.__name__}: {str(exc).splitlines()[0][:300] if str(exc) else ''}")
        raise
    finally:
        if not dry_run and record_run is not None:
            with db.session() as s:
                record_run(s, report)
    log.info("privacy purge%s: %s", " (dry run)" if dry_run else "", json.dumps(
        {k: v for k, v in report.as_dict().items() if isinstance(v, int) and v}, sort_keys=True))
    return report


class _Run:
    def __init__(self, db: Database, report: PurgeReport, recordings_dir: Path, extra: list[Path],
                 batch: int) -> None:
        self.db, self.report, self.dir, self.extra, self.batch = db, report, recordings_dir, extra, batch
        self.handled: set[str] = set()       # file paths deleted (or, dry, to delete) in this run

    def _pages(self, key, columns: tuple, where, start):
        """Rows ``(key, *columns)`` matching ``where`` in pages of ``self.batch``, by ascending
        ``key`` (keyset paging: a page changed by the caller does not shift the next one)."""
        last = start
        while True:
            with self.db.read_session() as s:
                rows = s.execute(select(key, *columns).where(where, key > last).order_by(key)
                                 .limit(self.batch)).all()
            if not rows:
                return
            last = rows[-1][0]
            yield rows

    # -- recordings on tickets and call records ---------------------------------------------

    def ticket_recordings(self) -> None:
        r = self.report
        cutoff = r.recordings_before
        with self.db.read_session() as s:
            r.remote_recordings_kept += s.scalar(select(func.count()).select_from(Ticket).where(
                finished_ticket(cutoff), Ticket.recording_path.contains("://"))) or 0
        for rows in self._pages(Ticket.id, (Ticket.recording_path,),
                                and_(finished_ticket(cutoff), _local(Ticket.recording_path)), 0):
            if not r.dry_run:
                with self.db.session() as s:
                    for ticket_id, path in rows:
                        ticket = s.get(Ticket, ticket_id)
                        lc.note(s, ticket, "recording_deleted", actor=r.by, at=r.at, recording_path=None,
                                detail={"path": path, "reason": "retention", "days": r.recordings_days,
                                        "file": "deleted" if os.path.exists(path) else "missing"})
            r.ticket_recordings += len(rows)
            for _id, path in rows:
                self._delete(path)

    def call_recordings(self) -> None:
        r = self.report
        cutoff = r.recordings_before
        # the same file may be a ticket's recording: kept while that ticket is not finished long enough
        needed = exists().where(Ticket.recording_path == CallRecord.message_path, not_(finished_ticket(cutoff)))
        where = and_(finished_call(cutoff), _local(CallRecord.message_path), not_(needed))
        note = f"recording deleted {r.at.date().isoformat()} (retention {r.recordings_days} days)"
        for rows in self._pages(CallRecord.id, (CallRecord.message_path, CallRecord.notes), where, ""):
            if not r.dry_run:
                with self.db.session() as s:
                    for call_id, _path, notes in rows:
                        s.execute(update(_CALLS).where(_CALLS.c.id == call_id)
                                  .values(message_path=None, notes=_add_note(notes, note)))
            r.call_recordings += len(rows)
            for _id, path, _notes in rows:
                self._delete(path)

    # -- files no record names ------------------------------------------------------------

    def stray_files(self) -> None:
        if not self.dir.is_dir():
            return
        with self.db.read_session() as s:
            named = {Path(p).name.rsplit(".", 1)[0] for p in s.scalars(
                select(Ticket.recording_path).where(Ticket.recording_path.is_not(None)))}
            named |= {Path(p).name.rsplit(".", 1)[0] for p in s.scalars(
                select(CallRecord.message_path).where(CallRecord.message_path.is_not(None)))}
        before = self.report.recordings_before.timestamp()
        for path in _old_files(self.dir, before):
            if path.name.rsplit(".", 1)[0] in named or str(path) in self.handled:
                continue
            if self._delete(str(path), side_files=False):
                self.report.stray_files += 1

    def extra_dirs(self) -> None:
        dirs = [d for d in self.extra if d.is_dir()]
        if not dirs:
            return
        with self.db.read_session() as s:
            # Asterisk unique ids of calls whose ticket is kept: their full-call recordings stay too
            keep = {ref for ref in s.scalars(select(CallRecord.channel_ref).where(
                _ticket_kept(self.report.recordings_before), CallRecord.channel_ref != "")) if ref}
        before = self.report.recordings_before.timestamp()
        for folder in dirs:
            for path in _old_files(folder, before):
                stem = path.name.rsplit(".", 1)[0]
                if stem in keep or stem.split("-", 1)[-1] in keep:
                    continue
                if self._delete(str(path), side_files=False):
                    self.report.extra_dir_files += 1

    def _delete(self, path: str, side_files: bool = True) -> bool:
        """Delete (dry: count) one file and its side files; True when the file was there."""
        r = self.report
        if path in self.handled:
            return False
        self.handled.add(path)
        found = False
        targets = [path] + ([str(Path(path).with_suffix(s)) for s in SIDE_SUFFIXES] if side_files else [])
        for i, target in enumerate(targets):
            try:
                size = os.path.getsize(target)
            except OSError:
                if i == 0:
                    r.files_missing += 1
                continue
            if not r.dry_run:
                try:
                    os.remove(target)
                except FileNotFoundError:
                    continue
                except OSError as exc:
                    r.errors.append(f"could not delete {target}: {exc.__class__.__name__}")
                    continue
                _remove_empty_parents(Path(target).parent, self.dir)
            r.files_deleted += 1
            r.bytes_deleted += size
            found = found or i == 0
        return found

    # -- personal data ----------------------------------------------------------------------

    def anonymise_tickets(self) -> None:
        r = self.report
        where = and_(finished_ticket(r.personal_before), _not_anonymised(Ticket))
        for rows in self._pages(Ticket.id, (), where, 0):
            ids = [row[0] for row in rows]
            if not r.dry_run:
                with self.db.session() as s:
                    for ticket_id in ids:
                        ticket = s.get(Ticket, ticket_id)
                        values = _anonymous_ticket(ticket)
                        lc.note(s, ticket, "anonymised", actor=r.by, at=r.at, detail={
                            "reason": "retention", "days": r.personal_days, "fields": sorted(values)}, **values)
            r.tickets_anonymised += len(ids)

    def anonymise_calls(self) -> None:
        r = self.report
        where = and_(finished_call(r.personal_before), _not_anonymised(CallRecord))
        note = f"personal data removed {r.at.date().isoformat()} (retention {r.personal_days} days)"
        for rows in self._pages(CallRecord.id, (CallRecord.caller_key, CallRecord.transcript, CallRecord.notes),
                                where, ""):
            if not r.dry_run:
                with self.db.session() as s:
                    for call_id, key, transcript, notes in rows:
                        s.execute(update(_CALLS).where(_CALLS.c.id == call_id).values(
                            caller_key=_masked(key), caller_name="", transcript=MARKER if transcript else "",
                            notes=_add_note(notes, note)))
            r.calls_anonymised += len(rows)

    def count_open_kept(self) -> None:
        with self.db.read_session() as s:
            self.report.open_tickets_kept = s.scalar(select(func.count()).select_from(Ticket).where(
                Ticket.state.in_(lc.OPEN_STATES), Ticket.received_at < self.report.personal_before)) or 0


def _anonymous_ticket(ticket: Ticket) -> dict:
    values: dict = {}
    if ticket.caller_key and "*" not in ticket.caller_key:
        values["caller_key"] = _masked(ticket.caller_key)
    if ticket.caller_name:
        values["caller_name"] = ""
    if ticket.transcript and ticket.transcript != MARKER:
        values["transcript"] = MARKER
        if ticket.content and ticket.content.strip() == ticket.transcript.strip():
            values["content"] = MARKER           # the caller's own words, transcribed
    if "content" not in values and ticket.content:
        masked = _mask_numbers(ticket.content)
        if masked != ticket.content:
            values["content"] = masked
    return values


def _masked(key: str | None) -> str:
    """Only the first three digits are kept (the carrier or area-code prefix): stronger than the
    log mask (139****1111), whose last four digits with a time and a region can point to a person."""
    if not key or "*" in key:
        return key or ""
    digits = "".join(ch for ch in key if ch.isdigit()) or key
    return (digits[:3] + "*" * max(4, len(digits) - 3))[:32] if len(digits) > 4 else "*" * max(4, len(digits))


def _mask_numbers(text: str) -> str:
    """Phone numbers in free text, masked like ``_masked`` (the log mask, then its last digits too)."""
    return _LOG_MASKED.sub(lambda m: m.group(1) + "*" * (len(m.group(2)) + len(m.group(3))), mask_text(text))


_LOG_MASKED = re.compile(r"(?<!\d)(\d{1,3})(\*+)(\d{2,4})(?!\d)")


def _add_note(notes: str | None, line: str) -> str:
    return f"{notes}; {line}" if notes else line


def _old_files(folder: Path, before: float):
    for root, _dirs, files in os.walk(folder):
        for name in files:
            path = Path(root) / name
            try:
                if path.stat().st_mtime < before:
                    yield path
            except OSError:
                continue


def _remove_empty_parents(folder: Path, base: Path) -> None:
    """Remove the dated folders (messages/2026/03/02) a deletion left empty. Never a folder
    directly under ``base`` (messages/, utterances/): the engine writes into those at any moment."""
    try:
        base = base.resolve()
        folder = folder.resolve()
        while base in folder.parent.parents:     # at least two levels below base
            folder.rmdir()                       # fails (and stops) when not empty
            folder = folder.parent
    except OSError:
        pass
