"""``hotline calendar load|show``: official holiday schedules (docs/calendar-format.md)."""
from __future__ import annotations

import getpass

from sqlalchemy import inspect
from sqlalchemy.exc import IntegrityError

from core.clock import utcnow
from core.db import Database
from hotline.cli import CommandError, print_json, settings_from
from workcal import loader
from workcal.calendar import WorkCalendar
from workcal.schedule import WEEKDAYS, ScheduleError

WEEKDAY_ABBR = tuple(w[:3] for w in WEEKDAYS)


def register(sub) -> None:
    p = sub.add_parser("calendar", help="working-day calendar: official holiday schedules")
    s = p.add_subparsers(dest="calendar_command", required=True)
    load = s.add_parser("load", help="validate and load a year's official schedule (TOML)",
                        description="Load the official holiday schedule of one year from a TOML file "
                                    "(format: docs/calendar-format.md). Replaces an earlier load of "
                                    "that year (kept as history); provisional deadlines are recomputed.")
    load.add_argument("file", help="the schedule file, e.g. calendar-2027.toml")
    load.add_argument("--by", help="who loads it (default: the login name)")
    load.add_argument("--json", action="store_true", help="print the result as JSON")
    load.set_defaults(func=load_command)
    show = s.add_parser("show", help="holidays and make-up working days of a year, and their source")
    show.add_argument("year", type=int)
    show.add_argument("--json", action="store_true", help="print as JSON")
    show.set_defaults(func=show_command)


def open_database(args) -> Database:
    """The configured database, which must have been migrated (``hotline db upgrade``)."""
    settings = settings_from(args)
    db = Database(settings.db_url)
    if not inspect(db.engine).has_table("calendar_loads"):
        db.dispose()
        raise CommandError("the database has no calendar tables; run `hotline db upgrade` first")
    return db


def calendar_of(db: Database) -> WorkCalendar:
    with db.session() as session:
        return loader.calendar_from_db(session)


def load_command(args) -> int:
    from tickets.jobs import install_schedule_hook

    install_schedule_hook()     # provisional ticket deadlines of that year are recomputed in the same transaction
    by = args.by or _login_name()
    db = open_database(args)
    try:
        with db.session() as session:
            result = loader.load_schedule(session, args.file, by=by, now=utcnow())
    except ScheduleError as exc:
        raise CommandError(str(exc)) from None
    except IntegrityError:
        raise CommandError("another load of the same year was stored at the same moment; "
                           "check `hotline calendar show` and load again if needed") from None
    finally:
        db.dispose()
    if args.json:
        print_json(result.as_json())
        return 0
    print(f"loaded the {result.year} schedule (load {result.load_id}): {result.holidays} days off, "
          f"{result.workdays} make-up working days")
    print(f"source: {result.source}")
    if result.replaced_load_id is not None:
        print(f"replaces load {result.replaced_load_id} of {result.year} (kept as history)")
    for warning in result.warnings:
        print(f"warning: {warning}")
    return 0


def show_command(args) -> int:
    db = open_database(args)
    try:
        view = calendar_of(db).year_view(args.year)
    finally:
        db.dispose()
    if args.json:
        print_json(view.as_json())
        return 0
    if view.official:
        who = f", loaded by {view.loaded_by} at {view.loaded_at.isoformat()}" if view.loaded_by else ""
        print(f"{view.year}: official ({view.basis}{who})")
    else:
        print(f"{view.year}: PROVISIONAL — no official schedule loaded; deadlines touching "
              f"{view.year} are provisional")
    print(f"source: {view.source}")
    print("days off:" if view.official else "statutory holidays:")
    for day, name in view.holidays.items():
        print(f"  {day.isoformat()} {WEEKDAY_ABBR[day.weekday()]}  {name}")
    print("make-up working days (调休):" + ("" if view.workdays else " none"))
    for day, name in view.workdays.items():
        print(f"  {day.isoformat()} {WEEKDAY_ABBR[day.weekday()]}  {name}")
    return 0


def _login_name() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name in some containers
        return "cli"
