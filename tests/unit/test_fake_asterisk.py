"""Tests of the fake Asterisk itself (softphone), driven by throwaway raw-socket FastAGI servers.

Each expected byte comes from shared/docs/asterisk-agi-protocol.md (the reference read from
Asterisk's C source), not from the engine.
"""
from __future__ import annotations

import io
import os
import socket
import threading
import time
import wave

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from softphone.audio import make_tone_wav
from softphone.wire import parse_args
from tests.fake_asterisk import (AstDB, ExecOutcome, HangUp, Listen, Press, ScriptedCaller,
                                 Speak, place_call, place_calls)

# --- a throwaway FastAGI server -------------------------------------------------------------


class Agi:
    """The server side of one connection, speaking raw lines."""

    def __init__(self, conn: socket.socket):
        self.conn = conn
        self.rfile = conn.makefile("rb")
        self.env_raw = b""
        self.env: dict[str, str] = {}
        self.notifications: list[str] = []

    def read_env(self) -> None:
        while True:
            line = self.rfile.readline()
            self.env_raw += line
            if line in (b"\n", b""):
                return
            key, _, value = line.decode().rstrip("\n").partition(": ")
            self.env[key] = value

    def readline(self) -> str | None:
        line = self.rfile.readline()
        return None if not line else line.decode("utf-8", "surrogateescape").rstrip("\n")

    def send(self, raw: str | bytes) -> None:
        self.conn.sendall(raw.encode() if isinstance(raw, str) else raw)

    def cmd(self, line: str) -> list[str]:
        """Send one command; return every line up to its final response (HANGUP lines included)."""
        self.send(line + "\n")
        return self.response()

    def response(self) -> list[str]:
        lines: list[str] = []
        in_usage = False
        while True:
            line = self.readline()
            if line is None:
                return lines
            lines.append(line)
            if line == "HANGUP":
                self.notifications.append(line)
                continue
            if line.startswith("520-"):
                in_usage = True
                continue
            if in_usage and not line.startswith("520 "):
                continue
            if line.startswith("100 "):
                continue
            return lines


class MiniServer:
    """Accepts one call and runs ``script(agi)`` on it in a thread; closes afterwards."""

    def __init__(self, script, read_env: bool = True, close: bool = True):
        self.script, self.read_env, self.close = script, read_env, close
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(5)
        self.port = self.sock.getsockname()[1]
        self.agi: Agi | None = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        conn, _ = self.sock.accept()
        self.agi = Agi(conn)
        try:
            if self.read_env:
                self.agi.read_env()
            self.script(self.agi)
        except BaseException as exc:  # noqa: BLE001 - reported by join()
            self.error = exc
        finally:
            if self.close:
                self.agi.rfile.close()
                conn.close()
            self.sock.close()

    def join(self) -> Agi:
        self.thread.join(10)
        if self.error:
            raise self.error
        assert self.agi is not None
        return self.agi


def call(script, *actions, **kwargs):
    server = MiniServer(script)
    result = place_call(server.port, *actions, **kwargs)
    return result, server.join()


@pytest.fixture
def wav(tmp_path):
    """A real 2.5 s, 8 kHz prompt: <tmp>/prompt(.wav)."""
    make_tone_wav(str(tmp_path / "prompt.wav"), 2500)
    return str(tmp_path / "prompt")


# --- §1.4 the environment block --------------------------------------------------------------

def test_env_block_bytes_in_exact_order():
    server = MiniServer(lambda agi: None)
    result = place_call(server.port, callerid="1001", calleridname="Alice",
                        uniqueid="1717000000.42", language="en", args=("main", "1001"))
    agi = server.join()
    lines = agi.env_raw.decode().split("\n")
    keys = [line.partition(": ")[0] for line in lines[:-2]]
    assert keys == [
        "agi_network", "agi_network_script", "agi_request", "agi_channel", "agi_language",
        "agi_type", "agi_uniqueid", "agi_version", "agi_callerid", "agi_calleridname",
        "agi_callingpres", "agi_callingani2", "agi_callington", "agi_callingtns", "agi_dnid",
        "agi_rdnis", "agi_context", "agi_extension", "agi_priority", "agi_enhanced",
        "agi_accountcode", "agi_threadid", "agi_arg_1", "agi_arg_2"]
    assert agi.env_raw.startswith(
        b"agi_network: yes\nagi_network_script: hotline\n"
        b"agi_request: agi://127.0.0.1:%d/hotline\n" % server.port)
    assert b"\nagi_accountcode: \nagi_threadid: " in agi.env_raw      # trailing space
    assert b"\nagi_version: 22.5.2\nagi_callerid: 1001\nagi_calleridname: Alice\n" in agi.env_raw
    assert b"\nagi_enhanced: 0.0\n" in agi.env_raw
    assert agi.env_raw.endswith(b"agi_arg_1: main\nagi_arg_2: 1001\n\n")
    assert agi.env["agi_channel"].startswith("PJSIP/1001-")
    assert agi.env["agi_type"] == "PJSIP"
    assert agi.env["agi_uniqueid"] == "1717000000.42"
    assert result.closed_by == "server" and result.agistatus == "SUCCESS"


def test_env_block_without_script_unknown_callerid_and_overrides():
    server = MiniServer(lambda agi: None)
    place_call(server.port, script="", callerid=None, env={"agi_dnid": "5000", "agi_rdnis": None})
    env_raw = server.join().env_raw
    assert b"agi_network_script" not in env_raw
    assert b"agi_request: agi://127.0.0.1:%d\n" % server.port in env_raw
    assert b"\nagi_callerid: unknown\n" in env_raw
    assert b"\nagi_dnid: 5000\n" in env_raw and b"agi_rdnis" not in env_raw


def test_env_values_are_not_escaped():
    server = MiniServer(lambda agi: None)
    place_call(server.port, calleridname="Eve\nagi_fake: 1")
    agi = server.join()
    assert b"\nagi_calleridname: Eve\nagi_fake: 1\nagi_callingpres: 0\n" in agi.env_raw
    assert agi.env["agi_fake"] == "1"


# --- §2.5 the tokenizer ---------------------------------------------------------------------

@pytest.mark.parametrize("line, expected", [
    ('STREAM FILE welcome ""', ["STREAM", "FILE", "welcome", ""]),
    ('SET VARIABLE FOO "hello world"', ["SET", "VARIABLE", "FOO", "hello world"]),
    ("SET VARIABLE FOO hello world", ["SET", "VARIABLE", "FOO", "hello", "world"]),
    ('SET VARIABLE FOO "say \\"hi\\" now"', ["SET", "VARIABLE", "FOO", 'say "hi" now']),
    ("SET VARIABLE FOO a\\ b", ["SET", "VARIABLE", "FOO", "a b"]),
    ('SET VARIABLE FOO ab"c d"e', ["SET", "VARIABLE", "FOO", "abc de"]),
    ('SET VARIABLE FOO "C:\\\\path"', ["SET", "VARIABLE", "FOO", "C:\\path"]),
    ('SET VARIABLE FOO "C:\\path"', ["SET", "VARIABLE", "FOO", "C:path"]),
    ('SET VARIABLE FOO "unterminated value', ["SET", "VARIABLE", "FOO", "unterminated value"]),
    ('SET VARIABLE FOO """"', ["SET", "VARIABLE", "FOO", ""]),
    ("SET VARIABLE FOO x\\", ["SET", "VARIABLE", "FOO", "x"]),
    ("ANSWER\r", ["ANSWER\r"]),
    ("  NOOP \t  a  ", ["NOOP", "a"]),
    ("", []),
])
def test_parse_args_reference_table(line, expected):
    assert parse_args(line) == expected


def test_parse_args_drops_words_beyond_max_args():
    assert len(parse_args(" ".join(["w"] * 200))) == 127


def test_tokenizer_over_the_wire():
    def script(agi):
        assert agi.cmd('SET VARIABLE FOO "say \\"hi\\" now"') == ["200 result=1"]
        assert agi.cmd('GET VARIABLE FOO') == ["200 result=1 (say \"hi\" now)"]
        assert agi.cmd('SET VARIABLE FOO ab"c d"e') == ["200 result=1"]
        assert agi.cmd("GET VARIABLE FOO") == ["200 result=1 (abc de)"]
    result, _ = call(script)
    assert result.variables["FOO"] == "abc de"


# --- §2.1/§2.2 framing and errors -------------------------------------------------------------

def test_carriage_return_is_part_of_the_command_word():
    def script(agi):
        assert agi.cmd("ANSWER\r") == ["510 Invalid or unknown command"]
        assert agi.cmd("") == ["510 Invalid or unknown command"]
        assert agi.cmd("FROBNICATE") == ["510 Invalid or unknown command"]
        assert agi.cmd("GET") == ["510 Invalid or unknown command"]
        assert agi.cmd("answer") == ["200 result=0"]       # command words are case-insensitive
    result, _ = call(script)
    assert result.errors == ["510 Invalid or unknown command"] * 4
    assert result.commands[0] == ["ANSWER\r"]


def test_usage_block_has_three_parts():
    def script(agi):
        lines = agi.cmd("WAIT FOR DIGIT")
        assert lines[0] == "520-Invalid command syntax.  Proper usage follows:"
        assert lines[-2] == ""
        assert lines[-1] == "520 End of proper usage."
        assert "<replaceable>timeout</replaceable>" in lines[1]
        assert agi.cmd("SET VARIABLE FOO hello world")[-1] == "520 End of proper usage."
        assert agi.cmd("SAY DIGITS *123 \"\"")[-1] == "520 End of proper usage."
        assert agi.cmd('SAY DIGITS 0012 ""') == ["200 result=0"]
    result, _ = call(script)
    assert result.errors == ["520-Invalid command syntax.  Proper usage follows:"] * 3
    assert result.agistatus == "SUCCESS"


def test_over_long_line_is_cut_and_the_rest_is_a_new_command():
    def script(agi):
        agi.send("SET VARIABLE X " + "a" * 3000 + "\n")
        assert agi.response() == ["200 result=1"]
        # The rest sits in Asterisk's stdio buffer until the server writes again: desynchronised.
        assert agi.cmd("NOOP") == ["510 Invalid or unknown command"]
        assert agi.response() == ["200 result=0"]
        agi.send("NOOP " + "b" * 2041 + "\n")      # 2046 bytes of text: the longest that fits
        assert agi.response() == ["200 result=0"]
    result, _ = call(script, timeout=5)
    assert len(result.variables["X"]) == 2047 - len("SET VARIABLE X ")
    assert result.commands[1] == ["a" * (3000 - result.variables["X"].__len__())]


def test_nul_merges_two_lines():
    def script(agi):
        agi.send(b"NO\x00junk\nOP\n")
        assert agi.response() == ["200 result=0"]
    result, _ = call(script)
    assert result.commands == [["NOOP"]]


def test_failure_line_ends_the_session_with_failure():
    def script(agi):
        agi.send("FAILURE: could not exec\n")
        assert agi.readline() == "HANGUP" and agi.readline() is None
    result, _ = call(script)
    assert result.agistatus == "FAILURE" and result.closed_by == "asterisk"


# --- §4 hang-up, dead mode, teardown -----------------------------------------------------------

def test_caller_hangup_during_stream_file_then_dead_mode(wav):
    def script(agi):
        assert agi.cmd(f'STREAM FILE "{wav}" ""') == ["200 result=-1 endpos=4000"]
        assert agi.readline() == "HANGUP"
        assert agi.cmd(f'STREAM FILE "{wav}" ""') == [
            "511 Command Not Permitted on a dead channel or intercept routine"]
        assert agi.cmd("ANSWER") == [
            "511 Command Not Permitted on a dead channel or intercept routine"]
        assert agi.cmd('SET VARIABLE R "caller-hangup"') == ["200 result=1"]
        assert agi.cmd("GET VARIABLE R") == ["200 result=1 (caller-hangup)"]
        assert agi.cmd("NOOP") == ["200 result=0"]
    result, _ = call(script, HangUp(at_ms=500))
    assert result.agistatus == "HANGUP" and result.hungup and result.continuation is None
    assert result.errors == ["511 Command Not Permitted on a dead channel or intercept routine"] * 2
    assert result.transcript[-1] == ("A>", "HANGUP")          # the teardown HANGUP


def test_hangup_between_commands_arrives_before_the_next_response():
    def script(agi):
        assert agi.cmd("WAIT FOR DIGIT 1000") == ["200 result=0"]
        time.sleep(0.2)                      # the caller hangs up while the server "thinks"
        assert agi.cmd("ANSWER") == [
            "HANGUP", "511 Command Not Permitted on a dead channel or intercept routine"]
    result, _ = call(script, Listen(), HangUp(between=True))
    assert result.agistatus == "HANGUP" and result.hangup_by == "caller"
    assert result.responses()[:2] == ["200 result=0", "HANGUP"]   # unsolicited, before ANSWER


def test_server_hangup_command_then_notification():
    def script(agi):
        assert agi.cmd("HANGUP") == ["200 result=1"]
        assert agi.readline() == "HANGUP"
        assert agi.cmd("CHANNEL STATUS")[0].startswith("511 ")
    result, _ = call(script)
    assert result.agistatus == "HANGUP" and result.hangup_by == "server"


def test_teardown_hangup_after_half_close():
    def script(agi):
        assert agi.cmd("NOOP") == ["200 result=0"]
        agi.conn.shutdown(socket.SHUT_WR)
        assert agi.readline() == "HANGUP"
        assert agi.readline() is None
    result, _ = call(script)
    assert result.agistatus == "SUCCESS" and result.closed_by == "server"
    assert result.continuation == ("from-pstn", "12345", 3)


def test_exit_on_hangup_sends_hangup_twice_and_closes(wav):
    def script(agi):
        assert agi.cmd(f'STREAM FILE "{wav}" ""') == ["200 result=-1 endpos=4000"]
        assert agi.readline() == "HANGUP"
        assert agi.readline() == "HANGUP"
        assert agi.readline() is None
    result, _ = call(script, HangUp(at_ms=500), exit_on_hangup=True)
    assert result.closed_by == "asterisk" and result.agistatus == "HANGUP"


def test_no_hangup_lines_when_sighup_is_off(wav):
    def script(agi):
        assert agi.cmd(f'STREAM FILE "{wav}" ""') == ["200 result=-1 endpos=4000"]
        assert agi.cmd("NOOP") == ["200 result=0"]
        agi.conn.shutdown(socket.SHUT_WR)
        assert agi.readline() is None
    result, _ = call(script, HangUp(at_ms=500), sighup=False)
    assert "HANGUP" not in result.lines("A>")


def test_dead_start_has_no_hangup_line_and_gates_commands():
    def script(agi):
        assert agi.cmd("ANSWER")[0].startswith("511 ")
        assert agi.cmd("GET VARIABLE CALLERID(num)") == ["200 result=1 (13800138000)"]
    result, _ = call(script, dead_start=True)
    assert result.lines("A>").count("HANGUP") == 1           # the teardown one only


def test_missing_prompt_makes_failure_sticky(tmp_path):
    def script(agi):
        assert agi.cmd(f'STREAM FILE "{tmp_path}/nope" "0"') == ["200 result=-1 endpos=0"]
        assert agi.cmd("NOOP") == ["200 result=0"]
        assert agi.cmd("HANGUP") == ["200 result=1"]
    result, _ = call(script)
    assert result.agistatus == "FAILURE" and result.missing_files == [f"{tmp_path}/nope"]


def test_hangup_at_every_media_command(wav):
    def script(agi):
        for _ in range(3):
            lines = agi.cmd(f'STREAM FILE "{wav}" ""')
            if lines != ["200 result=0 endpos=20000"]:
                assert lines == ["200 result=-1 endpos=10000"]
                assert agi.readline() == "HANGUP"
                return
    for k in range(3):
        result, _ = call(script, hangup_at_command=k)
        assert result.agistatus == "HANGUP"
        assert len(result.commands) == k + 1


# --- §2.7 socket watching and §2.1 no pipelining -----------------------------------------------

def test_pipelined_commands_stall():
    def script(agi):
        agi.send("NOOP\nNOOP\n")
        assert agi.readline() == "200 result=0"
        time.sleep(0.8)
    result, _ = call(script, timeout=0.3)
    assert result.timed_out and "stalled" in result.notes[0]


def test_stream_file_interrupted_by_the_next_command_prints_nothing(wav):
    def script(agi):
        agi.send(f'STREAM FILE "{wav}" ""\n')
        time.sleep(0.1)
        assert agi.cmd("NOOP") == ["200 result=0"]
    result, _ = call(script, realtime=1.0)
    assert result.responses() == ["200 result=0", "HANGUP"]


# --- §3 media results and the virtual clock -----------------------------------------------------

def test_virtual_clock_and_endpos_follow_the_wav(wav):
    def script(agi):
        assert agi.cmd(f'STREAM FILE "{wav}" "0"') == ["200 result=0 endpos=20000"]
        assert agi.cmd(f'STREAM FILE "{wav}" "123"') == ["200 result=49 endpos=8000"]
        assert agi.cmd(f'STREAM FILE "{wav}" "" 8000') == ["200 result=0 endpos=20000"]
        assert agi.cmd("GET VARIABLE PLAYBACKSTATUS") == ["200 result=1 (SUCCESS)"]
    result, _ = call(script, Listen(), Press("1"))
    assert result.elapsed_ms == 2500 + 1000 + 1500
    assert result.played == [wav] * 3


def test_press_that_is_not_an_escape_digit_waits_for_the_next_command(wav):
    def script(agi):
        assert agi.cmd(f'STREAM FILE "{wav}" "0"') == ["200 result=0 endpos=20000"]
        assert agi.cmd('WAIT FOR DIGIT 3000') == ["200 result=55"]
    call(script, Press("7"))


def test_get_data_quirks(wav, tmp_path):
    def script(agi):
        assert agi.cmd(f'GET DATA "{wav}" 3000 4') == ["200 result="]                 # '#' first
        assert agi.cmd(f'GET DATA "{wav}" 3000 4') == ["200 result= (timeout)"]       # silence
        assert agi.cmd(f'GET DATA "{wav}" 3000 4') == ["200 result=12 (timeout)"]
        assert agi.cmd(f'GET DATA "{wav}" 3000 2') == ["200 result=34"]               # max
        assert agi.cmd('WAIT FOR DIGIT 3000') == ["200 result=53"]                    # leftover 5
        assert agi.cmd(f'GET DATA "{wav}" 3000 0') == ["200 result=-1"]
        assert agi.cmd(f'GET DATA "{tmp_path}/missing"') == ["200 result=-1"]
        assert agi.cmd('GET DATA "" 2000 8') == ["200 result=678"]
        assert agi.cmd('WAIT FOR DIGIT 0') == ["200 result=0"]
    result, _ = call(script, Press("#"), Listen(), Press("12"), Press("345"), Press("678#"))
    assert result.agistatus == "SUCCESS"        # GET DATA failures never count as FAILURE


def test_get_data_hangup_and_default_timeouts(wav):
    def script(agi):
        assert agi.cmd(f'GET DATA "{wav}"') == ["200 result= (timeout)"]
        assert agi.cmd(f'GET DATA "{wav}"') == ["200 result=-1"]
        assert agi.readline() == "HANGUP"
    result, _ = call(script, Listen(), HangUp())
    assert result.elapsed_ms == 2500 + 6000 + 1250


def test_get_option_and_say(wav):
    def script(agi):
        assert agi.cmd(f'GET OPTION "{wav}" "12" 2000') == ["200 result=0 endpos=20000"]
        assert agi.cmd(f'GET OPTION "{wav}" "12" 2000') == ["200 result=50 endpos=8000"]
        assert agi.cmd(f'GET OPTION "{wav}" "12" 2000') == ["200 result=0 endpos=20000"]
        assert agi.cmd('SAY DIGITS 12345 "#"') == ["200 result=0"]
        assert agi.cmd('SAY NUMBER 42 "#"') == ["200 result=35"]
        assert agi.cmd('SAY DATE 1717000000 ""') == ["200 result=0"]
    result, _ = call(script, Listen(), Press("2"), Press("9"), Listen(), Press("#"))
    assert result.said[:2] == [("SAY DIGITS", "12345"), ("SAY NUMBER", "42")]


def test_record_file_writes_audio_and_transcript(tmp_path):
    base = tmp_path / "msg"
    speech = make_tone_wav(str(tmp_path / "speech.wav"), 2000, rate=16000)

    def script(agi):
        assert agi.cmd(f'RECORD FILE "{base}" "wav" "#" "60000" "BEEP" "s=3"') == [
            "200 result=35 (dtmf) endpos=14400"]
        assert agi.cmd(f'RECORD FILE "{base}-2" "wav" "#" "60000" "s=3"') == [
            "200 result=56000 (timeout) endpos=16000"]
        assert agi.cmd(f'RECORD FILE "{base}-3" "wav" "#" "5000"') == [
            "200 result=0 (timeout) endpos=40000"]
        assert agi.cmd(f'RECORD FILE "{tmp_path}/no/such/dir/x" "wav" "#" "5000"') == [
            "200 result=-1 (writefile)"]
        assert agi.cmd(f'RECORD FILE "{base}-4" "wav" "#" "-1" "s=2"') == [
            "200 result=-1 (hangup) endpos=8000"]
        assert agi.readline() == "HANGUP"
    result, _ = call(script, Speak("我要投诉噪音", wav=speech, end="#"), Speak("你好"), Listen(),
                     HangUp())
    with wave.open(f"{base}.wav") as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (8000, 1, 2)
        assert w.getnframes() == 14400                     # 2 s minus the 200 ms DTMF tail
    assert (tmp_path / "msg.txt").read_text(encoding="utf-8") == "我要投诉噪音"
    assert (tmp_path / "msg-2.txt").read_text(encoding="utf-8") == "你好"
    assert result.recordings == [f"{base}.wav", f"{base}-2.wav", f"{base}-3.wav", f"{base}-4.wav"]
    assert result.agistatus == "FAILURE"                   # (writefile) while the channel was up
    assert result.elapsed_ms == (300 + 2000) + (1000 + 3000) + 5000 + 1000


# --- variables, AstDB, EXEC, continuation ------------------------------------------------------

def test_variables_functions_and_astdb():
    db = AstDB({"/blk/13800138000": "x"})

    def script(agi):
        assert agi.cmd("GET VARIABLE CALLERID(num)") == ["200 result=1 (13800138000)"]
        assert agi.cmd("GET VARIABLE NOT_SET") == ["200 result=0"]
        assert agi.cmd('SET VARIABLE EMPTY ""') == ["200 result=1"]
        assert agi.cmd("GET VARIABLE EMPTY") == ["200 result=1 ()"]
        assert agi.cmd('GET FULL VARIABLE "${CALLERID(num)}-${EXTEN}-${NOPE}"') == [
            "200 result=1 (13800138000-12345-)"]
        assert agi.cmd("GET FULL VARIABLE ${UNIQUEID:0:4}") == ["200 result=1 (1717)"]
        assert agi.cmd("DATABASE GET blk 13800138000") == ["200 result=1 (x)"]
        assert agi.cmd("DATABASE PUT blk 1 y") == ["200 result=1"]
        assert agi.cmd("DATABASE DELTREE blk") == ["200 result=0"]    # deleted: 0 (inverted)
        assert agi.cmd("DATABASE DELTREE blk") == ["200 result=1"]
        assert agi.cmd("DATABASE DEL blk missing") == ["200 result=1"]
        assert agi.cmd("CHANNEL STATUS") == ["200 result=4"]
        assert agi.cmd("ANSWER") == ["200 result=0"]
        assert agi.cmd("CHANNEL STATUS") == ["200 result=6"]
        assert agi.cmd("SPEECH CREATE vosk") == ["200 result=0"]
        assert agi.cmd("GOSUB sub-x s 1") == ["200 result=-1 Gosub label not found"]
        assert agi.cmd('VERBOSE "hello there" 3') == ["200 result=1"]
        assert agi.cmd('SET VARIABLE __HOTLINE_LANG "cmn"') == ["200 result=1"]
    result, _ = call(script, uniqueid="1717000000.42", astdb=db)
    assert db.data == {}
    assert result.variables["HOTLINE_LANG"] == "cmn"
    assert result.agistatus == "FAILURE"                   # GOSUB label not found is F
    assert result.verbose == ["hello there"]


def test_exec_apps_and_continuation():
    def script(agi):
        assert agi.cmd('EXEC NoSuchApp ""') == ["200 result=-2"]
        assert agi.cmd('EXEC Set "A=1"') == ["200 result=0"]
        assert agi.cmd('EXEC Queue "citizens,c,,,300"') == ["200 result=0"]
        assert agi.cmd("GET VARIABLE QUEUESTATUS") == ["200 result=1 (CONTINUE)"]
        assert agi.cmd('EXEC Goto "ivr-sales,s,1"') == ["200 result=0"]
    result, _ = call(script, exec_results={"Queue": ExecOutcome(0, {"QUEUESTATUS": "CONTINUE"},
                                                                duration_ms=42_000)})
    assert result.apps[:2] == [("NoSuchApp", ""), ("Set", "A=1")]
    assert result.variables["A"] == "1"
    assert result.continuation == ("ivr-sales", "s", 1)
    assert result.elapsed_ms == 42_000


def test_set_context_extension_priority():
    def script(agi):
        for line in ('SET CONTEXT "hotline-out"', 'SET EXTENSION "queue"', 'SET PRIORITY "1"'):
            assert agi.cmd(line) == ["200 result=0"]
        assert agi.cmd("GET VARIABLE PRIORITY") == ["200 result=1 (0)"]
    result, _ = call(script)
    assert result.continuation == ("hotline-out", "queue", 1)


def test_unknown_label_gives_usage_when_labels_are_known():
    def script(agi):
        assert agi.cmd("SET PRIORITY nowhere")[-1] == "520 End of proper usage."
        assert agi.cmd("SET PRIORITY done") == ["200 result=0"]
    result, _ = call(script, labels={("from-pstn", "12345"): {"done": 5}})
    assert result.continuation == ("from-pstn", "12345", 5)


def test_set_autohangup_hangs_up_during_a_prompt(wav):
    def script(agi):
        assert agi.cmd("SET AUTOHANGUP 1.5") == ["200 result=0"]
        assert agi.cmd(f'STREAM FILE "{wav}" ""') == ["200 result=-1 endpos=12000"]
        assert agi.readline() == "HANGUP"
    result, _ = call(script)
    assert result.hangup_by == "autohangup"


# --- many calls, the terminal caller --------------------------------------------------------

def test_place_calls_runs_concurrently():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(20)
    port = sock.getsockname()[1]

    def serve():
        for _ in range(6):
            conn, _ = sock.accept()
            threading.Thread(target=handle, args=(conn,), daemon=True).start()

    def handle(conn):
        agi = Agi(conn)
        agi.read_env()
        agi.cmd("WAIT FOR DIGIT 5000")
        agi.cmd(f'SET VARIABLE CALLER "{agi.env["agi_callerid"]}"')
        conn.close()

    threading.Thread(target=serve, daemon=True).start()
    entries = [(ScriptedCaller([Press(str(i))]), {"callerid": f"1380000000{i}"}) for i in range(6)]
    results = place_calls("127.0.0.1", port, entries, concurrency=3)
    sock.close()
    assert [r.variables["CALLER"] for r in results] == [f"1380000000{i}" for i in range(6)]
    assert [r.responses()[0] for r in results] == [f"200 result={48 + i}" for i in range(6)]


def test_terminal_caller_from_a_pipe(tmp_path):
    prompts = tmp_path / "recordings" / "prompts" / "cmn"
    prompts.mkdir(parents=True)
    (tmp_path / "recordings" / "prompts.toml").write_text(
        '[greeting]\ncmn = "您好，幺二三四五热线。"\n', encoding="utf-8")
    make_tone_wav(str(prompts / "greeting.wav"), 1000)
    greeting = str(prompts / "greeting")
    base = tmp_path / "utt"

    def script(agi):
        assert agi.cmd(f'STREAM FILE "{greeting}" "0"') == ["200 result=0 endpos=8000"]
        assert agi.cmd(f'RECORD FILE "{base}" wav "#" 10000 "s=2"')[0].endswith("endpos=16000")
        assert agi.cmd('GET DATA "" 3000 1') == ["200 result=0"]
        assert agi.cmd('SET VARIABLE HOTLINE_ACTION "queue"') == ["200 result=1"]

    from softphone.terminal import main

    server = MiniServer(script)
    out = io.StringIO()
    code = main(["--port", str(server.port)], stdin=io.StringIO("\nsay: 社保卡掉了怎么补\n0\n"),
                stdout=out)
    server.join()
    text = out.getvalue()
    assert code == 0
    assert "您好，幺二三四五热线。" in text
    assert "HOTLINE_ACTION=queue" in text and "AGISTATUS=SUCCESS" in text
    assert "dialplan continues at from-pstn,12345,3" in text
    assert (tmp_path / "utt.txt").read_text(encoding="utf-8") == "社保卡掉了怎么补"
    assert os.path.exists(f"{base}.wav")


def test_control_stream_file_and_exec_playback(wav, tmp_path):
    def script(agi):
        assert agi.cmd(f'CONTROL STREAM FILE "{wav}" "#"') == ["200 result=0 endpos=-1"]
        assert agi.cmd(f'CONTROL STREAM FILE "{wav}" "#" 3000 "6" "4" "5" 500') == [
            "200 result=35 endpos=1500"]
        assert agi.cmd("GET VARIABLE CPLAYBACKSTATUS") == ["200 result=1 (USERSTOPPED)"]
        assert agi.cmd(f'CONTROL STREAM FILE "{tmp_path}/none" ""') == ["200 result=-1 endpos=0"]
        assert agi.cmd(f'EXEC Playback "{wav}&{tmp_path}/none"') == ["200 result=0"]
        assert agi.cmd("GET VARIABLE PLAYBACKSTATUS") == ["200 result=1 (FAILED)"]
        assert agi.cmd('EXEC Hangup ""') == ["200 result=-1"]
        assert agi.readline() == "HANGUP"
        assert agi.cmd(f'EXEC Playback "{wav}"') == ["200 result=-1"]     # allowed, but dead
    result, _ = call(script, Listen(), Press("#"))
    assert result.agistatus == "FAILURE"          # the missing file, while the channel was up
    assert result.apps[-2:] == [("Hangup", ""), ("Playback", wav)]


def test_exec_result_one_adds_a_usage_block_and_two_is_a_failure():
    def script(agi):
        assert agi.cmd('EXEC Custom "x"') == ["200 result=1"]
        block = agi.response()            # RESULT_SHOWUSAGE is 1: the usage block follows
        assert block[0].startswith("520-") and block[-1] == "520 End of proper usage."
        assert agi.cmd('EXEC Broken ""') == ["200 result=2"]
    result, _ = call(script, exec_results={"Custom": ExecOutcome(1), "Broken": ExecOutcome(2)})
    assert result.agistatus == "FAILURE"


def test_get_variable_value_is_truncated_to_1023_bytes():
    def script(agi):
        assert agi.cmd(f'SET VARIABLE LONG "{"x" * 1500}"') == ["200 result=1"]
        assert agi.cmd("GET VARIABLE LONG") == [f"200 result=1 ({'x' * 1023})"]
        assert agi.cmd("GET FULL VARIABLE ${LONG}") == [f"200 result=1 ({'x' * 1500})"]
    call(script)


def test_record_file_key_during_the_beep_is_a_randomerror(tmp_path):
    from softphone.outcomes import Caller, RecordOutcome

    class BeepPresser(Caller):
        def on_record(self, path, fmt, escape_digits, max_ms, silence_s):
            return RecordOutcome(end="key", key="#", during_beep=True)

    def script(agi):
        assert agi.cmd(f'RECORD FILE "{tmp_path}/m" wav "#" 5000 BEEP') == [
            "200 result=35 (randomerror) endpos=0"]
    result, _ = call(script, caller=BeepPresser())
    assert result.recordings == [] and result.agistatus == "SUCCESS"


@settings(max_examples=2000, database=None, deadline=None)
@given(st.one_of(st.text(alphabet=' \t"\\ab\r=,()[]|', max_size=40),
                 st.lists(st.text(alphabet='ab "\\', max_size=5), max_size=140).map(" ".join),
                 st.lists(st.text(alphabet="ab/.=, ", max_size=8), max_size=6).map(
                     lambda ws: " ".join(f'"{w}"' for w in ws))))
def test_the_quick_split_gives_the_words_res_agi_gives(line):
    from softphone.wire import parse_args, parse_args_c, separate_app_args, separate_app_args_c
    assert parse_args(line) == parse_args_c(line)
    assert separate_app_args(line) == separate_app_args_c(line)
    assert separate_app_args(line, "|") == separate_app_args_c(line, "|")
