"""The customer page's time slider: the graph, the profile and the segments as of a moment,
with the customer's merges and splits marked on the track."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from app.bench.explorer import ExplorerServer
from app.bootstrap import start
from app.config import Settings
from tests.browser import seed
from tests.browser.conftest import open_page, sign_in_steward
from tests.browser.drawing import assert_shows_graph, draws, graph_state, wait_drawn
from tests.browser.test_explorer import (
    ANNA_AFTER_CUT,
    BRIDGE,
    click_link,
    click_node,
    confirm_reason,
    open_customer,
    wait_node_shown,
)

pytestmark = pytest.mark.browser

# Moments of the seed (tests/browser/seed.py): Anna's first login joins her first cookie
# to her CRM record a day after it; her purchase comes the day after; her second cookie
# joins on day 5; Bert signs up on her laptop on day 10.
LOGIN = "2024-03-02T10:00:00.000000Z"
SECOND_COOKIE = "2024-03-06T10:00:00.000000Z"
BERT_JOINS = "2024-03-11T09:00:00.000000Z"
# Then: her CRM id, e-mail, phone and two cookies; her app device came the next day.
ANNA_THEN = 5


async def _with_buyers(url: str) -> None:
    services = await start(Settings(store=url))
    try:
        await services.segments.define("buyers", "count(purchase) >= 1")
    finally:
        await services.close()


@pytest.fixture
def server(seeded: tuple[Path, Any], tmp_path: Path) -> Iterator[ExplorerServer]:
    """The seeded world with a segment of buyers."""
    source, _ = seeded
    for suffix in ("", "-wal", "-shm"):
        if Path(f"{source}{suffix}").exists():
            shutil.copy(f"{source}{suffix}", tmp_path / f"store.db{suffix}")
    url = f"sqlite:///{tmp_path}/store.db"
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, _with_buyers(url)).result()
    with ExplorerServer(url, log=tmp_path / "server.log") as s:
        yield s


@pytest.fixture
def page(browser: Any, server: ExplorerServer) -> Iterator[Any]:
    with open_page(browser, server) as pg:
        yield pg


def shown(page: Any, moment: str) -> None:
    """Wait until the page shows the customer as of `moment` ("now": as it is)."""
    page.wait_for_selector(f'[data-testid=timebar][data-shown="{moment}"]')
    page.wait_for_selector("#graph[data-state=drawn]")


def mark(page: Any, kind: str, at: str) -> None:
    page.click(f'[data-testid=time-mark][data-kind={kind}][data-at="{at}"]')
    shown(page, at)


def seen_in(page: Any, trait: str) -> str:
    """The "Seen in" cell of a trait in the profile tab."""
    page.click("[data-tab=profile]")
    return page.eval_on_selector(f"[data-testid=trait-{trait}]",
                                 "td => td.parentElement.lastElementChild.textContent")


def segments(page: Any) -> str:
    page.click("[data-tab=segments]")
    return page.text_content("[data-testid=tab-body], .tab-body")


def test_the_graph_profile_and_segments_move_with_the_slider(page, world, shots: Path):
    sign_in_steward(page)
    open_customer(page, world.anna)
    shown(page, "now")
    assert page.get_attribute("[data-testid=timebar]", "class").split() == ["timebar"]

    # a steward cuts Bert off: a split, marked on the slider from then on
    click_link(page, *BRIDGE)
    drawn = draws(page)
    page.click("[data-testid=cut-link]")
    confirm_reason(page, "Bert signed up on Anna's laptop", check=True)
    split = page.wait_for_selector("[data-testid=time-mark][data-kind=split]")
    wait_drawn(page, drawn)  # the customer after the cut, before a moment is picked
    split_at = split.get_attribute("data-at")
    merges = page.eval_on_selector_all("[data-testid=time-mark][data-kind=merge]",
                                       "els => els.map(e => e.dataset.at)")
    assert {LOGIN, SECOND_COOKIE} <= set(merges)

    # when her second cookie joined: no app device, no Bert yet; her purchase was before
    mark(page, "merge", SECOND_COOKIE)
    state = assert_shows_graph(page, shots, "asof-second-cookie", ANNA_THEN)
    assert state["customers"] == [world.anna]
    assert page.text_content("[data-testid=customer-id]") == world.anna
    assert page.text_content("[data-testid=time-label]") == "2024-03-06 10:00 UTC"
    assert seen_in(page, "first_name") == "1 event"
    assert "buyers" in segments(page)
    page.screenshot(path=str(shots / "asof-slider.png"))

    # in the past the page only looks: an identifier offers no action
    click_node(page, f"cookie:{seed.ANNA_COOKIE_1}")
    page.wait_for_selector("[data-testid=node-title]")
    assert page.query_selector("[data-testid=quarantine]") is None

    # before her purchase
    mark(page, "merge", LOGIN)
    assert graph_state(page)["nodes"] == 4  # CRM id, e-mail, phone, first cookie
    assert "Not in any segment" in segments(page)

    # the slider's left end: her first sighting, the CRM record alone
    page.eval_on_selector("[data-testid=time-slider]",
                          "el => { el.value = '0'; el.dispatchEvent(new Event('change')); }")
    shown(page, "2024-03-01T09:00:00Z")
    assert graph_state(page)["nodes"] == 3  # CRM id, e-mail, phone

    # at the split: Bert is a customer of his own, across the banned link
    assert split_at is not None
    mark(page, "split", split_at)
    state = assert_shows_graph(page, shots, "asof-split", ANNA_AFTER_CUT)
    assert len(state["customers"]) == 3  # Anna, Bert and, across the tablet, Carla

    page.click("[data-testid=time-now]")
    shown(page, "now")
    assert graph_state(page)["nodes"] == ANNA_AFTER_CUT
    # Selected through the drawing's own API: at the node's centre a click may land on a
    # link drawn across it in this layout (clicks on nodes are tested in test_explorer).
    page.evaluate("""key => { const cy = window.__idgraph.cy;
      cy.elements().unselect(); cy.getElementById(key).select(); }""",
                  f"cookie:{seed.ANNA_COOKIE_1}")
    wait_node_shown(page, seed.ANNA_COOKIE_1)
    page.wait_for_selector("[data-testid=quarantine]")  # in the present it acts again


def test_an_address_opens_the_customer_as_of_its_moment(page, world):
    sign_in_steward(page)
    # Bert's signup on her laptop: his e-mail hers (growth, not a merge: it was new)
    page.goto(f"/explorer/#/customer/{world.anna}?asOf={BERT_JOINS}")
    shown(page, BERT_JOINS)
    wait_drawn(page)
    assert graph_state(page)["nodes"] == ANNA_THEN + 2  # her app device, Bert's e-mail
    assert page.text_content("[data-testid=time-label]") == "2024-03-11 09:00 UTC"
    assert seen_in(page, "first_name") == "2 events"  # her CRM record and his signup
    # before her first event there was no customer
    page.goto(f"/explorer/#/customer/{world.anna}?asOf=2024-02-01T00:00:00Z")
    shown(page, "2024-02-01T00:00:00Z")
    assert "No customer yet" in page.text_content("[data-testid=time-note]")
    assert graph_state(page)["nodes"] == 0
