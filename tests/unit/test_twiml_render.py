"""Flow actions → TwiML (ivr.twilio.render), form fields → events, and the Twilio settings."""
from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import date

import pytest

from core.config import ConfigError, load_settings
from flow import prompts as P
from flow.actions import (CollectDigits, CollectSpeech, HandOff, Hangup, Play, PlayText, RecordMessage, SayDate,
                          SayDigits)
from flow.events import Digits, HungUp, NoInput, Recorded, Speech
from ivr.twilio.driver import BadRequest, after_from_form, event_from_form
from ivr.twilio.render import Turn, TwilioOptions, fallback, render

URL = "https://h.example.org"
HEAD = '<?xml version="1.0" encoding="UTF-8"?><Response>'
SAY = '<Say language="cmn-CN" voice="Google.cmn-CN-Standard-A">'
TEXTS = {"greeting": {"cmn": "您好，幺二三四五热线。", "yue": "你好，一二三四五熱線。",
                      "hak": "Ngì hó, yit ngi sâm si ńg ngia̍t sien."},
         "main_menu_speech": {"cmn": "请说出您的问题。"}, "transfer_agent": {"cmn": "正在转接人工服务。"},
         "transfer_error": {"cmn": "系统繁忙，正在转接人工服务。"}, "goodbye": {"cmn": "感谢来电，再见。"},
         "kb_solved": {"cmn": "问题已解决请按1。"}, "message_prompt": {"cmn": "请在提示音后留言。"},
         "emergency_119": {"cmn": "正在为您转接119。"}}


def options(**kw) -> TwilioOptions:
    settings = load_settings(env={}, twilio_public_url=URL, twilio_auth_token="x" * 32)
    base = TwilioOptions.from_settings(settings, TEXTS)
    return TwilioOptions(**{**base.__dict__, **kw})


class Audio:
    def prompt_url(self, prompt, language):
        return f"{URL}/audio/prompts/{language}/{prompt}.wav" if prompt != "main_menu_speech" else None

    def text_url(self, text, language, recorded):
        return None if recorded else f"{URL}/audio/tts/{language}/{'0' * 32}.wav"


TURN = Turn(language="cmn", next_turn=3, fallback_queue="hotline-cmn")


def back(kind: str = "queue", n: int = 3) -> str:
    """The action attributes that bring the call back when a hand-off ends."""
    return f' action="{URL}/twilio/voice/after?n={n}&amp;kind={kind}" method="POST"'


def test_a_speech_menu_is_a_gather_with_the_prompts_inside_and_a_no_input_redirect():
    twiml = render([Play(P.GREETING, barge_in="0"), CollectSpeech(P.MAIN_MENU_SPEECH, 15000, 2, "0129")],
                   TURN, options(), Audio())
    assert twiml == (
        HEAD + f'<Gather action="{URL}/twilio/voice/turn?n=3" input="speech dtmf" language="cmn-Hans-CN" '
        'method="POST" numDigits="1" profanityFilter="false" speechTimeout="2" timeout="4">'
        f'<Play>{URL}/audio/prompts/cmn/greeting.wav</Play>{SAY}请说出您的问题。</Say></Gather>'
        f'<Redirect method="POST">{URL}/twilio/voice/turn?n=3&amp;noinput=1</Redirect></Response>')


def test_digits_are_gathered_as_dtmf_with_the_flow_timeout():
    root = ET.fromstring(render([CollectDigits(P.KB_SOLVED, 1, 5000)], TURN, options(use_say=True)))
    gather = root.find("Gather")
    assert (gather.get("input"), gather.get("numDigits"), gather.get("timeout")) == ("dtmf", "1", "5")
    assert gather.get("finishOnKey") is None
    long = ET.fromstring(render([CollectDigits(None, 20, 8000)], TURN, options())).find("Gather")
    assert (long.get("numDigits"), long.get("finishOnKey"), list(long)) == ("20", "#", [])


def test_queue_hand_off_is_an_enqueue_or_a_dial_as_configured():
    actions = [Play(P.TRANSFER_AGENT), HandOff("queue", "hotline-cmn")]
    assert render(actions, TURN, options(use_say=True)) == (
        HEAD + f"{SAY}正在转接人工服务。</Say><Enqueue{back()}>hotline-cmn</Enqueue></Response>")
    dialled = render(actions, TURN, options(use_say=True, queue_targets={"hotline-cmn": "+8675512345678"}))
    assert dialled.endswith(f"<Dial{back()}><Number>+8675512345678</Number></Dial></Response>")
    sip = render(actions, TURN, options(use_say=True, queue_targets={"hotline-cmn": "sip:agents@pbx.example.org"}))
    assert sip.endswith(f"<Dial{back()}><Sip>sip:agents@pbx.example.org</Sip></Dial></Response>")
    renamed = render(actions, TURN, options(use_say=True, queue_targets={"hotline-cmn": "cmn-agents"}))
    assert renamed.endswith(f"<Enqueue{back()}>cmn-agents</Enqueue></Response>")
    # outside a stored call (turn 0: the engine's own fall-back) there is nothing to come back to
    assert render(actions, Turn("cmn", 0, "hotline-cmn"), options(use_say=True)).endswith(
        "<Enqueue>hotline-cmn</Enqueue></Response>")


def test_leader_and_emergency_dial_the_configured_numbers_else_go_to_the_queue():
    opts = options(use_say=True, leader_seats={"PJSIP/leader1": "+8675588880001"},
                   emergency_numbers={"119": "+86119"})
    leader = render([HandOff("leader", "PJSIP/leader1")], TURN, opts)
    assert leader == HEAD + f"<Dial{back('leader')}><Number>+8675588880001</Number></Dial></Response>"
    fire = render([Play(P.EMERGENCY["119"]), HandOff("emergency", "119")], TURN, opts)
    assert fire == (HEAD + f"{SAY}正在为您转接119。</Say><Dial{back('emergency')}><Number>+86119</Number>"
                    "</Dial></Response>")
    unknown_seat = render([HandOff("leader", "PJSIP/leader9")], TURN, opts)     # comes back as a queue call
    assert unknown_seat == HEAD + f"<Enqueue{back()}>hotline-cmn</Enqueue></Response>"
    police = render([HandOff("emergency", "110")], TURN, opts)
    assert police == HEAD + f"<Enqueue{back()}>hotline-cmn</Enqueue></Response>"


def test_ticket_number_and_date_are_said_in_the_call_language():
    twiml = render([SayDigits("2026112500017"), SayDate(date(2026, 12, 25)), Play(P.GOODBYE), Hangup()],
                   TURN, options(use_say=True))
    assert twiml == (HEAD + f"{SAY}2 0 2 6 1 1 2 5 0 0 0 1 7</Say>{SAY}2026年12月25日</Say>"
                     f"{SAY}感谢来电，再见。</Say><Hangup /></Response>")
    yue = render([SayDate(date(2026, 1, 5))], Turn("yue", 1, "hotline-yue"), options(use_say=True))
    assert '<Say language="yue-HK" voice="Google.yue-HK-Standard-A">2026年1月5日</Say>' in yue


def test_answers_are_played_from_the_synthesis_cache_or_said():
    played = render([PlayText("请带身份证。"), CollectDigits(P.KB_SOLVED, 1, 5000)], TURN, options(), Audio())
    assert f"<Play>{URL}/audio/tts/cmn/{'0' * 32}.wav</Play>" in played
    recorded = render([PlayText("请带身份证。", audio="/srv/answers/a1.wav"), Hangup()], TURN, options(), Audio())
    assert f"{SAY}请带身份证。</Say>" in recorded
    said = render([PlayText("请带身份证。"), Hangup()], TURN, options(use_say=True), Audio())
    assert said == HEAD + f"{SAY}请带身份证。</Say><Hangup /></Response>"


def test_a_message_is_recorded_with_the_recording_callback():
    twiml = render([RecordMessage(P.MESSAGE_PROMPT, 120_000, 4)], TURN, options(use_say=True))
    assert twiml == (
        HEAD + f"{SAY}请在提示音后留言。</Say>"
        f'<Record action="{URL}/twilio/voice/turn?n=3" finishOnKey="#" maxLength="120" method="POST" '
        f'playBeep="true" recordingStatusCallback="{URL}/twilio/recording" '
        'recordingStatusCallbackEvent="completed" recordingStatusCallbackMethod="POST" timeout="4" '
        'trim="trim-silence" />'
        f'<Redirect method="POST">{URL}/twilio/voice/turn?n=3&amp;noinput=1</Redirect></Response>')


def test_text_is_escaped_and_cleaned_never_markup():
    twiml = render([PlayText('</Say><Dial>110</Dial> & "x" \x00\x1b\ufffe ok'), Hangup()], TURN,
                   options(use_say=True))
    root = ET.fromstring(twiml)
    assert [n.tag for n in root] == ["Say", "Hangup"]
    assert root.find("Say").text == '</Say><Dial>110</Dial> & "x" ok'
    assert "&lt;/Say&gt;&lt;Dial&gt;110&lt;/Dial&gt; &amp;" in twiml


def test_an_empty_turn_hangs_up_and_the_fallback_goes_to_a_person():
    assert render([], TURN, options()) == HEAD + "<Hangup /></Response>"
    assert fallback(Turn("cmn", 0, "hotline-cmn"), options(use_say=True)) == (
        HEAD + f"{SAY}系统繁忙，正在转接人工服务。</Say><Enqueue>hotline-cmn</Enqueue></Response>")


def test_hakka_uses_mandarin_recognition_and_text():
    root = ET.fromstring(render([Play(P.GREETING), CollectSpeech(P.MAIN_MENU_SPEECH, 15000, 2)],
                                Turn("hak", 1, "hotline-hak"), options(use_say=True)))
    assert root.find("Gather").get("language") == "cmn-Hans-CN"
    assert root.find("Gather/Say").text == "您好，幺二三四五热线。"      # not the romanised Hakka text


def test_the_say_text_follows_the_voice_language():
    """The text said is the one in the voice's language: a Hakka-speaking voice would get the
    Hakka text, a Cantonese call with a Mandarin voice the Mandarin text."""
    hakka_voice = options(use_say=True, say_languages={"cmn": "cmn-CN", "yue": "yue-HK", "hak": "hak-CN"})
    root = ET.fromstring(render([Play(P.GREETING), Hangup()], Turn("hak", 1, "hotline-hak"), hakka_voice))
    assert root.find("Say").text == "Ngì hó, yit ngi sâm si ńg ngia̍t sien."
    mandarin_voice = options(use_say=True, say_languages={"cmn": "cmn-CN", "yue": "cmn-CN", "hak": "cmn-CN"})
    root = ET.fromstring(render([Play(P.GREETING), Hangup()], Turn("yue", 1, "hotline-yue"), mandarin_voice))
    assert root.find("Say").text == "您好，幺二三四五热线。"


def test_rendering_is_deterministic():
    actions = [Play(P.GREETING), PlayText("一"), CollectSpeech(P.MAIN_MENU_SPEECH, 15000, 2)]
    assert render(actions, TURN, options(), Audio()) == render(list(actions), TURN, options(), Audio())


# -- form fields → events --------------------------------------------------------------------------
@pytest.mark.parametrize("form,event", [
    ({"Digits": "0"}, Digits("0")),
    ({"Digits": "123456#"}, Digits("123456#")),
    ({"SpeechResult": "社保卡 丢了\n怎么\x00补办", "Confidence": "0.87"}, Speech("社保卡 丢了 怎么补办", 0.87)),
    ({"SpeechResult": "好", "Confidence": "7"}, Speech("好", 1.0)),
    ({"SpeechResult": "   "}, NoInput()),
    ({}, NoInput()),
    ({"CallStatus": "completed"}, HungUp()),
    ({"Digits": "hangup"}, HungUp()),
    ({"RecordingUrl": "https://api.twilio.com/x/RE1", "RecordingDuration": "9", "Digits": "#"},
     Recorded("https://api.twilio.com/x/RE1", 9000, "dtmf")),
    ({"RecordingUrl": "https://api.twilio.com/x/RE1", "RecordingDuration": "9", "Digits": "hangup"},
     Recorded("https://api.twilio.com/x/RE1", 9000, "hangup")),
    ({"RecordingUrl": "https://api.twilio.com/x/RE1", "RecordingDuration": "120"},
     Recorded("https://api.twilio.com/x/RE1", 120_000, "silence")),
])
def test_form_fields_become_flow_events(form, event):
    assert event_from_form(form) == event


def test_the_no_input_redirect_is_no_input():
    assert event_from_form({"CallStatus": "in-progress"}, noinput=True) == NoInput()
    assert event_from_form({"CallStatus": "completed"}, noinput=True) == HungUp()


@pytest.mark.parametrize("form", [
    {"Digits": "9" * 41}, {"Digits": "12a"}, {"Digits": "<x>"},
    {"SpeechResult": "好", "Confidence": "nan"}, {"SpeechResult": "好", "Confidence": "x"},
    {"SpeechResult": "字" * 2001},
    {"RecordingUrl": "http://api.twilio.com/x"}, {"RecordingUrl": "https://h/x y"},
    {"RecordingUrl": "https://api.twilio.com/x", "RecordingDuration": "1e9"},
    {"CallStatus": "weird"},
])
def test_malformed_fields_are_refused(form):
    with pytest.raises(BadRequest):
        event_from_form(form)


# -- settings ----------------------------------------------------------------------------------------
def test_twilio_settings_defaults_and_merge():
    s = load_settings(env={"HOTLINE_TWILIO_PUBLIC_URL": "https://hotline.example.gov.cn/",
                           "HOTLINE_TWILIO_AUTH_TOKEN": "f" * 32, "HOTLINE_TWILIO_LANGUAGES": "yue=zh-HK",
                           "HOTLINE_TWILIO_LEADER_SEATS": "PJSIP/leader1=sip:leader1@pbx.example.gov.cn"})
    assert s.twilio_public_url == "https://hotline.example.gov.cn"
    assert s.twilio_languages == {"cmn": "cmn-Hans-CN", "yue": "zh-HK", "hak": "cmn-Hans-CN"}
    assert s.twilio_leader_seats == {"PJSIP/leader1": "sip:leader1@pbx.example.gov.cn"}
    assert "f" * 32 not in repr(s)           # the token is never shown


@pytest.mark.parametrize("env,message", [
    ({"HOTLINE_TWILIO_PUBLIC_URL": "ftp://x"}, "twilio_public_url"),
    ({"HOTLINE_TWILIO_PUBLIC_URL": "https://x.org/?a=1", "HOTLINE_TWILIO_AUTH_TOKEN": "f" * 32}, "twilio_public_url"),
    ({"HOTLINE_TWILIO_PUBLIC_URL": "https://x.org"}, "twilio_auth_token"),
    ({"HOTLINE_TWILIO_AUTH_TOKEN": "f" * 32}, "twilio_public_url"),
    ({"HOTLINE_TWILIO_LANGUAGES": "fr=fr-FR"}, "twilio_languages"),
    ({"HOTLINE_TWILIO_VOICES": "cmn=<voice>"}, "twilio_voices"),
    ({"HOTLINE_TWILIO_EMERGENCY_NUMBERS": "911=+1911"}, "twilio_emergency_numbers"),
    ({"HOTLINE_TWILIO_EMERGENCY_NUMBERS": "110=police"}, "twilio_emergency_numbers"),
    ({"HOTLINE_TWILIO_QUEUE_NUMBERS": "hotline-cmn=<x>"}, "twilio_queue_numbers"),
    ({"HOTLINE_TWILIO_LEADER_SEATS": "PJSIP/l1=PJSIP/l1"}, "twilio_leader_seats"),
])
def test_bad_twilio_settings_name_what_is_wrong(env, message):
    with pytest.raises(ConfigError, match=message):
        load_settings(env=env)


def test_a_bad_token_is_refused_without_being_echoed():
    with pytest.raises(ConfigError) as err:
        load_settings(env={"HOTLINE_TWILIO_PUBLIC_URL": "https://x.org", "HOTLINE_TWILIO_AUTH_TOKEN": "secret token"})
    assert "secret" not in str(err.value)


@pytest.mark.parametrize("kind,form,answered,gone,status", [
    ("queue", {"QueueResult": "bridged"}, True, False, "CONTINUE"),
    ("queue", {"QueueResult": "queue-full"}, False, False, "FULL"),
    ("queue", {"QueueResult": "hangup", "CallStatus": "completed"}, False, True, ""),
    ("queue", {"QueueResult": "system-shutdown"}, False, False, "UNKNOWN"),
    ("queue", {"DialCallStatus": "completed"}, True, False, "CONTINUE"),
    ("queue", {"DialCallStatus": "no-answer"}, False, False, "TIMEOUT"),
    ("queue", {"DialCallStatus": "busy"}, False, False, "JOINUNAVAIL"),
    ("leader", {"DialCallStatus": "completed"}, True, False, "ANSWER"),
    ("leader", {"DialCallStatus": "busy"}, False, False, "BUSY"),
    ("leader", {"DialCallStatus": "no-answer"}, False, False, "NOANSWER"),
    ("leader", {"DialCallStatus": "canceled"}, False, False, "CANCEL"),       # cancelled by the API, not the caller
    ("leader", {"DialCallStatus": "canceled", "CallStatus": "completed"}, False, True, "CANCEL"),
    ("queue", {"QueueResult": "bridging-in-process"}, False, False, "UNKNOWN"),
    ("queue", {"QueueResult": "redirected"}, False, False, "UNKNOWN"),
    ("queue", {"QueueResult": "redirected-from-bridged"}, True, False, "CONTINUE"),
    ("emergency", {"DialCallStatus": "failed"}, False, False, "CHANUNAVAIL"),
    ("leader", {"QueueResult": "error"}, False, False, "CHANUNAVAIL"),
    ("queue", {"QueueResult": "bridged", "CallStatus": "completed"}, True, True, "CONTINUE"),
])
def test_the_end_of_a_hand_off_is_read_as_the_dialplan_reports_it(kind, form, answered, gone, status):
    ended = after_from_form(kind, form)
    assert (ended.answered, ended.caller_gone, ended.status) == (answered, gone, status)
    assert ended.moved == (form.get("QueueResult", "").startswith("redirected"))
    from callers.calls import AGENT_STATUSES
    assert status == "" or status in AGENT_STATUSES[kind]       # a word record_agent_status accepts


@pytest.mark.parametrize("kind,form,message", [
    ("boss", {"QueueResult": "bridged"}, "kind"),
    ("queue", {}, "missing"),
    ("queue", {"QueueResult": "teleported"}, "QueueResult"),
    ("leader", {"DialCallStatus": "exploded"}, "DialCallStatus"),
    ("queue", {"QueueResult": "bridged", "CallStatus": "on-fire"}, "CallStatus"),
])
def test_a_malformed_end_of_hand_off_is_refused(kind, form, message):
    with pytest.raises(BadRequest, match=message):
        after_from_form(kind, form)
