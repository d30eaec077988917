"""``hotline kb …``: the knowledge base — import, export, ask, load-demo, list, show."""
from __future__ import annotations

import sys
from pathlib import Path

from sqlalchemy import func, inspect, select

from core.clock import parse_iso, utcnow
from core.db import Database
from hotline.cli import CommandError, print_json, settings_from
from knowledge import interchange
from knowledge.emergency import detect_emergency
from knowledge.models import KnowledgeEntry
from knowledge.service import KnowledgeBase

MAX_ERRORS_SHOWN = interchange.MAX_REPORTED


def register(sub) -> None:
    p = sub.add_parser("kb", help="knowledge base: import, export, ask, …",
                       description="The knowledge base the engine answers consultations from "
                                   "(JSON Lines interchange, DESIGN §4).")
    s = p.add_subparsers(dest="kb_command", required=True)

    imp = s.add_parser("import", help="import entries from a JSON Lines file (all or nothing)",
                       description="Validates every line first; any bad line is reported with its number "
                                   "and nothing is imported. Entries are upserted by id.")
    imp.add_argument("file", nargs="?", help="JSON Lines file ('-' for standard input)")
    imp.add_argument("--demo", action="store_true", help="import the demo knowledge base shipped with the engine")
    imp.add_argument("--json", action="store_true")
    imp.set_defaults(func=import_command)

    demo = s.add_parser("load-demo", help="import the demo knowledge base (Huizhou services; upsert)")
    demo.add_argument("--if-empty", action="store_true",
                      help="only when the knowledge base has no entries (for start-up scripts: an "
                           "admin's edits to demo entries are not overwritten)")
    demo.add_argument("--json", action="store_true")
    demo.set_defaults(func=load_demo_command)

    exp = s.add_parser("export", help="write every entry as JSON Lines")
    exp.add_argument("--out", help="file to write (default: standard output)")
    exp.set_defaults(func=export_command)

    ask = s.add_parser("ask", help="what the engine would answer to a transcript",
                       description="Runs emergency detection, then the knowledge-base search.")
    ask.add_argument("text")
    ask.add_argument("-k", type=int, default=3, help="number of matches to show (default 3)")
    ask.add_argument("--at", help="the moment of the question, ISO 8601 with offset (default: now); "
                                  "entries outside their validity dates are not answered")
    ask.add_argument("--json", action="store_true")
    ask.set_defaults(func=ask_command)

    ls = s.add_parser("list", help="list entries")
    ls.add_argument("--category", help="only this category")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=list_command)

    show = s.add_parser("show", help="show one entry")
    show.add_argument("id")
    show.add_argument("--json", action="store_true")
    show.set_defaults(func=show_command)


def open_database(args) -> Database:
    settings = settings_from(args)
    db = Database(settings.db_url)
    if not inspect(db.engine).has_table(KnowledgeEntry.__tablename__):
        db.dispose()
        raise CommandError("the database has no knowledge-base table; run `hotline db upgrade` first")
    return db


def _report_import(result: interchange.ImportResult, source: str, as_json: bool) -> None:
    if as_json:
        print_json({"source": source, **result.as_dict()})
    else:
        print(f"imported {result.total} entr{'y' if result.total == 1 else 'ies'} from {source}: "
              f"{result.created} new, {result.updated} updated, {result.unchanged} unchanged")


def _records_from(args) -> tuple[list[interchange.EntryRecord], str]:
    if args.demo:
        if args.file:
            raise CommandError("give either FILE or --demo, not both")
        return interchange.read_demo(), str(interchange.DEMO_KB)
    if not args.file:
        raise CommandError("give a JSON Lines FILE to import (or --demo)")
    try:
        if args.file == "-":
            return interchange.parse_lines(sys.stdin.buffer, "<stdin>"), "<stdin>"
        return interchange.parse_file(args.file), args.file
    except interchange.ImportFailed as exc:
        for err in exc.errors[:MAX_ERRORS_SHOWN]:
            print(f"{exc.source or args.file}:{err.line}: {err.message}", file=sys.stderr)
        if len(exc.errors) > MAX_ERRORS_SHOWN:
            print(f"… and {len(exc.errors) - MAX_ERRORS_SHOWN} more", file=sys.stderr)
        raise CommandError(f"{len(exc.errors)} bad line(s) in {exc.source or args.file}; nothing imported") from None


def import_command(args) -> int:
    records, source = _records_from(args)
    db = open_database(args)
    try:
        result = interchange.import_records(db, records, utcnow())
    finally:
        db.dispose()
    _report_import(result, source, args.json)
    return 0


def load_demo_command(args) -> int:
    db = open_database(args)
    try:
        if args.if_empty:
            with db.session() as s:
                existing = s.scalar(select(func.count(KnowledgeEntry.id)))
            if existing:
                if args.json:
                    print_json({"source": str(interchange.DEMO_KB), "skipped": True, "existing": existing})
                else:
                    print(f"knowledge base already has {existing} entries; demo not loaded")
                return 0
        result = interchange.import_records(db, interchange.read_demo(), utcnow())
    finally:
        db.dispose()
    _report_import(result, str(interchange.DEMO_KB), args.json)
    return 0


def export_command(args) -> int:
    db = open_database(args)
    try:
        with db.session() as s:
            records = interchange.all_records(s)
    finally:
        db.dispose()
    if args.out:
        out = Path(args.out)
        tmp = out.with_name(out.name + ".tmp")
        with open(tmp, "w", encoding="utf-8") as fh:
            n = interchange.write_jsonl(records, fh)
        tmp.replace(out)
        print(f"exported {n} entr{'y' if n == 1 else 'ies'} to {out}", file=sys.stderr)
    else:
        interchange.write_jsonl(records, sys.stdout)
    return 0


def ask_command(args) -> int:
    settings = settings_from(args)
    if args.k < 1:
        raise CommandError("-k must be at least 1")
    now = parse_iso(args.at, "--at") if args.at else utcnow()
    emergency = detect_emergency(args.text)
    db = open_database(args)
    try:
        kb = KnowledgeBase(db, threshold=settings.kb_threshold, zone=settings.zone, refresh_s=0)
        result = kb.search(args.text, args.k, now)
        entries = {m.entry_id: kb.entry(m.entry_id) for m in result.matches}
    finally:
        db.dispose()
    matches = [{"id": m.entry_id, "score": m.score, "similarity": sim,
                "question": entries[m.entry_id].question if entries.get(m.entry_id) else ""}
               for m, sim in zip(result.matches, result.similarities)]
    best = entries.get(result.matches[0].entry_id) if result.matches else None
    answered = result.answered and emergency is None
    data = {"query": args.text, "emergency": emergency, "answered": answered,
            "confidence": result.confidence, "threshold": result.threshold, "matches": matches,
            "answer": best.answer if (best and answered) else None,
            "audio": best.audio if (best and answered) else None}
    if args.json:
        print_json(data)
        return 0
    if emergency:
        print(f"EMERGENCY: hand the caller to {emergency}")
    if not matches:
        print("no match: the caller goes to a person")
        return 0
    verdict = "answered" if answered else "to a person"
    print(f"{verdict} (confidence {result.confidence:.2f}, threshold {result.threshold:.2f})")
    for m in matches:
        print(f"  {m['score']:.2f}  {m['id']:16} {m['question']}")
    if data["answer"]:
        print()
        print(data["answer"])
    return 0


def list_command(args) -> int:
    db = open_database(args)
    try:
        with db.session() as s:
            query = select(KnowledgeEntry).order_by(KnowledgeEntry.id)
            if args.category:
                query = query.where(KnowledgeEntry.category == args.category)
            rows = [interchange.record_of(r) for r in s.scalars(query)]
    finally:
        db.dispose()
    if args.json:
        print_json([{"id": r.id, "question": r.question, "category": r.category, "unit": r.unit,
                     "valid_from": r.valid_from, "valid_to": r.valid_to} for r in rows])
        return 0
    for r in rows:
        print(f"{r.id:16} {r.category:8} {r.question}")
    print(f"({len(rows)} entr{'y' if len(rows) == 1 else 'ies'})", file=sys.stderr)
    return 0


def show_command(args) -> int:
    db = open_database(args)
    try:
        with db.session() as s:
            row = s.get(KnowledgeEntry, args.id)
            rec = interchange.record_of(row) if row else None
            updated = row.updated_at if row else None
    finally:
        db.dispose()
    if rec is None:
        raise CommandError(f"no entry with id {args.id!r}")
    data = {**rec.to_json(), "updated_at": updated.isoformat()}
    if args.json:
        print_json(data)
        return 0
    for key in ("id", "question", "alternates", "keywords", "category", "unit", "audio", "valid_from",
                "valid_to", "updated_at"):
        if key in data and data[key] not in (None, "", []):
            value = "；".join(data[key]) if isinstance(data[key], list) else data[key]
            print(f"{key:11} {value}")
    print()
    print(rec.answer)
    return 0
