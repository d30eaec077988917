"""Emergency detection on a caller's transcript: fire → 119, crime in progress → 110, medical → 120.

Runs before the knowledge base (DESIGN §3.3). It is deliberately rule-based and explainable:

1. the transcript is normalised (spaces a recogniser puts between words, punctuation, width);
2. phrases that contain an alarming word but are not an emergency are masked out first —
   消防验收, 消防证, 火车票, 火锅, 急救培训, 报警器, 120平方, 110千伏, 抢劫案, …;
3. a trigger (着火, 煤气泄漏, 抢劫, 有人拿刀, 晕倒, 喘不上气, 救命, …) that is negated just before
   (没有着火, 不是晕倒), hypothetical (如果着火, 万一晕倒) or told as a past event (去年着火,
   上次晕倒) does not count, unless the caller also says it is urgent;
4. a transcript that reads as a consultation about procedures (理赔, 报销, 收费标准, 培训,
   隐患 …) is not an emergency unless it also says it is happening now (快, 正在, 救命 …).

When several kinds match, fire wins over police, police over medical (the first service
dispatches the others: a stabbing is 110, a fire with injured people is 119).
A missed emergency still reaches a person (human-first); a false alarm would send a citizen
with a question to 119, so the negatives are tested as carefully as the positives.
"""
from __future__ import annotations

import re
import unicodedata

FIRE, POLICE, MEDICAL = "119", "110", "120"

# Phrases that look alarming but are not emergencies; masked before matching triggers.
_NOT_EMERGENCY = [
    # fire safety administration, fire-related everyday words
    r"消防(?:验收|证|许可|审批|备案|检查|设施|设备|器材|通道|栓|演练|培训|知识|安全检查|队招聘|员招聘|车道)",
    r"防火(?:门|墙|涂料|检查|知识|宣传)?", r"灭火器", r"火灾(?:隐患|保险|险|调查|认定|赔偿|事故认定)",
    r"(?:烟雾|火灾|燃气|煤气|消防)?报警器", r"报警(?:系统|装置|电话是多少|电话多少)",
    r"火车(?:票|站)?", r"火锅", r"火腿", r"火葬", r"火化", r"火柴", r"打火机", r"火龙果", r"火爆", r"火气",
    r"上火", r"发火", r"红火", r"火热", r"火力发电", r"烟花爆竹", r"爆竹", r"冒烟的?烟囱",
    # first aid and numbers
    r"急救(?:培训|证|知识|课程|包|箱|站在哪|中心电话|电话是多少)", r"救护车(?:收费|费用|多少钱|的?费用|价格)",
    r"1[12]0(?:平方|平米|平|方|元|块|万|千伏|kv|号|路|米|斤|公斤|天|分)",
    r"110千伏|110kv",
    # crimes as past cases, or as topics of advice
    r"(?:抢劫|盗窃|诈骗|杀人|绑架|强奸)(?:案|罪|犯)", r"防(?:盗|骗|诈骗)", r"反诈",
    r"偷税", r"偷漏", r"偷工减料", r"打人的?事情", r"打架的?事情",
    # medical topics of insurance and advice
    r"心脏病(?:的)?(?:医保|报销|门诊|药)", r"中毒(?:性|的症状)",
]

# Triggers by service. Kept to phrases that describe something happening, not topics.
_TRIGGERS: dict[str, list[str]] = {
    FIRE: [
        r"着火", r"起火", r"失火", r"火灾", r"大火", r"火(?:很|好|太|特别)大", r"火势", r"烧(?:起来|着了|着)",
        r"冒(?:黑|浓|白)?烟", r"浓烟", r"烟(?:很|好|特别)大", r"(?:燃气|煤气|天然气|液化气)(?:泄漏|泄露|漏了|漏气)",
        r"漏气了", r"闻到(?:很浓的?)?(?:煤气|燃气|天然气)味", r"爆炸", r"炸了", r"(?:困在|关在)电梯", r"电梯(?:里)?(?:被困|困人|关人)",
        r"被困(?:在)?(?:屋里|楼上|房间|火)", r"(?:有人)?(?:落水|掉(?:进|到)?(?:河|江|湖|水)里)",
    ],
    POLICE: [
        r"抢劫", r"打劫", r"抢(?:钱|包|手机|东西|劫)", r"有(?:人|小偷)(?:在|正在)?偷", r"小偷", r"偷(?:我|东西)",
        r"入室", r"闯(?:进|入)(?:我|家|屋)", r"撬(?:门|锁|窗)", r"砍(?:人|伤|我)", r"杀人", r"要杀", r"行凶",
        r"(?:拿|持|拿着|带着)(?:刀|枪|棍|凶器)", r"(?:有人|他|她|他们)(?:在|正在)?打(?:我|人|架)", r"被(?:人)?打(?:了|伤)",
        r"打架", r"斗殴", r"绑架", r"劫持", r"强奸", r"非礼", r"性侵", r"(?:正在|在)家暴", r"家暴我", r"跟踪我", r"被跟踪",
        r"救命", r"我要报警", r"帮我报警", r"(?:刚|刚刚|正在)被骗", r"被骗了", r"跳楼", r"自杀", r"轻生", r"不想活",
    ],
    MEDICAL: [
        r"晕倒", r"昏倒", r"昏迷", r"不省人事", r"叫不醒", r"没(?:有)?(?:呼吸|心跳|气了)", r"心脏(?:病)?(?:发作|骤停|停了)",
        r"心梗", r"脑梗", r"中风", r"抽搐", r"口吐白沫", r"大出血", r"(?:流了|流)(?:很多|好多|一地|不少)血",
        r"血流不止", r"止不住血", r"喘不(?:上|过)气", r"呼吸困难", r"快不行了", r"(?:叫|派|要|快来)(?:一?辆)?救护车",
        r"救护车", r"(?:需要|要|快)急救", r"中毒了", r"(?:吃|喝)了(?:很多|一瓶|大量)?(?:安眠药|农药|老鼠药|毒药)",
        r"割腕", r"受了?重伤", r"伤得很重", r"骨折了", r"(?:要|快)生了", r"羊水破了", r"难产", r"撞(?:倒|伤)了?人",
        r"被车撞", r"车祸.{0,8}(?:受伤|流血|昏迷|不动|伤得)", r"溺水", r"(?:突然)?倒地不起", r"烫伤(?:很|得很)?严重",
    ],
}
_ORDER = (FIRE, POLICE, MEDICAL)

_NEGATION = re.compile(r"(?:没有|没|不是|并非|并没有|无|未|不会)$")
_HYPOTHETICAL = re.compile(r"(?:如果|假如|万一|要是|假设|防止|预防|避免|以防|怕|担心|遇到)")
_PAST = re.compile(r"(?:去年|前年|上次|上回|那次|以前|之前|上个月|上周|上星期|几年前|多年前|曾经|前几天|前段时间)")
_CONSULT = re.compile(r"(?:理赔|赔偿|报销|保险|收费|费用|多少钱|培训|课程|考试|证书|验收|审批|备案|补贴|补助|演练|"
                      r"预防|防范|宣传|知识|隐患|政策|规定|标准|怎么处罚|判决|判了|起诉|律师|投诉|举报电话|心理咨询)")
_URGENT = re.compile(r"(?:快(?!递|乐|餐|捷|速|件)|赶紧|赶快|马上|现在|正在|救命|救救|紧急|来人|帮帮我|快点|立刻)")
_SPACE = re.compile(r"\s+")
_PUNCT = re.compile(r"[^\w\u3400-\u9fff]+")

_MASK = re.compile("|".join(f"(?:{p})" for p in _NOT_EMERGENCY))
_TRIGGER_RE = {kind: re.compile("|".join(f"(?:{p})" for p in pats)) for kind, pats in _TRIGGERS.items()}


def normalize(text: str) -> str:
    text = unicodedata.normalize("NFKC", text or "").lower()
    text = _SPACE.sub("", text)
    return _PUNCT.sub("，", text)


def detect_emergency(text: str) -> str | None:
    """``"119"``, ``"110"`` or ``"120"`` when the transcript reports an emergency, else None."""
    found = classify(text)
    return found[0] if found else None


def classify(text: str) -> list[str]:
    """Every kind of emergency the transcript reports, most urgent service first."""
    norm = normalize(text)
    if not norm:
        return []
    masked = _MASK.sub(lambda m: "□" * len(m.group(0)), norm)
    urgent = bool(_URGENT.search(masked))
    if _CONSULT.search(masked) and not urgent:
        return []
    kinds = []
    for kind in _ORDER:
        for m in _TRIGGER_RE[kind].finditer(masked):
            if _counts(masked, m.start(), urgent):
                kinds.append(kind)
                break
    return kinds


def _counts(text: str, start: int, urgent: bool) -> bool:
    clause_start = max(text.rfind("，", 0, start) + 1, 0)
    before = text[clause_start:start]
    if _NEGATION.search(before[-4:] if len(before) > 4 else before):
        return False
    if _HYPOTHETICAL.search(before) and not urgent:
        return False
    if _PAST.search(before) and not urgent:
        return False
    return True
