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
import hashlib
import json
import os
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping
from typing import Any

from cross_web import HTTPException
from graphql import GraphQLError, GraphQLSyntaxError
from graphql.execution import ExperimentalIncrementalExecutionResults
from starlette.applications import Starlette
from starlette.datastructures import QueryParams
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route, WebSocketRoute
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import ASGIWebSocketAdapter, GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLRequestData
from strawberry.http.parse_content_type import parse_content_type
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.types import ExecutionResult

from app.api.auth import ANONYMOUS, Authenticator, AuthError
from app.api.budget import Budget, BudgetError, RequestLimit, decode_json, operation_request
from app.api.context import Context
from app.api.deadline import over_time
from app.api.errors import (
    ErrorCode,
    code_for_status,
    error_body,
    http_status,
    is_request_error,
    with_code,
)
from app.api.events import EventBus, change_relay, open_bus
from app.api.hosts import HostGuard, allowed_host_patterns
from app.api.incremental import within_budget
from app.api.persisted import PersistedQueries
from app.api.schema import build_schema
from app.bootstrap import Services, start
from app.config import WORKER_SETTINGS, Settings
from app.metrics import CONTENT_TYPE, metrics_text
from app.stores.errors import StoreUnavailable
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


class SubscriptionHandler(BaseGraphQLTransportWSHandler[Context, None]):
    """A subscribe whose document does not parse is answered as one that does not
    validate: an `error` message for that operation with its code (the protocol's answer
    to errors before execution), and the connection stays open for the others."""

    @staticmethod
    def _get_pre_execution_close_reason(error: GraphQLError) -> str | None:
        if isinstance(error, GraphQLSyntaxError):
            with_code(error)
            return None
        return BaseGraphQLTransportWSHandler._get_pre_execution_close_reason(error)


class IdgraphGraphQL(GraphQL[Context, None]):
    websocket_adapter_class = BoundedWebSocket
    graphql_transport_ws_handler_class = SubscriptionHandler

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
        self.persisted = PersistedQueries(settings.api_persisted_queries)

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

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await super().__call__(scope, receive, send)
        request = Request(scope=scope, receive=receive)
        try:
            response = cacheable(request, await self.run(request))
        except HTTPException as exc:
            response = refusal(exc.reason, exc.status_code, response_media_type(request),
                               getattr(exc, "code", None))
        await response(scope, receive, send)

    async def get_sub_response(self, request: Request | WebSocket) -> Response:
        sub_response = await super().get_sub_response(request)
        sub_response.media_type = response_media_type(request)
        return sub_response

    def create_response(self, response_data: Any, sub_response: Response) -> Response:
        response = super().create_response(response_data, sub_response)
        media_type = sub_response.media_type or JSON
        response.headers["content-type"] = f"{media_type}; charset=utf-8"
        # application/json keeps 200 for every GraphQL result; with the newer media type a
        # request error says what it is with its status.
        if media_type == GRAPHQL_RESPONSE and isinstance(response_data, dict) \
                and "data" not in response_data and response_data.get("errors"):
            code = response_data["errors"][0].get("extensions", {}).get("code", "")
            response.status_code = http_status(ErrorCode(code)) \
                if code in ErrorCode.__members__ else 400
        return response

    async def process_result(self, request: Any, result: ExecutionResult) -> Any:
        processed = await super().process_result(request, result)
        request.state.answered_whole = not result.errors  # what `cacheable` may keep
        if is_request_error(result.data, result.errors):
            processed.pop("data", None)  # not executed: no data entry (GraphQL spec 7.1)
        return processed

    async def execute_single(self, request: Any, request_adapter: Any, sub_response: Any,
                             context: Context, root_value: Any,
                             request_data: GraphQLRequestData) -> ExecutionResult:
        # Opened unarmed: QueryDeadline arms it once the operation is known to be a query.
        try:
            async with asyncio.timeout(None) as budget:
                context.time_budget = budget
                result = await super().execute_single(request, request_adapter, sub_response,
                                                      context, root_value, request_data)
            if isinstance(result, ExperimentalIncrementalExecutionResults):
                # @defer: the parts after this first one are made as the response is sent
                return within_budget(result, budget.when(),
                                     self.services.settings.api_query_timeout_seconds)
            return result
        except TimeoutError:
            if not budget.expired():
                raise
            seconds = self.services.settings.api_query_timeout_seconds
            return ExecutionResult(data=None, errors=[over_time(seconds)])
        except HTTPException as exc:
            if isinstance(exc.__cause__, InvalidOperationTypeError):
                # A mutation sent with GET: the method is what is wrong (405, POST allowed).
                raise HTTPException(405, exc.reason) from None
            raise

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

    def should_render_graphql_ide(self, request: Any) -> bool:
        # A GET that sends only a persisted query's hash (in `extensions`) is an operation.
        return super().should_render_graphql_ide(request) \
            and "extensions" not in request.query_params

    async def parse_http_body(self, request: Any) -> GraphQLRequestData:
        return self.persisted.resolve(await self._request_data(request))

    async def _request_data(self, request: Any) -> GraphQLRequestData:
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
    `query` or `extensions` (a persisted query's hash) present in any form, even empty,
    is an operation."""
    params = QueryParams(scope.get("query_string", b""))
    return (scope["method"] == "GET" and "text/html" in headers.get("accept", "")
            and "query" not in params and "extensions" not in params)


JSON = "application/json"
GZIP_MIN_BYTES = 1024  # below this, compressing costs more than it saves
GRAPHQL_RESPONSE = "application/graphql-response+json"


def response_media_type(request: Request | WebSocket) -> str:
    """application/graphql-response+json when the client accepts it (the
    GraphQL-over-HTTP specification's media type), else application/json: with no Accept
    header, */*, or only the older type."""
    for part in request.headers.get("accept", "").split(","):
        media_type, _, params = part.strip().partition(";")
        if media_type.strip().lower() == GRAPHQL_RESPONSE and "q=0" not in \
                params.replace(" ", "").split(";"):
            return GRAPHQL_RESPONSE
    return JSON


def refusal(message: str, status: int, media_type: str = JSON,
            code: ErrorCode | None = None) -> Response:
    """A request refused before GraphQL ran, as a GraphQL response with a coded error."""
    code = code or code_for_status(status)
    headers = {"Cache-Control": NO_STORE}
    if status == 405:
        headers["Allow"] = "POST"
    if code is ErrorCode.UNAUTHENTICATED:
        headers["WWW-Authenticate"] = "Bearer"
    return Response(json.dumps(error_body(message, code)), status_code=status,
                    headers=headers, media_type=f"{media_type}; charset=utf-8")


NO_STORE = "no-store"
# A GET answer may be kept, by the caller's own cache only (answers depend on the key),
# and is checked again each time: If-None-Match with its ETag costs a 304 and no body.
REVALIDATE = "private, no-cache"


def cacheable(request: Request, response: Response) -> Response:
    """Cache headers on an answer: a successful GET query gets an ETag of its body and
    is answered 304 when the client already holds that body; anything else, parts sent as
    they are made (@defer) too, is not stored."""
    if request.method != "GET" or response.status_code != 200 \
            or isinstance(response, StreamingResponse) \
            or not getattr(request.state, "answered_whole", False):
        response.headers.setdefault("Cache-Control", NO_STORE)
        return response
    etag = 'W/"' + hashlib.sha256(response.body).hexdigest()[:32] + '"'
    headers = {"ETag": etag, "Cache-Control": REVALIDATE, "Vary": "Accept, Authorization"}
    if etag in (t.strip() for t in request.headers.get("if-none-match", "").split(",")):
        return Response(status_code=304, headers=headers)
    response.headers.update(headers)
    return response


def unauthorized(message: str) -> Response:
    return refusal(message, 401)


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
    middleware = [Middleware(HostGuard, patterns=hosts),
                  Middleware(GZipMiddleware, minimum_size=GZIP_MIN_BYTES)]
    if origins := settings.cors_origins():
        middleware.append(Middleware(
            CORSMiddleware, allow_origins=origins, allow_methods=["GET", "POST", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type", "If-None-Match"],
            expose_headers=["ETag"], max_age=600))
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
    every worker takes the settings that the command read (it hands them over whole in
    WORKER_SETTINGS), so that no worker reads its own."""
    return WorkerApp(Settings.from_json(os.environ[WORKER_SETTINGS]))
