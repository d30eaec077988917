"""How analytics compares requests: TF-IDF vectors of jieba words, cosine, greedy clustering.

Explainable on purpose: a request becomes the words the knowledge base's analyzer finds
(``knowledge.text``: jieba with the hotline's own words and synonyms, stop words dropped), minus
words every request has (反映, 什么时候, 小区, …) and numbers; each word weighs its
inverse document frequency in jieba's shipped IDF table (停水 ≈ 11, 小时 ≈ 5.7), so a rare,
specific word decides similarity more than a common one.  Two requests are similar when the
cosine of their vectors is high; a cluster is similar to a request by the cosine with the
cluster's centroid (the sum of its members' unit vectors), so the words its members share
dominate.
"""
from __future__ import annotations

import functools
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from knowledge.lexicon import STOP_WORDS
from knowledge.text import analyzer, normalize

Vector = dict[str, float]

# words nearly every request to a hotline has: they say nothing about what it is about
GENERIC_WORDS = frozenset(
    "什么 什么样 时候 怎么 怎么办 怎样 如何 为什么 为何 哪里 哪儿 哪个 多少 多久 几时 能否 是否 是不是 "
    "可以 可不可以 能不能 不能 能够 需要 没有 不是 一直 总是 经常 突然 好几个 几个 一个 两个 三个 "
    "反映 投诉 咨询 举报 建议 求助 问题 情况 事情 市民 来电 热线 希望 要求 请求 尽快 马上 赶紧 "
    "处理 解决 回复 答复 相关 部门 有关 政府 工作人员 联系 电话 今天 昨天 前天 明天 现在 目前 最近 "
    "早上 上午 中午 下午 晚上 小时 分钟 天 已经 还 还是 了 的 呢 啊 吧 家里 我家 这边 那边 附近 "
    "一下 知道 告诉 看看 帮忙 麻烦 谢谢 您好 你好 小区 街道 社区".split()
)
_NUMBER = re.compile(r"^[\d.]+$|^[零一二三四五六七八九十百千万两]+$")


@functools.lru_cache(maxsize=1)
def _idf() -> tuple[dict[str, float], float]:
    import jieba.analyse

    table = jieba.analyse.default_tfidf
    return table.idf_freq, table.median_idf


def words(text: str) -> list[str]:
    """The content words of a request (synonyms mapped to one form)."""
    an = analyzer()
    out = []
    for token in an.tokens(normalize(text)):
        token = an.canonical.get(token, token)
        if token in STOP_WORDS or token in GENERIC_WORDS or _NUMBER.match(token):
            continue
        if len(token) == 1 and not ("\u4e00" <= token <= "\u9fff"):
            continue
        out.append(token)
    return out


def vector(text: str) -> Vector:
    """Unit-length TF-IDF vector of a request's words ({} when it has none)."""
    idf, median = _idf()
    v: Vector = {}
    for w in words(text):
        v[w] = v.get(w, 0.0) + idf.get(w, median)
    norm = math.sqrt(sum(x * x for x in v.values()))
    return {w: x / norm for w, x in v.items()} if norm else {}


def cosine(a: Vector, b: Vector) -> float:
    if len(a) > len(b):
        a, b = b, a
    dot = sum(x * b.get(w, 0.0) for w, x in a.items())
    na = math.sqrt(sum(x * x for x in a.values()))
    nb = math.sqrt(sum(x * x for x in b.values()))
    return dot / (na * nb) if na and nb else 0.0


def top_terms(v: Vector, n: int = 5) -> list[str]:
    return [w for w, _ in sorted(v.items(), key=lambda kv: (-kv[1], kv[0]))[:n]]


T = TypeVar("T")


@dataclass
class Group(Generic[T]):
    """Members (in arrival order) and their centroid."""

    members: list[T] = field(default_factory=list)
    vectors: list[Vector] = field(default_factory=list)
    centroid: Vector = field(default_factory=dict)

    def add(self, item: T, v: Vector) -> None:
        self.members.append(item)
        self.vectors.append(v)
        for w, x in v.items():
            self.centroid[w] = self.centroid.get(w, 0.0) + x

    def similarity(self, v: Vector) -> float:
        return cosine(v, self.centroid)

    def central(self) -> int:
        """Index of the member nearest the centroid (the cluster's representative)."""
        scores = [self.similarity(v) for v in self.vectors]
        return max(range(len(scores)), key=lambda i: (scores[i], -i))


def cluster(items: Sequence[T], vectors: Sequence[Vector], threshold: float) -> list[Group[T]]:
    """Greedy clustering in the given order: each item joins the most similar group (cosine
    with its centroid ≥ ``threshold``) or starts a new one. Items with no words stay alone."""
    groups: list[Group[T]] = []
    index: dict[str, list[int]] = {}          # word -> groups whose centroid has it
    for item, v in zip(items, vectors):
        best, best_sim = None, threshold
        if v:
            seen: set[int] = set()
            for w in v:
                for g in index.get(w, ()):
                    if g in seen:
                        continue
                    seen.add(g)
                    sim = groups[g].similarity(v)
                    if sim >= best_sim:
                        best, best_sim = g, sim
        if best is None:
            groups.append(Group())
            best = len(groups) - 1
        before = set(groups[best].centroid)
        groups[best].add(item, v)
        for w in set(v) - before:
            index.setdefault(w, []).append(best)
    return groups


def vectors_of(texts: Iterable[str]) -> list[Vector]:
    return [vector(t) for t in texts]
