"""The full citizen flow under load: one engine on SQLite, two engines sharing PostgreSQL, and the floor.

    .venv/bin/python bench/load_bench.py                              # 500 lines x 2 calls, real time
    .venv/bin/python bench/load_bench.py --lines 50 --calls 1 --realtime 0.2 --targets sqlite
    .venv/bin/python bench/load_bench.py --json out.json              # the figures as JSON too

Every call is a fake Asterisk (``softphone``) speaking FastAGI over TCP to ``hotline serve``,
running the real flow with the transcript recogniser (``HOTLINE_SPEECH_ENGINE=transcript``: what
the caller ``Speak``s is what is "heard", no acoustic model). The call mix (fixed shares, shuffled
with ``--seed``):

=========  =====  =======================================================================  ============
kind       share  what the caller does                                                      expected
=========  =====  =======================================================================  ============
silent      50 %  says nothing                                                               queue
kb          20 %  asks a question the demo knowledge base answers, hears it, presses 1      hangup + consult ticket (closed)
message     15 %  presses 2, leaves a message, ends it with #, hears the ticket number      hangup + help ticket (open)
unknown     10 %  asks something the knowledge base does not know                           queue
blocked      5 %  calls from a number on the blocklist                                      hangup, notice, no ticket
=========  =====  =======================================================================  ============

Callers come from a pool of numbers (``--pool``) plus a few blocked ones, so the blocklist check,
done on every call, both hits and misses. Before each engine target starts, its database gets the
demo knowledge base (``hotline kb load-demo``) and the blocks (``hotline blocklist add``).

Targets (``--targets``, default all three, one after the other):

* ``sqlite`` — one ``hotline serve`` on SQLite (bench.fastagi_bench.start_engine);
* ``pg2`` — two ``hotline serve`` processes on different FastAGI ports sharing one fresh
  PostgreSQL schema (``--pg``; created here, ``hotline db upgrade`` run once, dropped at the end)
  and one data directory (recordings and synthesised audio, as on shared storage); line ``i``
  calls node ``i % 2`` (Asterisk's dialplan round-robin / fail-over pair);
* ``floor`` — bench/floor_server.py (answers, sets one variable): what the machine and the
  load generator manage with no engine work at all.

Load: ``--lines`` lines each place ``--calls`` calls in a row from ``--procs`` processes of threads;
media takes real time times ``--realtime`` (1.0: 500 lines = 500 calls in progress); line starts
are spread over one mean call, as in fastagi_bench. Before measuring, each engine node takes one
call of every kind and every question (``--no-warm`` skips): the answers' synthesised audio is
cached on first use, as in production, and that first synthesis is not what this measures.

A call fails when HOTLINE_ACTION is missing or differs from the expected one, or the expected
thing did not happen (no HOTLINE_TICKET after a message or a self-served answer, a ticket where
none belongs, no restriction notice for a blocked number, AGISTATUS not SUCCESS). After each
engine run the database is checked: exactly the expected tickets (by kind, state and number),
exactly one call record per call with none left open, outcomes by kind, refused attempts on the
blocks, and every message's recording on disk.

Turnaround = from Asterisk writing a response to reading the server's next command (the time a
caller waits on the engine, beyond the media itself).
"""
from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fastagi_bench import ROOT, free_port, start_engine, wait_port  # noqa: E402 - the shared helpers

PG_URL = os.environ.get("HOTLINE_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")

MIX = (("silent", 0.50), ("kb", 0.20), ("message", 0.15), ("unknown", 0.10), ("blocked", 0.05))
KB_QUESTIONS = ("社保卡丢了怎么补办", "公积金怎么提取", "身份证丢了怎么补办", "驾驶证丢了怎么补办",
                "失业金怎么领", "孩子上学怎么报名")
UNKNOWN_QUESTIONS = ("我家的猫跑丢了能帮忙找吗", "今天天气怎么样", "宅基地怎么申请", "楼下的路灯坏了好几天")
MESSAGES = ("我家楼下的路灯坏了一个星期了", "小区门口的垃圾好几天没人清理", "公交站的站牌被撞坏了",
            "隔壁工地晚上十一点还在施工")
EXPECTED_ACTION = {"silent": "queue", "kb": "hangup", "message": "hangup", "unknown": "queue",
                   "blocked": "hangup", "floor": "queue"}
EXPECTED_OUTCOME = {"silent": "handed_off", "kb": "self_served", "message": "message", "unknown": "handed_off",
                    "blocked": "restricted"}
BLOCKED_NUMBERS = tuple(f"1399000{i:04d}" for i in range(8))
NODE_ENV = {"HOTLINE_LOG_LEVEL": "WARNING", "HOTLINE_MAX_CALLS": "1200", "HOTLINE_ACCEPT_QUEUE": "200"}


# --- the calls --------------------------------------------------------------------------------

def plan_calls(lines: int, calls: int, pool: int, seed: int) -> list[list[tuple[str, str, str]]]:
    """``lines`` lists of ``calls`` (kind, caller number, text): the mix in exact shares, shuffled."""
    total = lines * calls
    kinds: list[str] = []
    for kind, share in MIX:
        kinds += [kind] * round(total * share)
    kinds = (kinds + ["silent"] * total)[:total]
    rnd = random.Random(seed)
    rnd.shuffle(kinds)
    numbers = [f"1391{n:07d}" for n in rnd.sample(range(10_000_000), pool)]
    planned = []
    for kind in kinds:
        number = rnd.choice(BLOCKED_NUMBERS) if kind == "blocked" else rnd.choice(numbers)
        text = {"kb": KB_QUESTIONS, "unknown": UNKNOWN_QUESTIONS, "message": MESSAGES}.get(kind)
        planned.append((kind, number, rnd.choice(text) if text else ""))
    return [planned[i * calls:(i + 1) * calls] for i in range(lines)]


def script_for(kind: str, text: str):
    from softphone import Listen, Press, Speak

    return {
        "silent": [Listen(), Listen(), Listen()],              # greeting, menu, the utterance: silence
        "kb": [Listen(), Listen(), Speak(text), Press("1")],   # question, answer played, 1 = solved
        "message": [Listen(), Press("2"), Speak(text, end="#")],
        "unknown": [Listen(), Listen(), Speak(text)],
        "blocked": [Listen()],
        "floor": [Listen(), Listen()],
    }[kind]


def judge(kind: str, r) -> str:
    """'' when the call did what this kind of caller should get, else why not."""
    v = r.variables
    action = v.get("HOTLINE_ACTION")
    if not r.connected:
        return "not connected"
    if action is None:
        return "no HOTLINE_ACTION" + (" (timed out)" if r.timed_out else "")
    if action != EXPECTED_ACTION[kind]:
        return f"HOTLINE_ACTION={action}"
    if kind == "floor":
        return ""
    if r.agistatus != "SUCCESS":
        return f"AGISTATUS={r.agistatus}"
    if not v.get("HOTLINE_CALL_ID"):
        return "no HOTLINE_CALL_ID"
    ticket = v.get("HOTLINE_TICKET")
    if kind in ("kb", "message"):
        if not ticket:
            return "no HOTLINE_TICKET"
        if kind == "message" and ("SAY DIGITS", ticket) not in r.said:
            return "ticket number not spoken"
        if kind == "kb" and not any("/tts/" in p for p in r.played):
            return "answer not played"
    elif ticket:
        return f"unexpected ticket {ticket}"
    if kind == "blocked" and not any(p.endswith("restricted_notice") for p in r.played):
        return "no restriction notice"
    if kind == "unknown" and any("/tts/" in p for p in r.played):
        return "an answer was played"
    return ""


def one_call(port: int, kind: str, number: str, text: str, realtime: float) -> dict:
    from softphone import AsteriskPeer, ScriptedCaller

    t0 = time.perf_counter()
    r = AsteriskPeer("127.0.0.1", port, ScriptedCaller(script_for(kind, text)), callerid=number,
                     script="hotline?lang=cmn&answered=1&announce=1",                 # as the shipped dialplan calls it
                     realtime=realtime, timeout=120).run()
    why = judge(kind, r)
    return {"kind": kind, "port": port, "ok": not why, "why": why, "seconds": time.perf_counter() - t0,
            "turns": r.turnaround_ms, "ticket": r.variables.get("HOTLINE_TICKET"),
            "call_id": r.variables.get("HOTLINE_CALL_ID"), "elapsed_ms": r.elapsed_ms}


def _lines_batch(args) -> list[dict]:
    ports, lines, first_line, realtime, stagger_s, seed = args

    def line(i: int) -> list[dict]:
        n = first_line + i
        if stagger_s:
            time.sleep(random.Random(seed * 100_003 + n).uniform(0, stagger_s))
        port = ports[n % len(ports)]
        return [one_call(port, kind, number, text, realtime) for kind, number, text in lines[i]]

    with ThreadPoolExecutor(max_workers=max(1, len(lines))) as pool:
        return [x for batch in pool.map(line, range(len(lines))) for x in batch]


def drive(ports: list[int], planned: list[list[tuple[str, str, str]]], realtime: float, procs: int,
          stagger_s: float, seed: int) -> tuple[list[dict], float]:
    """Every planned line at once (threads in ``procs`` processes); (call results, wall seconds)."""
    n = len(planned)
    per = [n // procs + (1 if i < n % procs else 0) for i in range(procs)]
    starts = [sum(per[:i]) for i in range(procs)]
    jobs = [(ports, planned[s:s + k], s, realtime, stagger_s, seed) for s, k in zip(starts, per) if k]
    t0 = time.perf_counter()
    with ProcessPoolExecutor(max_workers=len(jobs)) as pool:
        results = [x for part in pool.map(_lines_batch, jobs) for x in part]
    return results, time.perf_counter() - t0


def warm_up(ports: list[int], realtime: float) -> list[dict]:
    """One call of every kind and every question on every node (fills the synthesis cache)."""
    done = []
    for port in ports:
        calls = [("silent", "13910000001", ""), ("blocked", BLOCKED_NUMBERS[0], "")]
        calls += [("kb", "13910000002", q) for q in KB_QUESTIONS]
        calls += [("unknown", "13910000003", q) for q in UNKNOWN_QUESTIONS[:1]]
        calls += [("message", "13910000004", MESSAGES[0])]
        for kind, number, text in calls:
            r = one_call(port, kind, number, text, 0.0)
            if not r["ok"]:
                raise SystemExit(f"warm-up {kind} call on port {port} failed: {r['why']}")
            done.append(r)
    return done


def mean_call_s(warm: list[dict], realtime: float) -> float:
    """The mix's mean call length in media time (from the warm-up calls' virtual clocks)."""
    by_kind = defaultdict(list)
    for r in warm:
        by_kind[r["kind"]].append(r["elapsed_ms"] / 1000)
    return realtime * sum(share * statistics.mean(by_kind[k]) for k, share in MIX if by_kind[k])


# --- figures ----------------------------------------------------------------------------------

def summarise(results: list[dict], wall: float) -> dict:
    turns = sorted(t for r in results for t in r["turns"])
    ok = sum(1 for r in results if r["ok"])

    def pct(p: float) -> float:
        return turns[min(len(turns) - 1, int(p * len(turns)))] if turns else float("nan")

    by_kind = {}
    for kind in sorted({r["kind"] for r in results}):
        mine = [r for r in results if r["kind"] == kind]
        kt = sorted(t for r in mine for t in r["turns"])
        by_kind[kind] = {"calls": len(mine), "failed": sum(1 for r in mine if not r["ok"]),
                         "p99_ms": kt[min(len(kt) - 1, int(0.99 * len(kt)))] if kt else float("nan"),
                         "mean_call_s": statistics.mean(r["seconds"] for r in mine)}
    reasons = Counter(r["why"] for r in results if not r["ok"])
    return {"calls": len(results), "failed": len(results) - ok, "wall_s": wall, "calls_per_s": ok / wall,
            "commands": len(turns), "commands_per_s": len(turns) / wall, "p50_ms": pct(0.50),
            "p99_ms": pct(0.99), "max_ms": turns[-1] if turns else 0.0,
            "mean_call_s": statistics.mean(r["seconds"] for r in results) if results else 0.0,
            "by_kind": by_kind, "failures": dict(reasons.most_common(8))}


def print_rows(rows: dict, header: str) -> None:
    print(f"\n# {header}")
    print(f"{'target':14} {'calls':>6} {'failed':>6} {'calls/s':>8} {'cmds/s':>7} {'p50 ms':>7} {'p99 ms':>7} "
          f"{'max ms':>7} {'call s':>6}")
    for name, r in rows.items():
        print(f"{name:14} {r['calls']:6d} {r['failed']:6d} {r['calls_per_s']:8.1f} {r['commands_per_s']:7.0f} "
              f"{r['p50_ms']:7.2f} {r['p99_ms']:7.2f} {r['max_ms']:7.1f} {r['mean_call_s']:6.1f}")
    for name, r in rows.items():
        kinds = ", ".join(f"{k} {v['calls']}/{v['failed']} fail p99 {v['p99_ms']:.1f}"
                          for k, v in r["by_kind"].items())
        print(f"  {name}: {kinds}")
        if r["failures"]:
            print(f"  {name} failures: {r['failures']}")
    floor = rows.get("floor")
    for name, r in rows.items():
        if name == "floor" or floor is None:
            continue
        print(f"{name}/floor: calls/s {r['calls_per_s'] / floor['calls_per_s']:.0%}, commands/s "
              f"{r['commands_per_s'] / floor['commands_per_s']:.0%}, p99 {r['p99_ms'] / floor['p99_ms']:.1f}x "
              f"(commands per call: floor {floor['commands'] / max(1, floor['calls']):.1f}, "
              f"{name} {r['commands'] / max(1, r['calls']):.1f})")
    if "sqlite" in rows and "pg2" in rows:
        a, b = rows["pg2"], rows["sqlite"]
        print(f"pg2/sqlite: calls/s {a['calls_per_s'] / b['calls_per_s']:.0%}, p99 "
              f"{a['p99_ms'] / b['p99_ms']:.2f}x")


# --- the database afterwards ------------------------------------------------------------------

def verify(url: str, results: list[dict], settle_s: float = 60.0) -> list[str]:
    """What the database holds against what the calls were told; [] when it all matches."""
    from sqlalchemy import create_engine, text

    want_calls = len(results)
    want = Counter(r["kind"] for r in results)
    told = {r["ticket"] for r in results if r["ticket"]}
    engine = create_engine(url)
    problems: list[str] = []
    try:
        deadline = time.time() + settle_s
        while True:           # call records are written behind the call: let the writers finish
            with engine.connect() as c:
                total = c.execute(text("SELECT count(*) FROM calls")).scalar_one()
                open_ = c.execute(text("SELECT count(*) FROM calls WHERE ended_at IS NULL")).scalar_one()
                attempts = c.execute(text("SELECT coalesce(sum(attempts), 0) FROM blocks")).scalar_one()
            if (total == want_calls and open_ == 0 and attempts == want["blocked"]) or time.time() > deadline:
                break
            time.sleep(0.5)
        with engine.connect() as c:
            outcomes = dict(c.execute(text("SELECT outcome, count(*) FROM calls GROUP BY outcome")).all())
            tickets = c.execute(text("SELECT number, kind, state, source, recording_path FROM tickets")).all()
            ids = {row[0] for row in c.execute(text("SELECT id FROM calls")).all()}
    finally:
        engine.dispose()
    if total != want_calls:
        problems.append(f"{total} call records for {want_calls} calls")
    if open_:
        problems.append(f"{open_} call record(s) left open")
    missing_ids = {r["call_id"] for r in results if r["call_id"]} - ids
    if missing_ids:
        problems.append(f"{len(missing_ids)} HOTLINE_CALL_ID(s) without a call record")
    expected_outcomes = Counter(EXPECTED_OUTCOME[r["kind"]] for r in results)
    for outcome in sorted(set(expected_outcomes) | set(outcomes)):
        if outcomes.get(outcome, 0) != expected_outcomes[outcome]:
            problems.append(f"{outcomes.get(outcome, 0)} call records {outcome}, expected {expected_outcomes[outcome]}")
    if attempts != want["blocked"]:
        problems.append(f"{attempts} refused attempts on the blocks, expected {want['blocked']}")
    consult = [t for t in tickets if t.kind == "consult" and t.state == "closed" and t.source == "self_service"]
    messages = [t for t in tickets if t.kind == "help" and t.state == "received" and t.source == "message"]
    if len(tickets) != want["kb"] + want["message"]:
        problems.append(f"{len(tickets)} tickets, expected {want['kb'] + want['message']}")
    if len(consult) != want["kb"]:
        problems.append(f"{len(consult)} self-served consult tickets (closed), expected {want['kb']}")
    if len(messages) != want["message"]:
        problems.append(f"{len(messages)} message tickets (open), expected {want['message']}")
    if {t.number for t in tickets} != told:
        problems.append(f"ticket numbers differ from those spoken: {len(told ^ {t.number for t in tickets})}")
    lost = [t.number for t in messages if not (t.recording_path and os.path.exists(t.recording_path))]
    if lost:
        problems.append(f"{len(lost)} message recording(s) missing on disk")
    print(f"  database: {total} call records ({open_} open), outcomes {outcomes}; {len(tickets)} tickets "
          f"({len(consult)} self-served consult closed, {len(messages)} messages open); "
          f"{attempts} refused attempts" + ("; all as expected" if not problems else ""))
    return problems


# --- the targets ------------------------------------------------------------------------------

def hotline(env: dict, *argv: str) -> str:
    done = subprocess.run([sys.executable, "-m", "hotline", *argv], env=env, cwd=ROOT, capture_output=True,
                          text=True)
    if done.returncode != 0:
        raise SystemExit(f"hotline {' '.join(argv)} failed: {done.stderr.strip()[-2000:]}")
    return done.stdout


def prepare(env: dict) -> None:
    """Schema (once), the demo knowledge base and the blocks, as an admin would before opening."""
    hotline(env, "db", "upgrade")
    hotline(env, "kb", "load-demo")
    for number in BLOCKED_NUMBERS:
        hotline(env, "blocklist", "add", number, "--ground", "harassing", "--evidence",
                "load benchmark: repeated abusive calls", "--by", "bench.admin")


def serve(port: int, env: dict) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "hotline", "serve", "--port", str(port), "--no-migrate",
                             "--web-port", str(free_port())], env=env, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def stop(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        if p.poll() is None:
            p.terminate()
    for p in procs:
        try:
            p.wait(timeout=90)
        except subprocess.TimeoutExpired:
            p.kill()


def others(limit: int = 4) -> str:
    """The busiest other processes right now (what else shares the cores during the run)."""
    try:
        out = subprocess.run(["ps", "-eo", "pcpu=,pid=,ppid=,args=", "--sort=-pcpu"], capture_output=True,
                             text=True, timeout=10).stdout.splitlines()
    except (OSError, subprocess.SubprocessError):
        return "?"
    mine = {os.getpid(), os.getppid()}           # this run, and the servers it started
    rows = [line.split(None, 3) for line in out if line.strip()]
    busy = [f"{r[0]}% {r[3][:60]}" for r in rows
            if len(r) == 4 and int(r[1]) not in mine and int(r[2]) not in mine and float(r[0]) >= 5.0]
    return "; ".join(busy[:limit]) or "nothing above 5 % CPU"


def run_engine_target(name: str, ports: list[int], planned, args, db_url: str) -> tuple[dict, list[str]]:
    warm = [] if args.no_warm else warm_up(ports, args.realtime)
    stagger = mean_call_s(warm, args.realtime) if warm else 13.5 * args.realtime
    load0 = os.getloadavg()[0]
    print(f"  {name}: before the run, load average {load0:.1f}; also running: {others()}")
    results, wall = drive(ports, planned, args.realtime, args.procs, stagger, args.seed)
    row = summarise(results, wall)
    row.update(load_before=load0, load_after=os.getloadavg()[0], stagger_s=stagger, nodes=len(ports))
    print(f"  {name}: {row['calls']} calls in {wall:.1f} s, load average {load0:.1f} → {row['load_after']:.1f}")
    problems = verify(db_url, warm + results)
    for p in problems:
        print(f"  {name} DATABASE MISMATCH: {p}")
    return row, problems


def target_sqlite(planned, args, tmp: Path) -> tuple[dict, list[str]]:
    data = tmp / "sqlite"
    data.mkdir()
    saved = {k: os.environ.get(k) for k in ("HOTLINE_SPEECH_ENGINE", "HOTLINE_WEB_PORT", "HOTLINE_DATABASE_URL")}
    os.environ.update(HOTLINE_SPEECH_ENGINE="transcript", HOTLINE_WEB_PORT=str(free_port()))
    os.environ.pop("HOTLINE_DATABASE_URL", None)
    env = dict(os.environ, HOTLINE_DATA_DIR=str(data), **NODE_ENV)
    try:
        prepare(env)
        port = free_port()
        proc = start_engine(port, data)             # bench.fastagi_bench: upgrade (a no-op now) and serve
    finally:
        for k, v in saved.items():
            os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)
    try:
        wait_port(port, proc)
        return run_engine_target("sqlite", [port], planned, args, f"sqlite:///{data / 'hotline.db'}")
    finally:
        stop([proc])


def target_pg2(planned, args, tmp: Path) -> tuple[dict, list[str]]:
    from sqlalchemy import create_engine, text

    schema = "lb_" + secrets.token_hex(4)
    admin = create_engine(args.pg, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = f"{args.pg}{'&' if '?' in args.pg else '?'}options=-csearch_path%3D{schema}"
    data = tmp / "shared"                    # recordings and synthesised audio: shared storage
    data.mkdir()
    env = dict(os.environ, HOTLINE_DATA_DIR=str(data), HOTLINE_DATABASE_URL=url,
               HOTLINE_SPEECH_ENGINE="transcript", **NODE_ENV)
    procs: list[subprocess.Popen] = []
    try:
        prepare(env)                          # `hotline db upgrade` once, for both nodes
        ports = [free_port(), free_port()]
        procs = [serve(p, env) for p in ports]
        for p, proc in zip(ports, procs):
            wait_port(p, proc)
        return run_engine_target("pg2", ports, planned, args, url)
    finally:
        stop(procs)
        with admin.connect() as c:
            c.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def target_floor(planned, args, _tmp: Path) -> tuple[dict, list[str]]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, str(ROOT / "bench" / "floor_server.py"), "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_port(port, proc)
        floor_lines = [[("floor", number, "") for _kind, number, _text in line] for line in planned]
        load0 = os.getloadavg()[0]
        results, wall = drive([port], floor_lines, args.realtime, args.procs, 13.5 * args.realtime, args.seed)
        row = summarise(results, wall)
        row.update(load_before=load0, load_after=os.getloadavg()[0], nodes=1)
        print(f"  floor: {row['calls']} calls in {wall:.1f} s, load average {load0:.1f} → {row['load_after']:.1f}")
        return row, []
    finally:
        stop([proc])


TARGETS = {"sqlite": target_sqlite, "pg2": target_pg2, "floor": target_floor}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lines", type=int, default=500, help="concurrent lines (calls in progress at once)")
    ap.add_argument("--calls", type=int, default=2, help="calls each line places in a row")
    ap.add_argument("--realtime", type=float, default=1.0, help="media time scale (1.0 = real time)")
    ap.add_argument("--procs", type=int, default=2, help="load-generator processes")
    ap.add_argument("--pool", type=int, default=400, help="distinct (unblocked) caller numbers")
    ap.add_argument("--seed", type=int, default=9)
    ap.add_argument("--targets", default="sqlite,pg2,floor", help="comma-separated: sqlite, pg2, floor")
    ap.add_argument("--pg", default=PG_URL, help="PostgreSQL database for pg2 (a schema is made and dropped)")
    ap.add_argument("--no-warm", action="store_true", help="no warm-up calls before measuring")
    ap.add_argument("--json", help="also write the figures to this file")
    args = ap.parse_args()
    targets = [t.strip() for t in args.targets.split(",") if t.strip()]
    unknown = set(targets) - set(TARGETS)
    if unknown:
        ap.error(f"unknown target(s): {', '.join(sorted(unknown))}")
    planned = plan_calls(args.lines, args.calls, args.pool, args.seed)
    mix = Counter(kind for line in planned for kind, _n, _t in line)
    print(f"load: {args.lines} lines x {args.calls} calls, media x{args.realtime}, {args.procs} load processes, "
          f"{os.cpu_count()} cores; mix {dict(mix)}; {args.pool} + {len(BLOCKED_NUMBERS)} blocked numbers")
    rows, problems = {}, {}
    with tempfile.TemporaryDirectory(prefix="hotline-load-") as tmp:
        for name in targets:
            rows[name], problems[name] = TARGETS[name](planned, args, Path(tmp))
    print_rows(rows, f"full flow: {args.lines} lines x {args.calls} calls, media x{args.realtime} real time")
    verdicts = []
    for name, r in rows.items():
        if name == "floor":
            continue
        ok = r["failed"] == 0 and r["p99_ms"] <= 50 and not problems[name]
        verdicts.append(ok)
        print(f"target {name}: {'MET' if ok else 'MISSED'} (failed {r['failed']}, p99 {r['p99_ms']:.1f} ms ≤ 50, "
              f"database {'ok' if not problems[name] else '; '.join(problems[name])})")
    if args.json:
        Path(args.json).write_text(json.dumps({"args": vars(args), "rows": rows, "problems": problems},
                                              indent=2, ensure_ascii=False, default=str))
    return 0 if all(verdicts) else 1


if __name__ == "__main__":
    sys.exit(main())
