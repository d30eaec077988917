"""Reports at a large city's volume: a year of synthetic tickets and calls, then time the reports.

    .venv/bin/python bench/reports_bench.py [--tickets 3000000] [--calls N] [--sqlite PATH]
                                            [--pg URL] [--no-sqlite] [--reuse] [--runs 3] [--json]

* Data: ``--tickets`` tickets received over the year 2025 (default 3,000,000 ≈ 8,200 a day, a
  city of ~10 million), as many call records (``--calls``, default = tickets), 40 units, 7
  regions, synthetic request texts (``analytics.synthetic.REQUESTS``), 5 kinds, 80 % closed
  (on time about 9 in 10), 60 % of closed tickets rated; ~20 blocked attempts a day.
* Load: schema by the migrations (all indexes in place), then bulk load — SQLite: ``executemany``
  over the driver in batches of 100,000 (journal off while loading: a benchmark file, not a
  database to keep); PostgreSQL: ``COPY … FROM STDIN``, then ``ANALYZE``.
* Timed: ``analytics.reports.build_report`` for one month (2025-07) and one day (2025-07-15), each
  ``--runs`` times on a warm cache; the best and the median are printed, with the figures.
* ``--reuse`` keeps an already loaded SQLite file (``--sqlite PATH``) or PostgreSQL schema and
  only times the reports.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from analytics import reports  # noqa: E402
from analytics.synthetic import PLACES, REGIONS, REQUESTS  # noqa: E402
from core import db as dbmod  # noqa: E402

ZONE = ZoneInfo("Asia/Shanghai")
YEAR_START = int(datetime(2025, 1, 1, tzinfo=ZONE).timestamp())
YEAR_SECONDS = 365 * 86400
BATCH = 100_000
UNITS = 40
KINDS = np.array(["consult", "help", "suggestion", "complaint", "report"])
KIND_P = [0.45, 0.25, 0.08, 0.17, 0.05]
STATES = np.array(["closed", "accepted", "dispatched", "received", "refused", "reported"])
STATE_P = [0.80, 0.07, 0.05, 0.03, 0.03, 0.02]
OUTCOMES = np.array(["handed_off", "self_served", "abandoned", "message", "restricted", "error"])
OUTCOME_P = [0.62, 0.20, 0.10, 0.05, 0.02, 0.01]
KB_RESULTS = np.array(["solved", "not_solved", "low_confidence", "no_match"])

TICKET_COLS = ("number", "kind", "state", "version", "source", "caller_key", "caller_name", "language",
               "content", "transcript", "unit_id", "region", "tags", "received_at", "zone", "working_days",
               "due_date", "due", "provisional", "due_soon", "overdue", "review", "rating", "rated_at",
               "closed_at", "repeats", "updated_at")
CALL_COLS = ("id", "channel", "channel_ref", "caller_key", "caller_kind", "caller_name", "dnid", "language",
             "started_at", "ended_at", "outcome", "action", "route", "transcript", "notes", "kb_entry",
             "kb_score", "kb_result", "agent_answered")


def _stamps(seconds: np.ndarray, pg: bool) -> list[str | None]:
    """UTC epoch seconds → SQLAlchemy's SQLite text form (or PostgreSQL timestamptz text)."""
    s = np.datetime_as_string(seconds.astype("datetime64[s]").astype("datetime64[us]"), unit="us")
    s = np.char.replace(s, "T", " ")
    if pg:
        s = np.char.add(s, "+00")
    return s.tolist()


def _texts(rng: np.random.Generator, n: int) -> list[str]:
    templates = [t.replace("{place}", p) for t in REQUESTS for p in PLACES]
    return np.array(templates)[rng.integers(0, len(templates), n)].tolist()


def ticket_batch(rng: np.random.Generator, start: int, n: int, pg: bool) -> list[tuple]:
    received = YEAR_START + np.sort(rng.integers(0, YEAR_SECONDS, n))
    kind = rng.choice(len(KINDS), n, p=KIND_P)
    days = np.array([2, 10, 10, 15, 15])[kind]
    due = received + days * 86400 * 7 // 5
    state = STATES[rng.choice(len(STATES), n, p=STATE_P)]
    closed = state == "closed"
    late = rng.random(n) < 0.1
    closed_at = np.where(late, due + rng.integers(3600, 5 * 86400, n), received + (due - received) * rng.random(n))
    closed_at = closed_at.astype(np.int64)
    rated = closed & (rng.random(n) < 0.6)
    rating = rng.choice(5, n, p=[0.55, 0.25, 0.1, 0.06, 0.04]) + 1
    rated_at = closed_at + 86400
    unit = np.where(rng.random(n) < 0.9, rng.integers(1, UNITS + 1, n), 0)
    region = np.array(REGIONS)[rng.integers(0, len(REGIONS), n)].tolist()
    content = _texts(rng, n)
    rec_s, due_s = _stamps(received, pg), _stamps(due, pg)
    closed_s, rated_s = _stamps(closed_at, pg), _stamps(rated_at, pg)
    due_date = np.datetime_as_string((due + 8 * 3600).astype("datetime64[s]").astype("datetime64[D]")).tolist()
    null = None
    rows = []
    kinds, states, units, ratings = KINDS[kind].tolist(), state.tolist(), unit.tolist(), rating.tolist()
    closed_l, rated_l, late_l, days_l = closed.tolist(), rated.tolist(), late.tolist(), days.tolist()
    for i in range(n):
        rows.append((f"{start + i:012d}", kinds[i], states[i], 1, "agent", f"138{(start + i) % 10**8:08d}", "",
                     "cmn", content[i], "", units[i] or null, region[i], "", rec_s[i], "Asia/Shanghai", days_l[i],
                     due_date[i], due_s[i], False, False, bool(late_l[i] and not closed_l[i]),
                     bool(rated_l[i] and ratings[i] >= 4), ratings[i] if rated_l[i] else null,
                     rated_s[i] if rated_l[i] else null, closed_s[i] if closed_l[i] else null, 0, rec_s[i]))
    return rows


def call_batch(rng: np.random.Generator, start: int, n: int, pg: bool) -> list[tuple]:
    started = YEAR_START + np.sort(rng.integers(0, YEAR_SECONDS, n))
    outcome = OUTCOMES[rng.choice(len(OUTCOMES), n, p=OUTCOME_P)].tolist()
    answered = (rng.random(n) < 0.93).tolist()
    kb = KB_RESULTS[rng.integers(0, 4, n)].tolist()
    spoke = (rng.random(n) < 0.4).tolist()
    texts = _texts(rng, n)
    st, en = _stamps(started, pg), _stamps(started + 120, pg)
    rows = []
    for i in range(n):
        o = outcome[i]
        action = "queue" if o in ("handed_off", "error") else "hangup"
        cid = f"b{start + i:011d}"
        kb_result = "solved" if o == "self_served" else (kb[i] if spoke[i] and kb[i] != "solved" else None)
        rows.append((cid, "fastagi", cid, f"139{(start + i) % 10**8:08d}", "mobile", "", "12345", "cmn", st[i], en[i],
                     o, action, "", texts[i] if kb_result else "", "", None, None, kb_result,
                     answered[i] if action == "queue" else None))
    return rows


def _copy_text(rows: list[tuple]) -> str:
    def cell(v):
        if v is None:
            return "\\N"
        if isinstance(v, bool):
            return "t" if v else "f"
        return str(v)
    return "".join("\t".join(cell(v) for v in r) + "\n" for r in rows)


def load(url: str, n_tickets: int, n_calls: int, seed: int = 2025) -> float:
    pg = not url.startswith("sqlite")
    t0 = time.perf_counter()
    dbmod.upgrade(url)
    rng = np.random.default_rng(seed)
    engine = dbmod.make_engine(url)
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        if not pg:
            cur.execute("PRAGMA journal_mode=OFF")
            cur.execute("PRAGMA synchronous=OFF")
            cur.execute("BEGIN")
        now = "2025-01-01 00:00:00.000000" + ("+00" if pg else "")
        units = [(i, f"U{i:03d}", f"承办单位{i:02d}", REGIONS[i % len(REGIONS)], "", True, now) for i in range(1, UNITS + 1)]
        _insert(cur, "units", ("id", "code", "name", "region", "duties", "active", "created_at"), units, pg)
        for table, cols, total, make in (("tickets", TICKET_COLS, n_tickets, ticket_batch),
                                         ("calls", CALL_COLS, n_calls, call_batch)):
            for start in range(0, total, BATCH):
                _insert(cur, table, cols, make(rng, start, min(BATCH, total - start), pg), pg)
                if not pg:
                    cur.execute("COMMIT")
                    cur.execute("BEGIN")
                else:
                    raw.commit()
                print(f"  {table}: {min(start + BATCH, total):,} / {total:,}  ({time.perf_counter() - t0:.0f} s)",
                      file=sys.stderr)
        # blocked attempts: ~20 a day
        _insert(cur, "block_numbers", ("number_key", "kind", "first_at", "revision"),
                [("13700000000", "mobile", now, 1)], pg)
        _insert(cur, "blocks", ("id", "number_key", "ground", "ground_text", "evidence", "state", "proposed_by",
                                "proposed_at", "decision_note", "attempts"),
                [(1, "13700000000", "harassment", "", "bench", "active", "bench", now, "", 0)], pg)
        at = _stamps(YEAR_START + np.sort(rng.integers(0, YEAR_SECONDS, 365 * 20)), pg)
        _insert(cur, "block_events", ("block_id", "number_key", "at", "recorded_at", "actor", "action", "detail",
                                      "reason"), [(1, "13700000000", a, a, "engine", "attempt", "", "") for a in at], pg)
        if pg:
            raw.commit()
            cur.execute("ANALYZE")
            raw.commit()
        else:
            cur.execute("COMMIT")
            cur.execute("ANALYZE")
    finally:
        raw.close()
        engine.dispose()
    return time.perf_counter() - t0


def _insert(cur, table: str, cols: tuple, rows: list[tuple], pg: bool) -> None:
    if pg:
        with cur.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as copy:
            copy.write(_copy_text(rows))
    else:
        cur.executemany(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})", rows)


def python_baseline(session, period) -> dict:
    """The plain alternative: fetch the period's rows and count in Python (same figures)."""
    from collections import Counter

    from sqlalchemy import select

    from analytics.topics import request_text, topic_of
    from callers.models import CallRecord
    from tickets.models import Ticket

    t, c = Ticket, CallRecord
    rows = session.execute(select(t.kind, t.state, t.unit_id, t.content, t.transcript)
                           .where(t.received_at >= period.start, t.received_at < period.end)).all()
    kinds = Counter(r[0] for r in rows)
    topics = Counter(topic_of(request_text(r[3], r[4])) for r in rows)
    closed = session.execute(select(t.unit_id, t.closed_at, t.due).where(
        t.state == "closed", t.closed_at >= period.start, t.closed_at < period.end)).all()
    calls = session.execute(select(c.outcome, c.action, c.agent_answered).where(
        c.started_at >= period.start, c.started_at < period.end)).all()
    queued = [r for r in calls if r[1] == "queue"]
    return {"tickets": sum(kinds.values()), "calls": len(calls),
            "on_time_rate": reports.rate(sum(1 for r in closed if r[1] <= r[2]), len(closed)),
            "answer_rate": reports.rate(sum(1 for r in queued if r[2]), len(queued)),
            "top_topic": max(((k, n) for k, n in topics.items() if k), key=lambda kv: (kv[1], kv[0]))}


def time_reports(url: str, runs: int) -> dict:
    db = dbmod.Database(url)
    out = {}
    try:
        for name, period in (("monthly 2025-07", reports.month_period(2025, 7, ZONE)),
                             ("daily 2025-07-15", reports.day_period(date(2025, 7, 15), ZONE))):
            times, report = [], None
            for _ in range(runs + 1):                 # the first run warms the cache, not counted
                t0 = time.perf_counter()
                with db.read_session() as s:
                    report = reports.build_report(s, period)
                times.append(time.perf_counter() - t0)
            out[name] = {"best_s": round(min(times[1:]), 3), "median_s": round(statistics.median(times[1:]), 3),
                         "cold_s": round(times[0], 3), "calls": report["calls"]["total"],
                         "tickets": report["tickets"]["received"], "closed": report["tickets"]["closed"],
                         "on_time_rate": report["tickets"]["on_time_rate"],
                         "satisfaction_rate": report["ratings"]["satisfaction_rate"],
                         "answer_rate": report["calls"]["answer_rate"],
                         "top_topic": report["tickets"]["top_topics"][0] if report["tickets"]["top_topics"] else None}
        period = reports.month_period(2025, 7, ZONE)
        t0 = time.perf_counter()
        with db.read_session() as s:
            base = python_baseline(s, period)
        out["baseline: rows counted in Python, monthly 2025-07"] = {"s": round(time.perf_counter() - t0, 3), **base}
        # the weak-signal scan of one busy hour, and a month of knowledge gaps (rolled back)
        from analytics import gaps, signals
        from analytics.text import vector

        vector("停水")                                 # load jieba and its IDF table (once a process)
        at = datetime(2025, 7, 15, 11, 0, tzinfo=ZONE)
        t0 = time.perf_counter()
        with db.read_session() as s:
            scan = signals.scan(s, at, signals.SignalConfig())
        out["signal_scan"] = {"s": round(time.perf_counter() - t0, 3), "tickets_in_window": scan.tickets,
                              "clusters": scan.clusters, "alerts": len(scan.detections)}
        t0 = time.perf_counter()
        with db.read_session() as s:
            found = gaps.find_gaps(s, since=at - timedelta(days=30), until=at)
        out["gaps_30_days"] = {"s": round(time.perf_counter() - t0, 3), "gaps": len(found),
                               "calls": sum(g.calls for g in found)}
        with db.read_session() as s:
            from sqlalchemy import func, select

            from tickets.models import Ticket
            out["tickets_in_db"] = s.scalar(select(func.count()).select_from(Ticket))
    finally:
        db.dispose()
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tickets", type=int, default=3_000_000)
    ap.add_argument("--calls", type=int)
    ap.add_argument("--sqlite", help="SQLite file (default: a temporary file, removed afterwards)")
    ap.add_argument("--no-sqlite", action="store_true")
    ap.add_argument("--pg", help="PostgreSQL URL (a fresh schema is made in it unless --reuse)")
    ap.add_argument("--pg-schema", default="reports_bench")
    ap.add_argument("--reuse", action="store_true", help="do not load; time the reports on existing data")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    n_calls = args.calls if args.calls is not None else args.tickets
    results = {"tickets": args.tickets, "calls": n_calls}
    if not args.no_sqlite:
        path = Path(args.sqlite) if args.sqlite else Path(tempfile.mkdtemp()) / "reports_bench.db"
        url = f"sqlite:///{path}"
        if not args.reuse:
            if path.exists():
                path.unlink()
            results["sqlite_load_s"] = round(load(url, args.tickets, n_calls), 1)
        results["sqlite"] = time_reports(url, args.runs)
        results["sqlite_file_mb"] = round(path.stat().st_size / 2**20)
        if not args.sqlite:
            path.unlink()
    if args.pg:
        from sqlalchemy import create_engine, text

        admin = create_engine(args.pg, isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            if not args.reuse:
                c.execute(text(f'DROP SCHEMA IF EXISTS "{args.pg_schema}" CASCADE'))
                c.execute(text(f'CREATE SCHEMA "{args.pg_schema}"'))
        admin.dispose()
        sep = "&" if "?" in args.pg else "?"
        url = f"{args.pg}{sep}options=-csearch_path%3D{args.pg_schema}"
        if not args.reuse:
            results["pg_load_s"] = round(load(url, args.tickets, n_calls), 1)
        results["postgresql"] = time_reports(url, args.runs)
    print(json.dumps(results, ensure_ascii=False, indent=None if args.json else 2, default=str))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main())
