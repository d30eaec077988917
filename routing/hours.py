"""Staffed hours per queue, on China's holiday-aware working-day calendar.

A queue's hours are a text (``Settings.staffed_hours``)::

    always                                  (the default: 7×24, as the 12345 line itself)
    never
    workdays 08:30-17:30                    working days, 调休 make-up days included
    workdays 08:30-12:00 13:30-17:30; restdays 09:00-12:00
    daily 08:00-22:00

``workdays`` are the working days of :class:`workcal.calendar.WorkCalendar` (official schedule,
make-up weekend days count, holidays do not); ``restdays`` are the other days. A window is
local time ``[start, end)``; ``24:00`` ends at midnight. Windows never run past midnight: a night
shift is two windows.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, tzinfo

from workcal.calendar import WorkCalendar

DAY_KINDS = ("daily", "workdays", "restdays")
_HHMM = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])$|^24:00$")


class HoursError(ValueError):
    pass


def _minutes(text: str) -> int:
    if not _HHMM.match(text):
        raise HoursError(f"{text!r} is not a time HH:MM (00:00 to 24:00)")
    h, m = text.split(":")
    return int(h) * 60 + int(m)


@dataclass(frozen=True)
class Window:
    days: str            # daily | workdays | restdays
    start: int           # minutes after local midnight
    end: int             # exclusive; 1440 = 24:00

    def __str__(self) -> str:
        return f"{self.start // 60:02d}:{self.start % 60:02d}-{self.end // 60:02d}:{self.end % 60:02d}"


@dataclass(frozen=True)
class StaffedHours:
    spec: str
    always: bool
    windows: tuple[Window, ...] = ()

    ALWAYS: "StaffedHours" = None  # type: ignore[assignment]  (set below)

    @classmethod
    def parse(cls, text: str) -> "StaffedHours":
        spec = " ".join(str(text).split())
        clauses = [c.strip() for c in spec.split(";") if c.strip()]
        if not clauses:
            raise HoursError("staffed hours are empty (use always, never or e.g. 'workdays 08:30-17:30')")
        always, windows = False, []
        for clause in clauses:
            words = clause.split()
            head = words[0].lower()
            if head in ("always", "never"):
                if len(words) != 1:
                    raise HoursError(f"{clause!r}: {head} takes no times")
                always = always or head == "always"
                continue
            if head not in DAY_KINDS:
                raise HoursError(f"{clause!r}: days must be always, never, {', '.join(DAY_KINDS)}")
            if len(words) == 1:
                raise HoursError(f"{clause!r}: give at least one window HH:MM-HH:MM")
            for token in words[1:]:
                start_text, sep, end_text = token.partition("-")
                if not sep:
                    raise HoursError(f"{token!r} is not a window HH:MM-HH:MM")
                start, end = _minutes(start_text), _minutes(end_text)
                if start >= 1440 or end <= start:
                    raise HoursError(f"{token}: the end must be after the start (split a night into two windows)")
                windows.append(Window(head, start, end))
        return cls(spec=spec, always=always, windows=tuple(windows))

    def is_open(self, when: datetime, calendar: WorkCalendar, zone: tzinfo) -> bool:
        """Is the queue staffed at the instant ``when`` (aware)?"""
        if self.always:
            return True
        if not self.windows:
            return False
        if when.tzinfo is None:
            raise ValueError("when must carry a time zone")
        local = when.astimezone(zone)
        minute = local.hour * 60 + local.minute
        workday: bool | None = None
        for w in self.windows:
            if not w.start <= minute < w.end:
                continue
            if w.days == "daily":
                return True
            if workday is None:
                workday = calendar.is_workday(local.date())
            if (w.days == "workdays") == workday:
                return True
        return False


StaffedHours.ALWAYS = StaffedHours(spec="always", always=True)


def hours_table(specs: dict[str, str]) -> dict[str, StaffedHours]:
    """Settings.staffed_hours parsed; a queue not listed is staffed always."""
    return {queue: StaffedHours.parse(spec) for queue, spec in specs.items()}


def hours_for(table: dict[str, StaffedHours], queue: str) -> StaffedHours:
    return table.get(queue, StaffedHours.ALWAYS)
