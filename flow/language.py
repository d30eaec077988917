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


# -- dates as said on the phone --------------------------------------------------------------------
# Asterisk's SAY DATE has no Chinese grammar (it falls back to English: weekday, month, day), so
# the engine says dates itself, synthesised from these words: the year digit by digit, then the
# month and the day as numbers — 二零二六年十二月二十五日. Hakka in Pha̍k-fa-sṳ, which espeak-ng's
# Hakka voice reads (recordings/prompts.toml).
_HAN_DIGITS = "零一二三四五六七八九"
_HAKKA_DIGITS = ("lìn", "yit", "ngi", "sâm", "si", "ńg", "liuk", "chhit", "pat", "kiú")
_HAKKA_TEN, _HAKKA_YEAR, _HAKKA_MONTH, _HAKKA_DAY = "sṳ̍p", "ngièn", "ngie̍t", "ngit"


def _number_words(n: int, digits, ten: str) -> list[str]:
    """1–99 as counted: 十, 十二, 二十, 二十五 (no 一 before a leading 十)."""
    tens, ones = divmod(n, 10)
    words = ([digits[tens]] if tens > 1 else []) + ([ten] if tens else [])
    return words + ([digits[ones]] if ones or not tens else [])


def spoken_date(day, language: str) -> str:
    """The words for ``day`` (a ``datetime.date``) in the call's language."""
    if language == "hak":
        year = " ".join(_HAKKA_DIGITS[int(c)] for c in f"{day.year:04d}")
        month = " ".join(_number_words(day.month, _HAKKA_DIGITS, _HAKKA_TEN))
        date = " ".join(_number_words(day.day, _HAKKA_DIGITS, _HAKKA_TEN))
        return f"{year} {_HAKKA_YEAR}, {month} {_HAKKA_MONTH}, {date} {_HAKKA_DAY}"
    year = "".join(_HAN_DIGITS[int(c)] for c in f"{day.year:04d}")
    return (year + "年" + "".join(_number_words(day.month, _HAN_DIGITS, "十")) + "月"
            + "".join(_number_words(day.day, _HAN_DIGITS, "十")) + "日")
