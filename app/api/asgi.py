"""The Starlette application: /graphql (HTTP and graphql-transport-ws, with GraphiQL when
introspection is on), /healthz and /metrics; and `worker_app`, the factory that each
process of `idgraph serve --workers N` builds it with."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL

from app.api.auth import Authenticator, AuthError, Principal
from app.api.context import Context
from app.api.events import EventBus, change_relay, open_bus
from app.api.limits import BodyLimit
from app.api.schema import build_schema
from app.bootstrap import Services, start
from app.config import WORKER_SETTINGS, Settings
from app.metrics import CONTENT_TYPE, metrics_text
from app.stores.errors import StoreUnavailable
from app.web.routes import explorer_routes

# A WebSocket is authenticated by its connection_init payload: until then, and on the
# GraphiQL page, the caller runs no operation.
UNAUTHENTICATED = Principal("reader", "unauthenticated")


class IdgraphGraphQL(GraphQL[Context, None]):
    def __init__(self, services: Services, bus: EventBus,
                 changed: Callable[[], None] | None = None) -> None:
        settings = services.settings
        super().__init__(
            build_schema(settings),
            graphql_ide="graphiql" if settings.api_introspection else None,
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
            allowed_origins=settings.cors_origins(),
        )
        self.services = services
        self.bus = bus
        self.changed = changed
        self.auth = Authenticator(settings)

    async def get_context(self, request: Request | WebSocket, response: Any) -> Context:
        # Without a principal: a WebSocket before connection_init, or the GraphiQL page
        # (Authenticate lets only that through), which runs no operation.
        principal = request.scope.get("state", {}).get("principal", UNAUTHENTICATED)
        return Context(self.services, principal, self.bus, changed=self.changed)

    async def on_ws_connect(self, context: Context) -> Any:
        params = context.connection_params or {}
        header = params.get("Authorization") or params.get("authorization")
        try:
            context.principal = self.auth.principal(header if isinstance(header, str) else None)
        except AuthError as exc:
            raise ConnectionRejectionError({"message": str(exc)}) from None
        return {"role": context.principal.role}


class Authenticate:
    """Name the caller of every HTTP request to /graphql (401 when the key is not accepted);
    the GraphiQL page itself needs no key, its queries do."""

    def __init__(self, app: ASGIApp, auth: Authenticator) -> None:
        self.app = app
        self.auth = auth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] == "OPTIONS":
            return await self.app(scope, receive, send)
        headers = {k.decode().lower(): v.decode("latin-1") for k, v in scope["headers"]}
        try:
            principal = self.auth.principal(headers.get("authorization"))
        except AuthError as exc:
            if _wants_ide(scope, headers):
                return await self.app(scope, receive, send)
            response = JSONResponse({"errors": [{"message": str(exc)}]}, status_code=401,
                                    headers={"WWW-Authenticate": "Bearer"})
            return await response(scope, receive, send)
        scope.setdefault("state", {})["principal"] = principal
        await self.app(scope, receive, send)


def _wants_ide(scope: Scope, headers: dict[str, str]) -> bool:
    return (scope["method"] == "GET" and "text/html" in headers.get("accept", "")
            and b"query=" not in scope.get("query_string", b""))


def create_app(services: Services, *, bus: EventBus | None = None,
               close_services: bool = True) -> Starlette:
    settings = services.settings
    bus = bus or open_bus(settings.api_changes_kafka, settings.api_changes_topic)
    relay = change_relay(services, bus)
    graphql = IdgraphGraphQL(services, bus, relay.wake)

    async def healthz(_: Request) -> JSONResponse:
        try:
            await services.store.ping()
        except StoreUnavailable as exc:
            return JSONResponse({"status": "unavailable", "store": str(exc)}, status_code=503)
        return JSONResponse({"status": "ok"})

    async def root(_: Request) -> RedirectResponse:
        return RedirectResponse("/graphql")

    async def metrics(_: Request) -> Response:
        return Response(metrics_text(), media_type=CONTENT_TYPE)

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        await bus.start()
        stopping = asyncio.Event()
        try:
            # Published (or, for a follower, skipped) before serving: nobody subscribed yet
            await relay.drain()
            relaying = asyncio.create_task(relay.run(stopping))
            try:
                yield
            finally:
                stopping.set()
                await relaying
                await relay.close()
        finally:
            await bus.close()
            if close_services:
                await services.close()

    http_graphql = BodyLimit(Authenticate(graphql, graphql.auth), settings.api_max_body_bytes)
    middleware = []
    if origins := settings.cors_origins():
        middleware.append(Middleware(
            CORSMiddleware, allow_origins=origins, allow_methods=["GET", "POST", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type"], max_age=600))
    app = Starlette(
        routes=[
            Route("/", root),
            Route("/healthz", healthz),
            Route("/metrics", metrics),
            Route("/graphql", http_graphql, methods=["GET", "POST", "OPTIONS"]),
            WebSocketRoute("/graphql", graphql),
            *explorer_routes(),
        ],
        middleware=middleware,
        lifespan=lifespan,
    )
    app.state.bus = bus
    app.state.relay = relay
    return app


class WorkerApp:
    """The app of one worker process: its services are opened at start-up, in the worker's
    own event loop (a Neo4j driver cannot move between loops), then the lifespan and every
    request go to create_app(services)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.app: Starlette | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.app is None:
            if scope["type"] != "lifespan":
                raise RuntimeError("the worker app needs the lifespan protocol to start")
            self.app = create_app(await start(self.settings))
        await self.app(scope, receive, send)


def worker_app() -> WorkerApp:
    """uvicorn's app factory for `idgraph serve --workers N` (`app.api.asgi:worker_app`):
    every worker takes the settings that the command read (it hands them over whole in
    WORKER_SETTINGS), so that no worker reads its own."""
    return WorkerApp(Settings.from_json(os.environ[WORKER_SETTINGS]))
