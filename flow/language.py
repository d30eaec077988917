"""Call languages: 普通话 (cmn), 粤语 (yue), 客家话 (hak)."""
from __future__ import annotations

LANGUAGES = ("cmn", "yue", "hak")
_ALIASES = {
    "cmn": "cmn", "zh": "cmn", "zh_cn": "cmn", "zh-cn": "cmn", "zh-hans": "cmn", "mandarin": "cmn",
    "putonghua": "cmn", "普通话": "cmn",
    "yue": "yue", "zh_hk": "yue", "zh-hk": "yue", "zh-yue": "yue", "cantonese": "yue", "粤语": "yue",
    "hak": "hak", "zh-hak": "hak", "hakka": "hak", "客家话": "hak",
}


def language_code(value: str | None) -> str | None:
    """Map a dialplan argument, channel language or Twilio language to cmn/yue/hak (None if unknown)."""
    if not value:
        return None
    return _ALIASES.get(value.strip().lower())
