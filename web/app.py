"""The web listener's application: ``create_app(engine, extra_routes=...)``.

* ``GET /healthz`` — the database answers: 200 ``{"status": "ok"}``, else 503 ``{"status": "degraded"}``.
* ``GET /audio/prompts/{lang}/{id}.wav`` — prompt audio (``prompt_dir/<lang>/<id>.wav``), what
  Twilio's ``<Play>`` fetches; ``GET /audio/tts/{lang}/{hash}.wav`` — synthesised answers (the
  synthesis cache under ``data_dir/tts``). Names are allow-listed (language, ``[a-z0-9_]`` ids,
  32-hex hashes), the path is resolved and must stay in its directory: nothing else is served.
* ``/twilio/...`` — Twilio's voice webhooks (``ivr.twilio.routes``).
* ``GET /metrics`` — Prometheus text format (``core.metrics``; ``metrics_enabled``), with the
  tickets open and overdue read from the database at scrape time.

The web console adds its pages with ``extra_routes`` (``web.console.console_routes``).
``app.state.stopping`` is set when the listener stops taking requests: long responses (the
console's live event streams) end on it.
"""
from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable
from pathlib import Path

from sqlalchemy import case, func, select
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from core import metrics
from flow.language import LANGUAGES
from ivr.twilio.driver import tts_dir
from ivr.twilio.routes import TwilioWebhooks
from tickets.lifecycle import OPEN_STATES
from tickets.models import Ticket

log = logging.getLogger(__name__)

PROMPT_FILE = re.compile(r"([a-z0-9_]{1,64})\.wav")
TTS_FILE = re.compile(r"([0-9a-f]{32})\.wav")


def audio_file(root: Path, lang: str, name: str, pattern: re.Pattern) -> Path | None:
    """``root/lang/name`` if both are allow-listed names and the file really lies there."""
    if lang not in LANGUAGES or not pattern.fullmatch(name):
        return None
    folder = (root / lang).resolve()
    try:
        path = (folder / name).resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    if path.parent != folder or not path.is_file():
        return None
    return path


def create_app(engine, *, extra_routes: Iterable[BaseRoute] = ()) -> Starlette:
    settings = engine.settings
    prompt_root = Path(settings.prompt_dir)
    tts_root = tts_dir(engine.media, settings.data_dir)

    async def healthz(request: Request) -> Response:
        ok = await run_in_threadpool(engine.healthy)
        return JSONResponse({"status": "ok" if ok else "degraded", "database": "ok" if ok else "unreachable"},
                            status_code=200 if ok else 503)

    def serve(root: Path, pattern: re.Pattern, max_age: int):
        async def endpoint(request: Request) -> Response:
            path = audio_file(root, request.path_params["lang"], request.path_params["name"], pattern)
            if path is None:
                return PlainTextResponse("not found", status_code=404)
            return FileResponse(path, media_type="audio/wav", headers={"Cache-Control": f"public, max-age={max_age}"})
        return endpoint

    def ticket_gauges() -> dict[str, float]:
        now = engine.clock()
        with engine.db.read_session() as s:
            open_, overdue = s.execute(select(func.count(), func.sum(case((Ticket.due <= now, 1), else_=0)))
                                       .where(Ticket.state.in_(OPEN_STATES))).one()
        return {"hotline_tickets_overdue": int(overdue or 0), "hotline_tickets_open": int(open_ or 0)}

    gauges = metrics.DatabaseGauges(ticket_gauges)

    async def metrics_endpoint(request: Request) -> Response:
        body, content_type = await run_in_threadpool(metrics.exposition, [gauges])
        return Response(body, media_type=content_type, headers={"Cache-Control": "no-store"})

    routes: list[BaseRoute] = [
        Route("/healthz", healthz, methods=["GET", "HEAD"]),
        Route("/audio/prompts/{lang}/{name}", serve(prompt_root, PROMPT_FILE, 300), methods=["GET", "HEAD"]),
        Route("/audio/tts/{lang}/{name}", serve(tts_root, TTS_FILE, 86400), methods=["GET", "HEAD"]),
        *TwilioWebhooks(engine).routes(),
        *([Route("/metrics", metrics_endpoint, methods=["GET"])] if settings.metrics_enabled else []),
        *extra_routes,
    ]
    app = Starlette(routes=routes)
    app.state.engine = engine
    app.state.stopping = threading.Event()
    return app
