"""``hotline report …``: daily and monthly figures, weak-signal alerts, knowledge gaps, ticket export."""
from __future__ import annotations

import getpass
import os
import sys
from datetime import date, datetime, timedelta
from pathlib import Path

from sqlalchemy import inspect

from core.clock import utcnow
from core.db import Database
from hotline.cli import CommandError, print_json, settings_from

FORMATS = ("csv", "json", "svg")


def register(sub) -> None:
    p = sub.add_parser("report", help="reports, weak-signal alerts, knowledge gaps, ticket export",
                       description="The hotline as a data centre: figures computed in the database, "
                                   "weak-signal alerts, knowledge gaps and data sharing.")
    s = p.add_subparsers(dest="report_command", required=True)

    daily = s.add_parser("daily", help="one local day's figures (default: yesterday)")
    daily.add_argument("--date", help="YYYY-MM-DD, a local day (default: yesterday)")
    monthly = s.add_parser("monthly", help="one local month's figures (default: last month)")
    monthly.add_argument("--month", help="YYYY-MM (default: last month)")
    for cmd in (daily, monthly):
        cmd.add_argument("--format", choices=FORMATS, default="csv",
                         help="csv (section,key,value rows), json, or svg (charts); default csv")
        cmd.add_argument("--out", help="directory to write the file(s) to (default: standard output; "
                                       "svg also writes one file per chart)")
        cmd.set_defaults(func=period_command)

    sig = s.add_parser("signals", help="weak-signal alerts (open and acknowledged; --run scans now)")
    sig.add_argument("--run", action="store_true", help="scan the last window now, then list")
    sig.add_argument("--all", action="store_true", help="closed alerts too")
    sig.add_argument("--ack", type=int, metavar="ID", help="acknowledge alert ID")
    sig.add_argument("--close", type=int, metavar="ID", help="close alert ID")
    sig.add_argument("--note", default="", help="a note kept with --ack/--close")
    sig.add_argument("--actor", help="who acknowledges or closes (default: the login name)")
    sig.add_argument("--json", action="store_true")
    sig.set_defaults(func=signals_command)

    gaps = s.add_parser("gaps", help="questions the knowledge base could not answer, grouped",
                        description="Calls whose self-service answer had low confidence, matched "
                                    "nothing, or did not solve the question (the caller pressed 0).")
    gaps.add_argument("--unit", help="only the gaps of this unit (code or name)")
    gaps.add_argument("--days", type=int, help="look back this many days (default: gap_days)")
    gaps.add_argument("--promote", metavar="GAP_ID", help="print a knowledge-base line (JSONL) for this gap")
    gaps.add_argument("--answer", help="with --promote: the answer of the new entry")
    gaps.add_argument("--entry-id", help="with --promote: the new entry's id (default: the gap id)")
    gaps.add_argument("--category", default="", help="with --promote: the new entry's category")
    gaps.add_argument("--json", action="store_true")
    gaps.set_defaults(func=gaps_command)

    exp = s.add_parser("export-tickets", help="tickets as JSON Lines for other government systems",
                       description="Schema hotline.ticket-export/1 (docs/data-sharing.md). Numbers and "
                                   "names are masked unless --role may see personal data "
                                   "(export_personal_roles). Every export is logged.")
    exp.add_argument("--from", dest="date_from", help="first local day of receipt, YYYY-MM-DD")
    exp.add_argument("--to", dest="date_to", help="last local day of receipt, YYYY-MM-DD (inclusive)")
    exp.add_argument("--unit", help="only tickets of this unit (code)")
    exp.add_argument("--role", default="viewer", help="the exporting person's role (default: viewer)")
    exp.add_argument("--actor", help="who exports (default: the login name)")
    exp.add_argument("--out", help="file to write (default: standard output)")
    exp.set_defaults(func=export_command)

    log = s.add_parser("export-log", help="who exported what, when")
    log.add_argument("--json", action="store_true")
    log.set_defaults(func=export_log_command)


def open_database(args) -> tuple:
    settings = settings_from(args)
    db = Database(settings.db_url)
    if not inspect(db.engine).has_table("signal_alerts"):
        db.dispose()
        raise CommandError("the database has no analytics tables; run `hotline db upgrade` first")
    return settings, db


def _day(text: str, what: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise CommandError(f"{what}: {text!r} is not a date (YYYY-MM-DD)") from None


def _actor(args) -> str:
    return (args.actor or os.environ.get("HOTLINE_ACTOR") or getpass.getuser() or "").strip()


def _write(out_dir: str | None, name: str, body: str) -> None:
    if out_dir is None:
        sys.stdout.write(body)
        return
    path = Path(out_dir) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(body, encoding="utf-8")
    tmp.replace(path)
    print(f"wrote {path}", file=sys.stderr)


def period_command(args) -> int:
    from analytics import charts, reports

    settings = settings_from(args)
    zone = settings.zone
    today = utcnow().astimezone(zone).date()
    if args.report_command == "daily":
        period = reports.day_period(_day(args.date, "--date") if args.date else today - timedelta(days=1), zone)
    else:
        if args.month:
            try:
                first = datetime.strptime(args.month, "%Y-%m").date()
            except ValueError:
                raise CommandError(f"--month: {args.month!r} is not YYYY-MM") from None
        else:
            first = (today.replace(day=1) - timedelta(days=1)).replace(day=1)
        period = reports.month_period(first.year, first.month, zone)
    settings, db = open_database(args)
    try:
        with db.read_session() as s:
            report = reports.build_report(s, period, top_topics=settings.report_top_topics)
    finally:
        db.dispose()
    stem = f"{period.kind}-{period.label}"
    if args.format == "csv":
        _write(args.out, stem + ".csv", reports.to_csv(report))
    elif args.format == "json":
        _write(args.out, stem + ".json", reports.to_json(report))
    else:
        _write(args.out, stem + ".svg", charts.dashboard(report) + "\n")
        if args.out:
            for name, svg in charts.charts(report).items():
                _write(args.out, f"{stem}-{name}.svg", svg + "\n")
    return 0


def signals_command(args) -> int:
    from analytics import signals
    from analytics.models import ACKNOWLEDGED, ALERT_STATES, CLOSED, OPEN

    settings, db = open_database(args)
    try:
        result = None
        if args.ack is not None or args.close is not None:
            actor = _actor(args)
            with db.session() as s:
                for alert_id, state in ((args.ack, ACKNOWLEDGED), (args.close, CLOSED)):
                    if alert_id is not None:
                        try:
                            signals.set_state(s, alert_id, state, actor=actor, now=utcnow(), note=args.note)
                        except ValueError as exc:
                            raise CommandError(str(exc)) from None
        if args.run:
            result = signals.run_scan(db, settings, utcnow())
        with db.read_session() as s:
            alerts = signals.list_alerts(s, ALERT_STATES if args.all else (OPEN, ACKNOWLEDGED))
    finally:
        db.dispose()
    if args.json:
        print_json({"scan": result.as_json() if result else None, "alerts": alerts})
        return 0
    if result is not None:
        print(f"scanned {result.tickets} tickets since {result.window_start.astimezone(settings.zone):%H:%M}: "
              f"{len(result.raised)} new alert(s), {len(result.detections) - len(result.raised)} updated")
    if not alerts:
        print("no alerts")
    for a in alerts:
        print(f"#{a['id']:<5} {a['state']:12} {a['label']}  {a['tickets']} tickets "
              f"(last window {a['window_count']}, usual {a['expected']:.2f}, p={a['p_value']:.1e})")
        for t in a["ticket_list"][:5]:
            print(f"         {t['number']}  {t['text'][:60]}")
    return 0


def gaps_command(args) -> int:
    from analytics import gaps
    from knowledge.service import KnowledgeBase

    settings, db = open_database(args)
    days = args.days or settings.gap_days
    if days < 1:
        raise CommandError("--days must be at least 1")
    now = utcnow()
    try:
        kb = KnowledgeBase(db, threshold=settings.kb_threshold, zone=settings.zone, refresh_s=0)
        with db.read_session() as s:
            found = gaps.find_gaps(s, since=now - timedelta(days=days), until=now,
                                   similarity=settings.gap_similarity, min_count=settings.gap_min_count,
                                   unit=args.unit, kb=kb)
    finally:
        db.dispose()
    if args.promote:
        gap = next((g for g in found if g.id == args.promote), None)
        if gap is None:
            raise CommandError(f"no gap {args.promote!r} in the last {days} days")
        try:
            print(gaps.promote(gap, args.answer or "", entry_id=args.entry_id, category=args.category))
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        return 0
    if args.json:
        print_json([g.as_json() for g in found])
        return 0
    if not found:
        print("no knowledge gaps")
    for g in found:
        unit = g.unit_name or g.unit or "—"
        print(f"{g.id}  {g.calls:>4} calls  {g.question}  → {unit}")
        if g.nearest:
            print(f"      nearest entry {g.nearest['id']}: {g.nearest['question']}")
        for ex in g.examples:
            print(f"      · {ex[:80]}")
    return 0


def export_command(args) -> int:
    from analytics.export import export_tickets

    date_from = _day(args.date_from, "--from") if args.date_from else None
    date_to = _day(args.date_to, "--to") if args.date_to else None
    settings, db = open_database(args)
    actor = _actor(args)
    out = Path(args.out) if args.out else None
    tmp = out.with_name(out.name + ".tmp") if out else None
    try:
        if out:
            with open(tmp, "w", encoding="utf-8") as fh:
                result = export_tickets(db, fh, actor=actor, role=args.role, now=utcnow(), zone=settings.zone,
                                        personal_roles=settings.export_personal_role_set, date_from=date_from,
                                        date_to=date_to, unit=args.unit, destination=str(out.resolve()))
        else:
            result = export_tickets(db, sys.stdout, actor=actor, role=args.role, now=utcnow(), zone=settings.zone,
                                    personal_roles=settings.export_personal_role_set, date_from=date_from,
                                    date_to=date_to, unit=args.unit)
        if out:
            tmp.replace(out)
    except BaseException:
        if tmp is not None:
            tmp.unlink(missing_ok=True)
        raise
    finally:
        db.dispose()
    print(f"exported {result.rows} ticket(s), personal data {'included' if result.personal_data else 'masked'} "
          f"(export log #{result.log_id})", file=sys.stderr)
    return 0


def export_log_command(args) -> int:
    from analytics.export import export_log

    _settings, db = open_database(args)
    try:
        with db.read_session() as s:
            entries = export_log(s)
    finally:
        db.dispose()
    if args.json:
        print_json(entries)
        return 0
    for e in entries:
        print(f"#{e['id']:<5} {e['at']}  {e['actor']} ({e['role']})  {e['rows']} tickets "
              f"{e['from'] or '…'}–{e['to'] or '…'}  personal data {'included' if e['personal_data'] else 'masked'}")
    return 0
