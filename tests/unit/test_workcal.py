"""Working-day calendar and legal deadlines (DESIGN §3.2). Expected dates are worked out by hand
from the State Council notices (2026: 春节 2/15–2/23 with 2/14 and 2/28 worked; 中秋 9/25–27;
国庆 10/1–7 with 9/20 and 10/10 worked) and the holiday law, not by the code under test."""
from __future__ import annotations

import math
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import chinese_calendar as cc
import pytest

from core.config import ConfigError, load_settings
from workcal import holidays as law
from workcal.calendar import PACKAGE, STATUTORY, WorkCalendar
from workcal.deadlines import DEFAULT_DAYS, add_working_days, compute_deadline
from workcal.schedule import OfficialSchedule, ScheduleError, parse_schedule_text

SH = ZoneInfo("Asia/Shanghai")
CAL = WorkCalendar()


def due(kind: str, received: str, days=DEFAULT_DAYS):
    return compute_deadline(CAL, kind, datetime.fromisoformat(received), SH, days)


# --- deadlines -----------------------------------------------------------------------------

@pytest.mark.parametrize("kind,received,due_date", [
    # the two DESIGN examples (9/25 is itself the first day of the 中秋 break)
    ("complaint", "2026-09-25T10:00:00+08:00", "2026-10-22"),
    ("consult", "2026-09-30T10:00:00+08:00", "2026-10-09"),
    # Spring Festival 2026: Saturday 2/14 and Saturday 2/28 are working days
    ("consult", "2026-02-13T09:00:00+08:00", "2026-02-24"),
    ("help", "2026-02-12T09:00:00+08:00", "2026-03-04"),
    # National Day 2026: Sunday 9/20 and Saturday 10/10 are working days
    ("consult", "2026-09-18T17:00:00+08:00", "2026-09-21"),
    ("consult", "2026-10-09T17:00:00+08:00", "2026-10-12"),
    # received on a holiday: counting starts after the break
    ("consult", "2026-10-01T08:00:00+08:00", "2026-10-09"),
    ("complaint", "2026-10-03T08:00:00+08:00", "2026-10-27"),
    # an ordinary week
    ("suggestion", "2026-11-25T10:00:00+08:00", "2026-12-09"),
    ("report", "2026-11-25T10:00:00+08:00", "2026-12-16"),
])
def test_official_deadlines(kind, received, due_date):
    d = due(kind, received)
    assert d.due_date == date.fromisoformat(due_date)
    assert d.due == datetime.fromisoformat(due_date).replace(tzinfo=SH) + timedelta(days=1)
    assert d.due.isoformat().endswith("T00:00:00+08:00")
    assert d.provisional is False and d.working_days == DEFAULT_DAYS[kind]


def test_design_example_instant():
    assert due("complaint", "2026-09-25T10:00:00+08:00").due.isoformat() == "2026-10-23T00:00:00+08:00"


def test_receipt_at_2359_counts_that_day_as_the_receipt_day():
    late = due("consult", "2026-11-25T23:59:59+08:00")
    assert late.due_date == date(2026, 11, 27) and late.due.isoformat() == "2026-11-28T00:00:00+08:00"
    # one second later it is Thursday's receipt: Friday, then Monday
    assert due("consult", "2026-11-26T00:00:00+08:00").due_date == date(2026, 11, 30)


def test_server_in_utc_uses_the_local_day():
    # 16:30 UTC on 9/29 is 00:30 on 9/30 in Shanghai: the receipt day is 9/30
    d = due("consult", "2026-09-29T16:30:00+00:00")
    assert d.due_date == date(2026, 10, 9)
    assert d.due.astimezone(timezone.utc) == datetime(2026, 10, 9, 16, 0, tzinfo=timezone.utc)
    # 15:59 UTC is still 9/29 locally: 9/30, then 10/8 after the break
    assert due("consult", "2026-09-29T15:59:00+00:00").due_date == date(2026, 10, 8)


def test_year_end_into_2027_is_provisional():
    d = due("help", "2026-12-24T10:00:00+08:00")
    # 12/25, 12/28–31 (5), 2027-01-01 元旦 off, 1/4–1/8 (10)
    assert d.due_date == date(2027, 1, 8) and d.provisional is True
    assert due("consult", "2026-12-31T10:00:00+08:00").due_date == date(2027, 1, 5)
    # a span that stays inside 2026 is official even when received late in the year
    end = due("consult", "2026-12-29T10:00:00+08:00")
    assert end.due_date == date(2026, 12, 31) and end.provisional is False


def test_fallback_2027_spring_festival_and_national_day():
    # statutory only: 除夕 2/5 (Fri) and 初三 2/8 (Mon) are weekdays off
    assert due("consult", "2027-02-04T10:00:00+08:00").due_date == date(2027, 2, 10)
    # 10/1 Friday off, no make-up days guessed
    d = due("complaint", "2027-09-24T10:00:00+08:00")
    assert d.due_date == date(2027, 10, 18) and d.provisional


def test_configured_lengths():
    d = due("complaint", "2026-09-25T10:00:00+08:00", {**DEFAULT_DAYS, "complaint": 20})
    assert d.due_date == date(2026, 10, 29) and d.working_days == 20


@pytest.mark.parametrize("kind,received,message", [
    ("complain", datetime(2026, 9, 25, 10, tzinfo=SH), "unknown request kind 'complain'"),
    ("consult", datetime(2026, 9, 25, 10), "no time zone"),
])
def test_bad_input_is_refused(kind, received, message):
    with pytest.raises(ValueError, match=message):
        compute_deadline(CAL, kind, received, SH)


def test_add_working_days_contract():
    assert add_working_days(CAL, date(2026, 9, 30), 1) == (date(2026, 10, 8), False)
    assert add_working_days(CAL, date(2026, 12, 30), 1) == (date(2026, 12, 31), False)
    assert add_working_days(CAL, date(2026, 12, 31), 1) == (date(2027, 1, 4), True)
    # only the counted days matter: the receipt day's year may lack a schedule
    only_2027 = WorkCalendar([OfficialSchedule(year=2027, source="t", holidays={date(2027, 1, 1): "元旦"},
                                               workdays={})], use_package=False)
    assert not only_2027.official(2026)
    assert add_working_days(only_2027, date(2026, 12, 31), 1) == (date(2027, 1, 4), False)
    assert add_working_days(only_2027, date(2026, 12, 30), 1) == (date(2026, 12, 31), True)
    for bad in (0, -1, True):
        with pytest.raises(ValueError):
            add_working_days(CAL, date(2026, 9, 30), bad)


# --- the calendar's sources ----------------------------------------------------------------

def test_sources_in_priority():
    assert CAL.basis(2026) == PACKAGE and CAL.official(2026) and CAL.official(2004)
    assert CAL.basis(2027) == STATUTORY and not CAL.official(2027) and not CAL.official(2003)
    # a loaded schedule wins over the package, even for a year the package knows
    odd = OfficialSchedule(year=2026, source="test", holidays={date(2026, 11, 25): "x"},
                           workdays={date(2026, 11, 28): "y"})
    cal = WorkCalendar([odd])
    assert cal.basis(2026) == "loaded" and cal.official(2026)
    assert not cal.is_workday(date(2026, 11, 25)) and cal.is_workday(date(2026, 11, 28))
    assert cal.is_workday(date(2026, 10, 5))      # only what was loaded counts for 2026 now
    assert not CAL.is_workday(date(2026, 10, 5))


def test_year_view_of_each_source():
    v26 = CAL.year_view(2026)
    assert v26.official and v26.workdays[date(2026, 10, 10)].startswith("国庆")
    assert v26.holidays[date(2026, 2, 15)] == "春节"
    v27 = CAL.year_view(2027)
    assert v27.provisional and not v27.workdays and "2024年修订" in v27.source
    assert v27.as_json()["holidays"][0] == {"date": "2027-01-01", "name": "元旦"}


# --- the statutory fallback ----------------------------------------------------------------

ENGLISH = {"元旦": "New Year's Day", "春节": "Spring Festival", "清明节": "Tomb-sweeping Day",
           "劳动节": "Labour Day", "端午节": "Dragon Boat Festival", "中秋节": "Mid-autumn Festival",
           "国庆节": "National Day"}


@pytest.mark.parametrize("year", range(2004, 2027))
def test_every_statutory_day_is_an_official_holiday(year):
    for day, name in law.statutory_holidays(year).items():
        off, official_name = cc.get_holiday_detail(day)
        assert off, f"{day} ({name}) is a working day in the official {year} schedule"
        expected = {ENGLISH[n] for n in name.split("、")}
        # chinesecalendar leaves unnamed the weekend days it does not list
        assert official_name in expected or (official_name is None and day.weekday() >= 5), \
            (day, name, official_name)


def test_law_versions_matter():
    # 2014 and 2024: 除夕 was not a statutory holiday, and was worked
    for eve in (date(2014, 1, 30), date(2024, 2, 9)):
        assert eve not in law.statutory_holidays(eve.year) and cc.is_workday(eve)
    # 2012: May Day was one day; 5/2 was worked
    assert date(2012, 5, 2) not in law.statutory_holidays(2012) and cc.is_workday(date(2012, 5, 2))
    # from 2025: 除夕 and 5/2 are statutory; 13 days a year
    assert law.statutory_holidays(2025)[date(2025, 1, 28)] == "春节"
    assert date(2025, 5, 2) in law.statutory_holidays(2025)
    assert len(law.statutory_holidays(2030)) == 13
    with pytest.raises(ValueError, match="2000–2099"):
        law.statutory_holidays(2100)


def test_2027_and_2028_against_known_dates():
    assert law.new_years_eve(2027) == date(2027, 2, 5)
    assert law.chinese_new_year(2027) == date(2027, 2, 6)
    assert law.dragon_boat(2027) == date(2027, 6, 9)
    assert law.mid_autumn(2027) == date(2027, 9, 15)
    assert law.qingming(2027) == date(2027, 4, 5)
    assert law.chinese_new_year(2028) == date(2028, 1, 26)
    assert law.qingming(2028) == date(2028, 4, 4)
    assert sorted(law.statutory_holidays(2027)) == [
        date(2027, 1, 1), date(2027, 2, 5), date(2027, 2, 6), date(2027, 2, 7), date(2027, 2, 8),
        date(2027, 4, 5), date(2027, 5, 1), date(2027, 5, 2), date(2027, 6, 9), date(2027, 9, 15),
        date(2027, 10, 1), date(2027, 10, 2), date(2027, 10, 3)]
    assert law.statutory_holidays(2028)[date(2028, 10, 3)] == "中秋节、国庆节"


def _qingming_instant(year: int) -> datetime:
    """When the apparent solar longitude reaches 15° (Meeus, Astronomical Algorithms ch. 25)."""
    def longitude(moment: datetime) -> float:
        delta_t = 64 + 0.3 * (year - 2000) if year >= 1960 else 30.0   # TT − UT, seconds (rough)
        t = (moment.timestamp() + delta_t) / 86400 / 36525 + (2440587.5 - 2451545.0) / 36525
        m = math.radians(357.52911 + 35999.05029 * t)
        c = ((1.914602 - 0.004817 * t) * math.sin(m) + 0.019993 * math.sin(2 * m)
             + 0.000289 * math.sin(3 * m))
        omega = math.radians(125.04 - 1934.136 * t)
        return (280.46646 + 36000.76983 * t + c - 0.00569 - 0.00478 * math.sin(omega)) % 360
    lo, hi = datetime(year, 3, 30, tzinfo=timezone.utc), datetime(year, 4, 10, tzinfo=timezone.utc)
    while hi - lo > timedelta(seconds=1):
        mid = lo + (hi - lo) / 2
        lo, hi = (mid, hi) if longitude(mid) < 15 else (lo, mid)
    return lo


def test_qingming_formula_matches_astronomy_1900_2100():
    close_calls = 0
    for year in range(1900, 2101):
        local = _qingming_instant(year).astimezone(timezone(timedelta(hours=8)))
        minutes = local.hour * 60 + local.minute
        if minutes < 20 or minutes > 1420:      # within this model's error of midnight
            close_calls += 1
            continue
        assert law.qingming(year) == local.date(), (year, local)
    assert close_calls < 10


# --- schedule files ------------------------------------------------------------------------

GOOD = """year = 2027
source = "test notice"
[[holidays]]
date = 2027-10-01
name = "国庆节"
[[workdays]]
date = 2027-10-09
"""


def test_a_minimal_schedule_parses():
    s = parse_schedule_text(GOOD)
    assert s.holidays == {date(2027, 10, 1): "国庆节"} and s.workdays == {date(2027, 10, 9): "调休上班"}
    assert any("2027-02-05" in w for w in s.missing_statutory_days())


@pytest.mark.parametrize("text,message", [
    (GOOD.replace("2027-10-01", "2026-10-01"), "holidays[1] (line 3): 2026-10-01 is not in 2027"),
    (GOOD.replace("2027-10-09", "2027-10-01"), "2027-10-01 is both a holiday"),
    (GOOD.replace("2027-10-09", "2027-10-08"), "workdays[1] (line 6): 2027-10-08 is a Friday"),
    (GOOD.replace('source = "test notice"', ""), "'source' is required"),
    (GOOD.replace("[[holidays]]", "[[holiday]]"), "unknown key 'holiday'"),
    (GOOD.replace("date = 2027-10-01", "date = 2027-10-01\ndays = 3"), "holidays[1] (line 3): unknown key 'days'"),
    (GOOD.replace("date = 2027-10-01", 'date = "Oct 1"'), "is not a date"),
    (GOOD.replace("year = 2027", 'year = "2027"'), "'year' is required"),
    (GOOD + "[[holidays]]\nfrom = 2027-09-30\nto = 2027-10-02\nname = \"x\"\n",
     "holidays[2] (line 8): 2027-10-01 is already listed by holidays[1] (line 3)"),
    (GOOD.replace("name = \"国庆节\"", ""), "holidays[1] (line 3): 'name' is required"),
    ("year = 2027\nsource = \n", "not valid TOML"),
])
def test_bad_schedules_are_rejected_naming_the_entry(text, message):
    with pytest.raises(ScheduleError) as err:
        parse_schedule_text(text, "cal.toml")
    assert message in str(err.value) and str(err.value).startswith("cal.toml: schedule rejected")


# --- settings ------------------------------------------------------------------------------

def test_deadline_days_settings(tmp_path):
    assert load_settings(env={}).deadline_days == DEFAULT_DAYS
    cfg = tmp_path / "c.toml"
    cfg.write_text("[hotline.deadline_days]\ncomplaint = 20\n")
    s = load_settings(cfg, env={})
    assert s.deadline_days == {**DEFAULT_DAYS, "complaint": 20}
    s = load_settings(env={"HOTLINE_DEADLINE_DAYS": "consult=3, help=12"})
    assert s.deadline_days == {**DEFAULT_DAYS, "consult": 3, "help": 12}
    assert load_settings(env={"HOTLINE_QUEUES": "cmn=a,yue=b"}).queues == {"cmn": "a", "yue": "b"}


@pytest.mark.parametrize("raw,message", [
    ("consult=0", "consult = 0 must be a whole number"),
    ("consult=2.5", "is not a whole number"),
    ("complain=15", "unknown kind complain"),
    ("consult", "is not KEY=NUMBER"),
])
def test_bad_deadline_days_are_refused(raw, message):
    with pytest.raises(ConfigError, match=message):
        load_settings(env={"HOTLINE_DEADLINE_DAYS": raw})


def test_toml_floats_and_booleans_are_refused(tmp_path):
    for value in ("2.0", "true"):
        cfg = tmp_path / "c.toml"
        cfg.write_text(f"[hotline.deadline_days]\nconsult = {value}\n")
        with pytest.raises(ConfigError, match="deadline_days: consult"):
            load_settings(cfg, env={})
