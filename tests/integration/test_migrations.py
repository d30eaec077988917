"""Every Alembic migration upgrades and downgrades with data in the tables, on SQLite and PostgreSQL.

The revisions come from Alembic's ScriptDirectory (``core.db.alembic_config``), so a new migration
is covered without touching this file. From an empty database, for each revision in order:
upgrade to it, put rows into every table that exists then (generated from the reflected schema:
types, lengths, nullability, foreign keys with parents first, unique and CHECK constraints),
downgrade one step (the rows of the tables that survive must still be there), upgrade again
(same), and go on. At head, with rows in every table, downgrade step by step to the empty
database — each step keeping the surviving tables' rows — and upgrade back to head.
"""
from __future__ import annotations

import re
import secrets
from datetime import date, datetime, timedelta, timezone

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import (JSON, Boolean, Date, DateTime, Float, Integer, MetaData, Numeric, String, Text,
                        create_engine, func, inspect, select, text)
from sqlalchemy.types import Interval, LargeBinary

from core import db as dbmod
from tests.conftest import PG_URL, _pg_schema_url

ROWS = 2                      # rows put into each table
BASE = datetime(2026, 3, 2, 1, 30, tzinfo=timezone.utc)


def revisions(url: str) -> list[str]:
    """Every revision, oldest first (one line of history: a branch would fail here, on purpose)."""
    script = ScriptDirectory.from_config(dbmod.alembic_config(url))
    assert len(script.get_heads()) == 1, f"several heads: {script.get_heads()}"
    return [rev.revision for rev in reversed(list(script.walk_revisions()))]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_url(request, tmp_path):
    """An empty database: a new SQLite file, or a new schema in the PostgreSQL test database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'migrations.db'}"
        return
    schema = "m_" + secrets.token_hex(5)
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield _pg_schema_url(schema)
    finally:
        with admin.connect() as c:
            c.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


# --- rows that fit the schema -------------------------------------------------------------------

def _allowed_values(insp, table: str) -> dict[str, str]:
    """column → a value its CHECK constraints allow, for the ``col IN ('a', 'b')`` kind (also as
    PostgreSQL shows it: ``(col)::text = ANY (ARRAY['a'::character varying, ...])``)."""
    allowed: dict[str, str] = {}
    try:
        checks = insp.get_check_constraints(table)
    except NotImplementedError:
        return allowed
    for check in checks:
        sql = check.get("sqltext") or ""
        literals = re.findall(r"'([^']*)'", sql)
        if not literals or not re.search(r"\bIN\b|\bANY\b", sql, re.IGNORECASE):
            continue
        column = re.search(r"\(?\s*\(?\"?(\w+)\"?\)?(?:::\w+)?\s+(?:NOT\s+)?(?:IN\b|=\s*ANY)", sql, re.IGNORECASE)
        if column:
            allowed[column.group(1)] = literals[0]
    return allowed


def _value(column, i: int, table: str):
    """A value of the column's type; unique per row ``i`` (for keys and unique constraints)."""
    t = column.type
    if isinstance(t, Boolean):
        return i % 2 == 0
    if isinstance(t, DateTime):
        return BASE + timedelta(days=i)
    if isinstance(t, Date):
        return date(2026, 3, 2) + timedelta(days=i)
    if isinstance(t, (Integer, Numeric)) and not isinstance(t, Float):
        return i + 1
    if isinstance(t, Float):
        return 0.5 + i
    if isinstance(t, JSON):
        return [f"{table}-{i}"]
    if isinstance(t, Interval):
        return timedelta(seconds=i + 1)
    if isinstance(t, LargeBinary):
        return bytes([i])
    if isinstance(t, (String, Text)):
        length = getattr(t, "length", None) or 40
        return f"{i}{column.name}"[:length]
    return f"{i}"                        # anything else the migrations may add: text is the safe guess


def fill(url: str) -> dict[str, int]:
    """Give every empty table ROWS rows (parents first) and return the row count of every table."""
    engine = dbmod.make_engine(url)
    try:
        meta = MetaData()
        meta.reflect(bind=engine)
        insp = inspect(engine)          # read before the writing transaction (SQLite: one writer)
        checks = {t.name: _allowed_values(insp, t.name) for t in meta.sorted_tables}
        with engine.begin() as conn:
            for table in meta.sorted_tables:
                if table.name == "alembic_version":
                    continue
                if conn.execute(select(func.count()).select_from(table)).scalar_one():
                    continue
                allowed = checks[table.name]
                parents = {}            # column name → values of the referenced column, in order
                for fk in table.foreign_keys:
                    if fk.column.table is table:
                        continue        # a self-reference stays empty (it is nullable)
                    ref = fk.column
                    parents[fk.parent.name] = list(conn.execute(select(ref).order_by(ref)).scalars())
                for i in range(ROWS):
                    row = {}
                    for column in table.columns:
                        auto = (column.primary_key and isinstance(column.type, Integer) and not column.foreign_keys
                                and column.autoincrement in (True, "auto")
                                and len(table.primary_key.columns) == 1)
                        if auto:
                            continue
                        if any(fk.column.table is table for fk in column.foreign_keys):
                            row[column.name] = None
                        elif column.name in parents:
                            values = parents[column.name]
                            assert values, f"{table.name}.{column.name}: its parent table has no rows"
                            row[column.name] = values[i % len(values)]
                        elif column.name in allowed:
                            row[column.name] = allowed[column.name]
                        else:
                            row[column.name] = _value(column, i, table.name)
                    conn.execute(table.insert().values(**row))
        return counts(url, engine)
    finally:
        engine.dispose()


def counts(url: str, engine=None) -> dict[str, int]:
    own = engine is None
    engine = engine or dbmod.make_engine(url)
    try:
        names = [n for n in inspect(engine).get_table_names() if n != "alembic_version"]
        with engine.connect() as conn:
            return {n: conn.execute(text(f'SELECT count(*) FROM "{n}"')).scalar_one() for n in names}
    finally:
        if own:
            engine.dispose()


def assert_kept(before: dict[str, int], after: dict[str, int], step: str) -> None:
    """Every table present both before and after a step still holds its rows."""
    lost = {t: (before[t], after[t]) for t in before.keys() & after.keys() if after[t] != before[t]}
    assert not lost, f"{step}: rows changed in {lost}"


# --- the walk -----------------------------------------------------------------------------------

def test_every_migration_up_and_down_with_data(empty_url):
    url = empty_url
    revs = revisions(url)
    assert revs[0] == "0001" and len(revs) >= 10
    assert counts(url) == {}
    previous: str | None = None
    for rev in revs:
        dbmod.upgrade(url, rev)
        assert dbmod.current_revision(url) == rev
        filled = fill(url)
        assert all(n >= ROWS for n in filled.values()), f"{rev}: empty tables {filled}"
        dbmod.downgrade(url, previous or "base")
        assert dbmod.current_revision(url) == previous
        down = counts(url)
        assert_kept(filled, down, f"downgrade {rev} → {previous or 'base'}")
        dbmod.upgrade(url, rev)
        up = counts(url)
        assert_kept(down, up, f"upgrade {previous or 'base'} → {rev} again")
        assert set(up) == set(filled), f"{rev}: tables differ after down and up again"
        previous = rev

    # at head, data in every table, then all the way down, one step at a time
    filled = fill(url)
    assert set(filled) and all(n >= ROWS for n in filled.values())
    for rev, below in zip(reversed(revs), list(reversed(revs))[1:] + [None]):
        before = counts(url)
        dbmod.downgrade(url, below or "base")
        assert dbmod.current_revision(url) == below
        assert_kept(before, counts(url), f"downgrade {rev} → {below or 'base'}")
    assert counts(url) == {}
    dbmod.upgrade(url, "head")
    assert dbmod.current_revision(url) == revs[-1]
    assert set(counts(url)) == set(filled)


def test_revisions_come_from_the_script_directory():
    """The walk above covers whatever migrations exist: one line of history from 0001 to head."""
    revs = revisions("sqlite://")
    script = ScriptDirectory.from_config(dbmod.alembic_config("sqlite://"))
    assert revs[-1] == script.get_current_head()
    for older, newer in zip(revs, revs[1:]):
        assert script.get_revision(newer).down_revision == older
