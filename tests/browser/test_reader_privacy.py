"""The explorer's own API calls, made by a reader: every answer the page receives, and the
page itself, hold no spelling of a customer's personal values (tests/privacy_data.py).
The reader searches by name and by a raw phone number, opens the customer, draws the
graph at every depth, opens every tab, an identifier's explanation and two links'
evidence, one of them removed with a steward's reason that names her."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from app.bench.explorer import ExplorerServer
from tests.browser.conftest import open_page, sign_in_reader
from tests.browser.drawing import draws, wait_drawn
from tests.browser.test_explorer import click_link, click_node, search
from tests.privacy_data import COOKIE, OTHER_COOKIE, seed_services, traces

pytestmark = pytest.mark.browser
TYPED = ("maartje van dijk", "06 2222 3333")  # the reader's searches
TAB_CONTENT = {"profile": "profile", "identifiers": "identifiers", "timeline": "timeline",
               "history": "history", "segments": "segments"}


async def seed(store_url: str) -> str:
    from app.bootstrap import start
    from app.config import Settings

    services = await start(Settings(store=store_url))
    try:
        return await seed_services(services)
    finally:
        await services.close()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[ExplorerServer, str]]:
    url = f"sqlite:///{tmp_path}/privacy.db"
    with ThreadPoolExecutor(1) as pool:  # Playwright's sync API keeps a loop in this thread
        customer = pool.submit(asyncio.run, seed(url)).result()
    with ExplorerServer(url, log=tmp_path / "server.log") as server:
        yield server, customer


def test_the_explorer_shows_a_reader_no_spelling_of_a_personal_value(browser, served):
    server, customer = served
    answers: list[Any] = []
    with open_page(browser, server) as page:
        page.on("response", lambda r: answers.append(r) if r.url.endswith("/graphql") else None)
        sign_in_reader(page)
        for typed in TYPED:
            assert customer in search(page, typed)
        page.click(f"[data-testid=search-result][data-customer='{customer}']")
        wait_drawn(page)
        for depth in (2, 3, 0, 1):
            drawn = draws(page)
            page.click(f"[data-depth='{depth}']")
            wait_drawn(page, drawn)
        for tab, content in TAB_CONTENT.items():
            page.click(f"[data-tab={tab}]")
            page.wait_for_selector(f"[data-testid={content}]")
        click_node(page, "email:m***@example.com")
        page.wait_for_selector("[data-testid=explain-path] li")
        click_link(page, f"cookie:{OTHER_COOKIE}", "phone:***3333")
        page.wait_for_selector("[data-testid=link-reason]:has-text('shown to stewards')")
        click_link(page, f"cookie:{COOKIE}", "email:m***@example.com")
        page.wait_for_selector(f"[data-testid=link-title]:has-text('{COOKIE}')")
        content = page.content()
        # Chromium hands DevTools no body for a 401 with its WWW-Authenticate challenge
        # (reading it never returns); the one before sign-in is a fixed refusal anyway.
        bodies = [a.text() for a in answers if a.status != 401]
    assert len(bodies) >= 10
    assert traces(content) == []
    for body in bodies:
        assert traces(without_typed(body)) == [], body[:200]
    assert "m***@example.com" in content


def without_typed(body: str) -> str:
    """An answer without what the reader typed: an error may quote it back ("email
    identifier 'maartje van dijk': ..."), which shows the reader nothing of the store."""
    for typed in TYPED:
        body = body.replace(typed, "")
    return body
