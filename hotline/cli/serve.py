"""``hotline serve``: the FastAGI server (and, as they land, the web listener and scheduler)."""
from __future__ import annotations

import logging
import signal
import threading

from callers.calls import close_stale
from core import db as dbmod
from core.logs import setup_logging
from hotline.bootstrap import build_engine
from hotline.cli import settings_from
from hotline.scheduler import Scheduler
from ivr.fastagi import FastAGIServer
from ivr.routes import AGIApplication

log = logging.getLogger("hotline.serve")


def register(sub) -> None:
    p = sub.add_parser("serve", help="answer calls: FastAGI on fastagi_host:fastagi_port")
    p.add_argument("--host", help="FastAGI listen address (default from configuration)")
    p.add_argument("--port", type=int, help="FastAGI port (default 4573)")
    p.add_argument("--no-migrate", action="store_true", help="do not upgrade the schema at start")
    p.set_defaults(func=serve)


def serve(args) -> int:
    settings = settings_from(args)
    setup_logging(settings.log_level)
    if not args.no_migrate:
        dbmod.upgrade(settings.db_url)
    engine = build_engine(settings)
    with engine.db.session() as s:
        stale = close_stale(s, engine.clock())
    if stale:
        log.warning("closed %d call record(s) left open by an earlier run", stale)
    if engine.kb is not None:
        log.info("knowledge base: %d entries indexed", engine.kb.warm())
    log.info("speech recognition: %s", "on" if engine.services.speech_available else
             "off (no model) — keypad only")
    server = FastAGIServer(AGIApplication(engine), args.host or settings.fastagi_host,
                           args.port if args.port is not None else settings.fastagi_port,
                           max_calls=settings.max_calls, accept_queue=settings.accept_queue,
                           socket_timeout=settings.socket_timeout)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    scheduler = Scheduler(engine, engine.scheduled_jobs())
    scheduler.start()
    port = server.start()
    print(f"hotline: FastAGI on {server.host}:{port}; Ctrl-C or SIGTERM stops", flush=True)
    stop.wait()
    scheduler.stop()
    log.info("stopping: no new calls; %d in progress get %.0f s", server.active_calls, settings.shutdown_grace)
    server.shutdown(settings.shutdown_grace)
    engine.close()
    return 0
