"""Shared fixtures: databases (SQLite and the PostgreSQL server), a running engine."""
from __future__ import annotations

import os
import secrets
from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from core import db as dbmod
from core.config import load_settings

PG_URL = os.environ.get("HOTLINE_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _pg_schema_url(schema: str) -> str:
    sep = "&" if "?" in PG_URL else "?"
    return f"{PG_URL}{sep}options=-csearch_path%3D{schema}"


@pytest.fixture(autouse=True)
def _isolated_schedule_hooks():
    """build_engine registers the tickets' recompute hook on calendar loads; keep tests independent."""
    from workcal import loader

    before = list(loader._hooks)
    yield
    loader._hooks[:] = before


@pytest.fixture(scope="session")
def pg_server():
    """A schema of its own in the PostgreSQL test database for this test run."""
    schema = "t_" + secrets.token_hex(5)
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as c:
            c.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:  # the brief promises a server; say clearly if it is not there
        pytest.fail(f"PostgreSQL at {PG_URL} is not reachable: {exc.__class__.__name__}: {exc}")
    url = _pg_schema_url(schema)
    dbmod.upgrade(url)
    yield url
    with admin.connect() as c:
        c.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("dbtemplate") / "template.db"
    dbmod.upgrade(f"sqlite:///{path}")
    return path


def _truncate_all(database: dbmod.Database) -> None:
    with database.engine.begin() as conn:
        for table in reversed(dbmod.Base.metadata.sorted_tables):
            conn.execute(table.delete())


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database(request, tmp_path, sqlite_template):
    """A migrated, empty database: once on SQLite, once on PostgreSQL."""
    import shutil

    _import_models()
    if request.param == "sqlite":
        path = tmp_path / "hotline.db"
        shutil.copyfile(sqlite_template, path)
        database = dbmod.Database(f"sqlite:///{path}")
    else:
        database = dbmod.Database(request.getfixturevalue("pg_server"))
        _truncate_all(database)
    yield database
    database.dispose()


@pytest.fixture
def sqlite_db(tmp_path, sqlite_template):
    import shutil

    _import_models()
    path = tmp_path / "hotline.db"
    shutil.copyfile(sqlite_template, path)
    database = dbmod.Database(f"sqlite:///{path}")
    yield database
    database.dispose()


def _import_models() -> None:
    import callers.models  # noqa: F401
    import core.lease  # noqa: F401
    import blocklist.models  # noqa: F401
    import workcal.models  # noqa: F401
    import tickets.models  # noqa: F401
    import knowledge.models  # noqa: F401
    import ivr.twilio.models  # noqa: F401
    import leader_desk.models  # noqa: F401
    import routing.models  # noqa: F401
    import analytics.models  # noqa: F401
    import web.console.audit  # noqa: F401
    import web.console.auth  # noqa: F401
    import web.console.users  # noqa: F401


@pytest.fixture
def settings(tmp_path):
    return load_settings(env={}, data_dir=tmp_path / "var")


def aware(text_: str) -> datetime:
    moment = datetime.fromisoformat(text_)
    assert moment.tzinfo is not None
    return moment.astimezone(timezone.utc)
