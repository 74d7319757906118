"""Checks that the page shows the graph: the drawing holds the expected identifiers (read
from the page's window.__idgraph hook) and its pixels are not blank, both on the canvas
and in the screenshot each check saves."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

# Pixels of a saturated colour (identifier types are drawn in saturated colours; the
# background, the grid and the labels are greys).
CANVAS_COLOURED = """() => {
  let count = 0;
  for (const canvas of document.querySelectorAll('#graph canvas')) {
    if (!canvas.width || !canvas.height) continue;
    const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    for (let i = 0; i < data.length; i += 4) {
      const [r, g, b, a] = [data[i], data[i + 1], data[i + 2], data[i + 3]];
      if (a > 128 && Math.max(r, g, b) - Math.min(r, g, b) > 60) count++;
    }
  }
  return count;
}"""


def coloured_pixels(png: bytes) -> int:
    """Saturated pixels of a PNG (Pillow), or -1 when Pillow is not installed. The
    identifier types are drawn in saturated colours; the background, the grid, the
    customer boxes and the labels are greys or pale."""
    try:
        from PIL import Image
    except ImportError:
        return -1
    saturation = Image.open(io.BytesIO(png)).convert("RGB").convert("HSV").getchannel("S")
    return sum(saturation.histogram()[80:])


def draws(page: Any) -> int:
    return int(page.get_attribute("#graph", "data-draws") or 0)


def wait_drawn(page: Any, after: int = 0) -> None:
    """Wait until the graph has been drawn more than `after` times in this page."""
    page.wait_for_selector("#graph[data-state=drawn]")
    if draws(page) <= after:
        page.wait_for_selector(f'#graph[data-state=drawn][data-draws="{after + 1}"]')


SCREEN_POINT = """keys => {
  const hook = window.__idgraph;
  const at = () => (keys.length === 2 ? hook.edgePoint(keys[0], keys[1]) : hook.nodePoint(keys[0]));
  const shown = (p) => !!p && !!document.elementFromPoint(p.x, p.y)?.closest('#graph');
  let point = at();
  if (point && !shown(point)) {
    document.querySelector('#graph').scrollIntoView({block: 'center'});
    point = at();
  }
  return {point, shown: shown(point)};
}"""


def screen_point(page: Any, *keys: str) -> dict[str, float]:
    """Where an identifier (one key) or the link between two (two keys) is on the screen.
    When the page has scrolled (a tab opened below the graph) and the element sits under the
    sticky top bar or off screen, the graph is scrolled into view first: a click there would
    land on the bar."""
    found = page.evaluate(SCREEN_POINT, list(keys))
    assert found["point"], f"{' - '.join(keys)} is not in the drawing"
    assert found["shown"], f"{' - '.join(keys)} is drawn at {found['point']}, out of sight"
    return found["point"]


def graph_state(page: Any) -> dict[str, Any]:
    return page.evaluate("""() => ({
      nodes: window.__idgraph.nodes(),
      edges: window.__idgraph.edges(),
      customers: window.__idgraph.customers(),
    })""")


def assert_shows_graph(page: Any, shots: Path, name: str, nodes: int) -> dict[str, Any]:
    """The drawing holds `nodes` identifiers and shows them; saves the page's screenshot
    (name.png) and the drawing's (name-graph.png)."""
    page.wait_for_selector("#graph[data-state=drawn]")
    state = graph_state(page)
    assert state["nodes"] == nodes, f"{name}: the drawing holds {state['nodes']} identifiers"
    page.screenshot(path=str(shots / f"{name}.png"))
    drawing = page.locator("#graph").screenshot(path=str(shots / f"{name}-graph.png"))
    on_canvas = page.evaluate(CANVAS_COLOURED)
    assert on_canvas >= 20 * nodes, f"{name}: the canvas is blank ({on_canvas} pixels)"
    in_shot = coloured_pixels(drawing)
    if in_shot != -1:
        assert in_shot >= 20 * nodes, f"{name}: the screenshot is blank ({in_shot} pixels)"
    return state
