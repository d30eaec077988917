"""Builds every dependency once from Settings and hands them to the channels."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from core.clock import utcnow
from core.config import Settings
from core.db import Database
from flow.citizen import CitizenFlow, FlowTiming
from flow.services import DbCallLog, EngineServices
from flow.session import CallSession
from flow.survey import SurveyFlow
from ivr.media import Media

log = logging.getLogger(__name__)


class NullCallLog:
    """The survey runs on the call's own channel: it rates that call, it is not a new call."""

    def open(self, event, caller, at) -> None:
        pass

    def close(self, state, at) -> None:
        pass


def make_recognizer(settings: Settings):
    engine = settings.speech_engine
    if engine == "transcript":
        from speech.transcript import TranscriptFileRecognizer
        return TranscriptFileRecognizer()
    if engine in ("auto", "vosk"):
        if settings.speech_model_path is None or not settings.speech_model_path.exists():
            if engine == "vosk":
                log.warning("speech: no Vosk model at %s; keypad only", settings.speech_model_path)
            return None
    return None


@dataclass
class Engine:
    settings: Settings
    db: Database
    media: Media
    services: EngineServices
    calls: DbCallLog
    timing: FlowTiming
    clock_fn: object = field(default=utcnow)

    @property
    def zone(self):
        return self.settings.zone

    @property
    def default_language(self) -> str:
        return self.settings.default_language

    @property
    def max_line(self) -> int:
        return self.settings.agi_buf_len

    def clock(self) -> datetime:
        return self.clock_fn()

    def new_session(self, route: str) -> CallSession:
        if route == "survey":
            flow = SurveyFlow(self.services, self.clock, self.settings.survey_timeout_ms)
            calls = NullCallLog()
        else:
            flow = CitizenFlow(self.services, self.clock, self.timing)
            calls = self.calls
        return CallSession(flow, calls, self.clock, self.settings.queue_for)

    def healthy(self) -> bool:
        return self.db.ping()

    def close(self) -> None:
        self.db.dispose()


def build_engine(settings: Settings, *, db: Database | None = None, clock=utcnow) -> Engine:
    db = db or Database(settings.db_url)
    recognizer = make_recognizer(settings)
    media = Media(prompt_dir=settings.prompt_dir, recordings_dir=settings.recordings_dir,
                  default_language=settings.default_language, recognizer=recognizer)
    services = EngineServices(db, settings.queue_for, speech_available=recognizer is not None)
    timing = FlowTiming(
        menu_timeout_ms=settings.main_prompt_timeout_ms, utterance_max_ms=settings.utterance_max_ms,
        utterance_silence_s=settings.utterance_silence_s, message_max_ms=settings.message_max_ms,
        message_silence_s=settings.message_silence_s,
    )
    return Engine(settings=settings, db=db, media=media, services=services, calls=DbCallLog(db),
                  timing=timing, clock_fn=clock)
