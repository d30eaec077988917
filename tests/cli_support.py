"""Running ``hotline`` sub-commands in-process on a test database: the command-line tests' helpers."""
from __future__ import annotations

import json

from sqlalchemy import func, select

from hotline.cli import main


def cli_runner(database, monkeypatch, tmp_path, capsys, group: tuple[str, ...] = (), unset: tuple[str, ...] = ()):
    """``run(*argv) -> (exit status, stdout, stderr)`` of ``hotline [group] argv`` on ``database``."""
    monkeypatch.delenv("HOTLINE_CONFIG", raising=False)
    for name in unset:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOTLINE_DATABASE_URL", database.url)
    monkeypatch.setenv("HOTLINE_DATA_DIR", str(tmp_path / "var"))

    def run(*argv):
        rc = main([*group, *argv])
        out, err = capsys.readouterr()
        return rc, out, err

    run.database = database
    return run


def ok(cli, *argv):
    """The command succeeds; its output (parsed when --json)."""
    rc, out, err = cli(*argv)
    assert rc == 0, err
    return json.loads(out) if "--json" in argv else out


def row_counts(database, models) -> tuple[int, ...]:
    with database.session() as s:
        return tuple(s.scalar(select(func.count()).select_from(m)) for m in models)


def refused(cli, models, *argv, match: str):
    """The command fails with one clear message containing ``match`` and writes nothing."""
    before = row_counts(cli.database, models)
    rc, out, err = cli(*argv)
    assert rc != 0
    assert err.startswith("hotline: error: ") and match in err, err
    assert "Traceback" not in err
    assert row_counts(cli.database, models) == before                # nothing written
    return out, err
