"""Weak signals (弱信号): unusual clusters of similar requests from one region, as alerts.

Every scan (a scheduled job, or ``hotline report signals --run``) looks at the tickets received
in the last window (``signal_window_minutes``, ending now):

1. **Group** them by region (the ticket's county/district); within a region, tickets with a
   topic (``analytics.topics``: 停水, 停电, …) form one cluster per topic, and the others are
   clustered by text similarity (``analytics.text``: TF-IDF cosine of jieba words with the
   cluster's centroid ≥ ``signal_similarity``) — tickets about one place share its name.
2. **Compare** each cluster's count *n* in the window with its usual count per window, λ: the
   number of the same region's tickets of the same topic (or as similar to the centroid) in the
   previous ``signal_baseline_days`` days, scaled to one window.
3. **Alert** when n ≥ max(``signal_min_count``, ``signal_ratio`` × λ) and n that high is
   unlikely at the usual rate: the Poisson tail P(X ≥ n | λ) ≤ ``signal_max_p_value`` (kept
   with the alert to say how unusual it is). The ratio keeps a busy topic's ordinary ups and
   downs quiet; the tail keeps a small cluster with a non-zero usual count from alerting on
   chance alone.

An alert is raised once per cluster: while it is open or acknowledged and its latest ticket is
recent, a later scan that finds the same cluster (a ticket already behind it, the same key, or
for text clusters the same words) adds the new tickets to it instead of raising another.
Tickets behind a closed alert never raise another one.
"""
from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from analytics import text as tx
from analytics.models import ACKNOWLEDGED, CLOSED, OPEN, SignalAlert, SignalAlertTicket
from analytics.topics import contains, request_text, text_expr, topic_condition, topic_of
from core.clock import require_aware, utcnow
from tickets.models import Ticket

log = logging.getLogger(__name__)

BASELINE_CANDIDATES = 20_000     # text clusters: at most this many baseline tickets are compared
KEY_TERMS = 3                    # words in a text cluster's key (and its baseline pre-filter)


@dataclass(frozen=True)
class SignalConfig:
    window_minutes: int = 60
    baseline_days: int = 14
    min_count: int = 5
    ratio: float = 3.0
    similarity: float = 0.35
    max_p_value: float = 0.001

    @classmethod
    def from_settings(cls, settings) -> "SignalConfig":
        return cls(settings.signal_window_minutes, settings.signal_baseline_days,
                   settings.signal_min_count, settings.signal_ratio, settings.signal_similarity,
                   settings.signal_max_p_value)

    @property
    def window(self) -> timedelta:
        return timedelta(minutes=self.window_minutes)

    @property
    def windows_in_baseline(self) -> float:
        return self.baseline_days * 24 * 60 / self.window_minutes


@dataclass
class Doc:
    ticket_id: int
    number: str
    received_at: datetime
    region: str
    text: str
    topic: str
    vec: tx.Vector


@dataclass
class Cluster:
    region: str
    topic: str                       # '' for a cluster by text similarity
    docs: list[Doc]
    centroid: tx.Vector

    @property
    def terms(self) -> list[str]:
        return tx.top_terms(self.centroid, 5)

    @property
    def key(self) -> str:
        if self.topic:
            return f"{self.region}|topic:{self.topic}"
        return f"{self.region}|words:{'+'.join(sorted(tx.top_terms(self.centroid, KEY_TERMS)))}"

    @property
    def label(self) -> str:
        what = self.topic or "、".join(self.terms[:KEY_TERMS])
        return f"{self.region or '（未知区域）'} · {what}"


@dataclass
class Detection:
    cluster: Cluster
    count: int
    baseline: int                    # similar tickets in the baseline period
    expected: float                  # usual count per window (λ)
    threshold: float
    p_value: float
    alert_id: int | None = None
    raised: bool = False             # a new alert (False: an ongoing one was updated)
    added: list[str] = field(default_factory=list)   # ticket numbers newly behind the alert

    def as_json(self) -> dict:
        return {"alert": self.alert_id, "raised": self.raised, "key": self.cluster.key,
                "label": self.cluster.label, "region": self.cluster.region, "topic": self.cluster.topic,
                "terms": self.cluster.terms, "count": self.count, "baseline": self.baseline,
                "expected": round(self.expected, 4), "threshold": round(self.threshold, 4),
                "p_value": self.p_value, "tickets": [d.number for d in self.cluster.docs],
                "added": self.added}


@dataclass
class ScanResult:
    at: datetime
    window_start: datetime
    tickets: int                     # tickets in the window
    clusters: int                    # clusters examined
    detections: list[Detection]

    @property
    def raised(self) -> list[Detection]:
        return [d for d in self.detections if d.raised]

    def as_json(self) -> dict:
        return {"at": self.at.isoformat(), "window_start": self.window_start.isoformat(),
                "tickets": self.tickets, "clusters": self.clusters,
                "detections": [d.as_json() for d in self.detections]}


def poisson_tail(k: int, lam: float) -> float:
    """P(X ≥ k) for X ~ Poisson(λ)."""
    if k <= 0:
        return 1.0
    if lam <= 0:
        return 0.0

    def pmf(i: int) -> float:
        return math.exp(-lam + i * math.log(lam) - math.lgamma(i + 1))

    if k > lam:                       # sum the upper tail directly (no cancellation)
        total, i = 0.0, k
        while True:
            term = pmf(i)
            total += term
            if term < 1e-17 * total or i > k + 100_000:
                return min(1.0, total)
            i += 1
    return max(0.0, 1.0 - sum(pmf(i) for i in range(k)))


def find_clusters(docs: list[Doc], similarity: float) -> list[Cluster]:
    """Clusters by region, then topic; tickets without a topic by text similarity."""
    by_region: dict[str, list[Doc]] = {}
    for d in docs:
        by_region.setdefault(d.region, []).append(d)
    out: list[Cluster] = []
    for region in sorted(by_region):
        topical: dict[str, list[Doc]] = {}
        rest: list[Doc] = []
        for d in by_region[region]:
            (topical.setdefault(d.topic, []) if d.topic else rest).append(d)
        for topic in sorted(topical):
            group = tx.Group()
            for d in topical[topic]:
                group.add(d, d.vec)
            out.append(Cluster(region, topic, group.members, group.centroid))
        for group in tx.cluster(rest, [d.vec for d in rest], similarity):
            out.append(Cluster(region, "", group.members, group.centroid))
    return out


def _baseline(session: Session, c: Cluster, start: datetime, cfg: SignalConfig, dialect: str) -> int:
    since = start - timedelta(days=cfg.baseline_days)
    where = (Ticket.region == c.region, Ticket.received_at >= since, Ticket.received_at < start)
    if c.topic:
        cond = topic_condition(Ticket.content, Ticket.transcript, c.topic, dialect)
        return int(session.scalar(select(func.count()).select_from(Ticket).where(*where, cond)) or 0)
    text = text_expr(Ticket.content, Ticket.transcript)
    terms = tx.top_terms(c.centroid, KEY_TERMS)
    if not terms:
        return 0
    rows = session.execute(select(Ticket.content, Ticket.transcript)
                           .where(*where, or_(*[contains(text, t, dialect) for t in terms]))
                           .limit(BASELINE_CANDIDATES))
    count = 0
    for content, transcript in rows:
        body = request_text(content, transcript)
        if not topic_of(body) and tx.cosine(tx.vector(body), c.centroid) >= cfg.similarity:
            count += 1
    return count


def _window_docs(session: Session, start: datetime, now: datetime) -> list[Doc]:
    closed = set(session.scalars(
        select(SignalAlertTicket.ticket_id).join(SignalAlert, SignalAlert.id == SignalAlertTicket.alert_id)
        .join(Ticket, Ticket.id == SignalAlertTicket.ticket_id)
        .where(SignalAlert.state == CLOSED, Ticket.received_at >= start, Ticket.received_at < now)))
    rows = session.execute(
        select(Ticket.id, Ticket.number, Ticket.received_at, Ticket.region, Ticket.content, Ticket.transcript)
        .where(Ticket.received_at >= start, Ticket.received_at < now).order_by(Ticket.received_at, Ticket.id))
    docs = []
    for tid, number, at, region, content, transcript in rows:
        if tid in closed:
            continue
        body = request_text(content, transcript)
        docs.append(Doc(tid, number, at, region or "", body, topic_of(body), tx.vector(body)))
    return docs


def scan(session: Session, now: datetime, config: SignalConfig = SignalConfig()) -> ScanResult:
    """One scan of the window ending at ``now``; raises or updates alerts in ``session``."""
    require_aware(now, "now")
    start = now - config.window
    dialect = session.get_bind().dialect.name
    docs = _window_docs(session, start, now)
    clusters = find_clusters(docs, config.similarity)
    detections = []
    for c in clusters:
        n = len(c.docs)
        if n < config.min_count:
            continue
        baseline = _baseline(session, c, start, config, dialect)
        expected = baseline / config.windows_in_baseline
        threshold = max(float(config.min_count), config.ratio * expected)
        p_value = poisson_tail(n, expected)
        if n < threshold or p_value > config.max_p_value:
            continue
        det = Detection(c, n, baseline, expected, threshold, p_value)
        _record(session, det, now, start, config)
        detections.append(det)
    session.flush()
    return ScanResult(now, start, len(docs), len(clusters), detections)


def _terms_json(c: Cluster) -> str:
    norm = math.sqrt(sum(x * x for x in c.centroid.values())) or 1.0
    top = tx.top_terms(c.centroid, 10)
    return json.dumps({w: round(c.centroid[w] / norm, 4) for w in top}, ensure_ascii=False)


def _ongoing(session: Session, c: Cluster, start: datetime, config: SignalConfig,
             linked: dict[int, int]) -> SignalAlert | None:
    candidates = session.scalars(
        select(SignalAlert).where(SignalAlert.state.in_((OPEN, ACKNOWLEDGED)), SignalAlert.region == c.region,
                                  SignalAlert.last_at >= start - config.window)
        .order_by(SignalAlert.last_at.desc(), SignalAlert.id.desc())).all()
    behind = set(linked.values())
    for alert in candidates:                      # a ticket of this cluster is already behind it
        if alert.id in behind:
            return alert
    for alert in candidates:
        if alert.cluster_key == c.key:
            return alert
    if not c.topic:
        for alert in candidates:
            if not alert.topic and tx.cosine(json.loads(alert.terms or "{}"), c.centroid) >= config.similarity:
                return alert
    return None


def _record(session: Session, det: Detection, now: datetime, start: datetime, config: SignalConfig) -> None:
    c = det.cluster
    ids = [d.ticket_id for d in c.docs]
    linked = dict(session.execute(select(SignalAlertTicket.ticket_id, SignalAlertTicket.alert_id)
                                  .where(SignalAlertTicket.ticket_id.in_(ids))).all())
    alert = _ongoing(session, c, start, config, linked)
    if alert is None:
        alert = SignalAlert(cluster_key=c.key[:200], region=c.region, topic=c.topic, terms=_terms_json(c),
                            label=c.label[:200], state=OPEN, raised_at=now, updated_at=now,
                            first_at=c.docs[0].received_at, last_at=c.docs[-1].received_at,
                            ticket_count=0, peak_count=0, note="")
        session.add(alert)
        session.flush()
        det.raised = True
    new = [d for d in c.docs if d.ticket_id not in linked]
    for d in new:
        session.add(SignalAlertTicket(alert_id=alert.id, ticket_id=d.ticket_id, added_at=now))
    if new:
        alert.ticket_count = (alert.ticket_count or 0) + len(new)
        alert.first_at = min(alert.first_at, new[0].received_at)
        alert.last_at = max(alert.last_at, new[-1].received_at)
        alert.updated_at = now
        if not c.topic:
            alert.terms = _terms_json(c)
    alert.window_count, alert.expected, alert.p_value = det.count, det.expected, det.p_value
    alert.peak_count = max(alert.peak_count or 0, det.count)
    det.alert_id, det.added = alert.id, [d.number for d in new]


# -- alerts --------------------------------------------------------------------------------------

def set_state(session: Session, alert_id: int, state: str, *, actor: str, now: datetime,
              note: str = "") -> SignalAlert:
    """Acknowledge or close an alert (a closed alert stays closed)."""
    alert = session.get(SignalAlert, alert_id)
    if alert is None:
        raise ValueError(f"no alert {alert_id}")
    if state not in (ACKNOWLEDGED, CLOSED):
        raise ValueError("an alert is acknowledged or closed")
    if alert.state == CLOSED:
        raise ValueError(f"alert {alert_id} is already closed")
    if state == ACKNOWLEDGED:
        alert.acknowledged_by, alert.acknowledged_at = actor[:64], now
    else:
        alert.closed_by, alert.closed_at = actor[:64], now
    alert.state = state
    if note:
        alert.note = (alert.note + "\n" if alert.note else "") + note
    alert.updated_at = now
    return alert


def alert_tickets(session: Session, alert_id: int) -> list[Ticket]:
    return list(session.scalars(select(Ticket).join(SignalAlertTicket, SignalAlertTicket.ticket_id == Ticket.id)
                                .where(SignalAlertTicket.alert_id == alert_id)
                                .order_by(Ticket.received_at, Ticket.id)))


def list_alerts(session: Session, states: tuple[str, ...] = (OPEN, ACKNOWLEDGED), limit: int = 100) -> list[dict]:
    from core.logs import mask_text

    alerts = session.scalars(select(SignalAlert).where(SignalAlert.state.in_(states))
                             .order_by(SignalAlert.last_at.desc(), SignalAlert.id.desc()).limit(limit)).all()
    out = []
    for a in alerts:
        tickets = alert_tickets(session, a.id)
        out.append({"id": a.id, "label": a.label, "key": a.cluster_key, "region": a.region, "topic": a.topic,
                    "terms": list(json.loads(a.terms or "{}")), "state": a.state,
                    "raised_at": a.raised_at.isoformat(), "first_at": a.first_at.isoformat(),
                    "last_at": a.last_at.isoformat(), "tickets": a.ticket_count, "window_count": a.window_count,
                    "peak_count": a.peak_count, "expected": round(a.expected, 4), "p_value": a.p_value,
                    "acknowledged_by": a.acknowledged_by, "closed_by": a.closed_by,
                    "ticket_list": [{"number": t.number, "received_at": t.received_at.isoformat(),
                                     "text": mask_text(request_text(t.content, t.transcript))[:200]}
                                    for t in tickets]})
    return out


def run_scan(db, settings, now: datetime | None = None) -> ScanResult:
    """One committed scan with the configured thresholds."""
    with db.session() as s:
        return scan(s, now or utcnow(), SignalConfig.from_settings(settings))


def scan_job(db, settings, clock: Callable[[], datetime] = utcnow) -> Callable[[], None]:
    """The scheduled job (every ``signal_scan_minutes``): scan, log the alerts raised."""
    def weak_signals() -> None:
        result = run_scan(db, settings, clock())
        for det in result.raised:
            log.warning("weak signal: alert %s %s — %d tickets in %d min (usual %.2f)", det.alert_id,
                        det.cluster.label, det.count, settings.signal_window_minutes, det.expected)
    return weak_signals
