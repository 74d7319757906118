"""Serve the explorer's built files at /explorer.

The page is a static bundle (explorer/, built with `npm run build` into app/web/static and
committed, so `pip install` alone serves it). It calls /graphql on the same origin like any
client; it loads nothing from any other host, and its Content-Security-Policy says so to
the browser as well.

Wire it into the API app with `routes=[..., *explorer_routes()]` (app/api/asgi.py), or add
it to a built app with `mount_explorer(app)`.
"""

from __future__ import annotations

from pathlib import Path

from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

STATIC_DIR = Path(__file__).parent / "static"

# Same origin only: scripts, styles, images and GraphQL calls. Cytoscape sets element
# styles from script, hence 'unsafe-inline' for styles (not for scripts).
CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data: blob:; font-src 'self'; connect-src 'self'; "
       "object-src 'none'; base-uri 'self'; frame-ancestors 'none'; form-action 'self'")
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


class ExplorerFiles(StaticFiles):
    """StaticFiles with the explorer's security headers; the hashed assets are cached for
    a year, index.html is revalidated on every load so a new build shows at once."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers.update(HEADERS)
        if path.startswith("assets/") and response.status_code == 200:
            response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
        else:
            response.headers["Cache-Control"] = "no-cache"
        return response


def explorer_routes(directory: Path | str = STATIC_DIR) -> list[BaseRoute]:
    """The /explorer mount (index.html at /explorer/; /explorer redirects there)."""
    return [Mount("/explorer", app=ExplorerFiles(directory=directory, html=True,
                                                  check_dir=False), name="explorer")]


def mount_explorer(app: Starlette) -> Starlette:
    """Add the explorer to an app built by app.api.asgi.create_app, unless it has it."""
    if not any(getattr(r, "name", None) == "explorer" for r in app.router.routes):
        app.router.routes.extend(explorer_routes())
    return app
