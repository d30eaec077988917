"""The fake Asterisk for tests: re-exports :mod:`softphone` and adds ``place_call``.

    from tests.fake_asterisk import place_call, Press, Listen, Speak, HangUp

    result = place_call(port, Press("0"), callerid="13900000000")
    assert result.variables["HOTLINE_ACTION"] == "queue"
    assert result.agistatus == "SUCCESS"

``softphone`` shares no code with the engine, so the engine's AGI code is checked against an
independent implementation of Asterisk's side (shared/docs/asterisk-agi-protocol.md).
"""
from __future__ import annotations

import re
from typing import Any

from softphone import (AsteriskPeer, AstDB, CallResult, Caller, ExecOutcome, HangUp,
                       KeysOutcome, Listen, PlayOutcome, Press, RecordOutcome, ScriptedCaller,
                       Speak, parse_args, place_calls)

__all__ = ["AsteriskPeer", "AstDB", "CallResult", "Caller", "ExecOutcome", "HangUp",
           "KeysOutcome", "Listen", "PlayOutcome", "Press", "RecordOutcome", "ScriptedCaller",
           "Speak", "foreign_apps", "parse_args", "place_call", "place_calls"]

_ENGINE_MSET = re.compile(r"HOTLINE_[A-Z_]+=[A-Za-z0-9_.:/@+*#&-]*")


def foreign_apps(result: CallResult) -> list[tuple[str, str]]:
    """Applications the server ran (EXEC) other than its own end-of-call ``MSet``, which may
    only set ``HOTLINE_*`` variables to plain tokens — caller text never gets there."""
    return [(app, options) for app, options in result.apps
            if not (app == "MSet" and all(_ENGINE_MSET.fullmatch(p) for p in options.split(",")))]


def place_call(port: int, *actions, host: str = "127.0.0.1", caller: Caller | None = None,
               hangup_at_command: int | None = None,
               exec_results: dict[str, ExecOutcome] | None = None,
               **peer_options: Any) -> CallResult:
    """One call to the FastAGI server at ``host:port``.

    ``actions`` script the caller (Listen, Press, Speak, HangUp) unless ``caller`` is given;
    ``peer_options`` go to :class:`AsteriskPeer` (script, args, callerid, calleridname,
    language, env, variables, exit_on_hangup, sighup, dead_start, realtime, timeout, …).
    """
    if caller is None:
        caller = ScriptedCaller(actions, hangup_at_command=hangup_at_command,
                                exec_results=exec_results)
    elif actions or hangup_at_command is not None:
        raise TypeError("give either a caller or actions/hangup_at_command, not both")
    return AsteriskPeer(host, port, caller, **peer_options).run()


def synthesised(result: CallResult) -> list[str]:
    """What the engine's synthesised files the caller heard say (the cache keeps each file's
    text in ``<file>.txt``), in the order played."""
    out = []
    for path in result.played:
        try:
            with open(path + ".txt", encoding="utf-8") as f:
                out.append(f.read())
        except OSError:
            continue
    return out
