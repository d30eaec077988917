"""AGI encoding and parsing in the engine (ivr.agi.protocol, ivr.agi.channel)."""
from __future__ import annotations

import io

import pytest
from hypothesis import given, settings, strategies as st

from ivr.agi.channel import AGIChannel, AGIDeadChannel, AGIConnectionClosed, AGIInvalidCommand, AGIUsageError
from ivr.agi.protocol import UnsafeArgument, build_line, parse_200, parse_env_line, quote


def asterisk_parse_args(line: str) -> list[str]:
    """Asterisk's parse_args() (res_agi.c) as the protocol reference §2.5 describes it."""
    argv, cur, quoted, escaped, in_word = [], [], False, False, False
    for ch in line:
        if ch in " \t" and not quoted and not escaped:
            if in_word:
                argv.append("".join(cur))
                cur, in_word = [], False
            continue
        if ch == '"' and not escaped:
            quoted = not quoted
            if not in_word:
                in_word = True
            continue
        if ch == "\\" and not escaped:
            escaped = True
            in_word = True
            continue
        cur.append(ch)
        in_word = True
        escaped = False
    if in_word:
        argv.append("".join(cur))
    return argv


@settings(max_examples=2000)
@given(st.text())
def test_any_value_is_one_word_and_one_line(value):
    line = build_line("SET VARIABLE", ["CALLERNAME", value], max_len=10**6).decode("utf-8")
    assert line.count("\n") == 1 and line.endswith("\n") and "\r" not in line and "\0" not in line
    words = asterisk_parse_args(line[:-1])
    expected = value.replace("\n", " ").replace("\r", " ").replace("\0", " ")
    assert words == ["SET", "VARIABLE", "CALLERNAME", expected]


def test_injection_attempt_stays_inside_the_value():
    line = build_line("SET VARIABLE", ["X", 'bar"\nHANGUP\n'], 2046)
    assert line == b'SET VARIABLE "X" "bar\\" HANGUP "\n'
    assert asterisk_parse_args(line.decode()[:-1]) == ["SET", "VARIABLE", "X", 'bar" HANGUP ']


def test_quote_is_idempotent_for_already_quoted_words():
    assert quote(quote("a b")) == '"a b"'


def test_command_words_and_length_are_checked():
    with pytest.raises(UnsafeArgument):
        build_line("SET VARIABLE\nHANGUP", [], 2046)
    with pytest.raises(UnsafeArgument):
        build_line("VERBOSE", ["x" * 3000], 2046)
    assert len(build_line("VERBOSE", ["x" * 2030], 2046)) <= 2047


@pytest.mark.parametrize("line,result,data,extra", [
    ("200 result=0 endpos=21440", "0", None, {"endpos": "21440"}),
    ("200 result=50 endpos=21440", "50", None, {"endpos": "21440"}),
    ("200 result=4711 (timeout)", "4711", "timeout", {}),
    ("200 result= (timeout)", "", "timeout", {}),
    ("200 result=", "", None, {}),
    ("200 result=1 (main menu)", "1", "main menu", {}),
    ("200 result=1 (a (nested) value)", "1", "a (nested) value", {}),
    ("200 result=35 (dtmf) endpos=41280", "35", "dtmf", {"endpos": "41280"}),
    ("200 result=-1 endpos=3520", "-1", None, {"endpos": "3520"}),
    ("200 result=0 Gosub complete", "0", None, {}),
])
def test_parse_200(line, result, data, extra):
    resp = parse_200(line)
    assert (resp.result, resp.data, resp.extra) == (result, data, extra)


def test_env_lines_split_at_the_first_colon_space():
    assert parse_env_line("agi_request: agi://127.0.0.1/ivr?x=1") == ("agi_request", "agi://127.0.0.1/ivr?x=1")
    assert parse_env_line("agi_accountcode: ") == ("agi_accountcode", "")
    assert parse_env_line("garbage") is None


def channel(responses: str) -> tuple[AGIChannel, io.BytesIO]:
    out = io.BytesIO()
    return AGIChannel(io.BytesIO(responses.encode()), out, env={}), out


def test_hangup_notification_before_the_response_is_recorded_and_skipped():
    chan, out = channel("HANGUP\n200 result=1\n")
    chan.set_variable("HOTLINE_ACTION", "queue")
    assert chan.hung_up and out.getvalue() == b'SET VARIABLE HOTLINE_ACTION "queue"\n'


def test_after_hangup_only_dead_capable_commands_are_sent():
    chan, out = channel("HANGUP\n200 result=1\n")
    chan.set_variable("A", "b")
    with pytest.raises(AGIDeadChannel):
        chan.stream("/x/greeting", "0")
    assert out.getvalue().count(b"\n") == 1


def test_several_variables_in_one_mset_when_every_value_is_a_plain_token():
    chan, out = channel("200 result=0\n")
    chan.set_variables([("HOTLINE_CALL_ID", "01ab"), ("HOTLINE_ACTION", "leader"),
                        ("HOTLINE_TARGET", "PJSIP/leader-01&Local/8001@leaders"), ("HOTLINE_LANG", "cmn"),
                        ("HOTLINE_TICKET", "")])
    assert out.getvalue() == (b'EXEC "MSet" "HOTLINE_CALL_ID=01ab,HOTLINE_ACTION=leader,'
                              b'HOTLINE_TARGET=PJSIP/leader-01&Local/8001@leaders,HOTLINE_LANG=cmn,HOTLINE_TICKET="\n')


@pytest.mark.parametrize("value", ["a,b", "two words", 'q"uote', "back\\slash", "x=y", "(p)", "[b]", "${X}",
                                   "名字", "a;b", "x" * 201])
def test_a_value_mset_would_split_or_unquote_goes_by_set_variable(value):
    chan, out = channel("200 result=1\n200 result=1\n")
    chan.set_variables([("HOTLINE_ACTION", "queue"), ("HOTLINE_TARGET", value)])
    lines = out.getvalue().decode().splitlines()
    assert len(lines) == 2 and all(line.startswith("SET VARIABLE ") for line in lines)


def test_without_mset_the_variables_are_set_one_by_one():
    chan, out = channel("200 result=-2\n200 result=1\n200 result=1\n")      # -2: no such application
    chan.set_variables([("A", "1"), ("B", "2")])
    assert out.getvalue().decode().splitlines()[1:] == ['SET VARIABLE A "1"', 'SET VARIABLE B "2"']


def test_nothing_is_sent_once_the_connection_is_gone():
    chan, out = channel("")
    with pytest.raises(AGIConnectionClosed):
        chan.set_variable("A", "1")             # EOF: Asterisk closed the connection
    with pytest.raises(AGIConnectionClosed):
        chan.set_variable("B", "2")             # dead-capable, but there is nobody to send to
    assert out.getvalue() == b'SET VARIABLE A "1"\n'


def test_511_510_520_and_eof():
    chan, _ = channel("511 Command Not Permitted on a dead channel or intercept routine\n")
    with pytest.raises(AGIDeadChannel):
        chan.stream("/x", "")
    chan, _ = channel("510 Invalid or unknown command\n")
    with pytest.raises(AGIInvalidCommand):
        chan.execute("NOOP")
    chan, _ = channel("520-Invalid command syntax.  Proper usage follows:\nUsage text\n\n520 End of proper usage.\n"
                      "200 result=0\n")
    with pytest.raises(AGIUsageError):
        chan.execute("WAIT FOR DIGIT")
    chan.execute("NOOP")               # the stream stays in step after a 520 block
    chan, _ = channel("")
    with pytest.raises(AGIConnectionClosed):
        chan.execute("NOOP")


def test_variable_names_are_allow_listed():
    chan, _ = channel("200 result=1\n")
    with pytest.raises(UnsafeArgument):
        chan.set_variable("CALLERID(name)", "x")
    with pytest.raises(UnsafeArgument):
        chan.stream("/x", "0;")
