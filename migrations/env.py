"""Alembic environment. Migrations are hand-written; the URL comes from core.db.alembic_config."""
from __future__ import annotations

from alembic import context
from sqlalchemy import pool

from core.db import make_engine

config = context.config


def run_migrations_online() -> None:
    url = config.get_main_option("sqlalchemy.url")
    engine = make_engine(url) if url.startswith("sqlite") else make_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        raw = connection.connection.driver_connection if sqlite else None
        if sqlite:
            # batch mode rebuilds a table (copy, drop, rename); with foreign keys enforced that fails
            # as soon as another table's rows point at it. Off for the migration (outside any
            # transaction: SQLite ignores the pragma inside one), checked afterwards, then on again.
            raw.execute("PRAGMA foreign_keys=OFF")
        try:
            context.configure(connection=connection, render_as_batch=sqlite)
            with context.begin_transaction():
                context.run_migrations()
            if sqlite:
                broken = raw.execute("PRAGMA foreign_key_check").fetchall()
                if broken:
                    raise RuntimeError(f"migration left rows whose foreign keys point nowhere: {broken[:5]}")
        finally:
            if sqlite:
                raw.execute("PRAGMA foreign_keys=ON")
    engine.dispose()


def run_migrations_offline() -> None:
    context.configure(url=config.get_main_option("sqlalchemy.url"), literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
