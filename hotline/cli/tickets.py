"""``hotline tickets …``: tickets (工单). For now only ``deadline``; the other sub-commands
(create, show, list, …) are added to this module with their own ``add_*_command(subparsers)``
and a line in :func:`register`.
"""
from __future__ import annotations

from core.clock import parse_iso, utcnow
from hotline.cli import CommandError, print_json, settings_from
from hotline.cli.calendar import calendar_of, open_database
from workcal.deadlines import KIND_NAMES, compute_deadline


def register(sub) -> None:
    p = sub.add_parser("tickets", help="tickets (工单): deadlines, …")
    subparsers = p.add_subparsers(dest="tickets_command", required=True)
    add_deadline_command(subparsers)
    __import__("hotline.cli.tickets_admin", fromlist=["add_commands"]).add_commands(subparsers)


def add_deadline_command(subparsers) -> None:
    d = subparsers.add_parser(
        "deadline", help="the legal deadline of a request received at a given time",
        description="Working days after the day of receipt (not counted); due at 24:00 local time "
                    "of the last one. Provisional when it touches a year without an official schedule.")
    d.add_argument("--kind", required=True, help="consult | help | suggestion | complaint | report")
    d.add_argument("--received", help="time of receipt, ISO 8601 with offset, e.g. "
                                      "2026-09-25T10:00:00+08:00 (default: now)")
    d.add_argument("--json", action="store_true", help="print as JSON")
    d.set_defaults(func=deadline_command)


def deadline_command(args) -> int:
    settings = settings_from(args)
    days = settings.deadline_days
    if args.kind not in days:
        raise CommandError(f"unknown kind {args.kind!r}; known kinds: {', '.join(days)}")
    try:
        received = parse_iso(args.received, "--received") if args.received else utcnow()
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    zone = settings.zone
    db = open_database(args)
    try:
        calendar = calendar_of(db)
    finally:
        db.dispose()
    try:
        deadline = compute_deadline(calendar, args.kind, received, zone, days)
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    if args.json:
        print_json({
            "kind": args.kind, "kind_name": KIND_NAMES.get(args.kind, args.kind),
            "received": received.isoformat(),
            "received_local": received.astimezone(zone).isoformat(),
            "timezone": settings.timezone,
            "working_days": deadline.working_days,
            "due_date": deadline.due_date.isoformat(),
            "due": deadline.due.isoformat(),
            "provisional": deadline.provisional,
        })
        return 0
    note = " (provisional: the official holiday schedule of a year it touches is not loaded)" \
        if deadline.provisional else ""
    print(f"{args.kind} ({KIND_NAMES.get(args.kind, args.kind)}) received "
          f"{received.astimezone(zone).isoformat()}: {deadline.working_days} working days, "
          f"due by {deadline.due_date.isoformat()} 24:00 {settings.timezone}{note}")
    return 0
