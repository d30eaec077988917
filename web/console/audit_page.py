"""操作日志 (admins): every change made in the console or with ``hotline users``, newest first."""
from __future__ import annotations

import json

from web.console.audit import recent
from web.console.base import Console, Ctx

PAGE_SIZE = 100


def index(ctx: Ctx):
    try:
        page = max(1, min(int(ctx.arg("page", "1")), 100_000))
    except ValueError:
        page = 1
    actor, action = ctx.arg("actor")[:80], ctx.arg("action")[:48]
    with ctx.read() as s:
        rows, total = recent(s, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE, actor=actor or None,
                             action=action or None)
    entries = []
    for e in rows:
        try:
            detail = json.loads(e.detail or "{}")
        except ValueError:
            detail = {}
        entries.append((e, detail if isinstance(detail, dict) else {}))
    pages = max(1, (total + PAGE_SIZE - 1) // PAGE_SIZE)
    return ctx.render("audit.html", title="操作日志", entries=entries, total=total, page=page, pages=pages,
                      actor=actor, action=action)


def routes(console: Console) -> list:
    return [console.page("/console/audit", index, "audit")]
