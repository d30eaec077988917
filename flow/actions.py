"""Actions the flow asks a channel to perform.

A turn is a list of actions: zero or more outputs (Play, PlayText, SayDigits, SayDate) and then
either one input action (Collect*, RecordMessage), whose result comes back as the next event,
or one terminal action (HandOff, Hangup), which ends the engine's part of the call.
A digit pressed during an output whose ``barge_in`` allows it skips the rest of the outputs and
is delivered as a Digits event to the step that the turn's input action belongs to.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

QUEUE, LEADER, EMERGENCY, HANGUP = "queue", "leader", "emergency", "hangup"
HANDOFF_ACTIONS = (QUEUE, LEADER, EMERGENCY, HANGUP)


@dataclass(frozen=True)
class Play:
    prompt: str                  # logical prompt id, see flow.prompts
    barge_in: str = ""


@dataclass(frozen=True)
class PlayText:
    text: str                    # knowledge answers, names: synthesised or pre-recorded by hash
    barge_in: str = ""
    audio: str | None = None     # a recorded file for this text, when one exists


@dataclass(frozen=True)
class SayDigits:
    digits: str


@dataclass(frozen=True)
class SayDate:
    day: date


@dataclass(frozen=True)
class CollectDigits:
    prompt: str | None
    max_digits: int
    timeout_ms: int


@dataclass(frozen=True)
class CollectSpeech:
    prompt: str
    max_ms: int
    silence_s: int
    barge_in: str = "0"


@dataclass(frozen=True)
class RecordMessage:
    prompt: str
    max_ms: int
    silence_s: int


@dataclass(frozen=True)
class HandOff:
    action: str                  # queue | leader | emergency
    target: str                  # queue name, seat dial string, 110/119/120

    def __post_init__(self) -> None:
        if self.action not in (QUEUE, LEADER, EMERGENCY):
            raise ValueError(f"unknown hand-off action {self.action!r}")


@dataclass(frozen=True)
class Hangup:
    pass


OUTPUTS = (Play, PlayText, SayDigits, SayDate)
INPUTS = (CollectDigits, CollectSpeech, RecordMessage)
TERMINALS = (HandOff, Hangup)
Action = Play | PlayText | SayDigits | SayDate | CollectDigits | CollectSpeech | RecordMessage | HandOff | Hangup
