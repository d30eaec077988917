"""Twilio's voice webhooks as Starlette endpoints.

* ``POST /twilio/voice``          — a call comes in (the number's "A call comes in" URL); turn 0.
  ``?lang=yue`` picks the call language, ``?mode=closed`` offers a message (as the dialplan does).
* ``POST /twilio/voice/turn?n=K`` — the <Gather>/<Record> action (or the no-input <Redirect>)
  of turn K-1; serves turn K.
* ``POST /twilio/voice/after?n=K&kind=…`` — the <Enqueue>/<Dial> action of turn K-1's hand-off:
  a person answered and hung up (the rating follows), nobody answered (a message, or the agent
  queue), or the caller left.
* ``POST /twilio/status``         — the number's status callback: a finished call closes its record.
* ``POST /twilio/recording``      — the <Record>'s recording status callback: the recording joins the ticket.

Every request is checked first, and nothing is read or written before the check passes:
the ``X-Twilio-Signature`` against ``twilio_public_url`` + path + query (never the request's
Host header) and the form, with the account's auth token. Missing or wrong: 403. Malformed
fields: 400 with what is wrong. The engine's own faults on a call turn still put the caller
through to a person (TwiML), never a traceback.
"""
from __future__ import annotations

import logging
import re
from urllib.parse import parse_qsl

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from twilio.request_validator import RequestValidator

from flow.language import language_code
from ivr.twilio.driver import (CALL_STATUSES, RECORDING_SID, BadRequest, CallStart, OutOfTurn, TwilioDriver,
                               after_from_form, call_sid, event_from_form, printable, recording_url)

log = logging.getLogger(__name__)

MAX_BODY = 64 * 1024          # a Twilio webhook form is a few kB
MAX_FIELDS = 200
TURN_NUMBER = re.compile(r"[0-9]{1,4}")
FORM = "application/x-www-form-urlencoded"


def signed_url(public_url: str, request: Request) -> str:
    """The URL Twilio signed: the configured public URL, the path and the query as requested."""
    query = request.url.query
    return f"{public_url}{request.url.path}" + (f"?{query}" if query else "")


def signature_ok(validator: RequestValidator, url: str, params: dict[str, str], signature: str | None) -> bool:
    if not signature:
        return False
    try:
        return bool(validator.validate(url, params, signature))
    except Exception:  # noqa: BLE001 - a garbled signature is a wrong one
        return False


class _Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class TwilioWebhooks:
    def __init__(self, engine, driver: TwilioDriver | None = None) -> None:
        settings = engine.settings
        self.public_url = settings.twilio_public_url
        self.default_language = settings.default_language
        self.configured = bool(settings.twilio_public_url and settings.twilio_auth_token)
        self._validator = RequestValidator(settings.twilio_auth_token) if self.configured else None
        self.driver = driver or (TwilioDriver.from_engine(engine) if self.configured else None)

    def routes(self) -> list[Route]:
        return [Route("/twilio/voice", self.voice, methods=["POST"]),
                Route("/twilio/voice/turn", self.turn, methods=["POST"]),
                Route("/twilio/voice/after", self.after, methods=["POST"]),
                Route("/twilio/status", self.status, methods=["POST"]),
                Route("/twilio/recording", self.recording, methods=["POST"])]

    # -- the check every request passes first ------------------------------------------------
    async def _form(self, request: Request) -> dict[str, str]:
        if not self.configured:
            raise _Refused(503, "Twilio is not configured (twilio_public_url, twilio_auth_token)")
        if request.headers.get("content-type", "").split(";")[0].strip().lower() != FORM:
            raise _Refused(415, f"a Twilio webhook is {FORM}")
        length = request.headers.get("content-length", "")
        if length and (not length.isdigit() or int(length) > MAX_BODY):
            raise _Refused(413, "request body too large")
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY:
                raise _Refused(413, "request body too large")
        try:
            pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=MAX_FIELDS)
        except (UnicodeDecodeError, ValueError):
            raise _Refused(400, "the form is not UTF-8 form data") from None
        params = dict(pairs)
        if len(params) != len(pairs):
            raise _Refused(400, "a form field is repeated")
        url = signed_url(self.public_url, request)
        if not signature_ok(self._validator, url, params, request.headers.get("x-twilio-signature")):
            log.warning("twilio: refused %s with a missing or wrong signature", request.url.path)
            raise _Refused(403, "missing or invalid X-Twilio-Signature")
        return params

    async def _handle(self, request: Request, work, *, on_error):
        try:
            form = await self._form(request)
            return await work(form)
        except _Refused as refused:
            return PlainTextResponse(refused.message, status_code=refused.status)
        except BadRequest as exc:
            return PlainTextResponse(str(exc), status_code=400)
        except OutOfTurn as exc:
            return PlainTextResponse(str(exc), status_code=409)
        except Exception:  # noqa: BLE001 - logged here; the response carries no traceback
            log.exception("twilio: %s failed", request.url.path)
            return await on_error()

    # -- endpoints -----------------------------------------------------------------------------
    async def voice(self, request: Request) -> Response:
        language = language_code(request.query_params.get("lang")) or self.default_language

        async def work(form):
            call = CallStart(call_sid=call_sid(form), caller=printable(form.get("From"), 160) or None,
                             caller_name=printable(form.get("CallerName"), 80) or None,
                             dialled=printable(form.get("To"), 32), language=language,
                             mode="closed" if request.query_params.get("mode") == "closed" else "normal")
            return _twiml(await run_in_threadpool(self.driver.start, call))

        return await self._handle(request, work, on_error=lambda: self._fallback(language))

    async def turn(self, request: Request) -> Response:
        async def work(form):
            n = request.query_params.get("n", "")
            if not TURN_NUMBER.fullmatch(n):
                raise BadRequest("the turn number n is missing or malformed")
            sid = call_sid(form)
            event = event_from_form(form, noinput=request.query_params.get("noinput") == "1")
            return _twiml(await run_in_threadpool(self.driver.turn, sid, int(n), event))

        return await self._handle(request, work, on_error=lambda: self._fallback(self.default_language))

    async def after(self, request: Request) -> Response:
        async def work(form):
            n = request.query_params.get("n", "")
            if not TURN_NUMBER.fullmatch(n) or n == "0":
                raise BadRequest("the turn number n is missing or malformed")
            sid = call_sid(form)
            ended = after_from_form(request.query_params.get("kind", ""), form)
            return _twiml(await run_in_threadpool(self.driver.after, sid, int(n), ended))

        return await self._handle(request, work, on_error=lambda: self._fallback(self.default_language))

    async def status(self, request: Request) -> Response:
        async def work(form):
            sid = call_sid(form)
            status = form.get("CallStatus", "")
            if status not in CALL_STATUSES:
                raise BadRequest("CallStatus is missing or not a Twilio call status")
            await run_in_threadpool(self.driver.status, sid, status)
            return Response(status_code=204)

        return await self._handle(request, work, on_error=_internal_error)

    async def recording(self, request: Request) -> Response:
        async def work(form):
            sid = call_sid(form)
            rec_sid = form.get("RecordingSid", "")
            if not RECORDING_SID.fullmatch(rec_sid):
                raise BadRequest("RecordingSid is missing or malformed")
            if form.get("RecordingStatus", "completed") != "completed":
                return Response(status_code=204)        # absent / failed: nothing to attach
            url = recording_url(form.get("RecordingUrl"))
            seconds = form.get("RecordingDuration", "0")
            if not re.fullmatch(r"[0-9]{1,7}", seconds or "0"):
                raise BadRequest("RecordingDuration is not a whole number of seconds")
            await run_in_threadpool(self.driver.recording, sid, rec_sid, url, int(seconds or 0))
            return Response(status_code=204)

        return await self._handle(request, work, on_error=_internal_error)

    async def _fallback(self, language: str) -> Response:
        try:
            return _twiml(self.driver.fallback(language))
        except Exception:  # noqa: BLE001
            log.exception("twilio: fall-back TwiML failed")
            return await _internal_error()


def _twiml(text: str) -> Response:
    return Response(text, media_type="text/xml")


async def _internal_error() -> Response:
    return PlainTextResponse("internal error", status_code=500)


def twilio_routes(engine) -> list[Route]:
    return TwilioWebhooks(engine).routes()
