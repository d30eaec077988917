"""The statutory holidays of the national holiday law, for any year 2000–2099.

This is the fallback for a year whose official schedule (国务院办公厅 放假安排通知) the engine does
not have. It applies the version of 《全国年节及纪念日放假办法》 in force in that year:

==========  =====================================  =========================================
from year   version                                holidays for all citizens
==========  =====================================  =========================================
2000        1999 revision                          元旦 1; 春节 初一–初三; 劳动节 5/1–3; 国庆 10/1–3
2008        2007 revision                          元旦 1; 春节 除夕–初二; 清明 1; 劳动节 5/1;
                                                   端午 1; 中秋 1; 国庆 10/1–3
2014        2013 revision                          as 2007, but 春节 初一–初三
2025        2024 revision (effective 2025-01-01)   元旦 1; 春节 除夕–初三 (4 days); 清明 1;
                                                   劳动节 5/1–2; 端午 1; 中秋 1; 国庆 10/1–3
==========  =====================================  =========================================

Every year from 2025 on uses the 2024 revision (13 days). Only the statutory days are returned:
not the make-up days off of Art. 6 (补假, when a holiday falls on a weekend) nor the weekend
days worked (调休) — those come only from an official schedule. The fallback therefore counts
fewer days off than the real schedule will, so a provisional deadline tends to fall early, and it
is recomputed when the official schedule is loaded.

Lunar dates come from ``lunardate`` (valid 1900–2099); 除夕 is the day before 正月初一. The
Qingming solar term (the day the Sun reaches ecliptic longitude 15°, Beijing time) uses the
寿星 formula ``[Y·0.2422 + C] − L`` with the 20th/21st-century constants and L counting the
leap days actually passed (so 2100, not a leap year, is right too); it agrees with an
astronomical computation for every year 1900–2100 (see tests/unit/test_workcal.py).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

from lunardate import LunarDate

FIRST_YEAR, LAST_YEAR = 2000, 2099

NEW_YEAR = "元旦"
SPRING_FESTIVAL = "春节"
QINGMING = "清明节"
LABOUR_DAY = "劳动节"
DRAGON_BOAT = "端午节"
MID_AUTUMN = "中秋节"
NATIONAL_DAY = "国庆节"


@dataclass(frozen=True)
class LawVersion:
    """One version of the holiday law: which days every citizen has off."""

    first_year: int            # the first calendar year it governs entirely
    title: str
    spring_festival: tuple[int, ...]   # offsets from 正月初一 (−1 = 除夕)
    labour_day: tuple[int, ...]        # days of May
    national_day: tuple[int, ...]      # days of October
    traditional: bool                  # 清明, 端午, 中秋 are holidays


LAW_VERSIONS: tuple[LawVersion, ...] = (
    LawVersion(2000, "全国年节及纪念日放假办法（1999年修订）", (0, 1, 2), (1, 2, 3), (1, 2, 3), False),
    LawVersion(2008, "全国年节及纪念日放假办法（2007年修订）", (-1, 0, 1), (1,), (1, 2, 3), True),
    LawVersion(2014, "全国年节及纪念日放假办法（2013年修订）", (0, 1, 2), (1,), (1, 2, 3), True),
    LawVersion(2025, "全国年节及纪念日放假办法（2024年修订，2025年1月1日起施行）",
               (-1, 0, 1, 2), (1, 2), (1, 2, 3), True),
)


def law_for(year: int) -> LawVersion:
    """The version of the law that governs ``year``; ValueError outside 2000–2099."""
    _check_year(year)
    return [v for v in LAW_VERSIONS if v.first_year <= year][-1]


def _check_year(year: int) -> None:
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise ValueError(f"no statutory holiday rules for year {year}: the fallback covers "
                         f"{FIRST_YEAR}–{LAST_YEAR}")


def lunar_to_solar(year: int, month: int, day: int) -> date:
    """The Gregorian date of a day of the (non-leap) lunar month in lunar year ``year``."""
    return LunarDate(year, month, day, False).to_solar_date()


def chinese_new_year(year: int) -> date:
    """正月初一 of the lunar year that begins in Gregorian ``year``."""
    return lunar_to_solar(year, 1, 1)


def new_years_eve(year: int) -> date:
    """除夕: the last day of the lunar year that ends in Gregorian ``year``."""
    return chinese_new_year(year) - timedelta(days=1)


def dragon_boat(year: int) -> date:
    return lunar_to_solar(year, 5, 5)


def mid_autumn(year: int) -> date:
    return lunar_to_solar(year, 8, 15)


def _leap_days_since(base: int, year: int) -> int:
    """Feb 29ths from the year after ``base`` through ``year`` (all before April of ``year``)."""
    def count(y: int) -> int:
        return y // 4 - y // 100 + y // 400
    return count(year) - count(base)


def qingming(year: int) -> date:
    """The day of the Qingming solar term (清明, solar longitude 15°) in Beijing time, 1900–2100."""
    if not 1900 <= year <= 2100:
        raise ValueError(f"Qingming is computed for 1900–2100, not {year}")
    if year < 2000:
        y, c, base = year - 1900, 5.59, 1900
    else:
        y, c, base = year - 2000, 4.81, 2000
    # the constants were fitted with L = y // 4 over 1901–1999 / 2001–2099; the leap-day count
    # equals that everywhere except after the non-leap 2100, where it is one less
    day = int(y * 0.2422 + c) - _leap_days_since(base, year)
    return date(year, 4, day)


def _add(days: dict[date, str], day: date, name: str) -> None:
    days[day] = f"{days[day]}、{name}" if day in days and name not in days[day] else name


@lru_cache(maxsize=256)
def _statutory(year: int) -> tuple[tuple[date, str], ...]:
    law = law_for(year)
    days: dict[date, str] = {}
    _add(days, date(year, 1, 1), NEW_YEAR)
    first = chinese_new_year(year)
    for offset in law.spring_festival:
        _add(days, first + timedelta(days=offset), SPRING_FESTIVAL)
    for d in law.labour_day:
        _add(days, date(year, 5, d), LABOUR_DAY)
    if law.traditional:
        _add(days, qingming(year), QINGMING)
        _add(days, dragon_boat(year), DRAGON_BOAT)
        _add(days, mid_autumn(year), MID_AUTUMN)
    for d in law.national_day:
        _add(days, date(year, 10, d), NATIONAL_DAY)
    return tuple(sorted(days.items()))


def statutory_holidays(year: int) -> dict[date, str]:
    """Every day of ``year`` that the law gives all citizens off, with its festival's name.

    The days are those of the festivals *of* ``year``: 除夕 is always in the same Gregorian year
    as 正月初一 (it is at the earliest January 20). Names of two festivals on one day are joined
    (2028-10-03 is both 中秋节 and 国庆节).
    """
    return dict(_statutory(year))


def is_statutory_workday(day: date) -> bool:
    """The fallback rule: Monday–Friday and not a statutory holiday."""
    return day.weekday() < 5 and day not in _statutory_set(day.year)


@lru_cache(maxsize=256)
def _statutory_set(year: int) -> frozenset[date]:
    return frozenset(d for d, _ in _statutory(year))
