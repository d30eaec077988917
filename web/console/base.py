"""What every console page shares: templates, the signed-in person, role and CSRF checks, flash
messages, security headers.

A page is a plain function ``handler(ctx) -> Response`` run in a worker thread (the domain code
is synchronous SQLAlchemy); :meth:`Console.page` wraps it: resolve the session (else the log-in
page, or 403 for a write), check the page's permission (403), and for POST/PUT/PATCH/DELETE read
the form and check its CSRF token (403) before the handler sees anything.
"""
from __future__ import annotations

import base64
import contextlib
import inspect
import json
import logging
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from urllib.parse import quote, urlsplit

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Match, Route

from core.logs import mask_number
from tickets.followup import RATINGS
from tickets.lifecycle import STATE_ZH
from tickets.models import KIND_ZH
from web.console import csrf, roles
from web.console.audit import record as audit_record
from web.console.auth import COOKIE, Auth, Signed
from web.console.users import ROLE_ZH, Who

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
FLASH_COOKIE = "hotline_flash"
MAX_BODY = 20 * 1024 * 1024            # the largest request body a console form may send (KB import)

SECURITY_HEADERS = {
    # everything is served from here: no CDN, no inline script or style
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
                               "media-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
                               "form-action 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

NAV = (("overview", "/console/overview", "概览"),
       ("agent.screen", "/console/agent", "坐席工作台"),
       ("tickets.view", "/console/tickets", "工单"),
       ("blocklist.admin", "/console/blocklist", "黑名单"),
       ("kb.search", "/console/kb", "知识库"),
       ("leader.view", "/console/leader", "领导接听"),
       ("audit", "/console/audit", "操作日志"))

GROUND_ZH = {"harassing": "骚扰工作人员", "insulting": "辱骂工作人员", "threatening": "威胁工作人员",
             "malicious_calls": "恶意重复拨打", "no_request": "无实质诉求", "other": "其他"}
BLOCK_STATUS_ZH = {"proposed": "待审批", "active": "生效中", "expired": "已到期", "lifted": "已提前解除",
                   "rejected": "已驳回", "scheduled": "待生效"}
OUTCOME_ZH = {"in_progress": "通话中", "handed_off": "已转接", "abandoned": "放弃", "restricted": "已拦截",
              "self_served": "自助解决", "message": "留言", "refused": "不予受理", "error": "异常"}
ACTION_ZH = {"queue": "人工座席", "leader": "领导专席", "emergency": "紧急转接", "hangup": "挂断"}
LANG_ZH = {"cmn": "普通话", "yue": "粤语", "hak": "客家话"}
BLOCK_EVENT_ZH = {"proposed": "申请限制", "approved": "批准", "rejected": "驳回", "added": "直接限制",
                  "imported": "导入", "lifted": "提前解除", "attempt": "拦截呼入"}


def safe_next(target: str | None, default: str) -> str:
    """A redirect target inside the console only (no open redirect)."""
    if target and target.startswith("/console/") and not target.startswith("//") and "\\" not in target \
            and "\n" not in target and "\r" not in target:
        return target
    return default


def client_address(request: Request, trust_forwarded: bool) -> str:
    if trust_forwarded:
        forwarded = request.headers.get("x-forwarded-for", "")
        hops = [h.strip() for h in forwarded.split(",") if h.strip()]
        if hops:
            return hops[-1][:64]
    return (request.client.host if request.client else "-")[:64]


def secure(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


class Console:
    """The console over one engine: its database, settings, clock, templates and sessions."""

    def __init__(self, engine) -> None:
        self.engine = engine
        self.db = engine.db
        self.settings = engine.settings
        self.zone = engine.settings.zone
        self.auth = Auth(engine.db, engine.settings, engine.clock)
        self.env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=select_autoescape(
            enabled_extensions=("html", "htm", "xml", "svg"), default_for_string=True, default=True),
            undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
        self.env.filters.update(dt=self.fmt_time, day=self.fmt_day, mask=mask_number, kind_zh=KIND_ZH.get,
                                state_zh=STATE_ZH.get, ground_zh=lambda g: GROUND_ZH.get(g, g),
                                block_status_zh=lambda s: BLOCK_STATUS_ZH.get(s, s),
                                outcome_zh=lambda o: OUTCOME_ZH.get(o, o), action_zh=lambda a: ACTION_ZH.get(a, a),
                                lang_zh=lambda x: LANG_ZH.get(x, x),
                                block_event_zh=lambda a: BLOCK_EVENT_ZH.get(a, a), rating_zh=lambda r: RATINGS.get(r, ""),
                                percent=lambda v: "–" if v is None else f"{v:.1%}")

    def now(self) -> datetime:
        return self.engine.clock()

    @contextlib.contextmanager
    def read(self):
        """A read session whose rows stay usable after it ends (the page renders them then):
        ``read_session`` rolls back at the end, which would expire them, so they are detached first."""
        with self.db.read_session() as s:
            yield s
            s.expunge_all()

    def fmt_time(self, value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
        return value.astimezone(self.zone).strftime(fmt) if value else ""

    @staticmethod
    def fmt_day(value: date | None) -> str:
        return value.isoformat() if value else ""

    def address(self, request: Request) -> str:
        return client_address(request, self.settings.console_trust_forwarded)

    # -- rendering --------------------------------------------------------------------------
    def render(self, request: Request, template: str, *, signed: Signed | None = None, status: int = 200,
               headers: dict | None = None, **values) -> HTMLResponse:
        who = signed.who if signed else None
        flash = read_flash(request)
        context = {
            "who": who, "csrf_token": signed.csrf_token if signed else "", "flash": flash,
            "can": (lambda p: roles.can(who, p)), "nav": [(u, label) for p, u, label in NAV if roles.can(who, p)],
            "path": request.url.path, "role_zh": ROLE_ZH, "now": self.now(), "zone": self.zone,
            "show_number": (lambda key: key if roles.can(who, "tickets.personal") else mask_number(key)),
            "title": "", **values,
        }
        body = self.env.get_template(template).render(**context)
        response = HTMLResponse(body, status_code=status, headers=headers)
        if flash is not None:
            response.delete_cookie(FLASH_COOKIE, path="/console", httponly=True, samesite="strict")
        return secure(response)

    def forbidden(self, request: Request, signed: Signed | None, message: str, status: int = 403) -> Response:
        return self.render(request, "error.html", signed=signed, status=status, title="无权访问", message=message)

    # -- pages -------------------------------------------------------------------------------
    def page(self, path: str, handler: Callable, permission: str | None, methods=("GET",)) -> Route:
        """A route whose handler runs only for a signed-in person holding ``permission``
        (None: anyone signed in), with the CSRF token checked on unsafe methods."""
        async def endpoint(request: Request) -> Response:
            signed = await run_in_threadpool(self.auth.resolve, request.cookies.get(COOKIE))
            if signed is None:
                if request.method in ("GET", "HEAD"):
                    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                    return secure(RedirectResponse("/console/login?next=" + quote(target, safe=""), status_code=303))
                # a form posted after the session ended (or never had one): nothing was done;
                # to the log-in, and from there back to the page the form was on
                response = RedirectResponse("/console/login?next=" + quote(page_posted_from(request), safe=""),
                                            status_code=303)
                set_flash(response, "error", "登录已过期，刚才提交的内容没有保存。请重新登录后再提交一次。",
                          self.auth.policy.secure_cookie)
                return secure(response)
            if permission is not None and not roles.can(signed.who, permission):
                log.info("console: %s (%s) refused %s %s", signed.who.name, signed.who.role, request.method,
                         request.url.path)
                return self.forbidden(request, signed, "您的账号无权访问此页面。")
            form = None
            if csrf.needs_check(request.method):
                if int(request.headers.get("content-length") or 0) > MAX_BODY:
                    return self.forbidden(request, signed, "提交的内容过大。", status=413)
                try:
                    form = await request.form(max_files=2, max_fields=300)
                except Exception:  # noqa: BLE001 - a malformed body is the sender's error
                    return self.forbidden(request, signed, "无法读取提交的表单。", status=400)
                if not csrf.valid(signed.csrf_token, csrf.submitted(request, form)):
                    await form.close()
                    log.warning("console: CSRF check failed for %s on %s", signed.who.name, request.url.path)
                    return self.forbidden(request, signed, "请求未通过安全校验（CSRF），未做任何更改。请刷新页面后重试。")
            ctx = Ctx(self, request, signed, form)
            try:
                if inspect.iscoroutinefunction(handler):
                    response = await handler(ctx)
                else:
                    response = await run_in_threadpool(handler, ctx)
            finally:
                if form is not None:
                    await form.close()
            return secure(response)

        return Route(path, endpoint, methods=list(methods))


def set_flash(response: Response, kind: str, text: str, secure_cookie: bool) -> None:
    """A one-time message for the next page (``read_flash``)."""
    payload = json.dumps({"kind": kind, "text": text[:600]}, ensure_ascii=False)
    value = base64.urlsafe_b64encode(payload.encode("utf-8")).decode("ascii").rstrip("=")
    response.set_cookie(FLASH_COOKIE, value, max_age=60, path="/console", httponly=True, samesite="strict",
                        secure=secure_cookie)


def page_posted_from(request: Request) -> str:
    """The console page a form was posted from (its Referer), if it is this site's and can be
    opened again with GET; else the console's start. The query is dropped."""
    try:
        referer = urlsplit(request.headers.get("referer", ""))
    except ValueError:
        return "/console/"
    if referer.netloc and referer.netloc != request.headers.get("host", ""):
        return "/console/"
    path = safe_next(referer.path, "/console/")
    scope = {"type": "http", "path": path, "method": "GET", "root_path": ""}
    for route in request.app.routes:
        if isinstance(route, Route) and route.matches(scope)[0] == Match.FULL:
            return path
    return "/console/"


def read_flash(request: Request) -> dict | None:
    raw = request.cookies.get(FLASH_COOKIE)
    if not raw:
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(raw.encode("ascii") + b"==").decode("utf-8"))
    except (ValueError, UnicodeError):
        return None
    if not isinstance(data, dict) or data.get("kind") not in ("ok", "error") or not isinstance(data.get("text"), str):
        return None
    return {"kind": data["kind"], "text": data["text"][:600]}


class Ctx:
    """One request as a page sees it."""

    def __init__(self, console: Console, request: Request, signed: Signed, form) -> None:
        self.console = console
        self.request = request
        self.signed = signed
        self.who: Who = signed.who
        self.form = form
        self.now = console.now()
        self.address = console.address(request)

    @property
    def db(self):
        return self.console.db

    def read(self):
        return self.console.read()

    @property
    def settings(self):
        return self.console.settings

    @property
    def zone(self):
        return self.console.zone

    def can(self, permission: str) -> bool:
        return roles.can(self.who, permission)

    def field(self, name: str, default: str = "") -> str:
        value = self.form.get(name) if self.form is not None else None
        return value.strip() if isinstance(value, str) else default

    def value(self, name: str, default: str = "") -> str:
        """A filter's value: the posted form's (searches that may hold personal data are posted, so
        they stay out of URLs and access logs), else the query string's."""
        return self.field(name, default) if self.form is not None else self.arg(name, default)

    def raw_field(self, name: str) -> str:
        value = self.form.get(name) if self.form is not None else None
        return value if isinstance(value, str) else ""

    def arg(self, name: str, default: str = "") -> str:
        return (self.request.query_params.get(name) or default).strip()

    def param(self, name: str) -> str:
        return self.request.path_params[name]

    def render(self, template: str, *, status: int = 200, **values) -> HTMLResponse:
        return self.console.render(self.request, template, signed=self.signed, status=status, **values)

    def forbidden(self, message: str = "您的账号无权访问此页面。", status: int = 403) -> Response:
        return self.console.forbidden(self.request, self.signed, message, status)

    def not_found(self, message: str = "没有找到。") -> Response:
        return self.console.render(self.request, "error.html", signed=self.signed, status=404, title="未找到",
                                   message=message)

    def redirect(self, url: str, *, ok: str | None = None, error: str | None = None) -> Response:
        response = RedirectResponse(url, status_code=303)
        if ok or error:
            set_flash(response, "error" if error else "ok", error or ok, self.console.auth.policy.secure_cookie)
        return response

    def audit(self, session, action: str, target: str = "", detail: dict | None = None) -> None:
        """The change's audit entry, in the change's own transaction."""
        audit_record(session, actor=self.who.name, role=self.who.role, action=action, target=target, detail=detail,
                     address=self.address, at=self.now)
        from core import metrics

        metrics.CONSOLE_CHANGES.labels(action=action).inc()
