"""Dates and numbers said on the phone: the engine's own Chinese (and Hakka) words and digit
prompts, not Asterisk's SAY DATE / SAY DIGITS."""
from __future__ import annotations

import shutil
import subprocess
import wave
from datetime import date, datetime, time, timedelta, timezone

import pytest

from flow.actions import Hangup, SayDate, SayDigits
from flow.language import spoken_date
from ivr.agi.driver import AGIDriver
from ivr.media import Media
from speech.synth import VOICES

SHANGHAI = timezone(timedelta(hours=8))


@pytest.mark.parametrize("day,words", [
    (date(2026, 12, 25), "二零二六年十二月二十五日"),
    (date(2027, 1, 10), "二零二七年一月十日"),
    (date(2026, 11, 1), "二零二六年十一月一日"),
    (date(2030, 10, 20), "二零三零年十月二十日"),
    (date(2027, 2, 19), "二零二七年二月十九日"),
])
def test_chinese_dates_read_the_year_digit_by_digit_and_count_month_and_day(day, words):
    assert spoken_date(day, "cmn") == words
    assert spoken_date(day, "yue") == words          # the same characters, read by the Cantonese voice


def test_hakka_dates_are_romanised_words():
    assert spoken_date(date(2026, 12, 25), "hak") == "ngi lìn ngi liuk ngièn, sṳ̍p ngi ngie̍t, ngi sṳ̍p ńg ngit"
    assert spoken_date(date(2027, 1, 10), "hak") == "ngi lìn ngi chhit ngièn, yit ngie̍t, sṳ̍p ngit"


@pytest.mark.skipif(not shutil.which("espeak-ng"), reason="espeak-ng is not installed")
@pytest.mark.parametrize("lang", ["cmn", "yue", "hak"])
def test_every_day_of_a_year_is_read_by_the_languages_voice_without_english(lang):
    days = [date(2027, 1, 1) + timedelta(days=n) for n in range(365)]
    text = "\n".join(spoken_date(d, lang) + "." for d in days)
    out = subprocess.run(["espeak-ng", "-v", VOICES[lang], "-q", "-x", "--stdin"], input=text.encode(),
                         capture_output=True, check=True, timeout=120).stdout.decode()
    assert out.strip() and "(en)" not in out


class Chan:
    hung_up = False

    def __init__(self):
        self.sent: list[tuple] = []

    def stream(self, path, escape):
        self.sent.append(("stream", path, escape))
        return 0, 0

    def execute(self, command, *args):
        self.sent.append((command, *args))
        self.last = type("R", (), {"value": 0})()

    def say(self, command, value, escape_digits=""):
        self.sent.append((command, value))
        return 0

    def set_variables(self, pairs):
        pass

    def alive(self):
        return True


class Session:
    class state:
        language, call_id, route, action, target, ticket, data = "cmn", "c1", "hotline", "hangup", "", None, {}

    def __init__(self, actions):
        self.actions = actions

    def begin(self, started):
        return self.actions

    def feed(self, event):
        return []


def test_the_driver_plays_the_synthesised_date_and_falls_back_to_say_date_without_synthesis(tmp_path):
    heard = []

    def synthesize(text, language):
        heard.append((text, language))
        return str(tmp_path / "tts" / "d1")

    with_voice = Media(prompt_dir=tmp_path / "p", recordings_dir=tmp_path / "r", synthesize=synthesize)
    chan = Chan()
    AGIDriver(chan, Session([SayDate(date(2026, 12, 25)), Hangup()]), with_voice, clock=None, zone=SHANGHAI).run(None)
    assert heard == [("二零二六年十二月二十五日", "cmn")]
    assert chan.sent == [("stream", str(tmp_path / "tts" / "d1"), "")]

    without = Media(prompt_dir=tmp_path / "p", recordings_dir=tmp_path / "r", synthesize=None)
    chan = Chan()
    AGIDriver(chan, Session([SayDate(date(2026, 12, 25)), Hangup()]), without, clock=None, zone=SHANGHAI).run(None)
    noon = datetime.combine(date(2026, 12, 25), time(12), tzinfo=SHANGHAI)
    assert chan.sent == [("SAY DATE", str(int(noon.timestamp())))]


def write_digit_prompts(folder) -> None:
    for d in "0123456789":
        with wave.open(str(folder / f"digit_{d}.wav"), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(8000)
            w.writeframes(b"\0\0" * 800)


def test_the_driver_plays_a_number_from_its_digit_prompts_in_one_command(tmp_path):
    folder = tmp_path / "p" / "cmn"
    folder.mkdir(parents=True)
    write_digit_prompts(folder)
    media = Media(prompt_dir=tmp_path / "p", recordings_dir=tmp_path / "r")
    chan = Chan()
    AGIDriver(chan, Session([SayDigits("2026-1"), Hangup()]), media, clock=None, zone=SHANGHAI).run(None)
    assert chan.sent == [("EXEC", "Playback", "&".join(f"{folder}/digit_{d}" for d in "20261"))]
    # a digit with no recording: Asterisk's SAY DIGITS instead (its sound pack's digits)
    (folder / "digit_6.wav").unlink()
    chan = Chan()
    AGIDriver(chan, Session([SayDigits("2026"), Hangup()]), media, clock=None, zone=SHANGHAI).run(None)
    assert chan.sent == [("SAY DIGITS", "2026")]


def test_a_number_whose_playback_line_would_be_too_long_is_left_to_say_digits(tmp_path):
    folder = tmp_path / ("p" * 120) / "cmn"          # a deep prompt folder: ~200-byte paths
    folder.mkdir(parents=True)
    write_digit_prompts(folder)
    media = Media(prompt_dir=folder.parent, recordings_dir=tmp_path / "r")
    chan = Chan()
    AGIDriver(chan, Session([SayDigits("2026112600015"), Hangup()]), media, clock=None, zone=SHANGHAI).run(None)
    assert chan.sent == [("SAY DIGITS", "2026112600015")]
    chan = Chan()
    AGIDriver(chan, Session([SayDigits("15"), Hangup()]), media, clock=None, zone=SHANGHAI).run(None)
    assert chan.sent[0][:2] == ("EXEC", "Playback")
