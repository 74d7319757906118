"""The Starlette application: /graphql (HTTP and graphql-transport-ws, with GraphiQL when
introspection is on), /healthz and /metrics; and `worker_app`, the factory that each
process of `idgraph serve --workers N` builds it with.

Every request passes, in order: HostGuard (app/api/hosts.py), then for /graphql
RequestLimit (the size budget, app/api/budget.py) and Authenticate (the caller). A request
without an accepted key reaches the schema only to load the GraphiQL page, as ANONYMOUS,
which RequireCaller (app/api/auth.py) stops from running any operation."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping
from typing import Any

from cross_web import HTTPException
from starlette.applications import Starlette
from starlette.datastructures import QueryParams
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import ASGIWebSocketAdapter, GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLRequestData
from strawberry.http.parse_content_type import parse_content_type
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types import ExecutionResult

from app.api.auth import ANONYMOUS, Authenticator, AuthError
from app.api.budget import Budget, BudgetError, RequestLimit, decode_json, operation_request
from app.api.context import Context
from app.api.deadline import over_time
from app.api.events import EventBus, change_relay, open_bus
from app.api.hosts import HostGuard, allowed_host_patterns
from app.api.schema import build_schema
from app.bootstrap import Services, start
from app.config import Settings
from app.stores.base import StoreUnavailable
from app.web.routes import explorer_routes

# graphql-transport-ws: the client sent something that is not a message of the protocol.
BAD_MESSAGE = 4400
MAX_CLOSE_REASON = 123  # bytes (RFC 6455)


class BoundedWebSocket(ASGIWebSocketAdapter):
    """Messages of graphql-transport-ws within the budget: one that is not a JSON object
    with a type, or nests too deeply, closes the connection with a reason that says so."""

    async def iter_json(self, *, ignore_parsing_errors: bool = False
                        ) -> AsyncGenerator[object, None]:
        try:
            async for message in super().iter_json(ignore_parsing_errors=ignore_parsing_errors):
                if not isinstance(message, dict) or not isinstance(message.get("type"), str):
                    await self.close(BAD_MESSAGE, "WebSocket message: expected a JSON object "
                                     "with a type, such as {\"type\": \"connection_init\"}")
                    return
                yield message
        except BudgetError as exc:
            await self.close(BAD_MESSAGE, str(exc)[:MAX_CLOSE_REASON])


class IdgraphGraphQL(GraphQL[Context, None]):
    websocket_adapter_class = BoundedWebSocket  # type: ignore[assignment]

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
        self.budget = Budget(settings.api_max_body_bytes, settings.api_max_json_depth)

    async def get_context(self, request: Request | WebSocket, response: Any) -> Context:
        # ANONYMOUS: a WebSocket until its connection_init, or the GraphiQL page (the only
        # request Authenticate lets through without a key). Neither may run an operation.
        principal = request.scope.get("state", {}).get("principal", ANONYMOUS)
        return Context(self.services, principal, self.bus, changed=self.changed)

    async def on_ws_connect(self, context: Context) -> Any:
        params = context.connection_params or {}
        header = params.get("Authorization") or params.get("authorization")
        try:
            context.principal = self.auth.principal(header if isinstance(header, str) else None)
        except AuthError as exc:
            raise ConnectionRejectionError({"message": str(exc)}) from None
        return {"role": context.principal.role}

    async def execute_single(self, request: Any, request_adapter: Any, sub_response: Any,
                             context: Context, root_value: Any,
                             request_data: GraphQLRequestData) -> ExecutionResult:
        # Opened unarmed: QueryDeadline arms it once the operation is known to be a query.
        try:
            async with asyncio.timeout(None) as budget:
                context.time_budget = budget
                return await super().execute_single(request, request_adapter, sub_response,
                                                    context, root_value, request_data)
        except TimeoutError:
            if not budget.expired():
                raise
            seconds = self.services.settings.api_query_timeout_seconds
            return ExecutionResult(data=None, errors=[over_time(seconds)])

    def decode_json(self, data: str | bytes) -> object:
        # Only WebSocket messages come here (BoundedWebSocket reports a BudgetError); HTTP
        # bodies and parameters are decoded by _decode_http.
        return decode_json(data, self.budget, "WebSocket message")

    def _decode_http(self, data: str | bytes, what: str) -> Any:
        try:
            return decode_json(data, self.budget, what)
        except json.JSONDecodeError:
            raise HTTPException(400, f"Unable to parse {what} as JSON") from None
        except BudgetError as exc:
            raise HTTPException(400, str(exc)) from None

    def parse_query_params(self, params: Mapping[str, str | None]) -> dict[str, Any]:
        found = dict(params)
        for name in ("variables", "extensions"):
            if found.get(name):
                found[name] = self._decode_http(found[name] or "", name)
        return found

    async def parse_http_body(self, request: Any) -> GraphQLRequestData:
        content_type, _ = parse_content_type(request.content_type or "")
        if request.method != "POST" or "application/json" not in content_type:
            return await super().parse_http_body(request)  # type: ignore[return-value]
        body = self._decode_http(await request.get_body(), "request body")
        try:
            parts = operation_request(body)
        except BudgetError as exc:
            raise HTTPException(400, str(exc)) from None
        return GraphQLRequestData(query=parts.query, variables=parts.variables,
                                  operation_name=parts.operation_name,
                                  extensions=parts.extensions)


class Authenticate:
    """Name the caller of every HTTP request to /graphql (401 when the key is not accepted);
    the GraphiQL page itself needs no key, its queries do."""

    def __init__(self, app: ASGIApp, auth: Authenticator, ide: bool) -> None:
        self.app = app
        self.auth = auth
        self.ide = ide

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] == "OPTIONS":
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        try:
            principal = self.auth.principal(headers.get("authorization"))
        except AuthError as exc:
            if not (self.ide and wants_ide(scope, headers)):
                return await unauthorized(str(exc))(scope, receive, send)
            principal = ANONYMOUS
        scope.setdefault("state", {})["principal"] = principal
        await self.app(scope, receive, send)


def wants_ide(scope: Scope, headers: Mapping[str, str]) -> bool:
    """Whether a request asks for the GraphiQL page: a GET from a browser that sends no
    operation. Decided on the parameters as decoded (%71uery is query), and strictly:
    `query` present in any form, even empty, is an operation."""
    params = QueryParams(scope.get("query_string", b""))
    return (scope["method"] == "GET" and "text/html" in headers.get("accept", "")
            and "query" not in params)


def unauthorized(message: str) -> JSONResponse:
    return JSONResponse({"errors": [{"message": message}]}, status_code=401,
                        headers={"WWW-Authenticate": "Bearer"})


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

    async def metrics(request: Request) -> Response:
        # Loader throughput is nobody else's business once keys are set: any key will do.
        try:
            graphql.auth.principal(request.headers.get("authorization"))
        except AuthError as exc:
            return unauthorized(str(exc))
        try:
            from loaders.metrics import CONTENT_TYPE, metrics_text
        except ImportError:  # the loaders' optional dependencies are not installed
            return Response(json.dumps({"error": "metrics need prometheus_client"}),
                            status_code=404, media_type="application/json")
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

    http_graphql = RequestLimit(Authenticate(graphql, graphql.auth, bool(graphql.graphql_ide)),
                                graphql.budget)
    hosts = allowed_host_patterns(settings.allowed_hosts(), graphql.auth.dev_mode)
    middleware = [Middleware(HostGuard, patterns=hosts)]
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
            WebSocketRoute("/graphql", RequestLimit(graphql, graphql.budget)),
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
    every worker reads the settings from the environment, as the command that started it
    did (it passes its --store on as IDGRAPH_STORE)."""
    return WorkerApp(Settings())
