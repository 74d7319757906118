"""The Starlette application: /graphql (with GraphiQL) and /healthz."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse
from starlette.routing import Route
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL

from app.api.context import Context
from app.api.schema import schema
from app.bootstrap import Services
from app.stores.base import StoreUnavailable


class IdgraphGraphQL(GraphQL[Context, None]):
    def __init__(self, services: Services) -> None:
        super().__init__(schema, graphql_ide="graphiql")
        self.services = services

    async def get_context(self, request: Request | WebSocket, response: Any) -> Context:
        return Context(self.services)


def create_app(services: Services) -> Starlette:
    async def healthz(_: Request) -> JSONResponse:
        try:
            await services.store.ping()
        except StoreUnavailable as exc:
            return JSONResponse({"status": "unavailable", "store": str(exc)}, status_code=503)
        return JSONResponse({"status": "ok"})

    async def root(_: Request) -> RedirectResponse:
        return RedirectResponse("/graphql")

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        yield
        await services.close()

    graphql = IdgraphGraphQL(services)
    return Starlette(
        routes=[
            Route("/", root),
            Route("/healthz", healthz),
            Route("/graphql", graphql, methods=["GET", "POST"]),
        ],
        lifespan=lifespan,
    )
