"""Legal deadlines of tickets, in working days (DESIGN §3.2).

The day of receipt (local time) is not counted; the deadline is 24:00 local time of the N-th
working day after it, i.e. the instant ``due`` = 00:00 of the following day. A complaint received
on 2026-09-25 is due by 2026-10-22 24:00 (``due`` = 2026-10-23T00:00:00+08:00).

A deadline is *provisional* when any day of the counted span (the day after receipt through the
due date) lies in a year without an official schedule; it is recomputed when an admin loads that
year's schedule (see :mod:`workcal.loader`).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from core.clock import local_midnight_after
from workcal.calendar import WorkCalendar

DEFAULT_DAYS = {"consult": 2, "help": 10, "suggestion": 10, "complaint": 15, "report": 15}
KIND_NAMES = {"consult": "咨询", "help": "求助", "suggestion": "建议", "complaint": "投诉", "report": "举报"}
# no working day for this many calendar days means a broken calendar, not a long holiday
_MAX_GAP_DAYS = 60


@dataclass(frozen=True)
class Deadline:
    due_date: date          # the last day (local) on which the request may still be handled
    due: datetime           # aware: the instant the deadline passes, next day's 00:00 local
    provisional: bool       # the span touches a year without an official schedule
    working_days: int


def add_working_days(calendar: WorkCalendar, start_day: date, n: int) -> tuple[date, bool]:
    """The ``n``-th working day after ``start_day`` (not counted), and whether that is provisional."""
    if isinstance(start_day, datetime):
        raise ValueError("start_day must be a calendar date, not a datetime")
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"the number of working days must be a whole number ≥ 1, not {n!r}")
    day, counted, gap = start_day, 0, 0
    while counted < n:
        day += timedelta(days=1)
        if calendar.is_workday(day):
            counted, gap = counted + 1, 0
        else:
            gap += 1
            if gap > _MAX_GAP_DAYS:
                raise ValueError(f"no working day in the {_MAX_GAP_DAYS} days before {day.isoformat()}: "
                                 f"check the holiday schedule of {day.year}")
    first_counted = start_day + timedelta(days=1)
    provisional = any(not calendar.official(y) for y in range(first_counted.year, day.year + 1))
    return day, provisional


def compute_deadline(calendar: WorkCalendar, kind: str, received_at: datetime, zone: ZoneInfo,
                     days: Mapping[str, int] = DEFAULT_DAYS) -> Deadline:
    """The deadline of a request of ``kind`` received at ``received_at`` (aware), in ``zone``."""
    if kind not in days:
        raise ValueError(f"unknown request kind {kind!r}; known kinds: {', '.join(days)}")
    if not isinstance(received_at, datetime):
        raise ValueError("received_at must be a datetime with a time zone")
    if received_at.tzinfo is None or received_at.utcoffset() is None:
        raise ValueError(f"received_at {received_at.isoformat()} has no time zone; give the offset, "
                         f"e.g. 2026-11-25T10:00:00+08:00")
    n = days[kind]
    receipt_day = received_at.astimezone(zone).date()
    due_date, provisional = add_working_days(calendar, receipt_day, n)
    return Deadline(due_date=due_date, due=local_midnight_after(due_date, zone),
                    provisional=provisional, working_days=n)
