"""Is a closure report (办结报告) specific enough to close the ticket?  (DESIGN §3.2)

A report must give the response to the citizen, the handling unit, the time and method of
handling, what was done and the result; if the matter is not fully resolved, also the
reason, the progress so far and the next steps.  A bare citation of regulations
("根据《XX条例》第X条规定，不属于我单位职责。") is rejected whatever else it says.

The check reads free text (or text with labels such as ``办理时间：``) with explicit
patterns, never a model, so a unit can always see why its report was refused: each missing
element comes back with a code, its Chinese name and an English one.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

_CN_NUM = "0-9０-９一二三四五六七八九十〇零两"


@dataclass(frozen=True)
class Element:
    code: str
    zh: str
    en: str


ELEMENTS = {e.code: e for e in (
    Element("response", "答复内容（向诉求人答复、反馈的情况）", "the response given to the citizen"),
    Element("unit", "承办单位", "the handling unit"),
    Element("time", "办理时间", "the time of handling"),
    Element("method", "办理方式（现场、电话、约谈等）", "the method of handling"),
    Element("actions", "办理过程（具体做了什么）", "what was done"),
    Element("result", "办理结果", "the result"),
    Element("reason", "未解决的原因", "why it is not fully resolved"),
    Element("progress", "目前进展", "the progress so far"),
    Element("next_steps", "下一步措施", "the next steps"),
    Element("bare_citation", "仅引用法规条文、未说明具体办理情况", "a bare citation of regulations"),
)}
BASE = ("response", "unit", "time", "method", "actions", "result")
UNRESOLVED_EXTRA = ("reason", "progress", "next_steps")

_LABELS = {
    "response": r"(?:答复|回复|反馈)(?:内容|情况|意见)?",
    "unit": r"(?:承办|办理|处理|责任)单位",
    "time": r"(?:办理|处理|处置|核查)时间",
    "method": r"(?:办理|处理|处置)方式",
    "actions": r"(?:办理|处理|处置)(?:过程|经过|情况)|采取(?:的)?措施",
    "result": r"(?:办理|处理|处置)结果",
    "reason": r"(?:未解决|未办结)?原因",
    "progress": r"(?:目前|当前)?进展|进度",
    "next_steps": r"下一步(?:措施|计划|工作)?|后续(?:措施|安排)",
}
_LABEL_AT = re.compile(r"(?:^|[\n；;。【\[])\s*(?:[一二三四五六七八九十0-9]+[、.．)]\s*)?【?\s*(%s)\s*】?\s*[:：]"
                       % "|".join(f"(?P<{k}>{v})" for k, v in _LABELS.items()))

_PARTY = r"(?:市民|来电人|来电市民|诉求人|反映人|投诉人|举报人|当事人|群众|居民|业主|咨询人|您)"
_PATTERNS = {
    "response": [
        rf"(?:向|与|给|对){_PARTY}[^。；\n]{{0,24}}(?:答复|回复|反馈|解释|说明|告知|沟通|回访)",
        rf"(?:答复|回复|反馈|告知|回访){_PARTY}",
        rf"{_PARTY}[^。；\n]{{0,6}}(?:表示|对此)(?:满意|认可|理解|接受|同意|不满意|不认可)",
        rf"经与{_PARTY}[^。；\n]{{0,10}}(?:联系|沟通)",
    ],
    "unit": [],       # see _UNIT
    "time": [
        rf"[{_CN_NUM}]{{2,4}}\s*年\s*[{_CN_NUM}]{{1,2}}\s*月(?:\s*[{_CN_NUM}]{{1,3}}\s*[日号])?",
        rf"[{_CN_NUM}]{{1,2}}\s*月\s*[{_CN_NUM}]{{1,3}}\s*[日号]",
        r"\d{4}[-/.]\d{1,2}[-/.]\d{1,2}",
        r"\d{1,2}[:：]\d{2}",
        rf"(?:上午|下午|晚上|当晚|凌晨)\s*[{_CN_NUM}]{{1,3}}\s*[时点]",
    ],
    "method": [
        r"现场|实地|上门|入户|电话|约谈|走访|座谈|面谈|书面|短信|微信|视频|会商|联合执法|执法检查|"
        r"勘查|勘察|检测|调取|查阅|调查|核查|暗访|网上|线上",
    ],
    "actions": [
        r"安排|组织|派员|派出|责令|督促|协调|维修|修复|修理|更换|清理|清运|疏通|拆除|整改|查处|立案|处罚|罚款|"
        r"调解|约谈|核实|检查|排查|补办|办理了|发放|退还|退款|恢复|安装|加装|设置|张贴|封堵|制止|暂扣|没收|"
        r"下达|送达|开具|联系了|告知了|补缴|复查|回填|铺设|硬化|消杀|巡查|处置",
    ],
    "result": [
        r"结果",
        r"(?:已|现已|均已|目前已|已经|得到|予以|获得)(?:全部|基本|妥善|彻底|及时)?(?:解决|完成|修复|恢复|办结|办理完毕|处理完毕|"
        r"整改完毕|整改到位|清理完毕|清运完毕|退还|发放|到位|落实|消除|停止|拆除|疏通|开通|恢复正常|补办|领取|处理)",
        r"恢复正常|问题(?:已|得到)|已无|不再|表示(?:满意|认可|理解|接受)",
    ],
    "reason": [r"原因|因为|由于|鉴于|受[^。；\n]{1,12}影响|因[^此而][^。；\n]{1,20}(?:暂|无法|未|不能|需)"],
    "progress": [r"目前|当前|现阶段|进展|进度|截至|已完成|正在|已启动|已进场|已开展|已立项|已上报|已列入"],
    "next_steps": [r"下一步|下步|后续|将(?:于|在|会|继续|尽快|持续|适时|及时|跟进|安排|组织|督促)|计划|预计|拟|争取|跟进|持续关注"],
}
# an organisation's name: some characters then a suffix; "我局", "本单位" name nobody
_UNIT = re.compile(
    r"([\u4e00-\u9fff]{2,24}?)(委员会|办公室|办事处|街道办|街道|人民政府|镇政府|乡政府|中心|公司|大队|中队|支队|"
    r"分局|管理处|管理所|管理站|服务站|居委会|村委会|社区|派出所|供电所|医院|卫生院|学校|集团|监督所|"
    r"局|委(?![屈托婉员])|厅|署)")
_PRONOUN = "我本贵该此其"
_UNRESOLVED = re.compile(
    r"未(?:能|完全|彻底)?(?:解决|办结|完成|落实)|尚未|暂未|暂不|暂时无法|暂时不能|无法(?:解决|办理|满足|实现|一次性)|"
    r"部分解决|基本解决|仍(?:在|需|未|有)|正在(?:办理|处理|协调|施工|推进|实施)|待[^。；\n]{1,16}后|"
    r"(?:是否解决|解决情况)[:：]\s*(?:否|未解决|部分)")

_CITATION = re.compile(rf"《[^》]{{1,60}}》(?:\s*第\s*[{_CN_NUM}百千]+\s*条(?:\s*第\s*[{_CN_NUM}百]+\s*[款项])*)*"
                       rf"|第\s*[{_CN_NUM}百千]+\s*条(?:\s*第\s*[{_CN_NUM}百]+\s*[款项])*")
_BOILERPLATE = re.compile(
    r"根据|依据|依照|按照|参照|相关|有关|法律|法规|规章|条例|规定|办法|的|之|等|我单位|本单位|我局|本局|我委|本部门|"
    r"该事项|此事项|该诉求|此诉求|诉求|来电|反映|问题|事项|不属于|不在|职责|职能|管辖|范围|受理|不予|予以|无权|"
    r"处理|办理|特此|答复|回复|请|知悉|说明|谢谢|如下|经查|经研究|内容|属于|之内|以内|以外|之外|范畴|权限|明确|"
    r"应当|应由|由|负责|为|是|其|均|已|对|中|所|和|与|及|或|并|且|故|因此|所以|关于")
_CJK = re.compile(r"[\u4e00-\u9fff0-9A-Za-z]")


@dataclass(frozen=True)
class ClosureCheck:
    ok: bool
    resolved: bool
    missing: tuple[Element, ...]

    @property
    def codes(self) -> list[str]:
        return [e.code for e in self.missing]

    def message_zh(self) -> str:
        if self.ok:
            return "办结报告内容具体，予以接收。"
        return "办结报告不具体，不予接收。缺少：" + "；".join(e.zh for e in self.missing) + "。"

    def message_en(self) -> str:
        if self.ok:
            return "The closure report is specific and accepted."
        return "The closure report is not specific; missing: " + "; ".join(e.en for e in self.missing) + "."


def _labelled(text: str) -> dict[str, str]:
    """Content after each label, up to the next label; empty labels give empty content."""
    found: dict[str, str] = {}
    matches = list(_LABEL_AT.finditer(text))
    for i, m in enumerate(matches):
        code = next(k for k in _LABELS if m.group(k))
        end = matches[i + 1].start() if i + 1 < len(matches) else len(text)
        content = text[m.end():end].strip(" \t\n；;。【】[]")
        found[code] = (found.get(code, "") + " " + content).strip()
    return found


def is_bare_citation(text: str) -> bool:
    """A report that only cites rules (and says it is not our duty) without any facts."""
    if not _CITATION.search(text) and not re.search(r"(?:根据|依据|按照|依照)[^。]{0,40}规定", text):
        return False
    rest = _CITATION.sub("", text)
    rest = _BOILERPLATE.sub("", rest)
    return len(_CJK.findall(rest)) < 12


def _present(code: str, text: str, labels: dict[str, str], unit_name: str | None) -> bool:
    if code in labels and len(_CJK.findall(labels[code])) >= 2:
        if code != "time":
            return True
        return any(re.search(p, labels[code]) for p in _PATTERNS["time"])
    if code == "unit":
        if unit_name and unit_name in text:
            return True
        return any(m.group(1)[-1] not in _PRONOUN for m in _UNIT.finditer(text))
    return any(re.search(p, text) for p in _PATTERNS[code])


def check_report(text: str, *, unit_name: str | None = None) -> ClosureCheck:
    """The elements a closure report lacks (empty when it may be accepted)."""
    text = (text or "").strip()
    labels = _labelled(text)
    resolved = not _UNRESOLVED.search(text)
    needed = BASE + (() if resolved else UNRESOLVED_EXTRA)
    # an element's own label text ("办理结果：") must not count as that element
    body = _LABEL_AT.sub("\n", text)
    missing = [ELEMENTS[c] for c in needed if not _present(c, body, labels, unit_name)]
    if text and is_bare_citation(text):
        missing.insert(0, ELEMENTS["bare_citation"])
    if not text:
        missing = [ELEMENTS[c] for c in needed]
    return ClosureCheck(ok=not missing, resolved=resolved, missing=tuple(missing))
