"""The call's state: plain data, serialisable to JSON (the Twilio channel stores it per CallSid)."""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field


@dataclass
class CallerInfo:
    key: str                     # normalised number ('' when withheld)
    kind: str                    # mobile | landline | service | international | withheld
    masked: str
    blockable: bool


@dataclass
class CallState:
    call_id: str
    route: str                   # hotline | survey
    language: str
    channel: str
    caller: CallerInfo
    mode: str = "normal"
    subject: str = ""
    step: str = "start"
    steps: list[str] = field(default_factory=list)
    transcript: list[str] = field(default_factory=list)
    data: dict = field(default_factory=dict)
    done: bool = False
    outcome: str | None = None   # handed_off | abandoned | restricted | self_served | message | error
    action: str | None = None
    target: str | None = None
    ticket: str | None = None
    hangup_point: str | None = None
    message_path: str | None = None

    def enter(self, step: str) -> None:
        self.step = step
        self.steps.append(step)

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "CallState":
        raw = json.loads(text)
        raw["caller"] = CallerInfo(**raw["caller"])
        return cls(**raw)
