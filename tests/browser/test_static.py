"""The explorer's built files, as the app serves them (no browser needed): the page and its
assets are in the package, same-origin only, with security headers."""

from __future__ import annotations

import asyncio
import re
from concurrent.futures import ThreadPoolExecutor

import httpx
from starlette.applications import Starlette

from app.web.routes import CSP, STATIC_DIR, explorer_routes, mount_explorer


def client() -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(Starlette(routes=explorer_routes())),
                             base_url="http://explorer.test")


def test_the_built_page_ships_in_the_package():
    index = (STATIC_DIR / "index.html").read_text()
    assets = re.findall(r'(?:src|href)="([^"]+)"', index)
    assert assets, "index.html names no script or stylesheet"
    for url in assets:
        if url.startswith(("data:", "#")):
            continue  # inline, or a route of the page itself
        assert url.startswith("/explorer/assets/"), url  # same origin, nothing from a CDN
        assert (STATIC_DIR / url.removeprefix("/explorer/")).is_file(), url


def test_explorer_is_served_with_its_security_headers():
    async def check() -> None:
        async with client() as http:
            await check_served(http)

    # a thread of its own: a browser test of this session may hold this thread's loop
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, check()).result()


async def check_served(http: httpx.AsyncClient) -> None:
    response = await http.get("/explorer", follow_redirects=False)
    assert response.status_code in (301, 307, 308)
    assert response.headers["location"].endswith("/explorer/")
    page = await http.get("/explorer/")
    assert page.status_code == 200 and "<title>idgraph explorer</title>" in page.text
    assert page.headers["content-security-policy"] == CSP
    assert "connect-src 'self'" in CSP and "default-src 'self'" in CSP
    assert page.headers["cache-control"] == "no-cache"
    script = re.search(r'src="(/explorer/assets/[^"]+\.js)"', page.text).group(1)
    asset = await http.get(script)
    assert asset.status_code == 200
    assert "javascript" in asset.headers["content-type"]
    assert "immutable" in asset.headers["cache-control"]
    assert (await http.get("/explorer/assets/nothing.js")).status_code == 404


def test_mount_explorer_adds_the_route_once():
    app = Starlette(routes=[])
    mount_explorer(mount_explorer(app))
    assert [getattr(r, "name", None) for r in app.router.routes] == ["explorer"]
