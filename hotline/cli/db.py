"""``hotline db upgrade|current|downgrade``: schema migrations (Alembic)."""
from __future__ import annotations

from core import db
from hotline.cli import print_json, settings_from


def register(sub) -> None:
    p = sub.add_parser("db", help="database schema")
    s = p.add_subparsers(dest="db_command", required=True)
    up = s.add_parser("upgrade", help="migrate the schema to the newest revision")
    up.add_argument("revision", nargs="?", default="head")
    up.set_defaults(func=upgrade)
    down = s.add_parser("downgrade", help="migrate the schema down to REVISION")
    down.add_argument("revision")
    down.set_defaults(func=downgrade)
    cur = s.add_parser("current", help="print the schema revision")
    cur.add_argument("--json", action="store_true")
    cur.set_defaults(func=current)


def upgrade(args) -> int:
    settings = settings_from(args)
    db.upgrade(settings.db_url, args.revision)
    print(f"database at revision {db.current_revision(settings.db_url)}")
    return 0


def downgrade(args) -> int:
    settings = settings_from(args)
    db.downgrade(settings.db_url, args.revision)
    print(f"database at revision {db.current_revision(settings.db_url)}")
    return 0


def current(args) -> int:
    settings = settings_from(args)
    rev = db.current_revision(settings.db_url)
    if args.json:
        print_json({"revision": rev})
    else:
        print(rev or "(empty database)")
    return 0
