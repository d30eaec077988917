"""Console test data: units, users of every role, tickets (some overdue), calls, blocks, the demo
knowledge base and leader sessions — written with the domain packages, as the engine would."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from blocklist import service as blocks
from callers.calls import CallOutcome, close_call, open_call
from knowledge.service import load_demo
from leader_desk import service as desk
from tickets import handling, service as tickets
from tickets.models import Unit
from web.console.users import add_user
from workcal.loader import calendar_from_db

PASSWORD = "Hotline-12345-pass"
USERS = {"admin.li": ("admin", None), "agent.zhao": ("agent", None), "leader.wang": ("leader", None),
         "unit.jtj": ("unit", "JTJ"), "unit.zjj": ("unit", "ZJJ")}
SCRIPT = "<script>alert('x')</script>"


@dataclass
class Seeded:
    tickets: dict[str, str] = field(default_factory=dict)    # name -> number
    calls: dict[str, str] = field(default_factory=dict)      # name -> call id


def add_units(s, now) -> None:
    for code, name, duties in (("JTJ", "市交通运输局", "公交,道路,出租车"),
                               ("ZJJ", "市住房和城乡建设局", "物业,房屋,施工"),
                               ("SWJ", "市生态环境局", "噪音,污染,排放")):
        s.add(Unit(code=code, name=name, region="", duties=duties, active=True, created_at=now))
    s.flush()


def add_users(s, now) -> None:
    for name, (role, unit) in USERS.items():
        add_user(s, name=name, role=role, password=PASSWORD, by="test", now=now, unit_code=unit)


def call(s, call_id: str, number: str, at: datetime, *, transcript: str = "", outcome: str = "handed_off",
         action: str | None = "queue", target: str | None = "hotline-cmn") -> str:
    open_call(s, call_id=call_id, channel="fastagi", channel_ref=call_id, caller_key=number, caller_kind="mobile",
              caller_name="", dnid="12345", language="cmn", started_at=at)
    close_call(s, call_id, CallOutcome(outcome=outcome, action=action, target=target, route=("start", "queue"),
                                       transcript=transcript), at + timedelta(seconds=40))
    return call_id


def seed(engine) -> Seeded:
    """Everything the pages show, relative to now."""
    db, settings = engine.db, engine.settings
    zone = settings.zone
    now = datetime.now(timezone.utc)
    out = Seeded()
    load_demo(db, now)
    with db.session() as s:
        add_units(s, now)
        add_users(s, now)
        cal = calendar_from_db(s)

        def ticket(name, kind, text, received, *, caller="13900001111", unit=None, **kw):
            created = tickets.create_ticket(s, kind=kind, content=text, received_at=received, zone=zone, calendar=cal,
                                            caller_key=caller, source="agent", actor="agent.zhao", unit=unit,
                                            days=settings.deadline_days, dedup=False, **kw)
            out.tickets[name] = created.ticket.number
            return created.ticket

        ticket("overdue", "complaint", "建设路公交站台顶棚破损漏雨，已经一个多月没人修。", now - timedelta(days=40), unit="JTJ")
        ticket("jtj_new", "help", "12路公交车早高峰班次太少，等车超过半小时。", now - timedelta(hours=3), unit="JTJ",
               caller="13800138000")
        ticket("zjj", "complaint", "小区物业夜间施工噪音扰民，希望尽快处理。", now - timedelta(days=2), unit="ZJJ")
        ticket("received", "suggestion", "建议在市民中心增设自助打印机。", now - timedelta(hours=1))
        reported = ticket("reported", "help", "人行道井盖缺失，存在安全隐患。", now - timedelta(days=5), unit="JTJ")
        handling.accept(s, reported.number, actor="unit.jtj", now=now - timedelta(days=4))
        handling.submit_report(s, reported.number, (
            "答复内容：已电话告知市民处理情况，市民表示满意。\n承办单位：市交通运输局\n"
            f"办理时间：{(now - timedelta(days=3)).astimezone(zone):%Y年%m月%d日}\n办理方式：现场核查\n"
            "办理过程：安排养护班组到现场更换井盖并设置警示标志。\n办理结果：井盖已更换，隐患已消除。"),
            actor="unit.jtj", now=now - timedelta(days=3))
        closed = tickets.record_self_service(s, caller_key="13700007777", call_id=None, question="社保卡丢了怎么补办",
                                             received_at=now - timedelta(hours=5), zone=zone, calendar=cal,
                                             answer="先挂失再补办", days=settings.deadline_days)
        out.tickets["closed"] = closed.number
        from tickets.followup import rate

        rate(s, closed.number, 2, now - timedelta(hours=4))
        out.calls["old"] = call(s, "c-old-0001", "13800138000", now - timedelta(days=3), transcript="上次反映的公交问题")
        out.calls["script"] = call(s, "c-script-0001", "13800138000", now - timedelta(minutes=20),
                                   transcript=f"{SCRIPT} 12路公交车太挤了，早上根本挤不上去")
        call(s, "c-self-0001", "13600006666", now - timedelta(hours=2), outcome="self_served", action=None, target=None)
        policy = blocks.Policy.from_settings(settings)
        blocks.add(s, policy, blocks.blockable_number("13911112222"), "insulting", "辱骂话务员，录音 1103-2",
                   by="admin.li", now=now - timedelta(days=2))
        blocks.propose(s, policy, blocks.blockable_number("13822223333"), "malicious_calls",
                       "一小时内拨打 40 次，均无诉求", by="agent.zhao", now=now - timedelta(hours=6))
        desk.add_leader(s, name="张三", title="局长", unit="市交通运输局", by="admin.li", now=now)
        desk.add_leader(s, name="李四", title="副局长", unit="市生态环境局", by="admin.li", now=now)
        desk.add_seat(s, name="seat1", dial_string="PJSIP/leader1", by="admin.li", now=now)
        today = now.astimezone(zone).date()
        desk.add_session(s, leader="张三", seat="seat1", day=today + timedelta(days=1), start="09:00", end="11:00",
                         topic="公交线路优化", by="admin.li", now=now, zone=zone)
        desk.add_session(s, leader="李四", seat="seat1", day=today + timedelta(days=3), start="14:30", end="16:30",
                         topic="夏季噪音治理", by="admin.li", now=now, zone=zone)
    return out
