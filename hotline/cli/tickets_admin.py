"""``hotline tickets create|show|list|dispatch|accept|…``: tickets (工单) for agents and admins.

Times are ISO 8601 with an offset (``--at`` back-dates an action, e.g. in tests); ``--by``
names who acts (default: the login name).  Each command runs in one transaction: on any
error it prints one message, exits non-zero, and nothing has been written.
"""
from __future__ import annotations

import functools
import json
import sys
from pathlib import Path

from sqlalchemy import select

from core.clock import parse_iso
from hotline.cli import EXIT_ERROR, CommandError, database_command, print_json, when, who
from tickets import dispatch as rules
from tickets import followup, handling, jobs, lifecycle, refusals, service
from tickets.lookup import get_ticket, get_unit
from tickets.models import KINDS, ClosureReport, ExtensionRequest, Ticket, Unit
from tickets.views import ticket_dict, ticket_line
from workcal.loader import calendar_from_db


def add_commands(s) -> None:
    """Add the ticket sub-commands to the ``tickets`` sub-parsers (hotline/cli/tickets.py)."""

    def cmd(name, func, help_, *, number=True, by=False, json_=True):
        a = s.add_parser(name, help=help_, description=help_)
        if number:
            a.add_argument("number", metavar="NUMBER", help="ticket number (spaces and dashes allowed)")
        if by:
            a.add_argument("--by", metavar="NAME", help="who does this (default: your login name)")
        a.add_argument("--at", metavar="ISO8601", help="when, with offset (default: now)")
        if json_:
            a.add_argument("--json", action="store_true", help="print JSON")
        a.set_defaults(func=_command(func))
        return a

    c = cmd("create", create, "register a request as a ticket (a repeat of an open one is linked)",
            number=False, by=True)
    c.add_argument("--kind", required=True, choices=KINDS)
    c.add_argument("--text", required=True, help="the request")
    c.add_argument("--caller", default="", help="the caller's number (normalised key)")
    c.add_argument("--name", default="", help="the caller's name")
    c.add_argument("--unit", help="dispatch at once to this unit code")
    c.add_argument("--region", default="", help="county/district")
    c.add_argument("--tags", default="", help="comma-separated, e.g. leader")
    c.add_argument("--call-id", help="the call it came from")
    c.add_argument("--received", metavar="ISO8601", help="time of receipt (default: --at or now)")
    c.add_argument("--answered", metavar="TEXT", help="answered at once: closed on creation with this answer")
    c.add_argument("--no-dedup", action="store_true", help="never link to an open ticket")
    cmd("show", show, "a ticket with its full history")
    ls = cmd("list", list_, "list tickets (newest first)", number=False)
    ls.add_argument("--state", choices=lifecycle.STATES)
    ls.add_argument("--unit", help="unit code")
    ls.add_argument("--caller", help="caller key")
    for flag in ("overdue", "due-soon", "review"):
        ls.add_argument(f"--{flag}", action="store_true", help=f"only tickets flagged {flag}")
    ls.add_argument("--limit", type=int, default=200)
    d = cmd("dispatch", dispatch_, "send a ticket to a handling unit", by=True)
    how = d.add_mutually_exclusive_group(required=True)
    how.add_argument("--unit", help="unit code")
    how.add_argument("--auto", action="store_true", help="by the dispatch rules, duties, then the suggestion")
    d.add_argument("--note", default="")
    sg = cmd("suggest", suggest, "the likeliest units for a ticket or a text", number=False)
    sg.add_argument("text", help="a ticket number or the request text")
    sg.add_argument("-k", type=int, default=3)
    cmd("accept", accept, "the unit accepts the dispatched ticket", by=True)
    cmd("decline", decline, "the unit sends the ticket back: not its duty", by=True) \
        .add_argument("--reason", required=True)
    e = cmd("extend", extend, "ask for more working days (and approve at once with --approve-by)", by=True)
    e.add_argument("--days", type=int, required=True)
    e.add_argument("--reason", required=True)
    e.add_argument("--approve-by", metavar="NAME", help="the admin approving it now")
    de = cmd("decide-extension", decide_extension, "approve or deny the waiting extension request", by=True)
    de.add_argument("--deny", action="store_true")
    de.add_argument("--note", default="")
    cl = cmd("close", close, "submit the unit's closure report (checked: it must be specific)", by=True)
    cl.add_argument("--report", required=True, metavar="FILE|TEXT", help="the report, or a file holding it")
    cmd("review", review, "approve the closure report: the ticket is closed", by=True) \
        .add_argument("--note", default="")
    cmd("return", return_, "return the ticket to its unit (the report is not accepted)", by=True) \
        .add_argument("--reason", required=True)
    cmd("reopen", reopen, "reopen a closed or refused ticket", by=True).add_argument("--reason", required=True)
    r = cmd("rate", rate, "record the caller's rating 1 (very satisfied) … 5 (very dissatisfied)", by=True)
    r.add_argument("rating", type=int, choices=range(1, 6), metavar="1-5")
    rf = cmd("refuse", refuse, "不予受理: refuse with a reason code; prints the script for the caller", by=True)
    rf.add_argument("--code", required=True, choices=list(refusals.REFUSALS))
    rf.add_argument("--duplicate-of", metavar="NUMBER", help="for repeat_no_new_facts: the ticket it repeats")
    rf.add_argument("--note", default="")
    cmd("refusals", list_refusals, "the refusal codes and the script for each", number=False)
    u = cmd("units", units, "list handling units, or add one (--add CODE --name NAME)", number=False)
    u.add_argument("--add", metavar="CODE")
    u.add_argument("--name")
    u.add_argument("--region", default="")
    u.add_argument("--duties", default="", help="duty keywords, comma-separated")
    ru = cmd("rules", rules_, "show the dispatch rules in force, or save a new version (--set FILE)",
             number=False, by=True)
    ru.add_argument("--set", metavar="FILE.json", help="a JSON list of rules: a new version")
    ru.add_argument("--restore", type=int, metavar="VERSION", help="save an old version again as the newest")
    ru.add_argument("--history", action="store_true", help="every version")
    ru.add_argument("--note", default="")
    cmd("mark-deadlines", mark_deadlines, "the overdue job, once: mark due-soon and overdue tickets",
        number=False)
    rv = cmd("return-visits", return_visits, "closed unrated tickets to call back for a rating", number=False)
    rv.add_argument("--days", type=int, help="closed within this many days (default: setting)")


# -- plumbing ------------------------------------------------------------------------------

def _command(func):
    """A sub-command on the ticket tables, with ``args.now`` (--at, else now)."""
    @functools.wraps(func)
    def timed(args, settings, database):
        args.now = when(args)
        return func(args, settings, database)
    return database_command("tickets", "ticket")(timed)


def _done(args, settings, ticket: Ticket, verb: str, session, extra: dict | None = None) -> int:
    if args.json:
        print_json({**ticket_dict(session, ticket, settings.zone), **(extra or {})})
    else:
        print(f"{verb}: {ticket_line(session, ticket, settings.zone)}")
    return 0


def _step(op, verb):
    """A command that runs one handling operation on a ticket and prints it."""
    def command(args, settings, db):
        with db.session() as s:
            op(s, args)
            return _done(args, settings, get_ticket(s, args.number), verb, s)
    return command


# -- commands ------------------------------------------------------------------------------

def create(args, settings, db) -> int:
    received = parse_iso(args.received, "--received") if args.received else args.now
    with db.session() as s:
        if args.answered:
            ticket, dup = service.record_self_service(
                s, caller_key=args.caller, call_id=args.call_id, question=args.text, answer=args.answered,
                received_at=received, zone=settings.zone, calendar=calendar_from_db(s), answered_by=who(args),
                days=settings.deadline_days), False
        else:
            created = service.create_ticket(
                s, kind=args.kind, content=args.text, received_at=received, zone=settings.zone,
                calendar=calendar_from_db(s), caller_key=args.caller, caller_name=args.name,
                call_id=args.call_id, source="cli", actor=who(args), unit=args.unit, region=args.region,
                tags=args.tags.split(","), days=settings.deadline_days, dedup=not args.no_dedup,
                duplicate_window_days=settings.ticket_duplicate_window_days,
                duplicate_similarity=settings.ticket_duplicate_similarity)
            ticket, dup = created.ticket, created.duplicate
        return _done(args, settings, ticket, "repeat of open ticket" if dup else "created", s, {"duplicate": dup})


def show(args, settings, db) -> int:
    with db.session() as s:
        t = get_ticket(s, args.number)
        events = lifecycle.history(s, t.id)
        reports = s.scalars(select(ClosureReport).where(ClosureReport.ticket_id == t.id)).all()
        exts = s.scalars(select(ExtensionRequest).where(ExtensionRequest.ticket_id == t.id)).all()
        if args.json:
            print_json({**ticket_dict(s, t, settings.zone), "history": [
                {"at": e.at.isoformat(), "actor": e.actor, "action": e.action, "from": e.from_state,
                 "to": e.to_state, "detail": json.loads(e.detail)} for e in events],
                "reports": [{"id": r.id, "body": r.body, "resolved": r.resolved, "by": r.submitted_by,
                             "at": r.submitted_at.isoformat(), "review": r.review} for r in reports],
                "extensions": [{"id": x.id, "days": x.days, "reason": x.reason, "status": x.status,
                                "by": x.requested_by} for x in exts]})
            return 0
        print(ticket_line(s, t, settings.zone))
        print(f"  content: {t.content or '(none)'}")
        for e in events:
            print(f"  {e.at.astimezone(settings.zone):%Y-%m-%d %H:%M} {e.actor}: {e.action} "
                  f"{e.from_state or ''}→{e.to_state or ''} {e.detail}")
    return 0


def list_(args, settings, db) -> int:
    with db.session() as s:
        q = select(Ticket).order_by(Ticket.id.desc()).limit(args.limit)
        if args.state:
            q = q.where(Ticket.state == args.state)
        if args.unit:
            q = q.where(Ticket.unit_id == get_unit(s, args.unit, active=False).id)
        if args.caller:
            q = q.where(Ticket.caller_key == args.caller)
        for flag in ("overdue", "due_soon", "review"):
            if getattr(args, flag):
                q = q.where(getattr(Ticket, flag).is_(True))
        found = s.scalars(q).all()
        if args.json:
            print_json([ticket_dict(s, t, settings.zone) for t in found])
        else:
            for t in found:
                print(ticket_line(s, t, settings.zone))
    return 0


def dispatch_(args, settings, db) -> int:
    with db.session() as s:
        if args.auto:
            handling.auto_dispatch(s, args.number, actor=who(args), now=args.now,
                                   suggester=rules.UnitSuggester.from_session(s))
        else:
            handling.dispatch(s, args.number, args.unit, actor=who(args), now=args.now, note=args.note)
        return _done(args, settings, get_ticket(s, args.number), "dispatched", s)


def suggest(args, settings, db) -> int:
    with db.session() as s:
        ticket = service.find_ticket(s, args.text)
        text = (ticket.content or ticket.transcript) if ticket else args.text
        top = rules.UnitSuggester.from_session(s).suggest(text, k=args.k)
        names = {u.code: u.name for u in s.scalars(select(Unit))}
    if args.json:
        print_json([{"unit": u, "name": names.get(u, u), "p": round(p, 4)} for u, p in top])
    elif not top:
        print("no suggestion: no ticket has reached a unit yet and no unit lists its duties")
    for u, p in ([] if args.json else top):
        print(f"{u:16} {p:6.1%}  {names.get(u, u)}")
    return 0


accept = _step(lambda s, a: handling.accept(s, a.number, actor=who(a), now=a.now), "accepted")
decline = _step(lambda s, a: handling.decline(s, a.number, reason=a.reason, actor=who(a), now=a.now), "sent back")
review = _step(lambda s, a: handling.review(s, a.number, approve=True, actor=who(a), now=a.now, note=a.note),
               "closed")
return_ = _step(lambda s, a: handling.review(s, a.number, approve=False, actor=who(a), now=a.now, note=a.reason),
                "returned")
reopen = _step(lambda s, a: handling.reopen(s, a.number, reason=a.reason, actor=who(a), now=a.now), "reopened")


def extend(args, settings, db) -> int:
    with db.session() as s:
        handling.request_extension(s, args.number, days=args.days, reason=args.reason, actor=who(args),
                                   now=args.now, max_days=settings.ticket_extension_max_days)
        if args.approve_by:
            handling.decide_extension(s, args.number, approve=True, actor=args.approve_by, now=args.now,
                                      calendar=calendar_from_db(s), zone=settings.zone)
        return _done(args, settings, get_ticket(s, args.number),
                     "extended" if args.approve_by else "extension requested", s)


def decide_extension(args, settings, db) -> int:
    with db.session() as s:
        req = handling.decide_extension(s, args.number, approve=not args.deny, actor=who(args), now=args.now,
                                        calendar=calendar_from_db(s), zone=settings.zone, note=args.note)
        return _done(args, settings, get_ticket(s, args.number), f"extension {req.status}", s)


def close(args, settings, db) -> int:
    body = args.report
    path = Path(body)
    if len(body) < 256 and "\n" not in body and path.is_file():
        body = path.read_text(encoding="utf-8")
    try:
        with db.session() as s:
            handling.submit_report(s, args.number, body, actor=who(args), now=args.now)
            return _done(args, settings, get_ticket(s, args.number), "report accepted, waiting for review", s)
    except handling.ReportRejected as exc:
        missing = [{"code": e.code, "zh": e.zh, "en": e.en} for e in exc.check.missing]
        if args.json:
            print_json({"accepted": False, "missing": missing})
        print(f"hotline: error: closure report rejected, nothing written. {exc.check.message_zh()}", file=sys.stderr)
        for m in missing:
            print(f"  missing {m['code']}: {m['zh']} ({m['en']})", file=sys.stderr)
        return EXIT_ERROR


def rate(args, settings, db) -> int:
    with db.session() as s:
        ticket = get_ticket(s, args.number)
        followup.rate(s, ticket.number, args.rating, args.now, actor=who(args))
        return _done(args, settings, get_ticket(s, args.number), "rated", s)


def refuse(args, settings, db) -> int:
    with db.session() as s:
        script = handling.refuse(s, args.number, args.code, actor=who(args), now=args.now, note=args.note,
                                 duplicate_of=args.duplicate_of)
        if args.json:
            return _done(args, settings, get_ticket(s, args.number), "refused", s, {"script": script})
        _done(args, settings, get_ticket(s, args.number), "refused", s)
        print(f"script: {script}")
    return 0


def list_refusals(args, settings, db) -> int:
    if args.json:
        print_json([{"code": r.code, "zh": r.zh, "en": r.en, "script": r.script} for r in refusals.REFUSALS.values()])
    for r in ([] if args.json else refusals.REFUSALS.values()):
        print(f"{r.code}: {r.zh} ({r.en})\n  {r.script}")
    return 0


def units(args, settings, db) -> int:
    with db.session() as s:
        if args.add:
            if not args.name:
                raise CommandError("a unit needs --name")
            if s.scalars(select(Unit).where(Unit.code == args.add)).first():
                raise CommandError(f"unit {args.add!r} already exists")
            s.add(Unit(code=args.add, name=args.name, region=args.region, duties=args.duties, active=True,
                       created_at=args.now))
            s.flush()
        rows = [{"code": u.code, "name": u.name, "region": u.region, "duties": u.duties, "active": u.active}
                for u in s.scalars(select(Unit).order_by(Unit.code))]
    if args.json:
        print_json(rows)
    for r in ([] if args.json else rows):
        print(f"{r['code']:16} {r['name']}  {r['region']}  [{r['duties']}]" + ("" if r["active"] else " (inactive)"))
    return 0


def rules_(args, settings, db) -> int:
    with db.session() as s:
        if args.set:
            try:
                data = json.loads(Path(args.set).read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError) as exc:
                raise CommandError(f"{args.set}: {exc}") from None
            rules.save_rules(s, data, actor=who(args), now=args.now, note=args.note)
        elif args.restore is not None:
            rules.restore_rules(s, args.restore, actor=who(args), now=args.now)
        if args.history:
            out = [{"version": r.version, "by": r.created_by, "at": r.created_at.isoformat(), "note": r.note,
                    "rules": json.loads(r.rules)} for r in rules.rule_versions(s)]
        else:
            current = rules.current_rules(s)
            out = {"version": current.version, "rules": current.rules}
    if args.json:
        print_json(out)
    else:
        print(json.dumps(out, ensure_ascii=False, indent=2))
    return 0


def mark_deadlines(args, settings, db) -> int:
    with db.session() as s:
        result = jobs.mark_deadlines(s, args.now, calendar_from_db(s))
    if args.json:
        print_json(result.as_json())
    else:
        print(f"marked overdue: {len(result.overdue)}, due soon: {len(result.due_soon)}")
    return 0


def return_visits(args, settings, db) -> int:
    with db.session() as s:
        found = followup.return_visit_list(s, args.now, within_days=args.days or settings.ticket_return_visit_days,
                                           max_attempts=settings.ticket_return_visit_attempts)
    rows = [{"number": v.number, "caller": v.caller_key, "kind": v.kind, "unit": v.unit,
             "closed_at": v.closed_at.isoformat(), "attempts": v.attempts} for v in found]
    if args.json:
        print_json(rows)
    for r in ([] if args.json else rows):
        print(f"{r['number']} {r['caller']} {r['kind']} {r['unit'] or '-'} closed {r['closed_at']}")
    return 0
