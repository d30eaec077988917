"""``hotline users add|list|disable|enable|set-password``: web console accounts.

A password is never taken from the command line: it is asked at the terminal (twice), or read
from standard input with ``--password-stdin`` (one line) for scripts:

    hotline users add li.admin --role admin
    printf '%s\\n' "$PASSWORD" | hotline users add zhao --role agent --password-stdin
    hotline users add jtj --role unit --unit JTJ --password-stdin < secret.txt

Every change is written to the console's audit log (actor ``cli:<login name>``); disabling an
account or setting its password ends its open sessions.
"""
from __future__ import annotations

import functools
import getpass
import sys

from core.clock import utcnow
from hotline.cli import CommandError, database_command, print_json


def register(sub) -> None:
    p = sub.add_parser("users", help="web console accounts (admin, agent, leader, unit)")
    s = p.add_subparsers(dest="users_command", required=True, metavar="ACTION")
    a = s.add_parser("add", help="create an account (the password is asked, never given in argv)")
    a.add_argument("name", metavar="NAME", help="log-in name: letters, digits, _ . @ -")
    a.add_argument("--role", required=True, choices=("admin", "agent", "leader", "unit"))
    a.add_argument("--unit", metavar="CODE", help="the handling unit of a unit account (hotline tickets units)")
    a.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    a.add_argument("--json", action="store_true", help="print JSON")
    a.set_defaults(func=_command(add))
    ls = s.add_parser("list", help="list accounts")
    ls.add_argument("--json", action="store_true", help="print JSON")
    ls.set_defaults(func=_command(list_))
    for name, func, help_ in (("disable", disable, "disable an account and end its sessions"),
                              ("enable", enable, "enable a disabled account")):
        d = s.add_parser(name, help=help_)
        d.add_argument("name", metavar="NAME")
        d.set_defaults(func=_command(func))
    pw = s.add_parser("set-password", help="set an account's password (ends its sessions)")
    pw.add_argument("name", metavar="NAME")
    pw.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    pw.set_defaults(func=_command(set_password))


def _command(func):
    @functools.wraps(func)
    def run(args):
        from web.console.users import UserError      # at run time: argon2 only for this group

        return database_command("console_users", "console", (UserError,))(func)(args)
    return run


def _actor() -> str:
    try:
        return "cli:" + getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name (containers)
        return "cli"


def _password(args, settings) -> str:
    if args.password_stdin:
        line = sys.stdin.readline()
        if not line:
            raise CommandError("no password on standard input")
        return line.rstrip("\r\n")
    if not sys.stdin.isatty():
        raise CommandError("no terminal to ask the password at: use --password-stdin")
    first = getpass.getpass(f"password for the account (at least {settings.console_password_min_length} characters): ")
    second = getpass.getpass("again: ")
    if first != second:
        raise CommandError("the two passwords differ; nothing was changed")
    return first


def _audit(session, action: str, target: str, detail: dict | None = None) -> None:
    from web.console.audit import record

    actor = _actor()
    record(session, actor=actor, role="cli", action=action, target=target, detail=detail, address="cli", at=utcnow())


def add(args, settings, db) -> int:
    from web.console import users

    users.clean_user_name(args.name)
    if args.role == "unit" and not args.unit:
        raise CommandError("a unit account needs --unit CODE")
    password = _password(args, settings)
    with db.session() as s:
        user = users.add_user(s, name=args.name, role=args.role, password=password, by=_actor(), now=utcnow(),
                              unit_code=args.unit, min_length=settings.console_password_min_length)
        _audit(s, "user.add", user.name, {"role": user.role, "unit": args.unit})
        data = {"name": user.name, "role": user.role, "unit": args.unit, "active": True}
    if args.json:
        print_json(data)
    else:
        print(f"created {data['role']} account {data['name']}" + (f" of unit {args.unit}" if args.unit else ""))
    return 0


def list_(args, settings, db) -> int:
    from web.console.users import list_users

    zone = settings.zone
    with db.session() as s:
        rows = [{"name": u.name, "role": u.role, "unit": unit.code if unit else None, "active": u.active,
                 "created_at": u.created_at.astimezone(zone).isoformat(), "created_by": u.created_by,
                 "last_login_at": u.last_login_at.astimezone(zone).isoformat() if u.last_login_at else None}
                for u, unit in list_users(s)]
    if args.json:
        print_json(rows)
        return 0
    for r in rows:
        print(f"{r['name']:24} {r['role']:7} {r['unit'] or '-':12} {'active' if r['active'] else 'DISABLED':8} "
              f"last log-in {r['last_login_at'] or 'never'}")
    print(f"{len(rows)} account(s)", file=sys.stderr)
    return 0


def _set_active(args, db, active: bool) -> int:
    from web.console.auth import end_sessions
    from web.console.users import set_active

    with db.session() as s:
        user = set_active(s, args.name, active)
        ended = 0 if active else end_sessions(s, user.id, utcnow())
        _audit(s, "user.enable" if active else "user.disable", user.name, {"sessions_ended": ended})
    print(f"{'enabled' if active else 'disabled'} {args.name}" + ("" if active else f" ({ended} session(s) ended)"))
    return 0


def disable(args, settings, db) -> int:
    return _set_active(args, db, False)


def enable(args, settings, db) -> int:
    return _set_active(args, db, True)


def set_password(args, settings, db) -> int:
    from web.console.auth import end_sessions
    from web.console.users import get_user, set_password as set_pw

    with db.session() as s:
        if get_user(s, args.name) is None:
            raise CommandError(f"no user {args.name!r}")
    password = _password(args, settings)
    now = utcnow()
    with db.session() as s:
        user = set_pw(s, args.name, password, now=now, min_length=settings.console_password_min_length)
        ended = end_sessions(s, user.id, now)
        _audit(s, "user.set_password", user.name, {"sessions_ended": ended})
    print(f"password set for {args.name} ({ended} session(s) ended)")
    return 0
