"""Synthetic tickets and call records, as plain rows for bulk inserts (tests and benchmarks).

Rows carry every non-null column of ``tickets`` and ``calls``; nothing here goes through the
ticket lifecycle (no history, no numbers from the counter) — it is data for figures, not a
simulation of the desk.
"""
from __future__ import annotations

import random
from datetime import datetime, timedelta

REGIONS = ("惠城区", "惠阳区", "惠东县", "博罗县", "龙门县", "大亚湾开发区", "仲恺高新区")
PLACES = ("江北", "水口", "河南岸", "桥东", "小金口", "陈江", "淡水", "平山", "罗阳", "龙城")
# (topic-like requests, with variations), used for noise and volume
REQUESTS = (
    "{place}片区停水了，什么时候恢复供水", "{place}小区突然没水，家里做不了饭", "{place}一带停电好几个小时",
    "楼下烧烤店噪音太大，晚上睡不着", "{place}路口红绿灯坏了，车辆拥堵", "{place}菜市场周边垃圾没人清理",
    "社保卡丢了怎么补办", "公积金提取需要什么材料", "孩子入学学位申请怎么办理", "公司拖欠三个月工资",
    "{place}路面坑洼很多，电动车容易摔倒", "物业乱收停车费", "户口迁移需要带什么证件",
    "网购商品退款商家不处理", "{place}有一家餐馆油烟直排", "建议在{place}增设公交站点",
    "医保报销比例是多少", "举报{place}工地夜间违规施工", "{place}下水道堵塞污水外溢", "咨询不动产登记预约",
)


def ticket_row(*, number: str, received_at: datetime, content: str = "", kind: str = "consult",
               state: str = "received", region: str = "", unit_id: int | None = None,
               due: datetime | None = None, closed_at: datetime | None = None, rating: int | None = None,
               rated_at: datetime | None = None, transcript: str = "", caller_key: str = "",
               caller_name: str = "", source: str = "agent", tags: str = "", zone: str = "Asia/Shanghai",
               **extra) -> dict:
    """One ``tickets`` row (Core insert); ``due`` defaults to two days after receipt."""
    due = due or received_at + timedelta(days=2)
    row = dict(number=number, kind=kind, state=state, version=1, source=source, caller_key=caller_key,
               caller_name=caller_name, call_id=None, language="cmn", content=content, transcript=transcript,
               recording_path=None, unit_id=unit_id, region=region, tags=tags, received_at=received_at,
               zone=zone, working_days=2, due_date=due.date(), due=due, provisional=False, due_soon=False,
               overdue=False, review=bool(rating and rating >= 4), refusal_code=None, rating=rating,
               rated_at=rated_at, closed_at=closed_at, duplicate_of=None, repeats=0, updated_at=received_at)
    row.update(extra)
    return row


def call_row(*, id: str, started_at: datetime, outcome: str = "handed_off", action: str | None = "queue",
             agent_answered: bool | None = None, kb_result: str | None = None, kb_entry: str | None = None,
             kb_score: float | None = None, transcript: str = "", caller_key: str = "", rating: int | None = None,
             **extra) -> dict:
    """One ``calls`` row (Core insert), closed 90 s after it started."""
    row = dict(id=id, channel="fastagi", channel_ref=id, caller_key=caller_key, caller_kind="mobile",
               caller_name="", dnid="12345", language="cmn", started_at=started_at,
               ended_at=started_at + timedelta(seconds=90), outcome=outcome, action=action, target=None,
               route="", hangup_point=None, transcript=transcript, message_path=None, ticket_number=None,
               rating=rating, rated_at=None, notes="", kb_entry=kb_entry, kb_score=kb_score, kb_result=kb_result,
               agent_status=None, agent_answered=agent_answered)
    row.update(extra)
    return row


def request_text(rng: random.Random) -> str:
    return rng.choice(REQUESTS).format(place=rng.choice(PLACES))


def noise(rng: random.Random, start: datetime, end: datetime, n: int, *, prefix: str = "N") -> list[dict]:
    """``n`` tickets at random times in [start, end), random requests from random regions."""
    span = (end - start).total_seconds()
    rows = []
    for i in range(n):
        at = start + timedelta(seconds=rng.random() * span)
        rows.append(ticket_row(number=f"{prefix}{i:09d}", received_at=at, content=request_text(rng),
                               region=rng.choice(REGIONS)))
    return rows
