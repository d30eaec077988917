"""Grounds for a restriction (DESIGN §3.1), with the words an admin may type for each."""
from __future__ import annotations

# code -> (English label, Chinese label)
GROUNDS: dict[str, tuple[str, str]] = {
    "harassing": ("harassing staff", "骚扰工作人员"),
    "insulting": ("insulting staff", "辱骂工作人员"),
    "threatening": ("threatening staff", "威胁工作人员"),
    "malicious_calls": ("malicious repeated calls", "恶意重复拨打"),
    "no_request": ("no substantive request", "无实质诉求"),
    "other": ("other (see text)", "其他"),
}

_ALIASES = {
    "harass": "harassing", "harassment": "harassing", "骚扰": "harassing",
    "insult": "insulting", "insults": "insulting", "abusive": "insulting", "辱骂": "insulting",
    "threat": "threatening", "threats": "threatening", "威胁": "threatening",
    "malicious": "malicious_calls", "repeated": "malicious_calls", "repeated_calls": "malicious_calls",
    "恶意": "malicious_calls", "恶意重复": "malicious_calls", "恶意拨打": "malicious_calls",
    "no_substantive_request": "no_request", "无实质": "no_request", "其它": "other",
}
_ALIASES.update({zh: code for code, (_en, zh) in GROUNDS.items()})

GROUND_TEXT_MAX = 500


class InvalidGround(ValueError):
    pass


def parse_ground(text: str, ground_text: str | None = None) -> tuple[str, str]:
    """``(code, text)`` from what an admin typed; 'other' needs its text (``other:TEXT`` works too)."""
    raw = (text or "").strip()
    detail = (ground_text or "").strip()
    head, sep, tail = raw.partition(":")
    if sep and head.strip().lower() in ("other", "其他", "其它"):
        raw, detail = head.strip(), (tail.strip() or detail)
    key = raw.lower().replace("-", "_").replace(" ", "_")
    code = key if key in GROUNDS else _ALIASES.get(key) or _ALIASES.get(raw)
    if code is None:
        raise InvalidGround(
            f"unknown ground {raw[:40]!r}; use one of: {', '.join(GROUNDS)} "
            "(for 'other', give the text: --ground other --ground-text TEXT)"
        )
    if code == "other" and not detail:
        raise InvalidGround("ground 'other' needs a text saying what the ground is (--ground-text TEXT)")
    if len(detail) > GROUND_TEXT_MAX:
        raise InvalidGround(f"the ground text is {len(detail)} characters long, at most {GROUND_TEXT_MAX}")
    return code, detail


def describe(code: str, detail: str = "") -> str:
    label = GROUNDS.get(code, (code, code))[0]
    return f"{label}: {detail}" if detail else label
