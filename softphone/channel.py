"""The channel the fake Asterisk runs AGI on: variables, dialplan functions, caller id, position.

Only what AGI can observe is modelled: ``pbx_builtin_setvar_helper`` / ``pbx_retrieve_variable``
(with the builtin names such as EXTEN and PRIORITY), a few dialplan functions (CALLERID, CHANNEL,
DB, DB_EXISTS, LEN, TIMEOUT), ``${...}`` substitution for GET FULL VARIABLE and EXEC with
AGIEXECFULL, and AstDB.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

STATE_RING, STATE_UP = 4, 6
_TRUE = {"yes", "true", "y", "t", "1", "on"}


def ast_true(value: str | None) -> bool:
    return bool(value) and value.strip().lower() in _TRUE


def ast_false(value: str | None) -> bool:
    return bool(value) and value.strip().lower() in {"no", "false", "n", "f", "0", "off"}


class AstDB:
    """AstDB (``/family/key`` → value), shareable between calls; thread-safe."""

    def __init__(self, data: dict[str, str] | None = None):
        self.data: dict[str, str] = dict(data or {})
        self._lock = threading.Lock()

    def get(self, family: str, key: str) -> str | None:
        with self._lock:
            return self.data.get(f"/{family}/{key}")

    def put(self, family: str, key: str, value: str) -> bool:
        with self._lock:
            self.data[f"/{family}/{key}"] = value
        return True

    def delete(self, family: str, key: str) -> bool:
        with self._lock:
            self.data.pop(f"/{family}/{key}", None)
        return True            # SQLite DELETE succeeds for a missing key too (§3.14)

    def deltree(self, family: str, keytree: str | None) -> int:
        prefix = f"/{family}/{keytree}" if keytree else f"/{family}"
        with self._lock:
            doomed = [k for k in self.data if k == prefix or k.startswith(prefix + "/")]
            for k in doomed:
                del self.data[k]
        return len(doomed)


@dataclass
class Channel:
    name: str
    uniqueid: str
    language: str
    callerid: str | None
    calleridname: str | None
    context: str
    exten: str
    priority: int
    state: int = STATE_RING
    variables: dict[str, str] = field(default_factory=dict)
    functions: dict[str, str] = field(default_factory=dict)     # written but not modelled
    astdb: AstDB = field(default_factory=AstDB)
    hungup: bool = False
    digit_timeout_ms: int = 5000         # pbx->dtimeoutms, TIMEOUT(digit)

    # --- variables ------------------------------------------------------------------------

    def set_var(self, name: str, value: str) -> None:
        """``pbx_builtin_setvar_helper``: names with ``(`` write a function; ``_``/``__`` mark
        inheritance and are not part of the name when read back."""
        if "(" in name:
            self.write_function(name, value)
            return
        bare = name[2:] if name.startswith("__") else name[1:] if name.startswith("_") else name
        self.variables[bare] = value

    def builtin(self, name: str) -> str | None:
        values = {
            "EXTEN": self.exten, "CONTEXT": self.context, "PRIORITY": str(self.priority),
            "CHANNEL": self.name, "UNIQUEID": self.uniqueid,
            "CALLINGPRES": "0", "CALLINGANI2": "0", "CALLINGTON": "0", "CALLINGTNS": "0",
        }
        if name == "HANGUPCAUSE":
            return "16" if self.hungup else "0"
        if name == "EPOCH":
            return str(int(time.time()))
        if name == "SYSTEMNAME":
            return ""
        return values.get(name)

    def retrieve(self, name: str) -> str | None:
        """``pbx_retrieve_variable``: builtins first, then channel variables."""
        value = self.builtin(name)
        if value is not None:
            return value
        return self.variables.get(name)

    # --- functions ------------------------------------------------------------------------

    @staticmethod
    def _split_function(expr: str) -> tuple[str, str]:
        fname, _, rest = expr.partition("(")
        return fname.strip().upper(), rest[:-1] if rest.endswith(")") else rest

    def read_function(self, expr: str) -> str | None:
        """``ast_func_read``; None when the function fails or is unknown."""
        fname, arg = self._split_function(expr)
        a = arg.strip().lower()
        if fname == "CALLERID":
            if a in ("num", "number"):
                return self.callerid or ""
            if a == "name":
                return self.calleridname or ""
            if a == "all":
                name, num = self.calleridname or "", self.callerid or ""
                return f'"{name}" <{num}>' if name else f"<{num}>"
            if a in ("ani", "ani-num", "dnid", "rdnis"):
                return ""
            return None
        if fname == "CHANNEL":
            return {"language": self.language, "name": self.name, "uniqueid": self.uniqueid,
                    "channeltype": "PJSIP", "state": "Up" if self.state == STATE_UP else "Ring",
                    }.get(a)
        if fname == "LANGUAGE":
            return self.language
        if fname == "DB":
            family, _, key = arg.partition("/")
            return self.astdb.get(family, key)
        if fname == "DB_EXISTS":
            family, _, key = arg.partition("/")
            return "1" if self.astdb.get(family, key) is not None else "0"
        if fname == "LEN":
            return str(len(arg))
        if fname == "TIMEOUT" and a == "digit":
            return f"{self.digit_timeout_ms / 1000:.3f}"
        if expr in self.functions:
            return self.functions[expr]
        return None

    def write_function(self, expr: str, value: str) -> None:
        fname, arg = self._split_function(expr)
        a = arg.strip().lower()
        self.functions[expr] = value
        if fname == "CALLERID":
            if a in ("num", "number"):
                self.callerid = value
            elif a == "name":
                self.calleridname = value
            elif a == "all":
                self.calleridname, self.callerid = parse_callerid(value)
        elif fname == "CHANNEL" and a == "language":
            self.language = value
        elif fname == "DB":
            family, _, key = arg.partition("/")
            self.astdb.put(family, key, value)
        elif fname == "TIMEOUT" and a == "digit":
            try:
                self.digit_timeout_ms = int(float(value) * 1000)
            except ValueError:
                pass

    # --- ${...} substitution -------------------------------------------------------------------

    def substitute(self, text: str) -> str:
        """``ast_str_substitute_variables``: ``${NAME}``, ``${FUNC(args)}``, nesting and
        ``${NAME:offset:length}``. ``$[...]`` expressions are substituted inside but not evaluated."""
        out: list[str] = []
        i = 0
        while i < len(text):
            if text.startswith("${", i) or text.startswith("$[", i):
                opener, closer = ("{", "}") if text[i + 1] == "{" else ("[", "]")
                depth, j = 1, i + 2
                while j < len(text) and depth:
                    if text[j] == opener:
                        depth += 1
                    elif text[j] == closer:
                        depth -= 1
                    j += 1
                if depth:                  # unterminated: copied as is
                    out.append(text[i:])
                    break
                inner = self.substitute(text[i + 2:j - 1])
                if opener == "{":
                    out.append(self._expand(inner))
                else:
                    out.append(f"$[{inner}]")
                i = j
                continue
            out.append(text[i])
            i += 1
        return "".join(out)

    def _expand(self, inner: str) -> str:
        name, offset, length = _split_substring(inner)
        if name.endswith(")"):
            value = self.read_function(name) or ""
        else:
            value = self.retrieve(name) or ""
        if offset is None:
            return value
        start = offset if offset >= 0 else max(0, len(value) + offset)
        if length is None:
            return value[start:]
        if length < 0:
            end = len(value) + length
            return value[start:end] if end > start else ""
        return value[start:start + length]


def _split_substring(inner: str) -> tuple[str, int | None, int | None]:
    depth = 0
    for k, ch in enumerate(inner):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == ":" and depth == 0:
            parts = inner[k + 1:].split(":")
            try:
                offset = int(parts[0] or 0)
                length = int(parts[1]) if len(parts) > 1 and parts[1] != "" else None
            except ValueError:
                return inner[:k], 0, None
            return inner[:k], offset, length
    return inner, None, None


def parse_callerid(text: str) -> tuple[str, str]:
    """``ast_callerid_parse``: ``"Name" <num>``, ``Name <num>``, ``<num>`` or a bare number/name.
    Returns (name, number)."""
    text = text.strip()
    lt, gt = text.rfind("<"), text.rfind(">")
    if lt >= 0 and gt > lt:
        number = text[lt + 1:gt].strip()
        name = text[:lt].strip().strip('"').strip()
        return name, number
    bare = text.strip('"')
    if bare and all(c in "0123456789+*#-() ." for c in bare):
        return "", "".join(c for c in bare if c not in "-() .")
    return bare, ""
