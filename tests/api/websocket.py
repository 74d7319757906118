"""Raw graphql-transport-ws frames, for what a client library would not send."""

from __future__ import annotations

import json
from typing import Any

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.api.conftest import KEYS

INIT = {"type": "connection_init", "payload": {"Authorization": f"Bearer {KEYS['reader']}"}}


async def ws_send(api, *messages: str | bytes) -> tuple[list[Any], int | None, str]:
    """Send raw frames after an accepted connection_init; the replies until the server
    closes (or the first result: then the code is None), its close code and reason."""
    received: list[Any] = []
    async with connect(api.ws_url, subprotocols=["graphql-transport-ws"],
                       max_size=None) as ws:
        await ws.send(json.dumps(INIT))
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        try:
            for message in messages:
                await ws.send(message)
            async for reply in ws:
                received.append(json.loads(reply))
                if received[-1].get("type") in ("next", "error", "complete"):
                    return received, None, ""
        except ConnectionClosed:
            pass
        return received, ws.close_code, ws.close_reason or ""
