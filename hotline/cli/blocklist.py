"""``hotline blocklist …``: the 30-natural-day restriction (DESIGN §3.1) for admins.

Numbers may be typed any usual way (spaces, dashes, +86, 0086, area code with 0); times are
ISO 8601 with an offset (``--at`` back-dates an action, e.g. for tests).  Any error prints one
message and exits non-zero, and then nothing has been written.
"""
from __future__ import annotations

import functools
import sys

from sqlalchemy.exc import OperationalError, ProgrammingError

from blocklist import queries, service, suggest, transfer
from blocklist.check import active_block
from blocklist.grounds import GROUNDS, describe
from callers.numbers import InvalidNumber, parse_typed
from core.db import Database
from hotline.cli import CommandError, print_json, settings_from, when, who


def register(sub) -> None:
    p = sub.add_parser("blocklist", help="restrict numbers that harass the line (30 natural days)")
    s = p.add_subparsers(dest="blocklist_command", required=True, metavar="ACTION")

    def action(name, func, help_, *, number=True, by=False, at=True, json=True):
        a = s.add_parser(name, help=help_, description=help_)
        if number:
            a.add_argument("number", metavar="NUMBER", nargs="+", type=str,
                           help="phone number, any usual format (spaces allowed: 138 0013 8000)")
        if by:
            a.add_argument("--by", metavar="NAME", help="who does this (default: your login name)")
        if at:
            a.add_argument("--at", metavar="ISO8601", help="when (with offset; default: now)")
        if json:
            a.add_argument("--json", action="store_true", help="print JSON")
        a.set_defaults(func=_command(func))
        return a

    grounds = ", ".join(GROUNDS)
    for name, func, help_ in (("add", add, "block a number directly (an admin's decision)"),
                              ("propose", propose, "propose a block; an admin approves or rejects it")):
        a = action(name, func, help_, by=True)
        a.add_argument("--ground", required=True, help=f"one of: {grounds}")
        a.add_argument("--ground-text", default="", help="what the ground is, for --ground other")
        a.add_argument("--evidence", required=True, help="what happened (free text)")
        a.add_argument("--calls", default="", help="call record ids cited, comma-separated")
    action("approve", approve, "approve the waiting proposal for a number", by=True) \
        .add_argument("--note", default="", help="a note on the decision")
    action("reject", reject, "reject the waiting proposal for a number", by=True) \
        .add_argument("--reason", required=True, help="why")
    action("lift", lift, "lift the block in force early", by=True) \
        .add_argument("--reason", required=True, help="why")
    lst = action("list", list_, "list blocks (newest first)", number=False)
    which = lst.add_mutually_exclusive_group()
    for status in queries.STATUSES:
        which.add_argument(f"--{status}", dest="status", action="store_const", const=status,
                           help=f"only {status} ones")
    lst.add_argument("--limit", type=int, default=1000, help="at most this many (default 1000)")
    action("show", show, "a number's status and all its blocks")
    action("history", history, "a number's full history (append-only)", at=False)
    action("check", check, "is the number blocked (at --at)?")
    imp = action("import", import_, "import blocks from a CSV file (all or nothing)", number=False, by=True)
    imp.add_argument("file", metavar="FILE.csv")
    exp = action("export", export, "write blocks as CSV (to stdout or --output)", number=False, json=False)
    exp.add_argument("--output", metavar="FILE", help="write here instead of stdout")
    ewhich = exp.add_mutually_exclusive_group()
    for status in queries.STATUSES:
        ewhich.add_argument(f"--{status}", dest="status", action="store_const", const=status)
    action("ending-tomorrow", ending_tomorrow, "blocks whose last day is tomorrow (the daily notice)",
           number=False)
    action("suggest", suggest_, "numbers whose calls suggest a block, with the evidence", number=False)
    flag = action("flag", flag_call, "flag a call as abusive (feeds suggestions)", number=False, by=True)
    flag.add_argument("call_id", metavar="CALL_ID")
    flag.add_argument("--note", default="", help="what happened")


# -- plumbing ----------------------------------------------------------------------------

def _command(func):
    @functools.wraps(func)
    def run(args):
        settings = settings_from(args)
        database = Database(settings.db_url)
        if isinstance(getattr(args, "number", None), list):
            args.number = " ".join(args.number)
        try:
            return func(args, settings, database)
        except (OperationalError, ProgrammingError) as exc:
            text = str(exc.orig if exc.orig is not None else exc)
            if "no such table" in text or "does not exist" in text:
                raise CommandError("the database has no blocklist tables yet: run `hotline db upgrade`") from exc
            raise
        finally:
            database.dispose()
    return run


def _show_block(b, zone, now, calls=None) -> str:
    status = queries.status_of(b, now)
    line = f"#{b.id} {b.number_key} {status}: {describe(b.ground, b.ground_text)}"
    if b.until is not None:
        line += f"; through {b.last_day} 24:00 (until {b.until.astimezone(zone).isoformat()})"
    line += f"; proposed by {b.proposed_by} {b.proposed_at.astimezone(zone):%Y-%m-%d %H:%M}"
    if b.decided_by:
        verb = "rejected" if b.state == "rejected" else "decided"
        line += f", {verb} by {b.decided_by} {b.decided_at.astimezone(zone):%Y-%m-%d %H:%M}"
    if b.lifted_at is not None:
        line += f", lifted by {b.lifted_by} {b.lifted_at.astimezone(zone):%Y-%m-%d %H:%M} ({b.lift_reason})"
    if b.attempts:
        line += f"; {b.attempts} call attempt(s) refused"
    if calls:
        line += f"; cites calls {', '.join(calls)}"
    return line


def _done(args, settings, now, block, verb: str) -> int:
    if args.json:
        print_json(queries.block_dict(block, settings.zone, now))
    else:
        print(f"{verb}: {_show_block(block, settings.zone, now)}")
    return 0


# -- decisions ---------------------------------------------------------------------------

def _calls(args) -> list[str]:
    return [c.strip() for c in args.calls.split(",") if c.strip()]


def add(args, settings, database) -> int:
    now, number = when(args), service.blockable_number(args.number)
    with database.session() as s:
        block = service.add(s, service.Policy.from_settings(settings), number, args.ground, args.evidence,
                            by=who(args), now=now, ground_text=args.ground_text, call_ids=_calls(args))
    return _done(args, settings, now, block, "blocked")


def propose(args, settings, database) -> int:
    now, number = when(args), service.blockable_number(args.number)
    with database.session() as s:
        block = service.propose(s, service.Policy.from_settings(settings), number, args.ground, args.evidence,
                                by=who(args), now=now, ground_text=args.ground_text, call_ids=_calls(args))
    return _done(args, settings, now, block, "proposed" if block.state == "proposed" else "blocked")


def approve(args, settings, database) -> int:
    now, number = when(args), service.blockable_number(args.number)
    with database.session() as s:
        block = service.approve(s, service.Policy.from_settings(settings), number, by=who(args), now=now,
                                note=args.note)
    return _done(args, settings, now, block, "approved")


def reject(args, settings, database) -> int:
    now, number = when(args), service.blockable_number(args.number)
    with database.session() as s:
        block = service.reject(s, service.Policy.from_settings(settings), number, by=who(args), now=now,
                               reason=args.reason)
    return _done(args, settings, now, block, "rejected")


def lift(args, settings, database) -> int:
    now, number = when(args), service.blockable_number(args.number)
    with database.session() as s:
        block = service.lift(s, service.Policy.from_settings(settings), number, by=who(args), now=now,
                             reason=args.reason)
    return _done(args, settings, now, block, "lifted")


# -- reading -----------------------------------------------------------------------------

def list_(args, settings, database) -> int:
    now = when(args)
    if args.limit < 1:
        raise CommandError("--limit must be at least 1")
    with database.session() as s:
        rows, total = queries.list_blocks(s, now, args.status, args.limit)
        if args.json:
            print_json({"total": total, "blocks": [queries.block_dict(b, settings.zone, now) for b in rows]})
            return 0
        for b in rows:
            print(_show_block(b, settings.zone, now))
    more = f" (showing {len(rows)}; use --limit)" if total > len(rows) else ""
    print(f"{total} block(s){' ' + args.status if args.status else ''}{more}", file=sys.stderr)
    return 0


def show(args, settings, database) -> int:
    now, number = when(args), _typed(args.number)
    with database.session() as s:
        blocks = queries.blocks_of(s, number.key)
        calls = queries.cited_calls(s, [b.id for b in blocks])
        current = active_block(s, number.key, now)
    if args.json:
        print_json({"number": number.key, "blocked": current is not None,
                    "blocks": [queries.block_dict(b, settings.zone, now, calls[b.id]) for b in blocks]})
        return 0
    print(f"{number.key}: {'blocked through ' + str(current.last_day) if current else 'not blocked'}")
    for b in blocks:
        print("  " + _show_block(b, settings.zone, now, calls[b.id]))
    return 0


def history(args, settings, database) -> int:
    number = _typed(args.number)
    with database.session() as s:
        events = queries.history(s, number.key)
    if args.json:
        print_json({"number": number.key, "events": [queries.event_dict(e, settings.zone) for e in events]})
        return 0
    if not events:
        print(f"{number.key}: no history")
    for e in events:
        extra = (f" — {e.reason}" if e.reason else "") + (f" [call {e.call_id}]" if e.call_id else "")
        print(f"{e.at.astimezone(settings.zone).isoformat()} #{e.block_id} {e.action} by {e.actor}: {e.detail}{extra}")
    return 0


def _typed(text: str):
    try:
        return parse_typed(text)
    except InvalidNumber as exc:
        raise CommandError(str(exc)) from exc


def check(args, settings, database) -> int:
    now, number = when(args), _typed(args.number)
    with database.session() as s:
        block = active_block(s, number.key, now)
    zone = settings.zone
    data = {"number": number.key, "at": now.astimezone(zone).isoformat(), "blocked": block is not None,
            "until": block.until.astimezone(zone).isoformat() if block else None,
            "last_day": block.last_day.isoformat() if block else None,
            "ground": block.ground if block else None, "block_id": block.id if block else None}
    if args.json:
        print_json(data)
    elif block:
        print(f"{number.key} is blocked through {block.last_day} 24:00 (until {data['until']}; "
              f"{describe(block.ground)}; block #{block.id})")
    else:
        print(f"{number.key} is not blocked")
    return 0


def ending_tomorrow(args, settings, database) -> int:
    now = when(args)
    with database.session() as s:
        rows = queries.ending_tomorrow(s, now, settings.zone)
    if args.json:
        print_json({"blocks": [queries.block_dict(b, settings.zone, now) for b in rows]})
        return 0
    for b in rows:
        print(_show_block(b, settings.zone, now))
    print(f"{len(rows)} block(s) end tomorrow", file=sys.stderr)
    return 0


def suggest_(args, settings, database) -> int:
    now = when(args)
    with database.session() as s:
        found = suggest.suggestions(s, now, suggest.Thresholds.from_settings(settings))
    if args.json:
        print_json({"suggestions": [suggest.suggestion_dict(x, settings.zone) for x in found]})
        return 0
    for x in found:
        print(f"{x.number_key}: suggest ground {x.ground}")
        for e in x.evidence:
            print(f"  {e.description}; calls {', '.join(e.call_ids)}")
    print(f"{len(found)} suggestion(s); none is applied without a person "
          "(hotline blocklist propose NUMBER ...)", file=sys.stderr)
    return 0


# -- files and flags ---------------------------------------------------------------------

def import_(args, settings, database) -> int:
    now, by = when(args), who(args)
    try:
        fh = open(args.file, encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise CommandError(f"cannot read {args.file}: {exc.strerror}") from exc
    try:
        with fh, database.session() as s:
            result = transfer.import_csv(s, service.Policy.from_settings(settings), fh, by=by, now=now,
                                         source=args.file)
    except UnicodeDecodeError as exc:
        raise CommandError(f"{args.file} is not UTF-8 text") from exc
    data = {"imported": result.imported, "already_present": result.duplicates,
            "not_imported_proposals_or_rejections": result.not_blocks}
    if args.json:
        print_json(data)
    else:
        print(f"imported {result.imported} block(s); {result.duplicates} already present; "
              f"{result.not_blocks} proposal(s)/rejection(s) not imported")
    return 0


def export(args, settings, database) -> int:
    now = when(args)
    out = sys.stdout
    if args.output:
        try:
            out = open(args.output, "w", encoding="utf-8", newline="")
        except OSError as exc:
            raise CommandError(f"cannot write {args.output}: {exc.strerror}") from exc
    try:
        with database.session() as s:
            count = transfer.export_csv(s, out, settings.zone, now, args.status)
    finally:
        if out is not sys.stdout:
            out.close()
    if args.output:
        print(f"exported {count} block(s) to {args.output}")
    return 0


def flag_call(args, settings, database) -> int:
    now = when(args)
    with database.session() as s:
        flag = suggest.flag_call(s, args.call_id, by=who(args), now=now, note=args.note)
        data = {"id": flag.id, "call_id": flag.call_id, "flagged_by": flag.flagged_by,
                "flagged_at": now.astimezone(settings.zone).isoformat()}
    if args.json:
        print_json(data)
    else:
        print(f"call {data['call_id']} flagged as abusive by {data['flagged_by']}")
    return 0
