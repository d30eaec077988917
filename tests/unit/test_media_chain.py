"""Prompts joined into one file (Media.chain) and closing prompts handed to the dialplan."""
from __future__ import annotations

import os
import wave
from pathlib import Path

import pytest

from flow.actions import CollectDigits, HandOff, Play
from ivr import variables as V
from ivr.agi.driver import AGIDriver
from ivr.media import Media


def write_wav(path: Path, samples: bytes, rate: int = 8000, width: int = 2) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(samples)


def frames(path: str) -> bytes:
    with wave.open(path + ".wav", "rb") as w:
        return w.readframes(w.getnframes())


@pytest.fixture
def media(tmp_path):
    write_wav(tmp_path / "p" / "cmn" / "hello.wav", b"\x01\x00" * 800)
    write_wav(tmp_path / "p" / "cmn" / "menu.wav", b"\x02\x00" * 400)
    return Media(prompt_dir=tmp_path / "p", recordings_dir=tmp_path / "r")


def test_two_prompts_become_one_file_with_both_samples_in_order(media, tmp_path):
    joined = media.chain("hello", "menu", "cmn")
    assert joined == str(tmp_path / "p" / "cmn" / "hello+menu")
    assert frames(joined) == b"\x01\x00" * 800 + b"\x02\x00" * 400
    assert not [f for f in os.listdir(tmp_path / "p" / "cmn") if f.endswith(".tmp")]


def test_a_part_recorded_again_is_joined_again(media, tmp_path):
    joined = media.chain("hello", "menu", "cmn")
    os.utime(joined + ".wav", ns=(1_000_000_000, 1_000_000_000))        # older than its parts
    write_wav(tmp_path / "p" / "cmn" / "menu.wav", b"\x03\x00" * 10)
    assert Media(prompt_dir=tmp_path / "p", recordings_dir=tmp_path / "r").chain("hello", "menu", "cmn") == joined
    assert frames(joined).endswith(b"\x03\x00" * 10)


def test_parts_in_different_formats_are_not_joined(media, tmp_path):
    write_wav(tmp_path / "p" / "cmn" / "menu.wav", b"\x02\x00" * 400, rate=16000)
    assert media.chain("hello", "menu", "cmn") is None
    assert not (tmp_path / "p" / "cmn" / "hello+menu.wav").exists()


def test_a_prompt_folder_the_engine_may_not_write_to_means_two_commands(media, tmp_path):
    if os.geteuid() == 0:
        # root writes anywhere: make the target name a directory, which no file can replace
        (tmp_path / "p" / "cmn" / "hello+menu.wav").mkdir()
    else:
        os.chmod(tmp_path / "p" / "cmn", 0o555)
    assert media.chain("hello", "menu", "cmn") is None
    assert media.chain("missing", "menu", "cmn") is None


# -- the driver ------------------------------------------------------------------------------
class Chan:
    """Records what the driver asks of the channel (the wire is tested end to end elsewhere)."""

    hung_up = False

    def __init__(self):
        self.sent: list[tuple] = []
        self.variables: dict[str, str] = {}

    def stream(self, path, escape):
        self.sent.append(("stream", path, escape))
        return 0, 0

    def get_digits(self, prompt, timeout_ms, max_digits):
        self.sent.append(("get", prompt))
        return "", True

    def set_variables(self, pairs):
        self.variables.update(pairs)

    def alive(self):
        return True


class State:
    language, call_id, route, action, target, ticket, data = "cmn", "c1", "hotline", "queue", "q", None, {}


class Session:
    def __init__(self, turns):
        self.turns, self.state = list(turns), State()

    def begin(self, started):
        return self.turns.pop(0)

    def feed(self, event):
        return self.turns.pop(0) if self.turns else []


def run(media, turns, announce):
    chan = Chan()
    AGIDriver(chan, Session(turns), media, clock=None, zone=None, announce=announce).run(None)
    return chan


def test_only_an_interruptible_prompt_is_joined_to_the_collection_after_it(media, tmp_path):
    ask = CollectDigits("menu", 1, 4000)
    chan = run(media, [[Play("hello", barge_in="0"), ask]], announce=False)
    assert chan.sent == [("get", str(tmp_path / "p" / "cmn" / "hello+menu"))]
    chan = run(media, [[Play("hello"), ask]], announce=False)                   # must be heard whole
    assert [s[0] for s in chan.sent] == ["stream", "get"]


def test_closing_prompts_travel_in_hotline_announce_only_when_the_dialplan_plays_them(media, tmp_path):
    end = [Play("hello"), Play("menu"), HandOff("queue", "q")]
    told = run(media, [end], announce=True)
    assert told.sent == []
    folder = tmp_path / "p" / "cmn"
    assert told.variables[V.ANNOUNCE] == f"{folder}/hello&{folder}/menu"
    own = run(media, [end], announce=False)
    assert [s[0] for s in own.sent] == ["stream", "stream"] and V.ANNOUNCE not in own.variables
    # an interruptible prompt is the engine's to play (a key may change the decision)
    mixed = run(media, [[Play("hello", barge_in="0"), Play("menu"), HandOff("queue", "q")]], announce=True)
    assert [s[1].rsplit("/", 1)[1] for s in mixed.sent] == ["hello"] and mixed.variables[V.ANNOUNCE].endswith("/menu")


def test_a_prompt_path_asterisk_would_split_is_streamed_not_announced(tmp_path):
    folder = tmp_path / "odd, folder"
    write_wav(folder / "cmn" / "bye.wav", b"\x00\x00" * 10)
    chan = run(Media(prompt_dir=folder, recordings_dir=tmp_path / "r"), [[Play("bye"), HandOff("queue", "q")]],
               announce=True)
    assert chan.sent == [("stream", str(folder / "cmn" / "bye"), "")] and chan.variables[V.ANNOUNCE] == ""
