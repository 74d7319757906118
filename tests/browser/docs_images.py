"""Take the screenshots of docs/explorer.md from the real page:

    python -m tests.browser.docs_images [--out docs/images]

Seeds the test world (tests/browser/seed.py) and a 300-identifier customer into a fresh
SQLite store, serves the API with the explorer, and walks through the steward's story in
headless Chromium (Debian's), saving one PNG per step.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from pathlib import Path
from typing import Any

from app.bench.explorer import (
    CHROMIUM,
    CHROMIUM_ARGS,
    READER_KEY,
    STEWARD_KEY,
    ExplorerServer,
    seed_component,
)
from tests.browser import seed
from tests.browser.drawing import screen_point as point
from tests.browser.drawing import wait_drawn

VIEWPORT = {"width": 1440, "height": 900}
BRIDGE = (f"cookie:{seed.ANNA_COOKIE_2}", f"email:{seed.BERT_EMAIL}")


def shoot(page: Any, out: Path, name: str) -> None:
    page.wait_for_timeout(350)  # let hover styles and toasts settle
    page.screenshot(path=str(out / f"{name}.png"))
    print(f"  {out / name}.png")


def sign_in(page: Any, key: str) -> None:
    page.goto("/explorer/")
    page.fill("[data-testid=api-key]", key)
    page.click("[data-testid=sign-in]")
    page.wait_for_selector("[data-testid=role]")


def story(page: Any, world: seed.World, big: str, out: Path) -> None:
    sign_in(page, STEWARD_KEY)
    page.goto("/explorer/#/")
    page.fill("[data-testid=search-input]", "de Vries")
    page.press("[data-testid=search-input]", "Enter")
    page.wait_for_selector("[data-testid=results-count]")
    shoot(page, out, "explorer-search")

    page.click(f"[data-testid=search-result][data-customer='{world.anna}']")
    wait_drawn(page)
    shoot(page, out, "explorer-customer")

    p = point(page, *BRIDGE)
    page.mouse.move(p["x"], p["y"])
    page.wait_for_selector("[data-testid=tooltip-edge]")
    page.mouse.click(p["x"], p["y"])
    page.wait_for_selector("[data-testid=evidence]")
    shoot(page, out, "explorer-link-evidence")

    p = point(page, f"phone:{seed.BERT_PHONE}")
    page.mouse.click(p["x"], p["y"])
    page.wait_for_selector("[data-testid=explain-path] li")
    page.mouse.move(5, 300)
    shoot(page, out, "explorer-explanation")

    page.click("[data-tab=timeline]")
    page.wait_for_selector("[data-testid=timeline] li")
    page.evaluate("document.querySelector('.tabs-card').scrollIntoView({block: 'start'})")
    shoot(page, out, "explorer-timeline")
    page.evaluate("window.scrollTo(0, 0)")

    drawn = int(page.get_attribute("#graph", "data-draws") or 0)
    p = point(page, *BRIDGE)
    page.mouse.click(p["x"], p["y"])
    page.click("[data-testid=cut-link]")
    page.fill("dialog[open] [data-testid=reason]",
              "Bert signed up on Anna's laptop: not the same person")
    shoot(page, out, "explorer-cut-dialog")
    page.click("dialog[open] [data-testid=confirm]")
    page.wait_for_selector("[data-testid=split-outcome]")
    wait_drawn(page, drawn)
    page.mouse.move(5, 300)
    shoot(page, out, "explorer-split")

    page.evaluate("document.querySelectorAll('[data-testid=toast]').forEach(t => t.remove())")
    second_cookie = page.eval_on_selector_all(
        "[data-testid=time-mark][data-kind=merge]", "els => els.map(e => e.dataset.at)")[1]
    page.click(f'[data-testid=time-mark][data-at="{second_cookie}"]')
    page.wait_for_selector(f'[data-testid=timebar][data-shown="{second_cookie}"]')
    page.hover(f'[data-testid=time-mark][data-at="{second_cookie}"]')
    shoot(page, out, "explorer-time-slider")

    page.goto("/explorer/#/audit")
    page.wait_for_selector("[data-testid=audit-entry]")
    page.click("[data-testid=audit-entry] [data-testid=undo]")
    page.fill("dialog[open] [data-testid=reason]", "cut by mistake: Bert is Anna's partner")
    shoot(page, out, "explorer-undo-dialog")
    page.click("dialog[open] [data-testid=confirm]")
    page.wait_for_selector("[data-testid=audit-entry] [data-testid=undoes]")
    shoot(page, out, "explorer-audit-log")

    page.goto("/explorer/#/review")
    page.wait_for_selector("[data-testid=review-item]")
    page.evaluate("document.querySelectorAll('[data-testid=toast]').forEach(t => t.remove())")
    shoot(page, out, "explorer-review-queue")

    page.goto(f"/explorer/#/customer/{big}")
    wait_drawn(page)
    shoot(page, out, "explorer-300-identifiers")

    page.evaluate("sessionStorage.clear()")
    sign_in(page, READER_KEY)
    page.goto(f"/explorer/#/customer/{world.anna}")
    wait_drawn(page)
    p = point(page, "phone:***4321")
    page.mouse.click(p["x"], p["y"])
    page.wait_for_selector("[data-testid=explain-path] li")
    page.mouse.move(5, 300)
    shoot(page, out, "explorer-reader")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.browser.docs_images")
    parser.add_argument("--out", default="docs/images")
    out = Path(parser.parse_args().out)
    out.mkdir(parents=True, exist_ok=True)
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="idgraph-docs-") as tmp:
        store = f"sqlite:///{tmp}/docs.db"
        world = asyncio.run(seed.seed_store(store))
        big = asyncio.run(seed_component(store, 300))
        with ExplorerServer(store) as server, sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            context = browser.new_context(viewport=VIEWPORT, base_url=server.url)
            page = context.new_page()
            page.set_default_timeout(20_000)
            try:
                story(page, world, big, out)
            except Exception:
                page.screenshot(path=str(out / "failed.png"))
                raise
            finally:
                browser.close()


if __name__ == "__main__":
    main()
