"""Issue 7: the same call flow over Twilio voice webhooks, walked whole with signed requests.

Every request is signed like Twilio signs it (``RequestValidator.compute_signature`` over the
public URL and the form); the app is the one ``hotline serve`` runs (``web.app.create_app``)
for an engine from ``build_engine`` on a migrated SQLite copy.
"""
from __future__ import annotations

import json
import os
import secrets
import threading
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from starlette.testclient import TestClient
from twilio.request_validator import RequestValidator

from callers.models import CallRecord
from core.config import load_settings
from core.db import Database
from hotline.bootstrap import build_engine
from ivr.twilio.models import TwilioCall, TwilioTurn
from knowledge.service import load_demo
from tickets.models import Ticket, TicketEvent
from web.app import create_app

PUBLIC = "https://hotline.example.gov.cn"
TOKEN = "9f3c1e0b7a6d4c2e8b5a1f0e3d7c9b2a"
CALLER = "+8613800138000"
SHANGHAI = timezone(timedelta(hours=8))
RECORDING = "https://api.twilio.com/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Recordings/"


def new_sid(prefix: str = "CA") -> str:
    return prefix + secrets.token_hex(16)


def sign(url: str, params: dict) -> str:
    return RequestValidator(TOKEN).compute_signature(url, params)


class Call:
    """One caller's call, webhook by webhook, following the TwiML's own action URLs."""

    def __init__(self, client: TestClient, sid: str | None = None, number: str = CALLER) -> None:
        self.client = client
        self.sid = sid or new_sid()
        self.number = number
        self.twiml: ET.Element | None = None
        self.raw = b""

    def post(self, path: str, fields: dict | None = None, *, signature: str | None = None, headers=None):
        params = {"CallSid": self.sid, "AccountSid": "AC" + "0" * 32, "From": self.number, "To": "+861012345",
                  "CallStatus": "in-progress", "Direction": "inbound", **(fields or {})}
        params = {k: v for k, v in params.items() if v is not None}
        sig = sign(PUBLIC + path, params) if signature is None else signature
        hdrs = {"X-Twilio-Signature": sig} if sig else {}
        return self.client.post(path, data=params, headers={**hdrs, **(headers or {})})

    def _keep(self, response):
        assert response.status_code == 200, (response.status_code, response.text)
        assert response.headers["content-type"].startswith("text/xml")
        self.raw = response.content
        self.twiml = ET.fromstring(response.content)
        return self.twiml

    def start(self, query: str = "", **fields) -> ET.Element:
        return self._keep(self.post("/twilio/voice" + query, {"CallStatus": "ringing", **fields}))

    def action(self) -> str:
        """Where the current turn's input comes back (Gather or Record action)."""
        node = self.twiml.find("Gather")
        node = node if node is not None else self.twiml.find("Record")
        assert node is not None, ET.tostring(self.twiml)
        return path_of(node.get("action"))

    def press(self, digits: str) -> ET.Element:
        return self._keep(self.post(self.action(), {"Digits": digits}))

    def say(self, text: str, confidence: str = "0.92") -> ET.Element:
        return self._keep(self.post(self.action(), {"SpeechResult": text, "Confidence": confidence}))

    def silence(self) -> ET.Element:
        return self._keep(self.post(path_of(self.twiml.find("Redirect").text)))

    def record(self, seconds: int = 12, sid: str | None = None, end: str = "#") -> tuple[ET.Element, str]:
        url = RECORDING + (sid or new_sid("RE"))
        return self._keep(self.post(self.action(), {"RecordingUrl": url, "RecordingDuration": str(seconds),
                                                     "Digits": end})), url


def path_of(url: str) -> str:
    assert url.startswith(PUBLIC + "/"), url
    return url[len(PUBLIC):]


def verbs(root: ET.Element) -> list[str]:
    return [child.tag for child in root]


def heard(root: ET.Element) -> list[str]:
    """What the caller hears, in order: prompt ids of <Play>, text of <Say> (nested in Gather too)."""
    out = []
    for node in root.iter():
        if node.tag == "Play":
            out.append(node.text.rsplit("/", 1)[-1].removesuffix(".wav"))
        elif node.tag == "Say":
            out.append(node.text)
    return out


@pytest.fixture
def twilio(make_engine):
    """An engine configured for Twilio, and its web app behind a test client."""
    def start(**overrides):
        running = make_engine(twilio_public_url=PUBLIC, twilio_auth_token=TOKEN, **overrides)
        client = TestClient(create_app(running.engine), raise_server_exceptions=False)
        return running, client
    return start


def rows(running, model):
    with running.session() as s:
        return s.query(model).all()


def call_record(running) -> CallRecord:
    [rec] = rows(running, CallRecord)
    return rec


# -- whole calls -------------------------------------------------------------------------------------
def test_silence_goes_to_the_queue(twilio):
    running, client = twilio()
    call = Call(client)
    first = call.start()
    assert verbs(first) == ["Gather", "Redirect"]
    gather = first.find("Gather")
    assert gather.get("input") == "speech dtmf" and gather.get("language") == "cmn-Hans-CN"
    assert gather.get("action") == f"{PUBLIC}/twilio/voice/turn?n=1"
    assert first.find("Redirect").text == f"{PUBLIC}/twilio/voice/turn?n=1&noinput=1"
    assert heard(first) == ["greeting", "main_menu_speech"]
    played = gather.find("Play").text
    assert played == f"{PUBLIC}/audio/prompts/cmn/greeting.wav"
    audio = client.get(path_of(played))
    assert audio.status_code == 200 and audio.content[:4] == b"RIFF"

    last = call.silence()
    assert verbs(last) == ["Play", "Enqueue"] and last.find("Enqueue").text == "hotline-cmn"
    assert heard(last) == ["transfer_agent"]
    rec = call_record(running)
    assert (rec.channel, rec.channel_ref, rec.outcome, rec.action, rec.target) == (
        "twilio", call.sid, "handed_off", "queue", "hotline-cmn")
    assert rec.route == "start,main_menu,queue" and rec.caller_key == "13800138000"
    [row] = rows(running, TwilioCall)
    assert row.done and row.turn == 1 and row.call_id == rec.id and row.busy_token is None


def test_0_goes_to_the_queue_dialled_when_the_queue_is_a_number(twilio):
    running, client = twilio(twilio_queue_numbers={"hotline-cmn": "+8675512345678"})
    call = Call(client)
    call.start()
    last = call.press("0")
    assert verbs(last) == ["Play", "Dial"] and last.find("Dial/Number").text == "+8675512345678"
    assert call_record(running).outcome == "handed_off"


def test_cantonese_call_is_gathered_and_queued_in_cantonese(twilio):
    running, client = twilio(twilio_use_say=True)
    call = Call(client)
    first = call.start("?lang=yue")
    assert first.find("Gather").get("language") == "yue-Hant-HK"
    say = first.find("Gather/Say")
    assert say.get("language") == "yue-HK" and say.get("voice") == "Google.yue-HK-Standard-A"
    assert say.text == "你好，一二三四五熱線。"
    last = call.press("0")
    assert last.find("Enqueue").text == "hotline-yue" and call_record(running).language == "yue"


def test_a_blocked_caller_hears_the_notice_and_the_date_and_is_hung_up(twilio, monkeypatch):
    from hotline.cli import main as hotline

    running, client = twilio()
    decided = datetime.now(SHANGHAI) - timedelta(days=1)
    monkeypatch.setenv("HOTLINE_DATABASE_URL", running.engine.settings.db_url)
    assert hotline(["blocklist", "add", "138 0013 8000", "--ground", "harassing", "--evidence",
                    "辱骂话务员三次", "--by", "admin1", "--at", decided.isoformat()]) == 0
    call = Call(client)
    root = call.start()
    assert verbs(root) == ["Play", "Say", "Play", "Hangup"]
    last_day = decided.date() + timedelta(days=30)
    assert heard(root) == ["restricted_notice", f"{last_day.year}年{last_day.month}月{last_day.day}日",
                           "restricted_emergency"]
    assert root.find("Say").get("language") == "cmn-CN"
    rec = call_record(running)
    assert (rec.outcome, rec.action) == ("restricted", "hangup")


@pytest.mark.parametrize("use_say", [False, True])
def test_speech_answered_by_the_knowledge_base_and_1_closes_it(twilio, use_say):
    running, client = twilio(twilio_use_say=use_say)
    load_demo(running.engine.db)
    running.engine.kb.reload()
    call = Call(client)
    call.start()
    answer = call.say("社保卡丢了怎么补办")
    gather = answer.find("Gather")
    assert gather is not None and gather.get("input") == "dtmf" and gather.get("numDigits") == "1"
    if use_say:
        spoken = "".join(s.text for s in gather.findall("Say"))
        assert "挂失" in spoken and "补" in spoken
    else:
        tts = [p.text for p in gather.findall("Play") if "/audio/tts/" in p.text]
        assert tts, ET.tostring(answer, encoding="unicode")
        audio = client.get(path_of(tts[0]))
        assert audio.status_code == 200 and audio.content[:4] == b"RIFF"
        assert heard(answer)[-1] == "kb_solved"
    last = call.press("1")
    assert verbs(last) == (["Say", "Hangup"] if use_say else ["Play", "Hangup"])
    rec = call_record(running)
    assert rec.outcome == "self_served" and "社保卡丢了怎么补办" in rec.transcript
    [ticket] = rows(running, Ticket)
    assert ticket.kind == "consult" and ticket.state == "closed" and ticket.call_id == rec.id


def test_a_message_becomes_one_ticket_and_the_recording_callback_attaches_it(twilio):
    running, client = twilio()
    call = Call(client, number="13900001111")
    call.start()
    prompt = call.press("2")
    assert verbs(prompt) == ["Play", "Record", "Redirect"]
    record = prompt.find("Record")
    assert (record.get("finishOnKey"), record.get("playBeep"), record.get("maxLength")) == ("#", "true", "120")
    assert record.get("recordingStatusCallback") == f"{PUBLIC}/twilio/recording"
    rec_sid = new_sid("RE")
    done, url = call.record(seconds=12, sid=rec_sid)
    [ticket] = rows(running, Ticket)
    spoken = [s.text for s in done.findall("Say")]
    assert " ".join(ticket.number) in spoken, spoken
    assert verbs(done)[-1] == "Hangup" and ticket.recording_path == url and ticket.source == "message"
    first_bytes = call.raw

    replay = call.post("/twilio/voice/turn?n=2", {"RecordingUrl": url, "RecordingDuration": "12", "Digits": "#"})
    assert replay.status_code == 200 and replay.content == first_bytes
    assert len(rows(running, Ticket)) == 1

    callback = {"RecordingSid": rec_sid, "RecordingUrl": url, "RecordingStatus": "completed",
                "RecordingDuration": "12", "RecordingChannels": "1", "RecordingSource": "RecordVerb"}
    for _ in range(2):                          # Twilio may deliver it twice
        assert call.post("/twilio/recording", callback).status_code == 204
    events = [e for e in rows(running, TicketEvent) if e.action == "recording"]
    assert len(events) == 1 and rec_sid in events[0].detail and '"seconds": 12' in events[0].detail
    [row] = rows(running, TwilioCall)
    assert (row.recording_sid, row.recording_url, row.recording_s) == (rec_sid, url, 12)

    assert call.post("/twilio/status", {"CallStatus": "completed", "CallDuration": "40"}).status_code == 204
    rec = call_record(running)
    assert rec.outcome == "message" and rec.ticket_number == ticket.number


def test_a_caller_who_hangs_up_while_recording_still_leaves_the_message(twilio):
    running, client = twilio()
    call = Call(client)
    call.start()
    call.press("2")
    call.record(seconds=7, end="hangup")
    [ticket] = rows(running, Ticket)
    rec = call_record(running)
    assert rec.outcome == "message" and rec.hangup_point == "message" and ticket.recording_path


def test_an_empty_recording_goes_to_a_person(twilio):
    running, client = twilio()
    call = Call(client)
    call.start()
    call.press("2")
    last = call.silence()                  # Twilio skips the action when nothing was recorded
    assert verbs(last) == ["Play", "Enqueue"] and rows(running, Ticket) == []


def test_hang_up_in_the_menu_is_closed_by_the_status_callback_once(twilio):
    running, client = twilio()
    call = Call(client)
    call.start()
    for _ in range(2):
        assert call.post("/twilio/status", {"CallStatus": "completed"}).status_code == 204
    rec = call_record(running)
    assert (rec.outcome, rec.hangup_point) == ("abandoned", "main_menu") and rec.ended_at is not None
    [row] = rows(running, TwilioCall)
    assert row.done and row.status == "completed"
    late = call.post("/twilio/voice/turn?n=1", {"Digits": "0"})
    assert late.status_code == 200 and verbs(ET.fromstring(late.content)) == ["Hangup"]


def test_status_of_an_unknown_call_changes_nothing(twilio):
    running, client = twilio()
    assert Call(client).post("/twilio/status", {"CallStatus": "no-answer"}).status_code == 204
    assert rows(running, TwilioCall) == [] and rows(running, CallRecord) == []


# -- idempotence ---------------------------------------------------------------------------------------
def test_a_replayed_request_gets_the_same_twiml_and_makes_nothing_twice(twilio):
    running, client = twilio()
    call = Call(client)
    call.start()
    first = call.raw
    again = call.post("/twilio/voice", {"CallStatus": "ringing"})
    assert again.content == first
    call.press("0")
    handed = call.raw
    again = call.post("/twilio/voice/turn?n=1", {"Digits": "0"})
    assert again.content == handed
    again = call.post("/twilio/voice/turn?n=1&noinput=1")       # whatever a retry carries
    assert again.content == handed
    assert len(rows(running, CallRecord)) == 1 and len(rows(running, TwilioTurn)) == 2


def test_duplicate_deliveries_at_the_same_time_run_the_flow_once(twilio):
    running, client = twilio()
    call = Call(client)
    call.start()
    call.press("2")
    url = RECORDING + new_sid("RE")
    results = []

    def deliver():
        results.append(call.post(call.action(), {"RecordingUrl": url, "RecordingDuration": "9", "Digits": "#"}))

    threads = [threading.Thread(target=deliver) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert {r.status_code for r in results} == {200}
    assert len({r.content for r in results}) == 1
    assert len(rows(running, Ticket)) == 1 and len(rows(running, CallRecord)) == 1


def test_a_turn_served_by_a_second_app_on_the_same_database(twilio):
    running, client_a = twilio()
    settings = load_settings(env={}, data_dir=running.engine.settings.data_dir, twilio_public_url=PUBLIC,
                             twilio_auth_token=TOKEN)
    engine_b = build_engine(settings, db=Database(settings.db_url))
    try:
        client_b = TestClient(create_app(engine_b), raise_server_exceptions=False)
        call = Call(client_a, number="13900002222")
        call.start()
        call.client = client_b
        assert verbs(call.press("2")) == ["Play", "Record", "Redirect"]
        call.client = client_a
        done, url = call.record(seconds=15)
        call.client = client_b
        replay = call.post("/twilio/voice/turn?n=2", {"RecordingUrl": url, "RecordingDuration": "15", "Digits": "#"})
        assert replay.content == call.raw
        assert call.post("/twilio/status", {"CallStatus": "completed"}).status_code == 204
    finally:
        engine_b.close()
    [ticket] = rows(running, Ticket)
    rec = call_record(running)
    assert rec.outcome == "message" and rec.ticket_number == ticket.number and ticket.recording_path == url
    assert " ".join(ticket.number) in [s.text for s in done.findall("Say")]


# -- the check before anything -------------------------------------------------------------------------
def test_a_bad_or_missing_signature_is_refused_and_changes_nothing(twilio):
    running, client = twilio()
    call = Call(client)
    params = {"CallSid": call.sid, "From": CALLER, "CallStatus": "ringing"}
    forged_host = sign("https://attacker.example.com/twilio/voice", params)
    other_token = RequestValidator("0" * 32).compute_signature(PUBLIC + "/twilio/voice", params)
    for headers in ({}, {"X-Twilio-Signature": ""}, {"X-Twilio-Signature": "not-base64!!"},
                    {"X-Twilio-Signature": forged_host}, {"X-Twilio-Signature": other_token}):
        response = client.post("/twilio/voice", data=params, headers=headers)
        assert response.status_code == 403, headers
        assert "Traceback" not in response.text
    signed = sign(PUBLIC + "/twilio/voice", params)
    tampered = client.post("/twilio/voice", data={**params, "From": "+8613900009999"},
                           headers={"X-Twilio-Signature": signed})
    assert tampered.status_code == 403
    for path in ("/twilio/voice/turn?n=1", "/twilio/status", "/twilio/recording"):
        assert call.post(path, {"Digits": "0"}, signature="").status_code == 403
    running.engine.db.sync()
    assert rows(running, TwilioCall) == [] and rows(running, CallRecord) == []


def test_a_signed_request_to_a_turn_after_a_refused_one_still_works(twilio):
    running, client = twilio()
    call = Call(client)
    call.start()
    assert call.post("/twilio/voice/turn?n=1", {"Digits": "2"}, signature="Zm9v").status_code == 403
    [row] = rows(running, TwilioCall)
    assert row.turn == 0 and not row.done
    assert verbs(call.press("0")) == ["Play", "Enqueue"]


def test_without_twilio_settings_the_routes_answer_503(make_engine):
    running = make_engine()
    client = TestClient(create_app(running.engine), raise_server_exceptions=False)
    response = Call(client).post("/twilio/voice")
    assert response.status_code == 503 and "twilio_public_url" in response.text


# -- after the hand-off: the rating, a message, or the queue, as the dialplan does ---------------------
def after(call: Call, **fields) -> ET.Element:
    """Twilio's request to the <Enqueue>/<Dial> action once the hand-off has ended."""
    node = call.twiml.find("Enqueue")
    node = node if node is not None else call.twiml.find("Dial")
    assert node is not None and node.get("action"), ET.tostring(call.twiml)
    return call._keep(call.post(path_of(node.get("action")), fields))


def test_after_the_agent_hangs_up_the_caller_rates_the_call(twilio):
    running, client = twilio()
    call = Call(client)
    call.start()
    queued = call.press("0")
    assert queued.find("Enqueue").get("action") == f"{PUBLIC}/twilio/voice/after?n=2&kind=queue"
    survey = after(call, QueueResult="bridged", QueueTime="35", QueueSid="QU" + "1" * 32)
    assert verbs(survey) == ["Gather", "Redirect"] and heard(survey) == ["survey"]
    gather = survey.find("Gather")
    assert (gather.get("input"), gather.get("numDigits"), gather.get("action")) == (
        "dtmf", "1", f"{PUBLIC}/twilio/voice/turn?n=3")
    first = call.raw
    replay = call.post("/twilio/voice/after?n=2&kind=queue", {"QueueResult": "bridged", "QueueTime": "35",
                                                              "QueueSid": "QU" + "1" * 32})
    assert replay.status_code == 200 and replay.content == first      # a retry runs nothing twice
    thanks = call.press("2")
    assert heard(thanks) == ["survey_thanks"] and verbs(thanks)[-1] == "Hangup"
    rec = call_record(running)               # the survey leg writes no second call record
    assert (rec.outcome, rec.agent_status, rec.agent_answered, rec.rating) == ("handed_off", "CONTINUE", True, 2)
    assert call.post("/twilio/status", {"CallStatus": "completed"}).status_code == 204
    [row] = rows(running, TwilioCall)
    assert row.done and row.turn == 3 and row.call_id == rec.id


def test_a_caller_who_says_nothing_to_the_survey_leaves_the_call_unrated(twilio):
    running, client = twilio()
    call = Call(client)
    call.start()
    call.press("0")
    after(call, QueueResult="bridged")
    call.silence()
    last = call.silence()
    assert verbs(last)[-1] == "Hangup" and heard(last) == ["goodbye"]
    rec = call_record(running)
    assert rec.rating is None and rec.agent_answered


def test_when_the_queue_does_not_answer_the_caller_leaves_a_message(twilio):
    running, client = twilio()
    call = Call(client, number="13900002222")
    call.start()
    call.press("0")
    offer = after(call, QueueResult="queue-full")
    assert "Record" in verbs(offer), ET.tostring(offer)
    rec_sid = new_sid("RE")
    done, url = call.record(seconds=9, sid=rec_sid)
    [ticket] = rows(running, Ticket)
    assert " ".join(ticket.number) in [s.text for s in done.findall("Say")]
    records = {r.outcome: r for r in rows(running, CallRecord)}
    assert set(records) == {"handed_off", "message"}
    first, message = records["handed_off"], records["message"]
    assert (first.agent_status, first.agent_answered) == ("FULL", False)
    assert message.ticket_number == ticket.number and message.channel_ref == call.sid
    assert ticket.call_id == message.id
    # the recording callback finds the message leg's ticket
    callback = {"RecordingSid": rec_sid, "RecordingUrl": url, "RecordingStatus": "completed",
                "RecordingDuration": "9"}
    assert call.post("/twilio/recording", callback).status_code == 204
    assert [e for e in rows(running, TicketEvent) if e.action == "recording"]


def test_a_caller_who_hangs_up_in_the_queue_hears_nothing_more(twilio):
    running, client = twilio()
    call = Call(client)
    call.start()
    call.press("0")
    last = after(call, QueueResult="hangup", CallStatus="completed")
    assert verbs(last) == ["Hangup"]
    rec = call_record(running)
    assert (rec.agent_status, rec.agent_answered) == ("ABANDONED", False)


def test_a_queue_dialled_as_a_number_is_rated_or_left_a_message_the_same_way(twilio):
    running, client = twilio(twilio_queue_numbers={"hotline-cmn": "+8675512345678"})
    answered = Call(client)
    answered.start()
    dialled = answered.press("0")
    assert dialled.find("Dial").get("action") == f"{PUBLIC}/twilio/voice/after?n=2&kind=queue"
    assert heard(after(answered, DialCallStatus="completed", DialCallDuration="120")) == ["survey"]
    unanswered = Call(client, number="13900003333")
    unanswered.start()
    unanswered.press("0")
    assert "Record" in verbs(after(unanswered, DialCallStatus="no-answer"))
    statuses = sorted((r.agent_status or "") for r in rows(running, CallRecord) if r.outcome == "handed_off")
    assert statuses == ["CONTINUE", "TIMEOUT"]


def test_a_seat_that_does_not_answer_sends_the_caller_to_the_queue_then_the_rating(twilio):
    running, client = twilio()
    call = Call(client)
    call.start()
    call.press("0")
    # the hand-off of turn 1 reported as a leader seat's (the kind is in the signed action URL)
    busy = call._keep(call.post("/twilio/voice/after?n=2&kind=leader", {"DialCallStatus": "busy"}))
    assert verbs(busy) == ["Play", "Enqueue"] and heard(busy) == ["transfer_agent"]
    assert busy.find("Enqueue").get("action") == f"{PUBLIC}/twilio/voice/after?n=3&kind=queue"
    assert call_record(running).agent_status == "BUSY"
    assert heard(after(call, QueueResult="bridged")) == ["survey"]
    assert call_record(running).agent_status == "CONTINUE"


def test_after_an_emergency_line_answered_the_call_ends(twilio):
    running, client = twilio()
    call = Call(client)
    call.start()
    call.press("0")
    last = call._keep(call.post("/twilio/voice/after?n=2&kind=emergency", {"DialCallStatus": "completed"}))
    assert verbs(last) == ["Hangup"] and call_record(running).agent_status == "ANSWER"


def test_a_call_moved_elsewhere_by_the_api_gets_nothing_more_from_the_engine(twilio):
    running, client = twilio()
    call = Call(client)
    call.start()
    call.press("0")
    moved = after(call, QueueResult="redirected")
    assert verbs(moved) == [] and call.raw.endswith(b"<Response />")
    [rec] = rows(running, CallRecord)              # no message leg was started
    assert (rec.agent_status, rec.agent_answered) == ("UNKNOWN", False)
    [row] = rows(running, TwilioCall)
    assert row.done and row.call_id == rec.id


def test_when_the_status_callback_comes_first_no_leg_is_started(twilio):
    running, client = twilio()
    call = Call(client)
    call.start()
    call.press("0")
    assert call.post("/twilio/status", {"CallStatus": "completed"}).status_code == 204
    # the queue's own report arrives after, still saying in-progress: the caller has gone all the same
    last = after(call, QueueResult="queue-full")
    assert verbs(last) == ["Hangup"]
    [rec] = rows(running, CallRecord)
    assert rec.agent_status == "FULL" and rec.ended_at is not None
    assert rows(running, Ticket) == []


def test_a_hang_up_during_the_message_leg_closes_that_leg(twilio):
    running, client = twilio()
    call = Call(client)
    call.start()
    call.press("0")
    after(call, QueueResult="queue-full")                 # the message offer is playing
    assert call.post("/twilio/status", {"CallStatus": "completed"}).status_code == 204
    records = rows(running, CallRecord)
    assert len(records) == 2 and all(r.ended_at is not None for r in records)
    [row] = rows(running, TwilioCall)
    assert row.done


def test_a_duplicate_that_arrives_after_the_first_is_stored_gets_the_same_twiml(twilio, monkeypatch):
    from ivr.twilio import driver as drv

    running, client = twilio()
    call = Call(client)
    call.start()
    first = call.post("/twilio/voice/turn?n=1", {"Digits": "0"})
    real_served = drv.TwilioDriver._served
    calls = {"n": 0}

    def late_first_look(self, sid, n):      # the duplicate looked before the first one was stored
        calls["n"] += 1
        return None if calls["n"] == 1 else real_served(self, sid, n)

    monkeypatch.setattr(drv.TwilioDriver, "_served", late_first_look)
    again = call.post("/twilio/voice/turn?n=1", {"Digits": "0"})
    assert again.status_code == 200 and again.content == first.content


# -- malformed fields ----------------------------------------------------------------------------------
@pytest.mark.parametrize("path,fields,status", [
    ("/twilio/voice", {"CallSid": "CA123"}, 400),
    ("/twilio/voice", {"CallSid": "CA" + "G" * 32}, 400),
    ("/twilio/voice", {"CallSid": None}, 400),
    ("/twilio/voice/turn?n=1", {"Digits": "1" * 5000}, 400),
    ("/twilio/voice/turn?n=1", {"Digits": "1<2"}, 400),
    ("/twilio/voice/turn?n=1", {"SpeechResult": "好", "Confidence": "very"}, 400),
    ("/twilio/voice/turn?n=1", {"SpeechResult": "长" * 3000}, 400),
    ("/twilio/voice/turn?n=1", {"RecordingUrl": "file:///etc/passwd", "RecordingDuration": "3"}, 400),
    ("/twilio/voice/turn?n=1", {"RecordingUrl": RECORDING + "RE1", "RecordingDuration": "long"}, 400),
    ("/twilio/voice/turn", {"Digits": "0"}, 400),
    ("/twilio/voice/turn?n=one", {"Digits": "0"}, 400),
    ("/twilio/voice/turn?n=7", {"Digits": "0"}, 409),
    ("/twilio/voice/turn?n=0", {"Digits": "0"}, 200),        # turn 0 was served: its TwiML again
    ("/twilio/status", {"CallStatus": "exploded"}, 400),
    ("/twilio/recording", {"RecordingSid": "RE1", "RecordingUrl": RECORDING + "RE1"}, 400),
    ("/twilio/voice/after?n=1&kind=queue", {"QueueResult": "teleported"}, 400),
    ("/twilio/voice/after?n=1&kind=queue", {"DialCallStatus": "melted"}, 400),
    ("/twilio/voice/after?n=1&kind=queue", {}, 400),
    ("/twilio/voice/after?n=1&kind=boss", {"QueueResult": "bridged"}, 400),
    ("/twilio/voice/after?n=0&kind=queue", {"QueueResult": "bridged"}, 400),
    ("/twilio/voice/after?kind=queue", {"QueueResult": "bridged"}, 400),
    ("/twilio/voice/after?n=5&kind=queue", {"QueueResult": "bridged"}, 409),
])
def test_malformed_fields_get_a_clear_4xx_and_change_nothing(twilio, path, fields, status):
    running, client = twilio()
    call = Call(client)
    call.start()
    before = call.raw
    response = call.post(path, fields)
    assert response.status_code == status, response.text
    assert "Traceback" not in response.text
    if status == 200:
        assert response.content == before
    [row] = rows(running, TwilioCall)
    assert row.turn == 0 and not row.done and row.busy_token is None
    assert len(rows(running, TwilioTurn)) == 1


def test_a_form_that_is_not_a_form_is_refused(twilio):
    running, client = twilio()
    sid = new_sid()
    body = '{"CallSid": "%s"}' % sid
    response = client.post("/twilio/voice", content=body, headers={
        "Content-Type": "application/json", "X-Twilio-Signature": sign(PUBLIC + "/twilio/voice", {})})
    assert response.status_code == 415
    huge = client.post("/twilio/voice", content=b"a=" + b"x" * 200_000,
                       headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert huge.status_code == 413
    assert rows(running, TwilioCall) == []


@pytest.mark.parametrize("text", [
    "</Say><Dial>110</Dial><Say>",
    "我要投诉 & <Hangup/> ]]> <!-- x -->",
    "控制\x00字符\x1b[31m\x07\ufffe\r\n在这里",
])
def test_caller_text_cannot_inject_twiml(twilio, text):
    running, client = twilio(twilio_use_say=True)
    call = Call(client)
    call.start()
    root = call.say(text)
    assert verbs(root) in (["Say", "Enqueue"], ["Gather", "Redirect"]), ET.tostring(root)
    assert all(node.tag in ("Response", "Say", "Play", "Gather", "Redirect", "Enqueue") for node in root.iter())
    assert call_record(running).outcome == "handed_off"
    transcript = call_record(running).transcript
    assert "\x00" not in transcript and "\x1b" not in transcript


def test_an_injected_answer_is_escaped_when_said(twilio):
    """A knowledge answer (admin-written) with markup is said as text, never parsed as TwiML."""
    from knowledge import interchange

    running, client = twilio(twilio_use_say=True)
    line = json.dumps({"id": "x-1", "question": "垃圾分类投放时间是什么时候",
                       "answer": "早上7点到9点</Say><Dial>+15550100</Dial><Say>晚上6点到8点 & 周末"},
                      ensure_ascii=False)
    interchange.import_records(running.engine.db, interchange.parse_lines([line]), datetime.now(timezone.utc))
    running.engine.kb.reload()
    call = Call(client)
    call.start()
    root = call.say("垃圾分类投放时间是什么时候")
    assert root.find(".//Dial") is None
    said = "".join(s.text for s in root.iter("Say"))
    assert "早上7点到9点</Say><Dial>+15550100</Dial><Say>晚上6点到8点 & 周末" in said
    assert b"&lt;/Say&gt;&lt;Dial&gt;" in call.raw


# -- the rest of the web listener ----------------------------------------------------------------------
def test_healthz_reports_the_database(twilio, monkeypatch):
    running, client = twilio()
    assert client.get("/healthz").json() == {"status": "ok", "database": "ok"}
    monkeypatch.setattr(running.engine.db, "ping", lambda: False)
    response = client.get("/healthz")
    assert response.status_code == 503 and response.json()["status"] == "degraded"


def test_audio_is_served_only_from_its_own_folders(twilio, tmp_path):
    running, client = twilio()
    assert client.get("/audio/prompts/cmn/greeting.wav").status_code == 200
    assert client.head("/audio/prompts/yue/goodbye.wav").status_code == 200
    tts = Path(running.engine.settings.data_dir) / "tts" / "cmn"
    tts.mkdir(parents=True, exist_ok=True)
    secret = tmp_path / "secret.wav"
    secret.write_bytes(b"RIFF-secret")
    os.symlink(secret, tts / ("ab" * 16 + ".wav"))
    for path in ("/audio/prompts/cmn/../../prompts.toml", "/audio/prompts/cmn/%2e%2e%2fprompts.toml",
                 "/audio/prompts/cmn/..%2F..%2F..%2Fpyproject.toml", "/audio/prompts/xx/greeting.wav",
                 "/audio/prompts/cmn/greeting.WAV", "/audio/prompts/cmn/nope.wav", "/audio/prompts/cmn/greeting",
                 "/audio/tts/cmn/" + "ab" * 16 + ".wav", "/audio/tts/cmn/../../hotline.db",
                 "/audio/tts/cmn/" + "g" * 32 + ".wav", "/audio/prompts/cmn/%00.wav"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert b"secret" not in response.content


def test_a_message_call_with_duplicate_deliveries_on_both_databases(database, tmp_path):
    """The claim and the one-transaction save hold on PostgreSQL as on SQLite."""
    settings = load_settings(env={}, data_dir=tmp_path / "var", database_url=database.url,
                             twilio_public_url=PUBLIC, twilio_auth_token=TOKEN)
    engine = build_engine(settings, db=database)
    try:
        client = TestClient(create_app(engine), raise_server_exceptions=False)
        call = Call(client, number="13900003333")
        starts = []
        threads = [threading.Thread(target=lambda: starts.append(call.post("/twilio/voice"))) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert {r.status_code for r in starts} == {200} and len({r.content for r in starts}) == 1
        call._keep(starts[0])
        call.press("2")
        url = RECORDING + new_sid("RE")
        results = []

        def deliver():
            results.append(call.post(call.action(), {"RecordingUrl": url, "RecordingDuration": "9", "Digits": "#"}))

        threads = [threading.Thread(target=deliver) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert {r.status_code for r in results} == {200} and len({r.content for r in results}) == 1
        assert call.post("/twilio/status", {"CallStatus": "completed"}).status_code == 204
        engine.db.sync()
        with database.session() as s:
            assert s.query(Ticket).count() == 1 and s.query(CallRecord).one().outcome == "message"
            assert s.query(TwilioTurn).count() == 3 and s.query(TwilioCall).one().done
    finally:
        engine.tickets.close()
