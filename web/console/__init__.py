"""The web console for admins, agents, leaders and handling units (server-rendered, zh-CN).

``console_routes(engine)`` gives the routes ``web.app.create_app`` mounts (``extra_routes=``):
pages under ``/console``, their static files, and ``/`` → ``/console/``. Accounts come from
``hotline users add`` (``web.console.users``).
"""
from __future__ import annotations


def console_routes(engine) -> list:
    from web.console.routes import build_routes

    return build_routes(engine)


__all__ = ["console_routes"]
