"""AGI wire format, pure functions (see shared/docs/asterisk-agi-protocol.md §1.4, §2).

Asterisk's argument tokenizer has no escape for newline, so a value can never be allowed to
carry ``\\n``, ``\\r`` or NUL; quoting here makes every argument exactly one word.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

DEAD_CAPABLE = frozenset({
    "ASYNCAGI BREAK", "DATABASE DEL", "DATABASE DELTREE", "DATABASE GET", "DATABASE PUT", "EXEC",
    "GET FULL VARIABLE", "GET VARIABLE", "NOOP", "SET VARIABLE", "VERBOSE", "SPEECH DESTROY",
    "SPEECH UNLOAD GRAMMAR",
})
_COMMAND = re.compile(r"^[A-Z]+(?: [A-Z]+)*$")
_VARNAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_DIGITS = re.compile(r"^[0-9*#A-D]*$")
_UNSAFE = str.maketrans({"\n": " ", "\r": " ", "\0": " "})


class AGIProtocolError(Exception):
    """Something Asterisk sent that does not fit the protocol."""


class UnsafeArgument(ValueError):
    """A command or argument that cannot be sent safely."""


class Quoted(str):
    """An argument already quoted for the AGI tokenizer (so it is never quoted twice)."""


def quote(value) -> Quoted:
    """One AGI word whatever the value: control line breaks become spaces, ``\\`` and ``"`` escaped."""
    if isinstance(value, Quoted):
        return value
    text = str(value).translate(_UNSAFE)
    if "\\" in text or '"' in text:
        text = text.replace("\\", "\\\\").replace('"', '\\"')
    return Quoted('"' + text + '"')


def check_command(command: str) -> str:
    if not _COMMAND.match(command):
        raise UnsafeArgument(f"not an AGI command word: {command[:40]!r}")
    return command


def check_variable_name(name: str) -> str:
    """Variable names reach dialplan functions when they contain '(' — allow plain names only."""
    if not _VARNAME.match(name):
        raise UnsafeArgument(f"not a plain channel variable name: {name[:40]!r}")
    return name


def check_digits(digits: str) -> str:
    if not _DIGITS.match(digits):
        raise UnsafeArgument(f"not DTMF digits: {digits[:40]!r}")
    return digits


def build_line(command: str, args, max_len: int) -> bytes:
    check_command(command)
    words = [command] + [quote(a) for a in args]
    line = (" ".join(words) + "\n").encode("utf-8")
    if len(line) - 1 > max_len:
        raise UnsafeArgument(f"AGI command of {len(line) - 1} bytes exceeds Asterisk's {max_len}")
    return line


def parse_env_line(line: str) -> tuple[str, str] | None:
    """``name: value`` split at the first ': ' (values may contain ':'); None for junk."""
    if ": " in line:
        key, value = line.split(": ", 1)
    elif line.endswith(":"):
        key, value = line[:-1], ""
    else:
        return None
    key = key.strip()
    if not key:
        return None
    return key, value


@dataclass
class Response:
    code: int
    result: str = ""
    data: str | None = None
    extra: dict[str, str] = field(default_factory=dict)
    text: str = ""

    @property
    def value(self) -> int | None:
        try:
            return int(self.result)
        except ValueError:
            return None


def parse_200(line: str) -> Response:
    """``200 result=<v>[ (<data>)][ k=v]...``; data runs to the last ')' (values may hold parens)."""
    body = line[4:] if line.startswith("200 ") else line[3:]
    if not body.startswith("result="):
        raise AGIProtocolError(f"200 line without result=: {line[:80]!r}")
    rest = body[len("result="):]
    value, sep, rest = rest.partition(" ")
    data = None
    extra: dict[str, str] = {}
    if rest.startswith("("):
        close = rest.rfind(")")
        if close > 0:
            data = rest[1:close]
            rest = rest[close + 1:]
    for token in rest.split():
        k, eq, v = token.partition("=")
        if eq:
            extra[k] = v
    return Response(code=200, result=value, data=data, extra=extra, text=line)
