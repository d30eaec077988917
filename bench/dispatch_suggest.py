"""Dispatch suggestion: which handling unit a request goes to, engine vs plain baselines.

    .venv/bin/python bench/dispatch_suggest.py [--seed 12345] [--folds 5] [--json]

* Data: ``../shared/data/tpe-faq/tpe-faq.jsonl`` (1,852 FAQ entries of 124 Taipei units);
  the request is the ``question``, the answer key its ``unit``.
* Held-out split (fixed): entries are grouped by question text (tpe-faq repeats some
  questions; a repeat never lands on both sides); per unit, the groups are shuffled with
  ``--seed`` and the first fifth (rounded down) is held out, so a unit with fewer than five
  questions is only trained on.  ``--folds N`` adds an N-fold grouped cross-validation over
  the whole set (same grouping) as a check that the split is not a lucky one.
* Engine: ``tickets.dispatch.UnitSuggester`` (naive Bayes over character bigrams, alpha 0.1),
  trained on the training questions only.
* Baselines, same split: the majority units (top-3 = the three largest units), and jieba +
  ``rank_bm25.BM25Okapi`` over the training questions, a unit ranked by its best question.
* Latency: wall time per suggestion, one thread, p50 / p99.
"""
from __future__ import annotations

import argparse
import json
import logging
import random
import re
import statistics
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tickets.dispatch import UnitSuggester  # noqa: E402

TPE = ROOT.parent / "shared" / "data" / "tpe-faq" / "tpe-faq.jsonl"
_PUNCT = re.compile(r"[\W_]+")


def load(path: Path = TPE) -> list[dict]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _groups(rows: list[dict]) -> dict[str, list[dict]]:
    groups: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        groups[_PUNCT.sub("", r["question"])].append(r)
    return groups


def split(rows: list[dict], seed: int) -> tuple[list[dict], list[dict]]:
    """Grouped, stratified: a fifth of each unit's question groups held out."""
    by_unit: dict[str, list[list[dict]]] = defaultdict(list)
    for key, members in sorted(_groups(rows).items()):
        units = {m["unit"] for m in members}
        by_unit[members[0]["unit"] if len(units) == 1 else "\0mixed"].append(members)
    train, test = [], []
    for unit in sorted(by_unit):
        groups = by_unit[unit]
        random.Random(f"{seed}:{unit}").shuffle(groups)
        k = 0 if unit == "\0mixed" else len(groups) // 5
        test += [m for g in groups[:k] for m in g]
        train += [m for g in groups[k:] for m in g]
    return train, test


def folds(rows: list[dict], n: int, seed: int) -> list[tuple[list[dict], list[dict]]]:
    groups = sorted(_groups(rows).values(), key=lambda g: g[0]["id"])
    random.Random(seed).shuffle(groups)
    parts = [groups[i::n] for i in range(n)]
    return [([m for j, p in enumerate(parts) if j != i for g in p for m in g], [m for g in parts[i] for m in g])
            for i in range(n)]


class Bm25Nearest:
    """The plain baseline: jieba + BM25 over the training questions; a unit scores as its best one."""

    def __init__(self, train: list[dict]) -> None:
        import jieba
        from rank_bm25 import BM25Okapi

        jieba.setLogLevel(logging.WARNING)
        self.cut = lambda t: [w for w in jieba.lcut(t) if w.strip() and not _PUNCT.fullmatch(w)]
        self.units = [r["unit"] for r in train]
        self.bm25 = BM25Okapi([self.cut(r["question"]) or ["_"] for r in train])

    def suggest(self, text: str, k: int = 3) -> list[tuple[str, float]]:
        scores = self.bm25.get_scores(self.cut(text))
        out: list[tuple[str, float]] = []
        for i in sorted(range(len(scores)), key=lambda i: -scores[i]):
            if all(u != self.units[i] for u, _ in out):
                out.append((self.units[i], float(scores[i])))
                if len(out) == k:
                    break
        return out


class Majority:
    def __init__(self, train: list[dict]) -> None:
        self.top = Counter(r["unit"] for r in train).most_common(3)

    def suggest(self, text: str, k: int = 3) -> list[tuple[str, float]]:
        return [(u, float(n)) for u, n in self.top[:k]]


def evaluate(model, test: list[dict]) -> dict:
    top1 = top3 = 0
    times = []
    for r in test:
        t0 = time.perf_counter()
        ranked = [u for u, _ in model.suggest(r["question"], k=3)]
        times.append((time.perf_counter() - t0) * 1000)
        top1 += ranked[:1] == [r["unit"]]
        top3 += r["unit"] in ranked
    times.sort()
    return {"top1": top1 / len(test), "top3": top3 / len(test), "n": len(test),
            "p50_ms": statistics.median(times), "p99_ms": times[min(len(times) - 1, int(len(times) * 0.99))]}


def engine(train: list[dict]) -> UnitSuggester:
    return UnitSuggester(alpha=0.1).fit((r["question"], r["unit"]) for r in train)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=12345)
    ap.add_argument("--folds", type=int, default=0, help="also N-fold grouped cross-validation")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    rows = load()
    train, test = split(rows, args.seed)
    units = {r["unit"] for r in rows}
    results = {"entries": len(rows), "units": len(units), "train": len(train), "test": len(test),
               "test_units": len({r["unit"] for r in test}), "seed": args.seed, "split": {}}
    for name, make in (("engine: naive Bayes, char bigrams", engine), ("baseline: jieba + BM25 nearest", Bm25Nearest),
                       ("baseline: majority units", Majority)):
        results["split"][name] = evaluate(make(train), test)
    if args.folds:
        results["cv"] = {}
        for name, make in (("engine: naive Bayes, char bigrams", engine),
                           ("baseline: jieba + BM25 nearest", Bm25Nearest)):
            scores = [evaluate(make(tr), te) for tr, te in folds(rows, args.folds, args.seed)]
            results["cv"][name] = {k: statistics.mean(s[k] for s in scores) for k in ("top1", "top3")}
    if args.json:
        print(json.dumps(results, ensure_ascii=False, indent=2))
        return 0
    print(f"tpe-faq: {results['entries']} entries, {results['units']} units; held out {results['test']} "
          f"questions of {results['test_units']} units (seed {args.seed}), trained on {results['train']}")
    print(f"{'model':38} {'top-1':>7} {'top-3':>7} {'p50 ms':>8} {'p99 ms':>8}")
    for name, r in results["split"].items():
        print(f"{name:38} {r['top1']:7.1%} {r['top3']:7.1%} {r['p50_ms']:8.2f} {r['p99_ms']:8.2f}")
    for name, r in results.get("cv", {}).items():
        print(f"{args.folds}-fold CV  {name:27} {r['top1']:7.1%} {r['top3']:7.1%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
