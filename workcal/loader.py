"""Load an official schedule into the database; read the schedules in force back as a calendar.

``load_schedule(session, path, by, now)`` validates the file first (nothing is stored when it is
rejected), then stores it as the year's schedule in force. An earlier load of the same year is
kept as history (``replaced_at`` set), never deleted.

Deadlines computed while a year had no official schedule are provisional. When a schedule is
stored, every callback registered with :func:`on_schedule_loaded` is called as
``callback(session, year)`` in the same session, before the caller commits — the ticket module
registers one that recomputes the provisional deadlines touching ``year``
(``recompute_provisional(session, year)``). A callback that raises aborts the load: the schedule
and the recomputed deadlines are committed together or not at all.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.clock import require_aware
from workcal.calendar import WorkCalendar
from workcal.models import HOLIDAY, WORKDAY, CalendarDay, CalendarLoad
from workcal.schedule import OfficialSchedule, parse_schedule

ScheduleHook = Callable[[Session, int], None]
_hooks: list[ScheduleHook] = []


def on_schedule_loaded(callback: ScheduleHook) -> ScheduleHook:
    """Call ``callback(session, year)`` after each schedule is stored (usable as a decorator)."""
    if callback not in _hooks:
        _hooks.append(callback)
    return callback


def remove_schedule_hook(callback: ScheduleHook) -> None:
    if callback in _hooks:
        _hooks.remove(callback)


def schedule_hooks() -> tuple[ScheduleHook, ...]:
    return tuple(_hooks)


@dataclass(frozen=True)
class LoadResult:
    year: int
    load_id: int
    source: str
    holidays: int                   # days off listed
    workdays: int                   # weekend days made working days
    replaced_load_id: int | None    # the earlier load of this year, now history
    warnings: tuple[str, ...]       # e.g. a statutory holiday the file leaves as a working day

    def as_json(self) -> dict:
        return {"year": self.year, "load_id": self.load_id, "source": self.source,
                "holidays": self.holidays, "workdays": self.workdays,
                "replaced_load_id": self.replaced_load_id, "warnings": list(self.warnings)}


def load_schedule(session: Session, path: str | Path, by: str, now: datetime) -> LoadResult:
    """Validate the schedule file at ``path`` and store it as its year's schedule in force."""
    schedule = parse_schedule(path)          # ScheduleError before anything is written
    return store_schedule(session, schedule, by=by, now=now, file_name=Path(path).name)


def store_schedule(session: Session, schedule: OfficialSchedule, by: str, now: datetime,
                   file_name: str = "") -> LoadResult:
    require_aware(now, "now")
    by = (by or "").strip()
    if not by:
        raise ValueError("who loads the schedule must be named (--by NAME)")
    if len(by) > 80:
        raise ValueError("the loader's name is longer than 80 characters")
    previous = session.scalars(
        select(CalendarLoad).where(CalendarLoad.current_year == schedule.year).with_for_update()
    ).first()
    if previous is not None:
        previous.current_year = None
        previous.replaced_at = now
        session.flush()                      # free the year before the new load claims it
    load = CalendarLoad(year=schedule.year, source=schedule.source, title=schedule.title,
                        file_name=file_name[:255], loaded_at=now, loaded_by=by,
                        current_year=schedule.year)
    session.add(load)
    session.flush()
    session.add_all([CalendarDay(load_id=load.id, day=d, kind=HOLIDAY, name=n)
                     for d, n in schedule.holidays.items()]
                    + [CalendarDay(load_id=load.id, day=d, kind=WORKDAY, name=n)
                       for d, n in schedule.workdays.items()])
    session.flush()
    for hook in tuple(_hooks):
        hook(session, schedule.year)
    return LoadResult(year=schedule.year, load_id=load.id, source=schedule.source,
                      holidays=len(schedule.holidays), workdays=len(schedule.workdays),
                      replaced_load_id=previous.id if previous is not None else None,
                      warnings=tuple(schedule.missing_statutory_days()))


def current_schedules(session: Session) -> list[OfficialSchedule]:
    """The schedule in force for every year an admin has loaded."""
    loads = session.scalars(select(CalendarLoad).where(CalendarLoad.current_year.is_not(None))
                            .order_by(CalendarLoad.year)).all()
    if not loads:
        return []
    days: dict[int, list[CalendarDay]] = {load.id: [] for load in loads}
    for row in session.scalars(select(CalendarDay).where(CalendarDay.load_id.in_(list(days)))):
        days[row.load_id].append(row)
    return [OfficialSchedule(year=load.year, source=load.source, title=load.title,
                             holidays={r.day: r.name for r in days[load.id] if r.kind == HOLIDAY},
                             workdays={r.day: r.name for r in days[load.id] if r.kind == WORKDAY},
                             loaded_at=load.loaded_at, loaded_by=load.loaded_by)
            for load in loads]


def calendar_from_db(session: Session, *, use_package: bool = True) -> WorkCalendar:
    """A :class:`WorkCalendar` with every loaded schedule in force (one query each table)."""
    return WorkCalendar(current_schedules(session), use_package=use_package)


def load_history(session: Session, year: int | None = None) -> list[CalendarLoad]:
    """Every load (newest first), of one year or of all."""
    query = select(CalendarLoad).order_by(CalendarLoad.id.desc())
    if year is not None:
        query = query.where(CalendarLoad.year == year)
    return list(session.scalars(query))
