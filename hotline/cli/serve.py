"""``hotline serve``: the FastAGI server, the web listener (health, audio, Twilio webhooks) and the scheduler."""
from __future__ import annotations

import logging
import signal
import threading

from core import db as dbmod
from core.logs import setup_logging
from hotline.bootstrap import build_engine
from hotline.cli import CommandError, settings_from
from hotline.recovery import recover_after_restart
from hotline.scheduler import Scheduler
from ivr.fastagi import FastAGIServer
from ivr.routes import AGIApplication
from web.app import create_app
from web.console import console_routes
from web.server import WebListener

log = logging.getLogger("hotline.serve")


def register(sub) -> None:
    p = sub.add_parser("serve", help="answer calls: FastAGI on fastagi_host:fastagi_port")
    p.add_argument("--host", help="FastAGI listen address (default from configuration)")
    p.add_argument("--port", type=int, help="FastAGI port (default 4573)")
    p.add_argument("--no-migrate", action="store_true", help="do not upgrade the schema at start")
    p.add_argument("--web-host", help="web listener address (default web_host)")
    p.add_argument("--web-port", type=int, help="web listener port (default web_port, 8080)")
    p.add_argument("--no-web", action="store_true", help="no web listener (no Twilio webhooks, no /healthz)")
    p.set_defaults(func=serve)


def serve(args) -> int:
    settings = settings_from(args)
    setup_logging(settings.log_level)
    if not args.no_migrate:
        dbmod.upgrade(settings.db_url)
    engine = build_engine(settings)
    recover_after_restart(engine)
    if engine.kb is not None:
        log.info("knowledge base: %d entries indexed", engine.kb.warm())
    log.info("speech recognition: %s", "on" if engine.services.speech_available else
             "off (no model) — keypad only")
    server = FastAGIServer(AGIApplication(engine), args.host or settings.fastagi_host,
                           args.port if args.port is not None else settings.fastagi_port,
                           max_calls=settings.max_calls, accept_queue=settings.accept_queue,
                           socket_timeout=settings.socket_timeout, hubs=settings.fastagi_hubs)
    web = None
    if not args.no_web:
        app = create_app(engine, extra_routes=console_routes(engine))     # + the web console
        web = WebListener(app, args.web_host or settings.web_host,
                          args.web_port if args.web_port is not None else settings.web_port,
                          shutdown_grace=settings.shutdown_grace)
        try:
            web.start()
        except OSError as exc:
            engine.close()
            raise CommandError(f"web listener cannot listen on {web.host}:{web.port}: {exc} "
                               "(--web-port, or --no-web)") from exc
        log.info("twilio webhooks: %s", "on at " + settings.twilio_public_url + "/twilio/voice"
                 if settings.twilio_public_url and settings.twilio_auth_token
                 else "off (set twilio_public_url and twilio_auth_token)")
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    scheduler = Scheduler(engine, engine.scheduled_jobs(), ttl=settings.scheduler_lease_ttl_s,
                          renew=settings.scheduler_lease_renew_s)
    scheduler.start()
    port = server.start()
    listening = f"FastAGI on {server.host}:{port}" + (f", web on {web.host}:{web.port}" if web else "")
    print(f"hotline: {listening}; Ctrl-C or SIGTERM stops", flush=True)
    stop.wait()
    server.stop_accepting()             # first: new calls fail over to another node at once
    if web is not None:                 # no new webhooks; those in flight finish
        web.request_stop()
    scheduler.stop()
    log.info("stopping: no new calls; %d in progress get %.0f s", server.active_calls, settings.shutdown_grace)
    server.shutdown(settings.shutdown_grace)
    if web is not None:
        web.stop(settings.shutdown_grace)
    engine.close()
    return 0
