"""The weak-signal scan on synthetic streams: a real spike, a steady busy topic, noise."""
from __future__ import annotations

import random
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, insert, select

from analytics import signals
from analytics.models import ACKNOWLEDGED, CLOSED, SignalAlert, SignalAlertTicket
from analytics.signals import SignalConfig, find_clusters, poisson_tail, scan
from analytics.synthetic import noise, ticket_row
from analytics.topics import topic_of
from tickets.models import Ticket

NOW = datetime.fromisoformat("2026-03-10T10:00:00+08:00")
CFG = SignalConfig(window_minutes=60, baseline_days=14, min_count=5, ratio=3.0, similarity=0.35)
OUTAGE = ["江北街道停水了，一直没有来水", "我们小区停水好几个小时了", "麦地路附近突然停水，什么时候恢复供水",
          "水口东江花园停水三个小时了", "家里没水了，是不是停水了", "河南岸这边停水了，没有通知",
          "桥东片区停水，老人没水喝", "停水到现在还没恢复，怎么回事", "小金口又停水了"]


def _insert(db, rows) -> None:
    with db.session() as s:
        for i in range(0, len(rows), 5000):
            s.execute(insert(Ticket), rows[i:i + 5000])


def _ids(db, numbers) -> set[int]:
    with db.session() as s:
        return set(s.scalars(select(Ticket.id).where(Ticket.number.in_(numbers))))


def _alerts(db) -> list[SignalAlert]:
    with db.session() as s:
        return list(s.scalars(select(SignalAlert).order_by(SignalAlert.id)))


def _behind(db, alert_id: int) -> set[int]:
    with db.session() as s:
        return set(s.scalars(select(SignalAlertTicket.ticket_id).where(SignalAlertTicket.alert_id == alert_id)))


def _quiet_background(seed: int = 7) -> list[dict]:
    """Three weeks of random requests (~4 an hour city-wide) before the window; none in it."""
    rows = noise(random.Random(seed), NOW - timedelta(days=21), NOW - timedelta(hours=1), 21 * 24 * 4)
    return rows


def _spike(numbers_from: int, minutes: list[int], region: str = "惠城区") -> list[dict]:
    return [ticket_row(number=f"S{numbers_from + i:09d}", received_at=NOW - timedelta(minutes=m),
                       content=OUTAGE[(numbers_from + i) % len(OUTAGE)], region=region, kind="help")
            for i, m in enumerate(minutes)]


def test_poisson_tail():
    assert poisson_tail(0, 3.0) == 1.0
    assert poisson_tail(1, 0.0) == 0.0
    assert poisson_tail(1, 2.0) == pytest.approx(1 - 2.718281828 ** -2)
    assert poisson_tail(20, 20.0) == pytest.approx(0.5297, abs=1e-3)
    assert 0 < poisson_tail(6, 0.01) < 1e-12


def test_a_real_spike_raises_exactly_one_alert_with_its_tickets(sqlite_db):
    background = _quiet_background()
    spike = _spike(0, [55, 47, 40, 31, 22, 9])
    # unrelated requests in the window: other topics or other regions
    others = [ticket_row(number=f"O{i:09d}", received_at=NOW - timedelta(minutes=5 + 7 * i), content=text,
                         region=region)
              for i, (text, region) in enumerate([("社保卡丢了怎么补办", "惠城区"), ("博罗停水了", "博罗县"),
                                                   ("楼下噪音太大", "惠城区"), ("公积金怎么提取", "惠阳区")])]
    _insert(sqlite_db, background + spike + others)

    with sqlite_db.session() as s:
        result = scan(s, NOW, CFG)
    assert [d.cluster.key for d in result.detections] == ["惠城区|topic:停水"]
    det = result.detections[0]
    assert det.raised and det.count == 6 and det.expected < 0.1 and det.p_value < 1e-6
    alerts = _alerts(sqlite_db)
    assert len(alerts) == 1
    alert = alerts[0]
    assert alert.state == "open" and alert.region == "惠城区" and alert.topic == "停水"
    assert alert.ticket_count == 6 and alert.label == "惠城区 · 停水"
    assert _behind(sqlite_db, alert.id) == _ids(sqlite_db, [r["number"] for r in spike])

    # the same scan again changes nothing
    with sqlite_db.session() as s:
        again = scan(s, NOW, CFG)
    assert [d.added for d in again.detections] == [[]] and len(_alerts(sqlite_db)) == 1

    # more tickets join the spike: the same alert gets them, no new alert
    later = [ticket_row(number=f"L{i:09d}", received_at=NOW + timedelta(minutes=m), content=OUTAGE[i],
                        region="惠城区") for i, m in enumerate([3, 8, 14])]
    _insert(sqlite_db, later)
    with sqlite_db.session() as s:
        update = scan(s, NOW + timedelta(minutes=20), CFG)
    assert len(update.detections) == 1 and not update.detections[0].raised
    assert sorted(update.detections[0].added) == sorted(r["number"] for r in later)
    alerts = _alerts(sqlite_db)
    assert len(alerts) == 1 and alerts[0].ticket_count == 9 and alerts[0].peak_count == 7
    assert _behind(sqlite_db, alert.id) == _ids(sqlite_db, [r["number"] for r in spike + later])

    # an hour later the window holds only the later part of the spike, still unusual: same alert
    tail = _spike(20, [-30, -40, -50])
    _insert(sqlite_db, tail)
    with sqlite_db.session() as s:
        scan(s, NOW + timedelta(minutes=60), CFG)
    alerts = _alerts(sqlite_db)
    assert len(alerts) == 1 and alerts[0].ticket_count == 12


def test_acknowledged_alert_still_grows_and_closed_alert_tickets_raise_nothing(sqlite_db):
    _insert(sqlite_db, _quiet_background(3) + _spike(0, [50, 40, 30, 20, 10]))
    with sqlite_db.session() as s:
        first = scan(s, NOW, CFG)
        alert_id = first.detections[0].alert_id
        signals.set_state(s, alert_id, ACKNOWLEDGED, actor="admin1", now=NOW)
    _insert(sqlite_db, _spike(10, [-5]))
    with sqlite_db.session() as s:
        scan(s, NOW + timedelta(minutes=10), CFG)
    alerts = _alerts(sqlite_db)
    assert len(alerts) == 1 and alerts[0].state == ACKNOWLEDGED and alerts[0].ticket_count == 6
    with sqlite_db.session() as s:
        signals.set_state(s, alert_id, CLOSED, actor="admin1", now=NOW + timedelta(minutes=11), note="已恢复供水")
        with pytest.raises(ValueError):
            signals.set_state(s, alert_id, ACKNOWLEDGED, actor="admin1", now=NOW)
    with sqlite_db.session() as s:
        after = scan(s, NOW + timedelta(minutes=12), CFG)
    assert after.detections == [] and len(_alerts(sqlite_db)) == 1


def test_a_steady_busy_topic_raises_nothing(sqlite_db):
    rng = random.Random(11)
    rows = []
    start = NOW - timedelta(days=15)
    texts = {"社保": ["社保卡丢了怎么补办", "社保卡怎么激活", "社保缴费基数是多少", "异地社保怎么转移"],
             "dog": ["东江公园门口流浪狗很多，晚上不敢散步", "公园里流浪狗追着小孩跑", "流浪狗在东江公园咬人了"]}
    for hour in range(15 * 24 + 1):
        for key, region in (("社保", "惠城区"), ("dog", "惠阳区")):
            for _ in range(20):                          # 20 an hour, every hour, for two weeks
                at = start + timedelta(hours=hour, seconds=rng.random() * 3600)
                rows.append(ticket_row(number=f"{key[:1]}{len(rows):09d}", received_at=at,
                                       content=rng.choice(texts[key]), region=region))
    assert topic_of(texts["dog"][0]) == ""              # the second one is clustered by text alone
    _insert(sqlite_db, rows)
    for minutes in (0, 10, 20, 30):
        with sqlite_db.session() as s:
            result = scan(s, NOW + timedelta(minutes=minutes), CFG)
        assert result.tickets >= 30 and result.detections == []
    assert _alerts(sqlite_db) == []


def test_a_spike_without_a_topic_is_found_by_text_similarity(sqlite_db):
    texts = ["东江公园门口流浪狗咬人了", "东江公园有条流浪狗咬伤小孩", "流浪狗在东江公园追人",
             "东江公园流浪狗太多了很危险", "东江公园门口又有流浪狗咬人", "东江公园的流浪狗没人管"]
    spike = [ticket_row(number=f"D{i:09d}", received_at=NOW - timedelta(minutes=50 - 8 * i), content=t,
                        region="惠城区") for i, t in enumerate(texts)]
    _insert(sqlite_db, _quiet_background(5) + spike)
    with sqlite_db.session() as s:
        result = scan(s, NOW, CFG)
    assert len(result.detections) == 1
    det = result.detections[0]
    assert det.cluster.topic == "" and {"东江", "流浪狗"} <= set(det.cluster.terms)
    assert _behind(sqlite_db, det.alert_id) == _ids(sqlite_db, [r["number"] for r in spike])


def test_random_noise_raises_nothing(sqlite_db):
    rows = noise(random.Random(2026), NOW - timedelta(days=15), NOW + timedelta(hours=6), (15 * 24 + 6) * 60)
    _insert(sqlite_db, rows)                            # 60 an hour, random requests and regions
    for minutes in range(0, 360, 30):
        with sqlite_db.session() as s:
            result = scan(s, NOW + timedelta(minutes=minutes), CFG)
        assert result.tickets > 30
        assert result.detections == [], [d.as_json() for d in result.detections]
    with sqlite_db.session() as s:
        assert s.scalar(select(func.count()).select_from(SignalAlert)) == 0


def test_clusters_are_by_region_then_topic_then_text():
    docs = []
    for i, (text, region) in enumerate([("江北停水了", "惠城区"), ("小区停水", "惠城区"), ("停水了", "惠阳区"),
                                        ("东江公园流浪狗咬人", "惠城区"), ("流浪狗咬人东江公园", "惠城区"),
                                        ("建议多种树", "惠城区")]):
        from analytics import text as tx
        docs.append(signals.Doc(i, str(i), NOW, region, text, topic_of(text), tx.vector(text)))
    clusters = find_clusters(docs, 0.35)
    got = sorted((c.region, c.topic, [d.ticket_id for d in c.docs]) for c in clusters)
    assert got == [("惠城区", "", [3, 4]), ("惠城区", "", [5]), ("惠城区", "停水", [0, 1]), ("惠阳区", "停水", [2])]


def test_cli_signals_run_ack_close(sqlite_db, monkeypatch, capsys):
    import json as _json

    from core.clock import utcnow
    from hotline.cli import main

    now = utcnow()
    rows = [ticket_row(number=f"C{i:09d}", received_at=now - timedelta(minutes=5 + 9 * i), content=OUTAGE[i],
                       region="惠东县") for i in range(6)]
    _insert(sqlite_db, rows)
    monkeypatch.setenv("HOTLINE_DATABASE_URL", sqlite_db.url)
    assert main(["report", "signals", "--run", "--json"]) == 0
    data = _json.loads(capsys.readouterr().out)
    assert len(data["scan"]["detections"]) == 1 and data["scan"]["detections"][0]["raised"]
    [alert] = data["alerts"]
    assert alert["label"] == "惠东县 · 停水" and alert["tickets"] == 6 and len(alert["ticket_list"]) == 6
    assert main(["report", "signals", "--ack", str(alert["id"]), "--actor", "duty-officer"]) == 0
    assert "acknowledged" in capsys.readouterr().out
    assert main(["report", "signals", "--close", str(alert["id"]), "--actor", "duty-officer", "--note", "已处置"]) == 0
    assert "no alerts" in capsys.readouterr().out
    assert main(["report", "signals", "--all", "--json"]) == 0
    assert _json.loads(capsys.readouterr().out)["alerts"][0]["closed_by"] == "duty-officer"
    assert main(["report", "signals", "--close", "999"]) == 2


def test_settings_are_validated():
    from core.config import ConfigError, load_settings

    s = load_settings(env={"HOTLINE_SIGNAL_WINDOW_MINUTES": "30", "HOTLINE_SIGNAL_RATIO": "4"})
    cfg = SignalConfig.from_settings(s)
    assert (cfg.window_minutes, cfg.ratio, cfg.baseline_days, cfg.min_count) == (30, 4.0, 14, 5)
    for name, value in [("SIGNAL_RATIO", "0.5"), ("SIGNAL_MIN_COUNT", "0"), ("SIGNAL_SIMILARITY", "0"),
                        ("SIGNAL_MAX_P_VALUE", "2"), ("GAP_DAYS", "0"), ("SIGNAL_WINDOW_MINUTES", "20000")]:
        with pytest.raises(ConfigError):
            load_settings(env={f"HOTLINE_{name}": value})
    assert load_settings(env={"HOTLINE_EXPORT_PERSONAL_ROLES": "admin, auditor"}).export_personal_role_set == {
        "admin", "auditor"}
