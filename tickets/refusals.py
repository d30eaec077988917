"""不予受理: the matters the hotline does not accept (DESIGN §3.2), each with its reason code
and the script an agent reads to the caller."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Refusal:
    code: str
    zh: str            # the reason, as recorded on the ticket
    en: str
    script: str        # read to the caller; {ticket} is the existing ticket number where relevant


REFUSALS: dict[str, Refusal] = {r.code: r for r in (
    Refusal(
        "outside_jurisdiction", "不属于本市管辖范围", "outside the city's jurisdiction",
        "您好，您反映的事项不属于本市行政区域或本市政府部门的管辖范围，12345热线无法受理。"
        "建议您向事项发生地的政务服务便民热线或有管辖权的部门反映。感谢您的来电。"),
    Refusal(
        "legal_procedure", "已进入诉讼、仲裁、纪检监察、行政复议、政府信息公开等法定程序",
        "already in litigation, arbitration, discipline inspection, administrative review or "
        "information-disclosure procedures",
        "您好，您反映的事项已经进入诉讼、仲裁、纪检监察、行政复议或政府信息公开等法定程序，"
        "依照规定应当通过该程序依法处理，12345热线不再受理。请您继续通过原渠道关注办理进展。感谢您的理解。"),
    Refusal(
        "petition", "已进入信访渠道", "already in the petition (信访) channel",
        "您好，您反映的事项已经通过信访渠道提出并正在依法处理，为避免重复办理，12345热线不再另行受理。"
        "请您通过信访部门查询办理情况。感谢您的理解。"),
    Refusal(
        "confidential", "涉及国家秘密、商业秘密或个人隐私", "state secrets, trade secrets or personal privacy",
        "您好，您所要求的内容涉及国家秘密、商业秘密或他人个人隐私，依照法律规定不能通过热线受理或提供。"
        "如您是权利人本人，请携带有效证件到有关部门依法申请。感谢您的理解。"),
    Refusal(
        "unlawful_or_no_substance", "违反法律法规、骚扰或无实质诉求内容",
        "unlawful, harassing or without substance",
        "您好，您的来电没有具体的诉求内容，或者所提要求违反法律法规，12345热线无法受理。"
        "如您有需要政府部门办理的具体事项，欢迎再次来电说明。请文明使用热线，谢谢合作。"),
    Refusal(
        "repeat_no_new_facts", "重复反映正在办理或已办结且无新情况、新理由的事项",
        "a repeat of a matter in progress or already handled, with no new facts",
        "您好，您反映的事项已经登记受理，工单号为{ticket}，正在办理或已经办结答复。"
        "您本次反映没有新的情况和理由，热线不再重复登记。您可以通过工单号查询办理进展。感谢您的来电。"),
)}


def get(code: str) -> Refusal:
    try:
        return REFUSALS[code]
    except KeyError:
        raise ValueError(f"unknown refusal code {code!r}; one of: {', '.join(REFUSALS)}") from None


def script_for(code: str, ticket: str | None = None) -> str:
    """The script for ``code``; the existing ticket number is read digit by digit where it appears."""
    refusal = get(code)
    spoken = " ".join(ticket) if ticket else "（请告知原工单号）"
    return refusal.script.format(ticket=spoken)
