"""A customer of 300 identifiers in the explorer: every identifier is drawn, none on top of
another, and next to a neighbouring customer each customer keeps a box of its own. Large
graphs are placed as a balloon tree (explorer/src/placement.ts), not by fcose."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from app.bench.explorer import ExplorerServer, component_events
from tests.browser.conftest import open_page, sign_in_steward
from tests.browser.drawing import assert_shows_graph

pytestmark = pytest.mark.browser

IDENTIFIERS = 300
BENCH_EMAIL = "email:bench.customer@example.com"
NEIGHBOUR_EMAIL = "neighbour@example.net"
NEIGHBOUR_COOKIES = 40

# The least distance between two identifiers' centres, in the drawing's own units: a large
# graph's identifiers are 16 across.
NODE_SIZE = 16

LAYOUT = """() => {
  const cy = window.__idgraph.cy;
  const points = cy.nodes("[kind = 'identifier']").map((n) => n.position());
  let closest = Infinity;
  for (let i = 0; i < points.length; i++)
    for (let j = i + 1; j < points.length; j++)
      closest = Math.min(closest, Math.hypot(points[i].x - points[j].x, points[i].y - points[j].y));
  return { closest, boxes: cy.nodes("[kind = 'customer']").map((n) => n.boundingBox()) };
}"""


def large_events() -> list[dict[str, Any]]:
    """The benchmark's customer of 300 identifiers, and a neighbour (a CRM id, an e-mail
    and 40 cookies) who logged in once on one of its devices: one CRM id per customer, so
    that link is rejected and the two stay apart, one hop from each other."""
    events = component_events(IDENTIFIERS)

    def add(ids: list[tuple[str, str]], type_: str = "login", source: str = "web") -> None:
        n = len(events)
        events.append({"event_id": f"neighbour-{n:05d}", "type": type_, "source": source,
                       "timestamp": f"2025-06-{1 + n % 28:02d}T{n % 24:02d}:00:00Z",
                       "identifiers": [{"type": t, "value": v} for t, v in ids]})

    add([("crm_id", "C-NEIGHBOUR"), ("email", NEIGHBOUR_EMAIL)], "crm_record", "crm")
    for c in range(NEIGHBOUR_COOKIES):
        add([("cookie", f"neighbour-cookie-{c:03d}"), ("email", NEIGHBOUR_EMAIL)])
    add([("device_id", "bench-device-000"), ("email", NEIGHBOUR_EMAIL)])
    return events


async def seed_large(store_url: str) -> tuple[str, str]:
    from app.bootstrap import start
    from app.config import Settings

    services = await start(Settings(store=store_url))
    try:
        events = large_events()
        await services.ingest.ingest_raw((e["event_id"], e) for e in events)
        owners = await services.store.owners([BENCH_EMAIL, f"email:{NEIGHBOUR_EMAIL}"])
        return owners[BENCH_EMAIL], owners[f"email:{NEIGHBOUR_EMAIL}"]
    finally:
        await services.close()


@pytest.fixture(scope="module")
def large(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ExplorerServer, str, str]]:
    folder = tmp_path_factory.mktemp("explorer-large")
    store = f"sqlite:///{folder}/large.db"
    # in a thread of its own: Playwright's sync API keeps an event loop in this one
    with ThreadPoolExecutor(1) as pool:
        customer, neighbour = pool.submit(asyncio.run, seed_large(store)).result()
    with ExplorerServer(store, log=folder / "server.log") as server:
        yield server, customer, neighbour


@pytest.fixture
def page(browser: Any, large: tuple[ExplorerServer, str, str]) -> Iterator[Any]:
    with open_page(browser, large[0]) as pg:
        sign_in_steward(pg)
        yield pg


def open_customer(page: Any, customer: str, depth: int) -> dict[str, Any]:
    page.goto(f"/explorer/#/customer/{customer}?depth={depth}")
    page.wait_for_selector("#graph[data-state=drawn]")
    return page.evaluate(LAYOUT)


def overlap(a: dict[str, float], b: dict[str, float]) -> bool:
    return a["x1"] < b["x2"] and b["x1"] < a["x2"] and a["y1"] < b["y2"] and b["y1"] < a["y2"]


def test_a_customer_of_300_identifiers_is_drawn_whole_with_no_identifier_on_another(
        page, large, shots: Path):
    _, customer, _ = large
    layout = open_customer(page, customer, 0)
    state = assert_shows_graph(page, shots, "large-300", IDENTIFIERS)
    assert state["customers"] == [customer]
    assert layout["closest"] >= NODE_SIZE, layout["closest"]


@pytest.mark.parametrize("depth, neighbours", [(1, 1), (2, 2 + NEIGHBOUR_COOKIES)])
def test_next_to_a_neighbour_each_customer_keeps_a_box_of_its_own(
        page, large, shots: Path, depth: int, neighbours: int):
    _, customer, neighbour = large
    layout = open_customer(page, customer, depth)
    state = assert_shows_graph(page, shots, f"large-300-depth-{depth}", IDENTIFIERS + neighbours)
    assert state["customers"] == sorted([customer, neighbour])
    assert layout["closest"] >= NODE_SIZE, layout["closest"]
    [a, b] = layout["boxes"]
    assert not overlap(a, b), layout["boxes"]
