"""Engine configuration: one TOML file plus ``HOTLINE_*`` environment variables.

Nothing reads configuration at import time; the composition root (``hotline.bootstrap``)
calls :func:`load_settings` once and passes the result down.
"""
from __future__ import annotations

import dataclasses
import os
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
    timezone: str = "Asia/Shanghai"
    # FastAGI listener
    fastagi_host: str = "127.0.0.1"
    fastagi_port: int = 4573
    # web listener (Twilio webhooks, console)
    web_host: str = "127.0.0.1"
    web_port: int = 8080
    # concurrency and robustness of the FastAGI server
    max_calls: int = 1000
    accept_queue: int = 200
    socket_timeout: float = 180.0
    shutdown_grace: float = 30.0
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
        for name in ("blocklist_suggest_window_hours", "blocklist_suggest_calls_without_request",
                     "blocklist_suggest_short_calls", "blocklist_suggest_short_call_seconds",
                     "blocklist_suggest_flagged_calls", "blocklist_suggest_flag_window_days"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be ≥ 1")
        self._validate_deadline_days()
        self._validate_tickets()
        if not 0.0 <= self.kb_threshold <= 1.0:
            raise ConfigError("kb_threshold must be between 0 and 1")
        if self.kb_refresh_s < 0:
            raise ConfigError("kb_refresh_s must be ≥ 0 seconds (0 = never re-read)")
        return self

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
