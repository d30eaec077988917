"""Twilio's recording status callback: the finished recording joins the ticket its call made.

The ticket already names the recording (the ``RecordingUrl`` of the ``<Record>`` action became
the message's recording path); the callback adds what is only known once Twilio has stored it —
the RecordingSid and duration — as a ``recording`` event in the ticket's history, and sets the
path if the ticket had none. ``tickets.desk.TicketDesk`` has no call for this, so this small
helper uses the tickets package's own pieces (``tickets_of_call``, ``lifecycle.note``). Running
it twice for the same RecordingSid changes nothing.
"""
from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from tickets import lifecycle as lc
from tickets.lookup import tickets_of_call
from tickets.models import TicketEvent

ACTOR = "twilio"


def attach(session: Session, call_id: str, *, recording_sid: str, url: str, seconds: int,
           at: datetime) -> list[str]:
    """Ticket numbers the recording was attached to now (empty: none, or already attached)."""
    attached = []
    for ticket in tickets_of_call(session, call_id):
        if _has(session, ticket.id, recording_sid):
            continue
        values = {} if ticket.recording_path else {"recording_path": url[:255]}
        lc.note(session, ticket, "recording", actor=ACTOR, at=at, detail={
            "call_id": call_id, "recording_sid": recording_sid, "recording": url, "seconds": seconds,
            "channel": "twilio"}, **values)
        attached.append(ticket.number)
    return attached


def _has(session: Session, ticket_id: int, recording_sid: str) -> bool:
    details = session.scalars(select(TicketEvent.detail).where(TicketEvent.ticket_id == ticket_id,
                                                               TicketEvent.action == "recording"))
    for detail in details:
        try:
            if json.loads(detail or "{}").get("recording_sid") == recording_sid:
                return True
        except ValueError:
            continue
    return False
