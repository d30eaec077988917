"""The AGI-script entry (stdin/stdout) and the terminal caller, each driven for real."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
from pathlib import Path

from callers.models import CallRecord
from tests.fake_asterisk import Listen, Press, place_call

BIN = Path(sys.executable).parent


def test_hotline_agi_script_runs_the_same_flow_over_stdio(tmp_path, sqlite_template):
    """Asterisk runs AGI(hotline-agi,hotline): the script's stdin/stdout are the AGI channel."""
    shutil.copyfile(sqlite_template, tmp_path / "hotline.db")
    env = dict(os.environ, HOTLINE_DATA_DIR=str(tmp_path))
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    procs = []

    def bridge():
        conn, _ = listener.accept()
        procs.append(subprocess.run([str(BIN / "hotline-agi"), "hotline"], stdin=conn, stdout=conn,
                                    stderr=subprocess.PIPE, env=env, timeout=60))
        conn.close()

    t = threading.Thread(target=bridge)
    t.start()
    result = place_call(port, Listen(), Press("0"), env={"agi_network": None, "agi_network_script": None},
                        args=("hotline", "yue"))
    t.join()
    listener.close()
    assert procs[0].returncode == 0, procs[0].stderr.decode()
    assert result.variables["HOTLINE_ACTION"] == "queue" and result.variables["HOTLINE_TARGET"] == "hotline-yue"
    from core.db import Database

    db = Database(f"sqlite:///{tmp_path / 'hotline.db'}")
    with db.session() as s:
        rec = s.query(CallRecord).one()
    db.dispose()
    assert rec.channel == "agi" and rec.outcome == "handed_off"


def test_terminal_caller_shows_prompts_and_takes_typed_digits(running):
    proc = subprocess.run(
        [str(BIN / "hotline"), "call", "--port", str(running.port), "--number", "13800138000"],
        input="\n0\n", capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "幺二三四五热线" in out                      # the greeting's text is shown
    assert "HOTLINE_ACTION" in out and "queue" in out
