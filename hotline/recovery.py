"""After an engine restart: nothing recorded is lost, no call record stays open.

An engine killed mid-call (SIGKILL, power loss) leaves two things behind: call records that were
never closed, and — if it died while Asterisk was recording a message — a message file on disk
with no ticket (Asterisk finishes RECORD FILE whatever the engine does). At start, ``hotline
serve`` closes the stale records and turns such orphaned messages into tickets, so an agent can
call the citizen back; the scheduled job repeats the stale-record part every half hour.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import select, update

from callers.calls import close_stale
from callers.models import CallRecord
from core.logs import mask_number
from tickets.lookup import tickets_of_call
from tickets.models import Ticket

log = logging.getLogger(__name__)
SCAN_DAYS = 3            # message folders (messages/YYYY/MM/DD) looked at for orphans


def recover_messages(engine, now: datetime, days: int = SCAN_DAYS) -> list[str]:
    """Message recordings of the last ``days`` days that have no ticket become tickets; returns
    the new ticket numbers."""
    base = Path(engine.settings.recordings_dir) / "messages"
    made: list[str] = []
    for day in range(days):
        folder = base / (now - timedelta(days=day)).strftime("%Y/%m/%d")
        if not folder.is_dir():
            continue
        for wav in sorted(folder.glob("*-message.wav")):
            if wav.stat().st_size <= 44:               # a WAV header and no audio: nothing was said
                continue
            call_id = wav.name[: -len("-message.wav")]
            number = _recover_one(engine, wav, call_id)
            if number:
                made.append(number)
    return made


def _recover_one(engine, wav: Path, call_id: str) -> str | None:
    with engine.db.read_session() as s:
        if s.scalar(select(Ticket.id).where(Ticket.recording_path == str(wav))) is not None:
            return None
        if tickets_of_call(s, call_id):
            return None
        record = s.get(CallRecord, call_id)
        caller_key = record.caller_key if record is not None else ""
        language = record.language if record is not None else engine.settings.default_language
    received = datetime.fromtimestamp(wav.stat().st_mtime, timezone.utc)
    receipt = engine.tickets.desk.take_message(
        caller_key=caller_key, call_id=call_id, recording_path=str(wav), received_at=received,
        transcript="", language=language)
    engine.db.write(lambda s: s.execute(
        update(CallRecord).where(CallRecord.id == call_id, CallRecord.ended_at.is_(None))
        .values(ended_at=received, outcome="message", ticket_number=receipt.number, message_path=str(wav),
                notes="recovered after an engine restart: the caller did not hear the ticket number")))
    log.warning("message of call %s from %s had no ticket (engine restart): ticket %s made",
                call_id, mask_number(caller_key), receipt.number)
    return receipt.number


def recover_after_restart(engine) -> dict:
    now = engine.clock()
    made = recover_messages(engine, now)
    with engine.db.session() as s:
        closed = close_stale(s, now, timedelta(minutes=engine.settings.stale_call_minutes))
    if closed:
        log.warning("closed %d call record(s) left open by an earlier run", closed)
    return {"messages": made, "calls_closed": closed}
