"""Loading official schedules (SQLite and PostgreSQL), and the calendar / deadline commands."""
from __future__ import annotations

import json
from datetime import date, datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from hotline.cli import main
from workcal import loader
from workcal.deadlines import compute_deadline
from workcal.models import CalendarDay, CalendarLoad
from workcal.schedule import ScheduleError

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "docs" / "examples" / "calendar-2027.toml"
SH = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 11, 25, 2, 0, tzinfo=timezone.utc)


def deadline(database, kind: str, received: str):
    with database.session() as s:
        cal = loader.calendar_from_db(s)
    return compute_deadline(cal, kind, datetime.fromisoformat(received), SH)


def counts(database) -> tuple[int, int]:
    with database.session() as s:
        return (s.scalar(select(func.count()).select_from(CalendarLoad)),
                s.scalar(select(func.count()).select_from(CalendarDay)))


def test_loading_2027_makes_its_deadlines_official(database):
    before = deadline(database, "complaint", "2027-09-24T10:00:00+08:00")
    assert (before.due_date, before.provisional) == (date(2027, 10, 18), True)
    with database.session() as s:
        result = loader.load_schedule(s, EXAMPLE, by="王工", now=T0)
    assert (result.year, result.holidays, result.workdays, result.warnings) == (2027, 28, 5, ())
    # Sunday 9/26 and Saturday 10/9 are worked, 10/1–10/7 off: 9/26–9/30 (5), 10/8–10/9 (7),
    # 10/11–10/15 (12), 10/18–10/20 (15)
    after = deadline(database, "complaint", "2027-09-24T10:00:00+08:00")
    assert (after.due_date, after.provisional) == (date(2027, 10, 20), False)
    assert after.due.isoformat() == "2027-10-21T00:00:00+08:00"
    # Spring Festival: 2/5–2/12 off, Saturday 2/20 worked
    assert deadline(database, "consult", "2027-02-04T10:00:00+08:00").due_date == date(2027, 2, 16)
    assert deadline(database, "consult", "2027-02-19T10:00:00+08:00").due_date == date(2027, 2, 22)
    # a span that reaches 2028 is still provisional
    late = deadline(database, "complaint", "2027-12-20T10:00:00+08:00")
    assert late.provisional and late.due_date == date(2028, 1, 10)


def test_reloading_replaces_and_keeps_history(database):
    with database.session() as s:
        first = loader.load_schedule(s, EXAMPLE, by="a", now=T0)
    with database.session() as s:
        second = loader.load_schedule(s, EXAMPLE, by="b", now=T0.replace(hour=3))
    assert second.replaced_load_id == first.load_id and first.replaced_load_id is None
    with database.session() as s:
        history = loader.load_history(s, 2027)
        assert [(h.id, h.loaded_by, h.current_year) for h in history] == [
            (second.load_id, "b", 2027), (first.load_id, "a", None)]
        assert history[1].replaced_at == T0.replace(hour=3)
        assert [x.loaded_by for x in loader.current_schedules(s)] == ["b"]
    assert counts(database) == (2, 66)


def test_bad_files_are_rejected_and_nothing_is_stored(database, tmp_path):
    text = EXAMPLE.read_text(encoding="utf-8")
    cases = {
        "year.toml": (text.replace("date = 2027-06-09", "date = 2026-06-09"), "2026-06-09 is not in 2027"),
        "both.toml": (text.replace("date = 2027-10-09", "date = 2027-10-07"), "2027-10-07 is both a holiday"),
        "weekday.toml": (text.replace("date = 2027-05-08", "date = 2027-05-07"), "2027-05-07 is a Friday"),
        "toml.toml": (text.replace('name = "元旦"', "name = 元旦"), "not valid TOML"),
    }
    for name, (body, message) in cases.items():
        path = tmp_path / name
        path.write_text(body, encoding="utf-8")
        with pytest.raises(ScheduleError, match=message):
            with database.session() as s:
                loader.load_schedule(s, path, by="a", now=T0)
    with pytest.raises(ScheduleError, match="file not found"):
        with database.session() as s:
            loader.load_schedule(s, tmp_path / "missing.toml", by="a", now=T0)
    assert counts(database) == (0, 0)


def test_hooks_run_in_the_same_transaction(database):
    seen = []

    def recompute(session, year):
        seen.append((year, session.scalar(select(func.count()).select_from(CalendarLoad))))

    def broken(session, year):
        raise RuntimeError("recompute failed")

    loader.on_schedule_loaded(recompute)
    try:
        with database.session() as s:
            loader.load_schedule(s, EXAMPLE, by="a", now=T0)
        assert seen == [(2027, 1)]
        loader.on_schedule_loaded(broken)
        with pytest.raises(RuntimeError):
            with database.session() as s:
                loader.load_schedule(s, EXAMPLE, by="a", now=T0)
    finally:
        loader.remove_schedule_hook(recompute)
        loader.remove_schedule_hook(broken)
    assert loader.schedule_hooks() == ()
    with database.session() as s:
        assert len(loader.load_history(s)) == 1      # the failed load left nothing behind


def test_loader_needs_a_name_and_an_aware_time(database):
    with pytest.raises(ValueError, match="--by"):
        with database.session() as s:
            loader.load_schedule(s, EXAMPLE, by=" ", now=T0)
    with pytest.raises(ValueError, match="time zone"):
        with database.session() as s:
            loader.load_schedule(s, EXAMPLE, by="a", now=datetime(2026, 11, 25, 10))
    assert counts(database) == (0, 0)


# --- the command line ----------------------------------------------------------------------

@pytest.fixture
def cli_env(sqlite_db, monkeypatch):
    monkeypatch.delenv("HOTLINE_CONFIG", raising=False)
    monkeypatch.delenv("HOTLINE_DEADLINE_DAYS", raising=False)
    monkeypatch.setenv("HOTLINE_DATABASE_URL", sqlite_db.url)
    return sqlite_db


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_load_show_and_deadline(cli_env, capsys):
    code, out, _ = run(capsys, "calendar", "show", "2027", "--json")
    assert code == 0 and json.loads(out)["provisional"] is True
    code, out, _ = run(capsys, "tickets", "deadline", "--kind", "complaint",
                       "--received", "2026-09-25T10:00:00+08:00", "--json")
    data = json.loads(out)
    assert code == 0 and (data["due_date"], data["due"], data["provisional"], data["working_days"],
                          data["kind"]) == ("2026-10-22", "2026-10-23T00:00:00+08:00", False, 15, "complaint")

    code, out, _ = run(capsys, "calendar", "load", str(EXAMPLE), "--by", "王工")
    assert code == 0 and "loaded the 2027 schedule" in out and "28 days off, 5 make-up" in out
    code, out, _ = run(capsys, "calendar", "show", "2027", "--json")
    shown = json.loads(out)
    assert shown["official"] is True and shown["loaded_by"] == "王工" and "EXAMPLE" in shown["source"]
    assert {"date": "2027-10-09", "name": "国庆节调休上班"} in shown["workdays"]
    code, out, _ = run(capsys, "calendar", "show", "2027")
    assert code == 0 and "2027-02-20 Sat  春节调休上班" in out

    # received in UTC, already 9/25 in Shanghai
    code, out, _ = run(capsys, "tickets", "deadline", "--kind", "complaint",
                       "--received", "2027-09-23T16:30:00Z", "--json")
    data = json.loads(out)
    assert (data["due_date"], data["due"], data["provisional"]) == ("2027-10-20", "2027-10-21T00:00:00+08:00", False)


@pytest.mark.parametrize("argv,message", [
    (["tickets", "deadline", "--kind", "complaint", "--received", "2026-09-25T10:00:00"], "time zone"),
    (["tickets", "deadline", "--kind", "complain", "--received", "2026-09-25T10:00:00+08:00"], "unknown kind"),
    (["tickets", "deadline", "--kind", "consult", "--received", "yesterday"], "not an ISO 8601 time"),
    (["calendar", "load", "/nonexistent/calendar.toml"], "file not found"),
])
def test_cli_errors_are_one_clear_message(cli_env, capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert code != 0 and out == "" and message in err and err.startswith("hotline: error:")
    assert "Traceback" not in err


def test_cli_on_an_unmigrated_database(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("HOTLINE_CONFIG", raising=False)
    monkeypatch.setenv("HOTLINE_DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    code, _, err = run(capsys, "calendar", "show", "2026")
    assert code != 0 and "hotline db upgrade" in err


def test_cli_uses_configured_lengths(cli_env, capsys, monkeypatch):
    monkeypatch.setenv("HOTLINE_DEADLINE_DAYS", "complaint=20")
    code, out, _ = run(capsys, "tickets", "deadline", "--kind", "complaint",
                       "--received", "2026-09-25T10:00:00+08:00", "--json")
    assert code == 0 and json.loads(out)["due_date"] == "2026-10-29"
