"""``hotline routing …``: priority numbers (适老化), call-back requests, live queue state.

    hotline routing priority add 138 0013 8000 [--category elderly] [--note …] [--by NAME]
    hotline routing priority list [--all] [--json]
    hotline routing priority remove 13800138000 [--by NAME]
    hotline routing callbacks list [--state requested] [--json]
    hotline routing callbacks cancel ID [--reason …] [--by NAME]
    hotline routing queues [--json]        (live, from Asterisk's manager interface)
"""
from __future__ import annotations

import functools

from hotline.cli import CommandError, common_options, database_command, print_json, settings_from, when, who
from routing import callbacks, priority
from routing.models import CALLBACK_STATES, PRIORITY_CATEGORIES


def register(sub) -> None:
    p = sub.add_parser("routing", help="agent routing: priority numbers, call-backs, live queue state")
    s = p.add_subparsers(dest="routing_command", required=True, metavar="WHAT")

    pr = s.add_parser("priority", help="numbers whose calls go straight to a person (e.g. elderly callers)")
    ps = pr.add_subparsers(dest="priority_command", required=True, metavar="ACTION")
    add = ps.add_parser("add", help="register a number for priority")
    add.add_argument("number", nargs="+", metavar="NUMBER", help="any usual format (spaces allowed)")
    add.add_argument("--category", default="elderly", choices=PRIORITY_CATEGORIES)
    add.add_argument("--note", default="", help="why (free text)")
    common_options(add, by=True)
    add.set_defaults(func=_command(priority_add))
    rm = ps.add_parser("remove", help="end a number's priority registration")
    rm.add_argument("number", nargs="+", metavar="NUMBER")
    common_options(rm, by=True)
    rm.set_defaults(func=_command(priority_remove))
    ls = ps.add_parser("list", help="registered numbers")
    ls.add_argument("--all", action="store_true", help="also ended registrations")
    common_options(ls)
    ls.set_defaults(func=_command(priority_list))

    cb = s.add_parser("callbacks", help="call-back requests and what came of them")
    cs = cb.add_subparsers(dest="callbacks_command", required=True, metavar="ACTION")
    cl = cs.add_parser("list", help="call-back requests, newest first")
    cl.add_argument("--state", choices=CALLBACK_STATES)
    cl.add_argument("--limit", type=int, default=200)
    cl.add_argument("--numbers", action="store_true", help="show numbers unmasked")
    common_options(cl)
    cl.set_defaults(func=_command(callbacks_list))
    cc = cs.add_parser("cancel", help="cancel an open call-back request")
    cc.add_argument("id", type=int, metavar="ID")
    cc.add_argument("--reason", default="", help="why")
    common_options(cc, by=True)
    cc.set_defaults(func=_command(callbacks_cancel))

    q = s.add_parser("queues", help="live queue state from Asterisk's manager interface (QueueSummary)")
    q.add_argument("--json", action="store_true", help="print JSON")
    q.add_argument("--members", action="store_true", help="also each queue's agents and callers (QueueStatus)")
    q.set_defaults(func=queues_command)


def _command(func):
    """A sub-command on the routing tables; a number typed in several words is one number."""
    @functools.wraps(func)
    def joined(args, settings, database):
        if isinstance(getattr(args, "number", None), list):
            args.number = " ".join(args.number)
        return func(args, settings, database)
    return database_command("callbacks", "routing", (priority.PriorityError, callbacks.CallbackError))(joined)


def _say(args, data: dict, text: str) -> int:
    print_json(data) if args.json else print(text)
    return 0


def priority_add(args, settings, database) -> int:
    with database.session() as s:
        row = priority.add(s, args.number, by=who(args), now=when(args), category=args.category, note=args.note)
        data = priority.as_json(row, settings.zone)
    return _say(args, data, f"registered for priority ({data['category']}): {data['number']}")


def priority_remove(args, settings, database) -> int:
    with database.session() as s:
        row = priority.remove(s, args.number, by=who(args), now=when(args))
        data = priority.as_json(row, settings.zone)
    return _say(args, data, f"priority registration ended: {data['number']}")


def priority_list(args, settings, database) -> int:
    with database.read_session() as s:
        rows = [priority.as_json(r, settings.zone) for r in priority.list_numbers(s, include_removed=args.all)]
    if args.json:
        print_json(rows)
    elif not rows:
        print("no priority numbers")
    else:
        for r in rows:
            state = "" if r["active"] else f" (ended {r['removed_at'][:10]} by {r['removed_by']})"
            print(f"{r['number']} {r['category']} since {r['added_at'][:10]} by {r['added_by']}"
                  + (f": {r['note']}" if r["note"] else "") + state)
    return 0


def callbacks_list(args, settings, database) -> int:
    with database.read_session() as s:
        rows = [callbacks.as_json(cb, settings.zone, masked=not args.numbers)
                for cb in callbacks.list_callbacks(s, state=args.state, limit=args.limit)]
    if args.json:
        print_json(rows)
    elif not rows:
        print("no call-back requests")
    else:
        for r in rows:
            print(f"#{r['id']} {r['number']} {r['queue']} {r['state']} attempts {r['attempts']} "
                  f"requested {r['requested_at'][:16]}" + (f": {r['last_error']}" if r["last_error"] else ""))
    return 0


def callbacks_cancel(args, settings, database) -> int:
    with database.session() as s:
        cb = callbacks.cancel(s, args.id, by=who(args), now=when(args), reason=args.reason)
        data = callbacks.as_json(cb, settings.zone)
    return _say(args, data, f"call-back #{data['id']} cancelled")


def queues_command(args) -> int:
    from routing.ami import AmiClient, AmiError
    from routing.state import state_from_summary

    settings = settings_from(args)
    client = AmiClient.from_settings(settings)
    if client is None:
        raise CommandError("the manager interface is not configured: set ami_secret (and ami_host, "
                           "ami_port, ami_username) — see asterisk.conf.example")
    try:
        summary = client.queue_summary()
        detail = client.queue_status() if args.members else {}
    except AmiError as exc:
        raise CommandError(f"queue state unavailable: {exc}") from None
    finally:
        client.close()
    rows = []
    for name in sorted(summary):
        row = {"queue": name, **state_from_summary(summary[name]).as_json()}
        if args.members:
            d = detail.get(name, {})
            row["members"] = [{"name": m.get("MemberName") or m.get("Name"), "interface": m.get("Interface")
                               or m.get("Location"), "status": m.get("Status"), "paused": bool(m.get("Paused")),
                               "in_call": bool(m.get("InCall"))} for m in d.get("members", [])]
            row["waiting"] = [{"position": e.get("Position"), "wait_s": e.get("Wait"),
                               "priority": e.get("Priority")} for e in d.get("entries", [])]
        rows.append(row)
    if args.json:
        print_json(rows)
        return 0
    if not rows:
        print("the manager reports no queues")
    for r in rows:
        print(f"{r['queue']}: {r['available']} of {r['logged_in']} agent(s) free, {r['callers']} waiting "
              f"(longest {r['longest_wait_s']} s), average hold {r['holdtime_s']} s, talk {r['talktime_s']} s")
        for m in r.get("members", []):
            print(f"  agent {m['name']} {m['interface']} status {m['status']}"
                  + (" paused" if m["paused"] else "") + (" in call" if m["in_call"] else ""))
    return 0
