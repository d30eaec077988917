"""An official holiday schedule for one year, and its file format (docs/calendar-format.md).

A file names the year, its source, the days off (``[[holidays]]``) and the weekend days made
working days (``[[workdays]]``, 调休). Every other day is a working day from Monday to Friday.
:func:`parse_schedule` reads and validates a file and raises :class:`ScheduleError` listing every
problem, each naming its entry (``holidays[3]``, counted from 1) and, where it can, its line.
"""
from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Mapping

from workcal import holidays as statutory

NAME_MAX = 80
SOURCE_MAX = 500
TITLE_MAX = 200
RANGE_MAX_DAYS = 31
DEFAULT_WORKDAY_NAME = "调休上班"
TOP_KEYS = {"year", "source", "title", "notes", "holidays", "workdays"}
ENTRY_KEYS = {"date", "from", "to", "name"}
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


class ScheduleError(ValueError):
    """A schedule file is malformed; ``errors`` lists each problem, the message all of them."""

    def __init__(self, origin: str, errors: list[str]) -> None:
        self.origin = origin
        self.errors = list(errors)
        shown = "\n  ".join(self.errors)
        super().__init__(f"{origin}: schedule rejected ({len(self.errors)} problem"
                         f"{'s' if len(self.errors) != 1 else ''}):\n  {shown}")


@dataclass(frozen=True)
class OfficialSchedule:
    """The official working-day arrangement of one year."""

    year: int
    source: str
    holidays: Mapping[date, str]
    workdays: Mapping[date, str]
    title: str = ""
    loaded_at: datetime | None = None     # set when read back from the database
    loaded_by: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "holidays", MappingProxyType(dict(sorted(self.holidays.items()))))
        object.__setattr__(self, "workdays", MappingProxyType(dict(sorted(self.workdays.items()))))

    def is_workday(self, day: date) -> bool:
        if day.year != self.year:
            raise ValueError(f"the {self.year} schedule says nothing about {day.isoformat()}")
        if day in self.workdays:
            return True
        return day.weekday() < 5 and day not in self.holidays

    def missing_statutory_days(self) -> list[str]:
        """Warnings: weekdays the holiday law gives off that this schedule leaves working."""
        try:
            law_days = statutory.statutory_holidays(self.year)
        except ValueError:
            return []
        return [f"{d.isoformat()} ({name}, a {WEEKDAYS[d.weekday()]}) is a statutory holiday "
                f"but the schedule does not list it as a day off"
                for d, name in law_days.items() if self.is_workday(d)]


def parse_schedule(path: str | Path) -> OfficialSchedule:
    """Read and validate a schedule file (TOML); ScheduleError names every problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScheduleError(str(path), ["file not found"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ScheduleError(str(path), [f"cannot read the file: {exc}"]) from None
    return parse_schedule_text(text, str(path))


def parse_schedule_text(text: str, origin: str = "<schedule>") -> OfficialSchedule:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScheduleError(origin, [f"not valid TOML: {exc}"]) from None
    return _Validator(origin, text).run(data)


class _Validator:
    def __init__(self, origin: str, text: str) -> None:
        self.origin = origin
        self.errors: list[str] = []
        self.lines = _entry_lines(text)

    def fail(self, message: str) -> None:
        self.errors.append(message)

    def run(self, data: dict) -> OfficialSchedule:
        for key in sorted(set(data) - TOP_KEYS):
            self.fail(f"unknown key {key!r} (expected: {', '.join(sorted(TOP_KEYS))})")
        year = data.get("year")
        if isinstance(year, bool) or not isinstance(year, int):
            self.fail("'year' is required and must be a whole number, e.g. year = 2027")
            year = None
        elif not statutory.FIRST_YEAR <= year <= statutory.LAST_YEAR:
            self.fail(f"year {year} is outside {statutory.FIRST_YEAR}–{statutory.LAST_YEAR}")
            year = None
        source = data.get("source")
        if not isinstance(source, str) or not source.strip():
            self.fail("'source' is required: the notice it comes from (title, number or URL)")
            source = ""
        elif len(source) > SOURCE_MAX:
            self.fail(f"'source' is longer than {SOURCE_MAX} characters")
        title = data.get("title", "")
        if not isinstance(title, str) or len(title) > TITLE_MAX:
            self.fail(f"'title' must be text of at most {TITLE_MAX} characters")
            title = ""
        days_off = self.section(data, "holidays", year, required=True)
        days_on = self.section(data, "workdays", year, required=False)
        for day in sorted(set(days_off) & set(days_on)):
            self.fail(f"{day.isoformat()} is both a holiday ({days_off[day][1]}) and a working day "
                      f"({days_on[day][1]})")
        for day, (_name, label) in sorted(days_on.items()):
            if day.weekday() < 5:
                self.fail(f"{label}: {day.isoformat()} is a {WEEKDAYS[day.weekday()]}; list only "
                          f"weekend days made working days (调休)")
        if self.errors:
            raise ScheduleError(self.origin, self.errors)
        return OfficialSchedule(year=year, source=source.strip(), title=title.strip(),
                                holidays={d: n for d, (n, _) in days_off.items()},
                                workdays={d: n for d, (n, _) in days_on.items()})

    def section(self, data: dict, key: str, year: int | None, required: bool) -> dict[date, tuple[str, str]]:
        entries = data.get(key, [])
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            self.fail(f"'{key}' must be a list of tables ([[{key}]] with date = … and name = …)")
            return {}
        if required and not entries:
            self.fail(f"no [[{key}]] entries: an official schedule lists its days off")
        days: dict[date, tuple[str, str]] = {}
        for index, entry in enumerate(entries, start=1):
            label = self.label(key, index)
            for day, name in self.entry(key, label, entry, year):
                if day in days:
                    self.fail(f"{label}: {day.isoformat()} is already listed by {days[day][1]}")
                    continue
                days[day] = (name, label)
        return days

    def label(self, key: str, index: int) -> str:
        lines = self.lines.get(key, [])
        where = f" (line {lines[index - 1]})" if index <= len(lines) else ""
        return f"{key}[{index}]{where}"

    def entry(self, key: str, label: str, entry: dict, year: int | None) -> list[tuple[date, str]]:
        for extra in sorted(set(entry) - ENTRY_KEYS):
            self.fail(f"{label}: unknown key {extra!r} (expected date, or from and to; and name)")
        name = entry.get("name", DEFAULT_WORKDAY_NAME if key == "workdays" else None)
        if not isinstance(name, str) or not name.strip():
            self.fail(f"{label}: 'name' is required (the festival, e.g. name = \"春节\")")
            return []
        if len(name) > NAME_MAX:
            self.fail(f"{label}: 'name' is longer than {NAME_MAX} characters")
            return []
        if "date" in entry and ("from" in entry or "to" in entry):
            self.fail(f"{label}: give either 'date' or 'from' and 'to', not both")
            return []
        if "date" in entry:
            days = [self.day(label, "date", entry["date"])]
        elif "from" in entry and "to" in entry:
            first, last = self.day(label, "from", entry["from"]), self.day(label, "to", entry["to"])
            if first is None or last is None:
                return []
            if last < first or (last - first).days >= RANGE_MAX_DAYS:
                self.fail(f"{label}: 'from' {first} to 'to' {last} is not a range of 1–{RANGE_MAX_DAYS} days")
                return []
            days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
        else:
            self.fail(f"{label}: 'date' (or 'from' and 'to') is required")
            return []
        if None in days:
            return []
        if year is not None:
            outside = [d for d in days if d.year != year]
            if outside:
                self.fail(f"{label}: {outside[0].isoformat()} is not in {year}")
                return []
        return [(d, name.strip()) for d in days]

    def day(self, label: str, key: str, raw) -> date | None:
        if isinstance(raw, date) and not isinstance(raw, datetime):
            return raw
        if isinstance(raw, str):
            try:
                return date.fromisoformat(raw.strip())
            except ValueError:
                pass
        self.fail(f"{label}: {key} = {raw!r} is not a date (write e.g. {key} = 2027-02-05)")
        return None


_HEADER = re.compile(r"^\s*\[\[\s*(holidays|workdays)\s*\]\]\s*(#.*)?$")


def _entry_lines(text: str) -> dict[str, list[int]]:
    """Line numbers of each ``[[holidays]]`` / ``[[workdays]]`` header, in order (1-based)."""
    found: dict[str, list[int]] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        match = _HEADER.match(line)
        if match:
            found.setdefault(match.group(1), []).append(number)
    return found
