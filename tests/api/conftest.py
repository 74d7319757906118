"""The API served for real: uvicorn on a free port in the test's event loop, over the
`store` fixture (SQLite and Neo4j), called with the gql client over HTTP and WebSocket."""

from __future__ import annotations

import asyncio
import socket
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import uvicorn
from gql import Client, GraphQLRequest
from gql.transport.exceptions import TransportQueryError
from gql.transport.httpx import HTTPXAsyncTransport
from gql.transport.websockets import WebsocketsTransport

from app.api.asgi import create_app
from app.api.events import InProcessBus
from app.bootstrap import Services, build_services
from app.config import Settings
from app.stores.base import IdentityStore
from app.stores.outbox import OutboxPort

KEYS = {"reader": "rk-test-reader-1", "steward": "sk-test-steward-1", "admin": "ak-test-admin-1"}
ROLE_KEYS = ",".join(f"{key}:{role}" for role, key in KEYS.items())


def hold_store_call(monkeypatch: pytest.MonkeyPatch, store: IdentityStore,
                    name: str) -> asyncio.Event:
    """Make every call of the store's method `name` wait until the returned event is set,
    then run for real: a request held in the store for as long as a test needs."""
    release = asyncio.Event()
    real = getattr(store, name)

    async def held(*args: Any, **kwargs: Any) -> Any:
        await release.wait()
        return await real(*args, **kwargs)

    monkeypatch.setattr(store, name, held, raising=False)
    return release


class CountingStore:
    """Delegates every call to the real store and counts the port methods called. Port
    methods the adapter inherits from IdentityStore run with this proxy as `self`, so the
    calls they make are counted too. The outbox's are not counted: the API reads the
    outbox in the background, whatever the requests do."""

    def __init__(self, store: IdentityStore) -> None:
        self._store = store
        self.calls: Counter[str] = Counter()

    def __getattr__(self, name: str) -> Any:
        real = getattr(self._store, name)
        port = getattr(IdentityStore, name, None)
        if (not callable(real) or name.startswith("_") or port is None
                or hasattr(OutboxPort, name)):
            return real
        inherited = getattr(type(self._store), name) is port
        method = port.__get__(self) if inherited else real

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] += 1
            return method(*args, **kwargs)

        return counted

    def reset(self) -> None:
        self.calls.clear()

    @property
    def total(self) -> int:
        return sum(self.calls.values())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class GraphQLFailed(AssertionError):
    def __init__(self, errors: list[dict[str, Any]], data: Any) -> None:
        super().__init__(errors[0]["message"] if errors else "no data")
        self.errors = errors
        self.data = data


@dataclass
class Api:
    url: str
    services: Services
    bus: InProcessBus
    counting: CountingStore
    relay: Any = None  # what feeds the bus from the outbox (app.api.events.change_relay)
    clients: dict[str, Any] = field(default_factory=dict)

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://") + "/graphql"

    async def session(self, role: str) -> Any:
        """A gql session with the key of `role` (kept open for the test)."""
        if role not in self.clients:
            transport = HTTPXAsyncTransport(url=self.url + "/graphql",
                                            headers={"Authorization": f"Bearer {KEYS[role]}"},
                                            timeout=30)
            client = Client(transport=transport, fetch_schema_from_transport=False)
            self.clients[role] = (client, await client.connect_async())
        return self.clients[role][1]

    async def run(self, role: str, query: str, **variables: Any) -> dict[str, Any]:
        """The data of a query that must succeed."""
        session = await self.session(role)
        return await session.execute(GraphQLRequest(query, variable_values=variables or None))

    async def fails(self, role: str, query: str, **variables: Any) -> GraphQLFailed:
        """The errors of a query that must fail."""
        try:
            data = await self.run(role, query, **variables)
        except TransportQueryError as exc:
            return GraphQLFailed(list(exc.errors or []), exc.data)
        raise AssertionError(f"expected errors, got {data}")

    def ws_client(self, role: str | None, **kwargs: Any) -> Client:
        payload = {"Authorization": f"Bearer {KEYS[role]}"} if role else {}
        transport = WebsocketsTransport(
            url=self.ws_url, init_payload=payload,
            subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL], **kwargs)
        return Client(transport=transport, fetch_schema_from_transport=False)

    async def post(self, body: Any, role: str | None = "steward", **kwargs: Any
                   ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {KEYS[role]}"} if role else {}
        headers |= kwargs.pop("headers", {})
        async with httpx.AsyncClient(timeout=30) as http:
            if isinstance(body, str | bytes):
                return await http.post(self.url + "/graphql", content=body,
                                       headers={"Content-Type": "application/json", **headers},
                                       **kwargs)
            return await http.post(self.url + "/graphql", json=body, headers=headers, **kwargs)

    async def caught_up(self) -> None:
        """Wait until the changes committed so far (a seed's, say) have been delivered, so
        that a subscription opened next hears only what comes after."""
        newest = (await self.services.store.outbox_status()).newest
        self.relay.wake()
        for _ in range(500):
            if (self.relay.position or 0) >= newest:
                return
            await asyncio.sleep(0.02)
        raise AssertionError(f"the relay is at {self.relay.position}, not {newest}, after 10 s")

    async def close(self) -> None:
        for client, _ in self.clients.values():
            await client.close_async()


async def serve_api(store: IdentityStore, bus: Any = None, **settings: Any
                    ) -> AsyncIterator[Api]:
    counting = CountingStore(store)
    config = Settings(store=store.url, **{"api_keys": ROLE_KEYS, **settings})
    services = build_services(config, store=counting)  # type: ignore[arg-type]
    bus = bus or InProcessBus()
    app = create_app(services, bus=bus, close_services=False)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="on"))
    task = asyncio.create_task(server.serve())
    async with asyncio.timeout(20):
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.02)
    api = Api(f"http://127.0.0.1:{port}", services, bus, counting, app.state.relay)
    try:
        yield api
    finally:
        await api.close()
        server.should_exit = True
        async with asyncio.timeout(20):
            await task


@pytest.fixture
async def api(store) -> AsyncIterator[Api]:
    async for served in serve_api(store):
        yield served


@pytest.fixture
def api_with():
    """Serve the API with some settings changed: `async with api_with(store, x=1) as api`."""
    import contextlib

    return lambda store, **kwargs: contextlib.asynccontextmanager(serve_api)(store, **kwargs)
