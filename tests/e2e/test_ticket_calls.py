"""Issue 4 on the phone: messages become tickets, progress by phone, ratings by the survey route."""
from __future__ import annotations

import os
from datetime import timedelta, timezone

from callers.models import CallRecord
from flow.language import spoken_date
from tests.fake_asterisk import Listen, Press, ScriptedCaller, Speak, place_call, synthesised
from tickets.models import Ticket

SHANGHAI = timezone(timedelta(hours=8))


class CheckingCaller(ScriptedCaller):
    """Looks in the database at the moment the ticket number is spoken."""

    def __init__(self, running, actions):
        super().__init__(actions)
        self.running = running
        self.committed_when_spoken: list[bool] = []
        self.heard_digits = ""

    def on_play(self, path, escape_digits, duration_ms):
        if path.endswith("/digit_" + path[-1:]) and not self.heard_digits:    # the number begins
            with self.running.engine.db.read_session() as s:   # another connection: sees only committed rows
                self.committed_when_spoken.append(s.query(Ticket).count() == 1)
        if path.rsplit("/", 1)[-1].startswith("digit_"):
            self.heard_digits += path[-1]
        return super().on_play(path, escape_digits, duration_ms)


def tickets(running) -> list[Ticket]:
    with running.session() as s:
        return s.query(Ticket).all()


def test_pressing_2_leaves_a_message_and_hears_the_committed_ticket_number(running):
    caller = CheckingCaller(running, [Press("2"), Speak("我家楼下的路灯坏了一个星期", end="#")])
    result = place_call(running.port, caller=caller, callerid="13900001111")
    number = result.variables["HOTLINE_TICKET"]
    # the number in the caller's language, from the engine's own digit prompts, in one EXEC Playback
    assert caller.heard_digits == number and caller.committed_when_spoken == [True]
    assert all(p.startswith(str(running.engine.settings.prompt_dir / "cmn")) for p in result.played
               if p.rsplit("/", 1)[-1].startswith("digit_"))
    said = dict(result.said)
    assert "SAY DIGITS" not in said
    [ticket] = tickets(running)
    assert ticket.number == number and ticket.caller_key == "13900001111"
    assert ticket.recording_path and os.path.exists(ticket.recording_path)
    assert ticket.recording_path.startswith(str(running.engine.settings.recordings_dir))
    assert synthesised(result) == [spoken_date(ticket.due_date, "cmn")] and "SAY DATE" not in said
    assert result.variables["HOTLINE_ACTION"] == "hangup"


def test_hanging_up_during_the_message_still_makes_the_ticket_with_the_recording(running):
    # media commands: greeting+menu (one GET DATA) 0, message prompt 1, RECORD FILE 2 — hang up while speaking
    result = place_call(running.port, Press("2"), hangup_at_command=2, callerid="13900002222")
    assert any(cmd[:2] == ["RECORD", "FILE"] for cmd in result.commands)
    assert result.agistatus == "HANGUP"
    [ticket] = tickets(running)
    assert ticket.recording_path and os.path.getsize(ticket.recording_path) > 44
    with running.session() as s:
        rec = s.query(CallRecord).one()
    assert rec.ticket_number == ticket.number and rec.outcome == "message"


def test_no_agent_can_answer_so_the_dialplan_sends_the_caller_to_leave_a_message(running):
    result = place_call(running.port, Speak("停水了什么时候恢复"), script="hotline?mode=closed&lang=cmn")
    assert result.variables.get("HOTLINE_TICKET")
    assert any(p.endswith("/message_intro") for p in result.played)


def test_progress_by_phone_for_the_filer_and_not_for_others(running):
    filed = place_call(running.port, Press("2"), Speak(end="#"), callerid="13900003333")
    number = filed.variables["HOTLINE_TICKET"]
    mine = place_call(running.port, Press("1"), Press(number + "#"), Listen(), callerid="13900003333")
    played = [p.rsplit("/", 1)[-1] for p in mine.played]
    assert "progress_in_progress" in played and "progress_deadline" in played
    [ticket] = tickets(running)
    assert synthesised(mine) == [spoken_date(ticket.due_date, "cmn")]
    other = place_call(running.port, Press("1"), Press(number + "#"), Listen(), callerid="13900004444")
    played = [part for p in other.played for part in p.rsplit("/", 1)[-1].split("+")]   # joined prompts too
    assert "progress_private" in played and "progress_in_progress" not in played
    assert synthesised(other) == [] and not other.said


def test_a_mistyped_ticket_number_is_not_found(running):
    filed = place_call(running.port, Press("2"), Speak(end="#"), callerid="13900005555")
    number = filed.variables["HOTLINE_TICKET"]
    typo = number[:-2] + number[-1] + number[-2] if number[-1] != number[-2] else number[:-1] + "0"
    result = place_call(running.port, Press("1"), Press(typo + "#"), callerid="13900005555")
    assert any(p.endswith("/progress_not_found") for p in result.played)


def test_survey_rating_4_flags_the_ticket_for_review(running):
    filed = place_call(running.port, Press("2"), Speak(end="#"), callerid="13900006666")
    number = filed.variables["HOTLINE_TICKET"]
    survey = place_call(running.port, Press("4"), script="survey", args=(number,))
    assert survey.variables["HOTLINE_SURVEY"] == "rated"
    [ticket] = tickets(running)
    assert ticket.rating == 4 and ticket.review


def test_survey_without_input_leaves_the_ticket_unrated(running):
    filed = place_call(running.port, Press("2"), Speak(end="#"), callerid="13900007777")
    place_call(running.port, script="survey", args=(filed.variables["HOTLINE_TICKET"],))
    [ticket] = tickets(running)
    assert ticket.rating is None and not ticket.review
