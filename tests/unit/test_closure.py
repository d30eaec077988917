"""Closure reports are accepted only if specific (DESIGN §3.2); rejections name what is missing."""
from __future__ import annotations

import pytest

from tickets.closure import ELEMENTS, check_report, is_bare_citation

SPECIFIC = ("2026年11月26日上午10时，惠城区城市管理局江北中队执法人员到现场核查，发现该路段占道经营属实，"
            "当场责令摊主撤离并清理了现场，目前占道问题已解决。执法人员当日电话回复来电人，来电人表示满意。")
UNRESOLVED = ("11月26日，市水务集团维修人员上门检查，确认为主管道老化破裂。因需停水施工，暂时无法修复。"
              "目前已完成备料，计划于11月30日停水更换管道，已电话告知来电人，来电人表示理解。")
LABELLED = ("承办单位：市住房和城乡建设局\n办理时间：2026年11月27日\n办理方式：现场核查\n"
            "办理过程：约谈物业公司，责令其维修电梯\n办理结果：电梯已恢复正常运行\n"
            "答复内容：已电话向来电人反馈，来电人表示满意")


@pytest.mark.parametrize("report", [SPECIFIC, UNRESOLVED, LABELLED])
def test_specific_reports_are_accepted(report):
    check = check_report(report)
    assert check.ok, check.codes
    assert check.message_zh().startswith("办结报告内容具体")


def test_unresolved_report_is_recognised_and_needs_reason_progress_next_steps():
    assert not check_report(UNRESOLVED).resolved
    check = check_report("11月26日，市水务集团维修人员上门检查，暂时无法修复。已电话告知来电人。")
    assert not check.ok and not check.resolved
    assert {"reason", "progress", "next_steps"} <= set(check.codes)


@pytest.mark.parametrize("report", [
    "根据《XX条例》第X条规定，不属于我单位职责。",
    "根据《中华人民共和国道路交通安全法》第九十三条规定，该事项不属于我局职责范围，特此答复。",
    "依据《广东省物业管理条例》第六十条第二款及《物业管理条例》相关规定，该诉求不属于本单位受理范围。",
])
def test_bare_citations_are_rejected(report):
    assert is_bare_citation(report)
    check = check_report(report)
    assert not check.ok and check.codes[0] == "bare_citation"
    assert "仅引用法规条文" in check.message_zh() and "bare citation" in check.message_en()


def test_a_citation_inside_a_specific_report_is_fine():
    report = SPECIFIC + "依据《城市市容和环境卫生管理条例》第十四条，执法人员对摊主进行了批评教育。"
    assert not is_bare_citation(report)
    assert check_report(report).ok


def test_missing_elements_are_named_in_chinese_and_english():
    check = check_report("已处理。")
    assert not check.ok
    assert {"response", "unit", "time", "method", "actions"} <= set(check.codes)
    for element in check.missing:
        assert element.zh in check.message_zh() and element.en in check.message_en()


def test_empty_labels_count_for_nothing():
    check = check_report("承办单位：\n办理时间：\n办理方式：\n办理过程：\n办理结果：\n答复内容：")
    assert set(check.codes) == {"response", "unit", "time", "method", "actions", "result"}


def test_a_time_label_without_a_date_is_not_a_time():
    check = check_report(LABELLED.replace("2026年11月27日", "近期"))
    assert check.codes == ["time"]


def test_we_ourselves_are_not_a_unit():
    check = check_report(SPECIFIC.replace("惠城区城市管理局江北中队", "我局"))
    assert "unit" in check.codes


def test_the_ticket_unit_named_in_the_report_counts():
    report = SPECIFIC.replace("惠城区城市管理局江北中队", "江北城管")
    assert "unit" in check_report(report).codes
    assert check_report(report, unit_name="江北城管").ok


def test_empty_report_lacks_everything():
    assert check_report("").codes == ["response", "unit", "time", "method", "actions", "result"]
    assert set(ELEMENTS) >= set(check_report("").codes)
