"""``hotline``: the engine's command line. Each sub-command group lives in its own module."""
from __future__ import annotations

import argparse
import json
import sys

from core.config import ConfigError, Settings, load_settings

EXIT_ERROR = 2


class CommandError(Exception):
    """One clear message for the person at the terminal; exit status non-zero."""


def settings_from(args) -> Settings:
    return load_settings(getattr(args, "config", None))


def print_json(data) -> None:
    json.dump(data, sys.stdout, ensure_ascii=False, indent=2, sort_keys=True, default=str)
    sys.stdout.write("\n")


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
