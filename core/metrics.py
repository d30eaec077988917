"""The engine's Prometheus metrics: one registry, every metric defined here.

Increments and timings are placed where things happen (the composition root, the call session,
the console pages); ``/metrics`` on the web listener (``web.app``) serves :func:`exposition`.

    from core import metrics
    metrics.CALLS.labels(route="hotline", outcome="handed_off").inc()
    with metrics.KNOWLEDGE_SECONDS.time():
        ...

Counters and histograms count what happened in *this* process since it started (Prometheus
sums the nodes). Gauges that describe the database — tickets overdue — are computed from it
at scrape time by a collector the web listener passes to :func:`exposition`, so every node
reports the same, current figure whatever its scheduler did.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST

REGISTRY = CollectorRegistry(auto_describe=True)
_CHILDREN: dict = {}


def labelled(metric, *values: str):
    """``metric.labels(*values)``, looked up once per label set (the labels of the call path are
    a few fixed words; prometheus_client takes a lock and builds a tuple on every ``labels``)."""
    key = (metric, values)
    child = _CHILDREN.get(key)
    if child is None:
        child = _CHILDREN[key] = metric.labels(*values)
    return child


# call route (hotline | survey) and the call record's outcome (handed_off, abandoned, restricted,
# self_served, message, refused, error)
CALLS = Counter("hotline_calls", "Calls ended, by route and outcome", ["route", "outcome"], registry=REGISTRY)
# the hand-off the engine told the dialplan: queue | leader | emergency | hangup
HANDOFFS = Counter("hotline_handoffs", "Calls handed off, by action", ["action"], registry=REGISTRY)
BLOCKED_ATTEMPTS = Counter("hotline_blocked_attempts", "Calls refused under a restriction (blocklist)",
                           registry=REGISTRY)
# one recognition of an utterance or a message (Vosk or the transcript recogniser)
RECOGNITION_SECONDS = Histogram("hotline_recognition_seconds", "Speech recognition time per utterance",
                                buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30), registry=REGISTRY)
# one knowledge-base answer (retrieval and scoring)
KNOWLEDGE_SECONDS = Histogram("hotline_knowledge_seconds", "Knowledge-base answer time per question",
                              buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1),
                              registry=REGISTRY)
# the web console
CONSOLE_LOGINS = Counter("hotline_console_logins", "Console log-in attempts, by result (ok | failed | limited)",
                         ["result"], registry=REGISTRY)
CONSOLE_CHANGES = Counter("hotline_console_changes", "Changes made in the console, by action", ["action"],
                          registry=REGISTRY)


class DatabaseGauges:
    """Gauges read from the database at scrape time: ``source()`` returns ``{name: value}`` for
    ``hotline_tickets_overdue`` (open tickets past their deadline) and ``hotline_tickets_open``.
    A database that does not answer gives no sample (and ``hotline_metrics_database_up 0``)."""

    HELP = {
        "hotline_tickets_overdue": "Open tickets past their legal deadline (from the database at scrape time)",
        "hotline_tickets_open": "Open tickets (from the database at scrape time)",
    }

    def __init__(self, source: Callable[[], dict[str, float]]) -> None:
        self.source = source

    def describe(self):
        return []

    def collect(self):
        try:
            values = self.source()
        except Exception:  # noqa: BLE001 - a scrape reports, never raises
            values = None
        up = GaugeMetricFamily("hotline_metrics_database_up", "1 when the database answered this scrape")
        up.add_metric([], 1.0 if values is not None else 0.0)
        yield up
        for name, value in (values or {}).items():
            family = GaugeMetricFamily(name, self.HELP.get(name, name))
            family.add_metric([], float(value))
            yield family


class _Forward:
    """The shared registry's samples, inside a per-scrape registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry

    def describe(self):
        return []

    def collect(self):
        return self.registry.collect()


def exposition(extra: Iterable[object] = ()) -> tuple[bytes, str]:
    """The text exposition of every metric (plus ``extra`` collectors) and its content type."""
    scrape = CollectorRegistry(auto_describe=False)
    scrape.register(_Forward(REGISTRY))
    for collector in extra:
        scrape.register(collector)
    return generate_latest(scrape), CONTENT_TYPE_LATEST


class Timed:
    """``inner`` with some of its methods timed into histograms; everything else passes through.

        recognizer = Timed(recognizer, {"recognize_file": RECOGNITION_SECONDS})
    """

    def __init__(self, inner, histograms: dict[str, Histogram]) -> None:
        self._inner = inner
        self._histograms = dict(histograms)

    def __getattr__(self, name: str):
        attr = getattr(self._inner, name)
        histogram = self._histograms.get(name)
        if histogram is None or not callable(attr):
            return attr

        def timed(*args, **kwargs):
            with histogram.time():
                return attr(*args, **kwargs)
        return timed
