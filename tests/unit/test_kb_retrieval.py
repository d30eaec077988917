"""Knowledge-base retrieval: robust to telephone ASR (homophones, drops, fillers), synonyms,
a calibrated confidence with a threshold, validity dates; and the noise generator itself."""
from __future__ import annotations

import json
import random
import threading
from datetime import date
from pathlib import Path

import pytest
from pypinyin import lazy_pinyin

from knowledge import retrieval as R
from knowledge.interchange import read_demo_docs
from knowledge.lexicon import SYNONYM_GROUPS
from knowledge.noise import Noise, corrupt, homophones, strip_punctuation
from knowledge.text import analyzer, normalize

ROOT = Path(__file__).resolve().parents[2]
TPE = ROOT.parent / "shared" / "data" / "tpe-faq" / "tpe-faq.jsonl"


@pytest.fixture(scope="module")
def demo_index():
    return R.KnowledgeIndex(read_demo_docs(), threshold=0.65)


@pytest.fixture(scope="module")
def tpe_subset():
    if not TPE.exists():
        pytest.skip(f"{TPE} is not there (shared data)")
    with open(TPE, encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh][:400]
    docs = [R.EntryDoc(r["id"], r["question"], r["answer"]) for r in rows]
    return docs, R.KnowledgeIndex(docs)


def top(index, text, **kw):
    res = index.search(text, 3, **kw)
    return res.matches[0].entry_id if res.matches else None


# -- noisy real questions ----------------------------------------------------------------------

@pytest.mark.parametrize("level", [0.1, 0.2, 0.3])
def test_noisy_tpe_questions_find_their_entry(tpe_subset, level):
    docs, index = tpe_subset
    rng = random.Random(f"test:{level}")
    sample = random.Random(5).sample(docs, 120)
    same = {}
    for d in docs:
        same.setdefault(d.question, set()).add(d.id)
    hits = 0
    for d in sample:
        query = corrupt(d.question, Noise.level(level), rng)
        hits += top(index, query) in same[d.question]
    assert hits / len(sample) >= 0.95, hits


# -- the demo knowledge base: speech forms of a question ----------------------------------------

@pytest.mark.parametrize("query", [
    "社保卡遗失了如何补办",                  # as written
    "喂你好 那个 我想问一下 社保卡遗失了如何补办",  # fillers
    "社 保 卡 遗失 了 如何 补办",            # a recogniser's spaces
    "社保卡以湿了如何不办",                   # homophones: 遗失→以湿, 补→不
    "设保咔遗失了如合补半",                   # more homophones
    "社保卡遗了如何补",                       # dropped characters
    "社保卡掉了怎么补",                       # synonyms: 掉了=遗失, 怎么=如何, 补=补办
    "社会保障卡不见了咋补领",
])
def test_social_security_card_question_in_its_spoken_forms(demo_index, query):
    res = demo_index.search(query)
    assert res.matches[0].entry_id == "hz-si-001"
    assert res.answered


def test_synonyms_map_to_the_same_words():
    a = analyzer()
    assert a.analyze("社保卡掉了怎么补").words == a.analyze("社会保障卡遗失如何补办").words


def test_homophones_sound_the_same():
    a = analyzer()
    assert a.analyze("如何补办").sounds == a.analyze("如合不半").sounds
    # accents folded: zh/z, n/l, -ng/-n (a southern speaker's Mandarin, 8 kHz audio)
    assert a.analyze("住房公积金").sounds == a.analyze("租房公积近").sounds


def test_similar_questions_stay_apart(demo_index):
    assert top(demo_index, "身份证丢了怎么补办") == "hz-hr-003"
    assert top(demo_index, "驾驶证丢了怎么补办") == "hz-tr-003"
    assert top(demo_index, "房产证丢了怎么补办") == "hz-re-004"
    assert top(demo_index, "临时身份证怎么办") == "hz-hr-005"


def test_consultation_about_fire_acceptance_is_answered(demo_index):
    res = demo_index.search("消防验收怎么办理")
    assert res.matches[0].entry_id == "hz-fs-001" and res.answered


@pytest.mark.parametrize("query", ["今天天气怎么样", "帮我订一张去广州的机票", "股票明天会涨吗",
                                   "我想买一台洗衣机哪个牌子好", "你叫什么名字"])
def test_questions_not_in_the_kb_are_not_answered(demo_index, query):
    assert not demo_index.search(query).answered


def test_matches_are_best_first_with_scores_in_unit_interval(demo_index):
    res = demo_index.search("公积金怎么取出来", 5)
    assert len(res.matches) == 5
    scores = [m.score for m in res.matches]
    assert scores == sorted(scores, reverse=True)
    assert all(0.0 <= s <= 1.0 for s in scores)
    assert res.similarities == sorted(res.similarities, reverse=True)
    entry_id, score = res.matches[0]                       # a match unpacks as (entry_id, score)
    assert entry_id.startswith("hz-hf-") and score == res.confidence


# -- threshold, confidence ---------------------------------------------------------------------

def test_threshold_decides_answered():
    docs = read_demo_docs()
    text = "我辞职了公积金怎么办"
    conf = R.KnowledgeIndex(docs, threshold=0.0).search(text).confidence
    assert 0.0 < conf < 1.0
    assert R.KnowledgeIndex(docs, threshold=0.0).search(text).answered
    assert R.KnowledgeIndex(docs, threshold=conf).search(text).answered
    assert not R.KnowledgeIndex(docs, threshold=min(1.0, conf + 1e-3)).search(text).answered


def test_confidence_grows_with_similarity_and_margin():
    assert R.confidence(0.9, 0.5) > R.confidence(0.5, 0.5) > R.confidence(0.5, 0.0)
    assert 0.0 <= R.confidence(0.0, -1.0) < R.confidence(1.0, 1.0) <= 1.0


def test_two_entries_with_the_same_question_are_not_confident():
    docs = [R.EntryDoc("a", "居住证怎么办理", "A"), R.EntryDoc("b", "居住证怎么办理", "B"),
            R.EntryDoc("c", "护照怎么办理", "C")]
    res = R.KnowledgeIndex(docs, threshold=0.5).search("居住证怎么办理")
    assert {m.entry_id for m in res.matches[:2]} == {"a", "b"}
    assert not res.answered


# -- validity, empty cases ---------------------------------------------------------------------

def test_entries_outside_their_validity_are_not_answered():
    docs = [R.EntryDoc("spring", "春节假期政务服务大厅还办公吗", "…", valid_from=date(2026, 1, 15),
                       valid_to=date(2026, 3, 15)),
            R.EntryDoc("other", "护照怎么办理", "…")]
    index = R.KnowledgeIndex(docs)
    assert top(index, "春节假期政务服务大厅还办公吗", today=date(2026, 2, 1)) == "spring"
    assert top(index, "春节假期政务服务大厅还办公吗", today=date(2026, 3, 15)) == "spring"
    for day in (date(2026, 1, 14), date(2026, 3, 16)):
        assert "spring" not in [m.entry_id for m in index.search("春节假期政务服务大厅还办公吗", today=day).matches]
    assert top(index, "春节假期政务服务大厅还办公吗") == "spring"           # no day given: all entries


def test_empty_index_and_empty_text():
    empty = R.KnowledgeIndex([])
    res = empty.search("社保卡掉了怎么补")
    assert res.matches == [] and not res.answered and res.confidence == 0.0
    index = R.KnowledgeIndex(read_demo_docs()[:5])
    for text in ("", "   ", "，。！", "嗯 那个"):
        res = index.search(text)
        assert res.matches == [] and not res.answered


def test_searches_from_many_threads_agree(demo_index):
    queries = ["社保卡掉了怎么补", "公积金怎么提取", "护照怎么办", "电动车怎么上牌"] * 10
    expected = [top(demo_index, q) for q in queries]
    results: list = [None] * len(queries)

    def work(i):
        results[i] = top(demo_index, queries[i])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(queries))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == expected


# -- text normalisation, lexicon ---------------------------------------------------------------

def test_normalize_drops_fillers_spaces_and_punctuation():
    assert normalize("喂，你好！那个 我想问一下：社保 卡 怎么 办？") == "社保卡怎么办"
    assert normalize("ＡＢＣ１２３") == "abc123"
    assert normalize("公积金贷款额度") == "公积金贷款额度"          # 额 is not a filler here


def test_no_word_is_in_two_synonym_groups():
    seen: dict[str, str] = {}
    for group in SYNONYM_GROUPS:
        for word in group:
            assert word not in seen or seen[word] == group[0], (word, seen.get(word), group[0])
            seen[word] = group[0]


# -- the noise generator -----------------------------------------------------------------------

def test_noise_is_deterministic_for_a_seed():
    text = "社保卡遗失了如何补办？需要带什么材料"
    a = [corrupt(text, Noise.level(0.3), random.Random(1)) for _ in range(2)]
    b = corrupt(text, Noise.level(0.3), random.Random(2))
    assert a[0] == a[1]
    assert a[0] != b or a[0] != strip_punctuation(text)


def test_level_zero_only_removes_punctuation():
    assert corrupt("社保卡遗失了，如何补办？", Noise.level(0), random.Random(1)) == "社保卡遗失了如何补办"


def test_homophone_substitution_keeps_the_sound():
    rng = random.Random(3)
    text = "住房公积金提取需要什么条件"
    noisy = corrupt(text, Noise(homophone=1.0), rng)
    assert noisy != text and len(noisy) == len(text)
    changed = sum(1 for a, b in zip(text, noisy) if a != b)
    assert changed >= len(text) * 0.8                 # nearly every character has a common homophone
    for ch, syl in zip(text, lazy_pinyin(text)):
        assert ch not in homophones(ch, syl)
        assert all(lazy_pinyin(c)[0] == syl for c in homophones(ch, syl))


def test_substitution_rate_is_about_the_level():
    rng = random.Random(4)
    text = "城乡居民医保每年什么时候缴费怎么交" * 20
    noisy = corrupt(text, Noise(homophone=0.2), rng)
    rate = sum(1 for a, b in zip(text, noisy) if a != b) / len(text)
    assert 0.12 <= rate <= 0.28


def test_drops_and_fillers():
    rng = random.Random(5)
    text = "城乡居民医保每年什么时候缴费怎么交" * 10
    dropped = corrupt(text, Noise(drop=0.2), rng)
    assert 0.1 * len(text) <= len(text) - len(dropped) <= 0.3 * len(text)
    with_filler = corrupt("护照怎么办理", Noise(prefix_filler=1.0), rng)
    assert with_filler.endswith("护照怎么办理") and len(with_filler) > len("护照怎么办理")
