"""Scripted callers for the fake Asterisk, and running many calls at once.

A :class:`ScriptedCaller` follows a list of actions, consumed in order by the *interactive*
commands — those that take the caller's input: a prompt with escape digits (STREAM FILE,
CONTROL STREAM FILE, SAY …, GET OPTION), GET DATA, WAIT FOR DIGIT and RECORD FILE. A prompt
without escape digits cannot be interrupted and takes nothing from the script (except HangUp).

* ``Listen()`` — no input: the prompt plays to its end, GET DATA / WAIT FOR DIGIT time out,
  RECORD FILE ends by silence (a short silent recording).
* ``Press("12#")`` — keys. A prompt takes the first key as a barge-in only if it is one of its
  escape digits (otherwise the Press is left for the next command and the prompt plays on);
  GET DATA takes keys up to its max digits (``#`` ends the entry and is not part of it);
  WAIT FOR DIGIT takes the first. Keys a command does not take stay queued for the next one.
* ``Speak(text, wav=None, end="silence")`` — for RECORD FILE: the recording gets ``wav`` (or 1 s of
  silence) and ``<path>.txt`` gets ``text``; ``end="#"`` presses # after speaking. Met by GET DATA
  or WAIT FOR DIGIT it is consumed as a timeout; prompts leave it for later.
* ``HangUp()`` — the current media command (whatever it is) ends in its hang-up form;
  ``HangUp(between=True)`` hangs up while the server is thinking, before its next command.
* An exhausted script means Listen. ``hangup_at_command=k`` hangs up during the k-th media
  command (0-based; each prompt of an EXEC Playback counts) whatever the actions say.
"""
from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from softphone.outcomes import (Caller, ExecOutcome, KeysOutcome, PlayOutcome, RecordOutcome)

__all__ = ["Caller", "ExecOutcome", "HangUp", "KeysOutcome", "Listen", "PlayOutcome", "Press",
           "RecordOutcome", "ScriptedCaller", "Speak", "place_calls", "EXEC_MEDIA_APPS"]

# EXEC applications that count as media commands here. Playback/Background, Read, Record and
# Say* are counted by the prompt, key or recording callbacks their default behaviour makes.
EXEC_MEDIA_APPS = {"dial", "queue", "wait", "musiconhold", "voicemail", "echo"}
PRESS_AT_MS = 1000          # default: a key comes one second into the command
DEFAULT_GAP_MS = 300


@dataclass(frozen=True)
class Listen:
    """Stay silent for one interactive command."""


@dataclass(frozen=True)
class Press:
    keys: str
    at_ms: int | None = None          # when the first key is pressed (default 1 s, within prompt)
    gap_ms: int = DEFAULT_GAP_MS


@dataclass(frozen=True)
class Speak:
    text: str | None = None
    wav: str | None = None
    end: str = "silence"              # "silence" or a key such as "#"
    speech_ms: int | None = None      # length of the silent stand-in audio when no wav (1 s)


@dataclass(frozen=True)
class HangUp:
    between: bool = False
    at_ms: int | None = None          # into the command (default: halfway through a prompt)


Action = Listen | Press | Speak | HangUp


class ScriptedCaller(Caller):
    """A caller that follows ``actions``; see the module docstring for the rules."""

    def __init__(self, actions: Iterable[Action] = (), hangup_at_command: int | None = None,
                 exec_results: dict[str, ExecOutcome] | None = None, give_up_ms: int = 60_000):
        self.actions: deque[Action] = deque(actions)
        self.hangup_at_command = hangup_at_command
        self.exec_results = {k.lower(): v for k, v in (exec_results or {}).items()}
        self.give_up_ms = give_up_ms
        self.media_commands = 0
        self.consumed: list[tuple[str, Action]] = []     # (command kind, action) for debugging
        self.events: list[tuple[str, str]] = []

    # --- the script -------------------------------------------------------------------------

    def more(self, kind: str, info: dict[str, Any]) -> Action | None:
        """Called when the script is empty at an interactive command; None means Listen.
        Subclasses (the terminal caller) ask a person here."""
        return None

    def _head(self, kind: str, interactive: bool, **info: Any) -> Action | None:
        if not self.actions and interactive:
            action = self.more(kind, info)
            if action is not None:
                self.actions.append(action)
        return self.actions[0] if self.actions else None

    def _take(self, kind: str) -> Action:
        action = self.actions.popleft()
        self.consumed.append((kind, action))
        return action

    def _forced(self) -> bool:
        k = self.media_commands
        self.media_commands += 1
        return self.hangup_at_command is not None and k == self.hangup_at_command

    def _hangup_now(self, kind: str) -> HangUp | None:
        """A forced hang-up, or a HangUp at the head of the script (consumed)."""
        if self._forced():
            return HangUp()
        head = self.actions[0] if self.actions else None
        if isinstance(head, HangUp) and not head.between:
            return self._take(kind)           # type: ignore[return-value]
        return None

    # --- prompts ----------------------------------------------------------------------------

    def _prompt(self, kind: str, escape: str, duration_ms: int, **info: Any) -> PlayOutcome:
        hang = self._hangup_now(kind)
        if hang is not None:
            return PlayOutcome.hung_up(_at(hang.at_ms, duration_ms // 2, duration_ms))
        head = self._head(kind, bool(escape), escape=escape, duration_ms=duration_ms, **info)
        if isinstance(head, HangUp) and not head.between:
            self._take(kind)
            return PlayOutcome.hung_up(_at(head.at_ms, duration_ms // 2, duration_ms))
        if isinstance(head, Press) and head.keys and escape and head.keys[0] in escape:
            self._take(kind)
            self._keep(head.keys[1:], head.gap_ms)
            return PlayOutcome.pressed(head.keys[0], _at(head.at_ms, PRESS_AT_MS, duration_ms))
        if isinstance(head, Listen) and escape:
            self._take(kind)
        return PlayOutcome.finished()

    def on_play(self, path: str, escape_digits: str, duration_ms: int) -> PlayOutcome:
        return self._prompt("play", escape_digits, duration_ms, path=path)

    def on_say(self, kind: str, value: str, escape_digits: str, duration_ms: int) -> PlayOutcome:
        return self._prompt("say", escape_digits, duration_ms, say=kind, value=value)

    def on_get_option(self, path: str, escape_digits: str, timeout_ms: int,
                      duration_ms: int) -> PlayOutcome:
        hang = self._hangup_now("option")
        if hang is not None:
            return PlayOutcome.hung_up(_at(hang.at_ms, duration_ms // 2, duration_ms))
        head = self._head("option", True, path=path, escape=escape_digits,
                          timeout_ms=timeout_ms, duration_ms=duration_ms)
        if head is None or (isinstance(head, HangUp) and head.between):
            return PlayOutcome.finished()
        self._take("option")
        if isinstance(head, HangUp):
            return PlayOutcome.hung_up(_at(head.at_ms, duration_ms // 2, duration_ms))
        if isinstance(head, Press) and head.keys:
            self._keep(head.keys[1:], head.gap_ms)
            key = head.keys[0]
            if key in escape_digits:
                return PlayOutcome.pressed(key, _at(head.at_ms, PRESS_AT_MS, duration_ms))
            wait = 500 if timeout_ms < 0 else min(500, timeout_ms)
            return PlayOutcome.pressed(key, duration_ms + wait)   # during the wait after it
        return PlayOutcome.finished()

    # --- keys ---------------------------------------------------------------------------------

    def _keys(self, kind: str, timeout_ms: int, prompt_ms: int, **info: Any) -> KeysOutcome:
        endless = timeout_ms < 0
        hang = self._hangup_now(kind)
        if hang is not None:
            default = prompt_ms // 2 if prompt_ms else min(1000, max(0, timeout_ms) // 2 or 1000)
            return KeysOutcome.silent(_at(hang.at_ms, default, None))
        head = self._head(kind, True, timeout_ms=timeout_ms, prompt_ms=prompt_ms, **info)
        if isinstance(head, HangUp) and not head.between:
            self._take(kind)
            default = prompt_ms // 2 if prompt_ms else min(1000, max(0, timeout_ms) // 2 or 1000)
            return KeysOutcome.silent(_at(head.at_ms, default, None))
        if isinstance(head, Press) and head.keys:
            self._take(kind)
            if head.at_ms is not None:
                first = head.at_ms
            elif prompt_ms:
                first = min(PRESS_AT_MS, prompt_ms)
            else:
                first = min(PRESS_AT_MS, timeout_ms) if timeout_ms > 0 else PRESS_AT_MS
            hang_at = None
            if endless and "#" not in head.keys:
                hang_at = first + len(head.keys) * head.gap_ms + self.give_up_ms
            return KeysOutcome.typed(head.keys, first, head.gap_ms, hang_at)
        if head is not None and not (isinstance(head, HangUp) and head.between):
            self._take(kind)                  # Listen or Speak: nothing typed
        return KeysOutcome.silent(prompt_ms + self.give_up_ms if endless else None)

    def on_get_data(self, path: str, timeout_ms: int, max_digits: int,
                    duration_ms: int) -> KeysOutcome:
        return self._keys("data", timeout_ms, duration_ms, path=path, max_digits=max_digits)

    def on_wait_digit(self, timeout_ms: int) -> KeysOutcome:
        return self._keys("digit", timeout_ms, 0)

    def leftover_keys(self, keys: str) -> None:
        self._keep(keys, DEFAULT_GAP_MS)

    def _keep(self, keys: str, gap_ms: int) -> None:
        if keys:
            self.actions.appendleft(Press(keys, at_ms=gap_ms, gap_ms=gap_ms))

    # --- recording ------------------------------------------------------------------------------

    def on_record(self, path: str, fmt: str, escape_digits: str, max_ms: int,
                  silence_s: int) -> RecordOutcome:
        hang = self._hangup_now("record")
        if hang is not None:
            default = min(1000, max_ms // 2) if max_ms > 0 else 1000
            return RecordOutcome(speech_ms=_at(hang.at_ms, default, None), end="hangup")
        head = self._head("record", True, path=path, escape=escape_digits, max_ms=max_ms,
                          silence_s=silence_s)
        if isinstance(head, HangUp) and not head.between:
            self._take("record")
            default = min(1000, max_ms // 2) if max_ms > 0 else 1000
            return RecordOutcome(speech_ms=_at(head.at_ms, default, None), end="hangup")
        if isinstance(head, Speak):
            self._take("record")
            end = "silence" if head.end == "silence" else "key"
            speech_ms = head.speech_ms if head.speech_ms is not None else 1000
            return RecordOutcome(wav=head.wav, speech_ms=0 if head.wav else speech_ms,
                                 text=head.text, end=end, key=head.end if end == "key" else "#")
        if isinstance(head, Press) and head.keys:
            if head.keys[0] in escape_digits:
                self._take("record")
                self._keep(head.keys[1:], head.gap_ms)
                at = head.at_ms if head.at_ms is not None else PRESS_AT_MS
                return RecordOutcome(speech_ms=at, end="key", key=head.keys[0])
            return RecordOutcome()
        if isinstance(head, Listen):
            self._take("record")
        return RecordOutcome()

    # --- applications and the time between commands ------------------------------------------

    def on_exec(self, app: str, options: str) -> ExecOutcome | None:
        name = app.lower()
        if name in EXEC_MEDIA_APPS:
            if self._hangup_now("exec") is not None:
                return ExecOutcome(result=-1, hangup=True, duration_ms=1000)
        return self.exec_results.get(name)

    def between_commands(self) -> bool:
        head = self.actions[0] if self.actions else None
        if isinstance(head, HangUp) and head.between:
            self._take("between")
            return True
        return False

    def on_event(self, kind: str, detail: str = "") -> None:
        self.events.append((kind, detail))


def _at(value: int | None, default: int, limit: int | None) -> int:
    at = default if value is None else value
    return max(0, at if limit is None else min(at, limit))


# --- many calls at once ---------------------------------------------------------------------

def place_calls(host: str, port: int,
                callers_and_kwargs: Sequence[Caller | tuple[Caller, dict[str, Any]]],
                concurrency: int = 10) -> list:
    """Run one call per entry (a Caller, or (Caller, AsteriskPeer keyword options)) against
    ``host:port``, ``concurrency`` at a time in threads; returns the CallResults in input order."""
    from softphone.asterisk import AsteriskPeer

    def one(entry: Caller | tuple[Caller, dict[str, Any]]):
        caller, kwargs = (entry, {}) if isinstance(entry, Caller) else entry
        return AsteriskPeer(host, port, caller, **kwargs).run()

    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        return list(pool.map(one, callers_and_kwargs))

