"""The published leader-session schedule as an iCalendar file (RFC 5545).

Times are UTC (``DTSTART:20261125T010000Z``), so no VTIMEZONE is needed and every client shows
them in its own zone. Each session has a stable UID (``leader-session-<id>@<domain>``); a
cancelled session stays in the file with ``STATUS:CANCELLED`` and a higher ``SEQUENCE``, so a
subscribed calendar removes it. Text is escaped (``\\`` ``;`` ``,`` newline) and lines are folded
at 75 octets without splitting a UTF-8 character; lines end with CRLF.
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timezone

from leader_desk.models import CANCELLED, Leader, LeaderSession, Seat

PRODID = "-//hotline12345//leader desk//ZH"


def escape_text(value: str) -> str:
    """RFC 5545 §3.3.11 TEXT."""
    return (value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
            .replace("\r\n", "\\n").replace("\n", "\\n").replace("\r", "\\n"))


def fold(line: str) -> str:
    """RFC 5545 §3.1: lines of at most 75 octets, continued with CRLF + one space."""
    out, current, size = [], "", 0
    limit = 75
    for ch in line:
        n = len(ch.encode("utf-8"))
        if size + n > limit:
            out.append(current)
            current, size, limit = " ", 1, 75
        current += ch
        size += n
    out.append(current)
    return "\r\n".join(out)


def utc_stamp(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def session_event(s: LeaderSession, leader: Leader, seat: Seat, *, now: datetime, domain: str) -> list[str]:
    cancelled = s.state == CANCELLED
    description = f"今天由{leader.unit}{leader.name}{leader.title}在线接听"
    if s.topic:
        description += f"，主题：{s.topic}"
    description += "\n拨打12345，在提示后按9转接领导接听专席。"
    if cancelled and s.cancel_reason:
        description += f"\n已取消：{s.cancel_reason}"
    modified = s.cancelled_at if cancelled and s.cancelled_at else s.created_at
    props = [
        ("UID", f"leader-session-{s.id}@{domain}"),
        ("DTSTAMP", utc_stamp(now)),
        ("CREATED", utc_stamp(s.created_at)),
        ("LAST-MODIFIED", utc_stamp(modified)),
        ("SEQUENCE", "1" if cancelled else "0"),
        ("DTSTART", utc_stamp(s.starts_at)),
        ("DTEND", utc_stamp(s.ends_at)),
        ("SUMMARY", escape_text(s.title)),
        ("DESCRIPTION", escape_text(description)),
        ("LOCATION", escape_text(f"12345热线 领导接听专席 {seat.name}")),
        ("CATEGORIES", escape_text("领导接听")),
        ("STATUS", "CANCELLED" if cancelled else "CONFIRMED"),
        ("TRANSP", "TRANSPARENT"),
    ]
    return ["BEGIN:VEVENT"] + [fold(f"{k}:{v}") for k, v in props] + ["END:VEVENT"]


def export_ical(rows: Iterable[tuple[LeaderSession, Leader, Seat]], *, now: datetime,
                domain: str = "hotline12345.local", name: str = "12345热线领导接听安排") -> str:
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", f"PRODID:{PRODID}", "CALSCALE:GREGORIAN", "METHOD:PUBLISH",
             fold(f"X-WR-CALNAME:{escape_text(name)}")]
    for s, leader, seat in rows:
        lines += session_event(s, leader, seat, now=now, domain=domain)
    lines.append("END:VCALENDAR")
    return "\r\n".join(lines) + "\r\n"
