"""``hotline speech install-model|status|recognize``: the Vosk model and trying it on a file."""
from __future__ import annotations

import sys
import time
from pathlib import Path

from hotline.cli import CommandError, print_json, settings_from
from speech import models


def register(sub) -> None:
    p = sub.add_parser("speech", help="speech recognition (Vosk model, status, trying a file)")
    s = p.add_subparsers(dest="speech_command", required=True)

    i = s.add_parser("install-model", help="download, verify (SHA-256) and unpack a Vosk model")
    i.add_argument("--name", default="small-cn",
                   help="small-cn (vosk-model-small-cn-0.22, 42 MB, default), cn (vosk-model-cn-0.22, "
                        "1.3 GB) or another vosk-model-… name (needs --sha256)")
    i.add_argument("--dest", type=Path, help="directory for models (default: <data_dir>/models)")
    i.add_argument("--sha256", help="expected SHA-256 of the zip archive (required for unknown models)")
    i.add_argument("--base-url", default=models.BASE_URL, help="download from a mirror of " + models.BASE_URL)
    i.add_argument("--force", action="store_true", help="download again even if already installed")
    i.set_defaults(func=install_model)

    st = s.add_parser("status", help="which model the engine would use, and the models found")
    st.add_argument("--load", action="store_true", help="also load the model and time it")
    st.add_argument("--json", action="store_true")
    st.set_defaults(func=status)

    r = s.add_parser("recognize", help="recognise a WAV file the way a call's utterance is")
    r.add_argument("file", type=Path, help="a WAV file (8 kHz mono 16-bit; others converted with sox)")
    r.add_argument("--model", type=Path, help="model directory (default: the engine's model)")
    r.add_argument("--lang", help="language of the call (default: default_language)")
    r.add_argument("--json", action="store_true")
    r.set_defaults(func=recognize)


def install_model(args) -> int:
    settings = settings_from(args)
    dest = args.dest or models.default_models_dir(settings)
    known = models.known_model(args.name)
    label = known.name if known else args.name
    show = sys.stderr.isatty()
    last = [0.0]

    def progress(done: int, total: int) -> None:
        now = time.monotonic()
        if show and (now - last[0] > 0.5 or done == total):
            last[0] = now
            pct = f"{100 * done / total:5.1f} %" if total else f"{done >> 20} MB"
            print(f"\r{label}: {pct}", end="", file=sys.stderr, flush=True)

    try:
        target = models.install_model(args.name, dest, sha256=args.sha256, base_url=args.base_url,
                                      force=args.force, progress=progress)
    except models.ModelError as exc:
        raise CommandError(str(exc)) from None
    finally:
        if show:
            print(file=sys.stderr)
    print(f"{label} installed at {target}")
    if settings.speech_model_path is None and models.resolve_model_path(settings) == target:
        print("the engine will use it (speech_engine = auto)")
    elif settings.speech_model_path is None or Path(settings.speech_model_path) != target:
        print(f"to use it: speech_model_path = \"{target}\" (or HOTLINE_SPEECH_MODEL_PATH)")
    return 0


def _engine_model(settings) -> Path | None:
    if settings.speech_engine in ("off", "transcript"):
        return None
    return models.resolve_model_path(settings)


def status(args) -> int:
    settings = settings_from(args)
    path = _engine_model(settings)
    info = {
        "speech_engine": settings.speech_engine,
        "configured_path": str(settings.speech_model_path) if settings.speech_model_path else None,
        "models_dir": str(models.default_models_dir(settings)),
        "model_path": str(path) if path else None,
        "language": models.model_language(path) if path else None,
        "speech": "on" if path else ("transcript files" if settings.speech_engine == "transcript" else "off"),
        "workers": settings.speech_workers or None,
        "timeout_s": settings.speech_timeout_s,
        "loaded": False,
        "installed": [m.to_dict() for m in models.find_installed_models(settings)],
    }
    if args.load and path is not None:
        from speech.vosk_engine import ModelLoadError, shared_model
        started = time.perf_counter()
        try:
            shared_model(path)
        except ModelLoadError as exc:
            raise CommandError(str(exc)) from None
        info["loaded"] = True
        info["load_s"] = round(time.perf_counter() - started, 2)
    if args.json:
        print_json(info)
        return 0
    print(f"speech engine   {info['speech_engine']}: speech is {info['speech']}")
    print(f"model           {info['model_path'] or '(none: keypad only; run `hotline speech install-model`)'}")
    if path:
        print(f"language        {info['language'] or 'unknown'}")
        print(f"loaded          {'yes, in %.1f s' % info['load_s'] if info['loaded'] else 'no (loaded by the engine at start)'}")
    print(f"models dir      {info['models_dir']}")
    for m in info["installed"]:
        print(f"  found {m['name']:34} {m['language'] or '?':4} {m['source']:20} {m['path']}")
    return 0


def recognize(args) -> int:
    from speech.recognizer import read_pcm
    from speech.vosk_engine import ModelLoadError, VoskRecognizer, shared_model

    settings = settings_from(args)
    model = args.model or _engine_model(settings)
    if model is None:
        raise CommandError("no Vosk model: run `hotline speech install-model`, or give --model DIR")
    if not models.is_model_dir(model):
        raise CommandError(f"{model} is not a Vosk model directory (no am/final.mdl)")
    if not args.file.is_file():
        raise CommandError(f"{args.file}: no such file")
    try:
        audio_s = len(read_pcm(str(args.file))) / 16000
    except (ValueError, OSError) as exc:
        raise CommandError(str(exc)) from None
    started = time.perf_counter()
    try:
        shared_model(model)
    except ModelLoadError as exc:
        raise CommandError(str(exc)) from None
    load_s = time.perf_counter() - started
    recognizer = VoskRecognizer(model, workers=1, timeout_s=max(60.0, audio_s * 10))
    try:
        started = time.perf_counter()
        result = recognizer.transcribe(str(args.file), args.lang or settings.default_language)
        elapsed = time.perf_counter() - started
    finally:
        recognizer.close()
    if recognizer.failures:
        raise CommandError(f"{args.file}: recognition failed (see the log above)")
    data = result.to_dict() | {"file": str(args.file), "model": str(model), "audio_s": round(audio_s, 3),
                               "elapsed_s": round(elapsed, 3), "load_s": round(load_s, 2),
                               "rtf": round(elapsed / audio_s, 3) if audio_s else None}
    if args.json:
        print_json(data)
    else:
        print(result.text if result.text else "(nothing recognised)")
        print(f"confidence {result.confidence:.2f}; {audio_s:.1f} s of audio in {elapsed:.2f} s"
              + (f" (real-time factor {elapsed / audio_s:.2f})" if audio_s else ""), file=sys.stderr)
    return 0
