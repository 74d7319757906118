"""The explorer in a real browser: a steward finds a customer, reads every link's evidence,
cuts a link and sees the customer split, undoes it from the audit log, and works the review
queue; a reader sees masked values and no actions. Each test saves screenshots and checks
that they show the graph with the expected number of identifiers, and (in the `page`
fixture) that the page asked no host but the app's."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.browser import seed
from tests.browser.conftest import sign_in_reader, sign_in_steward
from tests.browser.drawing import (
    assert_shows_graph,
    draws,
    graph_state,
    screen_point,
    wait_drawn,
)

pytestmark = pytest.mark.browser

# Anna's graph at depth 1: her 7 identifiers and Bert's 3 (one customer until the cut),
# and, one hop out, Carla's e-mail (a rejected link), the blocked test@test.com and the
# quarantined call-centre hub.
OUTSIDE = 3
ANNA_GRAPH_NODES = len(seed.ANNA_KEYS) + len(seed.BERT_KEYS) + OUTSIDE
# After the cut, Bert's e-mail is one hop out (across the banned link), his cookie and
# phone two.
ANNA_AFTER_CUT = len(seed.ANNA_KEYS) + 1 + OUTSIDE
BRIDGE = (f"cookie:{seed.ANNA_COOKIE_2}", f"email:{seed.BERT_EMAIL}")


# The page's timers, each 1.5 s late: what the page does a moment after something happens
# waits that much longer, as on a loaded machine.
LATE_TIMERS = """() => {
  const later = window.setTimeout;
  window.setTimeout = (f, ms, ...args) => later(f, (ms || 0) + 1500, ...args);
}"""


def open_customer(page: Any, customer: str) -> None:
    page.goto(f"/explorer/#/customer/{customer}")
    wait_drawn(page)


def search(page: Any, text: str) -> list[str]:
    """Search from the search page; the customer ids of the results."""
    page.goto("/explorer/#/")
    page.wait_for_selector("[data-testid=results-count], [data-testid=no-results]",
                           state="detached")
    page.fill("[data-testid=search-input]", text)
    page.press("[data-testid=search-input]", "Enter")
    page.wait_for_selector("[data-testid=results-count], [data-testid=no-results]")
    return page.eval_on_selector_all("[data-testid=search-result]",
                                     "els => els.map(e => e.dataset.customer || '')")


def click_link(page: Any, a: str, b: str) -> None:
    """Click the drawn edge between two identifiers, where it is on the screen."""
    point = screen_point(page, a, b)
    page.mouse.click(point["x"], point["y"])


def click_node(page: Any, key: str) -> None:
    point = screen_point(page, key)
    page.mouse.click(point["x"], point["y"])


def wait_link_shown(page: Any, a: str, b: str) -> None:
    """Wait until the inspector shows the link between a and b: an inspector element
    alone may still be the one of the previous click."""
    page.wait_for_function("""([a, b]) => {
      const keys = [...document.querySelectorAll('[data-testid=link-title] .key')]
        .map(e => e.title);
      return keys.length === 2 && keys.includes(a) && keys.includes(b);
    }""", arg=[a, b])


def wait_node_shown(page: Any, value: str) -> None:
    """Wait until the inspector shows the identifier whose value (as the page shows it)
    is `value`."""
    page.wait_for_function("""value => {
      const title = document.querySelector('[data-testid=node-title]');
      return !!title && title.textContent === value;
    }""", arg=value)


def bars(page: Any, testid: str) -> dict[str, float]:
    """The weight bars shown, by comparison: their values as the page prints them."""
    return dict(page.eval_on_selector_all(f"[data-testid={testid}]", """rows => rows.map(r =>
      [r.dataset.comparison, Number(r.querySelector('.weight-value').textContent)])"""))


def confirm_reason(page: Any, reason: str, *, check: bool = False) -> None:
    page.wait_for_selector("dialog[open] [data-testid=reason]")
    page.fill("dialog[open] [data-testid=reason]", reason)
    if check:
        page.check("dialog[open] [data-testid=reason-check]")
    page.click("dialog[open] [data-testid=confirm]")
    page.wait_for_selector("dialog[open]", state="detached")


def test_a_steward_finds_a_customer_by_any_spelling_name_or_id(page, world, shots: Path):
    sign_in_steward(page)
    # a phone number as the call centre typed it, an e-mail in capitals, a name, the id
    for text in (seed.ANNA_PHONE_RAW, seed.ANNA_EMAIL.upper(), "Anna de Vries", world.anna,
                 f"crm_id:{seed.ANNA_CRM}"):
        assert search(page, text)[0] == world.anna, text
    page.screenshot(path=str(shots / "search.png"))
    assert search(page, "nobody-at-all@example.invalid") == []

    search(page, seed.ANNA_PHONE_RAW)
    page.click(f"[data-testid=search-result][data-customer='{world.anna}']")
    wait_drawn(page)
    assert page.text_content("[data-testid=customer-name]") == "Anna de Vries"
    state = assert_shows_graph(page, shots, "search-open-graph", ANNA_GRAPH_NODES)
    assert state["customers"] == sorted([world.anna, world.carla])
    # the profile shows each trait with its source; the identifiers tab the raw values
    assert page.text_content("[data-testid=trait-last_name]") == "de Vries"
    page.click("[data-tab=identifiers]")
    values = page.eval_on_selector_all("[data-testid=identifier-value]",
                                       "els => els.map(e => e.firstChild.textContent)")
    assert seed.ANNA_PHONE in values and seed.ANNA_EMAIL in values


def test_a_link_shows_its_evidence_and_an_identifier_its_explanation(page, world, shots: Path):
    sign_in_steward(page)
    open_customer(page, world.anna)
    assert_shows_graph(page, shots, "graph", ANNA_GRAPH_NODES)

    # hover: a summary; click: the events and sources that made the link
    point = screen_point(page, *BRIDGE)
    page.mouse.move(point["x"], point["y"])
    tip = page.wait_for_selector("[data-testid=tooltip-edge]")
    assert "1 event" in tip.text_content() and "web" in tip.text_content()
    click_link(page, *BRIDGE)
    wait_link_shown(page, *BRIDGE)
    assert page.text_content("[data-testid=evidence-count]") == "1"
    assert page.text_content("[data-testid=evidence-sources]").strip() == "web"
    assert page.text_content("[data-testid=evidence-events]").strip() == seed.BRIDGE_EVENT
    assert_shows_graph(page, shots, "link-evidence", ANNA_GRAPH_NODES)

    # a rejected link says which rule keeps it out
    rejected = (f"device_id:{seed.TABLET}", f"email:{seed.CARLA_EMAIL}")
    click_link(page, *rejected)
    wait_link_shown(page, *rejected)
    assert "at most 1 crm_id per customer" in page.text_content("[data-testid=link-reason]")

    # an identifier: the path of active links to the customer's anchor, highlighted
    click_node(page, f"phone:{seed.BERT_PHONE}")
    wait_node_shown(page, seed.BERT_PHONE)
    page.wait_for_selector("[data-testid=explain-path] li")
    steps = page.eval_on_selector_all("[data-testid=explain-path] li", "els => els.length")
    highlighted = page.evaluate("() => window.__idgraph.cy.edges('.path').length")
    assert steps == highlighted == 4
    assert_shows_graph(page, shots, "explanation-path", ANNA_GRAPH_NODES)

    # the hub and the blocked e-mail are marked as such
    click_node(page, f"phone:{seed.HUB_PHONE}")
    wait_node_shown(page, seed.HUB_PHONE)
    assert "hub: linked to" in page.text_content("[data-testid=inspector]")
    marked = page.evaluate("""hub => ({
      hub: window.__idgraph.cy.getElementById(hub).data('hub'),
      blocked: window.__idgraph.cy.getElementById('email:test@test.com').data('status'),
    })""", f"phone:{seed.HUB_PHONE}")
    assert marked == {"hub": True, "blocked": "blocked"}


def test_the_inspector_follows_the_last_click_on_a_slow_page(page, world):
    """The page shows a selection a moment after the click (a timer): on a loaded machine
    the previous selection is still shown when the click returns. Late timers make that
    moment long; the waits above must still read the identifier clicked last."""
    sign_in_steward(page)
    open_customer(page, world.anna)
    click_node(page, f"phone:{seed.BERT_PHONE}")
    wait_node_shown(page, seed.BERT_PHONE)
    page.evaluate(LATE_TIMERS)
    click_node(page, f"phone:{seed.HUB_PHONE}")
    wait_node_shown(page, seed.HUB_PHONE)
    assert "hub: linked to" in page.text_content("[data-testid=inspector]")
    click_link(page, *BRIDGE)
    wait_link_shown(page, *BRIDGE)
    assert page.text_content("[data-testid=evidence-count]") == "1"


def test_a_click_as_the_drawing_is_drawn_selects_what_it_lands_on(page, world):
    """As the drawing is reported drawn, the time bar above it drops its "Loading…" line and
    the drawing moves up the page; cytoscape measures the drawing's place again only on a
    timer. Late timers make that moment long: a click in it selects what it lands on."""
    sign_in_steward(page)
    page.evaluate(LATE_TIMERS)
    open_customer(page, world.anna)
    click_node(page, f"phone:{seed.BERT_PHONE}")
    wait_node_shown(page, seed.BERT_PHONE)


def test_a_click_selects_what_is_drawn_under_it_after_the_graph_moved_on_the_page(page, world):
    """Content above the graph that grows (the header, the time bar's note) moves the graph
    down the page without scrolling it or resizing it. A click must still select the link
    drawn under the pointer, not what was there before the graph moved."""
    sign_in_steward(page)
    open_customer(page, world.anna)
    click_node(page, f"phone:{seed.BERT_PHONE}")  # the graph has been pointed at once
    wait_node_shown(page, seed.BERT_PHONE)
    page.eval_on_selector(".customer-grid", """grid => {
      const above = document.createElement('div');
      above.style.height = '90px';
      grid.before(above);
    }""")
    click_link(page, *BRIDGE)
    wait_link_shown(page, *BRIDGE)


def test_cut_a_link_splits_the_customer_and_the_audit_log_undoes_it(page, world, shots: Path):
    sign_in_steward(page)
    open_customer(page, world.anna)
    drawn = draws(page)
    click_link(page, *BRIDGE)
    page.click("[data-testid=cut-link]")
    confirm_reason(page, "Bert signed up on Anna's laptop: not the same person", check=True)

    # the split happens on screen: two customers, Bert's part across the banned link
    outcome = page.wait_for_selector("[data-testid=split-outcome]")
    bert = re.search(r"(c_[0-9a-f]+) split off", outcome.text_content())
    assert bert, outcome.text_content()
    bert_id = bert.group(1)
    wait_drawn(page, drawn)
    state = assert_shows_graph(page, shots, "cut-split", ANNA_AFTER_CUT)
    assert state["customers"] == sorted([world.anna, world.carla, bert_id])
    kind = page.evaluate("([a, b]) => window.__idgraph.cy.getElementById(a + '\\u0001' + b)"
                         ".data('kind')", sorted(BRIDGE))
    assert kind == "banned"
    assert page.text_content("[data-testid=customer-name]") == "Anna de Vries"
    page.click("[data-tab=history]")
    assert bert_id in page.text_content("[data-testid=history]")

    # Bert is a customer of his own now: a double click on his e-mail opens him
    point = screen_point(page, f"email:{seed.BERT_EMAIL}")
    page.mouse.dblclick(point["x"], point["y"])
    page.wait_for_selector(f"[data-testid=customer-id]:text-is('{bert_id}')")
    wait_drawn(page)
    bert_state = assert_shows_graph(page, shots, "cut-bert", len(seed.BERT_KEYS) + 1)
    assert bert_state["customers"] == sorted([world.anna, bert_id])

    # the audit log shows who, when, what, why, and undoes it
    page.goto("/explorer/#/audit")
    entry = page.wait_for_selector("[data-testid=audit-entry]")
    text = entry.text_content()
    assert "Cut link" in text and "not the same person" in text and "steward-key-" in text
    page.click("[data-testid=audit-entry] [data-testid=undo]")
    confirm_reason(page, "cut by mistake")
    page.wait_for_selector("[data-testid=audit-entry] [data-testid=undoes]")
    [newest, cut] = page.query_selector_all("[data-testid=audit-entry]")[:2]
    assert "cut by mistake" in newest.text_content()
    assert f"undone by #{newest.get_attribute('data-seq')}" in cut.text_content()
    page.screenshot(path=str(shots / "audit-undo.png"))

    # one customer again, and Bert's id finds it
    open_customer(page, bert_id)
    assert page.text_content("[data-testid=customer-id]") == world.anna
    state = assert_shows_graph(page, shots, "undo-joined", ANNA_GRAPH_NODES)
    assert state["customers"] == sorted([world.anna, world.carla])


def test_undoing_a_ban_makes_the_link_active_again(page, world):
    sign_in_steward(page)
    open_customer(page, world.anna)
    drawn = draws(page)
    click_link(page, *BRIDGE)
    page.click("[data-testid=cut-link]")
    confirm_reason(page, "not the same person", check=True)
    wait_drawn(page, drawn)
    drawn = draws(page)
    page.click("[data-testid=toast-undo]")
    confirm_reason(page, "cut by mistake")
    wait_drawn(page, drawn)
    assert graph_state(page)["customers"] == sorted([world.anna, world.carla])
    kind = page.evaluate("([a, b]) => window.__idgraph.cy.getElementById(a + '\\u0001' + b)"
                         ".data('kind')", sorted(BRIDGE))
    assert kind == "active"


def test_a_review_item_is_accepted_from_the_keyboard(page, world, shots: Path):
    sign_in_steward(page)
    page.goto("/explorer/#/review")
    page.wait_for_selector("[data-testid=review-item]")
    compare = page.text_content("[data-testid=review-compare]")
    # the two records side by side, with the weight of each comparison as the matcher
    # weighed it: a bar for every comparison that weighs something, the rest named
    assert "de Vries" in compare and "Haarlem" in compare and "1988-04-12" in compare
    match = world.review_match
    assert match["model_version"] and 0 < match["probability"] < 1
    expected = {n: round(w, 2) for n, w in match["weights"].items() if w}
    if prior := round(match["score"] - sum(match["weights"].values()), 2):
        expected["prior"] = prior
    shown = bars(page, "review-weight")
    assert len(expected) >= 2 and {n: w for n, w in shown.items() if w} == expected, shown
    assert page.text_content("[data-testid=review-score]") == f"{match['score']:.2f}"
    page.screenshot(path=str(shots / "review-queue.png"))
    page.keyboard.press("a")
    page.wait_for_selector("dialog[open] [data-testid=reason]")
    page.keyboard.type("same name, birth date and address")
    # Enter confirms once the dialog shows what the accept will do
    page.wait_for_selector("dialog[open] [data-testid=preview][data-state=ready]")
    page.keyboard.press("Enter")
    page.wait_for_selector("[data-testid=merge-outcome]")
    page.wait_for_selector("[data-testid=review-empty]")

    open_customer(page, world.anna)
    # Ana's e-mail and cookie joined Anna
    state = assert_shows_graph(page, shots, "review-accepted", ANNA_GRAPH_NODES + 2)
    assert world.ana not in state["customers"]
    page.goto("/explorer/#/audit")
    assert "same name, birth date" in page.text_content("[data-testid=audit-entry]")


def test_quarantine_and_release_an_identifier(page, world, shots: Path):
    sign_in_steward(page)
    open_customer(page, world.anna)
    drawn = draws(page)
    click_node(page, f"device_id:{seed.TABLET}")
    page.click("[data-testid=quarantine]")
    confirm_reason(page, "family tablet: shared by the household")
    wait_drawn(page, drawn)
    node = page.evaluate("k => window.__idgraph.cy.getElementById(k).data()",
                         f"device_id:{seed.TABLET}")
    assert node["status"] == "quarantined" and node.get("customerId") is None
    # the tablet is one hop out now, and Carla's e-mail behind it two
    assert_shows_graph(page, shots, "quarantined", ANNA_GRAPH_NODES - 1)

    drawn = draws(page)
    click_node(page, f"device_id:{seed.TABLET}")
    page.click("[data-testid=release]")
    confirm_reason(page, "household checked: only Anna uses it")
    wait_drawn(page, drawn)
    node = page.evaluate("k => window.__idgraph.cy.getElementById(k).data()",
                         f"device_id:{seed.TABLET}")
    assert node["status"] == "active" and node["customerId"] == world.anna
    assert_shows_graph(page, shots, "released", ANNA_GRAPH_NODES)


def test_merge_two_customers_from_the_header(page, world, shots: Path):
    sign_in_steward(page)
    open_customer(page, world.anna)
    page.click("[data-testid=merge-customers]")
    page.fill("dialog[open] [data-testid=reason-field]", world.ana)
    confirm_reason(page, "the same person, confirmed by phone")
    page.wait_for_selector("[data-testid=merge-outcome]")
    wait_drawn(page, 1)
    state = assert_shows_graph(page, shots, "merged", ANNA_GRAPH_NODES + 2)
    assert world.ana not in state["customers"]


def test_a_reader_sees_masked_values_and_no_actions(page, world, shots: Path):
    sign_in_reader(page)
    assert page.text_content("[data-testid=role]") == "reader"
    assert not page.is_visible("[data-nav=review]") and not page.is_visible("[data-nav=audit]")
    # readers find customers by raw values too; what they see is masked
    assert search(page, seed.ANNA_PHONE_RAW)[0] == world.anna
    page.click(f"[data-testid=search-result][data-customer='{world.anna}']")
    wait_drawn(page)
    assert_shows_graph(page, shots, "reader", ANNA_GRAPH_NODES)
    masked = [k.replace(seed.BERT_EMAIL, "b***@example.org") for k in BRIDGE]
    click_link(page, *masked)
    wait_link_shown(page, *masked)
    page.wait_for_selector("[data-testid=evidence]")
    click_node(page, "phone:***4321")
    wait_node_shown(page, "***4321")
    page.wait_for_selector("[data-testid=explain-path] li")
    page.click("[data-tab=identifiers]")
    page.click("[data-tab=timeline]")
    page.wait_for_selector("[data-testid=timeline] li")
    content = page.content()
    assert "a***@example.com" in content and "***5678" in content
    for secret in (seed.ANNA_EMAIL, seed.ANNA_PHONE, seed.BERT_EMAIL, "Prinsengracht"):
        assert secret not in content, secret
    assert page.query_selector_all("[data-action]") == []
    page.screenshot(path=str(shots / "reader-masked.png"))
    # each page says so itself: the first one's notice may still be there after the second
    # navigation, so wait for the text of each
    page.goto("/explorer/#/review")
    page.wait_for_selector("[data-testid=forbidden]:has-text('review queue is for stewards')")
    page.goto("/explorer/#/audit")
    page.wait_for_selector("[data-testid=forbidden]:has-text('audit log is for stewards')")


def test_the_timeline_pages_and_filters_by_type(page, world):
    sign_in_steward(page)
    open_customer(page, world.anna)
    page.click("[data-tab=timeline]")
    page.wait_for_selector("[data-testid=timeline] li")
    first = page.eval_on_selector_all("[data-testid=timeline] li", "els => els.length")
    assert first == 20
    page.click("[data-testid=timeline-more]")
    page.wait_for_selector("[data-testid=timeline] li:nth-child(21)")
    assert page.query_selector("[data-testid=timeline-more]") is None  # all of them
    page.click("[data-testid=timeline-filters] [data-type=call]")
    # the unfiltered list is on the page until the filtered one replaces it
    page.wait_for_function("""() => {
      const types = [...document.querySelectorAll('[data-testid=timeline] .event-type')];
      return types.length > 0 && types.every(t => t.textContent === 'call');
    }""")
    types = page.eval_on_selector_all("[data-testid=timeline] .event-type",
                                      "els => els.map(e => e.textContent)")
    assert types and set(types) == {"call"}, types
    assert graph_state(page)["nodes"] == ANNA_GRAPH_NODES


def test_a_reader_sees_a_matched_links_weights_as_bars_and_personal_values_masked(page, world):
    """The matcher linked Carla's loyalty card to her CRM id: a reader sees the weight of
    each comparison as a bar, and her name, birth date and address masked."""
    sign_in_reader(page)
    open_customer(page, world.carla)
    link = (f"crm_id:{seed.CARLA_CRM}", f"loyalty_id:{seed.CARLA_LOYALTY}")
    click_link(page, *link)
    wait_link_shown(page, *link)
    page.wait_for_selector("[data-testid=match] [data-testid=link-weight]")
    shown = bars(page, "link-weight")
    assert len(shown) >= 2 and all(w != 0 for w in shown.values()), shown
    assert "+FIRST_NAME" in page.text_content("[data-testid=match-key]")
    assert float(page.text_content("[data-testid=match-score]")) > 0
    page.click("[data-tab=profile]")
    page.wait_for_selector("[data-testid=profile]:has-text('C.')")
    content = page.content()
    for secret in (seed.CARLA_EMAIL, "Carla", "Smit", "Smid", "Oudegracht", "1991-07-30",
                   "3511"):
        assert secret not in content, secret


def focus_graph_on(page: Any, key: str) -> None:
    """Walk the drawing by keyboard until its cursor is on `key`."""
    page.focus("#graph")
    for _ in range(graph_state(page)["nodes"]):
        page.keyboard.press("ArrowRight")
        if page.get_attribute("#graph", "data-keyboard") == key:
            return
    raise AssertionError(f"the keyboard never reached {key}")


def test_o_on_another_customers_identifier_opens_that_customer(page, world):
    sign_in_steward(page)
    open_customer(page, world.anna)
    # on one of Anna's own identifiers, O says what Enter does and stays
    focus_graph_on(page, f"email:{seed.ANNA_EMAIL}")
    page.keyboard.press("o")
    page.wait_for_selector("[data-testid=graph-announcer]:has-text('Enter shows it')",
                           state="attached")
    assert page.text_content("[data-testid=customer-id]") == world.anna
    # on Carla's e-mail (one hop out, across the rejected tablet link), O opens Carla
    focus_graph_on(page, f"email:{seed.CARLA_EMAIL}")
    page.keyboard.press("O")
    page.wait_for_function("id => location.hash === `#/customer/${id}`", arg=world.carla)
    page.wait_for_selector(f"[data-testid=customer-id]:text-is('{world.carla}')")
    wait_drawn(page)
    assert page.evaluate("k => window.__idgraph.cy.getElementById(k).length",
                         f"crm_id:{seed.CARLA_CRM}") == 1


def test_o_in_the_review_queue_opens_the_first_sides_customer(page, world):
    sign_in_steward(page)
    page.goto("/explorer/#/review")
    page.wait_for_selector(f"[data-testid=review-item][data-review='{world.review_id}']"
                           "[aria-selected=true]")
    page.wait_for_selector("[data-testid=review-compare]")
    page.keyboard.press("o")
    # side A is Anna's CRM id
    page.wait_for_function("id => location.hash === `#/customer/${id}`", arg=world.anna)
    page.wait_for_selector(f"[data-testid=customer-id]:text-is('{world.anna}')")
