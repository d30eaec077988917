"""Logging in and out; sessions kept server-side; the log-in rate limit.

* A session is a random id (256 bits) signed with HMAC-SHA256; the cookie carries
  ``id.signature`` (``HttpOnly; SameSite=Strict; Path=/``, ``Secure`` when the console's public
  URL is https) and the ``web_sessions`` table keeps only the id's SHA-256, so a copy of the
  database gives no usable cookie. A session ends after ``console_session_idle_minutes`` idle,
  ``console_session_max_hours`` after log-in, at log-out, or when its user is disabled or gets
  a new password. Each log-in makes a new session (no fixation).
* The signing key is ``console_secret_key`` or, when that is empty, a random key kept in the
  ``console_keys`` table: every engine process signs and checks alike.
* Rate limit (``login_throttle``, in the database so several processes agree): every attempt
  first counts as a failure for the account and for the client address, in one write
  transaction, *before* the password is checked; a good password then clears the account's
  count. Past the allowed failures within the window a key is locked for
  ``console_login_lockout_s`` seconds, doubling with each further failure up to the maximum;
  while locked, attempts are refused without looking at the password.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ForeignKey, Index, Integer, String, delete, insert, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from core.db import Base, Database, UTCDateTime
from web.console import audit
from web.console.users import User, Who, verify, who_of

log = logging.getLogger(__name__)

COOKIE = "hotline_console"
LOGIN_COOKIE = "hotline_login"         # the log-in form's CSRF token (double submit), before a session exists
LAST_SEEN_EVERY = timedelta(seconds=60)   # idle expiry is tracked to this resolution (one write a minute)


class WebSession(Base):
    __tablename__ = "web_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)    # SHA-256 of the random id, hex
    user_id: Mapped[int] = mapped_column(ForeignKey("console_users.id"))
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())       # the absolute end
    address: Mapped[str] = mapped_column(String(64))
    user_agent: Mapped[str] = mapped_column(String(200))
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    end_reason: Mapped[str | None] = mapped_column(String(16), nullable=True)   # logout | replaced | revoked

    __table_args__ = (
        Index("ix_web_sessions_user_id", "user_id"),
        Index("ix_web_sessions_expires_at", "expires_at"),
    )


class LoginThrottle(Base):
    """Failed log-in attempts per key: ``user:<name>`` and ``addr:<client address>``."""

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(String(160), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failure_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class ConsoleKey(Base):
    """The cookie-signing key when none is configured (made once, shared by every process)."""

    __tablename__ = "console_keys"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


@dataclass(frozen=True)
class Policy:
    idle: timedelta
    lifetime: timedelta
    max_failures: int
    max_failures_per_address: int
    window: timedelta
    lockout: timedelta
    lockout_max: timedelta
    secure_cookie: bool

    @classmethod
    def from_settings(cls, s) -> "Policy":
        return cls(idle=timedelta(minutes=s.console_session_idle_minutes),
                   lifetime=timedelta(hours=s.console_session_max_hours),
                   max_failures=s.console_login_max_failures,
                   max_failures_per_address=s.console_login_max_failures_per_address,
                   window=timedelta(minutes=s.console_login_window_minutes),
                   lockout=timedelta(seconds=s.console_login_lockout_s),
                   lockout_max=timedelta(seconds=s.console_login_lockout_max_s),
                   secure_cookie=s.console_url.startswith("https://"))


@dataclass(frozen=True)
class Signed:
    """A resolved session: its row id, CSRF token and the person."""

    id: str
    csrf_token: str
    who: Who
    expires_at: datetime


@dataclass(frozen=True)
class LoginResult:
    outcome: str                       # ok | failed | limited
    cookie: str | None = None          # the new session cookie's value (ok)
    retry_after: int = 0               # seconds (limited)
    who: Who | None = None


def _upsert_ignore(session: Session, model, values: dict, key: str) -> None:
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    elif dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        if session.get(model, values[key]) is None:
            session.execute(insert(model).values(**values))
        return
    session.execute(dialect_insert(model).values(**values).on_conflict_do_nothing(index_elements=[key]))


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def throttle_keys(name: str, address: str) -> tuple[str, str]:
    return "user:" + (name or "").strip().lower()[:64], "addr:" + (address or "-")[:64]


class Auth:
    def __init__(self, db: Database, settings, clock) -> None:
        self.db = db
        self.settings = settings
        self.clock = clock
        self.policy = Policy.from_settings(settings)
        self._key: bytes | None = settings.console_secret_key.encode() if settings.console_secret_key else None
        self._key_lock = threading.Lock()

    # -- the signing key ------------------------------------------------------------------------
    def key(self) -> bytes:
        if self._key is None:
            with self._key_lock:
                if self._key is None:
                    with self.db.session() as s:
                        _upsert_ignore(s, ConsoleKey, {"name": "session", "value": secrets.token_urlsafe(48),
                                                       "created_at": self.clock()}, "name")
                        self._key = s.scalar(select(ConsoleKey.value).where(ConsoleKey.name == "session")).encode()
        return self._key

    def sign(self, token: str) -> str:
        mac = hmac.new(self.key(), token.encode("ascii"), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).decode("ascii").rstrip("=")

    def cookie_value(self, token: str) -> str:
        return f"{token}.{self.sign(token)}"

    def unsign(self, value: str | None) -> str | None:
        """The random id in a cookie whose signature is good, else None."""
        if not value or len(value) > 200 or value.count(".") != 1:
            return None
        token, sig = value.split(".")
        try:
            token.encode("ascii")
            good = hmac.compare_digest(self.sign(token), sig)
        except (UnicodeEncodeError, TypeError):
            return None
        return token if good else None

    # -- logging in -------------------------------------------------------------------------------
    def _lock_for(self, failures: int, allowed: int) -> timedelta | None:
        if failures < allowed:
            return None
        over = min(failures - allowed, 20)
        return min(self.policy.lockout * (2 ** over), self.policy.lockout_max)

    def _count_attempt(self, s: Session, keys: list[tuple[str, int]], now: datetime) -> int:
        """Count the attempt as a failure for every key; 0, or seconds to wait when a key is locked."""
        for key, _allowed in keys:
            _upsert_ignore(s, LoginThrottle, {"key": key, "failures": 0}, "key")
        rows = {r.key: r for r in s.scalars(select(LoginThrottle).where(
            LoginThrottle.key.in_([k for k, _a in keys])).execution_options(populate_existing=True))}
        wait = 0
        for key, _allowed in keys:
            row = rows[key]
            if row.locked_until is not None and now < row.locked_until:
                wait = max(wait, int((row.locked_until - now).total_seconds()) + 1)
        if wait:
            return wait
        for key, allowed in keys:
            row = rows[key]
            failures = row.failures
            if row.last_failure_at is not None and now - row.last_failure_at > self.policy.window:
                failures = 0            # the earlier failures are forgotten
            failures += 1
            lock = self._lock_for(failures, allowed)
            s.execute(update(LoginThrottle).where(LoginThrottle.key == key).values(
                failures=failures, last_failure_at=now, locked_until=now + lock if lock else None))
        return 0

    def login(self, name: str, password: str, *, address: str, user_agent: str = "",
              replaces: str | None = None) -> LoginResult:
        now = self.clock()
        name = (name or "").strip()[:64]
        user_key, addr_key = throttle_keys(name, address)
        keys = [(user_key, self.policy.max_failures), (addr_key, self.policy.max_failures_per_address)]
        with self.db.session() as s:
            wait = self._count_attempt(s, keys, now)
            if wait:
                audit.record(s, actor=name or "-", role="-", action="login.limited", target=name,
                             detail={"retry_after_s": wait}, address=address, at=now)
        if wait:
            return LoginResult("limited", retry_after=wait)
        with self.db.read_session() as s:
            user = verify(s, name, password)      # Argon2: slow on purpose, outside any write lock
            user_id = user.id if user is not None else None
        with self.db.session() as s:
            if user_id is None:
                audit.record(s, actor=name or "-", role="-", action="login.failed", target=name, address=address,
                             at=now)
                return LoginResult("failed")
            user = s.get(User, user_id)
            if user is None or not user.active:
                return LoginResult("failed")
            # a good password: the account's count is cleared, the address keeps its own
            s.execute(update(LoginThrottle).where(LoginThrottle.key == user_key).values(
                failures=0, locked_until=None))
            s.execute(update(LoginThrottle).where(LoginThrottle.key == addr_key, LoginThrottle.failures > 0)
                      .values(failures=LoginThrottle.failures - 1))
            if replaces:
                s.execute(update(WebSession).where(WebSession.id == _hash(replaces), WebSession.ended_at.is_(None))
                          .values(ended_at=now, end_reason="replaced"))
            s.execute(delete(WebSession).where(WebSession.expires_at < now - timedelta(days=30)))
            token = secrets.token_urlsafe(32)
            s.add(WebSession(id=_hash(token), user_id=user.id, csrf_token=secrets.token_urlsafe(32), created_at=now,
                             last_seen_at=now, expires_at=now + self.policy.lifetime, address=(address or "-")[:64],
                             user_agent=(user_agent or "")[:200]))
            user.last_login_at = now
            who = who_of(s, user)
            audit.record(s, actor=user.name, role=user.role, action="login", target=user.name, address=address, at=now)
        return LoginResult("ok", cookie=self.cookie_value(token), who=who)

    # -- each request -----------------------------------------------------------------------------
    def resolve(self, cookie: str | None) -> Signed | None:
        token = self.unsign(cookie)
        if token is None:
            return None
        now = self.clock()
        sid = _hash(token)
        with self.db.read_session() as s:
            row = s.get(WebSession, sid)
            if row is None or row.ended_at is not None or now >= row.expires_at or now >= row.last_seen_at + self.policy.idle:
                return None
            user = s.get(User, row.user_id)
            if user is None or not user.active or user.password_changed_at > row.created_at:
                return None
            who = who_of(s, user)
            signed = Signed(sid, row.csrf_token, who, row.expires_at)
            stale = now - row.last_seen_at >= LAST_SEEN_EVERY
        if stale:
            with self.db.session() as s:
                s.execute(update(WebSession).where(WebSession.id == sid).values(last_seen_at=now))
        return signed

    def still_valid(self, sid: str) -> bool:
        """For long requests (the live agent feed): the session has not ended meanwhile."""
        now = self.clock()
        with self.db.read_session() as s:
            row = s.get(WebSession, sid)
            if row is None or row.ended_at is not None or now >= row.expires_at:
                return False
            user = s.get(User, row.user_id)
            return user is not None and user.active and user.password_changed_at <= row.created_at

    def logout(self, signed: Signed, address: str) -> None:
        now = self.clock()
        with self.db.session() as s:
            s.execute(update(WebSession).where(WebSession.id == signed.id, WebSession.ended_at.is_(None))
                      .values(ended_at=now, end_reason="logout"))
            audit.record(s, actor=signed.who.name, role=signed.who.role, action="logout", target=signed.who.name,
                         address=address, at=now)


def end_sessions(session: Session, user_id: int, now: datetime, reason: str = "revoked") -> int:
    """End every open session of a user (disabled, new password)."""
    result = session.execute(update(WebSession).where(WebSession.user_id == user_id, WebSession.ended_at.is_(None))
                             .values(ended_at=now, end_reason=reason))
    return result.rowcount


# -- the log-in and log-out pages -------------------------------------------------------------

def routes(console) -> list:
    """``/console/login`` (GET form, POST attempt) and ``/console/logout`` (POST)."""
    from urllib.parse import quote

    from starlette.concurrency import run_in_threadpool
    from starlette.responses import RedirectResponse
    from starlette.routing import Route

    from core import metrics
    from web.console import csrf, roles
    from web.console.base import safe_next, secure

    auth: Auth = console.auth
    secure_cookie = auth.policy.secure_cookie

    def login_form(request, *, token: str, status: int = 200, error: str = "", name: str = "", headers=None):
        response = console.render(request, "login.html", status=status, headers=headers, title="登录",
                                  login_token=token, error=error, name=name,
                                  next=safe_next(request.query_params.get("next"), ""))
        response.set_cookie(LOGIN_COOKIE, token, path="/console/login", httponly=True, samesite="strict",
                            secure=secure_cookie, max_age=3600)
        return response

    async def login(request):
        signed = await run_in_threadpool(auth.resolve, request.cookies.get(COOKIE))
        if request.method == "GET":
            if signed is not None:
                return secure(RedirectResponse(roles.landing(signed.who), status_code=303))
            return login_form(request, token=request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(32))
        try:
            form = await request.form(max_files=0, max_fields=10)
        except Exception:  # noqa: BLE001 - a malformed body is the sender's error
            return console.forbidden(request, None, "无法读取提交的表单。", status=400)
        expected = request.cookies.get(LOGIN_COOKIE)
        if not csrf.valid(expected, csrf.submitted(request, form)):
            return console.forbidden(request, None, "登录表单已失效（CSRF 校验未通过），请刷新页面后重试。")
        name = str(form.get("name") or "").strip()[:64]
        password = str(form.get("password") or "")
        address = console.address(request)
        result = await run_in_threadpool(auth.login, name, password, address=address,
                                         user_agent=request.headers.get("user-agent", ""),
                                         replaces=auth.unsign(request.cookies.get(COOKIE)))
        metrics.CONSOLE_LOGINS.labels(result=result.outcome).inc()
        token = secrets.token_urlsafe(32)
        if result.outcome == "limited":
            minutes = max(1, (result.retry_after + 59) // 60)
            return login_form(request, token=token, status=429, name=name, headers={"Retry-After": str(result.retry_after)},
                              error=f"登录尝试过于频繁，请约 {minutes} 分钟后再试。")
        if result.outcome != "ok":
            return login_form(request, token=token, status=401, name=name, error="用户名或密码不正确。")
        target = safe_next(str(form.get("next") or ""), roles.landing(result.who))
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(COOKIE, result.cookie, path="/", httponly=True, samesite="strict", secure=secure_cookie)
        response.delete_cookie(LOGIN_COOKIE, path="/console/login", httponly=True, samesite="strict",
                               secure=secure_cookie)
        return secure(response)

    def logout(ctx):
        auth.logout(ctx.signed, ctx.address)
        response = RedirectResponse("/console/login", status_code=303)
        response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict", secure=secure_cookie)
        return response

    async def root(request):
        return secure(RedirectResponse("/console/", status_code=303))

    async def home(request):
        signed = await run_in_threadpool(auth.resolve, request.cookies.get(COOKIE))
        if signed is None:
            return secure(RedirectResponse("/console/login?next=" + quote("/console/", safe=""), status_code=303))
        return secure(RedirectResponse(roles.landing(signed.who), status_code=303))

    return [Route("/", root, methods=["GET", "HEAD"]),
            Route("/console", root, methods=["GET", "HEAD"]),
            Route("/console/", home, methods=["GET", "HEAD"]),
            Route("/console/login", login, methods=["GET", "POST"]),
            console.page("/console/logout", logout, None, methods=["POST"])]
