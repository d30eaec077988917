"""A real Asterisk (20–22) for the shipped dialplan and the engine, when one is installed.

These tests run only when an ``asterisk`` binary is on PATH (CI machines have none: Asterisk is
not packaged for Debian 12); they start it as an unprivileged-style sandbox under a temporary
directory, with only the modules the hotline needs, and drive calls with Local channels.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.e2e.conftest import make_engine, running  # noqa: F401 - the engine fixtures

ROOT = Path(__file__).resolve().parents[2]
ASTERISK = shutil.which("asterisk")

MODULES = ["res_speech.so", "res_agi.so", "app_queue.so", "app_dial.so", "app_mixmonitor.so", "app_read.so", "pbx_config.so",
           "func_strings.so", "func_callerid.so", "func_logic.so", "func_strings.so", "app_senddtmf.so",
           "app_playback.so", "format_wav.so", "format_pcm.so", "codec_resample.so", "codec_ulaw.so",
           "func_channel.so", "app_stack.so", "app_verbose.so", "app_echo.so", "res_musiconhold.so",
           "app_exec.so", "app_waituntil.so", "func_global.so", "app_originate.so", "res_clioriginate.so", "res_audiosocket.so", "app_audiosocket.so"]


class Asterisk:
    def __init__(self, base: Path, engine_port: int) -> None:
        self.base = base
        etc, run = base / "etc", base / "run"
        for d in ("etc", "run", "log", "spool/monitor/hotline", "lib", "data"):
            (base / d).mkdir(parents=True, exist_ok=True)
        prefix = Path(ASTERISK).resolve().parent.parent
        moddir = prefix / "lib" / "asterisk" / "modules"
        # the XML documentation must be found (stasis refuses to start without it)
        installed = next((d for d in (prefix / "var/lib/asterisk", Path("/var/lib/asterisk"))
                          if (d / "documentation").is_dir()), None)
        # a data directory of our own: the installed XML documentation, and the one core sound the
        # engine relies on ("beep", which RECORD FILE plays) when the installation has no sounds
        datadir = base / "data"
        if installed is not None:
            (datadir / "documentation").symlink_to(installed / "documentation")
            if (installed / "sounds").is_dir():
                (datadir / "sounds").symlink_to(installed / "sounds")
        if not (datadir / "sounds" / "en" / "beep.wav").exists() and not any((datadir / "sounds").glob("**/beep.*")):
            for folder in (datadir / "sounds", datadir / "sounds" / "en"):
                folder.mkdir(parents=True, exist_ok=True)
                subprocess.run(["sox", "-n", "-r", "8000", "-b", "16", "-c", "1", str(folder / "beep.wav"),
                                "synth", "0.25", "sine", "1000"], check=True, capture_output=True)
        (etc / "asterisk.conf").write_text(
            "[directories]\n"
            f"astetcdir => {etc}\nastmoddir => {moddir}\nastvarlibdir => {base / 'lib'}\n"
            f"astdbdir => {base / 'lib'}\nastkeydir => {base / 'lib'}\nastdatadir => {datadir}\n"
            f"astagidir => {base / 'lib'}\nastspooldir => {base / 'spool'}\nastrundir => {run}\n"
            f"astlogdir => {base / 'log'}\nastsbindir => {Path(ASTERISK).parent}\n"
            "[options]\nverbose = 3\ndebug = 0\ndefaultlanguage = zh\nhideconnect = yes\n")
        (etc / "modules.conf").write_text("[modules]\nautoload = no\n" +
                                          "".join(f"load => {m}\n" for m in dict.fromkeys(MODULES)))
        (etc / "logger.conf").write_text("[general]\n[logfiles]\nfull => notice,warning,error,verbose\n")
        dialplan = (ROOT / "dialplans" / "extensions_hotline.conf").read_text()
        dialplan = re.sub(r"HOTLINE_AGI=agi://127\.0\.0\.1:4573", f"HOTLINE_AGI=agi://127.0.0.1:{engine_port}", dialplan)
        dialplan = re.sub(r"HOTLINE_MONITOR_DIR=\S+", f"HOTLINE_MONITOR_DIR={base / 'spool/monitor/hotline'}", dialplan)
        dialplan = re.sub(r"HOTLINE_PROMPTS=\S+", f"HOTLINE_PROMPTS={ROOT / 'recordings/prompts'}", dialplan)
        (etc / "extensions_hotline.conf").write_text(dialplan)
        # the caller who speaks starts a second after the greeting and the speech menu have played
        speak_after = 1.0 + sum(_wav_s(ROOT / "recordings/prompts/cmn" / f"{p}.wav") for p in ("greeting", "main_menu_speech"))
        (etc / "extensions.conf").write_text(
            "#include extensions_hotline.conf\n"
            "[test-in]\n"
            "exten => _X.,1,Set(CALLERID(num)=${EXTEN})\n"
            " same => n,Goto(hotline-inbound,12345,1)\n"
            "[caller-silent]\n"
            "exten => s,1,Answer()\n same => n,Wait(25)\n same => n,Hangup()\n"
            "[caller-speaks]\n"   # waits out greeting + speech menu, then says ${SPOKEN} (a WAV, no extension)
            # and then keeps sending (silent) audio, as a phone does, so silence detection can end RECORD FILE
            f"exten => s,1,Answer()\n same => n,Wait({speak_after:.1f})\n same => n,Playback(${{SPOKEN}}&${{SILENCE}})\n"
            " same => n,Hangup()\n"
            "[caller-message]\n"   # presses 2 at the greeting, speaks (a prompt file) after the beep, ends with #
            "exten => s,1,Answer()\n same => n,Wait(1.5)\n same => n,SendDTMF(2)\n same => n,Wait(6)\n"
            f" same => n,Playback({ROOT / 'recordings/prompts/cmn/survey'})\n same => n,SendDTMF(#)\n"
            " same => n,Wait(30)\n same => n,Hangup()\n"
            "[caller-zero]\n"
            "exten => s,1,Answer()\n same => n,Wait(1.5)\n same => n,SendDTMF(0)\n same => n,Wait(12)\n"
            " same => n,Hangup()\n")
        # the shipped queues; their PJSIP members do not exist here, so no agent is ever available
        shutil.copyfile(ROOT / "dialplans" / "queues_hotline.conf", etc / "queues_hotline.conf")
        (etc / "queues.conf").write_text("[general]\n#include queues_hotline.conf\n")
        (etc / "musiconhold.conf").write_text("[general]\n")
        self.conf = etc / "asterisk.conf"
        self.proc = subprocess.Popen([ASTERISK, "-C", str(self.conf), "-f", "-n", "-q"],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.cli("core waitfullybooted").returncode == 0:
                return
            time.sleep(0.3)
        raise AssertionError("asterisk did not start: " + self.log()[-2000:])

    def cli(self, command: str) -> subprocess.CompletedProcess:
        return subprocess.run([ASTERISK, "-C", str(self.conf), "-rx", command], capture_output=True, text=True,
                              timeout=30)

    def log(self) -> str:
        path = self.base / "log" / "full"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        self.cli("core stop now")
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def _wav_s(path: Path) -> float:
    import wave

    with wave.open(str(path), "rb") as w:
        return w.getnframes() / w.getframerate()


@pytest.fixture
def asterisk(tmp_path_factory, running):
    if ASTERISK is None:
        pytest.skip("no asterisk binary on PATH (tests against a real Asterisk run where one is installed)")
    ast = Asterisk(tmp_path_factory.mktemp("ast"), running.port)
    yield ast
    ast.stop()


def wait_for(predicate, timeout: float = 40.0, step: float = 0.3):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    return predicate()
