"""Call a running FastAGI engine from a terminal: this program plays Asterisk, you play the caller.

    hotline call                      # 127.0.0.1:4573, route "hotline", caller 13800138000
    hotline call --number 13912345678 --port 4573
    printf '0\\n' | hotline call       # non-interactive: one input line per question

What you hear is printed (the prompt's text when it is known); when the engine waits for you,
type: digits such as ``0`` or ``123#``; nothing (Enter) to stay silent; ``say: 我要查询社保``
or plain text to speak (when recording, it is saved as the transcript of a silent recording);
``hangup`` or Ctrl-D to hang up. At the end it shows the channel variables the engine set
(HOTLINE_*), AGISTATUS and where the dialplan would continue.
"""
from __future__ import annotations

import argparse
import os
import sys
from typing import Any, TextIO

from softphone.callers import HangUp, Listen, Press, ScriptedCaller, Speak
from softphone.wire import DTMF

try:
    import tomllib
except ModuleNotFoundError:          # pragma: no cover - Python < 3.11
    tomllib = None  # type: ignore[assignment]

HINTS = {
    "play": "  (keys {escape} interrupt · Enter = keep listening · hangup)",
    "say": "  (keys {escape} interrupt · Enter = keep listening · hangup)",
    "option": "  (press one of {escape} · Enter = nothing · hangup)",
    "data": "  (type digits, # ends · Enter = nothing · hangup)",
    "digit": "  (press a key · Enter = nothing · hangup)",
    "record": "  (recording: type what you say, 'say: …' or text; add ' #' to press # after;"
              " Enter = silence · hangup)",
}
_toml_cache: dict[str, dict] = {}


def prompt_text(path: str) -> str:
    """Text to show for a played file: ``<path>.txt``, else the entry of ``prompts.toml`` for
    ``.../prompts/<lang>/<id>`` (each part's, for ``<id>+<id>`` joined prompts), else the file name."""
    sidecar = path + ".txt"
    if os.path.isfile(sidecar):
        try:
            with open(sidecar, encoding="utf-8") as f:
                return f.read().strip()
        except OSError:
            pass
    folder, name = os.path.split(path)
    if "+" in name.strip("+"):          # prompts joined into one file: <first>+<second>
        return " ".join(prompt_text(os.path.join(folder, part)) for part in name.split("+") if part)
    parts = os.path.normpath(path).split(os.sep)
    if len(parts) >= 3 and parts[-3] == "prompts" and tomllib is not None:
        table = os.path.join(os.sep.join(parts[:-3]) or os.sep, "prompts.toml")
        texts = _load_toml(table)
        entry: Any = texts
        for key in parts[-1].split("."):
            entry = entry.get(key) if isinstance(entry, dict) else None
        if isinstance(entry, dict):
            lang = parts[-2]
            text = entry.get(lang) or entry.get("cmn") or next(
                (v for v in entry.values() if isinstance(v, str)), None)
            if text:
                return str(text)
    return os.path.basename(path)


def _load_toml(path: str) -> dict:
    if path not in _toml_cache:
        try:
            with open(path, "rb") as f:
                _toml_cache[path] = tomllib.load(f)
        except (OSError, ValueError):
            _toml_cache[path] = {}
    return _toml_cache[path]


def parse_input(line: str | None):
    """One line typed by the caller → an action (None/EOF = hang up)."""
    if line is None:
        return HangUp()
    text = line.strip()
    if not text:
        return Listen()
    if text.lower() in ("hangup", "hang up", "bye", "quit", "q"):
        return HangUp()
    if text.lower().startswith("say:"):
        text = text[4:].strip()
    elif all(c in DTMF for c in text):
        return Press(text)
    end = "silence"
    if text.endswith("#") and len(text) > 1:
        text, end = text[:-1].rstrip(), "#"
    return Speak(text=text, end=end)


class TerminalCaller(ScriptedCaller):
    """A person at a terminal (or lines from a pipe) plays the caller."""

    def __init__(self, inp: TextIO | None = None, out: TextIO | None = None,
                 interactive: bool | None = None):
        super().__init__()
        self.inp = inp or sys.stdin
        self.out = out or sys.stdout
        self.interactive = self.inp.isatty() if interactive is None else interactive

    def show(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def more(self, kind: str, info: dict[str, Any]):
        escape = info.get("escape") or "any key"
        self.show(HINTS.get(kind, "  (your turn)").format(escape=escape))
        if self.interactive:
            print("> ", end="", file=self.out, flush=True)
        line = self.inp.readline()
        if line == "":
            line = None
        elif not self.interactive:
            self.show(f"> {line.rstrip()}")
        return parse_input(line)

    def on_play(self, path, escape_digits, duration_ms):
        self.show(f"♪ {prompt_text(path)}")
        return super().on_play(path, escape_digits, duration_ms)

    def on_get_option(self, path, escape_digits, timeout_ms, duration_ms):
        self.show(f"♪ {prompt_text(path)}")
        return super().on_get_option(path, escape_digits, timeout_ms, duration_ms)

    def on_get_data(self, path, timeout_ms, max_digits, duration_ms):
        if path:
            self.show(f"♪ {prompt_text(path)}")
        return super().on_get_data(path, timeout_ms, max_digits, duration_ms)

    def on_say(self, kind, value, escape_digits, duration_ms):
        self.show(f"♪ (says {kind} {value})")
        return super().on_say(kind, value, escape_digits, duration_ms)

    def on_record(self, path, fmt, escape_digits, max_ms, silence_s):
        self.show("● recording — speak now")
        return super().on_record(path, fmt, escape_digits, max_ms, silence_s)

    def on_event(self, kind: str, detail: str = "") -> None:
        super().on_event(kind, detail)
        text = {
            "answer": "(the call is answered)",
            "hangup": "(the line goes dead: the engine hung up)",
            "music": f"(music on hold: {detail})" if detail else "(music stops)",
            "exec": f"(dialplan application {detail})",
            "beep": "(beep)",
        }.get(kind)
        if text:
            self.show(text)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="hotline call",
        description="Call a running FastAGI engine from this terminal. This program plays "
                    "Asterisk; you are the caller. Type digits (e.g. 0 or 123#), text to speak "
                    "('say: …'), Enter for silence, 'hangup' or Ctrl-D to hang up.")
    p.add_argument("--host", default="127.0.0.1", help="engine address (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=4573, help="FastAGI port (default 4573)")
    p.add_argument("--route", default="hotline",
                   help="FastAGI route, the script part of agi://host/ROUTE (default hotline)")
    p.add_argument("--number", default="13800138000", help="your caller number")
    p.add_argument("--name", default="unknown", help="your caller name")
    p.add_argument("--language", default="zh", help="channel language (default zh)")
    p.add_argument("--arg", action="append", default=[], help="an AGI() argument (repeatable)")
    p.add_argument("--exit-on-hangup", action="store_true", help="set AGIEXITONHANGUP=yes")
    p.add_argument("--sounds-dir", default=None, help="where relative sound names live")
    p.add_argument("--timeout", type=float, default=30.0,
                   help="give up if the engine says nothing for this many seconds")
    p.add_argument("--show-agi", action="store_true", help="print the AGI lines exchanged")
    p.add_argument("--all-variables", action="store_true",
                   help="show every channel variable at the end, not only HOTLINE_*")
    return p


def main(argv: list[str] | None = None, stdin: TextIO | None = None,
         stdout: TextIO | None = None) -> int:
    from softphone.asterisk import AsteriskPeer

    args = build_parser().parse_args(argv)
    out = stdout or sys.stdout
    caller = TerminalCaller(stdin, out)
    caller.show(f"Calling agi://{args.host}:{args.port}/{args.route} as {args.number} …")
    peer = AsteriskPeer(args.host, args.port, caller, script=args.route, args=tuple(args.arg),
                        callerid=args.number, calleridname=args.name, language=args.language,
                        exit_on_hangup=args.exit_on_hangup, sounds_dir=args.sounds_dir,
                        timeout=args.timeout)
    result = peer.run()
    if not result.connected:
        print(f"error: cannot reach the engine at {args.host}:{args.port} "
              f"(is `hotline serve` running?)", file=sys.stderr)
        return 1
    if args.show_agi:
        caller.show("--- AGI lines ---")
        for direction, line in result.transcript:
            caller.show(f"{direction} {line}")
    _summary(caller, result, args.all_variables)
    return 0


def _summary(caller: TerminalCaller, result, all_variables: bool) -> None:
    caller.show("--- call ended ---")
    shown = {k: v for k, v in sorted(result.variables.items())
             if all_variables or k.startswith("HOTLINE_")}
    caller.show("channel variables set by the engine:" if shown else
                "channel variables set by the engine: (none)")
    for key, value in shown.items():
        caller.show(f"  {key}={value}")
    caller.show(f"AGISTATUS={result.agistatus}")
    if result.continuation is None:
        caller.show("dialplan: the channel is hung up (the h extension runs)")
    else:
        context, exten, prio = result.continuation
        caller.show(f"dialplan continues at {context},{exten},{prio}")
    caller.show(f"call time: {result.elapsed_ms / 1000:.1f} s"
                + (f" · {len(result.errors)} protocol error(s)" if result.errors else "")
                + (" · timed out waiting for the engine" if result.timed_out else ""))


if __name__ == "__main__":
    sys.exit(main())
