"""A fake Asterisk for FastAGI, independent of the engine, plus callers to drive it.

* :class:`softphone.asterisk.AsteriskPeer` — the Asterisk side of one FastAGI session over TCP.
* :mod:`softphone.callers` — scripted caller behaviour (``Listen``, ``Press``, ``Speak``,
  ``HangUp``) and ``place_calls`` for many concurrent calls.
* :mod:`softphone.terminal` — a person at a terminal plays the caller (``hotline call``).

Stdlib only; it must never import the engine's packages.
"""
from softphone.asterisk import AsteriskPeer, CallResult
from softphone.callers import (Caller, ExecOutcome, HangUp, KeysOutcome, Listen, PlayOutcome,
                               Press, RecordOutcome, ScriptedCaller, Speak, place_calls)
from softphone.channel import AstDB
from softphone.wire import parse_args

__all__ = ["AsteriskPeer", "AstDB", "CallResult", "Caller", "ExecOutcome", "HangUp",
           "KeysOutcome", "Listen", "PlayOutcome", "Press", "RecordOutcome", "ScriptedCaller",
           "Speak", "parse_args", "place_calls"]
