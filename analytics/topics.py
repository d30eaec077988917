"""The topic of a request (话题): the first topic whose keyword occurs in its text.

A small, explainable dictionary: ``topic_of`` (Python) and ``topic_expr`` (a SQL ``CASE`` the
database evaluates, for reports over millions of tickets) give the same answer for the same text:
the *first* topic in :data:`TOPICS` with a keyword that occurs in the text; '' when none does.
The text of a ticket is its content, or its transcript when no content was written.
"""
from __future__ import annotations

from sqlalchemy import case, func, literal
from sqlalchemy.sql.elements import ColumnElement

# (topic, keywords); order matters: the first topic that matches wins
TOPICS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("停水", ("停水", "断水", "没水", "没有水", "不来水", "水压低", "水压小")),
    ("停电", ("停电", "断电", "没电", "没有电", "跳闸")),
    ("燃气", ("燃气", "煤气", "天然气", "漏气")),
    ("噪声扰民", ("噪音", "噪声", "扰民", "太吵", "很吵")),
    ("污水内涝", ("积水", "内涝", "污水", "下水道", "排水")),
    ("环境卫生", ("垃圾", "恶臭", "臭味", "油烟", "卫生")),
    ("道路设施", ("路灯", "井盖", "坑洼", "路面", "破损")),
    ("交通出行", ("红绿灯", "信号灯", "堵车", "拥堵", "违停", "停车", "公交", "地铁", "出租车", "网约车")),
    ("物业管理", ("物业", "业委会", "电梯")),
    ("违建占道", ("违建", "违章建筑", "占道", "摆摊", "乱搭")),
    ("劳动工资", ("工资", "欠薪", "拖欠", "劳动合同", "加班费")),
    ("社保医保", ("社保", "社会保障卡", "医保", "养老保险", "失业金")),
    ("住房公积金", ("公积金",)),
    ("户籍证件", ("户口", "户籍", "身份证", "居住证", "护照", "港澳通行证")),
    ("教育入学", ("入学", "学位", "学校", "幼儿园", "招生")),
    ("医疗卫生", ("医院", "看病", "疫苗", "门诊")),
    ("市场消费", ("退款", "价格", "假冒", "过期", "食品安全", "消费")),
    ("房屋住建", ("房屋", "购房", "交房", "房产证", "不动产")),
)

TOPIC_NAMES: tuple[str, ...] = tuple(t for t, _ in TOPICS)


def request_text(content: str | None, transcript: str | None) -> str:
    """What a ticket is about: its content, or its transcript when no content was written."""
    return content or transcript or ""


def topic_of(text: str) -> str:
    """The first topic with a keyword in ``text``; '' when none."""
    for topic, words in TOPICS:
        if any(w in text for w in words):
            return topic
    return ""


def text_expr(content, transcript) -> ColumnElement:
    """SQL form of :func:`request_text`."""
    return case((content != "", content), else_=transcript)


def contains(text: ColumnElement, word: str, dialect: str) -> ColumnElement:
    """``word`` occurs in ``text`` (a plain substring test, no pattern characters)."""
    if dialect == "postgresql":
        return func.strpos(text, literal(word)) > 0
    return func.instr(text, literal(word)) > 0


def topic_expr(content, transcript, dialect: str) -> ColumnElement:
    """SQL form of :func:`topic_of` over a ticket's columns ('' when no topic matches)."""
    text = text_expr(content, transcript)
    whens = []
    for topic, words in TOPICS:
        cond = contains(text, words[0], dialect)
        for w in words[1:]:
            cond = cond | contains(text, w, dialect)
        whens.append((cond, literal(topic)))
    return case(*whens, else_=literal(""))


def topic_condition(content, transcript, topic: str, dialect: str) -> ColumnElement:
    """SQL: the text's topic is ``topic`` (it has one of its keywords and none of an earlier topic's)."""
    text = text_expr(content, transcript)
    cond = None
    for name, words in TOPICS:
        hit = contains(text, words[0], dialect)
        for w in words[1:]:
            hit = hit | contains(text, w, dialect)
        if name == topic:
            return hit if cond is None else (hit & cond)
        cond = ~hit if cond is None else (cond & ~hit)
    raise ValueError(f"unknown topic {topic!r}")
