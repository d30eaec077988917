"""The call flow as a pure state machine: events in, actions out, state serialisable."""
from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from flow import prompts as P
from flow.actions import (CollectDigits, CollectSpeech, HandOff, Hangup, Play, PlayText, RecordMessage,
                          SayDate, SayDigits)
from flow.citizen import CitizenFlow, FlowTiming
from flow.events import CallStarted, Digits, HungUp, NoInput, Recorded, Speech
from flow.ports import Answer, LeaderOnDuty, MessageReceipt, Progress, Restriction, RouteDecision
from flow.state import CallerInfo, CallState
from flow.survey import SurveyFlow

NOW = datetime(2026, 11, 25, 2, 0, tzinfo=timezone.utc)
CALLER = CallerInfo(key="13800138000", kind="mobile", masked="138****8000", blockable=True)
WITHHELD = CallerInfo(key="", kind="withheld", masked="withheld", blockable=False)


class FakeServices:
    """Same interface as flow.services.EngineServices, with scripted answers."""

    def __init__(self, speech=False, restriction=None, leader=None, answer=None, emergency=None,
                 receipt=MessageReceipt(ticket=None)):
        self.speech_available = speech
        self._restriction, self._leader, self._answer = restriction, leader, answer
        self._emergency, self._receipt = emergency, receipt
        self.calls: list[tuple] = []
        self.progress: dict[str, Progress] = {}
        self.decision: RouteDecision | None = None
        self.language = (None, "default")
        self.priority = False
        self.callback_ok = True

    def restriction(self, caller, call_id, now):
        self.calls.append(("restriction", caller.key))
        return self._restriction

    def leader_on_duty(self, now):
        return self._leader

    def emergency(self, text):
        return self._emergency

    def answer(self, text, language):
        self.calls.append(("answer", text))
        return self._answer

    def queue_for(self, state, now):
        return {"cmn": "hotline-cmn", "yue": "hotline-yue", "hak": "hotline-hak"}[state.language]

    def route(self, state, now):
        if self.decision is not None:
            return self.decision
        return RouteDecision(queue=self.queue_for(state, now), priority=9 if self.priority else 0)

    def language_for(self, caller, call_id):
        return self.language

    def is_priority(self, caller):
        return self.priority

    def request_callback(self, state, queue, now):
        self.calls.append(("callback", state.caller.key, queue))
        return self.callback_ok

    def leader_call(self, state, now):
        self.calls.append(("leader_call", state.data["leader_seat"]))
        return "20261125000019"

    def take_message(self, state, path, duration_ms, now):
        self.calls.append(("message", path, duration_ms))
        return self._receipt

    def ticket_progress(self, number, caller, now):
        self.calls.append(("progress", number, caller.key))
        return self.progress.get(number, Progress(found=False))

    def self_served(self, state, answer, now):
        self.calls.append(("self_served", answer["id"]))
        return "2026112500001"

    def rate(self, subject, call_id, rating, now):
        self.calls.append(("rate", subject, rating))
        return subject == "known"


def start(services, caller=CALLER, mode="normal", language="cmn", language_given=True):
    flow = CitizenFlow(services, lambda: NOW, FlowTiming())
    event = CallStarted(call_id="c1", channel="fastagi", channel_ref="1.1", caller_number="13800138000",
                        caller_name="x", language=language, mode=mode, language_given=language_given)
    state, actions = flow.start(event, caller)
    return flow, state, actions


def test_greeting_then_keypad_menu_without_speech():
    _, state, actions = start(FakeServices())
    assert actions == [Play(P.GREETING, barge_in="0"), CollectDigits(P.MAIN_MENU_KEYPAD, 1, 4000)]
    assert state.step == "main_menu" and not state.done


@pytest.mark.parametrize("event", [NoInput(), Digits("0"), Digits("5"), Speech("", 0.0)])
def test_silence_zero_or_anything_reaches_the_queue_for_the_language(event):
    flow, state, _ = start(FakeServices(), language="yue")
    state, actions = flow.handle(state, event)
    assert actions[-1] == HandOff("queue", "hotline-yue")
    assert state.done and state.outcome == "handed_off" and state.action == "queue"


def test_speech_menu_when_recognition_is_available():
    _, _, actions = start(FakeServices(speech=True))
    assert isinstance(actions[-1], CollectSpeech) and "0" in actions[-1].barge_in


def test_restricted_caller_hears_notice_with_the_last_day_and_is_hung_up():
    block = Restriction(last_day=date(2026, 12, 25),
                        until=datetime(2026, 12, 25, 16, 0, tzinfo=timezone.utc), ground="harassing")
    _, state, actions = start(FakeServices(restriction=block))
    assert actions == [Play(P.RESTRICTED_NOTICE), SayDate(date(2026, 12, 25)), Play(P.RESTRICTED_EMERGENCY),
                       Hangup()]
    assert state.outcome == "restricted" and state.action == "hangup"


def test_withheld_numbers_are_never_checked_and_never_dropped():
    services = FakeServices(restriction=Restriction(date(2026, 12, 1), NOW, "x"))
    _, state, actions = start(services, caller=WITHHELD)
    assert ("restriction", "") not in services.calls
    assert actions[0] == Play(P.GREETING, barge_in="0") and not state.done


def test_confident_answer_is_played_then_1_means_solved():
    answer = Answer(entry_id="kb-7", text="社保卡补办请带身份证到网点。", score=0.9, confident=True)
    flow, state, _ = start(FakeServices(speech=True, answer=answer))
    state, actions = flow.handle(state, Speech("社保卡掉了怎么补", 0.8))
    assert actions == [PlayText(answer.text, barge_in="0"), CollectDigits(P.KB_SOLVED, 1, 5000)]
    state, actions = flow.handle(state, Digits("1"))
    assert state.outcome == "self_served" and state.ticket == "2026112500001"
    assert actions == [Play(P.GOODBYE), Hangup()]


def test_answer_not_solving_goes_to_a_person_with_the_transcript():
    answer = Answer(entry_id="kb-7", text="...", score=0.9, confident=True)
    flow, state, _ = start(FakeServices(speech=True, answer=answer))
    state, _ = flow.handle(state, Speech("社保卡掉了怎么补", 0.8))
    state, actions = flow.handle(state, Digits("0"))
    assert actions[-1] == HandOff("queue", "hotline-cmn")
    assert state.transcript == ["社保卡掉了怎么补"] and state.data["kb_answer"]["not_solved"]


def test_low_confidence_goes_straight_to_the_queue():
    answer = Answer(entry_id="kb-7", text="...", score=0.2, confident=False)
    flow, state, _ = start(FakeServices(speech=True, answer=answer))
    state, actions = flow.handle(state, Speech("我家门口的路灯坏了", 0.8))
    assert actions[-1] == HandOff("queue", "hotline-cmn") and state.transcript == ["我家门口的路灯坏了"]


def test_emergency_speech_is_handed_to_the_emergency_number():
    flow, state, _ = start(FakeServices(speech=True, emergency="119"))
    state, actions = flow.handle(state, Speech("着火了", 0.9))
    assert actions == [Play(P.EMERGENCY["119"]), HandOff("emergency", "119")]


def test_leader_on_duty_is_announced_and_9_reaches_the_seat():
    leader = LeaderOnDuty(announcement="今天由交通局张局长接听", seat="PJSIP/leader1", session_id="s1")
    flow, state, actions = start(FakeServices(leader=leader))
    assert PlayText("今天由交通局张局长接听", barge_in="09") in actions
    state, actions = flow.handle(state, Digits("9"))
    assert actions == [HandOff("leader", "PJSIP/leader1")] and state.action == "leader"
    assert state.ticket == "20261125000019" and ("leader_call", "PJSIP/leader1") in flow.services.calls


def test_9_without_a_leader_session_is_just_a_person():
    flow, state, _ = start(FakeServices())
    _, actions = flow.handle(state, Digits("9"))
    assert actions[-1] == HandOff("queue", "hotline-cmn")


def test_closed_mode_takes_a_message_and_speaks_the_ticket_only_when_committed():
    receipt = MessageReceipt(ticket="2026112500042", due_date=date(2026, 12, 9))
    services = FakeServices(receipt=receipt)
    flow, state, actions = start(services, mode="closed")
    assert isinstance(actions[-1], RecordMessage)
    state, actions = flow.handle(state, Recorded("/tmp/m.wav", 5200, "dtmf"))
    assert ("message", "/tmp/m.wav", 5200) in services.calls
    assert SayDigits("2026112500042") in actions and SayDate(date(2026, 12, 9)) in actions
    assert state.outcome == "message" and state.ticket == "2026112500042"


def test_message_without_ticket_says_nothing_about_a_number():
    flow, state, _ = start(FakeServices(), mode="closed")
    _, actions = flow.handle(state, Recorded("/tmp/m.wav", 5200, "silence"))
    assert not any(isinstance(a, SayDigits) for a in actions)


def test_hang_up_during_message_recording_still_stores_it():
    services = FakeServices(receipt=MessageReceipt(ticket="1"))
    flow, state, _ = start(services, mode="closed")
    state, actions = flow.handle(state, Recorded("/tmp/m.wav", 3000, "hangup"))
    assert ("message", "/tmp/m.wav", 3000) in services.calls and actions == []
    assert state.done and state.hangup_point == "message"


@pytest.mark.parametrize("step_events", [[], [Speech("x", 0.5)]])
def test_hang_up_at_any_step_closes_the_state(step_events):
    answer = Answer(entry_id="kb", text="t", score=1.0, confident=True)
    flow, state, _ = start(FakeServices(speech=True, answer=answer))
    for event in step_events:
        state, _ = flow.handle(state, event)
    point = state.step
    state, actions = flow.handle(state, HungUp())
    assert actions == [] and state.done and state.outcome == "abandoned" and state.hangup_point == point


def test_state_round_trips_through_json():
    flow, state, _ = start(FakeServices(speech=True, answer=Answer("k", "t", 1.0, True)))
    state, _ = flow.handle(state, Speech("问题", 0.7))
    again = CallState.from_json(state.to_json())
    assert again == state
    _, actions = flow.handle(again, Digits("0"))
    assert actions[-1] == HandOff("queue", "hotline-cmn")


def test_events_after_the_end_do_nothing():
    flow, state, _ = start(FakeServices())
    state, _ = flow.handle(state, NoInput())
    assert flow.handle(state, Digits("0")) == (state, [])


def test_survey_records_a_rating_and_no_input_leaves_it_unrated():
    services = FakeServices()
    survey = SurveyFlow(services, lambda: NOW)
    event = CallStarted("s1", "fastagi", "1.2", "13800138000", None, "cmn", route="survey", subject="known")
    state, actions = survey.start(event, CALLER)
    assert actions == [CollectDigits(P.SURVEY, 1, 5000)]
    rated, actions = survey.handle(state, Digits("4"))
    assert ("rate", "known", 4) in services.calls and rated.outcome == "rated"
    state, _ = survey.start(event, CALLER)
    state, actions = survey.handle(state, NoInput())
    assert actions == [CollectDigits(P.SURVEY, 1, 5000)]           # asked once more
    state, actions = survey.handle(state, NoInput())
    assert state.outcome == "unrated" and not any(c[0] == "rate" for c in services.calls[1:])


def test_flow_imports_no_telephony_library():
    import ast
    from pathlib import Path

    for path in Path("flow").glob("*.py"):
        tree = ast.parse(path.read_text())
        names = {n.names[0].name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import)}
        names |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
        assert not names & {"asterisk", "twilio", "ivr"}, path


def test_1_then_a_ticket_number_speaks_status_and_deadline_to_the_filer():
    services = FakeServices()
    services.progress["2026112500017"] = Progress(found=True, own=True, status="in_progress",
                                                  due_date=date(2026, 12, 16))
    flow, state, _ = start(services)
    state, actions = flow.handle(state, Digits("1"))
    assert actions == [CollectDigits(P.PROGRESS_ENTER, 20, 8000)]
    state, actions = flow.handle(state, Digits("2026112500017"))
    assert ("progress", "2026112500017", "13800138000") in services.calls
    assert Play(P.PROGRESS_STATUS["in_progress"], barge_in="0") in actions
    assert SayDate(date(2026, 12, 16)) in actions
    state, actions = flow.handle(state, NoInput())
    assert state.outcome == "self_served" and actions[-1] == Hangup()


def test_another_numbers_ticket_gets_no_details():
    services = FakeServices()
    services.progress["77"] = Progress(found=True, own=False, status="closed", due_date=date(2026, 12, 1))
    flow, state, _ = start(services)
    state, _ = flow.handle(state, Digits("1"))
    state, actions = flow.handle(state, Digits("77"))
    assert Play(P.PROGRESS_PRIVATE, barge_in="0") in actions
    assert not any(isinstance(a, SayDate) for a in actions)
    assert not any(a == Play(P.PROGRESS_STATUS["closed"], barge_in="0") for a in actions)


def test_unknown_ticket_is_asked_once_more_then_a_person():
    flow, state, _ = start(FakeServices())
    state, _ = flow.handle(state, Digits("1"))
    state, actions = flow.handle(state, Digits("123"))
    assert actions[0] == Play(P.PROGRESS_NOT_FOUND)
    state, actions = flow.handle(state, Digits("456"))
    assert actions[-1] == HandOff("queue", "hotline-cmn")


def test_2_leaves_a_message_on_request():
    services = FakeServices(receipt=MessageReceipt(ticket="2026112500042", due_date=date(2026, 12, 9)))
    flow, state, _ = start(services)
    state, actions = flow.handle(state, Digits("2"))
    assert actions == [RecordMessage(P.MESSAGE_PROMPT, 120_000, 4)]
    state, actions = flow.handle(state, Recorded("/tmp/m.wav", 4000, "dtmf"))
    assert state.outcome == "message" and SayDigits("2026112500042") in actions


def test_empty_message_on_request_goes_to_a_person():
    flow, state, _ = start(FakeServices())
    state, _ = flow.handle(state, Digits("2"))
    state, actions = flow.handle(state, Recorded("", 0, "silence"))
    assert actions[-1] == HandOff("queue", "hotline-cmn")


def test_long_answers_are_played_in_pieces_the_caller_can_cut_with_0():
    from flow.citizen import answer_pieces

    text = ("社会保障卡丢失后，请先拨打12333或通过粤省事小程序办理挂失，挂失后可到就近的社保卡服务网点申请补办。"
            "补办时请携带本人有效身份证件；委托他人办理的，还需携带受托人身份证件。具体收费以网点公布为准。")
    pieces = answer_pieces(text)
    assert "".join(pieces) == text and len(pieces) >= 2 and all(len(p) <= 60 for p in pieces)
    answer = Answer(entry_id="kb-7", text=text, score=0.9, confident=True)
    flow, state, _ = start(FakeServices(speech=True, answer=answer))
    state, actions = flow.handle(state, Speech("社保卡丢了", 0.8))
    assert [a for a in actions if isinstance(a, PlayText)] == [PlayText(p, barge_in="0") for p in pieces]
    state, actions = flow.handle(state, Digits("0"))             # cut in during a piece: a person
    assert actions[-1] == HandOff("queue", "hotline-cmn")


def test_a_registered_elderly_caller_goes_straight_to_a_person_with_priority():
    services = FakeServices()
    services.priority = True
    _, state, actions = start(services)
    assert actions == [Play(P.GREETING), Play(P.TRANSFER_AGENT), HandOff("queue", "hotline-cmn")]
    assert state.data["priority"] == 9


def test_no_agent_can_answer_offers_message_or_call_back():
    services = FakeServices()
    services.decision = RouteDecision(queue="hotline-cmn", offer="message_or_callback", staffed=False, callback=True)
    flow, state, _ = start(services)
    state, actions = flow.handle(state, Digits("0"))
    assert actions == [CollectDigits(P.NO_AGENT_OFFER, 1, 5000)]
    booked, actions = flow.handle(CallState.from_json(state.to_json()), Digits("2"))
    assert ("callback", "13800138000", "hotline-cmn") in services.calls
    assert booked.outcome == "callback" and actions == [Play(P.CALLBACK_BOOKED), Hangup()]
    msg, actions = flow.handle(CallState.from_json(state.to_json()), Digits("1"))
    assert actions == [RecordMessage(P.MESSAGE_PROMPT, 120_000, 4)]
    silent, actions = flow.handle(CallState.from_json(state.to_json()), NoInput())
    assert isinstance(actions[-1], RecordMessage)           # nobody staffed: silence leaves a message
    waiting, actions = flow.handle(CallState.from_json(state.to_json()), Digits("0"))
    assert actions[-1] == HandOff("queue", "hotline-cmn")   # 0: wait on in the queue


def test_no_call_back_offered_to_a_number_that_cannot_be_called():
    services = FakeServices()
    services.decision = RouteDecision(queue="hotline-cmn", offer="message_or_callback", staffed=True, callback=False)
    flow, state, _ = start(services)
    state, actions = flow.handle(state, NoInput())
    assert actions == [CollectDigits(P.NO_AGENT_OFFER_MESSAGE, 1, 5000)]
    state, actions = flow.handle(state, Digits("2"))
    assert actions[-1] == HandOff("queue", "hotline-cmn") and ("callback", "13800138000", "hotline-cmn") not in services.calls


def test_language_from_the_callers_history_or_a_short_prompt():
    services = FakeServices()
    services.language = ("yue", "history")
    flow, state, actions = start(services, language_given=False)
    assert state.language == "yue" and actions[0] == Play(P.GREETING, barge_in="0")
    _, actions = flow.handle(state, NoInput())
    assert actions[-1] == HandOff("queue", "hotline-yue")
    services.language = ("cmn", "ask")
    flow, state, actions = start(services, language_given=False)
    assert actions == [Play(P.GREETING), CollectDigits(P.LANGUAGE_MENU, 1, 4000)]
    state, actions = flow.handle(state, Digits("3"))
    assert state.language == "hak" and actions[-1] == CollectDigits(P.MAIN_MENU_KEYPAD, 1, 4000)
