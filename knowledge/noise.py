"""ASR-like noise for Chinese questions: what a telephone recogniser does to a caller's words.

Used by the retrieval benchmark (``bench/kb_retrieval.py``) and the tests. Deterministic for a
given ``random.Random`` (seed it).

* **Homophone substitution**: a Han character is replaced by a *different common* character with
  the same toneless pinyin (the reading in context, e.g. 行 in 银行 is ``hang`` → 航/杭).
  "Common" = the 3,500 most frequent characters of jieba's dictionary (frequency summed over the
  words that contain them), the size of China's list of commonly used characters.
* **Dropped characters**: a character the recogniser missed.
* **Spoken fillers**: 那个 / 请问 / 我想问一下 … before the question, and 嗯 / 那个 / 就是 inside it.
* Punctuation is removed (recognisers produce none).
"""
from __future__ import annotations

import functools
import os
import random
import re
from dataclasses import dataclass

HAN = re.compile(r"[\u3400-\u9fff]")
_PUNCT = re.compile(r"[\s\u3000-\u303f\uff00-\uff0f\uff1a-\uff20\uff3b-\uff40\uff5b-\uff65!-/:-@\[-`{-~「」『』“”‘’…—·]+")

PREFIX_FILLERS = ("那个", "请问", "我想问一下", "你好", "喂你好", "嗯", "就是", "我想咨询一下",
                  "麻烦问一下", "你好请问", "那个我想问一下", "嗯那个")
INFIX_FILLERS = ("那个", "嗯", "就是", "呃", "这个")
COMMON_CHARS = 3500


@dataclass(frozen=True)
class Noise:
    """One noise level. ``homophone`` and ``drop`` are per-Han-character probabilities."""

    homophone: float = 0.0
    drop: float = 0.0
    prefix_filler: float = 0.0   # probability of a filler before the question
    infix_filler: float = 0.0    # probability of one filler inserted inside it

    @classmethod
    def level(cls, rate: float) -> "Noise":
        """The benchmark's noise level: homophones at ``rate``, drops at rate/5, fillers.

        0 % is the question as written, without punctuation and without fillers.
        """
        if rate <= 0:
            return cls()
        return cls(homophone=rate, drop=rate / 5, prefix_filler=0.5, infix_filler=0.2)


@functools.lru_cache(maxsize=1)
def _char_frequencies() -> dict[str, int]:
    import jieba

    freq: dict[str, int] = {}
    path = os.path.join(os.path.dirname(jieba.__file__), "dict.txt")
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            parts = line.split(" ")
            if len(parts) < 2:
                continue
            word, count = parts[0], int(parts[1])
            for ch in word:
                if HAN.match(ch):
                    freq[ch] = freq.get(ch, 0) + count
    return freq


@functools.lru_cache(maxsize=1)
def homophone_table() -> dict[str, tuple[str, ...]]:
    """Toneless syllable → common characters whose usual (first) reading it is, most frequent first."""
    from pypinyin import Style, pinyin

    freq = _char_frequencies()
    common = sorted(freq, key=lambda c: (-freq[c], c))[:COMMON_CHARS]
    table: dict[str, list[str]] = {}
    for ch in common:
        syl = pinyin(ch, style=Style.NORMAL, heteronym=False, errors="ignore")
        if syl and syl[0]:
            table.setdefault(syl[0][0], []).append(ch)
    return {k: tuple(v) for k, v in table.items()}


def homophones(char: str, syllable: str | None = None) -> tuple[str, ...]:
    """Common characters that sound like ``char`` (as read in context: ``syllable``), not itself."""
    if syllable is None:
        from pypinyin import lazy_pinyin

        syllable = lazy_pinyin(char)[0]
    return tuple(c for c in homophone_table().get(syllable, ()) if c != char)


def strip_punctuation(text: str) -> str:
    return _PUNCT.sub("", text)


def corrupt(text: str, noise: Noise, rng: random.Random) -> str:
    """``text`` as a noisy recogniser might have heard it."""
    from pypinyin import lazy_pinyin

    text = strip_punctuation(text)
    chars = list(text)
    if noise.homophone or noise.drop:
        syllables = _syllables_per_char(text, lazy_pinyin)
        out: list[str] = []
        for ch, syl in zip(chars, syllables):
            if not HAN.match(ch):
                out.append(ch)
                continue
            roll = rng.random()
            if roll < noise.drop and len(chars) > 2:
                continue
            if roll < noise.drop + noise.homophone:
                options = homophones(ch, syl)
                if options:
                    out.append(rng.choice(options))
                    continue
            out.append(ch)
        chars = out
    if noise.infix_filler and len(chars) > 3 and rng.random() < noise.infix_filler:
        at = rng.randrange(1, len(chars) - 1)
        chars[at:at] = list(rng.choice(INFIX_FILLERS))
    result = "".join(chars)
    if noise.prefix_filler and rng.random() < noise.prefix_filler:
        result = rng.choice(PREFIX_FILLERS) + result
    return result


def _syllables_per_char(text: str, lazy_pinyin) -> list[str | None]:
    """One toneless syllable per character of ``text`` (None for non-Han characters)."""
    out: list[str | None] = []
    for ch, syl in zip(text, _expand(text, lazy_pinyin(text, errors=lambda s: [None] * len(s)))):
        out.append(syl if HAN.match(ch) else None)
    return out


def _expand(text: str, syllables: list) -> list:
    # lazy_pinyin returns one item per Han character and, with the errors callback above,
    # one None per other character; keep the lengths aligned defensively.
    if len(syllables) == len(text):
        return syllables
    return [None] * len(text)
