"""Browser tests of the explorer: real headless Chromium (Debian's /usr/bin/chromium) driven
by Playwright, against `python -m app.web` (the API with the explorer mounted) on a free
loopback port, over a SQLite store seeded through the services (tests/browser/seed.py).

Every test gets a fresh copy of the seeded store and its own server, so actions in one test
do not leak into another. Every request the page makes is recorded, and each test checks at
its end that none went to a host other than the app's. Screenshots go to a temporary
folder (IDGRAPH_SCREENSHOTS to keep them somewhere else).

Like the Neo4j tests, these fail rather than skip when their tools are missing: install
Chromium with `apt-get install -y chromium` and Playwright with `pip install playwright`
(never `playwright install`: no browser is downloaded).
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from app.bench.explorer import (
    CHROMIUM,
    CHROMIUM_ARGS,
    READER_KEY,
    STEWARD_KEY,
    VIEWPORT,
    ExplorerServer,
    chromium_missing,
)
from tests.browser.matched import with_matcher
from tests.browser.seed import World, seed_store

# generous: the machine running the tests may be busy; a wait for the right state costs
# nothing more when it comes early
TIMEOUT_MS = 30_000


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "browser: drives the explorer in headless Chromium (apt package chromium, "
        "pip package playwright)")


@pytest.fixture(scope="session")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, World]:
    """The seeded store, once per session: each test copies it."""
    folder = tmp_path_factory.mktemp("explorer-seed")
    # in a thread of its own: Playwright's sync API keeps an event loop in this one
    with ThreadPoolExecutor(1) as pool:
        world = pool.submit(asyncio.run, seed_store(f"sqlite:///{folder}/seed.db")).result()
    return folder / "seed.db", world


@pytest.fixture
def world(seeded: tuple[Path, World]) -> World:
    return seeded[1]


def copied_store(seeded: tuple[Path, World], folder: Path) -> str:
    """A copy of the seeded store in `folder`; its URL."""
    source, _ = seeded
    for suffix in ("", "-wal", "-shm"):
        if Path(f"{source}{suffix}").exists():
            shutil.copy(f"{source}{suffix}", folder / f"store.db{suffix}")
    return f"sqlite:///{folder}/store.db"


@pytest.fixture
def server(seeded: tuple[Path, World], tmp_path: Path) -> Iterator[ExplorerServer]:
    with ExplorerServer(copied_store(seeded, tmp_path), log=tmp_path / "server.log") as s:
        yield s


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Module-scoped: Playwright's sync API runs an event loop in this thread while it is
    open, and the async tests that follow need the thread to themselves."""
    if reason := chromium_missing():
        pytest.fail(f"browser tests need Chromium and Playwright: {reason}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="session")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    keep = os.environ.get("IDGRAPH_SCREENSHOTS")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        return Path(keep)
    return tmp_path_factory.mktemp("explorer-screenshots")


class Requests:
    """Every request the page made, to check that it went to the app and nowhere else."""

    def __init__(self, base_url: str) -> None:
        self.base = urlsplit(base_url)
        self.urls: list[str] = []

    def record(self, request: Any) -> None:
        self.urls.append(request.url)

    def foreign(self) -> list[str]:
        out = []
        for url in self.urls:
            parts = urlsplit(url)
            if parts.scheme in ("data", "blob"):
                continue  # inline, fetched from no host
            if (parts.scheme, parts.hostname, parts.port) != (
                    self.base.scheme, self.base.hostname, self.base.port):
                out.append(url)
        return out


@contextmanager
def open_page(browser: Any, server: ExplorerServer) -> Iterator[Any]:
    """A page in a fresh browser context on `server`; on leaving, checks that the page made
    requests, none of them to another host, and raised no error."""
    context = browser.new_context(viewport=VIEWPORT, base_url=server.url)
    requests = Requests(server.url)
    context.on("request", requests.record)
    errors: list[str] = []
    pg = context.new_page()
    pg.set_default_timeout(TIMEOUT_MS)
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.requests = requests
    try:
        yield pg
    finally:
        context.close()
    assert requests.urls, "the page made no request at all"
    assert not requests.foreign(), f"requests to other hosts: {requests.foreign()}"
    assert not errors, f"errors in the page: {errors}"


@pytest.fixture
def page(browser: Any, server: ExplorerServer) -> Iterator[Any]:
    with open_page(browser, server) as pg:
        yield pg


def sign_in(page: Any, key: str) -> None:
    """Open the explorer and sign in through its form."""
    page.goto("/explorer/")
    page.fill("[data-testid=api-key]", key)
    page.click("[data-testid=sign-in]")
    page.wait_for_selector("[data-testid=role]")


def sign_in_steward(page: Any) -> None:
    sign_in(page, STEWARD_KEY)


def sign_in_reader(page: Any) -> None:
    sign_in(page, READER_KEY)


@pytest.fixture
def matched(seeded: tuple[Path, World], tmp_path: Path) -> Iterator[ExplorerServer]:
    url = copied_store(seeded, tmp_path)
    # in a thread of its own: Playwright's sync API keeps an event loop in this one
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, with_matcher(url)).result()
    with ExplorerServer(url, log=tmp_path / "server.log") as s:
        yield s
