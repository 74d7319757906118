"""What the store's parts (history, segments, outbox, read model) use of Neo4jStore: its
driver and database, its reads, and the error translation's."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from neo4j import AsyncDriver

from app.stores.errors import StoreUnavailable


class Neo4jPart:
    driver: AsyncDriver
    database: str
    redacted_url: str

    if TYPE_CHECKING:  # the store's, for the queries and the error translation
        def _unavailable(self, exc: BaseException) -> StoreUnavailable: ...

        async def _read(self, query: str, **params: Any) -> list[Any]: ...
