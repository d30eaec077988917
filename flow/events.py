"""Events a channel feeds to the flow."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CallStarted:
    call_id: str
    channel: str                 # fastagi | agi | twilio
    channel_ref: str             # agi_uniqueid or CallSid
    caller_number: str | None    # raw caller ID as the network gave it
    caller_name: str | None
    language: str                # cmn | yue | hak
    dnid: str = ""
    mode: str = "normal"         # normal | closed (the dialplan says no agent can answer)
    route: str = "hotline"       # hotline | survey
    subject: str = ""            # survey: the call id or ticket number being rated
    language_given: bool = True  # False: the dialplan named no language (history or a prompt decides)


@dataclass(frozen=True)
class Digits:
    digits: str


@dataclass(frozen=True)
class Speech:
    text: str
    confidence: float


@dataclass(frozen=True)
class NoInput:
    pass


@dataclass(frozen=True)
class Recorded:
    path: str
    duration_ms: int
    ended_by: str                # silence | dtmf | timeout | hangup


@dataclass(frozen=True)
class HungUp:
    pass


Event = CallStarted | Digits | Speech | NoInput | Recorded | HungUp
