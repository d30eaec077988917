"""``hotline call``: place a call from the terminal, playing Asterisk, with no Asterisk installed."""
from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("call", help="call the running engine from this terminal (acts as Asterisk)",
                       add_help=False)
    p.add_argument("rest", nargs="...", help="options of the terminal caller (see hotline call --help)")
    p.set_defaults(func=call)


def call(args) -> int:
    from softphone.terminal import main as terminal_main

    return int(terminal_main(args.rest) or 0)
