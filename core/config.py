"""Engine configuration: one TOML file plus ``HOTLINE_*`` environment variables.

Nothing reads configuration at import time; the composition root (``hotline.bootstrap``)
calls :func:`load_settings` once and passes the result down.
"""
from __future__ import annotations

import dataclasses
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
LANGUAGES = ("cmn", "yue", "hak")


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names it."""


def _default_queues() -> dict[str, str]:
    return {"cmn": "hotline-cmn", "yue": "hotline-yue", "hak": "hotline-hak"}


# Twilio (ivr/twilio): recognition (<Gather language>) and speech (<Say voice language>) per call
# language. Gather tags follow Twilio's <Gather> language list (Google STT BCP-47 tags); there
# is no Hakka recogniser, so Hakka callers are recognised as Mandarin. Say voices are Twilio's
# Google voices (cmn-CN, yue-HK); Polly.Zhiyu-Neural (cmn-CN) and Polly.Hiujin-Neural (yue-CN)
# also work. All three maps are settings; these are the defaults.
TWILIO_LANGUAGES = {"cmn": "cmn-Hans-CN", "yue": "yue-Hant-HK", "hak": "cmn-Hans-CN"}
TWILIO_SAY_LANGUAGES = {"cmn": "cmn-CN", "yue": "yue-HK", "hak": "cmn-CN"}
TWILIO_VOICES = {"cmn": "Google.cmn-CN-Standard-A", "yue": "Google.yue-HK-Standard-A",
                 "hak": "Google.cmn-CN-Standard-A"}
EMERGENCY_NUMBERS = ("110", "119", "120")
_LANGUAGE_TAG = re.compile(r"[A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8}){0,3}")
_VOICE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_DIAL_NUMBER = re.compile(r"\+?[0-9]{3,15}")
_SIP_URI = re.compile(r"sips?:[^\s<>\"'&]{1,200}")
_QUEUE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_PUBLIC_URL = re.compile(r"https?://[A-Za-z0-9.-]+(?::[0-9]{1,5})?(?:/[A-Za-z0-9._~!$()*+,;=:@%/-]*)?")


def dial_target(value: str) -> bool:
    """A number or SIP URI Twilio can <Dial> (as opposed to a queue name to <Enqueue>)."""
    return bool(_DIAL_NUMBER.fullmatch(value) or _SIP_URI.fullmatch(value))


# ticket kinds (DESIGN §3.2) and their legal deadlines in working days
TICKET_KINDS = ("consult", "help", "suggestion", "complaint", "report")
DEADLINE_DAYS_MAX = 365


def _default_deadline_days() -> dict[str, int]:
    return {"consult": 2, "help": 10, "suggestion": 10, "complaint": 15, "report": 15}


@dataclass
class Settings:
    # where the engine keeps its state (SQLite file, recorded messages, synthesized audio)
    data_dir: Path = Path("var")
    # SQLAlchemy URL; empty means SQLite under data_dir
    database_url: str = ""
    # PostgreSQL: the call path's one-statement reads (blocklist check, priority registry) are
    # cancelled by the server after this long, and the caller goes on (to the greeting and a
    # person) instead of waiting in silence while, say, a migration holds a lock
    db_read_timeout_ms: int = 2000
    timezone: str = "Asia/Shanghai"
    # FastAGI listener
    fastagi_host: str = "127.0.0.1"
    fastagi_port: int = 4573
    # web listener (Twilio webhooks, console)
    web_host: str = "127.0.0.1"
    web_port: int = 8080
    # --- twilio: voice webhooks (ivr/twilio/, served by the web listener; README "Connect a Twilio
    # number"). Empty twilio_public_url or twilio_auth_token = the /twilio routes answer 503. ---
    # the public base URL Twilio reaches this listener at (https://hotline.example.gov.cn, no
    # trailing /, no query). Signatures are checked against it, never against the Host header
    twilio_public_url: str = ""
    # the Twilio account's auth token: a secret, never logged, never printed (TOML or
    # HOTLINE_TWILIO_AUTH_TOKEN)
    twilio_auth_token: str = field(default="", repr=False)
    # prompts and answers as <Say> of their text with Twilio's voices (true) instead of <Play> of
    # the engine's own audio served under twilio_public_url/audio/... (false; text without audio
    # is said anyway)
    twilio_use_say: bool = False
    # <Say voice=...> per call language (Twilio's Google/Polly voice names)
    twilio_voices: dict[str, str] = field(default_factory=lambda: dict(TWILIO_VOICES))
    # <Say language=...> per call language (must match the voice)
    twilio_say_languages: dict[str, str] = field(default_factory=lambda: dict(TWILIO_SAY_LANGUAGES))
    # <Gather language=...>: speech recognition language per call language (BCP-47 tags from
    # Twilio's <Gather> language list; Hakka has none there: Mandarin recognition)
    twilio_languages: dict[str, str] = field(default_factory=lambda: dict(TWILIO_LANGUAGES))
    # queue name (the `queues` values) → an <Enqueue> name, or a +E.164 number / sip: URI to <Dial>;
    # a queue not listed is <Enqueue>d under its own name
    twilio_queue_numbers: dict[str, str] = field(default_factory=dict)
    # 110 / 119 / 120 → the number to <Dial> (+E.164, a short code your trunk routes, or sip:);
    # not configured = the caller goes to the agent queue with the emergency noted on the call
    twilio_emergency_numbers: dict[str, str] = field(default_factory=dict)
    # leader seat (its dial string, e.g. PJSIP/leader1) → +E.164 number or sip: URI to <Dial>;
    # a seat not listed goes to the agent queue
    twilio_leader_seats: dict[str, str] = field(default_factory=dict)
    # concurrency and robustness of the FastAGI server
    max_calls: int = 1000
    accept_queue: int = 200
    # hub threads the calls are spread over (core.cooperative): 1 is the least CPU per call; more
    # when call steps wait on the network (PostgreSQL reads), so one slow step holds up fewer calls
    fastagi_hubs: int = 1
    socket_timeout: float = 180.0
    shutdown_grace: float = 30.0
    # a call stays in the engine's hands for minutes at most (prompts, a 2-minute message): a call
    # record still open after this long was left by an engine that died, and is closed as such
    stale_call_minutes: int = 30
    agi_buf_len: int = 2048
    # prompts: the directory Asterisk reads them from (same host by default)
    prompt_dir: Path = PROJECT_ROOT / "recordings" / "prompts"
    default_language: str = "cmn"
    queues: dict[str, str] = field(default_factory=_default_queues)
    # call-flow timing
    main_prompt_timeout_ms: int = 4000
    survey_timeout_ms: int = 5000
    message_max_ms: int = 120_000
    message_silence_s: int = 4
    utterance_max_ms: int = 15_000
    utterance_silence_s: int = 2
    # speech: "auto" (Vosk when a model is present), "off", "vosk", "transcript" (dev/tests)
    speech_engine: str = "auto"
    speech_model_path: Path | None = None
    # --- speech recognition (Vosk; speech/vosk_engine.py, speech/models.py) ---
    # decoding threads shared by all calls (0 = one per CPU core); seconds a caller waits for one
    # recognition before going to a person; recognitions allowed to wait or run at once
    # (0 = 8 per worker; beyond that a caller goes to a person at once)
    speech_workers: int = 0
    speech_timeout_s: float = 20.0
    speech_max_pending: int = 0
    # AudioSocket listener for streaming recognition, AudioSocket(uuid,host:port); port 0 = off
    audiosocket_host: str = "127.0.0.1"
    audiosocket_port: int = 0
    log_level: str = "INFO"
    # blocklist (DESIGN §3.1): who decides, and when calls patterns are suggested for a block
    blocklist_two_step: bool = True          # a proposal waits for an admin's approval by another person
    blocklist_direct_add: bool = True        # admins may also block directly (hotline blocklist add)
    blocklist_suggest_window_hours: int = 24           # calls looked at for suggestions
    blocklist_suggest_calls_without_request: int = 10  # calls in the window with no request recorded
    blocklist_suggest_short_calls: int = 5             # very short or silent calls in the window
    blocklist_suggest_short_call_seconds: int = 5      # "very short": under this many seconds
    blocklist_suggest_flagged_calls: int = 2           # calls flagged abusive by agents ...
    blocklist_suggest_flag_window_days: int = 30       # ... within this many days
    # ticket deadlines: working days per request kind (consult, help, suggestion, complaint,
    # report), counted from the day after receipt (DESIGN §3.2). TOML [hotline.deadline_days]
    # or HOTLINE_DEADLINE_DAYS="consult=2,complaint=15"; kinds not given keep the default.
    deadline_days: dict[str, int] = field(default_factory=_default_deadline_days)
    # tickets: a new request from the same caller that matches one of their open tickets received
    # within this many days (bigram cosine ≥ the similarity) is linked to it, not re-created
    ticket_duplicate_window_days: int = 30
    ticket_duplicate_similarity: float = 0.5
    ticket_message_kind: str = "help"          # kind of a ticket made from a left message
    ticket_return_visit_days: int = 7          # closed unrated tickets this recent are called back
    ticket_return_visit_attempts: int = 3      # ... at most this many times
    ticket_extension_max_days: int = 15        # working days one extension request may ask for
    # knowledge base (DESIGN §3.4): a transcript is answered when the best match's calibrated
    # confidence reaches kb_threshold (chosen from bench/kb_retrieval.py, see docs/benchmarks.md);
    # a running engine re-reads entries imported by another process every kb_refresh_s seconds
    kb_threshold: float = 0.65
    kb_refresh_s: float = 30.0
    # --- agent routing (routing/, issue 6) ---
    # Asterisk's manager interface (AMI; manager.conf — dialplans/manager_hotline.conf has a
    # least-privilege user): live queue state (QueueSummary) and call-backs (Originate). Empty
    # ami_secret = AMI off: no live state, so every caller is routed to the queue, and no call-backs
    # are placed. Every AMI action (connect, login, a list until EventList: Complete) is bounded by
    # ami_timeout_s; an unreachable manager is retried with back-off, callers meanwhile go to the queue
    ami_host: str = "127.0.0.1"
    ami_port: int = 5038
    ami_username: str = "hotline"
    ami_secret: str = field(default="", repr=False)
    ami_timeout_s: float = 1.5
    # live queue state is reused this many seconds (500 calls at once make one AMI query)
    queue_state_cache_s: float = 2.0
    # a caller whose estimated wait exceeds this is offered a message or a call-back (0 = never)
    overflow_wait_s: int = 180
    # QUEUE_PRIO of callers with a registered priority number (适老化: straight to a person, ahead
    # of the queue; `hotline routing priority add`)
    priority_level: int = 10
    # staffed hours per queue name on the holiday-aware calendar (调休 working days included); a
    # queue not listed is staffed always. "always" | "never" | "<days> HH:MM-HH:MM [HH:MM-HH:MM ...]"
    # with <days> daily | workdays | restdays, clauses joined by ";". TOML [hotline.staffed_hours]
    # or HOTLINE_STAFFED_HOURS="hotline-hak=workdays 08:30-12:00 13:30-17:30;restdays 09:00-12:00"
    staffed_hours: dict[str, str] = field(default_factory=dict)
    # call-backs: Originate Local/<number>@<callback_context> (extensions_hotline.conf
    # [hotline-callback]); the citizen's phone rings callback_ring_s seconds, at most
    # callback_max_attempts times, callback_retry_s seconds apart; they see callback_caller_id
    callback_context: str = "hotline-callback"
    callback_max_attempts: int = 3
    callback_ring_s: int = 30
    callback_retry_s: int = 300
    callback_caller_id: str = "12345"
    # call-backs are placed only in these local hours (same grammar as staffed_hours) and while the
    # queue is staffed: nobody is rung at night because an agent happens to be free
    callback_hours: str = "daily 08:00-21:00"
    # ask the caller's language with a short prompt (1 普通话, 2 粤语, 3 客家话) when neither the
    # dialplan argument nor the caller's history gives it
    language_prompt: bool = False
    # the language of the caller's last calls (this many) is used when the dialplan gives none
    # (0 = history not used)
    language_history_calls: int = 3
    # scheduler lease (hotline/scheduler.py): held for ttl seconds and renewed every renew seconds;
    # when the holding process dies another takes the scheduled jobs over within ttl + renew seconds
    scheduler_lease_ttl_s: float = 30.0
    scheduler_lease_renew_s: float = 10.0
    # --- analytics (analytics/: weak signals, knowledge gaps, reports, data sharing) ---
    # weak signals: every signal_scan_minutes the scan groups the tickets of the last
    # signal_window_minutes by region and topic (or text similarity ≥ signal_similarity, TF-IDF
    # cosine of jieba words) and raises an alert when a group's count n reaches
    # max(signal_min_count, signal_ratio × λ), λ its usual count per window over the previous
    # signal_baseline_days days, and n that high would happen by chance with probability
    # P(X ≥ n | Poisson λ) ≤ signal_max_p_value
    signal_window_minutes: int = 60
    signal_baseline_days: int = 14
    signal_min_count: int = 5
    signal_ratio: float = 3.0
    signal_max_p_value: float = 0.001
    signal_similarity: float = 0.35
    signal_scan_minutes: int = 10
    # knowledge gaps: questions the knowledge base could not answer in the last gap_days days are
    # grouped when similar (same measure, ≥ gap_similarity); groups smaller than gap_min_count are
    # not shown
    gap_days: int = 30
    gap_similarity: float = 0.4
    gap_min_count: int = 2
    # reports: how many topics the "top topics" figure lists
    report_top_topics: int = 10
    # data sharing: roles whose ticket exports keep callers' numbers and names (comma-separated)
    export_personal_roles: str = "admin"
    # --- web console (web/console/, issue 8): pages under /console on the web listener; accounts
    # are made with `hotline users add` ---
    # the console's public base URL (https://hotline.example.gov.cn behind a reverse proxy); with
    # https, session cookies are marked Secure. Empty: twilio_public_url when that is set
    console_public_url: str = ""
    # the key that signs session cookies (≥ 32 characters; HOTLINE_CONSOLE_SECRET_KEY). Empty: a
    # random key is made at first use and kept in the database, so every engine node signs alike
    console_secret_key: str = field(default="", repr=False)
    # a session ends after this many idle minutes, and in any case this many hours after log-in
    console_session_idle_minutes: int = 30
    console_session_max_hours: int = 12
    # log-in rate limit, kept in the database so every process agrees: after this many failed
    # attempts for one account (or from one client address) within console_login_window_minutes,
    # attempts are refused for console_login_lockout_s seconds, doubling with each further failure
    # up to console_login_lockout_max_s
    console_login_max_failures: int = 5
    console_login_max_failures_per_address: int = 20
    console_login_window_minutes: int = 15
    console_login_lockout_s: int = 60
    console_login_lockout_max_s: int = 3600
    # shortest password `hotline users add|set-password` accepts
    console_password_min_length: int = 10
    # take the client address from X-Forwarded-For (its last entry): only behind a reverse proxy
    # that sets it, else anyone could pick the address the rate limit counts
    console_trust_forwarded: bool = False
    # GET /metrics (Prometheus text format) on the web listener
    metrics_enabled: bool = True
    # --- retention (privacy/retention.py, `hotline privacy purge`; docs/operations.md explains the
    # periods and the PIPL articles behind them). Counted from when a record is finished: a ticket
    # closed or refused, a call record ended; open tickets are never touched. ---
    # message recordings (and stray utterance files) are deleted this many days after that
    retention_recordings_days: int = 180
    # callers' numbers are masked, names blanked and transcripts removed this many days after that
    retention_personal_days: int = 365 * 3

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def db_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'hotline.db').resolve()}"

    @property
    def recordings_dir(self) -> Path:
        return self.data_dir / "recordings"

    def queue_for(self, language: str) -> str:
        return self.queues.get(language) or self.queues[self.default_language]

    def validate(self) -> "Settings":
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ConfigError(f"timezone: unknown zone {self.timezone!r}") from exc
        if self.default_language not in LANGUAGES:
            raise ConfigError(f"default_language must be one of {', '.join(LANGUAGES)}")
        if self.default_language not in self.queues:
            raise ConfigError(f"queues: no queue for the default language {self.default_language}")
        for name in ("fastagi_port", "web_port"):
            port = getattr(self, name)
            if not 0 <= port <= 65535:
                raise ConfigError(f"{name}: {port} is not a TCP port")
        if self.agi_buf_len not in (2048, 8192):
            raise ConfigError("agi_buf_len must be 2048 or 8192 (Asterisk's AGI_BUF_LEN)")
        if self.speech_engine not in ("auto", "off", "vosk", "transcript"):
            raise ConfigError("speech_engine must be auto, off, vosk or transcript")
        if self.speech_workers < 0 or self.speech_max_pending < 0:
            raise ConfigError("speech_workers and speech_max_pending must be ≥ 0 (0 = automatic)")
        if not self.speech_timeout_s > 0:
            raise ConfigError("speech_timeout_s must be > 0 seconds")
        if not 0 <= self.audiosocket_port <= 65535:
            raise ConfigError(f"audiosocket_port: {self.audiosocket_port} is not a TCP port")
        if self.max_calls < 1 or self.accept_queue < 0:
            raise ConfigError("max_calls must be ≥ 1 and accept_queue ≥ 0")
        if not 1 <= self.fastagi_hubs <= 16:
            raise ConfigError("fastagi_hubs must be 1 to 16")
        # the longest command Asterisk may take to answer is a message's RECORD FILE: a timeout
        # below it would cut a citizen in the middle of leaving a message
        longest_s = max(self.message_max_ms, self.utterance_max_ms) / 1000
        if not longest_s + 10 <= self.socket_timeout <= 86400:
            raise ConfigError(f"socket_timeout must be at least {longest_s + 10:.0f} s (the longest recording, "
                              "message_max_ms, plus 10 s) and at most 86400 s")
        for name in ("blocklist_suggest_window_hours", "blocklist_suggest_calls_without_request",
                     "blocklist_suggest_short_calls", "blocklist_suggest_short_call_seconds",
                     "blocklist_suggest_flagged_calls", "blocklist_suggest_flag_window_days"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be ≥ 1")
        self._validate_deadline_days()
        self._validate_tickets()
        self._validate_twilio()
        if not 0.0 <= self.kb_threshold <= 1.0:
            raise ConfigError("kb_threshold must be between 0 and 1")
        if self.kb_refresh_s < 0:
            raise ConfigError("kb_refresh_s must be ≥ 0 seconds (0 = never re-read)")
        self._validate_analytics()
        self._validate_routing()
        self._validate_console()
        for name in ("retention_recordings_days", "retention_personal_days"):
            if not 1 <= getattr(self, name) <= 36500:
                raise ConfigError(f"{name} must be a whole number of days from 1 to 36500")
        return self

    def _validate_console(self) -> None:
        url = self.console_public_url.strip().rstrip("/")
        if url and not _PUBLIC_URL.fullmatch(url):
            raise ConfigError("console_public_url must be an http(s) base URL without query "
                              "(e.g. https://hotline.example.gov.cn)")
        self.console_public_url = url
        key = self.console_secret_key
        if key and (len(key) < 32 or any(ch.isspace() or not ch.isprintable() for ch in key)):
            raise ConfigError("console_secret_key must be at least 32 printable characters without spaces "
                              "(or empty: a key is kept in the database)")
        for name in ("console_session_idle_minutes", "console_session_max_hours", "console_login_max_failures",
                     "console_login_max_failures_per_address", "console_login_window_minutes",
                     "console_login_lockout_s"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be ≥ 1")
        if self.console_login_lockout_max_s < self.console_login_lockout_s:
            raise ConfigError("console_login_lockout_max_s must be ≥ console_login_lockout_s")
        if not 8 <= self.console_password_min_length <= 128:
            raise ConfigError("console_password_min_length must be from 8 to 128")

    @property
    def console_url(self) -> str:
        """The console's public base URL ('' when unknown)."""
        return self.console_public_url or self.twilio_public_url

    def _validate_routing(self) -> None:
        if not 1 <= self.ami_port <= 65535:
            raise ConfigError(f"ami_port: {self.ami_port} is not a TCP port")
        if not self.ami_host.strip():
            raise ConfigError("ami_host must not be empty")
        for name in ("ami_username", "ami_secret"):
            value = getattr(self, name)
            if any(ch in value for ch in "\r\n"):       # they are sent as AMI header lines
                raise ConfigError(f"{name} must be one line")
        if not 50 <= self.db_read_timeout_ms <= 60_000:
            raise ConfigError("db_read_timeout_ms must be between 50 and 60000 milliseconds")
        if not 0 < self.ami_timeout_s <= 30:
            raise ConfigError("ami_timeout_s must be > 0 and at most 30 seconds")
        if not 0 <= self.queue_state_cache_s <= 60:
            raise ConfigError("queue_state_cache_s must be between 0 and 60 seconds")
        if self.overflow_wait_s < 0:
            raise ConfigError("overflow_wait_s must be ≥ 0 seconds (0 = never offer on overflow)")
        if not 1 <= self.priority_level <= 1000:
            raise ConfigError("priority_level must be from 1 to 1000 (Asterisk QUEUE_PRIO)")
        for queue, spec in self.staffed_hours.items():
            # keyed by queue name (a queue not configured is simply never routed to)
            if not _CONTEXT.fullmatch(queue):
                raise ConfigError(f"staffed_hours: {queue[:64]!r} is not a queue name (letters, digits, _ -)")
            problem = staffed_hours_problem(spec)
            if problem:
                raise ConfigError(f"staffed_hours: {queue}: {problem}")
        if not _CONTEXT.fullmatch(self.callback_context):
            raise ConfigError("callback_context must be a dialplan context name (letters, digits, _ -)")
        if not 1 <= self.callback_max_attempts <= 10:
            raise ConfigError("callback_max_attempts must be from 1 to 10")
        if not 5 <= self.callback_ring_s <= 120:
            raise ConfigError("callback_ring_s must be from 5 to 120 seconds")
        if self.callback_retry_s < 0:
            raise ConfigError("callback_retry_s must be ≥ 0 seconds")
        if not re.fullmatch(r"[0-9]{3,20}", self.callback_caller_id):
            raise ConfigError("callback_caller_id must be 3 to 20 digits")
        problem = staffed_hours_problem(self.callback_hours)
        if problem:
            raise ConfigError(f"callback_hours: {problem}")
        if not 0 <= self.language_history_calls <= 20:
            raise ConfigError("language_history_calls must be from 0 to 20")
        if not 0 < self.scheduler_lease_renew_s < self.scheduler_lease_ttl_s:
            raise ConfigError("scheduler_lease_renew_s must be > 0 and less than scheduler_lease_ttl_s")

    def _validate_analytics(self) -> None:
        for name in ("signal_window_minutes", "signal_baseline_days", "signal_min_count",
                     "signal_scan_minutes", "gap_days", "gap_min_count", "report_top_topics"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be ≥ 1")
        if self.signal_window_minutes > 7 * 24 * 60:
            raise ConfigError("signal_window_minutes must be at most a week (10080)")
        if self.signal_baseline_days * 24 * 60 < 2 * self.signal_window_minutes:
            raise ConfigError("signal_baseline_days must cover at least two signal windows")
        if not self.signal_ratio >= 1.0:
            raise ConfigError("signal_ratio must be ≥ 1 (a cluster is unusual above its usual level)")
        if not 0.0 < self.signal_max_p_value <= 1.0:
            raise ConfigError("signal_max_p_value must be in (0, 1] (1 = no significance test)")
        for name in ("signal_similarity", "gap_similarity"):
            if not 0.0 < getattr(self, name) <= 1.0:
                raise ConfigError(f"{name} must be in (0, 1]")

    @property
    def export_personal_role_set(self) -> frozenset[str]:
        return frozenset(r.strip() for r in self.export_personal_roles.split(",") if r.strip())

    def _validate_tickets(self) -> None:
        for name in ("ticket_duplicate_window_days", "ticket_return_visit_days",
                     "ticket_return_visit_attempts", "ticket_extension_max_days"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be ≥ 1")
        if not 0.0 < self.ticket_duplicate_similarity <= 1.0:
            raise ConfigError("ticket_duplicate_similarity must be in (0, 1]")
        if self.ticket_message_kind not in TICKET_KINDS:
            raise ConfigError(f"ticket_message_kind must be one of {', '.join(TICKET_KINDS)}")

    def _validate_deadline_days(self) -> None:
        unknown = sorted(set(self.deadline_days) - set(TICKET_KINDS))
        if unknown:
            raise ConfigError(f"deadline_days: unknown kind {', '.join(unknown)} "
                              f"(known: {', '.join(TICKET_KINDS)})")
        for kind, days in self.deadline_days.items():
            if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= DEADLINE_DAYS_MAX:
                raise ConfigError(f"deadline_days: {kind} = {days!r} must be a whole number of "
                                  f"working days from 1 to {DEADLINE_DAYS_MAX}")
        # kinds not given keep the default; the order is always that of TICKET_KINDS
        merged = {**_default_deadline_days(), **self.deadline_days}
        self.deadline_days = {kind: merged[kind] for kind in TICKET_KINDS}


    def _validate_twilio(self) -> None:
        url = self.twilio_public_url.strip().rstrip("/")
        if url and not _PUBLIC_URL.fullmatch(url):
            raise ConfigError("twilio_public_url must be the http(s) base URL Twilio reaches this "
                              "engine at, without query or fragment (e.g. https://hotline.example.gov.cn)")
        self.twilio_public_url = url
        token = self.twilio_auth_token
        if token and (len(token) < 16 or any(ch.isspace() or not ch.isprintable() for ch in token)):
            # never echo the token itself
            raise ConfigError("twilio_auth_token does not look like a Twilio auth token "
                              "(at least 16 printable characters, no spaces)")
        if bool(url) != bool(token):
            raise ConfigError("twilio_public_url and twilio_auth_token go together: set both or neither")
        for name, default, pattern in (("twilio_languages", TWILIO_LANGUAGES, _LANGUAGE_TAG),
                                       ("twilio_say_languages", TWILIO_SAY_LANGUAGES, _LANGUAGE_TAG),
                                       ("twilio_voices", TWILIO_VOICES, _VOICE_NAME)):
            given = getattr(self, name)
            unknown = sorted(set(given) - set(LANGUAGES))
            if unknown:
                raise ConfigError(f"{name}: unknown language {', '.join(unknown)} (known: {', '.join(LANGUAGES)})")
            for lang, value in given.items():
                if not pattern.fullmatch(value):
                    raise ConfigError(f"{name}: {lang} = {value[:40]!r} is not valid")
            setattr(self, name, {**default, **given})
        for queue, target in self.twilio_queue_numbers.items():
            if not (dial_target(target) or _QUEUE_NAME.fullmatch(target)):
                raise ConfigError(f"twilio_queue_numbers: {queue[:40]} = {target[:40]!r} is neither a "
                                  "number, a sip: URI nor a queue name (letters, digits, _ . -)")
        unknown = sorted(set(self.twilio_emergency_numbers) - set(EMERGENCY_NUMBERS))
        if unknown:
            raise ConfigError(f"twilio_emergency_numbers: {', '.join(u[:10] for u in unknown)} is not "
                              "110, 119 or 120")
        for name in ("twilio_emergency_numbers", "twilio_leader_seats"):
            for key, target in getattr(self, name).items():
                if not dial_target(target):
                    raise ConfigError(f"{name}: {key[:40]} = {target[:40]!r} is not a number "
                                      "(+E.164 or digits) or a sip: URI")

# staffed hours (routing/hours.py reads them; checked here so a bad file fails at load)
_CONTEXT = re.compile(r"[A-Za-z0-9_.-]{1,79}")
_HHMM = r"(?:[01][0-9]|2[0-3]):[0-5][0-9]"
_WINDOW = re.compile(rf"({_HHMM})-({_HHMM}|24:00)")
_HOURS_CLAUSE = re.compile(rf"(?:always|never|(?:daily|workdays|restdays)(?:\s+{_HHMM}-(?:{_HHMM}|24:00))+)")


def staffed_hours_problem(spec: str) -> str | None:
    """What is wrong with a staffed-hours text, or None (grammar in Settings.staffed_hours)."""
    clauses = [c.strip() for c in str(spec).split(";")]
    if not any(clauses):
        return "empty (use always, never or e.g. 'workdays 08:30-17:30')"
    for clause in clauses:
        if not _HOURS_CLAUSE.fullmatch(clause):
            return (f"{clause[:40]!r} is not 'always', 'never' or '<daily|workdays|restdays> "
                    f"HH:MM-HH:MM [HH:MM-HH:MM ...]'")
        for start, end in _WINDOW.findall(clause):
            if end <= start and end != "24:00":
                return f"{start}-{end}: the end must be after the start (split a night into two windows)"
    return None


def _coerce(name: str, typ, raw):
    try:
        if typ in ("bool", bool):
            if isinstance(raw, bool):
                return raw
            word = str(raw).strip().lower()
            if word in ("1", "true", "yes", "on"):
                return True
            if word in ("0", "false", "no", "off"):
                return False
            raise ValueError(raw)
        if typ in ("int", int):
            return int(raw)
        if typ in ("float", float):
            return float(raw)
        if typ in ("Path", "Path | None", Path):
            return Path(raw) if raw not in ("", None) else None
        if typ in ("dict[str, str]",):
            if isinstance(raw, dict):
                return {str(k): str(v) for k, v in raw.items()}
            # env form: "cmn=hotline-cmn,yue=hotline-yue"
            pairs = [p.split("=", 1) for p in str(raw).split(",") if p.strip()]
            return {k.strip(): v.strip() for k, v in pairs}
        if typ in ("dict[str, int]",):
            return _int_map(name, raw)
        return str(raw)
    except ConfigError:
        raise
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{name}: cannot read {raw!r} as {typ}") from exc


def _int_map(name: str, raw) -> dict[str, int]:
    """A TOML table of whole numbers, or the env form "consult=2,complaint=15"."""
    if isinstance(raw, dict):
        items = [(str(k), v) for k, v in raw.items()]
    else:
        items = []
        for piece in (p.strip() for p in str(raw).split(",")):
            if not piece:
                continue
            key, sep, value = piece.partition("=")
            if not sep or not key.strip():
                raise ConfigError(f"{name}: {piece!r} is not KEY=NUMBER (e.g. consult=2,complaint=15)")
            items.append((key.strip(), value.strip()))
    result: dict[str, int] = {}
    for key, value in items:
        if isinstance(value, str) and value.lstrip("+-").isdigit():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{name}: {key} = {value!r} is not a whole number")
        result[key] = value
    return result


def load_settings(path: str | os.PathLike | None = None, env: dict[str, str] | None = None,
                  **overrides) -> Settings:
    """Settings from defaults, then the TOML file, then ``HOTLINE_*`` variables, then overrides."""
    env = dict(os.environ if env is None else env)
    values: dict = {}
    path = path or env.get("HOTLINE_CONFIG")
    if path:
        try:
            with open(path, "rb") as fh:
                data = tomllib.load(fh)
        except FileNotFoundError as exc:
            raise ConfigError(f"configuration file not found: {path}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"configuration file {path}: {exc}") from exc
        values.update(data.get("hotline", data))
    fields = {f.name: f for f in dataclasses.fields(Settings)}
    for key, raw in list(values.items()):
        if key not in fields:
            raise ConfigError(f"unknown setting {key!r} in {path}")
        values[key] = _coerce(key, fields[key].type, raw)
    for name, f in fields.items():
        raw = env.get("HOTLINE_" + name.upper())
        if raw is not None:
            values[name] = _coerce(name, f.type, raw)
    values.update(overrides)
    return Settings(**values).validate()
