"""Which days are working days, year by year, and how sure the engine is about it.

For each year, in priority:

1. ``loaded`` — an official schedule an admin loaded (:mod:`workcal.loader`, stored in the database);
2. ``chinesecalendar`` — the package's copy of the State Council notices (2004–2026 in 1.11.0);
3. ``statutory`` — the fallback: weekends plus the statutory holidays of the law in force
   (:mod:`workcal.holidays`). Such a year is not *official*: deadlines that touch it are provisional.

The calendar is plain data, built once per use: ``workcal.loader.calendar_from_db(session)``
gives one with the schedules stored in the database.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from importlib import metadata
from typing import Mapping

import chinese_calendar
from chinese_calendar import constants as cc_data

from workcal import holidays as statutory
from workcal.schedule import OfficialSchedule

LOADED, PACKAGE, STATUTORY = "loaded", "chinesecalendar", "statutory"


@dataclass(frozen=True)
class YearView:
    """What the calendar knows about one year (``hotline calendar show``)."""

    year: int
    basis: str                      # loaded | chinesecalendar | statutory
    official: bool
    source: str
    holidays: Mapping[date, str]    # days off named in the schedule (or the statutory days)
    workdays: Mapping[date, str]    # weekend days made working days (调休)
    loaded_at: datetime | None = None
    loaded_by: str | None = None

    @property
    def provisional(self) -> bool:
        return not self.official

    def as_json(self) -> dict:
        return {
            "year": self.year, "basis": self.basis, "official": self.official,
            "provisional": self.provisional, "source": self.source,
            "loaded_at": self.loaded_at.isoformat() if self.loaded_at else None,
            "loaded_by": self.loaded_by,
            "holidays": [{"date": d.isoformat(), "name": n} for d, n in self.holidays.items()],
            "workdays": [{"date": d.isoformat(), "name": n} for d, n in self.workdays.items()],
        }


@lru_cache(maxsize=1)
def package_years() -> tuple[int, int]:
    """The first and last year the installed chinesecalendar has official data for."""
    years = {d.year for d in cc_data.holidays}
    return min(years), max(years)


def _package_version() -> str:
    try:
        return metadata.version("chinesecalendar")
    except metadata.PackageNotFoundError:  # pragma: no cover - installed as a dependency
        return "unknown"


def _chinese_name(english: str) -> str:
    try:
        return cc_data.Holiday(english).chinese
    except ValueError:
        return english


class WorkCalendar:
    """Answers ``is_workday(day)`` and ``official(year)`` from the best source for each year."""

    def __init__(self, loaded: Iterable[OfficialSchedule] = (), *, use_package: bool = True) -> None:
        self._loaded: dict[int, OfficialSchedule] = {}
        for schedule in loaded:
            if schedule.year in self._loaded:
                raise ValueError(f"two schedules given for {schedule.year}")
            self._loaded[schedule.year] = schedule
        self._use_package = use_package

    @property
    def loaded_years(self) -> tuple[int, ...]:
        return tuple(sorted(self._loaded))

    def basis(self, year: int) -> str:
        if year in self._loaded:
            return LOADED
        first, last = package_years()
        if self._use_package and first <= year <= last:
            return PACKAGE
        return STATUTORY

    def official(self, year: int) -> bool:
        """True when the working days of ``year`` come from an official schedule."""
        return self.basis(year) != STATUTORY

    def is_workday(self, day: date) -> bool:
        if isinstance(day, datetime):
            raise TypeError("is_workday takes a calendar date, not a datetime (convert to local time first)")
        basis = self.basis(day.year)
        if basis == LOADED:
            return self._loaded[day.year].is_workday(day)
        if basis == PACKAGE:
            return chinese_calendar.is_workday(day)
        return statutory.is_statutory_workday(day)

    def year_view(self, year: int) -> YearView:
        basis = self.basis(year)
        if basis == LOADED:
            s = self._loaded[year]
            return YearView(year, basis, True, s.source, s.holidays, s.workdays, s.loaded_at, s.loaded_by)
        if basis == PACKAGE:
            days_off = {d: _chinese_name(n) for d, n in sorted(cc_data.holidays.items()) if d.year == year}
            days_on = {d: _chinese_name(n) + "调休上班"
                       for d, n in sorted(cc_data.workdays.items()) if d.year == year}
            return YearView(year, basis, True,
                            f"chinesecalendar {_package_version()} (国务院办公厅 节假日安排通知)",
                            days_off, days_on)
        law = statutory.law_for(year)
        return YearView(year, basis, False,
                        f"statutory fallback, provisional: {law.title}; weekends plus the statutory "
                        f"holidays, no 调休 — load the official schedule when it is published",
                        statutory.statutory_holidays(year), {})
