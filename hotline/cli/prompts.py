"""``hotline prompts build|check``: prompt audio from recordings/prompts.toml."""
from __future__ import annotations

import tomllib
import wave
from pathlib import Path

from core.config import PROJECT_ROOT
from flow import prompts as P
from hotline.cli import CommandError, print_json, settings_from
from speech import synth

PROMPT_TEXTS = PROJECT_ROOT / "recordings" / "prompts.toml"


def register(sub) -> None:
    p = sub.add_parser("prompts", help="prompt audio")
    s = p.add_subparsers(dest="prompts_command", required=True)
    b = s.add_parser("build", help="synthesise missing prompt WAVs (espeak-ng, 8 kHz)")
    b.add_argument("--force", action="store_true", help="rebuild every prompt")
    b.add_argument("--lang", default="cmn,yue,hak", help="languages, comma-separated (default cmn,yue,hak)")
    b.set_defaults(func=build)
    c = s.add_parser("check", help="list prompts and their durations; non-zero if one is missing")
    c.add_argument("--json", action="store_true")
    c.set_defaults(func=check)


def load_texts(path: Path = PROMPT_TEXTS) -> dict[str, dict[str, str]]:
    with open(path, "rb") as fh:
        return tomllib.load(fh)


def duration_ms(path: Path) -> int:
    with wave.open(str(path), "rb") as w:
        return int(w.getnframes() * 1000 / w.getframerate())


def build(args) -> int:
    settings = settings_from(args)
    texts = load_texts()
    missing = [pid for pid in P.ALL if pid not in texts]
    if missing:
        raise CommandError(f"{PROMPT_TEXTS.name} has no text for: {', '.join(missing)}")
    if not synth.available():
        raise CommandError("espeak-ng and sox are needed: apt-get install -y espeak-ng sox")
    made = 0
    for lang in [x.strip() for x in args.lang.split(",") if x.strip()]:
        for pid in P.ALL:
            text = texts[pid].get(lang)
            if not text:
                continue
            out = settings.prompt_dir / lang / f"{pid}.wav"
            if out.exists() and not args.force:
                continue
            synth.synthesize_wav(text, lang, out)
            made += 1
    print(f"{made} prompt file(s) written under {settings.prompt_dir}")
    return 0


def check(args) -> int:
    settings = settings_from(args)
    rows, missing = [], []
    for pid in P.ALL:
        path = settings.prompt_dir / settings.default_language / f"{pid}.wav"
        if path.exists():
            rows.append({"id": pid, "ms": duration_ms(path)})
        else:
            missing.append(pid)
    if args.json:
        print_json({"prompts": rows, "missing": missing})
    else:
        for row in rows:
            print(f"{row['id']:24} {row['ms'] / 1000:5.1f} s")
        for pid in missing:
            print(f"{pid:24} MISSING")
    return 1 if missing else 0
