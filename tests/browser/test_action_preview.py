"""Every steward action shows what it will do before it is confirmed: the explorer asks
`previewAction` and shows the customers that merge, split, gain or lose identifiers and the
segments each enters or leaves, in the reason dialog. Nothing is written until Confirm;
Confirm writes exactly what was shown; Cancel writes nothing; a double click on Confirm is
one action. The store is read through the API, as another client would see it."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.bench.explorer import READER_KEY, STEWARD_KEY, ExplorerServer
from tests.browser import seed
from tests.browser.conftest import sign_in_steward
from tests.browser.seed import World
from tests.browser.test_explorer import BRIDGE, click_link, open_customer

pytestmark = pytest.mark.browser

ADMIN_KEY = "preview-admin-key"
# Bert's call is the only one about an invoice: while Bert is part of Anna, Anna is in the
# segment; cut him off and she leaves it, and his new customer enters it.
SEGMENT = "invoice_callers"
SEGMENT_RULE = 'count(call where topic = "invoice") >= 1'
WATCHED = (*seed.ANNA_KEYS, *seed.BERT_KEYS, f"email:{seed.ANA_EMAIL}",
           f"cookie:{seed.ANA_COOKIE}")
READY = "dialog[open] [data-testid=preview][data-state=ready]"


@pytest.fixture
def server(seeded: tuple[Path, World], tmp_path: Path) -> Iterator[ExplorerServer]:
    """The seeded store with an admin key too, and the segment defined through the API."""
    source, _ = seeded
    for suffix in ("", "-wal", "-shm"):
        if Path(f"{source}{suffix}").exists():
            shutil.copy(f"{source}{suffix}", tmp_path / f"store.db{suffix}")
    keys = {STEWARD_KEY: "steward", READER_KEY: "reader", ADMIN_KEY: "admin"}
    with ExplorerServer(f"sqlite:///{tmp_path}/store.db", keys=keys,
                        log=tmp_path / "server.log") as s:
        defined = graphql(s, "mutation($id: ID!, $d: String!) { defineSegment(id: $id, "
                          "definition: $d) { __typename } }", ADMIN_KEY, id=SEGMENT,
                          d=SEGMENT_RULE)
        assert defined["defineSegment"]["__typename"] == "SegmentDefined", defined
        yield s


def graphql(server: ExplorerServer, query: str, key: str = STEWARD_KEY,
            **variables: Any) -> dict[str, Any]:
    answer = httpx.post(f"{server.url}/graphql", json={"query": query, "variables": variables},
                        headers={"Authorization": f"Bearer {key}"}, timeout=30).json()
    assert not answer.get("errors"), answer
    return answer["data"]


def store_state(server: ExplorerServer, customers: list[str]) -> dict[str, Any]:
    """What the store holds for the test's identifiers and customers: each identifier's
    customer, each customer's segments, and the audit log's entries."""
    fields = [f'k{n}: identifier(type: {json.dumps(k.partition(":")[0])}, '
              f'value: {json.dumps(k.partition(":")[2])}) {{ customer {{ id }} }}'
              for n, k in enumerate(WATCHED)]
    fields += [f"c{n}: customer(id: {json.dumps(c)}) {{ id segments {{ segmentId }} }}"
               for n, c in enumerate(customers)]
    audit = ("auditLog(first: 100) { ... on AuditConnection { edges { node { seq action "
             "target } } } }")
    data = graphql(server, f"{{ {' '.join(fields)} {audit} }}")
    return {
        "owners": {k: (data[f"k{n}"]["customer"] or {}).get("id")
                   for n, k in enumerate(WATCHED)},
        "segments": {c: sorted(s["segmentId"] for s in data[f"c{n}"]["segments"])
                     if data[f"c{n}"] else None for n, c in enumerate(customers)},
        "audit": [e["node"] for e in data["auditLog"]["edges"]],
    }


def preview_lines(page: Any, kind: str) -> list[dict[str, str]]:
    return page.eval_on_selector_all(
        f"dialog[open] [data-testid=preview-{kind}]",
        "els => els.map(e => ({customer: e.dataset.customer, change: e.dataset.change, "
        "segment: e.dataset.segment || '', text: e.textContent}))")


def open_cut_dialog(page: Any, world: World) -> None:
    sign_in_steward(page)
    open_customer(page, world.anna)
    click_link(page, *BRIDGE)
    page.click("[data-testid=cut-link]")


@pytest.mark.parametrize("width", [800, 1280])
def test_cutting_a_link_shows_the_split_and_the_segments_first_then_does_exactly_that(
        page, server, world, shots: Path, width: int):
    page.set_viewport_size({"width": width, "height": 900})
    before = store_state(server, [world.anna])
    assert before["segments"][world.anna] == [SEGMENT]
    open_cut_dialog(page, world)
    page.wait_for_selector(READY)

    # the dialog says which identifiers leave Anna, for a new customer, and the segments
    [anna] = [c for c in preview_lines(page, "customer") if c["customer"] == world.anna]
    assert anna["change"] == "split" and "(this customer)" in anna["text"]
    lost = set(re.findall(r"\b\w+:[^\s,]+", anna["text"].split("loses", 1)[1]))
    assert lost == set(seed.BERT_KEYS)
    [new] = [c for c in preview_lines(page, "customer") if c["change"] == "new"]
    assert "gains 3 identifiers" in new["text"]
    segments = {(s["customer"], s["segment"], s["change"]) for s in preview_lines(page, "segment")}
    assert segments == {(world.anna, SEGMENT, "LEFT"), (new["customer"], SEGMENT, "ENTERED")}
    summary = page.text_content("dialog[open] [data-testid=preview-summary]")
    assert "1 split" in summary and "segments: 1 in, 1 out" in summary
    # focus is in the dialog, which the preview describes to a screen reader
    assert page.evaluate("document.activeElement.closest('dialog[open]') !== null")
    described = page.get_attribute("dialog[open]", "aria-describedby")
    assert described and page.get_attribute(f"#{described}", "data-testid") == "preview"
    box = page.locator("dialog[open] [data-testid=preview]").bounding_box()
    assert box and box["x"] >= 0 and box["x"] + box["width"] <= width
    page.screenshot(path=str(shots / f"preview-cut-{width}.png"))

    # nothing written while the steward reads it
    assert store_state(server, [world.anna]) == before

    page.fill("dialog[open] [data-testid=reason]", "Bert signed up on Anna's laptop")
    page.click("dialog[open] [data-testid=confirm]")
    outcome = page.wait_for_selector("[data-testid=split-outcome]")
    bert = re.search(r"(c_[0-9a-f]+) split off", outcome.text_content())
    assert bert, outcome.text_content()
    after = store_state(server, [world.anna, bert.group(1)])
    moved = {k for k in WATCHED if after["owners"][k] != before["owners"][k]}
    assert moved == lost
    assert {after["owners"][k] for k in lost} == {bert.group(1)}
    assert after["segments"] == {world.anna: [], bert.group(1): [SEGMENT]}
    assert len(after["audit"]) == len(before["audit"]) + 1


def test_cancel_after_the_preview_of_an_accept_writes_nothing(page, server, world, shots: Path):
    before = store_state(server, [world.anna, world.ana])
    sign_in_steward(page)
    page.goto("/explorer/#/review")
    page.wait_for_selector("[data-testid=review-item]")
    page.keyboard.press("a")
    page.wait_for_selector(READY)
    changes = {c["customer"]: c["change"] for c in preview_lines(page, "customer")}
    # Ana's two identifiers join Anna: Ana merges away into her
    assert changes == {world.ana: "merged", world.anna: "changed"}
    gains = page.text_content(f"dialog[open] [data-customer={world.anna}] "
                              "[data-testid=preview-gains]")
    assert f"email:{seed.ANA_EMAIL}" in gains and f"cookie:{seed.ANA_COOKIE}" in gains
    summary = page.text_content("dialog[open] [data-testid=preview-summary]")
    assert "1 merge · 2 identifiers move" in summary, summary
    page.screenshot(path=str(shots / "preview-accept.png"))
    page.keyboard.type("looks like the same person")
    page.keyboard.press("Escape")
    page.wait_for_selector("dialog[open]", state="detached")
    assert store_state(server, [world.anna, world.ana]) == before
    # the item is still there, and the keyboard flow goes on: accept it after all
    page.keyboard.press("a")
    page.wait_for_selector(READY)
    page.keyboard.type("same name, birth date and address")
    page.keyboard.press("Enter")
    page.wait_for_selector("[data-testid=merge-outcome]")
    after = store_state(server, [world.anna])
    assert after["owners"][f"email:{seed.ANA_EMAIL}"] == world.anna
    assert len(after["audit"]) == len(before["audit"]) + 1


def test_a_double_click_on_confirm_is_one_action_and_the_dialog_waits_for_it(
        page, server, world):
    before = store_state(server, [world.anna])
    held: list[Any] = []

    def hold_mutations(route: Any) -> None:
        if json.loads(route.request.post_data or "{}").get("query", "").startswith("mutation"):
            held.append(route)
        else:
            route.continue_()

    page.route("**/graphql", hold_mutations)
    open_cut_dialog(page, world)
    page.wait_for_selector(READY)
    page.fill("dialog[open] [data-testid=reason]", "not the same person")
    page.dblclick("dialog[open] [data-testid=confirm]")
    # while the mutation runs the dialog stays, busy, its buttons disabled; Esc does not close it
    page.wait_for_selector("dialog[open][aria-busy=true]")
    assert page.is_disabled("dialog[open] [data-testid=confirm]")
    assert page.is_disabled("dialog[open] [data-testid=cancel]")
    page.keyboard.press("Escape")
    assert page.is_visible("dialog[open]")
    assert len(held) == 1
    held[0].continue_()
    page.wait_for_selector("[data-testid=split-outcome]")
    page.wait_for_selector("dialog[open]", state="detached")
    page.unroute("**/graphql")
    assert len(held) == 1
    after = store_state(server, [world.anna])
    assert len(after["audit"]) == len(before["audit"]) + 1


def test_an_action_that_changes_no_customer_says_so(page, server, world):
    """Anna's CRM record tied her CRM id, e-mail and phone together, and a call her phone
    and CRM id again: cutting that link changes no customer, and the dialog says so."""
    before = store_state(server, [world.anna])
    sign_in_steward(page)
    open_customer(page, world.anna)
    click_link(page, f"crm_id:{seed.ANNA_CRM}", f"phone:{seed.ANNA_PHONE}")
    page.click("[data-testid=cut-link]")
    page.wait_for_selector("dialog[open] [data-testid=preview][data-state=none]")
    assert "No change" in page.text_content("dialog[open] [data-testid=preview-none]")
    page.click("dialog[open] [data-testid=cancel]")
    page.wait_for_selector("dialog[open]", state="detached")
    assert store_state(server, [world.anna]) == before


def test_merging_from_the_header_previews_once_the_other_id_is_typed(page, server, world):
    sign_in_steward(page)
    open_customer(page, world.anna)
    page.click("[data-testid=merge-customers]")
    page.wait_for_selector("dialog[open] [data-testid=preview][data-state=waiting]")
    page.fill("dialog[open] [data-testid=reason]", "the same person")
    assert page.is_disabled("dialog[open] [data-testid=confirm]")
    page.fill("dialog[open] [data-testid=reason-field]", "c_nobody")
    page.wait_for_selector("dialog[open] [data-testid=preview][data-state=refused]")
    assert page.is_disabled("dialog[open] [data-testid=confirm]")
    page.fill("dialog[open] [data-testid=reason-field]", world.ana)
    page.wait_for_selector(READY)
    changes = {c["customer"]: c["change"] for c in preview_lines(page, "customer")}
    assert changes == {world.ana: "merged", world.anna: "changed"}
    assert page.is_enabled("dialog[open] [data-testid=confirm]")
