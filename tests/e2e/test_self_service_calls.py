"""Issue 5 in the call: speech → emergency check → knowledge base → answer spoken → 1 solved / 0 person."""
from __future__ import annotations

import pytest

from callers.models import CallRecord
from knowledge.service import load_demo
from tests.fake_asterisk import Listen, Press, Speak, place_call


@pytest.fixture
def kb_running(make_engine):
    running = make_engine(speech_engine="transcript")
    load_demo(running.engine.db)
    running.engine.kb.reload()
    return running


def test_a_question_the_kb_knows_is_answered_and_1_closes_it(kb_running):
    result = place_call(kb_running.port, Speak("请问社保卡丢了怎么补办"), Press("1"))
    assert result.variables["HOTLINE_ACTION"] == "hangup", result.played
    answer_audio = [p for p in result.played if "/tts/" in p]
    assert answer_audio, "the answer was not played"
    assert result.played[-1].endswith("/goodbye")
    with kb_running.session() as s:
        rec = s.query(CallRecord).one()
    assert rec.outcome == "self_served" and "社保卡" in rec.transcript


def test_answer_not_solving_goes_to_a_person_with_the_transcript(kb_running):
    result = place_call(kb_running.port, Speak("社保卡丢了怎么补办"), Press("0"))
    assert result.variables["HOTLINE_ACTION"] == "queue"
    with kb_running.session() as s:
        rec = s.query(CallRecord).one()
    assert rec.outcome == "handed_off" and "社保卡丢了怎么补办" in rec.transcript


def test_a_fire_is_handed_to_119_not_answered(kb_running):
    result = place_call(kb_running.port, Speak("我家楼下着火了，烟很大"))
    assert (result.variables["HOTLINE_ACTION"], result.variables["HOTLINE_TARGET"]) == ("emergency", "119")
    assert result.played[-1].endswith("/emergency_119")


def test_fire_inspection_is_a_consultation_not_a_fire(kb_running):
    result = place_call(kb_running.port, Speak("消防验收怎么办理"), Listen())
    assert result.variables["HOTLINE_ACTION"] != "emergency"


def test_something_the_kb_does_not_know_goes_to_a_person(kb_running):
    result = place_call(kb_running.port, Speak("我家的猫跑丢了能帮忙找吗"))
    assert result.variables["HOTLINE_ACTION"] == "queue"
    assert not any("/tts/" in p for p in result.played)
