"""CSRF protection: a per-session token in every form, checked on every unsafe method.

Signed-in pages: the token is the session's own (``web_sessions.csrf_token``), sent back as the
form field ``csrf_token`` (or the ``X-CSRF-Token`` header for the page's scripts). The log-in
form, before any session exists, uses a double-submit token: a random ``hotline_login`` cookie
(``HttpOnly; SameSite=Strict``) that the form must repeat. A request that fails the check gets
403 and changes nothing. Cookies are ``SameSite=Strict`` as well: two independent defences.
"""
from __future__ import annotations

import hmac

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
FIELD = "csrf_token"
HEADER = "x-csrf-token"


def needs_check(method: str) -> bool:
    return method.upper() in UNSAFE_METHODS


def submitted(request, form) -> str:
    """The token the request carries: the form field, else the header."""
    value = form.get(FIELD) if form is not None else None
    if not isinstance(value, str) or not value:
        value = request.headers.get(HEADER, "")
    return value


def valid(expected: str | None, given: str | None) -> bool:
    if not expected or not given or len(given) > 200:
        return False
    return hmac.compare_digest(expected.encode("utf-8"), given.encode("utf-8"))
