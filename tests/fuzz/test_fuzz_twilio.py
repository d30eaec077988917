"""Hostile Twilio webhook fields, correctly signed: a clear 4xx or well-formed TwiML, never a 500.

Each example is a real request through the app ``hotline serve`` runs, signed with twilio's
``RequestValidator`` (so it passes the signature check and reaches the parsing and the flow).
"""
from __future__ import annotations

import secrets
import xml.etree.ElementTree as ET

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from starlette.testclient import TestClient
from twilio.request_validator import RequestValidator

from ivr.twilio.driver import BadRequest, after_from_form, event_from_form
from tests.fuzz.conftest import tried
from web.app import create_app

PUBLIC = "https://hotline.example.gov.cn"
TOKEN = "5c1e0b7a6d4c2e8b5a1f0e3d7c9b2a9f"
VERBS = {"Response", "Say", "Play", "Gather", "Redirect", "Record", "Dial", "Number", "Sip", "Enqueue", "Hangup"}
FIELDS = ("Digits", "SpeechResult", "Confidence", "RecordingUrl", "RecordingDuration", "RecordingSid",
          "RecordingStatus", "CallStatus", "QueueResult", "DialCallStatus", "From", "CallerName", "To")
PATHS = ("/twilio/voice", "/twilio/voice?lang=yue&mode=closed", "/twilio/voice/turn?n=1",
         "/twilio/voice/turn?n=1&noinput=1", "/twilio/voice/after?n=1&kind=queue",
         "/twilio/voice/after?n=1&kind=leader", "/twilio/status", "/twilio/recording")

hostile = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\x00"), max_size=80) | st.sampled_from(
    ["</Say><Dial>110</Dial><Say>", "<?xml version='1.0'?>", "]]>", "&amp;&lt;", "0" * 5000, "hangup",
     "completed", "bridged", "queue-full", "no-answer", "NaN", "inf", "-1", "1e309",
     "https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE1", "javascript:alert(1)",
     "'; DROP TABLE twilio_calls; --", "\r\nX-Injected: 1", "CA" + "0" * 32, "RE" + "f" * 32])
forms = st.dictionaries(st.sampled_from(FIELDS), hostile, max_size=6)


@pytest.fixture
def twilio_app(make_engine):
    running = make_engine(twilio_public_url=PUBLIC, twilio_auth_token=TOKEN)
    return TestClient(create_app(running.engine), raise_server_exceptions=False)


def post(client: TestClient, path: str, form: dict):
    signature = RequestValidator(TOKEN).compute_signature(PUBLIC + path, form)
    return client.post(path, data=form, headers={"X-Twilio-Signature": signature})


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=st.sampled_from(PATHS), form=forms, started=st.booleans())
def test_signed_hostile_webhooks_get_a_4xx_or_well_formed_twiml(twilio_app, path, form, started):
    tried("test_signed_hostile_webhooks_get_a_4xx_or_well_formed_twiml")
    sid = "CA" + secrets.token_hex(16)
    if started:                              # a call in progress, so turns reach the flow itself
        assert post(twilio_app, "/twilio/voice", {"CallSid": sid, "From": "+8613800138000"}).status_code == 200
    response = post(twilio_app, path, {"CallSid": sid, **form})
    assert response.status_code in (200, 204, 400, 409), (response.status_code, response.text[:300])
    assert "Traceback" not in response.text
    if response.status_code == 200:
        root = ET.fromstring(response.content)           # well-formed: nothing broke out of its element
        assert {node.tag for node in root.iter()} <= VERBS, response.text[:500]
        for dial in root.iter("Number"):                 # only configured numbers are ever dialled
            assert dial.text != "110"


@settings(max_examples=1500, deadline=None)
@given(form=forms, noinput=st.booleans(), kind=st.sampled_from(("queue", "leader", "emergency", "boss", "")))
def test_form_fields_become_an_event_or_a_clear_refusal(form, noinput, kind):
    tried("test_form_fields_become_an_event_or_a_clear_refusal")
    for parse in (lambda: event_from_form(form, noinput=noinput), lambda: after_from_form(kind, form)):
        try:
            parse()
        except BadRequest as exc:
            assert str(exc)                              # says what is wrong
