"""``hotline privacy purge``: the retention periods applied (recordings deleted, personal data
anonymised in records finished long enough ago; open tickets are never touched).

    hotline privacy purge --dry-run                       # what a run would do; writes nothing
    hotline privacy purge --by admin.li                   # the periods from the configuration
    hotline privacy purge --recordings-older-than 90 --personal-data-older-than 730 --json
    hotline privacy purge --also-dir /var/spool/asterisk/monitor/hotline   # MixMonitor files too

Every real run is written to the audit log (``audit_log``, shown on the console's audit page):
who, when, the periods and the counts. Run it daily (docs/examples/systemd/hotline-purge.timer);
docs/operations.md explains the periods and the PIPL articles behind them.
"""
from __future__ import annotations

import argparse
import getpass

from sqlalchemy import inspect

from core.clock import parse_iso, utcnow
from core.db import Database
from hotline.cli import CommandError, print_json, settings_from


def register(sub) -> None:
    p = sub.add_parser("privacy", help="retention of recordings and personal data (PIPL)")
    s = p.add_subparsers(dest="privacy_command", required=True, metavar="ACTION")
    g = s.add_parser("purge", help="delete old recordings, anonymise old closed records",
                     description="Deletes message recordings (and stray utterance files) of records finished "
                                 "more than the recordings period ago, and masks numbers, blanks names and "
                                 "removes transcripts of records finished more than the personal-data period "
                                 "ago. Open tickets, and call records that belong to them, are never touched.")
    g.add_argument("--recordings-older-than", type=int, metavar="DAYS",
                   help="recordings period in days (default: retention_recordings_days)")
    g.add_argument("--personal-data-older-than", type=int, metavar="DAYS",
                   help="personal-data period in days (default: retention_personal_days)")
    g.add_argument("--also-dir", action="append", default=[], metavar="DIR",
                   help="another directory of recordings to apply the recordings period to by file age, "
                        "e.g. Asterisk's MixMonitor directory (repeatable); files named after a call whose "
                        "ticket is still kept are kept as well")
    g.add_argument("--dry-run", action="store_true", help="report what would be done; change nothing")
    g.add_argument("--json", action="store_true", help="print the report as JSON")
    g.add_argument("--by", metavar="NAME", help="who runs it, for the audit log (default: cli:<login name>)")
    # the moment the periods count back from (tests, restore drills); hidden from --help
    g.add_argument("--at", metavar="ISO8601", help=argparse.SUPPRESS)
    g.set_defaults(func=purge_command)


def _by(args) -> str:
    if args.by:
        return args.by
    try:
        return "cli:" + getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name (containers)
        return "cli"


def purge_command(args) -> int:
    from privacy.retention import purge

    settings = settings_from(args)
    for flag, days in (("--recordings-older-than", args.recordings_older_than),
                       ("--personal-data-older-than", args.personal_data_older_than)):
        if days is not None and days < 1:
            raise CommandError(f"{flag} must be a whole number of days ≥ 1")
    recordings_days = args.recordings_older_than or settings.retention_recordings_days
    personal_days = args.personal_data_older_than or settings.retention_personal_days
    now = parse_iso(args.at, "--at") if args.at else utcnow()
    db = Database(settings.db_url)
    try:
        tables = inspect(db.engine)
        if not (tables.has_table("tickets") and tables.has_table("audit_log")):
            # the run is logged in audit_log: without it a run could change data and log nothing
            raise CommandError("the database schema is not up to date: run `hotline db upgrade`")
        report = purge(db, now=now, recordings_dir=settings.recordings_dir, recordings_days=recordings_days,
                       personal_days=personal_days, dry_run=args.dry_run, by=_by(args),
                       extra_dirs=args.also_dir, record_run=_audit)
    finally:
        db.dispose()
    data = report.as_dict()
    if args.json:
        print_json(data)
        return 0 if not report.errors else 1
    head = "dry run, nothing changed — a run would do this" if report.dry_run else "done"
    print(f"{head} (records finished before {report.recordings_before:%Y-%m-%d} for recordings, "
          f"before {report.personal_before:%Y-%m-%d} for personal data, UTC):")
    print(f"  recordings deleted: {report.ticket_recordings} on tickets, {report.call_recordings} on call records; "
          f"{report.files_deleted} files ({report.bytes_deleted / 1e6:.1f} MB), of them {report.stray_files} "
          f"no record named and {report.extra_dir_files} in other directories; {report.files_missing} already gone")
    print(f"  anonymised: {report.tickets_anonymised} tickets, {report.calls_anonymised} call records")
    if report.remote_recordings_kept:
        print(f"  {report.remote_recordings_kept} recordings are held elsewhere (URLs): delete them at the provider")
    if report.open_tickets_kept:
        print(f"  {report.open_tickets_kept} tickets older than the personal-data period are still open: kept")
    for error in report.errors:
        print(f"  error: {error}")
    return 0 if not report.errors else 1


def _audit(session, report) -> None:
    """The run in the audit log (the console's audit page), same as every other admin change."""
    from web.console.audit import record

    detail = {k: v for k, v in report.as_dict().items() if k not in ("at", "by", "dry_run")}
    record(session, actor=report.by, role="cli", action="privacy.purge", target="recordings, personal data",
           detail=detail, address="cli", at=report.at)
