"""The explorer's accessibility, in a real browser, at a narrow (800 px) and a wide window:
axe-core (installed by npm, injected from explorer/node_modules, so offline) on every view
with no serious or critical violation; the graph's colours at WCAG's 3:1 for graphics,
measured on the colours the drawing really uses against what they are drawn on; the
identifier kinds apart under deuteranopia; the drawing reachable and usable by keyboard;
one message at a time; long text that wraps instead of pushing messages off screen."""

from __future__ import annotations

import itertools
import math
from pathlib import Path
from typing import Any

import pytest

from app.bench.explorer import ExplorerServer
from tests.browser import seed
from tests.browser.conftest import open_page, sign_in_steward
from tests.browser.drawing import wait_drawn
from tests.browser.matched import NARROW, WIDE

pytestmark = pytest.mark.browser

AXE = Path(__file__).resolve().parents[2] / "explorer" / "node_modules" / "axe-core" / "axe.min.js"
VIEWPORTS = pytest.mark.parametrize("viewport", [NARROW, WIDE], ids=["narrow", "wide"])
GRAPHICS_CONTRAST = 3.0  # WCAG 2.1 success criterion 1.4.11, non-text contrast
# CIE76 distance in CIELAB between two kinds' colours as a deuteranope sees them: 20 is
# far more than a just noticeable difference (about 2.3), so the kinds stay apart at a glance
DEUTERANOPIA_DELTA_E = 20.0


# -- colour arithmetic (WCAG 2.1 relative luminance; Machado et al. 2009) ---------------------

def linear(channel: float) -> float:
    c = channel / 255
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def luminance(rgb: tuple[float, float, float]) -> float:
    r, g, b = map(linear, rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(x: tuple[float, float, float], y: tuple[float, float, float]) -> float:
    hi, lo = sorted((luminance(x), luminance(y)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def rgb_of(css: str) -> tuple[float, float, float]:
    """`rgb(1, 2, 3)` or `#010203`."""
    if css.startswith("#"):
        return (int(css[1:3], 16), int(css[3:5], 16), int(css[5:7], 16))
    r, g, b = (float(v) for v in css[css.index("(") + 1:].rstrip(")").split(",")[:3])
    return (r, g, b)


def over(fill: tuple[float, float, float], alpha: float,
         backdrop: tuple[float, float, float]) -> tuple[float, float, float]:
    r, g, b = (alpha * f + (1 - alpha) * k for f, k in zip(fill, backdrop, strict=True))
    return (r, g, b)


# Machado, Oliveira and Fernandes (2009), deuteranomaly at severity 1.0, on linear RGB
DEUTERANOPIA = ((0.367322, 0.860646, -0.227968),
                (0.280085, 0.672501, 0.047413),
                (-0.011820, 0.042940, 0.968881))


def as_deuteranope_lab(rgb: tuple[float, float, float]) -> tuple[float, float, float]:
    lin = [linear(c) for c in rgb]
    r, g, b = (min(1.0, max(0.0, sum(m * v for m, v in zip(row, lin, strict=True))))
               for row in DEUTERANOPIA)
    x = (0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047
    y = 0.2126 * r + 0.7152 * g + 0.0722 * b
    z = (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883

    def f(t: float) -> float:
        return t ** (1 / 3) if t > 0.008856 else 7.787 * t + 16 / 116

    return (116 * f(y) - 16, 500 * (f(x) - f(y)), 200 * (f(y) - f(z)))


def test_the_colour_arithmetic_is_right() -> None:
    """Known values: black on white is 21:1, the old active link grey 2.56:1 on white; blue
    and violet, apart for most eyes, fall together for a deuteranope."""
    white, black = (255.0, 255.0, 255.0), (0.0, 0.0, 0.0)
    assert contrast(white, black) == pytest.approx(21.0)
    assert contrast(rgb_of("#94a3b8"), white) == pytest.approx(2.56, abs=0.01)
    assert math.dist(as_deuteranope_lab(rgb_of("#2563eb")),
                     as_deuteranope_lab(rgb_of("#7c3aed"))) < 3


# -- the drawing's colours, as drawn ----------------------------------------------------------

DRAWN_COLOURS = """() => {
  const cy = window.__idgraph.cy;
  const canvas = getComputedStyle(document.querySelector('#graph')).backgroundColor;
  const boxes = cy.nodes("[kind = 'customer']").map(b => b.style('background-color'));
  const nodes = cy.nodes("[kind = 'identifier']").map(n => ({
    key: n.id(), status: n.data('status'), outside: !!n.data('outside'),
    fill: n.style('background-color'),
    alpha: Number(n.style('background-opacity')) * n.effectiveOpacity(),
    backdrop: n.parent().nonempty() ? n.parent().style('background-color') : canvas}));
  const edges = cy.edges().map(e => ({
    key: e.id(), kind: e.data('kind'), line: e.style('line-color'),
    alpha: Number(e.style('line-opacity')) * e.effectiveOpacity()}));
  return {canvas, boxes, nodes, edges};
}"""


@VIEWPORTS
def test_the_graph_colours_reach_3_to_1_against_what_they_are_drawn_on(
        browser: Any, server: ExplorerServer, world: seed.World, viewport: dict[str, int]) -> None:
    with open_page(browser, server) as page:
        page.set_viewport_size(viewport)
        sign_in_steward(page)
        page.goto(f"/explorer/#/customer/{world.anna}?depth=1")
        wait_drawn(page)
        drawn = page.evaluate(DRAWN_COLOURS)
    # the drawing holds what the issue measured: other customers' identifiers, a blocked
    # one, active links
    assert any(n["outside"] for n in drawn["nodes"])
    assert any(n["status"] == "blocked" for n in drawn["nodes"])
    assert any(e["kind"] == "active" for e in drawn["edges"])
    low = []
    for n in drawn["nodes"]:
        backdrop = rgb_of(n["backdrop"])
        seen = over(rgb_of(n["fill"]), n["alpha"], backdrop)
        if (ratio := contrast(seen, backdrop)) < GRAPHICS_CONTRAST:
            low.append((n["key"], n["status"], n["outside"], round(ratio, 2)))
    # a link may cross the drawing and any customer's box
    backdrops = [rgb_of(drawn["canvas"]), *(rgb_of(b) for b in drawn["boxes"])]
    for e in drawn["edges"]:
        for backdrop in backdrops:
            seen = over(rgb_of(e["line"]), e["alpha"], backdrop)
            if (ratio := contrast(seen, backdrop)) < GRAPHICS_CONTRAST:
                low.append((e["key"], e["kind"], round(ratio, 2)))
    assert not low, f"below {GRAPHICS_CONTRAST}:1: {low}"


def test_identifier_kinds_stay_apart_under_deuteranopia(
        browser: Any, server: ExplorerServer, world: seed.World) -> None:
    """The colours the drawing gives each kind of identifier (read from the drawn nodes and
    the legend), simulated as a deuteranope sees them."""
    with open_page(browser, server) as page:
        sign_in_steward(page)
        page.goto(f"/explorer/#/customer/{world.anna}?depth=0")
        wait_drawn(page)
        drawn = page.evaluate("""() => Object.fromEntries(window.__idgraph.cy
            .nodes("[kind = 'identifier']")
            .map(n => [n.data('type'), n.style('background-color')]))""")
        legend = page.eval_on_selector_all("[data-testid=legend] .legend-item .swatch[style]",
                                           """els => els.map(e => [e.parentElement.textContent,
                                               getComputedStyle(e).backgroundColor])""")
    assert {"email", "device_id"} <= drawn.keys()
    for label, colour in legend:
        kind = {"E-mail": "email", "Device id": "device_id"}.get(label)
        if kind:
            assert rgb_of(colour) == rgb_of(drawn[kind]), (label, colour, drawn[kind])
    kinds = {label: rgb_of(colour) for label, colour in legend}
    assert {"E-mail", "Device id", "Phone", "Cookie", "CRM id"} <= kinds.keys()
    close = [(a, b, round(d, 1)) for a, b in itertools.combinations(sorted(kinds), 2)
             if (d := math.dist(as_deuteranope_lab(kinds[a]), as_deuteranope_lab(kinds[b])))
             < DEUTERANOPIA_DELTA_E]
    assert not close, f"apart by less than ΔE76 {DEUTERANOPIA_DELTA_E} for a deuteranope: {close}"


# -- axe-core on every view -------------------------------------------------------------------

RUN_AXE = """async () => {
  const result = await axe.run(document, {resultTypes: ['violations']});
  return result.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
    .map(v => ({id: v.id, impact: v.impact,
                nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}));
}"""


def axe_violations(page: Any) -> list[dict[str, Any]]:
    assert AXE.exists(), "axe-core is missing: cd explorer && npm ci"
    # evaluated by the browser's debugging protocol: the page's own policy forbids inline
    # scripts, as it should
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(AXE.read_text() + "\n;undefined")
    return page.evaluate(RUN_AXE)


@VIEWPORTS
def test_every_view_passes_axe_with_no_serious_violation(
        browser: Any, matched: ExplorerServer, world: seed.World,
        viewport: dict[str, int]) -> None:
    views = {
        "search": ("/explorer/#/", "[data-testid=search-input]"),
        "results": ("/explorer/#/?q=anna", "[data-testid=results-count]"),
        "customer": (f"/explorer/#/customer/{world.anna}", "#graph[data-state=drawn]"),
        "review": ("/explorer/#/review", "[data-testid=review-compare]"),
        "audit": ("/explorer/#/audit", "[data-testid=audit-entry], [data-testid=audit-empty]"),
        "whynot": ("/explorer/#/whynot", "[data-testid=whynot-a]"),
    }
    found = {}
    with open_page(browser, matched) as page:
        page.set_viewport_size(viewport)
        sign_in_steward(page)
        for name, (address, ready) in views.items():
            page.goto(address)
            page.wait_for_selector(ready)
            found[name] = axe_violations(page)
    assert not any(found.values()), "\n".join(
        f"{view}: {v['impact']} {v['id']} at {v['nodes']}"
        for view, vs in found.items() for v in vs)


# -- the drawing by keyboard, and a matched link's match key ---------------------------------

IN_VIEW = """sel => {
  const r = document.querySelector(sel).getBoundingClientRect();
  return r.top >= 0 && r.left >= 0 && r.bottom <= innerHeight && r.right <= innerWidth;
}"""


def open_matched_customer(page: Any) -> str:
    """The customer of a CRM record and its duplicate with a typo, linked by the matcher."""
    page.goto("/explorer/#/?q=crm_ref%3Ar0")
    page.wait_for_selector("[data-testid=results-count]")
    customer = page.get_attribute("[data-testid=search-result]", "data-customer")
    page.goto(f"/explorer/#/customer/{customer}?depth=0")
    wait_drawn(page)
    return customer


@VIEWPORTS
def test_the_drawing_is_reached_and_walked_by_keyboard_and_a_matched_link_shows_its_match_key(
        browser: Any, matched: ExplorerServer, viewport: dict[str, int], shots: Path) -> None:
    with open_page(browser, matched) as page:
        page.set_viewport_size(viewport)
        sign_in_steward(page)
        open_matched_customer(page)
        label = page.get_attribute("#graph", "aria-label")
        assert "2 identifiers, 1 links" in label and "Arrow keys" in label
        # Tab from the toolbar reaches the drawing
        page.focus(".graph-toolbar button")
        for _ in range(8):
            page.keyboard.press("Tab")
            if page.evaluate("() => document.activeElement?.id === 'graph'"):
                break
        assert page.evaluate("() => document.activeElement?.id === 'graph'")
        page.keyboard.press("ArrowRight")
        page.wait_for_function("() => !!document.querySelector('#graph').dataset.keyboard")
        key = page.get_attribute("#graph", "data-keyboard")
        announced = page.text_content("[data-testid=graph-announcer]")
        assert key.split(":", 1)[1] in announced and "this customer's" in announced
        page.keyboard.press("Enter")
        page.wait_for_function("""value => document.querySelector('[data-testid=node-title]')
            ?.textContent === value""", arg=key.split(":", 1)[1])
        assert page.evaluate(IN_VIEW, "[data-testid=node-title]"), "the inspector is out of view"
        page.keyboard.press("l")
        page.wait_for_selector("[data-testid=match] [data-testid=match-key]")
        assert page.evaluate(IN_VIEW, "[data-testid=link-title]"), "the inspector is out of view"
        assert page.evaluate("() => document.activeElement?.id === 'graph'")
        shown = page.text_content("[data-testid=match-key]")
        bars = page.eval_on_selector_all("[data-testid=link-weight]", """rows => rows.map(r => [
            r.dataset.comparison, Number(r.querySelector('.weight-value').textContent)])""")
        assert len(bars) >= 5, bars
        # the key says the same as the bars: +NAME for each weight for, -NAME for each against
        for name, weight in bars:
            token = f"{'+' if weight > 0 else '-'}{name.upper()}"
            assert (token in shown) == (weight != 0), (name, weight, shown)
        assert "+FIRST_NAME" in shown and "+BIRTH_DATE" in shown
        assert float(page.text_content("[data-testid=match-score]")) > 0
        page.screenshot(path=str(shots / f"keyboard-match-key-{viewport['width']}.png"))


@VIEWPORTS
def test_the_review_comparison_stays_in_view_and_messages_do_not_pile_up(
        browser: Any, matched: ExplorerServer, viewport: dict[str, int], shots: Path) -> None:
    with open_page(browser, matched) as page:
        page.set_viewport_size(viewport)
        sign_in_steward(page)
        page.goto("/explorer/#/review")
        page.wait_for_selector("[data-testid=review-compare]")
        items = page.eval_on_selector_all("[data-testid=review-item]",
                                          "els => els.map(e => e.dataset.review)")
        # more items than fit beside the comparison in a narrow window; the last is a pair
        # the trained model queued: real matcher output, with its match key
        assert len(items) >= 10
        scored = items[-1]
        page.evaluate("() => window.scrollTo(0, 0)")
        for _ in range(len(items) - 1):
            page.keyboard.press("j")
        page.wait_for_selector(f"[data-testid=review-item][data-review='{scored}']"
                               "[aria-selected=true]")
        page.wait_for_function("""id => document.querySelector('[data-testid=review-detail]')
            ?.textContent.includes(`Item ${id} `)""", arg=scored)
        assert "RV-" in page.text_content("[data-testid=review-compare] thead")
        key = page.text_content("[data-testid=review-detail] [data-testid=match-key]")
        # same first name and street, other cities
        assert "+FIRST_NAME" in key and "+STREET" in key and "-CITY" in key, key
        for part in ("[data-testid=review-accept]", "[data-testid=review-compare] thead"):
            assert page.evaluate(IN_VIEW, part), f"{part} is out of view"
        # two decisions in a row: one message, the newest
        first, second = items[0], items[1]
        for item in (first, second):
            page.wait_for_selector(f"[data-testid=review-item][data-review='{item}']")
            page.click(f"[data-testid=review-item][data-review='{item}']")
            page.keyboard.press("r")
            page.wait_for_selector("dialog[open] [data-testid=reason]")
            page.keyboard.type("different people")
            page.click("dialog[open] [data-testid=confirm]")
            page.wait_for_function("""id => [...document.querySelectorAll('[data-testid=toast]')]
                .some(t => t.textContent.includes(`Match ${id} rejected`))""", arg=item)
        toasts = page.eval_on_selector_all("#toasts [data-testid=toast]",
                                           "els => els.map(e => e.textContent)")
        assert len(toasts) == 1 and f"Match {second} rejected" in toasts[0], toasts
        assert page.get_attribute("#toasts", "aria-live") == "polite"
        page.screenshot(path=str(shots / f"review-one-message-{viewport['width']}.png"))


@VIEWPORTS
def test_a_very_long_search_or_id_does_not_push_the_message_off_screen(
        browser: Any, server: ExplorerServer, viewport: dict[str, int]) -> None:
    fits = """sel => {
      const r = document.querySelector(sel).getBoundingClientRect();
      return {inside: r.left >= 0 && r.right <= innerWidth && r.bottom <= innerHeight,
              wide: document.documentElement.scrollWidth - innerWidth};
    }"""
    with open_page(browser, server) as page:
        page.set_viewport_size(viewport)
        sign_in_steward(page)
        page.goto("/explorer/#/")
        page.fill("[data-testid=search-input]", "x" * 5000)
        page.press("[data-testid=search-input]", "Enter")
        page.wait_for_selector("[data-testid=no-results], [data-testid=search-error]")
        message = "[data-testid=no-results], [data-testid=search-error]"
        assert page.evaluate(fits, message) == {"inside": True, "wide": 0}
        page.goto(f"/explorer/#/customer/{'c' * 400}")
        page.wait_for_selector("[data-testid=not-found]")
        assert page.evaluate(fits, "[data-testid=not-found] p") == {"inside": True, "wide": 0}
