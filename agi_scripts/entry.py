"""``hotline-agi ROUTE``: one AGI session on stdin/stdout, for ``AGI(/path/to/hotline-agi,hotline)``.

Asterisk starts one process per call; prefer FastAGI for volume. Nothing is printed to stdout
but AGI commands; logs go to stderr (Asterisk shows them on its console at verbose ≥ 3).
"""
from __future__ import annotations

import logging
import sys

from core.config import load_settings
from hotline.bootstrap import build_engine
from ivr.agi.channel import read_env
from ivr.routes import AGIApplication


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    route = argv[0] if argv else "hotline"
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING)
    rfile, wfile = sys.stdin.buffer, sys.stdout.buffer
    try:
        env = read_env(rfile)
    except Exception as exc:  # noqa: BLE001
        print(f"hotline-agi: no AGI environment on stdin ({exc})", file=sys.stderr)
        return 1
    engine = build_engine(load_settings())
    try:
        AGIApplication(engine, channel="agi").dispatch(env, rfile, wfile, route=route)
    finally:
        engine.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
