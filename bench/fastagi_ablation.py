"""Where the engine's CPU per call goes, measured by taking parts away (not by a profiler).

    .venv/bin/python bench/fastagi_ablation.py                 # every variant, 40 lines x 50 calls, 2 runs
    .venv/bin/python bench/fastagi_ablation.py --variants full,no-db --runs 3

Each variant is ``hotline serve`` (SQLite) started through ``bench/ablated_engine.py``, which
replaces the named parts with nothing before the engine starts; the load is the saturated
scenario of ``bench/fastagi_bench.py`` (silent callers, no media time) and the floors are the
same two servers as there. An experiment only: a variant without its database reads does not
check the blocklist, one without call records keeps none.

Variants: ``full`` (the engine as shipped), ``no-reads`` (blocklist check and priority registry
answer "no" without the database), ``no-records`` (call records not written), ``no-db`` (both).
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))

from fastagi_bench import engine_commands, free_port, run_load, start_engine, wait_port  # noqa: E402

VARIANTS = ("full", "no-reads", "no-records", "no-db")


def start(variant: str, data: Path) -> tuple[subprocess.Popen, int]:
    port = free_port()
    proc = start_engine(port, data, [sys.executable, str(ROOT / "bench" / "ablated_engine.py")],
                        HOTLINE_ABLATE=variant)
    wait_port(port, proc)
    return proc, port


def floor(data: Path, replay: list[str] | None) -> tuple[subprocess.Popen, int]:
    port = free_port()
    cmd = [sys.executable, str(ROOT / "bench" / "floor_server.py"), "--port", str(port)]
    if replay:
        script = data / "engine-call.agi"
        script.write_text("\n".join(replay) + "\n", encoding="utf-8")
        cmd += ["--replay", str(script)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    wait_port(port, proc)
    return proc, port


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument("--lines", type=int, default=40)
    ap.add_argument("--calls", type=int, default=50)
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--procs", type=int, default=2)
    args = ap.parse_args()
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = set(variants) - set(VARIANTS)
    if unknown:
        raise SystemExit(f"unknown variant(s): {', '.join(sorted(unknown))}; known: {', '.join(VARIANTS)}")
    rows: list[tuple[str, list[dict]]] = []
    with tempfile.TemporaryDirectory() as tmp:
        procs = []
        try:
            engine, port = start("full", Path(tmp) / "sample")
            procs.append(engine)
            servers = [("floor", *floor(Path(tmp), None)), ("replay", *floor(Path(tmp), engine_commands(port)))]
            engine.terminate()
            engine.wait(60)
            for name, proc, fport in servers:
                procs.append(proc)
                run_load(fport, args.lines, 10, 0.0, args.procs, False, pid=proc.pid)      # warm-up
                rows.append((name, [run_load(fport, args.lines, args.calls, 0.0, args.procs, False, pid=proc.pid)
                                    for _ in range(args.runs)]))
            for variant in variants:
                proc, vport = start(variant, Path(tmp) / variant)
                procs.append(proc)
                run_load(vport, args.lines, 10, 0.0, args.procs, True, pid=proc.pid)       # warm-up
                rows.append((variant, [run_load(vport, args.lines, args.calls, 0.0, args.procs, True, pid=proc.pid)
                                       for _ in range(args.runs)]))
                proc.terminate()
                proc.wait(60)
        finally:
            for p in procs:
                if p.poll() is None:
                    p.terminate()
                    p.wait(60)
    print(f"\n# ablation: {args.lines} lines x {args.calls} calls, no media time, {args.runs} runs each, "
          f"{os.cpu_count()} cores (figures: mean of the runs)")
    print(f"{'server':11} {'calls/s':>8} {'failed':>6} {'cmds/call':>9} {'cpu ms/call':>11} {'load cpu ms/call':>16} "
          f"{'vs floor':>8} {'vs replay':>9}")
    mean = {name: {k: sum(r[k] for r in rs) / len(rs) for k in ("calls_per_s", "cpu_ms_per_call",
                                                               "load_cpu_ms_per_call", "commands", "calls", "failed")}
            for name, rs in rows}
    for name, _ in rows:
        m = mean[name]
        print(f"{name:11} {m['calls_per_s']:8.1f} {m['failed']:6.0f} {m['commands'] / max(1, m['calls']):9.1f} "
              f"{m['cpu_ms_per_call']:11.2f} {m['load_cpu_ms_per_call']:16.2f} "
              f"{m['calls_per_s'] / mean['floor']['calls_per_s']:8.0%} {m['calls_per_s'] / mean['replay']['calls_per_s']:9.0%}")


if __name__ == "__main__":
    main()
