"""How the retrieval reads Chinese: normalisation, words (jieba + synonyms) and sounds (pinyin).

A question and a caller's transcript go through the same :func:`analyze`, which gives
* ``words``: jieba tokens, synonyms mapped to their group's first member, stop words dropped;
* ``sounds``: the toneless pinyin of every character, read in context (银行 → yin hang), with
  the confusions of southern-accented Mandarin and of 8 kHz audio folded together
  (zh/z, ch/c, sh/s, n/l, -ng/-n, …). A homophone that the recogniser chose (航 for 行) has the
  same sounds as the character the caller meant;
* ``canon_sounds``: the sounds of the text after the synonym mapping, so a paraphrase that
  replaced a word by its synonym also meets the question by sound.
"""
from __future__ import annotations

import functools
import re
import threading
import unicodedata
from dataclasses import dataclass

from knowledge.lexicon import DOMAIN_WORDS, FILLERS, STOP_WORDS, SYNONYM_GROUPS

_HAN = re.compile(r"[\u3400-\u9fff]")
_SPACE_BETWEEN_HAN = re.compile(r"(?<=[\u3400-\u9fff])\s+(?=[\u3400-\u9fff])")
_NOT_WORD = re.compile(r"[^\w\u3400-\u9fff]+")
_LEADING_FILLERS = re.compile("^(?:(?:" + "|".join(sorted(map(re.escape, FILLERS), key=len, reverse=True)) + r")\s*)+")
# fillers removed anywhere: sounds that are never content in a question
_INLINE_FILLERS = re.compile("(?:嗯|呃|唉|那个|这个|就是说)")
_DIGITS = {"0": "ling", "1": "yi", "2": "er", "3": "san", "4": "si", "5": "wu", "6": "liu", "7": "qi",
           "8": "ba", "9": "jiu"}

# fold sounds a telephone recogniser (or a Cantonese/Hakka speaker's Mandarin) confuses
_INITIALS = (("zh", "z"), ("ch", "c"), ("sh", "s"), ("n", "l"), ("r", "l"))
_FINALS = (("ing", "in"), ("eng", "en"), ("ang", "an"), ("iong", "ong"))
_SPECIAL = {"yao": "yi"}     # 幺 for 一 when reading digits aloud is 'yao'; fold only the digit word


def fold(syllable: str) -> str:
    """One syllable with the common confusions folded (zhi → zi, ning → lin, …)."""
    s = syllable
    for a, b in _INITIALS:
        if s.startswith(a):
            s = b + s[len(a):]
            break
    for a, b in _FINALS:
        if s.endswith(a):
            s = s[: -len(a)] + b
            break
    return s


def normalize(text: str) -> str:
    """NFKC, lower case, spaces inside Chinese removed, punctuation to spaces, fillers dropped."""
    text = unicodedata.normalize("NFKC", text or "").lower()
    text = _SPACE_BETWEEN_HAN.sub("", text)
    text = _NOT_WORD.sub(" ", text).replace("_", " ").strip()
    text = _LEADING_FILLERS.sub("", text)
    text = _INLINE_FILLERS.sub("", text)
    return " ".join(text.split())


@dataclass(frozen=True)
class Analysis:
    text: str                      # normalised text
    words: tuple[str, ...]         # synonym-mapped, stop words dropped
    sounds: tuple[str, ...]        # folded toneless pinyin, one per character (digits read out)
    canon_sounds: tuple[str, ...]  # the same for the synonym-mapped text


class Analyzer:
    """Thread-safe once built (jieba's Tokenizer is read-only after initialisation)."""

    def __init__(self) -> None:
        import jieba

        jieba.setLogLevel(60)
        self._tokenizer = jieba.Tokenizer()
        self._tokenizer.initialize()
        self.canonical: dict[str, str] = {}
        for group in SYNONYM_GROUPS:
            for word in group:
                self.canonical.setdefault(word, group[0])
        for word in list(self.canonical) + list(DOMAIN_WORDS):
            if len(word) > 1:
                self._tokenizer.add_word(word, freq=self._tokenizer.suggest_freq(word, tune=False) + 100)
        self._sound_cache: dict[str, tuple[str, ...]] = {}

    def tokens(self, text: str) -> list[str]:
        return [t for t in self._tokenizer.lcut(text) if t.strip()]

    def analyze(self, text: str) -> Analysis:
        norm = normalize(text)
        tokens = self.tokens(norm)
        canon = [self.canonical.get(t, t) for t in tokens]
        words = tuple(t for t in canon if t not in STOP_WORDS)
        sounds = tuple(s for t in tokens for s in token_sounds(t))
        canon_sounds = tuple(s for t in canon for s in token_sounds(t))
        return Analysis(norm, words, sounds, canon_sounds)

    def sounds(self, text: str) -> tuple[str, ...]:
        return tuple(s for t in self.tokens(normalize(text)) for s in token_sounds(t))


@functools.lru_cache(maxsize=200_000)
def token_sounds(token: str) -> tuple[str, ...]:
    """Sounds of one jieba token (polyphones read as in that word: 银行 → yin han)."""
    from pypinyin import lazy_pinyin

    out: list[str] = []
    # Han characters come back as syllables; any other run comes back marked, whole
    for item in lazy_pinyin(token, errors=lambda chunk: ["\x00" + chunk]):
        if item.startswith("\x00"):
            # digits read one by one (ASR writes 一二三 or 123), letters kept as words
            for part in _OTHER.findall(item):
                out.append(_DIGITS.get(part, part))
        elif item:
            out.append(_syllable(item))
    return tuple(out)


_OTHER = re.compile(r"[0-9]|[a-z]+|[^\x00\sa-z0-9]")


def _syllable(item: str) -> str:
    return _SPECIAL.get(item) or fold(item)


_lock = threading.Lock()
_analyzer: Analyzer | None = None


def analyzer() -> Analyzer:
    """The process-wide analyzer (built once, ~1 s for jieba's dictionary)."""
    global _analyzer
    if _analyzer is None:
        with _lock:
            if _analyzer is None:
                _analyzer = Analyzer()
    return _analyzer
