"""Dispatch (派单): editable, versioned rules first, then unit duties, then a learned suggestion.

Rules are a JSON list; each rule names a unit and any of ``kinds``, ``regions``, ``keywords``
(any of them in the request text) and ``tags`` (e.g. an industry tag on the ticket).  A rule
matches when every condition it gives holds; the first matching rule wins.  Every edit saves a
new version; the highest version is in force (restoring an old one saves it again as new).

``UnitSuggester`` is a multinomial naive Bayes over character bigrams, trained on (text,
unit) pairs from handled tickets and knowledge entries; bigrams need no segmenter and
survive recognition errors in a transcript.  See bench/dispatch_suggest.py for its accuracy.
"""
from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tickets.models import KINDS, DispatchRuleSet, Ticket, Unit

RULE_FIELDS = {"unit", "kinds", "regions", "keywords", "tags", "note"}


class RuleError(ValueError):
    pass


@dataclass(frozen=True)
class RuleSet:
    version: int                  # 0: no rules saved yet
    rules: list[dict]


@dataclass(frozen=True)
class Decision:
    unit: str | None              # unit code, None when nothing points anywhere
    source: str                   # rule | duty | suggestion | none
    detail: dict = field(default_factory=dict)


# -- rules -------------------------------------------------------------------------------

def current_rules(session: Session) -> RuleSet:
    row = session.scalars(select(DispatchRuleSet).order_by(DispatchRuleSet.version.desc()).limit(1)).first()
    return RuleSet(row.version, json.loads(row.rules)) if row else RuleSet(0, [])


def rule_versions(session: Session) -> list[DispatchRuleSet]:
    return list(session.scalars(select(DispatchRuleSet).order_by(DispatchRuleSet.version)))


def validate_rules(session: Session, rules) -> list[dict]:
    if not isinstance(rules, list):
        raise RuleError("dispatch rules must be a JSON list of objects")
    codes = set(session.scalars(select(Unit.code)))
    clean = []
    for i, rule in enumerate(rules, 1):
        if not isinstance(rule, dict):
            raise RuleError(f"rule {i}: must be an object")
        unknown = set(rule) - RULE_FIELDS
        if unknown:
            raise RuleError(f"rule {i}: unknown field(s) {', '.join(sorted(unknown))}")
        if rule.get("unit") not in codes:
            raise RuleError(f"rule {i}: unit {rule.get('unit')!r} does not exist (hotline tickets units add)")
        for key in ("kinds", "regions", "keywords", "tags"):
            value = rule.get(key, [])
            if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
                raise RuleError(f"rule {i}: {key} must be a list of non-empty strings")
        bad = [k for k in rule.get("kinds", []) if k not in KINDS]
        if bad:
            raise RuleError(f"rule {i}: unknown kind(s) {', '.join(bad)}; kinds are {', '.join(KINDS)}")
        if not any(rule.get(k) for k in ("kinds", "regions", "keywords", "tags")):
            raise RuleError(f"rule {i}: give at least one condition (kinds, regions, keywords or tags)")
        clean.append({k: rule[k] for k in sorted(rule)})
    return clean


def save_rules(session: Session, rules, *, actor: str, now: datetime, note: str = "",
               restored_from: int | None = None) -> int:
    """Save a new version (it comes into force at once); returns its number.

    Two admins saving at once: the unique version makes the second one fail, never merge.
    """
    clean = validate_rules(session, rules)
    latest = session.scalar(select(func.max(DispatchRuleSet.version))) or 0
    row = DispatchRuleSet(version=latest + 1, rules=json.dumps(clean, ensure_ascii=False), note=note,
                          created_by=actor[:64], created_at=now, restored_from=restored_from)
    session.add(row)
    session.flush()
    return row.version


def restore_rules(session: Session, version: int, *, actor: str, now: datetime) -> int:
    old = session.scalars(select(DispatchRuleSet).where(DispatchRuleSet.version == version)).first()
    if old is None:
        raise RuleError(f"no dispatch rules version {version}")
    return save_rules(session, json.loads(old.rules), actor=actor, now=now,
                      note=f"restored from version {version}", restored_from=version)


def match_rule(rules: list[dict], *, kind: str, text: str, region: str = "",
               tags: Iterable[str] = ()) -> tuple[int, dict] | None:
    tags = set(tags)
    for i, rule in enumerate(rules):
        if rule.get("kinds") and kind not in rule["kinds"]:
            continue
        if rule.get("regions") and region not in rule["regions"]:
            continue
        if rule.get("keywords") and not any(k in text for k in rule["keywords"]):
            continue
        if rule.get("tags") and not tags.intersection(rule["tags"]):
            continue
        return i, rule
    return None


def duty_words(duties: str) -> list[str]:
    """Duty keywords as typed: separated by commas (half or full width), 、 or spaces."""
    return [w for w in re.split(r"[,，、;；\s]+", duties or "") if w]


def duty_match(session: Session, text: str, region: str = "") -> str | None:
    """The unit whose duty keywords occur most in the text (a unit of the same region first)."""
    best: tuple | None = None
    for unit in session.scalars(select(Unit).where(Unit.active.is_(True)).order_by(Unit.code)):
        hits = sum(1 for d in duty_words(unit.duties) if d in text)
        if hits:
            key = (hits, bool(region) and unit.region == region)
            if best is None or key > best[0]:
                best = (key, unit.code)
    return best[1] if best else None


def route(session: Session, *, kind: str, text: str, region: str = "", tags: Iterable[str] = (),
          suggester: "UnitSuggester | None" = None) -> Decision:
    """Where a request goes: the first matching rule, else a unit's duty, else the suggestion."""
    ruleset = current_rules(session)
    hit = match_rule(ruleset.rules, kind=kind, text=text, region=region, tags=tags)
    if hit:
        return Decision(hit[1]["unit"], "rule", {"version": ruleset.version, "rule": hit[0] + 1})
    unit = duty_match(session, text, region)
    if unit:
        return Decision(unit, "duty")
    if suggester is not None and suggester.trained:
        top = suggester.suggest(text, k=3)
        if top:
            return Decision(top[0][0], "suggestion", {"candidates": [[u, round(p, 3)] for u, p in top]})
    return Decision(None, "none")


# -- learned suggestion ----------------------------------------------------------------------

def features(text: str) -> list[str]:
    """Character bigrams over CJK letters and ASCII alphanumerics (punctuation and spaces dropped)."""
    chars = [c for c in text.lower() if "\u4e00" <= c <= "\u9fff" or (c.isascii() and c.isalnum())]
    if len(chars) == 1:
        return chars
    return [a + b for a, b in zip(chars, chars[1:])]


class UnitSuggester:
    """Multinomial naive Bayes, P(unit | bigrams), with Lidstone smoothing ``alpha``."""

    def __init__(self, alpha: float = 0.1) -> None:
        self.alpha = alpha
        self.counts: dict[str, Counter] = {}
        self.docs: Counter = Counter()
        self.totals: dict[str, int] = {}
        self.vocab: set[str] = set()

    @property
    def trained(self) -> bool:
        return bool(self.docs)

    def fit(self, pairs: Iterable[tuple[str, str]]) -> "UnitSuggester":
        for text, unit in pairs:
            if not unit or not text:
                continue
            self.counts.setdefault(unit, Counter()).update(features(text))
            self.docs[unit] += 1
        self.totals = {u: sum(c.values()) for u, c in self.counts.items()}
        self.vocab = set().union(*self.counts.values()) if self.counts else set()
        return self

    def suggest(self, text: str, k: int = 3) -> list[tuple[str, float]]:
        """The ``k`` likeliest units with their posterior probability, best first."""
        if not self.trained:
            return []
        grams = [g for g in features(text) if g in self.vocab]
        n_docs, a, v = sum(self.docs.values()), self.alpha, len(self.vocab)
        scores = {}
        for unit, counts in self.counts.items():
            denom = math.log(self.totals[unit] + a * v)
            scores[unit] = math.log(self.docs[unit] / n_docs) + sum(math.log(counts[g] + a) - denom for g in grams)
        top = max(scores.values())
        z = sum(math.exp(s - top) for s in scores.values())
        ranked = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))[:k]
        return [(u, math.exp(s - top) / z) for u, s in ranked]

    @classmethod
    def from_session(cls, session: Session, extra: Iterable[tuple[str, str]] = (), alpha: float = 0.1):
        """Trained on tickets that reached a unit (content → unit code) and on units' duty words."""
        rows = session.execute(select(Ticket.content, Ticket.transcript, Unit.code)
                               .join(Unit, Ticket.unit_id == Unit.id)).all()
        pairs = [(content or transcript, code) for content, transcript, code in rows]
        pairs += [(" ".join(duty_words(u.duties)) + " " + u.name, u.code)
                  for u in session.scalars(select(Unit).where(Unit.active.is_(True))) if u.duties]
        return cls(alpha).fit(list(pairs) + list(extra))


def pairs_from_jsonl(path: str | Path) -> list[tuple[str, str]]:
    """(question, unit) pairs from a knowledge base in the interchange format (DESIGN §4)."""
    pairs = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if not line.strip():
                continue
            entry = json.loads(line)
            if entry.get("unit"):
                for q in [entry.get("question", "")] + list(entry.get("alternates") or []):
                    pairs.append((q, entry["unit"]))
    return pairs
