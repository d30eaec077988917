"""N concurrent calls through the FastAGI server, beside the minimal-server floor, in one run.

    .venv/bin/python bench/fastagi_bench.py                      # both scenarios, defaults below
    .venv/bin/python bench/fastagi_bench.py --concurrency 500 --realtime 1.0 --calls 2

Both servers run as separate processes; the load comes from the fake Asterisk (softphone) in
``--procs`` processes of threads. Each simulated caller stays silent, so each engine call is the
full default flow as the shipped dialplan starts it (answered already): greeting, menu (GET DATA
timeout), transfer prompt, the end-of-call variables in one EXEC MSet, a call record opened and
closed in SQLite. The floor only answers and sets a variable.

Scenario "concurrent": ``--concurrency`` lines each place ``--calls`` calls in a row; simulated
prompts and timeouts take real time scaled by ``--realtime`` (1.0 = as on a phone, so a silent
caller's call lasts about 13 s and 500 lines mean 500 calls in progress at once); line starts are
spread over the first call so calls do not all begin in the same millisecond.
Scenario "throughput": ``--tp-lines`` lines with no media time at all, for ``--tp-calls`` calls
each: the most calls/s and commands/s each server sustains on this machine. A run lasts about
half a second per server, so anything else the machine does in that half second shows in one
server's figure only: the scenario is repeated ``--rounds`` times, the servers taking turns in a
different order each round, and each round's engine/floor ratio is printed beside the medians.
Turnaround = time from Asterisk writing a response to reading the server's next command.

Four servers, each in its own process: "floor" (answers, sets a variable: the issue's floor, on
the engine's own model, calls as greenlets on a hub thread), "floor-thr" (the same floor with a
thread per call), "replay" (sends, verbatim, the command lines the engine sent on a sample silent
call, with no flow, database or pyst2 behind them: the same call on the wire at the protocol's
own cost) and "engine" (``hotline serve`` on SQLite).
"""
from __future__ import annotations

import argparse
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited: {proc.stderr.read().decode()[-2000:] if proc.stderr else ''}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"server on {port} did not start")


def _client_batch(args) -> list[tuple[bool, float, list[float]]]:
    port, threads, calls, realtime, expect_engine, offset, stagger_s = args
    import random

    from softphone import AsteriskPeer, Listen, ScriptedCaller

    def one_client(i: int):
        out = []
        if stagger_s:
            time.sleep(random.Random(offset + i).uniform(0, stagger_s))
        for k in range(calls):
            t0 = time.perf_counter()
            caller = ScriptedCaller([Listen(), Listen()])
            # the route as the shipped dialplan calls it (language given: no caller-history lookup)
            r = AsteriskPeer("127.0.0.1", port, caller, callerid=f"139{offset + i:04d}{k:04d}", script="hotline?lang=cmn&answered=1&announce=1",
                             realtime=realtime, timeout=60).run()
            ok = r.variables.get("HOTLINE_ACTION") == "queue" and (
                not expect_engine or (r.agistatus == "SUCCESS" and r.variables.get("HOTLINE_CALL_ID")))
            out.append((bool(ok), time.perf_counter() - t0, r.turnaround_ms))
        return out

    with ThreadPoolExecutor(max_workers=threads) as pool:
        return [x for batch in pool.map(one_client, range(threads)) for x in batch]


def cpu_s(pid: int) -> float:
    """CPU time (user + system) the process has used so far, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_load(port: int, concurrency: int, calls: int, realtime: float, procs: int, engine: bool,
             stagger_s: float = 0.0, pid: int | None = None) -> dict:
    cpu0 = cpu_s(pid) if pid else 0.0
    # the load generator's processes are reaped when the pool closes: their CPU is then counted here
    gen0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    per = [concurrency // procs + (1 if i < concurrency % procs else 0) for i in range(procs)]
    t0 = time.perf_counter()
    with ProcessPoolExecutor(max_workers=procs) as pool:
        jobs = [(port, n, calls, realtime, engine, sum(per[:i]), stagger_s) for i, n in enumerate(per)]
        results = [x for part in pool.map(_client_batch, jobs) for x in part]
    wall = time.perf_counter() - t0
    cpu = cpu_s(pid) - cpu0 if pid else float("nan")
    gen1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    gen = (gen1.ru_utime + gen1.ru_stime) - (gen0.ru_utime + gen0.ru_stime)
    turns = sorted(t for _, _, ts in results for t in ts)
    ok = sum(1 for r in results if r[0])

    def pct(p):
        return turns[min(len(turns) - 1, int(p * len(turns)))] if turns else float("nan")

    return {"calls": len(results), "failed": len(results) - ok, "wall_s": wall, "calls_per_s": ok / wall,
            "commands": len(turns), "commands_per_s": len(turns) / wall, "p50_ms": pct(0.50), "p99_ms": pct(0.99), "max_ms": turns[-1] if turns else 0,
            "mean_call_s": statistics.mean(r[1] for r in results),
            "cpu_ms_per_call": 1000 * cpu / max(1, len(results)),
            "load_cpu_ms_per_call": 1000 * gen / max(1, len(results))}


def start_engine(port: int, data: Path, launcher: list[str] | None = None, **env_extra: str) -> subprocess.Popen:
    """``hotline serve`` on a fresh SQLite database in ``data`` (``launcher``: another entry point)."""
    env = dict(os.environ, HOTLINE_DATA_DIR=str(data), HOTLINE_LOG_LEVEL="WARNING", HOTLINE_MAX_CALLS="1200",
               HOTLINE_ACCEPT_QUEUE="200", **env_extra)
    subprocess.run([sys.executable, "-m", "hotline", "db", "upgrade"], env=env, check=True,
                   capture_output=True, cwd=ROOT)
    return subprocess.Popen((launcher or [sys.executable, "-m", "hotline"]) + ["serve", "--port", str(port), "--no-migrate"],
                            env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def report(title: str, rows: dict) -> None:
    print(f"\n# {title}")
    print(f"{'server':9} {'calls':>6} {'failed':>6} {'calls/s':>8} {'cmds/s':>8} {'p50 ms':>7} {'p99 ms':>7} "
          f"{'max ms':>7} {'call s':>7} {'cpu ms/call':>11} {'load cpu ms/call':>16}")
    for name, r in rows.items():
        print(f"{name:9} {r['calls']:6d} {r['failed']:6d} {r['calls_per_s']:8.1f} {r['commands_per_s']:8.0f} "
              f"{r['p50_ms']:7.2f} {r['p99_ms']:7.2f} {r['max_ms']:7.1f} {r['mean_call_s']:7.2f} "
              f"{r['cpu_ms_per_call']:11.2f} {r['load_cpu_ms_per_call']:16.2f}")
    e = rows["engine"]
    for name in ("floor", "floor-thr", "replay"):
        if name in rows:
            f = rows[name]
            print(f"engine/{name}: calls/s {e['calls_per_s'] / f['calls_per_s']:.0%}, commands/s "
                  f"{e['commands_per_s'] / f['commands_per_s']:.0%}  (commands per call: {name} "
                  f"{f['commands'] / max(1, f['calls']):.1f}, engine {e['commands'] / max(1, e['calls']):.1f})")


def median_rows(rounds: list[dict]) -> dict:
    """Per server, the round with the median calls/s (its other figures come with it)."""
    out = {}
    for name in rounds[0]:
        ranked = sorted((r[name] for r in rounds), key=lambda row: row["calls_per_s"])
        out[name] = ranked[(len(ranked) - 1) // 2]
    return out


def report_rounds(rounds: list[dict]) -> None:
    print("per round, engine calls/s / server calls/s:")
    for name in rounds[0]:
        if name != "engine":
            ratios = [r["engine"]["calls_per_s"] / r[name]["calls_per_s"] for r in rounds]
            print(f"  engine/{name:9} " + " ".join(f"{x:4.0%}" for x in ratios)
                  + f"   min {min(ratios):.0%}, median {statistics.median(ratios):.0%}")


def engine_commands(port: int) -> list[str]:
    """The command lines the engine sends on one silent caller's call (what the replay floor sends)."""
    from softphone import AsteriskPeer, Listen, ScriptedCaller

    r = AsteriskPeer("127.0.0.1", port, ScriptedCaller([Listen(), Listen()]), callerid="13900000000",
                     script="hotline?lang=cmn&answered=1&announce=1", timeout=60).run()
    if r.variables.get("HOTLINE_ACTION") != "queue":
        raise SystemExit(f"the engine's sample call did not reach the queue: {r.variables}")
    return r.lines("S>")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--concurrency", type=int, default=500)
    ap.add_argument("--calls", type=int, default=2, help="calls each line places in a row")
    ap.add_argument("--realtime", type=float, default=1.0, help="media time scale (1.0 = real time)")
    ap.add_argument("--tp-lines", type=int, default=40)
    ap.add_argument("--tp-calls", type=int, default=25)
    ap.add_argument("--rounds", type=int, default=5, help="throughput rounds (servers take turns)")
    ap.add_argument("--procs", type=int, default=2, help="load-generator processes")
    ap.add_argument("--skip", choices=("concurrent", "throughput"), help="leave one scenario out")
    args = ap.parse_args()
    call_s = 13.5 * args.realtime        # a silent caller's call, to spread the line starts over

    with tempfile.TemporaryDirectory() as tmp:
        floor_port, engine_port = free_port(), free_port()
        threads_port = free_port()
        floor = subprocess.Popen([sys.executable, str(ROOT / "bench" / "floor_server.py"), "--port", str(floor_port)],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        floor_threads = subprocess.Popen([sys.executable, str(ROOT / "bench" / "floor_server.py"), "--port",
                                          str(threads_port), "--model", "threads"],
                                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        engine = start_engine(engine_port, Path(tmp))
        replay = None
        try:
            wait_port(floor_port, floor)
            wait_port(threads_port, floor_threads)
            wait_port(engine_port, engine)
            # the same call on the wire with nothing behind it: the engine's own commands, replayed
            script = Path(tmp) / "engine-call.agi"
            script.write_text("\n".join(engine_commands(engine_port)) + "\n", encoding="utf-8")
            replay_port = free_port()
            replay = subprocess.Popen([sys.executable, str(ROOT / "bench" / "floor_server.py"), "--port",
                                       str(replay_port), "--replay", str(script)],
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            wait_port(replay_port, replay)
            servers = (("floor", floor_port, False, floor.pid), ("floor-thr", threads_port, False, floor_threads.pid),
                       ("replay", replay_port, False, replay.pid), ("engine", engine_port, True, engine.pid))
            if args.skip != "concurrent":
                rows = {name: run_load(port, args.concurrency, args.calls, args.realtime, args.procs, is_engine,
                                       stagger_s=call_s, pid=pid) for name, port, is_engine, pid in servers}
                report(f"concurrent: {args.concurrency} lines x {args.calls} calls, media at x{args.realtime} "
                       f"real time, {args.procs} load processes, {os.cpu_count()} cores", rows)
            if args.skip != "throughput":
                rounds = []
                for k in range(max(1, args.rounds)):
                    order = servers[k % len(servers):] + servers[:k % len(servers)]
                    rounds.append({name: run_load(port, args.tp_lines, args.tp_calls, 0.0, args.procs, is_engine, pid=pid)
                                   for name, port, is_engine, pid in order})
                report(f"throughput: {args.tp_lines} lines x {args.tp_calls} calls, no media time, "
                       f"{os.cpu_count()} cores, median of {len(rounds)} rounds", median_rows(rounds))
                report_rounds(rounds)
        finally:
            for p in (floor, floor_threads, engine, replay):
                if p is None:
                    continue
                p.terminate()
                p.wait(timeout=60)


if __name__ == "__main__":
    main()
