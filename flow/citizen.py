"""The citizen's call (route ``hotline``), human-first.

greeting → (leader on duty?) → "speak your question or press 0" → silence or 0 → agent queue.
Speech goes through emergency detection, then the knowledge base; a confident answer is
played and the caller says whether it solved the question (1) or wants a person (0).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from flow import prompts as P
from flow.actions import (EMERGENCY, HANGUP, LEADER, QUEUE, CollectDigits, CollectSpeech, HandOff,
                          Hangup, Play, PlayText, RecordMessage, SayDate, SayDigits)

MENU_KEYS = "0129"           # 0 person, 1 ticket progress, 2 leave a message, 9 leader seat
from flow.events import CallStarted, Digits, Event, HungUp, Recorded, Speech
from flow.ports import FlowServices
from flow.state import CallerInfo, CallState

Turn = tuple[CallState, list]
PIECE_CHARS = 60             # a long answer is played in sentence pieces the caller can cut with 0


def answer_pieces(text: str, limit: int = PIECE_CHARS) -> list[str]:
    """Split an answer at sentence ends (。！？；\n) into pieces of at most ``limit`` characters."""
    pieces, current = [], ""
    for ch in text:
        current += ch
        if ch in "。！？；!?;\n" and len(current) >= limit // 3:
            pieces.append(current)
            current = ""
        elif len(current) >= limit and ch in "，、,：: ":
            pieces.append(current)
            current = ""
    if current.strip():
        pieces.append(current)
    merged: list[str] = []
    for piece in (p.strip() for p in pieces):
        if piece and merged and len(merged[-1]) + len(piece) <= limit:
            merged[-1] += piece
        elif piece:
            merged.append(piece)
    return merged


@dataclass(frozen=True)
class FlowTiming:
    menu_timeout_ms: int = 4000
    feedback_timeout_ms: int = 5000
    number_timeout_ms: int = 8000
    utterance_max_ms: int = 15000
    utterance_silence_s: int = 2
    message_max_ms: int = 120_000
    message_silence_s: int = 4


class CitizenFlow:
    route = "hotline"

    def __init__(self, services: FlowServices, clock: Callable[[], datetime],
                 timing: FlowTiming = FlowTiming()) -> None:
        self.services = services
        self.clock = clock
        self.timing = timing

    # -- entry -----------------------------------------------------------------------------
    def start(self, event: CallStarted, caller: CallerInfo) -> Turn:
        state = CallState(call_id=event.call_id, route=self.route, language=event.language,
                          channel=event.channel, caller=caller, mode=event.mode)
        state.enter("start")
        now = self.clock()
        if caller.blockable:
            block = self.services.restriction(caller, state.call_id, now)
            if block is not None:
                state.enter("restricted")
                state.data["restricted_until"] = block.until.isoformat()
                return self._end(state, "restricted", HANGUP, "", [
                    Play(P.RESTRICTED_NOTICE), SayDate(block.last_day), Play(P.RESTRICTED_EMERGENCY)])
        if state.mode == "closed":
            return self._offer_message(state)
        if not event.language_given:
            language, source = self.services.language_for(caller, state.call_id)
            state.language = language or state.language
            if source == "ask":
                state.enter("language")
                return state, [Play(P.GREETING), CollectDigits(P.LANGUAGE_MENU, 1, self.timing.menu_timeout_ms)]
        return self._greet(state, now)

    def _on_language(self, state: CallState, event: Event) -> Turn:
        keys = {"1": "cmn", "2": "yue", "3": "hak"}
        if isinstance(event, Digits):
            state.language = keys.get(event.digits[:1], state.language)
        return self._greet(state, self.clock(), greeted=True)

    def _greet(self, state: CallState, now: datetime, greeted: bool = False) -> Turn:
        if self.services.is_priority(state.caller):          # registered elderly callers: a person at once
            state.data["priority_caller"] = True
            return self._to_queue(state, [] if greeted else [Play(P.GREETING)])
        outputs: list = [] if greeted else [Play(P.GREETING, barge_in="0")]
        leader = self.services.leader_on_duty(now)
        if leader is not None:
            state.data["leader_seat"] = leader.seat
            state.data["leader_session"] = leader.session_id
            outputs += [Play(P.LEADER_ON_DUTY, barge_in="09"), PlayText(leader.announcement, barge_in="09"),
                        Play(P.LEADER_PRESS_9, barge_in="09")]
        return self._main_menu(state, outputs)

    def _main_menu(self, state: CallState, outputs: list) -> Turn:
        state.enter("main_menu")
        t = self.timing
        if self.services.speech_available:
            ask = CollectSpeech(P.MAIN_MENU_SPEECH, t.utterance_max_ms, t.utterance_silence_s, barge_in=MENU_KEYS)
        else:
            ask = CollectDigits(P.MAIN_MENU_KEYPAD, 1, t.menu_timeout_ms)
        return state, outputs + [ask]

    # -- events ----------------------------------------------------------------------------
    def handle(self, state: CallState, event: Event) -> Turn:
        if state.done:
            return state, []
        if isinstance(event, HungUp):
            state.hangup_point = state.step
            return self._finish(state, "abandoned", HANGUP, "")
        handler = getattr(self, f"_on_{state.step}", None)
        if handler is None:
            return self._to_queue(state)
        return handler(state, event)

    def _on_main_menu(self, state: CallState, event: Event) -> Turn:
        if isinstance(event, Digits):
            key = event.digits[:1]
            if key == "9" and state.data.get("leader_seat"):
                state.enter("leader")
                state.ticket = self.services.leader_call(state, self.clock())
                return self._end(state, "handed_off", LEADER, state.data["leader_seat"], [])
            if key == "1":
                state.enter("progress")
                return state, [CollectDigits(P.PROGRESS_ENTER, 20, self.timing.number_timeout_ms)]
            if key == "2":
                state.enter("message")
                t = self.timing
                return state, [RecordMessage(P.MESSAGE_PROMPT, t.message_max_ms, t.message_silence_s)]
            return self._to_queue(state)          # 0, or any other key: a person (human-first)
        if isinstance(event, Speech) and event.text.strip():
            return self._understand(state, event)
        return self._to_queue(state)              # silence, nothing understood

    def _understand(self, state: CallState, event: Speech) -> Turn:
        text = event.text.strip()
        state.transcript.append(text)
        target = self.services.emergency(text)
        if target is not None:
            state.enter("emergency")
            return self._end(state, "handed_off", EMERGENCY, target, [Play(P.EMERGENCY[target])])
        answer = self.services.answer(text, state.language)
        if answer is None or not answer.confident:
            if answer is not None:
                state.data["kb_best"] = {"id": answer.entry_id, "score": answer.score}
            return self._to_queue(state)
        state.enter("kb_feedback")
        state.data["kb_answer"] = {"id": answer.entry_id, "score": answer.score, "question": text}
        t = self.timing
        if answer.audio:            # a recorded answer plays whole
            spoken = [PlayText(answer.text, barge_in="0", audio=answer.audio)]
        else:
            spoken = [PlayText(piece, barge_in="0") for piece in answer_pieces(answer.text)]
        return state, spoken + [CollectDigits(P.KB_SOLVED, 1, t.feedback_timeout_ms)]

    def _on_kb_feedback(self, state: CallState, event: Event) -> Turn:
        if isinstance(event, Digits) and event.digits[:1] == "1":
            state.ticket = self.services.self_served(state, state.data["kb_answer"], self.clock())
            state.enter("self_served")
            return self._end(state, "self_served", HANGUP, "", [Play(P.GOODBYE)])
        state.data["kb_answer"]["not_solved"] = True
        return self._to_queue(state)

    # -- ticket progress -------------------------------------------------------------------
    def _on_progress(self, state: CallState, event: Event) -> Turn:
        number = event.digits.strip("#*") if isinstance(event, Digits) else ""
        if not number.isdigit():
            return self._to_queue(state)
        found = self.services.ticket_progress(number, state.caller, self.clock())
        state.data["progress"] = {"number": number, "found": found.found, "own": found.own}
        if not found.found:
            if not state.data.get("progress_retried"):
                state.data["progress_retried"] = True
                return state, [Play(P.PROGRESS_NOT_FOUND),
                               CollectDigits(P.PROGRESS_ENTER, 20, self.timing.number_timeout_ms)]
            return self._to_queue(state)
        outputs: list = []
        if not found.own:
            outputs.append(Play(P.PROGRESS_PRIVATE, barge_in="0"))
        else:
            outputs.append(Play(P.PROGRESS_STATUS.get(found.status, P.PROGRESS_STATUS["in_progress"]),
                                barge_in="0"))
            if found.due_date and found.status in ("in_progress", "awaiting_review"):
                outputs += [Play(P.PROGRESS_DEADLINE), SayDate(found.due_date)]
        state.enter("progress_done")
        return state, outputs + [CollectDigits(P.PROGRESS_AFTER, 1, self.timing.feedback_timeout_ms)]

    def _on_progress_done(self, state: CallState, event: Event) -> Turn:
        if isinstance(event, Digits) and event.digits[:1] == "0":
            return self._to_queue(state)
        state.enter("informed")
        return self._end(state, "self_served", HANGUP, "", [Play(P.GOODBYE)])

    # -- messages --------------------------------------------------------------------------
    def _offer_message(self, state: CallState) -> Turn:
        state.enter("message")
        t = self.timing
        return state, [Play(P.GREETING), RecordMessage(P.MESSAGE_INTRO, t.message_max_ms, t.message_silence_s)]

    def _on_message(self, state: CallState, event: Event) -> Turn:
        if isinstance(event, Recorded) and event.duration_ms > 0:
            return self._store_message(state, event)
        if isinstance(event, Recorded) and event.ended_by == "hangup":
            state.hangup_point = "message"
            return self._finish(state, "abandoned", HANGUP, "")
        if state.mode != "closed":
            return self._to_queue(state)
        return self._end(state, "abandoned", HANGUP, "", [Play(P.MESSAGE_EMPTY)])

    def _store_message(self, state: CallState, event: Recorded) -> Turn:
        state.message_path = event.path
        receipt = self.services.take_message(state, event.path, event.duration_ms, self.clock())
        state.ticket = receipt.ticket
        outputs: list = [Play(P.MESSAGE_SAVED)]
        if receipt.ticket:              # spoken only once the ticket is committed
            outputs += [Play(P.MESSAGE_TICKET), SayDigits(receipt.ticket)]
            if receipt.due_date:
                outputs += [Play(P.MESSAGE_DEADLINE), SayDate(receipt.due_date)]
        outputs.append(Play(P.GOODBYE))
        if event.ended_by == "hangup":
            state.hangup_point = "message"
            return self._finish(state, "message", HANGUP, "")
        return self._end(state, "message", HANGUP, "", outputs)

    # -- endings ---------------------------------------------------------------------------
    def _to_queue(self, state: CallState, outputs: list | None = None) -> Turn:
        """The caller asked for (or defaulted to) a person: the queue, or — when no agent can
        answer now — a choice of a message, a call-back or waiting on."""
        decision = self.services.route(state, self.clock())
        state.data["route"] = {"queue": decision.queue, "priority": decision.priority,
                               "staffed": decision.staffed}
        if decision.offer is None or state.data.get("offered"):
            return self._hand_to_queue(state, decision.queue, decision.priority, outputs or [])
        state.data["offered"] = True
        state.data["callback"] = decision.callback
        state.enter("no_agent")
        prompt = P.NO_AGENT_OFFER if decision.callback else P.NO_AGENT_OFFER_MESSAGE
        return state, (outputs or []) + [CollectDigits(prompt, 1, self.timing.feedback_timeout_ms)]

    def _on_no_agent(self, state: CallState, event: Event) -> Turn:
        route = state.data["route"]
        key = event.digits[:1] if isinstance(event, Digits) else ""
        if key == "1" or (not key and not route["staffed"]):
            state.enter("message")
            t = self.timing
            return state, [RecordMessage(P.MESSAGE_PROMPT, t.message_max_ms, t.message_silence_s)]
        if key == "2" and state.data.get("callback"):
            if self.services.request_callback(state, route["queue"], self.clock()):
                state.enter("callback")
                return self._end(state, "callback", HANGUP, "", [Play(P.CALLBACK_BOOKED)])
            state.enter("message")               # the request could not be stored: a message instead
            t = self.timing
            return state, [RecordMessage(P.MESSAGE_PROMPT, t.message_max_ms, t.message_silence_s)]
        return self._hand_to_queue(state, route["queue"], route["priority"], [])

    def _hand_to_queue(self, state: CallState, queue: str, priority: int, outputs: list) -> Turn:
        state.enter("queue")
        if priority:
            state.data["priority"] = priority
        return self._end(state, "handed_off", QUEUE, queue, outputs + [Play(P.TRANSFER_AGENT)])

    def _end(self, state: CallState, outcome: str, action: str, target: str, outputs: list) -> Turn:
        state, _ = self._finish(state, outcome, action, target)
        final = Hangup() if action == HANGUP else HandOff(action, target)
        return state, outputs + [final]

    @staticmethod
    def _finish(state: CallState, outcome: str, action: str, target: str) -> Turn:
        state.done, state.outcome, state.action, state.target = True, outcome, action, target
        return state, []
