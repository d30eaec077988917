"""Whole calls through the fake Asterisk (softphone) over real TCP against the running engine."""
from __future__ import annotations

import threading
import time
import wave

import pytest

from callers.models import CallRecord
from tests.fake_asterisk import HangUp, Listen, Press, ScriptedCaller, Speak, foreign_apps, place_call, place_calls


def wav_ms(path: str) -> int:
    with wave.open(path, "rb") as w:
        return w.getnframes() * 1000 // w.getframerate()


def record(running, call_id) -> CallRecord:
    with running.session() as s:
        return s.get(CallRecord, call_id)


def only_record(running) -> CallRecord:
    with running.session() as s:
        rows = s.query(CallRecord).all()
    assert len(rows) == 1
    return rows[0]


def assert_queue(result, queue="hotline-cmn"):
    assert result.agistatus == "SUCCESS", result.notes
    assert result.variables["HOTLINE_ACTION"] == "queue"
    assert result.variables["HOTLINE_TARGET"] == queue
    assert result.variables["HOTLINE_CALL_ID"]
    assert not result.errors, result.errors


def test_silence_reaches_the_queue_within_15_seconds(running):
    result = place_call(running.port, Listen(), Listen())
    assert_queue(result)
    assert result.variables["HOTLINE_LANG"] == "cmn"
    assert result.elapsed_ms <= 15_000, f"caller waited {result.elapsed_ms} ms before the queue"
    assert not result.missing_files
    rec = record(running, result.variables["HOTLINE_CALL_ID"])
    assert (rec.outcome, rec.action, rec.target, rec.caller_key) == ("handed_off", "queue", "hotline-cmn",
                                                                      "13800138000")
    assert rec.route == "start,main_menu,queue" and rec.ended_at is not None


@pytest.mark.parametrize("lang", ["cmn", "yue", "hak"])
def test_in_every_language_silence_reaches_that_languages_queue_within_15_seconds(running, lang):
    """Each language has its own prompts (Hakka romanised for espeak-ng's Hakka voice), so each
    has its own durations: all within 15 s, all heard in the caller's language."""
    result = place_call(running.port, Listen(), Listen(), script=f"hotline?lang={lang}&answered=1&announce=1")
    assert_queue(result, queue=f"hotline-{lang}")
    # the dialplan plays HOTLINE_ANNOUNCE ("transferring you") before Queue(): that time counts too
    announced = [p for p in result.variables["HOTLINE_ANNOUNCE"].split("&") if p]
    assert announced
    waited = result.elapsed_ms + sum(wav_ms(p + ".wav") for p in announced)
    assert waited <= 15_000, f"a {lang} caller waited {waited} ms before the queue"
    assert not result.missing_files
    played = [p.split("/")[-2:] for p in result.played] + [
        p.split("/")[-2:] for p in result.variables["HOTLINE_ANNOUNCE"].split("&") if p]
    assert played and all(folder == lang for folder, _ in played), played


def test_zero_during_the_greeting_barges_in_to_the_queue(running):
    """The greeting and the menu are one joined file played by the menu's GET DATA, so 0 pressed
    at the greeting's start is the menu's answer: one command, and the menu is never heard."""
    result = place_call(running.port, Press("0"))
    assert_queue(result)
    assert [p.rsplit("/", 1)[1] for p in result.played] == ["greeting+main_menu_keypad", "transfer_agent"]
    media = [line.split(" ")[:2] for line in result.lines("S>") if line.startswith(("GET DATA", "STREAM FILE"))]
    assert media == [["GET", "DATA"], ["STREAM", "FILE"]]      # the joined prompt, then "transferring you"


def test_greeting_and_menu_play_as_one_file_that_sounds_like_both(running):
    """The joined prompt is the greeting's samples followed by the menu's, in the same format."""
    import wave

    result = place_call(running.port, Listen(), Listen())
    assert_queue(result)
    joined = result.played[0]
    assert joined.endswith("/greeting+main_menu_keypad")
    folder = joined.rsplit("/", 1)[0]
    frames = []
    for path in (joined, f"{folder}/greeting", f"{folder}/main_menu_keypad"):
        with wave.open(path + ".wav", "rb") as w:
            assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, 8000)
            frames.append(w.readframes(w.getnframes()))
    assert frames[0] == frames[1] + frames[2]


def test_the_closing_prompt_goes_to_the_dialplan_when_it_says_it_plays_it(running):
    """announce=1: "transferring you" travels in HOTLINE_ANNOUNCE with the other variables, so a
    silent caller's call is two commands (GET DATA, EXEC MSet); without it the engine streams it."""
    told = place_call(running.port, Listen(), Listen(), script="hotline?lang=cmn&answered=1&announce=1")
    own = place_call(running.port, Listen(), Listen(), script="hotline?lang=cmn&answered=1")
    assert_queue(told)
    assert_queue(own)
    assert [line.split(" ", 2)[:2] for line in told.lines("S>")] == [["GET", "DATA"], ["EXEC", '"MSet"']]
    assert told.variables["HOTLINE_ANNOUNCE"].endswith("/prompts/cmn/transfer_agent")
    assert own.played[-1] == told.variables["HOTLINE_ANNOUNCE"]
    assert "HOTLINE_ANNOUNCE" not in own.variables
    rec = record(running, told.variables["HOTLINE_CALL_ID"])
    assert (rec.outcome, rec.route) == ("handed_off", "start,main_menu,queue")


def test_zero_at_the_menu_reaches_the_queue(running):
    result = place_call(running.port, Listen(), Press("0"))
    assert_queue(result)


def test_the_engine_answers_unless_the_dialplan_says_it_has(running):
    """The shipped dialplan answers before AGI() and passes answered=1: no ANSWER round trip."""
    own = place_call(running.port, Listen(), Listen(), script="hotline?lang=cmn")
    told = place_call(running.port, Listen(), Listen(), script="hotline?lang=cmn&answered=1")
    assert_queue(own)
    assert_queue(told)
    assert own.lines("S>")[0] == "ANSWER"
    assert "ANSWER" not in told.lines("S>")
    assert own.lines("S>")[1:3] == told.lines("S>")[:2]          # then the same greeting and menu


def test_language_from_the_dialplan_selects_the_cantonese_queue_and_prompts(running):
    result = place_call(running.port, script="hotline?lang=yue")
    assert_queue(result, "hotline-yue")
    assert result.variables["HOTLINE_LANG"] == "yue"
    assert all("/prompts/yue/" in p for p in result.played)


def test_hang_up_at_every_step_leaves_a_closed_consistent_record(running):
    steps = len(place_call(running.port).played) + 1     # every media command, and one past the end
    for k in range(steps + 1):
        result = place_call(running.port, hangup_at_command=k)
        call_id = result.variables.get("HOTLINE_CALL_ID")
        assert call_id, f"step {k}: variables not set after hang-up: {result.notes}"
        rec = record(running, call_id)
        assert rec.ended_at is not None, f"step {k}: record left open"
        if result.hungup:
            assert result.agistatus == "HANGUP"
            assert rec.outcome in ("abandoned", "handed_off")
            if rec.outcome == "abandoned":
                assert rec.hangup_point and result.variables["HOTLINE_ACTION"] == "hangup"
        assert not [e for e in result.errors if not e.startswith("511")], result.errors


def test_caller_hanging_up_between_commands(running):
    result = place_call(running.port, Listen(), HangUp(between=True))
    rec = record(running, result.variables["HOTLINE_CALL_ID"])
    assert rec.ended_at is not None and result.agistatus == "HANGUP"


@pytest.mark.parametrize("name", [
    'Bob "the caller"', "back\\slash\\", "two\nlines", "HANGUP\nHANGUP", 'x"\nEXEC Dial "PJSIP/evil"',
    "\x00\x01\x1b[31mred", "长名字" * 300, "",
])
def test_hostile_caller_id_names_never_become_agi_commands(running, name):
    result = place_call(running.port, Listen(), Listen(), calleridname=name)
    assert_queue(result)
    words = [cmd[0].upper() + " " + cmd[1].upper() if len(cmd) > 1 else cmd[0].upper() for cmd in result.commands]
    assert set(words) <= {"ANSWER", "STREAM FILE", "GET DATA", "SET VARIABLE", "EXEC MSET"}, words
    # the one application run is MSet, setting the engine's own variables to the engine's values
    assert [app for app, _ in result.apps] == ["MSet"]
    pairs = dict(item.split("=", 1) for item in result.apps[0][1].split(","))
    assert set(pairs) == {"HOTLINE_CALL_ID", "HOTLINE_ACTION", "HOTLINE_TARGET", "HOTLINE_LANG"}
    assert pairs == {k: result.variables[k] for k in pairs}
    rec = only_record(running)
    assert "\n" not in rec.caller_name and "\x00" not in rec.caller_name


def test_hostile_caller_numbers_are_handled(running):
    for number in ["anonymous", "", "13800138000\nHANGUP", "'; DROP TABLE calls; --", None, "+86 138-0013-8000"]:
        assert_queue(place_call(running.port, Listen(), Listen(), callerid=number))
    with running.session() as s:
        keys = sorted(r.caller_key for r in s.query(CallRecord))
    # the newline ends Asterisk's env line, so that caller is 13800138000 followed by a junk line
    assert keys.count("13800138000") == 2 and keys.count("") == 4


@pytest.mark.parametrize("hubs", [1, 3])
def test_200_concurrent_calls_complete_with_correct_variables(make_engine, hubs):
    running = make_engine(max_calls=250, hubs=hubs)
    scripts = []
    for i in range(200):
        actions = [Press("0")] if i % 2 else [Listen(), Listen()]
        scripts.append((ScriptedCaller(actions), {"callerid": f"1390000{i:04d}", "realtime": 0.002}))
    results = place_calls("127.0.0.1", running.port, scripts, concurrency=200)
    assert len(results) == 200
    ids = set()
    for r in results:
        assert_queue(r)
        ids.add(r.variables["HOTLINE_CALL_ID"])
    assert len(ids) == 200
    with running.session() as s:
        rows = s.query(CallRecord).all()
    assert len(rows) == 200 and all(r.outcome == "handed_off" and r.ended_at for r in rows)


def test_unknown_route_is_refused_cleanly(running):
    result = place_call(running.port, script="hotlnie")
    assert result.agistatus == "FAILURE" and not result.commands


def test_monitoring_route_reports_ok(running):
    result = place_call(running.port, script="monitoring")
    assert result.variables.get("HOTLINE_STATUS") == "OK" and result.agistatus == "SUCCESS"


def test_survey_records_the_rating_on_the_call(running):
    call = place_call(running.port, Press("0"))
    call_id = call.variables["HOTLINE_CALL_ID"]
    survey = place_call(running.port, Listen(), Press("2"), script="survey", args=(call_id,),
                        variables={"HOTLINE_CALL_ID": call_id})
    assert survey.variables["HOTLINE_SURVEY"] == "rated"
    assert survey.variables["HOTLINE_CALL_ID"] == call_id          # the call's id is left alone
    assert record(running, call_id).rating == 2


def test_survey_without_input_leaves_the_call_unrated(running):
    call = place_call(running.port, Press("0"))
    call_id = call.variables["HOTLINE_CALL_ID"]
    survey = place_call(running.port, script="survey", args=(call_id,))
    assert survey.variables["HOTLINE_SURVEY"] == "unrated"
    assert record(running, call_id).rating is None


def test_an_exception_inside_the_call_still_reaches_a_person(running):
    def broken(*_args):
        raise RuntimeError("blocklist database exploded")

    running.engine.services._restrictions = broken
    result = place_call(running.port)
    assert_queue(result)
    assert only_record(running).outcome == "error"


def test_database_down_the_caller_still_reaches_the_queue(running):
    running.engine.db.engine.dispose()
    running.engine.db.engine.url = running.engine.db.engine.url.set(database="/nonexistent/dir/x.db")
    from sqlalchemy import create_engine

    running.engine.db._factory.configure(bind=create_engine("sqlite:////nonexistent/dir/x.db"))
    assert_queue(place_call(running.port, Listen(), Listen()))


def test_back_pressure_refuses_with_failure_so_the_dialplan_falls_back(make_engine):
    running = make_engine(max_calls=1, accept_queue=0)
    results = {}

    def slow_call():
        results["slow"] = place_call(running.port, Listen(), Listen(), realtime=0.3)

    t = threading.Thread(target=slow_call)
    t.start()
    time.sleep(0.5)
    refused = place_call(running.port)
    t.join()
    assert refused.agistatus == "FAILURE" and not refused.commands
    assert_queue(results["slow"])


def test_asterisk_going_silent_ends_the_call_at_the_socket_timeout(make_engine):
    """Asterisk stops answering mid-call (host frozen, network cut without a FIN): the engine
    gives up after socket_timeout, frees the call's thread, sends nothing more and closes the
    call record as a hang-up."""
    import socket

    running = make_engine(socket_timeout=0.5)
    env = ("agi_network: yes\nagi_network_script: hotline?lang=cmn\nagi_request: agi://127.0.0.1/hotline\n"
           "agi_channel: PJSIP/trunk-00000001\nagi_language: cmn\nagi_uniqueid: 1764000000.1\n"
           "agi_callerid: 13800138000\nagi_calleridname: unknown\n\n")
    with socket.create_connection(("127.0.0.1", running.port), timeout=10) as sock:
        sock.sendall(env.encode())
        received = b""
        while True:                       # everything the engine sends until it closes
            chunk = sock.recv(4096)
            if not chunk:
                break
            received += chunk
    assert received == b"ANSWER\n"       # then silence: no further command after the timeout
    deadline = time.time() + 10
    while running.server.active_calls and time.time() < deadline:
        time.sleep(0.05)
    assert running.server.active_calls == 0
    with running.session() as s:
        [record] = s.query(CallRecord).all()
    assert record.ended_at is not None and record.outcome == "abandoned"
    assert record.caller_key == "13800138000"


def test_shutdown_lets_a_call_in_progress_finish_and_refuses_new_ones(make_engine):
    running = make_engine()
    results = {}
    t = threading.Thread(target=lambda: results.setdefault("r", place_call(
        running.port, Listen(), Listen(), realtime=0.15)))
    t.start()
    time.sleep(0.5)
    running.server.shutdown(grace=10)
    t.join()
    assert_queue(results["r"])
    late = place_call(running.port, connect_timeout=1.0)
    assert not late.connected


def test_speech_text_is_recognised_and_travels_with_the_call(make_engine):
    running = make_engine(speech_engine="transcript")
    result = place_call(running.port, Speak('路灯坏了"\nEXEC Dial x'), Listen())
    assert_queue(result)
    assert any(cmd[:2] == ["RECORD", "FILE"] for cmd in result.commands)
    rec = only_record(running)
    assert rec.transcript == '路灯坏了" EXEC Dial x' and not foreign_apps(result)


def test_silence_with_speech_on_also_reaches_the_queue_within_15_seconds(make_engine):
    running = make_engine(speech_engine="transcript")
    result = place_call(running.port, Listen(), Listen())
    assert_queue(result)
    assert any(cmd[:2] == ["RECORD", "FILE"] for cmd in result.commands)
    assert result.elapsed_ms <= 15_000, f"caller waited {result.elapsed_ms} ms before the queue"


def test_the_dialplan_reports_what_the_queue_did(running):
    call = place_call(running.port, Press("0"))
    call_id = call.variables["HOTLINE_CALL_ID"]
    report = place_call(running.port, script="outcome", args=(call_id, "queue", "CONTINUE"))
    assert report.agistatus == "SUCCESS" and not report.commands
    with running.session() as s:
        rec = s.get(CallRecord, call_id)
    assert (rec.agent_status, rec.agent_answered) == ("CONTINUE", True)
    bogus = place_call(running.port, script="outcome", args=(call_id, "queue", "x\\nHANGUP"))
    assert bogus.agistatus == "SUCCESS"
    with running.session() as s:
        assert s.get(CallRecord, call_id).agent_status == "CONTINUE"


def test_self_service_result_is_kept_on_the_call_record(make_engine):
    running = make_engine(speech_engine="transcript")
    place_call(running.port, Speak("我家的猫跑丢了能帮忙找吗"))
    with running.session() as s:
        rec = s.query(CallRecord).one()
    assert rec.kb_result in ("low_confidence", "no_match") and rec.transcript


def test_a_line_break_in_the_caller_id_ends_asterisks_environment_early(running):
    """Asterisk sends caller IDs unescaped: "\\n" gives an early blank line, and the rest of the
    environment block then arrives where the engine expects responses."""
    result = place_call(running.port, Listen(), Listen(), callerid="\n", calleridname="x\n\nagi_network_script: survey")
    assert_queue(result)


def test_calls_and_hand_offs_are_counted_for_metrics(running):
    from core.metrics import REGISTRY

    def sample(name, **labels):
        return REGISTRY.get_sample_value(name, labels) or 0.0

    calls_before = sample("hotline_calls_total", route="hotline", outcome="handed_off")
    queue_before = sample("hotline_handoffs_total", action="queue")
    place_call(running.port, Press("0"))
    place_call(running.port, Listen(), Listen())
    assert sample("hotline_calls_total", route="hotline", outcome="handed_off") == calls_before + 2
    assert sample("hotline_handoffs_total", action="queue") == queue_before + 2
