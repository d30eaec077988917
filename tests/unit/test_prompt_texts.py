"""recordings/prompts.toml and the prompt audio built from it, in every call language."""
from __future__ import annotations

import re
import shutil
import subprocess
import wave

import pytest

from core.config import PROJECT_ROOT
from flow import prompts as P
from flow.language import LANGUAGES
from hotline.cli.prompts import load_texts
from speech.synth import VOICES

TEXTS = load_texts()
PROMPTS = PROJECT_ROOT / "recordings" / "prompts"
# Pha̍k-fa-sṳ as espeak-ng's Hakka voice reads it: its initials and finals, tone marks on the vowels
_HAKKA_SYLLABLE = re.compile(r"^(?:[ptk]h?|chh?|[mnlsfvhy]|ng|)[aeiouṳâêîôûàèìòùáéíóúmnńǹḿ\u0300\u0301\u0302\u030d]*"
                             r"(?:ng|[mnptk])?$|^[ńǹ]g$", re.IGNORECASE)      # ńg (五): a syllabic ng


def test_every_prompt_has_a_text_in_every_call_language():
    missing = [(pid, lang) for pid in P.ALL for lang in LANGUAGES if not TEXTS.get(pid, {}).get(lang)]
    assert missing == []


@pytest.mark.parametrize("pid", P.ALL)
def test_hakka_texts_are_romanised_syllables_the_voice_can_read(pid):
    text = TEXTS[pid]["hak"]
    assert not re.search(r"[\u3400-\u9fff]", text), "the Hakka voice has no dictionary for characters"
    words = re.findall(r"[^\s,.:;!?]+", text)
    bad = [w for w in words if not _HAKKA_SYLLABLE.match(w)]
    assert words and bad == [], f"not a Pha̍k-fa-sṳ syllable: {bad}"


def _phonemes(text: str, voice: str) -> str:
    return subprocess.run(["espeak-ng", "-v", voice, "-q", "-x", "--stdin"], input=text.encode(),
                          capture_output=True, check=True, timeout=30).stdout.decode()


@pytest.mark.skipif(not shutil.which("espeak-ng"), reason="espeak-ng is not installed")
@pytest.mark.parametrize("lang", LANGUAGES)
def test_each_voice_reads_every_prompt_in_its_own_language(lang):
    """espeak-ng reads what its rules or dictionary do not cover with the English voice ("(en)"
    in its phoneme output). A prompt read that way sounds like spelled letters, or, with the
    plain "cmn" voice on espeak-ng 1.51, like pinyin read as English ("nin two" for 您)."""
    voice = VOICES[lang]
    spelled = {pid: out.strip()[:120] for pid in P.ALL
               if "(en)" in (out := _phonemes(TEXTS[pid][lang], voice)) or not out.strip()}
    assert spelled == {}


@pytest.mark.skipif(not shutil.which("espeak-ng"), reason="espeak-ng is not installed")
def test_the_english_check_sees_english():
    assert "(en)" in _phonemes("jîn kûng", VOICES["hak"])         # j and bare k-ng: spelled in English
    assert "(en)" not in _phonemes("您好", VOICES["cmn"])


@pytest.mark.parametrize("lang", LANGUAGES)
def test_each_language_has_its_prompt_audio_in_telephone_format(lang):
    for pid in P.ALL:
        with wave.open(str(PROMPTS / lang / f"{pid}.wav"), "rb") as w:
            assert (w.getframerate(), w.getsampwidth(), w.getnchannels()) == (8000, 2, 1), pid
            assert 0.2 < w.getnframes() / 8000 < 20, pid
