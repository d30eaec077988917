"""A real engine with a real FastAGI server on a free port, over a migrated SQLite copy."""
from __future__ import annotations

import shutil
from dataclasses import dataclass

import pytest

from core.config import load_settings
from core.db import Database
from hotline.bootstrap import build_engine
from ivr.fastagi import FastAGIServer
from ivr.routes import AGIApplication


@dataclass
class Running:
    engine: object
    server: FastAGIServer
    port: int

    def session(self):
        """A database session that sees every call record written so far (they are written behind the call)."""
        self.engine.db.sync()
        return self.engine.db.session()


@pytest.fixture
def make_engine(tmp_path, sqlite_template):
    """Start engines with optional setting overrides; all are shut down after the test."""
    started: list[Running] = []

    def start(max_calls: int = 300, accept_queue: int = 300, socket_timeout: float = 30, hubs: int = 1,
              **overrides) -> Running:
        import tests.conftest as c

        c._import_models()
        data = tmp_path / f"var{len(started)}"
        data.mkdir()
        shutil.copyfile(sqlite_template, data / "hotline.db")
        settings = load_settings(env={}, data_dir=data, **overrides)
        engine = build_engine(settings, db=Database(settings.db_url))
        server = FastAGIServer(AGIApplication(engine), "127.0.0.1", 0, max_calls=max_calls,
                               accept_queue=accept_queue, socket_timeout=socket_timeout, hubs=hubs)
        running = Running(engine, server, server.start())
        started.append(running)
        return running

    yield start
    for r in started:
        r.server.shutdown(grace=5)
        r.engine.close()


@pytest.fixture
def running(make_engine) -> Running:
    return make_engine()
