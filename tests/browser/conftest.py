"""A real engine (FastAGI on a free port) and its web listener with the console (uvicorn in a
thread, as ``hotline serve`` runs it), over a migrated SQLite copy; Debian's Chromium driven by
Playwright. Screenshots go to tests/artifacts/screenshots/ (gitignored)."""
from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.browser.seed import PASSWORD, Seeded, seed
from tests.e2e.conftest import Running, make_engine  # noqa: F401 - the fixture, shared with e2e

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
SCREENSHOTS = Path(__file__).resolve().parents[1] / "artifacts" / "screenshots"
LAPTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}


@dataclass
class Site:
    running: Running
    base: str
    seeded: Seeded

    @property
    def engine(self):
        return self.running.engine

    @property
    def fastagi_port(self) -> int:
        return self.running.port


@pytest.fixture(scope="module")
def browser():
    if not os.path.exists(CHROMIUM) or shutil.which("chromium") is None:
        message = f"Debian's Chromium is not installed at {CHROMIUM} (scripts/test.sh installs it)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def site(make_engine):  # noqa: F811 - the imported fixture
    from web.app import create_app
    from web.console import console_routes
    from web.server import WebListener

    running = make_engine()
    seeded = seed(running.engine)
    listener = WebListener(create_app(running.engine, extra_routes=console_routes(running.engine)), "127.0.0.1", 0,
                           shutdown_grace=2)
    port = listener.start()
    yield Site(running, f"http://127.0.0.1:{port}", seeded)
    listener.stop(5)


@pytest.fixture
def context(browser):
    ctx = browser.new_context(viewport=LAPTOP, locale="zh-CN", timezone_id="Asia/Shanghai")
    ctx.set_default_timeout(15_000)
    yield ctx
    ctx.close()


@pytest.fixture
def page(context):
    return context.new_page()


def login(page, site: Site, name: str, password: str = PASSWORD):
    page.goto(site.base + "/console/login")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", password)
    with page.expect_navigation():
        page.click("button[type=submit]")
    return page


def shot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
