"""Asterisk's side of the AGI wire: reading command lines and splitting them into words.

Reference: shared/docs/asterisk-agi-protocol.md §2.1 (framing, AGI_BUF_LEN) and §2.5
(``parse_args``). Everything here mirrors res_agi.c byte for byte, including its quirks, so that a
FastAGI server tested against this fake meets the same edge cases as against a real Asterisk.
"""
from __future__ import annotations

import re
import socket

MAX_ARGS = 128                   # res_agi.c: argv has MAX_ARGS slots, the last one is NULL
DTMF = "0123456789*#ABCD"


class Failure(bytes):
    """A line that starts with ``failure`` (case-insensitive): the session ends with FAILURE."""


class ReadTimeout(Exception):
    """The server sent nothing for ``timeout`` seconds (a real Asterisk would wait for ever)."""


# a line of whole words, each plain or wholly in quotes, no backslash: what servers usually send
_SIMPLE_LINE = re.compile(r'[ \t]*(?:(?:"[^"\\]*"|[^ \t"\\]+)(?:[ \t]+|$))*')
_SIMPLE_WORD = re.compile(r'"([^"\\]*)"|([^ \t"\\]+)')


def parse_args(line: str) -> list[str]:
    """Split a command line exactly like res_agi.c ``parse_args()`` (§2.5); see ``parse_args_c``.
    A line of plain or wholly quoted words without backslashes is split by a regular expression
    (the same words: a load test's fake Asterisk must not cost more than the server it loads)."""
    if _SIMPLE_LINE.fullmatch(line):
        words = [quoted if plain == "" else plain for quoted, plain in _SIMPLE_WORD.findall(line)]
        if len(words) < MAX_ARGS:
            return words
    return parse_args_c(line)


def parse_args_c(line: str) -> list[str]:
    """Split a command line exactly like res_agi.c ``parse_args()`` (§2.5), byte by byte.

    Blanks (space, TAB) separate words outside quotes; ``"`` toggles quoting and is dropped, and
    when it opens a quote between words it starts a (possibly empty) word; ``\\`` makes the next
    character literal, inside or outside quotes, and is dropped; an unterminated quote is accepted;
    ``\\r`` and every other byte are literal. Words beyond MAX_ARGS-1 are dropped.
    """
    words: list[list[str]] = []
    quoted = escaped = False
    whitespace = True

    def start_word() -> bool:
        # Too many words: C keeps `whitespace` set, so every later byte is dropped too.
        if len(words) >= MAX_ARGS - 1:
            return False
        words.append([])
        return True

    for ch in line:
        if ch == '"' and not escaped:
            quoted = not quoted
            if quoted and whitespace:
                # The C code does not bounds-check this case; dropping the word is the safe reading.
                if start_word():
                    whitespace = False
            escaped = False
            continue
        if ch in " \t" and not quoted and not escaped:
            whitespace = True
            continue
        if ch == "\\" and not escaped:
            escaped = True
            continue
        # "normal": a literal character (including an escaped quote, blank or backslash)
        if whitespace:
            if not start_word():
                continue          # dropped; `escaped` is not reset, as in C
            whitespace = False
        words[-1].append(ch)
        escaped = False
    return ["".join(w) for w in words]


# --- C library conversions used by the handlers -------------------------------------------------

_INT_RE = re.compile(r"[ \t\n\v\f\r]*([+-]?[0-9]+)")
_FLOAT_RE = re.compile(
    r"[ \t\n\v\f\r]*([+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|inf(?:inity)?|nan))",
    re.IGNORECASE)


def _c_int(value: int, bits: int) -> int:
    """strtol clamps to the long range, then the C cast to `bits` wraps."""
    value = max(-(1 << 63), min((1 << 63) - 1, value))
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >= 1 << (bits - 1) else value


def scan_int(text: str | None, width: int = 30, bits: int = 32) -> int | None:
    """``sscanf(text, "%30d")``: the number, or None when the conversion fails."""
    if text is None:
        return None
    m = _INT_RE.match(text)
    if not m:
        return None
    start = m.start(1)
    digits = text[start:start + width]
    m2 = re.match(r"[+-]?[0-9]+", digits)
    if not m2:
        return None
    return _c_int(int(m2.group(0)), bits)


def scan_long(text: str | None) -> int | None:
    """``sscanf(text, "%30ld")``."""
    return scan_int(text, 30, 64)


def atoi(text: str | None) -> int:
    """``atoi(text)``: 0 when there is no leading number."""
    value = scan_int(text, width=10_000)
    return 0 if value is None else value


def scan_float(text: str | None) -> float | None:
    """``sscanf(text, "%30lf")``."""
    if text is None:
        return None
    m = _FLOAT_RE.match(text)
    if not m:
        return None
    return float(m.group(1)[:30])


def dtmf_code(key: str) -> int:
    """The ``result=`` value of a digit: its ASCII code."""
    return ord(key)


# --- Reading command lines (§2.1) ---------------------------------------------------------------

class LineReader:
    """Asterisk's ``fgets()`` loop over ``fdopen(socket)`` with a buffer of ``buf_len`` bytes.

    * exactly one trailing ``\\n`` is removed; ``\\r`` is kept;
    * a line longer than ``buf_len - 2`` bytes is cut after ``buf_len - 1`` bytes and the rest
      is read as the next command;
    * ``strlen`` semantics for NUL: text after a NUL is lost and the next fgets writes over it, so a
      NUL merges two lines (a NUL first on a line, then EOF, reads as EOF);
    * EOF with nothing read returns None; a line starting ``failure`` returns a :class:`Failure`.

    Like stdio, it reads the socket in large chunks, so commands the server pipelined can sit in
    this buffer while the socket itself is idle (see ``buffered``).
    """

    def __init__(self, sock: socket.socket, buf_len: int = 2048, timeout: float | None = 30.0):
        self.sock = sock
        self.buf_len = buf_len
        self.timeout = timeout
        self._buf = bytearray()
        self._eof = False
        self.received = bytearray()          # every byte read from the socket, for the record

    @property
    def buffered(self) -> bool:
        return bool(self._buf)

    def _fill(self) -> bool:
        """Read more bytes into the stdio-like buffer; False at EOF."""
        if self._eof:
            return False
        self.sock.settimeout(self.timeout)
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout as exc:
            raise ReadTimeout from exc
        except OSError:
            chunk = b""
        if not chunk:
            self._eof = True
            return False
        self.received += chunk
        self._buf += chunk
        return True

    def _fgets(self, size: int) -> tuple[bytes, bool]:
        """C ``fgets(buf, size, f)``: up to size-1 bytes, stopping after a newline.

        Returns (bytes read, feof flag)."""
        limit = size - 1
        while True:
            nl = self._buf.find(b"\n", 0, limit)
            if nl >= 0:
                n = nl + 1
                break
            if len(self._buf) >= limit:
                n = limit
                break
            if not self._fill():
                n = len(self._buf)
                data = bytes(self._buf[:n])
                del self._buf[:n]
                return data, True
        data = bytes(self._buf[:n])
        del self._buf[:n]
        return data, False

    def read_command(self) -> bytes | None:
        """One command line as run_agi() sees it (without the newline), None at EOF."""
        buf = bytearray(self.buf_len)
        buflen = 0
        room = self.buf_len
        while room > 1:
            chunk, eof = self._fgets(room)
            buf[buflen:buflen + len(chunk)] = chunk
            if buflen + len(chunk) < self.buf_len:
                buf[buflen + len(chunk)] = 0
            if eof:
                break
            buflen = _strlen(buf)
            if buflen and buf[buflen - 1] == 0x0A:
                break
            room = self.buf_len - buflen
        line = bytes(buf[:_strlen(buf)])
        if not line:
            return None
        if line[:7].lower() == b"failure":
            return Failure(line)
        if line.endswith(b"\n"):
            line = line[:-1]
        return line


def _strlen(buf: bytearray) -> int:
    n = buf.find(0)
    return len(buf) if n < 0 else n


# --- Dialplan application arguments (§1.1, main/app.c __ast_app_separate_args) ---------------

def separate_app_args(data: str, delim: str = ",") -> list[str]:
    """Split application data like ``AST_STANDARD_APP_ARGS``: ``delim`` splits except inside
    (), [] or "..."; double quotes are removed and a backslash makes the next character literal."""
    if data == "":
        return []
    if not any(ch in data for ch in '\\"(['):     # nothing nests or quotes: a plain split
        return data.split(delim)
    return separate_app_args_c(data, delim)


def separate_app_args_c(data: str, delim: str = ",") -> list[str]:
    """``separate_app_args`` character by character, as main/app.c does it."""
    if data == "":
        return []
    out: list[str] = []
    cur: list[str] = []
    paren = bracket = 0
    quoted = escaped = False
    for ch in data:
        if escaped:
            cur.append(ch)
            escaped = False
            continue
        if ch == "\\":
            escaped = True
            continue
        if ch == '"':
            quoted = not quoted
            continue
        if not quoted:
            if ch == "(":
                paren += 1
            elif ch == ")" and paren:
                paren -= 1
            elif ch == "[":
                bracket += 1
            elif ch == "]" and bracket:
                bracket -= 1
            elif ch == delim and not paren and not bracket:
                out.append("".join(cur))
                cur = []
                continue
        cur.append(ch)
    out.append("".join(cur))
    return out
