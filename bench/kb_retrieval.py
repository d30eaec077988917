"""Knowledge-base retrieval: quality and speed, engine vs the plain baseline, in one run.

    .venv/bin/python bench/kb_retrieval.py [--seed 7] [--limit N] [--calibrate] [--json]

* Corpus: ``../shared/data/tpe-faq/tpe-faq.jsonl`` (1,852 real FAQ entries) for noisy queries;
  the demo knowledge base (``knowledge/demo_kb.jsonl``) for spoken paraphrases.
* Queries: every tpe-faq question corrupted by ``knowledge.noise`` at 0 / 10 / 20 / 30 %
  homophone substitution (plus drops at a fifth of that rate and spoken fillers), seed-fixed;
  83 hand-written spoken paraphrases of demo-KB questions (on the demo KB alone, and with the
  1,852 tpe-faq entries added as distractors); 26 questions the demo KB cannot answer. Those
  were in view while the engine was tuned; a second set of 53 paraphrases and 12 out-of-scope
  questions was written afterwards and used for nothing but this report ("held-out").
* A hit is the target entry or one with the same question text (tpe-faq repeats 37 questions).
* Baseline: jieba segmentation + ``rank_bm25.BM25Okapi`` over the questions (for the demo KB,
  over questions and alternates, an entry scoring as its best one), no normalisation.
* Latency: wall time per query including segmentation / analysis, one thread.
* Decision: at the configured threshold, how many in-KB queries are answered right / wrong and how
  many out-of-KB queries are answered at all (20 % of tpe-faq held out of the index, plus the
  demo KB's out-of-scope questions). ``--calibrate`` refits the confidence model on that data.
"""
from __future__ import annotations

import argparse
import gc
import json
import math
import random
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from knowledge import retrieval as R  # noqa: E402
from knowledge.interchange import read_demo_docs  # noqa: E402
from knowledge.noise import Noise, corrupt  # noqa: E402

TPE = ROOT.parent / "shared" / "data" / "tpe-faq" / "tpe-faq.jsonl"
LEVELS = (0.0, 0.1, 0.2, 0.3)

# Spoken paraphrases of demo-KB questions, written the way callers talk; none is a question or an
# alternate of the demo KB.
PARAPHRASES: tuple[tuple[str, str], ...] = (
    ("社保卡掉了怎么补", "hz-si-001"),
    ("我的社保卡不见了要去哪里重新办一张", "hz-si-001"),
    ("想看看我社保一共交了几年", "hz-si-002"),
    ("我自己打零工的社保怎么交", "hz-si-003"),
    ("我之前在东莞交的社保现在来惠州上班了怎么弄过来", "hz-si-004"),
    ("我爸快六十了领退休金要办什么手续", "hz-si-005"),
    ("我被裁员了有没有失业金可以拿", "hz-si-006"),
    ("干活的时候把手弄伤了算不算工伤要怎么认定", "hz-si-007"),
    ("我在农村没有单位能不能买养老保险", "hz-si-008"),
    ("我社保中间停了两个月还能补上吗", "hz-si-009"),
    ("我要去深圳住院医保要先备案吗", "hz-mi-001"),
    ("今年的居民医保钱交到哪里", "hz-mi-002"),
    ("刚生了小孩医保怎么给他办", "hz-mi-003"),
    ("我有糖尿病长期要吃药医保能不能多报点", "hz-mi-004"),
    ("我老婆看病能不能刷我的医保账户", "hz-mi-005"),
    ("住院花了好几万医保能报多少", "hz-mi-006"),
    ("手机上的医保码怎么弄出来", "hz-mi-007"),
    ("休产假的津贴找谁领", "hz-mi-008"),
    ("租房子能不能把公积金拿出来用", "hz-hf-001"),
    ("我辞职不干了公积金里的钱怎么办", "hz-hf-002"),
    ("买房想用公积金贷款有什么要求", "hz-hf-003"),
    ("看一下我公积金账户里还剩多少钱", "hz-hf-004"),
    ("我跑滴滴的能不能自己交公积金", "hz-hf-005"),
    ("孩子刚生下来户口怎么上", "hz-hr-001"),
    ("我想把户口迁到惠州来要什么条件", "hz-hr-002"),
    ("身份证弄丢了去哪里补", "hz-hr-003"),
    ("外地人在这边租房子住要办什么证", "hz-hr-004"),
    ("身份证还没办下来急着用怎么办", "hz-hr-005"),
    ("家里的户口簿找不到了", "hz-hr-006"),
    ("第一次出国要办护照去哪办", "hz-ee-001"),
    ("想去香港玩签注怎么续", "hz-ee-002"),
    ("去台湾旅游需要办什么证", "hz-ee-003"),
    ("护照交上去了怎么知道办好没有", "hz-ee-004"),
    ("我们小区从早上到现在一直没水", "hz-ut-001"),
    ("家里跳闸了整栋楼都没电", "hz-ut-002"),
    ("刚交房想装天然气找谁", "hz-ut-003"),
    ("电费可以在微信上交吗", "hz-ut-004"),
    ("二手房买了以后电表要改成我的名字", "hz-ut-005"),
    ("水龙头放出来的水是黄色的", "hz-ut-006"),
    ("我的车有没有违章在哪里看", "hz-tr-001"),
    ("驾照下个月到期要怎么换", "hz-tr-002"),
    ("驾驶证找不到了怎么补一个", "hz-tr-003"),
    ("新买的电瓶车要去哪里挂牌", "hz-tr-004"),
    ("我的车买了七年了要不要去检测站", "hz-tr-005"),
    ("车停在路边被拖了去哪里提车", "hz-tr-006"),
    ("跟别人的车轻轻碰了一下没人受伤要怎么办", "hz-tr-007"),
    ("买的新楼盘房产证什么时候能办下来", "hz-re-001"),
    ("卖房子过户要带哪些东西", "hz-re-002"),
    ("想开个证明看我名下有没有房子", "hz-re-003"),
    ("房产证弄丢了能补吗", "hz-re-004"),
    ("房贷已经还完了抵押怎么解除", "hz-re-005"),
    ("我们两个想去领结婚证要带什么", "hz-ca-001"),
    ("协议离婚要等多长时间", "hz-ca-002"),
    ("家里没有收入想申请低保", "hz-ca-003"),
    ("我奶奶八十五岁了有没有什么补贴", "hz-ca-004"),
    ("家里突然出了事生活过不下去了政府能帮忙吗", "hz-ca-005"),
    ("孩子是残疾想办个残疾证", "hz-ca-006"),
    ("明年孩子要读一年级怎么报名", "hz-ed-001"),
    ("我们是外省户口孩子在惠州读公办学校要什么条件", "hz-ed-002"),
    ("孩子想从老家转到惠州读书", "hz-ed-003"),
    ("老板欠了我三个月工资不给", "hz-la-001"),
    ("和单位闹纠纷了想去仲裁", "hz-la-002"),
    ("上班半年了公司一直不签合同", "hz-la-003"),
    ("想开个小卖部执照怎么办", "hz-mk-001"),
    ("网上买的东西是假货怎么投诉", "hz-mk-002"),
    ("开饭店要办什么许可", "hz-mk-003"),
    ("楼上天天装修吵得睡不着", "hz-cm-001"),
    ("隔壁在楼顶乱搭了一个棚子", "hz-cm-002"),
    ("我家门口天天有人摆摊", "hz-cm-003"),
    ("楼下烧烤店的油烟熏得窗户都不敢开", "hz-cm-004"),
    ("新建的厂房消防验收找哪个部门", "hz-fs-001"),
    ("我要开个网吧消防检查怎么申请", "hz-fs-002"),
    ("楼道里被人堆满了东西消防通道堵了", "hz-fs-003"),
    ("孩子的出生证明在哪里办", "hz-he-001"),
    ("宝宝打预防针要预约吗", "hz-he-002"),
    ("在餐馆上班要办健康证去哪办", "hz-he-003"),
    ("去年多交的个人所得税怎么退回来", "hz-tx-001"),
    ("你们12345都管些什么事", "hz-hl-001"),
    ("我上周投诉的事情处理得怎么样了", "hz-hl-002"),
    ("部门给的答复我不满意", "hz-hl-003"),
    ("办事大厅星期六开门吗", "hz-hl-004"),
    ("在手机上用粤省事能办什么", "hz-hl-006"),
    ("我打工的社保卡丢在公交车上了", "hz-si-001"),
)

# A second set, written after the weights, lexicon, confidence model and threshold were fixed and
# never used to tune them: the honest measure of paraphrase handling.
HELDOUT_PARAPHRASES: tuple[tuple[str, str], ...] = (
    ("社保卡被偷了要怎么办", "hz-si-001"),
    ("怎么知道我单位有没有给我交社保", "hz-si-002"),
    ("我是开网约车的社保自己怎么买", "hz-si-003"),
    ("以前在广州上班交的养老保险能转过来吗", "hz-si-004"),
    ("我妈今年到年龄了退休怎么申请", "hz-si-005"),
    ("公司倒闭了我能领失业保险吗", "hz-si-006"),
    ("在工厂上班被机器压伤了手工伤怎么弄", "hz-si-007"),
    ("去外省看病医保能直接刷吗", "hz-mi-001"),
    ("孩子在学校的医保怎么交钱", "hz-mi-002"),
    ("刚出生的孩子要不要买医保", "hz-mi-003"),
    ("我高血压长期吃药能办慢性病吗", "hz-mi-004"),
    ("我的医保账户能给我爸妈买药吗", "hz-mi-005"),
    ("住院出院的时候医保是怎么算的", "hz-mi-006"),
    ("微信里的医保电子凭证怎么开通", "hz-mi-007"),
    ("公积金能不能取出来还房贷", "hz-hf-001"),
    ("我不在惠州上班了公积金能转走吗", "hz-hf-002"),
    ("公积金贷款最多能贷多少钱", "hz-hf-003"),
    ("公积金余额在手机上怎么查", "hz-hf-004"),
    ("宝宝的户口在哪里登记", "hz-hr-001"),
    ("买了房子可以落户惠州吗", "hz-hr-002"),
    ("身份证快过期了去哪里换", "hz-hr-003"),
    ("我在惠州打工要办居住证吗", "hz-hr-004"),
    ("护照在哪里可以办", "hz-ee-001"),
    ("港澳通行证到期了要换新的", "hz-ee-002"),
    ("小区停水了什么时候来水", "hz-ut-001"),
    ("突然停电了打什么电话", "hz-ut-002"),
    ("家里想装管道煤气怎么申请", "hz-ut-003"),
    ("燃气费能不能在网上缴", "hz-ut-004"),
    ("我的车被电子眼拍了怎么交罚款", "hz-tr-001"),
    ("驾驶证有效期满了怎么办", "hz-tr-002"),
    ("电瓶车上牌需要带什么", "hz-tr-004"),
    ("小车每年都要检验吗", "hz-tr-005"),
    ("二手房交易怎么过户", "hz-re-002"),
    ("房子贷款还清了怎么拿回房产证", "hz-re-005"),
    ("领结婚证需要户口本吗", "hz-ca-001"),
    ("两个人想离婚去哪里办手续", "hz-ca-002"),
    ("家里收入低能吃低保吗", "hz-ca-003"),
    ("九十岁的老人有什么津贴", "hz-ca-004"),
    ("残疾证去哪里办", "hz-ca-006"),
    ("孩子六岁了上小学怎么报名", "hz-ed-001"),
    ("孩子转学到别的学校怎么办手续", "hz-ed-003"),
    ("工厂拖了两个月工资没发", "hz-la-001"),
    ("被公司无故辞退了去哪里申请仲裁", "hz-la-002"),
    ("开个体店营业执照在哪里申请", "hz-mk-001"),
    ("商场买的衣服质量有问题怎么投诉", "hz-mk-002"),
    ("晚上广场舞太吵了", "hz-cm-001"),
    ("有人在楼顶加盖房子", "hz-cm-002"),
    ("厂房做消防验收要准备什么", "hz-fs-001"),
    ("疫苗接种要带什么", "hz-he-002"),
    ("个税汇算在手机上怎么弄", "hz-tx-001"),
    ("12345能帮我做什么", "hz-hl-001"),
    ("我前几天反映的事有人处理吗", "hz-hl-002"),
    ("政务大厅中午休息吗", "hz-hl-004"),
)

HELDOUT_OUT_OF_SCOPE: tuple[str, ...] = (
    "我家猫走丢了怎么办", "明天会不会下雨", "帮我叫个外卖", "高铁票怎么改签", "哪个医院看牙好",
    "我想学开车哪个驾校好", "小区电梯老是坏", "手机话费怎么充值", "银行卡密码忘了怎么办",
    "信用卡逾期了怎么办", "孩子沉迷游戏怎么办", "出国旅游去哪里好玩",
)

# Questions the demo KB has no entry for: they must go to a person.
OUT_OF_SCOPE: tuple[str, ...] = (
    "今天天气怎么样", "帮我订一张去广州的机票", "我想买一台洗衣机哪个牌子好", "附近有什么好吃的餐厅",
    "股票明天会涨吗", "你叫什么名字", "我想找一份保安的工作", "狗狗生病了去哪个宠物医院",
    "帮我查一下快递到哪了", "彩票中奖了怎么领奖", "我的手机信号不好", "小区门口的路灯坏了好几天了",
    "学校食堂的饭菜太贵了", "我要投诉出租车司机绕路", "宅基地怎么申请", "渔船证怎么办理",
    "养狗要办狗证吗", "拆迁补偿标准是多少", "西湖公园几点关门", "新能源汽车补贴怎么申请",
    "退役军人优待证怎么办", "公交车老是不按时到站", "孩子在学校被同学欺负了", "医院排队太久了",
    "网约车驾驶员证怎么考", "农村危房改造怎么申请",
)


def load_jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def tpe_docs(rows: list[dict]) -> list[R.EntryDoc]:
    return [R.EntryDoc(r["id"], r["question"], r.get("answer", "")) for r in rows]


class Baseline:
    """jieba + rank_bm25 over the questions (and alternates), the plain choice."""

    def __init__(self, docs: list[R.EntryDoc]) -> None:
        import jieba
        from rank_bm25 import BM25Okapi

        jieba.setLogLevel(60)
        jieba.initialize()
        self._cut = jieba.lcut
        texts, owner = [], []
        for i, d in enumerate(docs):
            for t in (d.question, *d.alternates):
                texts.append(self._cut(t))
                owner.append(i)
        self.ids = [d.id for d in docs]
        self._owner = np.asarray(owner)
        self._multi = len(owner) != len(docs)
        self._bm25 = BM25Okapi(texts)

    def search(self, text: str, k: int = 3) -> list[str]:
        scores = self._bm25.get_scores(self._cut(text))
        if self._multi:
            per = np.full(len(self.ids), -np.inf)
            np.maximum.at(per, self._owner, scores)
            scores = per
        top = np.argsort(-scores, kind="stable")[:k]
        return [self.ids[i] for i in top]


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values) * 1000.0, q)) if values else float("nan")


def run_set(name: str, queries: list[tuple[str, str]], engine: R.KnowledgeIndex, baseline: Baseline,
            same: dict[str, set[str]]) -> dict:
    """top-1/top-3 and latency for both systems on (query, target id) pairs."""
    out: dict = {"set": name, "n": len(queries)}
    for label, fn in (("engine", lambda q: [m.entry_id for m in engine.search(q, 3).matches]),
                      ("baseline", lambda q: baseline.search(q, 3))):
        hit1 = hit3 = 0
        lat: list[float] = []
        gc.collect()
        for text, target in queries:
            t0 = time.perf_counter()
            ids = fn(text)
            lat.append(time.perf_counter() - t0)
            ok = same.get(target, {target})
            hit1 += bool(ids) and ids[0] in ok
            hit3 += any(i in ok for i in ids[:3])
        out[label] = {"top1": hit1 / len(queries), "top3": hit3 / len(queries),
                      "p50_ms": pct(lat, 50), "p99_ms": pct(lat, 99)}
    return out


def same_question(docs: list[R.EntryDoc]) -> dict[str, set[str]]:
    groups: dict[str, set[str]] = {}
    for d in docs:
        groups.setdefault(d.question.strip(), set()).add(d.id)
    return {d.id: groups[d.question.strip()] for d in docs}


def noisy_queries(docs: list[R.EntryDoc], level: float, seed: int) -> list[tuple[str, str]]:
    rng = random.Random(f"{seed}:{level}")
    noise = Noise.level(level)
    return [(corrupt(d.question, noise, rng), d.id) for d in docs]


# -- decision (threshold) data ---------------------------------------------------------------

GROUPS = ("tpe in-KB", "tpe held-out", "paraphrases", "paraphrases+noise", "out-of-scope")
IN_KB = {"tpe in-KB", "paraphrases", "paraphrases+noise"}
THRESHOLDS = (0.3, 0.4, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.9)


def decision_queries(docs, demo, seed: int):
    """(group, text, target or None) and the index they run against: demo KB + 80 % of tpe-faq."""
    rng = random.Random(f"{seed}:split")
    order = list(range(len(docs)))
    rng.shuffle(order)
    cut = int(len(docs) * 0.8)
    indexed = [docs[i] for i in order[:cut]]
    indexed_q = {d.question.strip() for d in indexed}
    held = [docs[i] for i in order[cut:] if docs[i].question.strip() not in indexed_q]
    queries = []
    for level in LEVELS:
        pick = random.Random(f"{seed}:{level}:pick").sample(indexed, min(300, len(indexed)))
        queries += [("tpe in-KB", q, t) for q, t in noisy_queries(pick, level, seed)]
        queries += [("tpe held-out", q, None) for q, _ in noisy_queries(held, level, seed)]
    rng = random.Random(f"{seed}:para")
    queries += [("paraphrases", q, t) for q, t in PARAPHRASES]
    queries += [("paraphrases+noise", corrupt(q, Noise.level(0.1), rng), t) for q, t in PARAPHRASES]
    queries += [("out-of-scope", q, None) for q in OUT_OF_SCOPE]
    return queries, demo + indexed


def decision_rows(index: R.KnowledgeIndex, queries, same: dict[str, set[str]]):
    """(group, similarity, margin, top1_correct) per query."""
    rows = []
    for group, text, target in queries:
        res = index.search(text, 2)
        if not res.matches:
            rows.append((group, 0.0, 0.0, False))
            continue
        sims = res.similarities
        margin = sims[0] - (sims[1] if len(sims) > 1 else 0.0)
        ok = target is not None and res.matches[0].entry_id in same.get(target, {target})
        rows.append((group, sims[0], margin, ok))
    return rows


def threshold_table(rows, thresholds) -> list[dict]:
    """Per threshold and group: share answered right / wrong (in-KB groups) or answered (others).
    ``mean_right``: answered right, averaged over the in-KB groups; ``mean_wrong``: wrong answers
    (in-KB answered wrong, out-of-KB answered at all), averaged over every group."""
    table = []
    conf = [R.confidence(s, m) for _, s, m, _ in rows]
    for th in thresholds:
        row: dict = {"threshold": th}
        rights, wrongs = [], []
        for g in GROUPS:
            sel = [(c, ok) for (grp, _, _, ok), c in zip(rows, conf) if grp == g]
            if not sel:
                continue
            n = len(sel)
            right = sum(1 for c, ok in sel if c >= th and ok) / n
            answered = sum(1 for c, _ in sel if c >= th) / n
            row[g] = {"right": right, "wrong": answered - right} if g in IN_KB else {"answered": answered}
            if g in IN_KB:
                rights.append(right)
            wrongs.append(answered - right)
        row["mean_right"] = sum(rights) / len(rights) if rights else 0.0
        row["mean_wrong"] = sum(wrongs) / len(wrongs) if wrongs else 0.0
        table.append(row)
    return table


def fit_logistic(rows) -> tuple[float, float, float]:
    """Logistic regression of top-1 correctness on (similarity, margin), every group weighted equally."""
    x = np.asarray([[1.0, s, m] for _, s, m, _ in rows])
    y = np.asarray([1.0 if ok else 0.0 for *_, ok in rows])
    counts = {g: sum(1 for r in rows if r[0] == g) for g in GROUPS}
    sw = np.asarray([1.0 / counts[r[0]] for r in rows])
    sw *= len(sw) / sw.sum()
    w = np.zeros(3)
    for _ in range(200):                      # Newton's method, lightly regularised
        p = 1 / (1 + np.exp(-x @ w))
        g = x.T @ (sw * (p - y)) + 1e-2 * w
        h = (x * (sw * p * (1 - p))[:, None]).T @ x + 1e-2 * np.eye(3)
        step = np.linalg.solve(h, g)
        w -= step
        if np.abs(step).max() < 1e-9:
            break
    return tuple(round(float(v), 2) for v in w)


def reliability(rows, bins=5) -> list[dict]:
    """Mean confidence vs accuracy of the top match per confidence bin, every group weighted equally
    (the weighting the confidence model was fitted with)."""
    conf = np.asarray([R.confidence(s, m) for _, s, m, _ in rows])
    ok = np.asarray([r[3] for r in rows], dtype=float)
    counts = {g: sum(1 for r in rows if r[0] == g) for g in GROUPS}
    weight = np.asarray([1.0 / counts[r[0]] for r in rows])
    out = []
    edges = np.linspace(0, 1, bins + 1)
    for lo, hi in zip(edges[:-1], edges[1:]):
        sel = (conf >= lo) & ((conf < hi) if hi < 1 else (conf <= hi))
        if sel.any():
            w = weight[sel]
            out.append({"bin": f"{lo:.1f}-{hi:.1f}", "n": int(sel.sum()),
                        "mean_confidence": float(np.average(conf[sel], weights=w)),
                        "accuracy": float(np.average(ok[sel], weights=w))})
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--limit", type=int, default=0, help="use only the first N tpe-faq entries")
    ap.add_argument("--threshold", type=float, default=None, help="decision threshold (default: the engine's)")
    ap.add_argument("--calibrate", action="store_true", help="refit the confidence model and print it")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    threshold = R.DEFAULT_THRESHOLD if args.threshold is None else args.threshold

    rows = load_jsonl(TPE)
    if args.limit:
        rows = rows[: args.limit]
    docs = tpe_docs(rows)
    demo = read_demo_docs()
    report: dict = {"seed": args.seed, "entries": len(docs), "demo_entries": len(demo), "sets": []}

    t0 = time.perf_counter()
    engine = R.KnowledgeIndex(docs, threshold)
    report["engine_build_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    baseline = Baseline(docs)
    report["baseline_build_s"] = time.perf_counter() - t0
    same = same_question(docs)
    for level in LEVELS:
        queries = noisy_queries(docs, level, args.seed)
        report["sets"].append(run_set(f"tpe-faq noise {int(level * 100)}%", queries, engine, baseline, same))
        _progress(report["sets"][-1], args.json)

    para = list(PARAPHRASES)
    demo_engine, demo_base = R.KnowledgeIndex(demo, threshold), Baseline(demo)
    demo_same = same_question(demo)
    report["sets"].append(run_set("paraphrases, demo KB", para, demo_engine, demo_base, demo_same))
    _progress(report["sets"][-1], args.json)
    rng = random.Random(f"{args.seed}:para")
    para_noisy = [(corrupt(q, Noise.level(0.1), rng), t) for q, t in para]
    report["sets"].append(run_set("paraphrases + 10% noise, demo KB", para_noisy, demo_engine, demo_base, demo_same))
    _progress(report["sets"][-1], args.json)
    both = demo + docs
    big_engine, big_base = R.KnowledgeIndex(both, threshold), Baseline(both)
    big_same = {**same, **demo_same}
    report["sets"].append(run_set("paraphrases, demo KB + tpe-faq", para, big_engine, big_base, big_same))
    _progress(report["sets"][-1], args.json)
    held_para = list(HELDOUT_PARAPHRASES)
    report["sets"].append(run_set("held-out paraphrases, demo KB", held_para, demo_engine, demo_base, demo_same))
    _progress(report["sets"][-1], args.json)
    report["sets"].append(run_set("held-out paraphrases, demo + tpe-faq", held_para, big_engine, big_base,
                                  big_same))
    _progress(report["sets"][-1], args.json)
    # the decision on the demo KB alone, as deployed: paraphrases vs questions it cannot answer
    demo_rows = decision_rows(demo_engine, [("paraphrases", q, t) for q, t in para]
                              + [("out-of-scope", q, None) for q in OUT_OF_SCOPE], demo_same)
    held_rows = decision_rows(demo_engine, [("paraphrases", q, t) for q, t in held_para]
                              + [("out-of-scope", q, None) for q in HELDOUT_OUT_OF_SCOPE], demo_same)
    report["decision_demo"] = {"dev": threshold_table(demo_rows, [threshold])[0],
                               "held-out": threshold_table(held_rows, [threshold])[0]}

    # decision: demo KB + 80 % of tpe-faq indexed; held-out 20 % and out-of-scope are out of the KB
    dq, split_docs = decision_queries(docs, demo, args.seed)
    split_index = R.KnowledgeIndex(split_docs, threshold)
    drows = decision_rows(split_index, dq, big_same)
    report["decision"] = {"groups": {g: sum(1 for r in drows if r[0] == g) for g in GROUPS},
                          "table": threshold_table(drows, THRESHOLDS),
                          "reliability": reliability(drows)}
    if args.calibrate:
        report["calibration"] = dict(zip(("C0", "C_SIM", "C_MARGIN"), fit_logistic(drows)))

    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        print_report(report, threshold)
    return 0


def _progress(row: dict, quiet: bool) -> None:
    if not quiet:
        print(f"  … {row['set']}: engine {row['engine']['top1']:.1%}, baseline {row['baseline']['top1']:.1%}",
              file=sys.stderr, flush=True)


def print_report(report: dict, threshold: float) -> None:
    print(f"Knowledge retrieval benchmark — seed {report['seed']}, tpe-faq {report['entries']} entries, "
          f"demo KB {report['demo_entries']} entries")
    print(f"index build: engine {report['engine_build_s']:.2f} s, baseline {report['baseline_build_s']:.2f} s\n")
    head = (f"{'query set':36} {'n':>5} | {'engine top1':>11} {'top3':>6} {'p50':>6} {'p99':>6} | "
            f"{'base top1':>9} {'top3':>6} {'p50':>6} {'p99':>6} | {'err ratio':>9} {'p99 ratio':>9}")
    print(head)
    print("-" * len(head))
    for row in report["sets"]:
        e, b = row["engine"], row["baseline"]
        err_ratio = (1 - e["top1"]) / (1 - b["top1"]) if b["top1"] < 1 else math.nan
        print(f"{row['set']:36} {row['n']:5d} | {e['top1']:11.1%} {e['top3']:6.1%} {e['p50_ms']:5.2f}ms "
              f"{e['p99_ms']:5.2f}ms | {b['top1']:9.1%} {b['top3']:6.1%} {b['p50_ms']:5.2f}ms {b['p99_ms']:5.2f}ms | "
              f"{err_ratio:9.2f} {e['p99_ms'] / b['p99_ms']:9.2f}")
    print("\n(err ratio = engine top-1 errors / baseline top-1 errors; p99 ratio = engine / baseline)\n")
    d = report["decision"]
    print("Answer decision — index: demo KB + 80 % of tpe-faq. In the KB: tpe-faq questions at 0–30 % noise, "
          "paraphrases (clean, +10 % noise); not in the KB: the held-out 20 % at 0–30 % noise, out-of-scope.")
    print("  " + ", ".join(f"{g}: {n}" for g, n in d["groups"].items()))
    cols = [g for g in GROUPS if g in d["table"][0]]
    print(f"{'threshold':>9} | " + " | ".join(f"{g:>21}" for g in cols) + " | mean right | mean wrong")
    for row in d["table"]:
        cells = []
        for g in cols:
            c = row[g]
            cells.append(f"right {c['right']:5.1%} wrong {c['wrong']:4.1%}" if "right" in c
                         else f"{'answered':>11} {c['answered']:8.1%}")
        mark = "  <- default" if abs(row["threshold"] - threshold) < 1e-9 else ""
        print(f"{row['threshold']:9.2f} | " + " | ".join(f"{x:>21}" for x in cells)
              + f" | {row['mean_right']:10.1%} | {row['mean_wrong']:10.1%}{mark}")
    print("\nconfidence reliability (all decision queries, groups weighted equally):")
    for r in d["reliability"]:
        print(f"  confidence {r['bin']}: n={r['n']:5d}  mean confidence {r['mean_confidence']:.2f}  "
              f"accuracy {r['accuracy']:.2f}")
    print(f"\ndemo KB alone, threshold {threshold}:")
    for name, row in report["decision_demo"].items():
        print(f"  {name:9} paraphrases answered right {row['paraphrases']['right']:5.1%}, wrong "
              f"{row['paraphrases']['wrong']:4.1%}; out-of-scope answered {row['out-of-scope']['answered']:5.1%}")
    if "calibration" in report:
        print(f"\nrefitted confidence model (group-balanced): {report['calibration']}")


if __name__ == "__main__":
    sys.exit(main())
