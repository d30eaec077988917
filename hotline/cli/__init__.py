"""``hotline``: the engine's command line. Each sub-command group lives in its own module."""
from __future__ import annotations

import argparse
import functools
import getpass
import json
import sys
from datetime import datetime

from core.config import ConfigError, Settings, load_settings

EXIT_ERROR = 2


class CommandError(Exception):
    """One clear message for the person at the terminal; exit status non-zero."""


def settings_from(args) -> Settings:
    return load_settings(getattr(args, "config", None))


def print_json(data) -> None:
    json.dump(data, sys.stdout, ensure_ascii=False, indent=2, sort_keys=True, default=str)
    sys.stdout.write("\n")


def database_command(table: str, what: str, errors: tuple[type[Exception], ...] = ()):
    """A sub-command run as ``func(args, settings, database)``: the configured database, disposed
    afterwards; a database not migrated yet (no ``table``) and the domain's own ``errors`` become
    one clear message."""
    def wrap(func):
        @functools.wraps(func)
        def run(args):
            from sqlalchemy import inspect

            from core.db import Database

            settings = settings_from(args)
            database = Database(settings.db_url)
            try:
                if not inspect(database.engine).has_table(table):
                    raise CommandError(f"the database has no {what} tables yet: run `hotline db upgrade`")
                return func(args, settings, database)
            except errors as exc:
                raise CommandError(str(exc)) from None
            finally:
                database.dispose()
        return run
    return wrap


def common_options(parser, *, by: bool = False) -> None:
    """--json, --at and (for changes) --by, as every group spells them."""
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument("--at", metavar="ISO8601", help="when (with offset; default: now)")
    if by:
        parser.add_argument("--by", metavar="NAME", help="who does this (default: your login name)")


def when(args) -> datetime:
    """--at (an ISO 8601 time with its offset), else now."""
    from core.clock import parse_iso, utcnow

    return parse_iso(args.at, "--at") if getattr(args, "at", None) else utcnow()


def who(args) -> str:
    """--by, else the login name; where there is none (containers), the person must say."""
    by = getattr(args, "by", None)
    if by is not None:
        if not by.strip():
            raise CommandError("--by is empty: say who you are with --by NAME")
        return by
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name: say so rather than guess
        raise CommandError("say who you are with --by NAME") from None


# Sub-command groups, in --help order; each module has register(subparsers).
GROUPS = ("serve", "db", "blocklist", "tickets", "calendar", "kb", "speech", "leader", "routing", "users",
          "report", "privacy", "prompts", "call")


def build_parser() -> argparse.ArgumentParser:
    import importlib

    parser = argparse.ArgumentParser(prog="hotline", description="12345 hotline engine")
    parser.add_argument("--config", help="TOML configuration file (default: $HOTLINE_CONFIG)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in GROUPS:
        try:
            module = importlib.import_module(f"hotline.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"hotline.cli.{name}":
                raise
            continue             # that feature has not landed in this build
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["call"]:           # the terminal caller parses its own options
        from softphone.terminal import main as terminal_main

        return int(terminal_main(argv[1:]) or 0)
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (CommandError, ConfigError, ValueError) as exc:
        print(f"hotline: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
