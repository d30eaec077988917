"""Working days and legal deadlines (DESIGN §3.2).

* :mod:`workcal.holidays` — the statutory holidays of the national holiday law (全国年节及纪念日放假办法)
  for any year 2000–2099, with the lunar festivals and the Qingming solar term computed; the
  fallback for a year whose official schedule the engine does not have.
* :mod:`workcal.calendar` — :class:`~workcal.calendar.WorkCalendar`: is a day a working day? In
  priority: schedules loaded by an admin (stored in the database), then the ``chinesecalendar``
  package (2004–2026), then the statutory fallback (provisional).
* :mod:`workcal.deadlines` — ticket deadlines: N working days after the day of receipt, ending at
  24:00 local time; provisional when the counted span touches a year without an official schedule.
* :mod:`workcal.schedule` — the official-schedule file (TOML, see docs/calendar-format.md).
* :mod:`workcal.loader` — validate and store a schedule, history of loads, the schedule-loaded hooks.
"""
