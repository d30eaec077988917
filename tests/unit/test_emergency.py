"""Emergency detection: fire → 119, crime in progress → 110, medical → 120; consultations are not emergencies."""
from __future__ import annotations

import pytest

from knowledge.emergency import classify, detect_emergency

FIRE = [
    "我家着火了",
    "快来人啊楼下起火了好多烟",
    "厨房煤气泄漏了怎么办",
    "隔壁仓库烧起来了",
    "楼道里冒黑烟",
    "工厂刚才爆炸了",
    "有人被困在电梯里出不来",
    "喂 你好 我 家 着火 了",          # a recogniser's spaces
    "那个，嗯，店里失火了！",
    "有人掉河里了",
]
POLICE = [
    "有人在抢劫",
    "有人拿刀在街上砍人",
    "有小偷正在撬我家门",
    "救命啊",
    "我被人打了",
    "我老公正在家暴我",
    "有个男的一直跟踪我",
    "我刚被骗了五万块钱",
    "有人要跳楼",
    "我要报警",
]
MEDICAL = [
    "我爸突然晕倒了",
    "有人昏迷不醒快叫救护车",
    "我妈喘不上气了",
    "孩子抽搐口吐白沫",
    "我老婆要生了羊水破了",
    "出车祸了有人受伤流了很多血",
    "老人倒地不起叫不醒",
    "他吃了一瓶安眠药",
    "我朋友心脏病发作了",
]
NOT_EMERGENCY = [
    "消防验收怎么办理",
    "消防证怎么办",
    "开店前的消防安全检查怎么申请",
    "小区消防通道被占用怎么反映",
    "小区有火灾隐患怎么投诉",
    "火车票怎么退",
    "附近有什么好吃的火锅",
    "急救培训在哪里报名",
    "烟雾报警器安装谁负责",
    "我家房子120平方契税多少",
    "120平米的房子能贷多少公积金",
    "110千伏高压线离我家太近了",
    "救护车收费标准是多少",
    "去年我家着火了保险怎么理赔",
    "上次晕倒住院的费用医保能报销吗",
    "心脏病的医保怎么报销",
    "抢劫案的判决结果什么时候出来",
    "如果家里着火了应该怎么逃生",
    "没有着火只是有点烧焦的味道",
    "打火机可以带上飞机吗",
    "我最近上火嗓子疼",
    "他脾气很火爆",
    "防火门坏了找谁修",
    "社保卡丢了怎么补办",
    "公积金怎么提取",
    "火灾保险怎么买",
    "我想咨询一下防诈骗的知识",
    "灭火器过期了去哪里换",
    "",
]


@pytest.mark.parametrize("text", FIRE)
def test_fire_goes_to_119(text):
    assert detect_emergency(text) == "119"


@pytest.mark.parametrize("text", POLICE)
def test_crime_in_progress_goes_to_110(text):
    assert detect_emergency(text) == "110"


@pytest.mark.parametrize("text", MEDICAL)
def test_medical_emergency_goes_to_120(text):
    assert detect_emergency(text) == "120"


@pytest.mark.parametrize("text", NOT_EMERGENCY)
def test_consultations_and_lookalikes_are_not_emergencies(text):
    assert detect_emergency(text) is None


def test_priority_fire_then_police_then_medical():
    assert detect_emergency("着火了有人受了重伤") == "119"
    assert detect_emergency("有人拿刀砍人流了很多血") == "110"
    assert classify("有人拿刀砍人流了很多血") == ["110", "120"]


def test_urgency_overrides_a_consultation_word():
    # "费用" reads like a consultation, but the caller says it is happening now
    assert detect_emergency("快来人着火了费用我出") == "119"


def test_none_and_whitespace():
    assert detect_emergency(None) is None
    assert detect_emergency("   ") is None
