"""Builds every dependency once from Settings and hands them to the channels."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from core import metrics
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
    """Vosk when a model is configured or installed; the transcript-file recogniser for trying and
    tests; otherwise None, and the engine runs keypad-only (and says so)."""
    engine = settings.speech_engine
    if engine == "off":
        log.warning("speech: off (speech_engine = off); keypad only")
        return None
    if engine == "transcript":
        from speech.transcript import TranscriptFileRecognizer
        return TranscriptFileRecognizer()
    from speech.models import default_models_dir, resolve_model_path
    path = resolve_model_path(settings)
    if path is None:
        log.warning("speech: off, no Vosk model at %s; keypad only (install one with "
                    "`hotline speech install-model`)", settings.speech_model_path or default_models_dir(settings))
        return None
    from speech.vosk_engine import VoskRecognizer
    recognizer = VoskRecognizer(path, workers=settings.speech_workers or None, timeout_s=settings.speech_timeout_s,
                                max_pending=settings.speech_max_pending or None)
    recognizer.preload(background=True)          # loads while the first greeting plays
    log.info("speech: on, Vosk model %s (%d workers)", path, recognizer.workers)
    # every attribute passes through; recognize_file is timed for /metrics
    return metrics.Timed(recognizer, {"recognize_file": metrics.RECOGNITION_SECONDS})


@dataclass
class Engine:
    settings: Settings
    db: Database
    media: Media
    services: EngineServices
    calls: DbCallLog
    timing: FlowTiming
    clock_fn: object = field(default=utcnow)
    kb: object = None
    tickets: object = None
    router: object = None

    @property
    def zone(self):
        return self.settings.zone

    @property
    def default_language(self) -> str:
        return self.settings.default_language

    @property
    def max_line(self) -> int:
        return self.settings.agi_buf_len

    @property
    def offload_db(self) -> bool:
        """PostgreSQL is across a network: calls' database work goes to worker threads, so a
        slow query holds up its own call only. SQLite answers from a local file in microseconds,
        less than handing the work to a thread would cost: it runs in place."""
        return not self.db.is_sqlite

    def clock(self) -> datetime:
        return self.clock_fn()

    def new_session(self, route: str) -> CallSession:
        if route == "survey":
            flow = SurveyFlow(self.services, self.clock, self.settings.survey_timeout_ms)
            calls = NullCallLog()
        else:
            flow = CitizenFlow(self.services, self.clock, self.timing)
            calls = self.calls
        return CallSession(flow, calls, self.clock, self.settings.queue_for, outage=self.db.outage)

    def scheduled_jobs(self) -> list:
        """The jobs `hotline serve` schedules (run by one process at a time, see hotline.scheduler)."""
        from blocklist.jobs import ending_tomorrow_notice
        from callers.calls import close_stale
        from core.logs import mask_number
        from hotline.scheduler import Job

        def blocks_ending_tomorrow() -> None:
            ending = ending_tomorrow_notice(self.db, self.clock(), self.zone)
            for block in ending:
                log.info("restriction ends tomorrow: %s (%s)", mask_number(block.get("number")),
                         block.get("ground"))
            log.info("%d restriction(s) end tomorrow", len(ending))

        def close_stale_calls() -> None:
            with self.db.session() as s:
                closed = close_stale(s, self.clock(), timedelta(minutes=self.settings.stale_call_minutes))
            if closed:
                log.warning("closed %d call record(s) left open", closed)

        def leader_sessions() -> None:
            from leader_desk.jobs import open_and_close

            with self.db.session() as s:
                result = open_and_close(s, self.clock())
            if result["opened"] or result["closed"]:
                log.info("leader sessions: %s", result)

        from analytics.reports import report_job
        from analytics.signals import scan_job

        def ticket_deadlines() -> None:
            marked = self.tickets.desk.mark_deadlines(self.clock())
            log.info("ticket deadlines: %s", marked)

        return [Job("blocklist_ending_tomorrow", blocks_ending_tomorrow, "cron", hour=8, minute=0),
                Job("ticket_deadlines", ticket_deadlines, "interval", minutes=10),
                Job("leader_sessions", leader_sessions, "interval", minutes=1),
                Job("routing_callbacks", self.router.place_callbacks, "interval", seconds=30),
                Job("weak_signals", scan_job(self.db, self.settings, self.clock), "interval",
                    minutes=self.settings.signal_scan_minutes),
                Job("daily_reports", report_job(self.db, self.settings, self.clock), "cron", hour=1, minute=0),
                Job("close_stale_calls", close_stale_calls, "interval", minutes=30)]

    def record_outcome(self, call_id: str, kind: str, status: str) -> bool:
        from callers.calls import record_agent_status
        from leader_desk.service import record_leader_outcome

        def work(s) -> bool:
            done = record_agent_status(s, call_id[:32], kind, status)
            if kind == "leader":
                record_leader_outcome(s, call_id[:32], status)
            return done

        return self.db.write(work)

    def healthy(self) -> bool:
        return self.db.ping()

    def drain(self, timeout: float = 60.0) -> None:
        """Wait until the background work queued so far (transcripts, call records) is written."""
        if self.tickets is not None:
            self.tickets.drain(timeout)
        self.db.sync(timeout)

    def close(self) -> None:
        if self.tickets is not None:
            self.tickets.close()
        if self.router is not None:
            self.router.close()
        if self.media.streaming is not None:
            self.media.streaming.stop()
        recognizer = self.media.recognizer
        if recognizer is not None and hasattr(recognizer, "close"):
            recognizer.close()
        self.db.dispose()


def restriction_hook(db: Database):
    """The blocklist check before the greeting; a refused attempt joins the block's history."""
    from blocklist.check import active_block_in, record_attempt
    from flow.ports import Restriction

    def restriction(caller, call_id: str, now: datetime):
        try:
            block = active_block_in(db, caller.key, now)
        except Exception as exc:
            if db.outage(exc):           # the database is away: the caller goes on (human-first)
                return None
            raise
        if block is None:
            return None
        metrics.BLOCKED_ATTEMPTS.inc()
        db.write_behind(lambda s: record_attempt(s, block.id, call_id, now), _log_write_failure("blocked attempt"))
        return Restriction(last_day=block.last_day, until=block.until, ground=block.ground)

    return restriction


def leader_hook(db: Database, cache_s: float = 5.0):
    """The leader session live now (from its times, one indexed query), as the flow's LeaderOnDuty.

    Sessions are scheduled in minutes, so the answer is kept for ``cache_s`` seconds: at 100 calls
    a second that is one query instead of 500, and a session still starts and ends on time
    (within ``cache_s``) whatever the scheduler did."""
    import threading
    import time

    from flow.ports import LeaderOnDuty
    from leader_desk.service import live_session

    cached: dict = {"at": -1e9, "value": None}
    lock = threading.Lock()

    def leaders(now: datetime):
        with lock:
            if time.monotonic() - cached["at"] < cache_s:
                return cached["value"]
        try:
            with db.read_session() as s:
                live = live_session(s, now)
        except Exception as exc:  # noqa: BLE001 - without the desk nobody is announced; the call goes on
            if not db.outage(exc):
                log.exception("leader desk unavailable; no leader announced")
            return None
        value = None if live is None else LeaderOnDuty(announcement=live.announcement, seat=live.dial_string,
                                                       session_id=str(live.session_id))
        with lock:
            cached.update(at=time.monotonic(), value=value)
        return value

    return leaders


def leader_call_hook(db: Database, desk, settings: Settings):
    """A call put through to a leader seat: marked on the leader desk, and a ticket tagged
    leader-received opened for it (its number travels with the call as HOTLINE_TICKET)."""
    from leader_desk.models import LEADER_TICKET_TAG
    from leader_desk.service import record_leader_call
    from tickets.service import create_ticket

    def leader_call(state, now: datetime) -> str | None:
        def work(s):
            record_leader_call(s, call_id=state.call_id, session_id=int(state.data["leader_session"]),
                               seat=state.data["leader_seat"], at=now)
            content = "\n".join(state.transcript) or "领导接听专席来电"
            return create_ticket(s, kind="help", content=content, transcript="\n".join(state.transcript),
                                 received_at=now, zone=settings.zone, calendar=desk.calendar_factory(s),
                                 caller_key=state.caller.key, call_id=state.call_id, source="leader",
                                 actor="leader-desk", language=state.language, tags=(LEADER_TICKET_TAG,),
                                 days=settings.deadline_days, dedup=False).ticket.number
        try:
            return db.write(work)
        except Exception:  # noqa: BLE001 - the caller still reaches the seat
            log.exception("leader call not recorded")
            return None

    return leader_call


def knowledge_hook(kb):
    """The knowledge base's best answer, as the flow's Answer."""
    import dataclasses

    from flow.ports import Answer

    def answer(text: str, language: str):
        with metrics.KNOWLEDGE_SECONDS.time():
            found = kb.answer(text, language)
        return None if found is None else Answer(**dataclasses.asdict(found))

    return answer


PROGRESS_STATUS = {"received": "in_progress", "dispatched": "in_progress", "accepted": "in_progress",
                   "returned": "in_progress", "reported": "awaiting_review", "closed": "closed",
                   "refused": "not_accepted"}


class TicketHooks:
    """The flow's ticket ports over tickets.desk.TicketDesk (each write returns after its commit)."""

    def __init__(self, desk, recognizer=None) -> None:
        self.desk = desk
        self.recognizer = recognizer
        self._transcribe = None
        if recognizer is not None:
            from concurrent.futures import ThreadPoolExecutor
            self._transcribe = ThreadPoolExecutor(max_workers=1, thread_name_prefix="message-asr")

    def take_message(self, state, path: str, duration_ms: int, now: datetime):
        from flow.ports import MessageReceipt

        receipt = self.desk.take_message(caller_key=state.caller.key, call_id=state.call_id, recording_path=path,
                                         received_at=now, transcript="\n".join(state.transcript),
                                         language=state.language)
        if self._transcribe is not None and path:
            # the caller hears the number now; the transcript joins the ticket when it is ready
            self._transcribe.submit(self._attach_transcript, receipt.number, path, state.language)
        return MessageReceipt(ticket=receipt.number, due_date=receipt.due_date)

    def _attach_transcript(self, number: str, path: str, language: str) -> None:
        try:
            text, _confidence = self.recognizer.recognize_file(path, language)
            if text.strip():
                self.desk.attach_transcript(number, text.strip(), utcnow())
        except Exception:  # noqa: BLE001 - the ticket and its recording are already safe
            log.exception("transcript of message for ticket %s failed", number)

    def self_served(self, state, answer: dict, now: datetime):
        return self.desk.self_served(caller_key=state.caller.key, call_id=state.call_id,
                                     question=answer.get("question", ""), answered_at=now,
                                     language=state.language, entry_id=answer.get("id", ""))

    def rate(self, subject: str, call_id: str, rating: int, now: datetime) -> bool:
        return self.desk.rate(subject, call_id or None, rating, now)

    def progress(self, number: str, caller, now: datetime):
        from flow.ports import Progress

        found = self.desk.progress(number, caller.key)
        if found is None:
            return Progress(found=False)
        if not found.details:
            return Progress(found=True, own=False)
        return Progress(found=True, own=True, status=PROGRESS_STATUS.get(found.state or "", "in_progress"),
                        due_date=found.due_date)

    def drain(self, timeout: float = 60.0) -> None:
        """Wait for the transcripts queued so far to be attached."""
        if self._transcribe is not None:
            self._transcribe.submit(lambda: None).result(timeout)

    def close(self) -> None:
        if self._transcribe is not None:
            self._transcribe.shutdown(wait=True)


def _log_write_failure(what: str):
    def failed(exc: BaseException) -> None:
        if not getattr(exc, "connection_invalidated", False):
            log.error("%s not recorded: %s", what, exc.__class__.__name__)
    return failed


def build_engine(settings: Settings, *, db: Database | None = None, clock=utcnow) -> Engine:
    db = db or Database(settings.db_url)
    db.set_read_timeout(settings.db_read_timeout_ms)
    recognizer = make_recognizer(settings)
    from speech import synth

    media = Media(prompt_dir=settings.prompt_dir, recordings_dir=settings.recordings_dir,
                  default_language=settings.default_language, recognizer=recognizer,
                  synthesize=synth.CachedSynthesizer(settings.data_dir / "tts") if synth.available() else None)
    from knowledge.emergency import detect_emergency
    from knowledge.service import KnowledgeBase

    kb = KnowledgeBase(db, threshold=settings.kb_threshold, zone=settings.zone, refresh_s=settings.kb_refresh_s)
    from tickets.desk import TicketDesk
    from tickets.jobs import install_schedule_hook

    install_schedule_hook()          # loading a year's official calendar recomputes provisional deadlines
    from routing.router import Router

    tickets = TicketHooks(TicketDesk.from_settings(db, settings), recognizer)
    router = Router.from_settings(db, settings, clock=clock)
    if settings.audiosocket_port and recognizer is not None and hasattr(recognizer, "start_stream"):
        from ivr.streaming import StreamingSpeech

        media.streaming = StreamingSpeech(
            recognizer, host=settings.audiosocket_host, port=settings.audiosocket_port,
            silence_ms=settings.utterance_silence_s * 1000, max_ms=settings.utterance_max_ms,
            no_speech_ms=settings.utterance_silence_s * 1000 + 1000)
        media.streaming.start()
    services = EngineServices(db, settings.queue_for, speech_available=recognizer is not None,
                              restrictions=restriction_hook(db), emergency=detect_emergency,
                              knowledge=knowledge_hook(kb), messages=tickets.take_message,
                              self_service=tickets.self_served, ratings=tickets.rate,
                              progress=tickets.progress, router=router, leaders=leader_hook(db),
                              leader_calls=leader_call_hook(db, tickets.desk, settings))
    timing = FlowTiming(
        menu_timeout_ms=settings.main_prompt_timeout_ms, utterance_max_ms=settings.utterance_max_ms,
        utterance_silence_s=settings.utterance_silence_s, message_max_ms=settings.message_max_ms,
        message_silence_s=settings.message_silence_s,
    )
    return Engine(settings=settings, db=db, media=media, services=services, calls=DbCallLog(db),
                  timing=timing, clock_fn=clock, kb=kb, tickets=tickets, router=router)
