"""Which Host header values the API answers (HTTP and WebSocket).

A page on any web site can make a browser send requests to a name that its owner points
at 127.0.0.1 (DNS rebinding); the browser then reads the answers as that site's own. In
local development mode every request is an admin, so without keys only loopback names are
answered unless IDGRAPH_API_ALLOWED_HOSTS says otherwise. With keys the list applies when
set, and any host is answered when it is not.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from starlette.types import ASGIApp, Receive, Scope, Send

LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")
ANY = "*"
# WebSocket close code for a refused handshake: policy violation (RFC 6455).
POLICY_VIOLATION = 1008


def host_of(header: str) -> str | None:
    """The host name of a Host header value, lower case, without the port; None when the
    value is not a host."""
    header = header.strip().lower()
    if header.startswith("["):  # an IPv6 address: [::1]:8000
        host, found, _ = header[1:].partition("]")
        return host if found and host else None
    host = header.rsplit(":", 1)[0] if header.count(":") == 1 else header
    return host or None


def host_allowed(host: str, patterns: Sequence[str]) -> bool:
    for pattern in patterns:
        if pattern == ANY or host == pattern:
            return True
        if pattern.startswith("*.") and host.endswith(pattern[1:]):
            return True
    return False


def allowed_host_patterns(configured: Sequence[str], dev_mode: bool) -> list[str]:
    """The patterns in force: the configured list, else loopback only in development mode
    and any host with keys."""
    if configured:
        return list(configured)
    return list(LOOPBACK_HOSTS) if dev_mode else [ANY]


class HostGuard:
    """Refuse HTTP requests (400, a JSON error) and WebSocket handshakes (closed before
    they are accepted) whose Host is not allowed."""

    def __init__(self, app: ASGIApp, patterns: Sequence[str]) -> None:
        self.app = app
        self.patterns = list(patterns)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or ANY in self.patterns:
            return await self.app(scope, receive, send)
        headers = [v.decode("latin-1") for k, v in scope.get("headers", ())
                   if k.lower() == b"host"]
        header = headers[0] if headers else ""
        host = host_of(header) if len(headers) == 1 else None  # two: which one is meant?
        if host is not None and host_allowed(host, self.patterns):
            return await self.app(scope, receive, send)
        if scope["type"] == "websocket":
            await receive()  # the websocket.connect message
            return await send({"type": "websocket.close", "code": POLICY_VIOLATION,
                               "reason": "host not allowed (IDGRAPH_API_ALLOWED_HOSTS)"})
        shown = json.dumps(header[:100])
        body = json.dumps({"errors": [{"message": (
            f"Host {shown} is not one this API answers to; allowed: "
            f"{', '.join(self.patterns)} (IDGRAPH_API_ALLOWED_HOSTS)")}]}).encode()
        await send({"type": "http.response.start", "status": 400,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})
