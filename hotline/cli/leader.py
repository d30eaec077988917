"""``hotline leader …``: leader-answering sessions (领导接听专席) — leaders, seats, the published
schedule, cancellations, and its iCalendar export.

Dates are local (the engine's ``timezone``), ``--start``/``--end`` are HH:MM (``24:00`` allowed).
``--json`` prints what scripts read. Any error prints one message, exits non-zero and writes
nothing.
"""
from __future__ import annotations

import argparse
import sys

from hotline.cli import CommandError, common_options, database_command, print_json, when, who
from leader_desk import ical, service
from leader_desk.service import LeaderDeskError


def register(sub) -> None:
    p = sub.add_parser("leader", help="leader-answering sessions: leaders, seats, schedule, iCalendar",
                       description="Leader-answering sessions (领导接听专席): publish them ahead of time, "
                                   "cancel them, list them, export them as iCalendar.")
    s = p.add_subparsers(dest="leader_command", required=True, metavar="ACTION")

    add = s.add_parser("add-session", help="publish a session", description="Publish a leader session on a seat.")
    add.add_argument("--leader", required=True, metavar="NAME", help="the leader's name (hotline leader leaders)")
    add.add_argument("--unit", help="the leader's unit, when several leaders share the name")
    add.add_argument("--title", default="", help="the session's title (default: <unit><leader title>接听)")
    add.add_argument("--seat", required=True, metavar="NAME", help="the seat (hotline leader seats)")
    add.add_argument("--date", required=True, metavar="YYYY-MM-DD", help="local date")
    add.add_argument("--start", required=True, metavar="HH:MM", help="local start time")
    add.add_argument("--end", required=True, metavar="HH:MM", help="local end time (24:00 allowed)")
    add.add_argument("--topic", default="", help="the topic, announced to callers")
    add.add_argument("--force", action="store_true", help="allow a session that starts in the past")
    common_options(add, by=True)
    add.set_defaults(func=_command(add_session))

    lst = s.add_parser("list", help="the schedule (sessions overlapping --from … --to)")
    lst.add_argument("--from", dest="from_", metavar="YYYY-MM-DD", help="from this local date (default: all)")
    lst.add_argument("--to", metavar="YYYY-MM-DD", help="through this local date (default: all)")
    lst.add_argument("--published", action="store_true", help="leave cancelled sessions out")
    common_options(lst)
    lst.set_defaults(func=_command(list_sessions))

    cancel = s.add_parser("cancel", help="cancel a published session")
    cancel.add_argument("id", type=int, metavar="ID")
    cancel.add_argument("--reason", required=True, help="why (kept, and shown in the iCalendar)")
    common_options(cancel, by=True)
    cancel.set_defaults(func=_command(cancel_session))

    seats = s.add_parser("seats", help="list seats, or `seats add NAME DIALSTRING`")
    seats.add_argument("words", nargs="*", metavar="add NAME DIALSTRING")
    common_options(seats, by=True)
    seats.set_defaults(func=_command(seats_command))

    leaders = s.add_parser("leaders", help="list leaders, or `leaders add NAME --title … --unit …`")
    leaders.add_argument("words", nargs="*", metavar="add NAME")
    leaders.add_argument("--title", help="the leader's title, e.g. 局长 (for add)")
    leaders.add_argument("--unit", help="the leader's unit, e.g. 市交通运输局 (for add)")
    common_options(leaders, by=True)
    leaders.set_defaults(func=_command(leaders_command))

    live = s.add_parser("live", help="the session live now (or at --at), with the announcement")
    common_options(live)
    live.set_defaults(func=_command(live_command))

    exp = s.add_parser("ical", help="the schedule as an iCalendar file (RFC 5545)")
    exp.add_argument("--out", metavar="FILE", help="write here instead of stdout")
    exp.add_argument("--from", dest="from_", metavar="YYYY-MM-DD", help="from this local date")
    exp.add_argument("--to", metavar="YYYY-MM-DD", help="through this local date")
    exp.add_argument("--domain", default="hotline12345.local", help="domain part of the events' UIDs")
    exp.add_argument("--at", metavar="ISO8601", help=argparse.SUPPRESS)   # the DTSTAMP (tests)
    exp.set_defaults(func=_command(ical_command))


# every sub-command of the group runs on the database
_command = database_command("leader_sessions", "leader-desk", (LeaderDeskError,))


def _range(args, zone):
    start = end = None
    if getattr(args, "from_", None):
        start = service.local_instant(service.parse_day(args.from_), "00:00", zone)
    if getattr(args, "to", None):
        end = service.local_instant(service.parse_day(args.to), "24:00", zone)
    if start and end and end <= start:
        raise CommandError("--to must not be before --from")
    return start, end


def _line(row: dict) -> str:
    text = (f"#{row['id']} {row['date']} {row['start']}-{row['end']} {row['unit']}{row['leader']}"
            f"{row['leader_title']} seat {row['seat']}: {row['title']}")
    if row["topic"]:
        text += f" — {row['topic']}"
    if row["state"] != "published":
        text += f" [CANCELLED by {row['cancelled_by']}: {row['cancel_reason']}]"
    elif row.get("live"):
        text += " [LIVE]"
    return text


# -- commands ----------------------------------------------------------------------------

def add_session(args, settings, database) -> int:
    now = when(args)
    with database.session() as s:
        row = service.add_session(s, leader=args.leader, unit=args.unit, seat=args.seat, day=args.date,
                                  start=args.start, end=args.end, title=args.title, topic=args.topic,
                                  by=who(args), now=now, zone=settings.zone, force=args.force)
        leader, seat = row_parts(s, row)
        data = service.session_json(row, leader, seat, settings.zone, now)
    if args.json:
        print_json(data)
    else:
        print(f"published: {_line(data)}")
    return 0


def row_parts(s, row):
    from leader_desk.models import Leader, Seat
    return s.get(Leader, row.leader_id), s.get(Seat, row.seat_id)


def list_sessions(args, settings, database) -> int:
    now = when(args)
    start, end = _range(args, settings.zone)
    with database.read_session() as s:
        rows = [service.session_json(r, leader, seat, settings.zone, now)
                for r, leader, seat in service.sessions_between(s, start=start, end=end,
                                                                include_cancelled=not args.published)]
    if args.json:
        print_json(rows)
    elif not rows:
        print("no leader sessions")
    else:
        for row in rows:
            print(_line(row))
    return 0


def cancel_session(args, settings, database) -> int:
    now = when(args)
    with database.session() as s:
        row = service.cancel_session(s, args.id, reason=args.reason, by=who(args), now=now)
        leader, seat = row_parts(s, row)
        data = service.session_json(row, leader, seat, settings.zone, now)
    if args.json:
        print_json(data)
    else:
        print(f"cancelled: {_line(data)}")
    return 0


def _seat_json(seat, zone) -> dict:
    return {"id": seat.id, "name": seat.name, "dial_string": seat.dial_string, "active": seat.active,
            "created_at": seat.created_at.astimezone(zone).isoformat(), "created_by": seat.created_by}


def seats_command(args, settings, database) -> int:
    words = list(args.words)
    if words:
        if words[0] != "add" or len(words) != 3:
            raise CommandError("usage: hotline leader seats [add NAME DIALSTRING]")
        with database.session() as s:
            seat = service.add_seat(s, name=words[1], dial_string=words[2], by=who(args), now=when(args))
            data = _seat_json(seat, settings.zone)
        print_json(data) if args.json else print(f"seat added: {data['name']} → {data['dial_string']}")
        return 0
    with database.read_session() as s:
        rows = [_seat_json(seat, settings.zone) for seat in service.list_seats(s)]
    if args.json:
        print_json(rows)
    elif not rows:
        print("no seats (add one: hotline leader seats add NAME DIALSTRING)")
    else:
        for row in rows:
            print(f"{row['name']}: {row['dial_string']}" + ("" if row["active"] else " (not in use)"))
    return 0


def _leader_json(leader, zone) -> dict:
    return {"id": leader.id, "name": leader.name, "title": leader.title, "unit": leader.unit,
            "active": leader.active, "created_at": leader.created_at.astimezone(zone).isoformat(),
            "created_by": leader.created_by}


def leaders_command(args, settings, database) -> int:
    words = list(args.words)
    if words:
        if words[0] != "add" or len(words) != 2 or not args.title or not args.unit:
            raise CommandError("usage: hotline leader leaders [add NAME --title TITLE --unit UNIT]")
        with database.session() as s:
            leader = service.add_leader(s, name=words[1], title=args.title, unit=args.unit, by=who(args),
                                        now=when(args))
            data = _leader_json(leader, settings.zone)
        print_json(data) if args.json else print(f"leader added: {data['unit']}{data['name']}{data['title']}")
        return 0
    with database.read_session() as s:
        rows = [_leader_json(leader, settings.zone) for leader in service.list_leaders(s)]
    if args.json:
        print_json(rows)
    elif not rows:
        print("no leaders (add one: hotline leader leaders add NAME --title … --unit …)")
    else:
        for row in rows:
            print(f"{row['unit']} {row['name']} {row['title']}")
    return 0


def live_command(args, settings, database) -> int:
    now = when(args)
    with database.read_session() as s:
        live = service.live_session(s, now)
    data = None if live is None else {
        "session_id": live.session_id, "leader": live.leader, "unit": live.unit, "seat": live.seat,
        "dial_string": live.dial_string, "title": live.title, "topic": live.topic,
        "starts_at": live.starts_at.astimezone(settings.zone).isoformat(),
        "ends_at": live.ends_at.astimezone(settings.zone).isoformat(), "announcement": live.announcement}
    if args.json:
        print_json(data)
    else:
        print("no leader session is live" if data is None else
              f"#{data['session_id']} live until {data['ends_at']}: {data['announcement']}")
    return 0


def ical_command(args, settings, database) -> int:
    now = when(args)
    start, end = _range(args, settings.zone)
    with database.read_session() as s:
        text = ical.export_ical(service.sessions_between(s, start=start, end=end), now=now, domain=args.domain)
    if args.out:
        with open(args.out, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        print(f"wrote {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0

