"""The explorer's "why not" page and its search, in a real browser, over a store with a
trained matcher (real matcher output: weights per comparison, the household guard): a
steward picks two customers and reads why they are apart, with the weights as bars and what
a merge would do; a reader sees contacts masked and no merge; a search with a typo finds
the customer, tells namesakes apart and pages past the first ten."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from app.bench.explorer import ExplorerServer
from tests.browser import seed
from tests.browser.conftest import open_page, sign_in_reader, sign_in_steward
from tests.browser.matched import FATHER_EMAIL, MOTHER_EMAIL, NARROW, WIDE

pytestmark = pytest.mark.browser

def ask_why_not(page: Any, a: str, b: str) -> None:
    """Ask through the form on the page and wait for the answer to these two sides."""
    page.fill("[data-testid=whynot-a]", a)
    page.fill("[data-testid=whynot-b]", b)
    page.click("[data-testid=whynot-submit]")
    page.wait_for_selector(f"[data-testid=whynot-answer][data-state=done][data-sides='{a} {b}']")


@pytest.mark.parametrize("viewport", [NARROW, WIDE], ids=["narrow", "wide"])
def test_a_steward_sees_why_two_customers_are_apart_with_weights_as_bars(
        browser: Any, matched: ExplorerServer, viewport: dict[str, int], shots: Path) -> None:
    with open_page(browser, matched) as page:
        page.set_viewport_size(viewport)
        sign_in_steward(page)
        page.goto("/explorer/#/whynot")
        ask_why_not(page, f"email:{MOTHER_EMAIL}", f"email:{FATHER_EMAIL}")
        assert page.eval_on_selector_all("[data-testid=whynot-reasons] li",
                                         "els => els.map(e => e.dataset.reason)") == ["GUARD"]
        page.wait_for_selector("[data-testid=whynot-guard]")
        bars = page.eval_on_selector_all("[data-testid=whynot-weight]", """rows => rows.map(r => ({
            comparison: r.dataset.comparison,
            kind: r.querySelector('.weight-bar span').className,
            width: r.querySelector('.weight-bar span').getBoundingClientRect().width,
            value: Number(r.querySelector('.weight-value').textContent)}))""")
        first_name = next(b for b in bars if b["comparison"] == "first_name")
        assert first_name["kind"] == "neg" and first_name["value"] < 0
        # each bar as long as its weight, next to the largest
        largest = max(bars, key=lambda b: abs(b["value"]))
        for bar in bars:
            assert bar["width"] == pytest.approx(
                largest["width"] * abs(bar["value"]) / abs(largest["value"]), abs=1.5)
        merge = page.wait_for_selector("[data-testid=whynot-merge] [data-testid=preview-summary]")
        assert "1 merge" in merge.text_content()
        in_view = page.eval_on_selector("[data-testid=whynot-reasons]", """e => {
            const r = e.getBoundingClientRect();
            return r.left >= 0 && r.right <= window.innerWidth; }""")
        assert in_view
        page.screenshot(path=str(shots / f"why-not-{viewport['width']}.png"), full_page=True)


@pytest.mark.parametrize("viewport", [NARROW, WIDE], ids=["narrow", "wide"])
def test_a_customer_page_leads_to_why_not_and_a_reader_sees_contacts_masked(
        browser: Any, matched: ExplorerServer, world: seed.World,
        viewport: dict[str, int]) -> None:
    with open_page(browser, matched) as page:
        page.set_viewport_size(viewport)
        sign_in_reader(page)
        page.goto(f"/explorer/#/customer/{world.anna}")
        page.click("[data-testid=why-not-link]")
        page.wait_for_function("() => location.hash.startsWith('#/whynot?a=')")
        assert page.input_value("[data-testid=whynot-a]") == world.anna
        ask_why_not(page, f"email:{MOTHER_EMAIL}", f"email:{FATHER_EMAIL}")
        pair = page.wait_for_selector("[data-testid=whynot-pair]").text_content()
        assert "i***@example.com" in pair and "p***@example.com" in pair
        answer = page.eval_on_selector("[data-testid=whynot-answer]", "e => e.innerHTML")
        assert MOTHER_EMAIL not in answer and FATHER_EMAIL not in answer
        assert page.query_selector("[data-testid=whynot-merge]") is None
        ask_why_not(page, world.anna, "nobody-at-all")
        assert "nobody-at-all" in page.text_content("[data-testid=whynot-error]")


def search(page: Any, text: str) -> None:
    page.goto("/explorer/#/")
    page.fill("[data-testid=search-input]", text)
    page.press("[data-testid=search-input]", "Enter")
    page.wait_for_selector("[data-testid=results-count]")


def found(page: Any) -> list[str]:
    return page.eval_on_selector_all("[data-testid=search-result]",
                                     "els => els.map(e => e.dataset.customer || '')")


@pytest.mark.parametrize("viewport", [NARROW, WIDE], ids=["narrow", "wide"])
def test_search_forgives_a_typo_tells_namesakes_apart_and_pages_on(
        browser: Any, matched: ExplorerServer, world: seed.World,
        viewport: dict[str, int]) -> None:
    with open_page(browser, matched) as page:
        page.set_viewport_size(viewport)
        sign_in_reader(page)
        search(page, "anna.devires@example.com")
        assert found(page)[0] == world.anna
        search(page, "quirine oosterhuis")
        assert len(found(page)) == 10
        hints = page.eval_on_selector_all("[data-testid=result-hint]",
                                          "els => els.map(e => e.textContent)")
        assert "Zwolle" in hints and all(h == "Zwolle" or h.startswith("q***@") for h in hints)
        page.click("[data-testid=more-results]")
        page.wait_for_function(
            "() => document.querySelectorAll('[data-testid=search-result]').length === 13")
        assert len(set(found(page))) == 13
        assert page.is_hidden("[data-testid=more-results]")
