"""Bad input, generated: no crash, no injected AGI command, clear errors (issue 9)."""
from __future__ import annotations

import io

from hypothesis import HealthCheck, given, settings, strategies as st

from ivr.agi.channel import AGIChannel, AGIError, AGIHangup, read_env
from ivr.agi.protocol import AGIProtocolError, UnsafeArgument, build_line
from tests.fuzz.conftest import tried
from tests.unit.test_agi_protocol import asterisk_parse_args

lines = st.binary(max_size=300).filter(lambda b: b"\n" not in b)


@settings(max_examples=3000, deadline=None)
@given(st.lists(lines, max_size=40), st.booleans())
def test_environment_blocks_never_crash_the_parser(body, terminated):
    tried("test_environment_blocks_never_crash_the_parser")
    raw = b"\n".join(body) + (b"\n\n" if terminated else b"")
    try:
        env = read_env(io.BytesIO(raw))
    except (AGIHangup, AGIProtocolError):
        return
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in env.items())


@settings(max_examples=3000, deadline=None)
@given(st.lists(lines, min_size=1, max_size=6))
def test_any_response_from_asterisk_is_parsed_or_refused_cleanly(responses):
    tried("test_any_response_from_asterisk_is_parsed_or_refused_cleanly")
    chan = AGIChannel(io.BytesIO(b"\n".join(responses) + b"\n"), io.BytesIO(), env={})
    try:
        result = chan.execute("NOOP")
    except (AGIError, AGIHangup, AGIProtocolError):
        return
    assert isinstance(result["result"][0], str)


@settings(max_examples=3000, deadline=None)
@given(st.text(max_size=500), st.text(max_size=60))
def test_values_reaching_agi_are_exactly_one_argument(value, name_like):
    tried("test_values_reaching_agi_are_exactly_one_argument")
    try:
        line = build_line("SET VARIABLE", ["HOTLINE_TRANSCRIPT", value], max_len=8190)
    except UnsafeArgument:
        assert len(value.encode()) > 8000
        return
    text = line.decode("utf-8")
    assert text.count("\n") == 1
    words = asterisk_parse_args(text[:-1])
    assert words[:3] == ["SET", "VARIABLE", "HOTLINE_TRANSCRIPT"] and len(words) == 4


@settings(max_examples=1500, deadline=None)
@given(st.lists(st.text(max_size=200), max_size=8))
def test_knowledge_base_import_reports_every_bad_line(raw_lines):
    from knowledge.interchange import ImportFailed, parse_lines

    tried("test_knowledge_base_import_reports_every_bad_line")
    try:
        records = parse_lines(raw_lines)
    except ImportFailed as exc:
        assert str(exc)
        return
    assert all(r.id and r.question and r.answer for r in records)


json_like = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=30),
                         lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner,
                                                                                       max_size=4), max_leaves=12)


@settings(max_examples=1500, deadline=None)
@given(st.dictionaries(st.sampled_from(["id", "question", "answer", "alternates", "keywords", "unit",
                                        "category", "valid_from", "valid_to", "audio", "extra"]), json_like,
                       max_size=8))
def test_knowledge_base_import_of_json_objects(obj):
    import json

    from knowledge.interchange import ImportFailed, parse_lines

    tried("test_knowledge_base_import_of_json_objects")
    try:
        parse_lines([json.dumps(obj, ensure_ascii=False)])
    except ImportFailed as exc:
        assert "line 1" in str(exc)


@settings(max_examples=1500, deadline=None)
@given(st.text(max_size=400))
def test_calendar_files_are_accepted_or_refused_with_a_clear_message(text):
    from workcal.schedule import ScheduleError, parse_schedule_text

    tried("test_calendar_files_are_accepted_or_refused_with_a_clear_message")
    try:
        parse_schedule_text(text)
    except ScheduleError as exc:
        assert str(exc)


@settings(max_examples=600, deadline=None)
@given(st.fixed_dictionaries({"year": st.integers(1990, 2110), "source": st.text(max_size=20)}),
       st.lists(st.fixed_dictionaries({"date": st.dates(), "name": st.text(max_size=10)}), max_size=5),
       st.lists(st.fixed_dictionaries({"date": st.dates()}), max_size=3))
def test_calendar_files_with_structure(head, holidays, workdays):
    from workcal.schedule import ScheduleError, parse_schedule_text

    tried("test_calendar_files_with_structure")

    def toml_str(s):
        return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'

    text = f"year = {head['year']}\nsource = {toml_str(head['source'])}\n"
    text += "".join(f"[[holidays]]\ndate = {h['date'].isoformat()}\nname = {toml_str(h['name'])}\n" for h in holidays)
    text += "".join(f"[[workdays]]\ndate = {w['date'].isoformat()}\n" for w in workdays)
    try:
        schedule = parse_schedule_text(text)
    except ScheduleError as exc:
        assert str(exc)
        return
    assert schedule.year == head["year"]


argv_words = st.sampled_from(["blocklist", "tickets", "kb", "calendar", "db", "check", "add", "lift", "show",
                              "deadline", "--kind", "--received", "--json", "--ground", "--evidence", "ask",
                              "--at", "13800138000", "0752-2345678", "complaint", "2026-13-45", "x", "-", "",
                              "harassing", "--reason", "'; DROP TABLE calls; --", "\x00", "2026-11-25T10:00"])


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(argv_words | st.text(max_size=12), min_size=1, max_size=6)
       .filter(lambda argv: argv[0] not in ("serve", "call")))       # those two run until stopped
def test_command_line_never_crashes(tmp_path, monkeypatch, capsys, argv):
    from hotline.cli import main

    tried("test_command_line_never_crashes")
    monkeypatch.setenv("HOTLINE_DATA_DIR", str(tmp_path))
    try:
        code = main(argv)
    except SystemExit as exc:            # argparse's usage errors: exit 2 with a message
        assert exc.code in (0, 2)
        return
    assert isinstance(code, int)
    err = capsys.readouterr().err
    assert "Traceback" not in err


def _send_in_segments(reader, writer, data: bytes, cuts: list[int], *, end: bool):
    """Send ``data`` from ``writer`` cut at ``cuts`` (TCP segments as they may come), in a thread;
    ``reader`` gets a 5 s receive timeout (the FastAGI server's kernel timeouts)."""
    import socket
    import struct
    import threading

    reader.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, struct.pack("ll", 5, 0))

    def send():
        pos = 0
        for n in cuts + [len(data)]:
            writer.sendall(data[pos:pos + n])
            pos += n
        if end:
            writer.shutdown(socket.SHUT_WR)

    sender = threading.Thread(target=send)
    sender.start()
    return sender


@settings(max_examples=400, deadline=None)
@given(lines=st.lists(st.binary(max_size=300).map(lambda b: b.replace(b"\n", b"")), max_size=12),
       tail=st.binary(max_size=50).map(lambda b: b.replace(b"\n", b"")),
       cuts=st.lists(st.integers(min_value=1, max_value=97), max_size=30),
       limit=st.sampled_from([-1, 5, 64, 8192]))
def test_the_fastagi_line_reader_reads_what_a_buffered_file_reads(lines, tail, cuts, limit):
    """ivr.fastagi._SocketReader against Python's own buffered socket file, whatever the TCP
    segments: lines cut anywhere, empty lines, a last line with no end, the length limit."""
    import io
    import socket

    from ivr.fastagi import _SocketReader

    tried("test_the_fastagi_line_reader_reads_what_a_buffered_file_reads")
    data = b"".join(line + b"\n" for line in lines) + tail
    expected, buf = [], io.BufferedReader(io.BytesIO(data))
    while chunk := buf.readline(limit):
        expected.append(chunk)
    a, b = socket.socketpair()
    with a, b:
        sender = _send_in_segments(a, b, data, cuts, end=True)
        reader, got = _SocketReader(a), []
        while chunk := reader.readline(limit):
            got.append(chunk)
        sender.join()
    assert got == expected


@settings(max_examples=200, deadline=None)
@given(lines=st.lists(st.binary(max_size=120).map(lambda b: b.replace(b"\n", b"").strip(b" ") or b"agi_x: y"),
                      max_size=30),
       junk=st.lists(st.sampled_from([b"agi_callerid: 1", b"no colon", b": empty key", b"agi_arg_1:",
                                      "agi_calleridname: 张三".encode(), b"\xff\xfe"]), max_size=4),
       after=st.binary(max_size=40).map(lambda b: b.replace(b"\n", b"") + b"\n"),
       cuts=st.lists(st.integers(min_value=1, max_value=97), max_size=20))
def test_the_environment_block_read_at_once_is_read_as_line_by_line(lines, junk, after, cuts):
    """ivr.agi.channel.read_env over the FastAGI socket (the whole block at once, read_block)
    against the line-by-line reading of a plain file: the same environment, and the line after
    the block left for the first response, whatever the TCP segments."""
    import io
    import socket

    from ivr.agi.channel import read_env
    from ivr.fastagi import _SocketReader

    tried("test_the_environment_block_read_at_once_is_read_as_line_by_line")
    data = b"".join(line + b"\n" for line in lines + junk) + b"\n" + after
    slow_file = io.BufferedReader(io.BytesIO(data))
    expected = read_env(slow_file), slow_file.readline()
    a, b = socket.socketpair()
    with a, b:
        sender = _send_in_segments(a, b, data, cuts, end=False)
        reader = _SocketReader(a)
        got = read_env(reader), reader.readline()
        sender.join()
    assert got == expected
