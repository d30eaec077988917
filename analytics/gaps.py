"""Knowledge gaps (知识库缺口): what callers asked that the knowledge base could not answer.

The calls counted are those whose self-service result (``CallRecord.kb_result``) was
``low_confidence`` (no entry was sure enough), ``no_match`` (nothing matched) or
``not_solved`` (an answer was played and the caller pressed 0), with a transcript. Similar
questions are grouped (``analytics.text``: TF-IDF cosine of jieba words with the group's
centroid ≥ ``gap_similarity``) into candidate entries with their frequency, up to three example
transcripts (phone numbers masked), the nearest knowledge entry and the likely handling unit —
by the dispatch rules, then unit duties, then a naive-Bayes suggestion trained on entries, duties
and recent tickets (``tickets.dispatch``), then the nearest entry's unit — so each unit sees the
gaps in its own topics (共建共享). :func:`promote` turns a gap and an admin's answer into a
knowledge-base line in the interchange format (DESIGN §4).
"""
from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from analytics import text as tx
from callers.models import CallRecord
from core.logs import mask_text
from knowledge import interchange
from knowledge.models import KnowledgeEntry
from tickets.dispatch import UnitSuggester, duty_words, route
from tickets.models import Ticket, Unit

GAP_RESULTS = ("low_confidence", "no_match", "not_solved")
MAX_CALLS = 50_000            # the most recent gap calls looked at
SUGGESTER_TICKETS = 20_000    # recent dispatched tickets the unit suggestion learns from
EXAMPLES = 3


@dataclass
class Gap:
    id: str
    question: str                    # the most typical question of the group
    calls: int
    results: dict[str, int]
    first_at: datetime
    last_at: datetime
    examples: list[str]
    terms: list[str]
    nearest: dict | None = None      # {"id", "question", "score"}
    unit: str | None = None          # unit code
    unit_name: str | None = None
    unit_source: str = "none"        # rule | duty | suggestion | knowledge | none
    variants: list[str] = field(default_factory=list)

    def as_json(self) -> dict:
        return {"id": self.id, "question": self.question, "calls": self.calls, "results": self.results,
                "first_at": self.first_at.isoformat(), "last_at": self.last_at.isoformat(),
                "examples": self.examples, "terms": self.terms, "nearest": self.nearest, "unit": self.unit,
                "unit_name": self.unit_name, "unit_source": self.unit_source}


@dataclass
class _Call:
    id: str
    at: datetime
    transcript: str
    result: str
    entry: str | None
    score: float | None


def _units(session: Session) -> tuple[dict[str, str], dict[str, str]]:
    names, by_name = {}, {}
    for code, name in session.execute(select(Unit.code, Unit.name)):
        names[code], by_name[name] = name, code
    return names, by_name


def unit_suggester(session: Session, now: datetime) -> UnitSuggester:
    """Naive Bayes over knowledge entries (question → unit), unit duties and recent tickets."""
    names, by_name = _units(session)
    pairs = []
    for question, alternates, unit in session.execute(
            select(KnowledgeEntry.question, KnowledgeEntry.alternates, KnowledgeEntry.unit)
            .where(KnowledgeEntry.unit != "")):
        code = unit if unit in names else by_name.get(unit)
        if code:
            pairs += [(q, code) for q in [question, *(alternates or [])]]
    for code, name, duties in session.execute(select(Unit.code, Unit.name, Unit.duties).where(Unit.active.is_(True))):
        if duties:
            pairs.append((" ".join(duty_words(duties)) + " " + name, code))
    pairs += [(content or transcript, code) for content, transcript, code in session.execute(
        select(Ticket.content, Ticket.transcript, Unit.code).join(Unit, Unit.id == Ticket.unit_id)
        .where(Ticket.received_at >= now - timedelta(days=90))
        .order_by(Ticket.received_at.desc()).limit(SUGGESTER_TICKETS))]
    return UnitSuggester().fit(pairs)


def _question(c: _Call, centroid: tx.Vector) -> str:
    lines = [ln.strip() for ln in c.transcript.splitlines() if ln.strip()] or [c.transcript.strip()]
    return max(lines, key=lambda ln: (tx.cosine(tx.vector(ln), centroid), -lines.index(ln)))


def gap_id(centroid: tx.Vector) -> str:
    key = "+".join(sorted(tx.top_terms(centroid, 3)))
    return "gap-" + hashlib.sha1(key.encode("utf-8")).hexdigest()[:10]


def find_gaps(session: Session, *, since: datetime, until: datetime, similarity: float = 0.4,
              min_count: int = 2, unit: str | None = None, kb=None) -> list[Gap]:
    """Groups of unanswered questions asked in [since, until), most frequent first.

    ``unit`` (a unit code or name) keeps the gaps of that unit only; ``kb`` (a
    ``knowledge.service.KnowledgeBase``) finds the nearest entry when the calls name none.
    """
    rows = session.execute(
        select(CallRecord.id, CallRecord.started_at, CallRecord.transcript, CallRecord.kb_result,
               CallRecord.kb_entry, CallRecord.kb_score)
        .where(CallRecord.kb_result.in_(GAP_RESULTS), CallRecord.transcript != "",
               CallRecord.started_at >= since, CallRecord.started_at < until)
        .order_by(CallRecord.started_at.desc(), CallRecord.id).limit(MAX_CALLS)).all()
    calls = [_Call(*r) for r in reversed(rows)]
    groups = [g for g in tx.cluster(calls, [tx.vector(c.transcript) for c in calls], similarity)
              if len(g.members) >= min_count and g.centroid]
    if not groups:
        return []
    names, by_name = _units(session)
    wanted = None if unit is None else (unit if unit in names else by_name.get(unit, unit))
    suggester = unit_suggester(session, until)
    entries = dict(session.execute(select(KnowledgeEntry.id, KnowledgeEntry.question)).all())
    entry_units = dict(session.execute(select(KnowledgeEntry.id, KnowledgeEntry.unit)).all())
    gaps = []
    for g in groups:
        members: list[_Call] = g.members
        order = sorted(range(len(members)), key=lambda i: (-g.similarity(g.vectors[i]), i))
        question = _question(members[order[0]], g.centroid)
        examples, variants = [], []
        for i in order:
            text = mask_text(members[i].transcript.strip())
            if text not in examples:
                examples.append(text)
            line = mask_text(_question(members[i], g.centroid))
            if line not in variants:
                variants.append(line)
        gap = Gap(id=gap_id(g.centroid), question=mask_text(question), calls=len(members),
                  results=dict(sorted(Counter(c.result for c in members).items())),
                  first_at=min(c.at for c in members), last_at=max(c.at for c in members),
                  examples=examples[:EXAMPLES], terms=tx.top_terms(g.centroid, 5), variants=variants[:6])
        offered = Counter(c.entry for c in members if c.entry and c.entry in entries)
        if offered:
            entry_id = offered.most_common(1)[0][0]
            scores = [c.score for c in members if c.entry == entry_id and c.score is not None]
            gap.nearest = {"id": entry_id, "question": entries[entry_id],
                           "score": round(sum(scores) / len(scores), 4) if scores else None}
        elif kb is not None:
            found = kb.search(question, 1)
            if found.matches:
                m = found.matches[0]
                gap.nearest = {"id": m.entry_id, "question": entries.get(m.entry_id, ""), "score": round(m.score, 4)}
        decision = route(session, kind="consult", text=question, suggester=suggester)
        if decision.unit:
            gap.unit, gap.unit_source = decision.unit, decision.source
        elif gap.nearest:
            owner = entry_units.get(gap.nearest["id"]) or ""
            code = owner if owner in names else by_name.get(owner)
            if code:
                gap.unit, gap.unit_source = code, "knowledge"
        gap.unit_name = names.get(gap.unit) if gap.unit else None
        if wanted is None or gap.unit == wanted:
            gaps.append(gap)
    gaps.sort(key=lambda x: (-x.calls, -x.last_at.timestamp(), x.id))
    return gaps


def promote(gap: Gap, answer: str, *, entry_id: str | None = None, category: str = "") -> str:
    """A knowledge-base line (DESIGN §4) for the gap, with the admin's answer; validated as
    ``hotline kb import`` would, so it can be imported as it is."""
    if not (answer or "").strip():
        raise ValueError("give the answer the new entry should play (--answer)")
    alternates = [v for v in gap.variants if v != gap.question][:5]
    line = json.dumps({"id": entry_id or gap.id, "question": gap.question, "answer": answer.strip(),
                       "alternates": alternates, "keywords": gap.terms[:5],
                       "unit": gap.unit_name or gap.unit or "", "category": category}, ensure_ascii=False)
    interchange.parse_lines([line], "promoted gap")        # raises ImportFailed when not importable
    return line
