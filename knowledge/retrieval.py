"""Retrieval over the knowledge base, robust to telephone speech recognition.

An in-memory index built from the entries (immutable once built: searching needs no lock; the
owner swaps in a new index after an import). Every entry contributes its question and each
alternate as a *variant*; an entry's similarity is its best variant's.

Similarity of a transcript to a variant, from six features in [0, 1] (``KnowledgeIndex.features``;
see ``knowledge.text`` for the analysis):

* sound coverage: the longest common subsequence of the two pinyin sequences (homophones,
  accents and dropped characters cost little), as a share of the variant and of the transcript;
  taken on the plain and on the synonym-mapped text, whichever is higher;
* word coverage: the idf-weighted share of the variant's words found in the transcript and of
  the transcript's words found in the variant (jieba + synonyms: paraphrases);
* sound-bigram coverage: the same, over pairs of consecutive syllables (a rare pair — a place
  name, a programme — weighs more than 怎么办理).

``similarity = WEIGHTS · features`` (weights tuned with ``bench/kb_retrieval.py``; docs/benchmarks.md).

The **confidence** of a match is a logistic model of its similarity and its margin over the best
*other* entry, fitted on noisy and held-out queries (``bench/kb_retrieval.py --calibrate``): it
estimates the probability that the match is the entry the caller asked about. A transcript is
*answered* when the best match's confidence reaches the threshold (``Settings.kb_threshold``).
"""
from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import NamedTuple

import numpy as np
from rapidfuzz import process
from rapidfuzz.distance import LCSseq

from knowledge.text import Analysis, analyzer

# similarity weights on the features of ``KnowledgeIndex.features`` (sound LCS doc/query, words
# doc/query, sound bigrams doc/query), tuned on tpe-faq noisy queries and demo paraphrases
WEIGHTS = np.asarray([0.1, 0.1, 0.1, 0.1, 0.1, 0.5])

# confidence = sigmoid(C0 + C_SIM·similarity + C_MARGIN·margin), fitted by bench/kb_retrieval.py --calibrate
C0, C_SIM, C_MARGIN = -1.78, 1.5, 12.8

# default decision threshold on the confidence (Settings.kb_threshold); see docs/benchmarks.md
DEFAULT_THRESHOLD = 0.65

_UNKNOWN = "\uf8ff"           # a sound no variant has


class Match(NamedTuple):
    entry_id: str
    score: float              # calibrated confidence in [0, 1]


@dataclass(frozen=True)
class EntryDoc:
    """What the index keeps of an entry."""

    id: str
    question: str
    answer: str = ""
    alternates: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    audio: str | None = None
    category: str = ""
    unit: str = ""
    valid_from: date | None = None
    valid_to: date | None = None

    def valid_on(self, day: date | None) -> bool:
        if day is None:
            return True
        return (self.valid_from is None or self.valid_from <= day) and (self.valid_to is None or day <= self.valid_to)


@dataclass(frozen=True)
class SearchResult:
    query: str
    matches: list[Match]                      # best first
    answered: bool
    threshold: float
    similarities: list[float] = field(default_factory=list)   # raw similarity, same order

    @property
    def best(self) -> Match | None:
        return self.matches[0] if self.matches else None

    @property
    def confidence(self) -> float:
        return self.matches[0].score if self.matches else 0.0


def confidence(similarity: float, margin: float) -> float:
    z = C0 + C_SIM * similarity + C_MARGIN * margin
    return 1.0 / (1.0 + math.exp(-z)) if z > -500 else 0.0


class KnowledgeIndex:
    """Immutable index over entries; ``search`` is safe from many threads at once."""

    def __init__(self, entries: Iterable[EntryDoc], threshold: float = DEFAULT_THRESHOLD) -> None:
        self.threshold = threshold
        self.entries: list[EntryDoc] = list(entries)
        self.by_id: dict[str, EntryDoc] = {e.id: e for e in self.entries}
        self._analyzer = analyzer()
        codes: dict[str, str] = {}
        variant_entry: list[int] = []
        sounds: list[str] = []
        canon: list[str] = []
        words: list[tuple[str, ...]] = []
        grams: list[tuple[str, ...]] = []
        canon_grams: list[tuple[str, ...]] = []
        for idx, entry in enumerate(self.entries):
            for text in (entry.question, *entry.alternates):
                a = self._analyzer.analyze(text)
                if not a.sounds and not a.words:
                    continue
                variant_entry.append(idx)
                sounds.append(_encode(a.sounds, codes, grow=True))
                canon.append(_encode(a.canon_sounds, codes, grow=True))
                words.append(a.words)
                grams.append(_bigrams(a.sounds))
                canon_grams.append(_bigrams(a.canon_sounds))
        self._codes = codes
        self._variant_entry = np.asarray(variant_entry, dtype=np.int64)
        self._sounds = sounds
        self._canon = canon
        self._sound_len = np.maximum(np.asarray([len(s) for s in sounds], dtype=np.float64), 1.0)
        self._canon_len = np.maximum(np.asarray([len(s) for s in canon], dtype=np.float64), 1.0)
        self._words = _Postings(words)
        self._grams = _Postings(grams, canon_grams)
        self._from = np.asarray([e.valid_from.toordinal() if e.valid_from else 0 for e in self.entries],
                                dtype=np.int64)
        self._to = np.asarray([e.valid_to.toordinal() if e.valid_to else 10**9 for e in self.entries],
                              dtype=np.int64)

    def __len__(self) -> int:
        return len(self.entries)

    # -- scoring ---------------------------------------------------------------------------

    def similarities(self, analysis: Analysis) -> np.ndarray:
        """Similarity of the transcript to every entry (its best variant), in [0, 1]."""
        sims = np.zeros(len(self.entries), dtype=np.float64)
        if not self._sounds or (not analysis.sounds and not analysis.words):
            return sims
        per_variant = self._variant_similarities(analysis)
        np.maximum.at(sims, self._variant_entry, per_variant)
        return sims

    def _variant_similarities(self, a: Analysis) -> np.ndarray:
        return WEIGHTS @ self.features(a)

    def features(self, a: Analysis) -> np.ndarray:
        """Per variant: sound coverage of variant / query (LCS), word coverage of variant / query,
        sound-bigram coverage of variant / query (idf-weighted); shape (6, variants)."""
        n = len(self._sounds)
        out = np.zeros((6, n), dtype=np.float64)
        q = _encode(a.sounds, self._codes)
        qc = _encode(a.canon_sounds, self._codes)
        if q:
            lcs = process.cdist([q], self._sounds, scorer=LCSseq.similarity, dtype=np.int32, workers=1)[0]
            lcs_c = process.cdist([qc], self._canon, scorer=LCSseq.similarity, dtype=np.int32, workers=1)[0]
            np.maximum(lcs / self._sound_len, lcs_c / self._canon_len, out=out[0])
            np.maximum(lcs / max(len(q), 1), lcs_c / max(len(qc), 1), out=out[1])
        self._words.coverage(a.words, out[2], out[3])
        self._grams.coverage(_bigrams(a.sounds), out[4], out[5], _bigrams(a.canon_sounds))
        return out

    def search(self, text: str, k: int = 3, today: date | None = None) -> SearchResult:
        """The ``k`` best entries for ``text`` (valid on ``today`` when given), best first."""
        analysis = self._analyzer.analyze(text)
        sims = self.similarities(analysis)
        if today is not None and len(sims):
            day = today.toordinal()
            sims = np.where((self._from <= day) & (day <= self._to), sims, -1.0)
        return self._result(text, sims, k)

    def _result(self, text: str, sims: np.ndarray, k: int) -> SearchResult:
        k = max(1, k)
        valid = int(np.count_nonzero(sims > 0))
        if valid == 0:
            return SearchResult(text, [], False, self.threshold, [])
        take = min(max(k, 2), valid)
        top = np.argpartition(-sims, take - 1)[:take] if take < len(sims) else np.arange(len(sims))
        top = sorted(top.tolist(), key=lambda i: (-sims[i], i))[:take]
        best, second = sims[top[0]], (sims[top[1]] if len(top) > 1 else 0.0)
        matches, raw = [], []
        for i in top[:k]:
            other = second if i == top[0] else best
            matches.append(Match(self.entries[i].id, round(confidence(sims[i], sims[i] - other), 4)))
            raw.append(round(float(sims[i]), 4))
        answered = matches[0].score >= self.threshold
        return SearchResult(text, matches, answered, self.threshold, raw)


class _Postings:
    """idf-weighted term postings over the variants; ``coverage`` gives the share of each
    variant's idf mass the query has, and of the query's idf mass the variant has.
    With a second term list per variant (the synonym-mapped text), the better of the two."""

    def __init__(self, terms: list[tuple[str, ...]], alt_terms: list[tuple[str, ...]] | None = None) -> None:
        n = max(len(terms), 1)
        df: dict[str, int] = {}
        for v, ts in enumerate(terms):
            seen = set(ts) | (set(alt_terms[v]) if alt_terms else set())
            for t in seen:
                df[t] = df.get(t, 0) + 1
        self.idf = {t: math.log(1.0 + (n - c + 0.5) / (c + 0.5)) for t, c in df.items()}
        self.idf_unseen = math.log(1.0 + (n + 0.5) / 0.5)
        self._plain = self._build(terms)
        self._alt = self._build(alt_terms) if alt_terms is not None else None

    def _build(self, terms):
        postings: dict[str, list[int]] = {}
        totals = np.zeros(len(terms), dtype=np.float64)
        for v, ts in enumerate(terms):
            for t in set(ts):
                postings.setdefault(t, []).append(v)
                totals[v] += self.idf[t]
        return {t: np.asarray(p, dtype=np.int64) for t, p in postings.items()}, np.maximum(totals, 1e-9)

    def _one(self, table, query: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
        postings, totals = table
        hit = np.zeros(len(totals), dtype=np.float64)
        q_total = 0.0
        for t in set(query):
            idf = self.idf.get(t, self.idf_unseen)
            q_total += idf
            post = postings.get(t)
            if post is not None:
                hit[post] += idf
        return hit / totals, (hit / q_total if q_total else hit)

    def coverage(self, query, doc_out: np.ndarray, query_out: np.ndarray, alt_query=None) -> None:
        d, q = self._one(self._plain, query)
        if self._alt is not None and alt_query is not None:
            d2, q2 = self._one(self._alt, alt_query)
            np.maximum(d, d2, out=d)
            np.maximum(q, q2, out=q)
        doc_out[:] = d
        query_out[:] = q


def _bigrams(sounds: tuple[str, ...]) -> tuple[str, ...]:
    if len(sounds) < 2:
        return tuple(sounds)
    return tuple(f"{a} {b}" for a, b in zip(sounds, sounds[1:]))


def _encode(sounds: tuple[str, ...], codes: dict[str, str], grow: bool = False) -> str:
    if grow:
        return "".join(codes.setdefault(s, chr(0xF0000 + len(codes) % 0x1FFFE)) for s in sounds)
    return "".join(codes.get(s, _UNKNOWN) for s in sounds)
