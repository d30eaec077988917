"""Routing decisions (issue 6), pure: queue by language and skill, staffed hours on the holiday-aware
calendar (holidays and 调休 make-up days), overflow, priority, unknown state; language choice,
including the caller's history from the calls table."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from core.config import staffed_hours_problem
from routing import decide as D
from routing.hours import HoursError, StaffedHours, hours_table
from routing.state import QueueState, state_from_summary
from workcal.calendar import WorkCalendar
from workcal.schedule import OfficialSchedule

SH = ZoneInfo("Asia/Shanghai")
QUEUES = {"cmn": "hotline-cmn", "yue": "hotline-yue", "hak": "hotline-hak", "cmn.tax": "hotline-tax"}
CAL = WorkCalendar()
FREE = QueueState(available=2, callers=0, longest_wait_s=0, holdtime_s=10, talktime_s=200, logged_in=3)
BUSY = QueueState(available=0, callers=10, longest_wait_s=400, holdtime_s=90, talktime_s=300, logged_in=5)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SH)


ALL_FREE = object()


def route(language="cmn", *, now="2026-11-25T10:00", states=ALL_FREE, hours=None, overflow=180, priority=False,
          skill=None, calendar=CAL):
    if states is ALL_FREE:
        states = {q: FREE for q in QUEUES.values()}
    return D.decide(language=language, queues=QUEUES, default_language="cmn", states=states,
                    hours=hours_table(hours or {}), calendar=calendar, now=at(now) if isinstance(now, str) else now,
                    zone=SH, overflow_wait_s=overflow, priority=priority, priority_level=10, skill=skill)


# -- queue by language and skill ------------------------------------------------------------

@pytest.mark.parametrize("language,skill,queue", [
    ("cmn", None, "hotline-cmn"), ("yue", None, "hotline-yue"), ("hak", None, "hotline-hak"),
    ("xx", None, "hotline-cmn"),                       # unknown language: the default's queue
    ("cmn", "tax", "hotline-tax"),                     # a configured skill queue
    ("yue", "tax", "hotline-yue"),                     # skill not configured for Cantonese
])
def test_queue_by_language_and_skill(language, skill, queue):
    r = route(language, skill=skill)
    assert (r.queue, r.offer, r.priority, r.reason) == (queue, None, 0, D.STAFFED)
    assert r.estimated_wait_s == 0


# -- staffed hours on the holiday-aware calendar ---------------------------------------------

HAK_OFFICE = {"hotline-hak": "workdays 08:30-17:30", "hotline-cmn": "workdays 08:00-20:00"}


@pytest.mark.parametrize("moment,open_", [
    ("2026-11-25T10:00", True),       # an ordinary Wednesday
    ("2026-11-25T08:29", False),      # before opening
    ("2026-11-25T08:30", True),       # opening minute
    ("2026-11-25T17:29", True),
    ("2026-11-25T17:30", False),      # the end is exclusive
    ("2026-11-28T10:00", False),      # an ordinary Saturday
    ("2026-10-01T10:00", False),      # National Day (Thursday): a holiday
    ("2026-10-05T10:00", False),      # Monday inside the Golden Week
    ("2026-09-20T10:00", True),       # Sunday made a working day (调休) before National Day
    ("2026-10-10T10:00", True),       # Saturday made a working day after it
    ("2026-09-25T10:00", False),      # Mid-autumn Festival (Friday)
])
def test_staffed_hours_follow_holidays_and_make_up_days(moment, open_):
    hours = StaffedHours.parse("workdays 08:30-17:30")
    assert hours.is_open(at(moment), CAL, SH) is open_


def test_hours_are_local_whatever_zone_now_is_given_in():
    hours = StaffedHours.parse("workdays 08:30-17:30")
    utc = datetime(2026, 11, 25, 0, 45, tzinfo=timezone.utc)          # 08:45 in Shanghai
    assert hours.is_open(utc, CAL, SH)
    assert not hours.is_open(utc - timedelta(minutes=30), CAL, SH)     # 08:15 in Shanghai


def test_restdays_and_several_windows():
    hours = StaffedHours.parse("workdays 08:30-12:00 13:30-17:30; restdays 09:00-12:00")
    assert hours.is_open(at("2026-11-25T11:59"), CAL, SH)
    assert not hours.is_open(at("2026-11-25T12:30"), CAL, SH)          # lunch
    assert hours.is_open(at("2026-10-01T10:00"), CAL, SH)              # a holiday is a rest day
    assert not hours.is_open(at("2026-10-01T14:00"), CAL, SH)
    assert hours.is_open(at("2026-09-20T14:00"), CAL, SH)              # make-up Sunday: workday hours
    assert not hours.is_open(at("2026-09-20T12:30"), CAL, SH)
    always, never = StaffedHours.parse("always"), StaffedHours.parse("never")
    assert always.is_open(at("2026-10-01T03:00"), CAL, SH) and not never.is_open(at("2026-11-25T10:00"), CAL, SH)
    assert StaffedHours.parse("daily 00:00-24:00").is_open(at("2026-10-01T23:59"), CAL, SH)


def test_a_loaded_official_schedule_decides_a_year_the_package_does_not_know():
    # 2027: suppose the State Council makes Saturday 2027-02-20 a working day and 2027-02-15 (Mon) a holiday
    loaded = WorkCalendar([OfficialSchedule(2027, "test notice", holidays={date(2027, 2, 15): "春节"},
                                            workdays={date(2027, 2, 20): "春节调休上班"})])
    hours = StaffedHours.parse("workdays 08:30-17:30")
    assert hours.is_open(at("2027-02-20T10:00"), loaded, SH)
    assert not hours.is_open(at("2027-02-15T10:00"), loaded, SH)


def test_outside_its_hours_a_language_queue_falls_back_to_the_default_language():
    r = route("hak", now="2026-10-01T10:00", hours={"hotline-hak": "workdays 08:30-17:30"})
    assert (r.queue, r.offer) == ("hotline-cmn", None)                 # Mandarin is staffed always


def test_when_nobody_is_staffed_the_caller_is_offered_a_message_or_a_call_back():
    r = route("hak", now="2026-10-01T10:00", hours=HAK_OFFICE)
    assert (r.queue, r.offer, r.reason, r.staffed) == ("hotline-hak", D.OFFER_MESSAGE_OR_CALLBACK, D.CLOSED, False)
    night = route("cmn", now="2026-11-25T22:00", hours=HAK_OFFICE)
    assert night.offer == D.OFFER_MESSAGE_OR_CALLBACK and night.reason == D.CLOSED
    # closed even when the manager is unreachable: staffed hours are known without it
    assert route("cmn", now="2026-11-25T22:00", hours=HAK_OFFICE, states=None).reason == D.CLOSED
    # a make-up Sunday is a working day: staffed
    assert route("hak", now="2026-09-20T10:00", hours=HAK_OFFICE).offer is None


# -- live state: overflow, no agents, unknown -------------------------------------------------

def test_estimated_wait():
    assert D.estimated_wait_s(FREE) == 0
    # 10 waiting, none free, 5 agents, 300 s talks: (10 + 1) * 300 / 5
    assert D.estimated_wait_s(BUSY) == 660
    assert D.estimated_wait_s(BUSY, priority=True) == 60               # served first
    two_free_three_waiting = QueueState(2, 3, 30, 20, 120, 4)
    assert D.estimated_wait_s(two_free_three_waiting) == 60            # (3 - 2 + 1) * 120 / 4
    no_averages = QueueState(0, 2, 75, 40, 0, 2)                       # queue just started: no talk time yet
    assert D.estimated_wait_s(no_averages) == 75


def test_overflow_past_the_configured_wait_offers_a_message_or_a_call_back():
    states = {"hotline-cmn": BUSY}
    r = route(states=states, overflow=180)
    assert (r.queue, r.offer, r.reason, r.estimated_wait_s) == ("hotline-cmn", D.OFFER_MESSAGE_OR_CALLBACK,
                                                                D.OVERFLOW, 660)
    assert route(states=states, overflow=660).offer is None            # not past it
    assert route(states=states, overflow=0).offer is None              # 0 = never offer on overflow


def test_no_agent_logged_in_offers_at_once():
    empty = {"hotline-cmn": QueueState(available=0, callers=0, longest_wait_s=0, holdtime_s=0, logged_in=0)}
    r = route(states=empty)
    assert (r.offer, r.reason) == (D.OFFER_MESSAGE_OR_CALLBACK, D.NO_AGENTS)
    assert route(states=empty, priority=True).offer == D.OFFER_MESSAGE_OR_CALLBACK


@pytest.mark.parametrize("states", [None, {}, {"hotline-yue": FREE}])
def test_unknown_state_routes_to_the_queue_never_drops(states):
    r = route("cmn", states=states)
    assert (r.queue, r.offer, r.reason, r.estimated_wait_s) == ("hotline-cmn", None, D.STATE_UNKNOWN, None)


def test_priority_numbers_go_straight_to_a_person_ahead_in_the_queue():
    r = route(states={"hotline-cmn": BUSY}, priority=True)
    assert (r.queue, r.priority, r.offer, r.reason, r.estimated_wait_s) == ("hotline-cmn", 10, None, D.PRIORITY, 60)
    assert route(priority=True, states=None).priority == 10            # also when the state is unknown
    assert route(priority=False).priority == 0


def test_summary_events_become_queue_state():
    s = state_from_summary({"Queue": "q", "LoggedIn": "3", "Available": "1", "Callers": "4", "HoldTime": "35",
                            "TalkTime": "180", "LongestHoldTime": "120"})
    assert s == QueueState(available=1, callers=4, longest_wait_s=120, holdtime_s=35, talktime_s=180, logged_in=3)
    assert state_from_summary({"Available": "x"}).available == 0 and state_from_summary({}).logged_in is None


def test_now_must_be_aware():
    with pytest.raises(ValueError):
        D.decide(language="cmn", queues=QUEUES, default_language="cmn", states=None, hours={}, calendar=CAL,
                 now=datetime(2026, 11, 25, 10), zone=SH, overflow_wait_s=180)


# -- staffed-hours text: the engine and the settings check agree -------------------------------

@pytest.mark.parametrize("spec,ok", [
    ("always", True), ("never", True), ("workdays 08:30-17:30", True), ("daily 00:00-24:00", True),
    ("workdays 08:30-12:00 13:30-17:30; restdays 09:00-12:00", True),
    ("weekdays 08:00-17:00", False), ("workdays", False), ("workdays 17:30-08:30", False),
    ("workdays 8:30-17:30", False), ("workdays 08:30-24:01", False), ("", False), ("always 08:00-09:00", False),
])
def test_staffed_hours_grammar(spec, ok):
    assert (staffed_hours_problem(spec) is None) is ok
    if ok:
        StaffedHours.parse(spec)
    else:
        with pytest.raises(HoursError):
            StaffedHours.parse(spec)


# -- language: dialplan argument, history, prompt -----------------------------------------------

def test_language_choice_order():
    assert D.choose_language("yue", "hak", "cmn") == ("yue", D.FROM_DIALPLAN)
    assert D.choose_language(None, "hak", "cmn") == ("hak", D.FROM_HISTORY)
    assert D.choose_language(None, None, "cmn") == ("cmn", D.FROM_DEFAULT)
    assert D.choose_language(None, None, "cmn", prompt=True) == ("cmn", D.ASK)
    assert [D.language_from_key(k, "cmn") for k in ("1", "2", "3", "9", "")] == ["cmn", "yue", "hak", "cmn", "cmn"]


def _call(s, call_id, key, language, started):
    from callers.calls import open_call
    open_call(s, call_id=call_id, channel="fastagi", channel_ref=call_id, caller_key=key, caller_kind="mobile",
              caller_name="", dnid="12345", language=language, started_at=started)


def test_language_from_the_callers_history(database):
    from routing.language import language_from_history

    t0 = datetime(2026, 11, 1, 2, 0, tzinfo=timezone.utc)
    with database.session() as s:
        for i, lang in enumerate(["cmn", "yue", "yue", "hak"]):            # oldest first
            _call(s, f"c{i}", "13900001111", lang, t0 + timedelta(days=i))
        _call(s, "other", "13900002222", "hak", t0)
    with database.read_session() as s:
        # the last 3: hak, yue, yue → yue (the most frequent)
        assert language_from_history(s, "13900001111", calls=3) == "yue"
        # the last 2: hak, yue → tie: the most recent
        assert language_from_history(s, "13900001111", calls=2) == "hak"
        # the call in progress is not its own history
        assert language_from_history(s, "13900001111", calls=1, exclude_call_id="c3") == "yue"
        assert language_from_history(s, "13900009999") is None
        assert language_from_history(s, "", calls=3) is None
        assert language_from_history(s, "13900001111", calls=0) is None
