"""Every console route, built once per engine (``web.console.console_routes``)."""
from __future__ import annotations

from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from web.console import agent, audit_page, auth, blocklist, kb, leader, overview, tickets
from web.console.base import STATIC, Console


class _Static(StaticFiles):
    """The console's own CSS and script (no CDN), cached for an hour, never sniffed."""

    async def get_response(self, path, scope):
        response = await super().get_response(path, scope)
        response.headers.setdefault("Cache-Control", "public, max-age=3600")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        return response


def build_routes(engine) -> list:
    console = Console(engine)
    routes = [*auth.routes(console)]
    for module in (overview, agent, tickets, blocklist, kb, leader, audit_page):
        routes += module.routes(console)
    routes.append(Mount("/console/static", app=_Static(directory=str(STATIC)), name="console-static"))
    return routes
