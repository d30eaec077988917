"""Leaders, seats and sessions: publish ahead of time, cancel with a reason, and "who is live now".

A session is entered as a local date and local start/end times in the engine's zone and stored
as aware UTC instants. It is live exactly while ``starts_at <= now < ends_at`` and it is
published — computed from the times on each call (one indexed query), never from a job having
run. Rules on adding: the leader and seat exist, the end is after the start (same day; 24:00
allowed), no other published session overlaps on the same seat or for the same leader, and the
session does not start in the past unless forced (recording one after the fact).
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.clock import require_aware
from leader_desk.models import (CANCELLED, PUBLISHED, Leader, LeaderCall, LeaderSession, Seat,
                                valid_dial_string)

_HHMM = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])$|^24:00$")
_SEAT_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,40}$")


class LeaderDeskError(ValueError):
    """One clear message; nothing has been written."""


@dataclass(frozen=True)
class LiveSession:
    session_id: int
    leader: str
    leader_title: str
    unit: str
    seat: str                   # seat name
    dial_string: str
    title: str
    topic: str
    starts_at: datetime
    ends_at: datetime

    @property
    def announcement(self) -> str:
        return announcement(self)


def _text(value: str, what: str, limit: int, *, required: bool = True) -> str:
    value = " ".join((value or "").split())
    if required and not value:
        raise LeaderDeskError(f"{what} must be given")
    if len(value) > limit:
        raise LeaderDeskError(f"{what} is longer than {limit} characters")
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Co", "Cs") for ch in value):
        raise LeaderDeskError(f"{what} contains a control or invisible character")
    return value


def _by(by: str) -> str:
    return _text(by, "who does this (--by)", 80)


# -- leaders and seats -------------------------------------------------------------------

def add_leader(session: Session, *, name: str, title: str, unit: str, by: str, now: datetime) -> Leader:
    require_aware(now, "now")
    leader = Leader(name=_text(name, "the leader's name", 40), title=_text(title, "the leader's title", 40),
                    unit=_text(unit, "the leader's unit", 80), active=True, created_at=now, created_by=_by(by))
    if session.scalars(select(Leader).where(Leader.name == leader.name, Leader.unit == leader.unit)).first():
        raise LeaderDeskError(f"leader {leader.name} of {leader.unit} already exists")
    session.add(leader)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise LeaderDeskError(f"leader {leader.name} of {leader.unit} already exists") from None
    return leader


def list_leaders(session: Session) -> list[Leader]:
    return list(session.scalars(select(Leader).order_by(Leader.unit, Leader.name)))


def find_leader(session: Session, name: str, unit: str | None = None) -> Leader:
    query = select(Leader).where(Leader.name == " ".join((name or "").split()), Leader.active.is_(True))
    if unit:
        query = query.where(Leader.unit == " ".join(unit.split()))
    found = list(session.scalars(query))
    if not found:
        raise LeaderDeskError(f"no leader named {name!r}" + (f" in {unit}" if unit else "")
                              + " (add one: hotline leader leaders add NAME --title … --unit …)")
    if len(found) > 1:
        raise LeaderDeskError(f"several leaders are named {name!r} ({', '.join(l.unit for l in found)}): "
                              "say which with --unit")
    return found[0]


def add_seat(session: Session, *, name: str, dial_string: str, by: str, now: datetime) -> Seat:
    require_aware(now, "now")
    name = (name or "").strip()
    if not _SEAT_NAME.match(name):
        raise LeaderDeskError("a seat name is 1 to 40 letters, digits, _ . or -")
    dial_string = (dial_string or "").strip()
    if not valid_dial_string(dial_string):
        raise LeaderDeskError(f"{dial_string[:40]!r} is not an allowed dial string: TECH/resource with TECH one "
                              "of PJSIP, SIP, IAX2, DAHDI, Local and the resource 1-64 of A-Z a-z 0-9 _ . @ + -")
    if session.scalars(select(Seat).where(Seat.name == name)).first():
        raise LeaderDeskError(f"seat {name} already exists")
    seat = Seat(name=name, dial_string=dial_string, active=True, created_at=now, created_by=_by(by))
    session.add(seat)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise LeaderDeskError(f"seat {name} already exists") from None
    return seat


def list_seats(session: Session) -> list[Seat]:
    return list(session.scalars(select(Seat).order_by(Seat.name)))


def find_seat(session: Session, name: str, *, lock: bool = False) -> Seat:
    query = select(Seat).where(Seat.name == (name or "").strip())
    if lock:
        query = query.with_for_update()
    seat = session.scalars(query).first()
    if seat is None:
        raise LeaderDeskError(f"no seat named {name!r} (add one: hotline leader seats add NAME DIALSTRING)")
    if not seat.active:
        raise LeaderDeskError(f"seat {seat.name} is not in use")
    return seat


# -- sessions ----------------------------------------------------------------------------

def parse_day(text: str | date) -> date:
    if isinstance(text, date):
        return text
    try:
        return date.fromisoformat(str(text).strip())
    except ValueError:
        raise LeaderDeskError(f"{str(text)[:20]!r} is not a date YYYY-MM-DD") from None


def local_instant(day: date, hhmm: str, zone: tzinfo) -> datetime:
    """The aware instant of local ``day`` at ``HH:MM`` (24:00 = the next day's midnight)."""
    text = (hhmm or "").strip()
    if not _HHMM.match(text):
        raise LeaderDeskError(f"{text[:10]!r} is not a time HH:MM (00:00 to 24:00)")
    if text == "24:00":
        return datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
    h, m = (int(x) for x in text.split(":"))
    return datetime.combine(day, time(h, m), tzinfo=zone)


def add_session(session: Session, *, leader: str, seat: str, day: str | date, start: str, end: str,
                title: str = "", topic: str = "", by: str, now: datetime, zone: tzinfo,
                unit: str | None = None, force: bool = False) -> LeaderSession:
    require_aware(now, "now")
    day = parse_day(day)
    starts_at, ends_at = local_instant(day, start, zone), local_instant(day, end, zone)
    if ends_at <= starts_at:
        raise LeaderDeskError(f"the session must end after it starts ({start}-{end})")
    if starts_at < now and not force:
        raise LeaderDeskError("the session would start in the past; sessions are published ahead of time "
                              "(use --force to record one after the fact)")
    by = _by(by)
    who = find_leader(session, leader, unit)
    where = find_seat(session, seat, lock=True)      # serialises adds on one seat (PostgreSQL)
    session.scalars(select(Leader).where(Leader.id == who.id).with_for_update()).first()
    title = _text(title, "the title", 120, required=False) or f"{who.unit}{who.title}接听"
    topic = _text(topic, "the topic", 200, required=False)
    for column, value, what in ((LeaderSession.seat_id, where.id, f"seat {where.name}"),
                                (LeaderSession.leader_id, who.id, f"{who.name}")):
        clash = session.scalars(
            select(LeaderSession).where(column == value, LeaderSession.state == PUBLISHED,
                                        LeaderSession.starts_at < ends_at, LeaderSession.ends_at > starts_at)
            .order_by(LeaderSession.starts_at).limit(1)).first()
        if clash is not None:
            c_zone = clash.starts_at.astimezone(zone)
            raise LeaderDeskError(f"{what} already has session #{clash.id} on {c_zone:%Y-%m-%d} "
                                  f"{c_zone:%H:%M}-{clash.ends_at.astimezone(zone):%H:%M}, which overlaps")
    row = LeaderSession(leader_id=who.id, seat_id=where.id, day=day, zone=getattr(zone, "key", str(zone))[:40],
                        starts_at=starts_at, ends_at=ends_at, title=title, topic=topic, state=PUBLISHED,
                        created_at=now, created_by=by)
    session.add(row)
    session.flush()
    return row


def cancel_session(session: Session, session_id: int, *, reason: str, by: str, now: datetime) -> LeaderSession:
    require_aware(now, "now")
    reason, by = _text(reason, "the reason (--reason)", 500), _by(by)
    row = session.get(LeaderSession, session_id, with_for_update=True)
    if row is None:
        raise LeaderDeskError(f"no leader session #{session_id}")
    if row.state == CANCELLED:
        raise LeaderDeskError(f"session #{session_id} was already cancelled by {row.cancelled_by}")
    if row.ends_at <= now:
        raise LeaderDeskError(f"session #{session_id} has already taken place")
    row.state, row.cancelled_at, row.cancelled_by, row.cancel_reason = CANCELLED, now, by, reason
    session.flush()
    return row


def sessions_between(session: Session, *, start: datetime | None = None, end: datetime | None = None,
                     include_cancelled: bool = True) -> list[tuple[LeaderSession, Leader, Seat]]:
    """Sessions overlapping [start, end) (either open), oldest first, with leader and seat."""
    query = (select(LeaderSession, Leader, Seat).join(Leader, Leader.id == LeaderSession.leader_id)
             .join(Seat, Seat.id == LeaderSession.seat_id).order_by(LeaderSession.starts_at, LeaderSession.id))
    if start is not None:
        query = query.where(LeaderSession.ends_at > start)
    if end is not None:
        query = query.where(LeaderSession.starts_at < end)
    if not include_cancelled:
        query = query.where(LeaderSession.state == PUBLISHED)
    return [tuple(row) for row in session.execute(query)]


def live_session(session: Session, now: datetime) -> LiveSession | None:
    """The published session in progress at ``now`` (the earliest-started if several seats are
    live), from the times alone: one query on ix_leader_sessions_state_ends."""
    require_aware(now, "now")
    row = session.execute(
        select(LeaderSession, Leader, Seat).join(Leader, Leader.id == LeaderSession.leader_id)
        .join(Seat, Seat.id == LeaderSession.seat_id)
        .where(LeaderSession.state == PUBLISHED, LeaderSession.ends_at > now, LeaderSession.starts_at <= now)
        .order_by(LeaderSession.starts_at, LeaderSession.id).limit(1)).first()
    if row is None:
        return None
    s, leader, seat = row
    return LiveSession(session_id=s.id, leader=leader.name, leader_title=leader.title, unit=leader.unit,
                       seat=seat.name, dial_string=seat.dial_string, title=s.title, topic=s.topic,
                       starts_at=s.starts_at, ends_at=s.ends_at)


def announcement(live: LiveSession) -> str:
    """What the caller hears (synthesised): "今天由市交通运输局张三局长在线接听，主题：公交线路优化"."""
    text = f"今天由{live.unit}{live.leader}{live.leader_title}在线接听"
    if live.topic:
        text += f"，主题：{live.topic}"
    return text


def record_leader_call(session: Session, *, call_id: str, session_id: int, seat: str, at: datetime) -> LeaderCall:
    """Mark a call put through to a leader seat (idempotent per call)."""
    require_aware(at, "at")
    row = session.get(LeaderCall, call_id[:32])
    if row is None:
        row = LeaderCall(call_id=call_id[:32], session_id=session_id, seat=seat[:80], at=at)
        session.add(row)
        session.flush()
    return row


def record_leader_outcome(session: Session, call_id: str, dial_status: str) -> bool:
    """The dialplan's DIALSTATUS for a call put through to a seat (route ``outcome``)."""
    row = session.get(LeaderCall, call_id[:32])
    if row is None:
        return False
    row.dial_status = (dial_status or "").strip().upper()[:16] or None
    return True


def leader_calls(session: Session, session_id: int) -> list[LeaderCall]:
    return list(session.scalars(select(LeaderCall).where(LeaderCall.session_id == session_id)
                                .order_by(LeaderCall.at)))


def session_json(s: LeaderSession, leader: Leader, seat: Seat, zone: tzinfo, now: datetime | None = None) -> dict:
    def iso(t):
        return t.astimezone(zone).isoformat() if t else None
    data = {"id": s.id, "date": s.day.isoformat(), "start": f"{s.starts_at.astimezone(zone):%H:%M}",
            "end": "24:00" if s.ends_at.astimezone(zone).date() > s.day else f"{s.ends_at.astimezone(zone):%H:%M}",
            "starts_at": iso(s.starts_at), "ends_at": iso(s.ends_at), "leader": leader.name,
            "leader_title": leader.title, "unit": leader.unit, "seat": seat.name, "dial_string": seat.dial_string,
            "title": s.title, "topic": s.topic, "state": s.state, "created_at": iso(s.created_at),
            "created_by": s.created_by, "cancelled_at": iso(s.cancelled_at), "cancelled_by": s.cancelled_by,
            "cancel_reason": s.cancel_reason, "opened_at": iso(s.opened_at), "closed_at": iso(s.closed_at)}
    if now is not None:
        data["live"] = s.state == PUBLISHED and s.starts_at <= now < s.ends_at
    return data
