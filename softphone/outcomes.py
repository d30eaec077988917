"""What a caller does during a media command, and the ``Caller`` interface the fake Asterisk asks.

The fake Asterisk (:mod:`softphone.asterisk`) owns the protocol: argument checks, result strings,
Asterisk's rules for escape digits, ``#`` and timeouts. A :class:`Caller` owns the human side: for
each media command it says what the person did and when (times are milliseconds from the start of
the command). The fake then applies Asterisk's rules to that, so a caller cannot make it send a
response a real Asterisk would not send (a digit that is not an escape digit does not interrupt a
prompt, keys after a timeout are not taken, and so on).
"""
from __future__ import annotations

from dataclasses import dataclass, field

FINISHED, DIGIT, HANGUP = "finished", "digit", "hangup"


@dataclass(frozen=True)
class PlayOutcome:
    """How a prompt (STREAM FILE, CONTROL STREAM FILE, SAY …, GET OPTION) went for the caller.

    ``kind`` is ``finished`` (listened to the end), ``digit`` (pressed ``digit`` at ``at_ms``) or
    ``hangup`` (hung up at ``at_ms``). For GET OPTION an ``at_ms`` past the prompt's end means
    during the wait after it. ``at_ms`` None means at the end of the prompt.
    """
    kind: str = FINISHED
    digit: str = ""
    at_ms: int | None = None

    @classmethod
    def finished(cls) -> "PlayOutcome":
        return cls()

    @classmethod
    def pressed(cls, digit: str, at_ms: int | None = None) -> "PlayOutcome":
        return cls(DIGIT, digit, at_ms)

    @classmethod
    def hung_up(cls, at_ms: int | None = None) -> "PlayOutcome":
        return cls(HANGUP, "", at_ms)


@dataclass(frozen=True)
class KeysOutcome:
    """Keys typed during GET DATA or WAIT FOR DIGIT.

    ``times_ms`` holds, for each key of ``keys``, when it was pressed (from the command's start;
    a GET DATA key before the prompt ends interrupts the prompt). ``hangup_at_ms`` is when the
    caller hangs up (None: stays on the line, so the command ends by timeout after the keys).
    """
    keys: str = ""
    times_ms: tuple[int, ...] = ()
    hangup_at_ms: int | None = None

    @classmethod
    def typed(cls, keys: str, first_at_ms: int = 1000, gap_ms: int = 300,
              hangup_at_ms: int | None = None) -> "KeysOutcome":
        return cls(keys, tuple(first_at_ms + i * gap_ms for i in range(len(keys))), hangup_at_ms)

    @classmethod
    def silent(cls, hangup_at_ms: int | None = None) -> "KeysOutcome":
        return cls("", (), hangup_at_ms)


@dataclass(frozen=True)
class RecordOutcome:
    """What the caller does while RECORD FILE runs (after the beep, if any).

    The caller speaks for a while — the audio of ``wav`` (a WAV file, converted to the recording's
    rate), or ``speech_ms`` of silence when no WAV is given — then ``end``:
    ``silence`` (stops talking; Asterisk ends by silence detection or max time), ``key`` (presses
    ``key``; ends the recording only if it is an escape digit) or ``hangup``.
    ``text`` is what was said; the fake writes it to ``<path>.txt`` beside the recording so a
    transcript-based recogniser can read it in tests. ``during_beep`` moves a key or hang-up into
    the beep (Asterisk then answers ``(randomerror)``).
    """
    wav: str | None = None
    speech_ms: int = 0
    text: str | None = None
    end: str = "silence"
    key: str = "#"
    during_beep: bool = False


@dataclass(frozen=True)
class ExecOutcome:
    """The result of a dialplan application run with EXEC, when the caller decides it.

    ``result`` is the application's return value (EXEC prints it as ``200 result=<n>``);
    ``variables`` are set on the channel (e.g. ``{"QUEUESTATUS": "TIMEOUT"}``); ``hangup`` means
    the caller hung up during it; ``duration_ms`` advances the call's clock.
    """
    result: int = 0
    variables: dict[str, str] = field(default_factory=dict)
    hangup: bool = False
    duration_ms: int = 0


class Caller:
    """The person on the phone. The base class listens silently and never hangs up.

    Every ``on_*`` method is called when the matching command runs on a live channel; the fake
    Asterisk enforces the protocol rules on what they return.
    """

    def on_play(self, path: str, escape_digits: str, duration_ms: int) -> PlayOutcome:
        """STREAM FILE / CONTROL STREAM FILE / EXEC Playback: ``path`` without extension."""
        return PlayOutcome()

    def on_get_option(self, path: str, escape_digits: str, timeout_ms: int,
                      duration_ms: int) -> PlayOutcome:
        return PlayOutcome()

    def on_get_data(self, path: str, timeout_ms: int, max_digits: int,
                    duration_ms: int) -> KeysOutcome:
        """``path`` is "" when there is no prompt; ``timeout_ms`` is the raw argument (0 = default)."""
        return KeysOutcome()

    def on_wait_digit(self, timeout_ms: int) -> KeysOutcome:
        return KeysOutcome()

    def on_record(self, path: str, fmt: str, escape_digits: str, max_ms: int,
                  silence_s: int) -> RecordOutcome:
        return RecordOutcome()

    def on_say(self, kind: str, value: str, escape_digits: str, duration_ms: int) -> PlayOutcome:
        """SAY DIGITS/NUMBER/ALPHA/PHONETIC/DATE/TIME/DATETIME: ``kind`` is the second word."""
        return PlayOutcome()

    def on_exec(self, app: str, options: str) -> ExecOutcome | None:
        """Return an outcome to decide the application's result, None for the fake's default."""
        return None

    def between_commands(self) -> bool:
        """Called while the server is thinking (before each command is read). True = hang up now."""
        return False

    def leftover_keys(self, keys: str) -> None:
        """Keys of a KeysOutcome that the command did not take (after a timeout or completion)."""

    def on_event(self, kind: str, detail: str = "") -> None:
        """Notifications for display: ``answer``, ``hangup`` (by the engine), ``music``, ``exec``,
        ``verbose``, ``variable``, ``beep``."""
