"""The restriction period (DESIGN §3.1): decision day not counted, 30 natural days, ends 24:00 local."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from blocklist.grounds import InvalidGround, parse_ground
from blocklist.period import (decision_day, in_force, last_day_of, restriction_last_day,
                              restriction_until)

SH = ZoneInfo("Asia/Shanghai")
UTC = timezone.utc
SECOND = timedelta(seconds=1)


def at(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    assert moment.tzinfo is not None
    return moment


def test_design_example():
    until = restriction_until(at("2026-11-25T10:00:00+08:00"), SH)
    assert until == at("2026-12-26T00:00:00+08:00")
    assert until.isoformat() == "2026-12-26T00:00:00+08:00"
    assert restriction_last_day(at("2026-11-25T10:00:00+08:00"), SH) == date(2026, 12, 25)


@pytest.mark.parametrize("decided", ["2026-11-25T00:00:00+08:00", "2026-11-25T00:00:01+08:00",
                                     "2026-11-25T12:00:00+08:00", "2026-11-25T23:59:59+08:00",
                                     "2026-11-25T23:59:59.999999+08:00"])
def test_any_time_on_the_decision_day_gives_the_same_end(decided):
    assert restriction_until(at(decided), SH) == at("2026-12-26T00:00:00+08:00")


def test_one_second_either_side_of_local_midnight():
    before = restriction_until(at("2026-11-25T23:59:59+08:00"), SH)
    after = restriction_until(at("2026-11-26T00:00:00+08:00"), SH)
    assert before == at("2026-12-26T00:00:00+08:00")
    assert after == at("2026-12-27T00:00:00+08:00")
    assert after - before == timedelta(days=1)


def test_server_clock_in_utc():
    # 16:30 UTC on the 25th is already 00:30 on the 26th in Shanghai: a decision of the 26th
    decided = datetime(2026, 11, 25, 16, 30, tzinfo=UTC)
    assert decision_day(decided, SH) == date(2026, 11, 26)
    until = restriction_until(decided, SH)
    assert until == at("2026-12-27T00:00:00+08:00")
    assert until.astimezone(UTC) == datetime(2026, 12, 26, 16, 0, tzinfo=UTC)
    # 15:59:59 UTC is still the 25th locally
    assert restriction_until(datetime(2026, 11, 25, 15, 59, 59, tzinfo=UTC), SH) == at("2026-12-26T00:00:00+08:00")


def test_the_zone_is_configurable():
    decided = datetime(2026, 11, 25, 16, 30, tzinfo=UTC)
    assert restriction_until(decided, ZoneInfo("UTC")) == datetime(2026, 12, 26, tzinfo=UTC)
    # New York: the 25th, 11:30 local; ends 24:00 New York time on 2026-12-25
    ny = ZoneInfo("America/New_York")
    assert restriction_until(decided, ny) == datetime(2026, 12, 26, tzinfo=ny)


@pytest.mark.parametrize("decided,last_day", [
    ("2026-01-31T09:00:00+08:00", "2026-03-02"),    # through February (28 days in 2026)
    ("2026-12-01T09:00:00+08:00", "2026-12-31"),    # last day is the year's last day
    ("2026-12-02T09:00:00+08:00", "2027-01-01"),    # across the year end
    ("2026-12-31T23:59:59+08:00", "2027-01-30"),    # decided on the year's last day
    ("2027-01-31T09:00:00+08:00", "2027-03-02"),
    ("2028-01-31T09:00:00+08:00", "2028-03-01"),    # leap year: February has 29 days
    ("2028-02-01T09:00:00+08:00", "2028-03-02"),
    ("2028-02-28T09:00:00+08:00", "2028-03-29"),
    ("2028-02-29T09:00:00+08:00", "2028-03-30"),    # decided on the leap day
    ("2028-01-30T09:00:00+08:00", "2028-02-29"),    # the leap day is the last day
    ("2026-09-30T09:00:00+08:00", "2026-10-30"),    # the National Day holidays do not extend it
])
def test_month_and_year_ends_and_leap_years(decided, last_day):
    d = at(decided)
    assert restriction_last_day(d, SH) == date.fromisoformat(last_day)
    until = restriction_until(d, SH)
    assert until == datetime.combine(date.fromisoformat(last_day) + timedelta(days=1),
                                     datetime.min.time(), tzinfo=SH)
    assert last_day_of(until, SH) == date.fromisoformat(last_day)


def test_thirty_natural_days_are_counted_from_the_next_day():
    decided = at("2026-11-25T10:00:00+08:00")
    until = restriction_until(decided, SH)
    next_day_start = at("2026-11-26T00:00:00+08:00")
    assert until - next_day_start == timedelta(days=30)


def test_in_force_until_the_last_second():
    until = restriction_until(at("2026-11-25T10:00:00+08:00"), SH)
    assert in_force(until, until - SECOND)                       # 23:59:59 on the last day: refused
    assert in_force(until, until - timedelta(microseconds=1))
    assert not in_force(until, until)                            # at until: accepted
    assert not in_force(until, until + SECOND)
    # the same instants written in UTC
    assert in_force(until, datetime(2026, 12, 25, 15, 59, 59, tzinfo=UTC))
    assert not in_force(until, datetime(2026, 12, 25, 16, 0, 0, tzinfo=UTC))


def test_naive_times_are_refused():
    with pytest.raises(ValueError, match="zone"):
        restriction_until(datetime(2026, 11, 25, 10, 0), SH)
    with pytest.raises(ValueError, match="zone"):
        in_force(datetime(2026, 12, 26, tzinfo=UTC), datetime(2026, 12, 1))


def test_a_zone_with_daylight_saving_keeps_local_midnight():
    # Europe/Berlin changes to winter time on 2026-10-25: the end is still local midnight
    berlin = ZoneInfo("Europe/Berlin")
    until = restriction_until(datetime(2026, 10, 1, 12, 0, tzinfo=berlin), berlin)
    assert until == datetime(2026, 11, 1, 0, 0, tzinfo=berlin)
    assert until.utcoffset() == timedelta(hours=1)


@pytest.mark.parametrize("typed,code,text", [
    ("harassing", "harassing", ""), ("Malicious-Calls", "malicious_calls", ""), ("辱骂", "insulting", ""),
    ("no request", "no_request", ""), ("other: faxes at night", "other", "faxes at night"),
])
def test_grounds_as_typed(typed, code, text):
    assert parse_ground(typed) == (code, text)


@pytest.mark.parametrize("typed", ["", "rude", "other", "other:"])
def test_bad_grounds_are_refused(typed):
    with pytest.raises(InvalidGround):
        parse_ground(typed)
