"""The production store: Neo4j 5 through the official async driver.

Behaves exactly like the SQLite reference adapter (one contract suite runs on both). The
Cypher lives in queries.py, record conversion in records.py, migrations in migrate.py.

`transact` runs as one managed write transaction (`session.execute_write`), which the
driver re-runs on transient errors such as a detected deadlock; `decide` is pure, so
running it again is harmless. Before reading, a transaction write-locks the batch's
identifiers (creating placeholders for new keys, which the unique constraint on
Identifier.key serialises) and then their current customers; graph_schema/model.md
explains why that keeps concurrent loaders from splitting or losing a customer.
"""

from __future__ import annotations

import functools
import re
from collections import defaultdict
from collections.abc import Awaitable, Callable, Collection
from typing import Any, Concatenate, ParamSpec, TypeVar
from urllib.parse import quote, urlsplit, urlunsplit

from neo4j import AsyncGraphDatabase, AsyncManagedTransaction, RoutingControl
from neo4j.exceptions import (
    AuthError,
    ClientError,
    ConfigurationError,
    DatabaseUnavailable,
    ServiceUnavailable,
    SessionExpired,
)

from app.domain.plan import Plan, Snapshot
from app.domain.resolution import SAMPLE_EVENT_IDS
from app.stores.base import (
    Cursor,
    Decide,
    EventRecord,
    IdentifierRecord,
    IdentityStore,
    LinkRecord,
    MergeRecord,
    StoreError,
    StoreStats,
    StoreUnavailable,
    StoreURLError,
)
from app.stores.neo4j import migrate as migrations
from app.stores.neo4j import queries as q
from app.stores.neo4j import records

# The name of the counter node that numbers merges (MergeSequence.name).
MERGE_SEQUENCE = "merges"
DATABASE_NOT_FOUND = "Neo.ClientError.Database.DatabaseNotFound"
HINT = "start it with scripts/services up or check IDGRAPH_STORE"

P = ParamSpec("P")
R = TypeVar("R")


def redact(url: str) -> str:
    """The URL with its password replaced by ***, fit for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    if ":" in host:  # IPv6
        host = f"[{host}]"
    netloc = f"{user}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def _one_line(exc: BaseException, limit: int = 200) -> str:
    text = re.sub(r"\s+", " ", str(exc)).strip() or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _translated(
    method: Callable[Concatenate[Neo4jStore, P], Awaitable[R]],
) -> Callable[Concatenate[Neo4jStore, P], Awaitable[R]]:
    """Turn "cannot reach / cannot log in to the server" into StoreUnavailable, so callers
    get one clear line instead of a driver stack trace."""

    @functools.wraps(method)
    async def wrapper(self: Neo4jStore, *args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await method(self, *args, **kwargs)
        except (ServiceUnavailable, SessionExpired, DatabaseUnavailable, AuthError,
                OSError) as exc:
            raise self._unavailable(exc) from None
        except ClientError as exc:
            if exc.code != DATABASE_NOT_FOUND:
                raise
            raise StoreUnavailable(
                f"Neo4j at {self.redacted_url} has no database {self.database!r}; "
                f"create it or choose another") from None

    return wrapper


class Neo4jStore(IdentityStore):
    def __init__(self, address: str, auth: tuple[str, str], *, database: str = "neo4j",
                 url: str | None = None) -> None:
        self.address = address
        self.database = database
        self.user = auth[0]
        self.url = url or address.replace("://", f"://{quote(auth[0], safe='')}@", 1)
        self.redacted_url = redact(self.url)
        try:
            self.driver = AsyncGraphDatabase.driver(address, auth=auth,
                                                    user_agent="idgraph")
        except (ConfigurationError, ValueError) as exc:
            raise StoreURLError(f"{self.redacted_url}: {_one_line(exc)}") from None

    def __repr__(self) -> str:
        return f"Neo4jStore({self.redacted_url!r}, database={self.database!r})"

    def _unavailable(self, exc: BaseException) -> StoreUnavailable:
        if isinstance(exc, AuthError):
            return StoreUnavailable(
                f"Neo4j at {self.redacted_url} refused the credentials of user "
                f"{self.user!r}; check the user and password in IDGRAPH_STORE")
        return StoreUnavailable(
            f"Neo4j at {self.redacted_url} (database {self.database!r}) is unreachable: "
            f"{_one_line(exc)}; {HINT}")

    async def _read(self, query: str, **params: Any) -> list[Any]:
        records_, _, _ = await self.driver.execute_query(
            query, params, database_=self.database, routing_=RoutingControl.READ)
        return records_

    # -- lifecycle ---------------------------------------------------------------
    @_translated
    async def migrate(self) -> list[str]:
        return await migrations.migrate(self.driver, self.database)

    @_translated
    async def pending(self) -> list[str]:
        """The graph_schema/ migrations not applied yet."""
        return await migrations.check(self.driver, self.database)

    @_translated
    async def ping(self) -> None:
        async with self.driver.session(database=self.database) as session:
            await (await session.run(q.PING)).consume()

    async def close(self) -> None:
        await self.driver.close()

    # -- writes ------------------------------------------------------------------
    @_translated
    async def transact(self, keys: Collection[str], event_ids: Collection[str],
                       decide: Decide) -> Plan:
        key_list = records.unique(keys)
        event_id_list = records.unique(event_ids)

        async def work(tx: AsyncManagedTransaction) -> Plan:
            snapshot, locked = await self._lock_and_snapshot(tx, key_list, event_id_list)
            plan = decide(snapshot)
            if plan:
                await self._apply(tx, plan)
            release = records.unique([*key_list, *(d.key for d in plan.identifiers)])
            await (await tx.run(q.RELEASE, keys=release, customer_ids=sorted(locked))).consume()
            return plan

        async with self.driver.session(database=self.database) as session:
            return await session.execute_write(work)

    @staticmethod
    async def _lock_and_snapshot(tx: AsyncManagedTransaction, keys: list[str],
                                 event_ids: list[str]) -> tuple[Snapshot, set[str]]:
        result = await tx.run(q.LOCK_IDENTIFIERS, keys=keys)
        owners = {r["customer_id"] async for r in result}
        locked: set[str] = set()
        while True:
            # An owner read before its customer was locked may have been merged away in
            # between; lock the new owners and read again until nothing changes. Each round
            # locks at least one more customer, so this ends.
            if need := sorted(owners - locked):
                await (await tx.run(q.LOCK_CUSTOMERS, ids=need)).consume()
                locked.update(need)
            row = await (await tx.run(q.SNAPSHOT, keys=keys, event_ids=event_ids)
                         ).single(strict=True)
            snapshot = records.snapshot(row["owners"], row["seen"])
            owners = set(snapshot.owners.values())
            if owners <= locked:
                return snapshot, locked

    @staticmethod
    async def _apply(tx: AsyncManagedTransaction, plan: Plan) -> None:
        if unsupported := records.unsupported_sections(plan):
            raise StoreError(
                f"the Neo4j adapter cannot apply these plan sections yet: "
                f"{', '.join(unsupported)}; nothing was written")

        async def run(query: str, rows: list[dict[str, Any]], **params: Any) -> Any:
            return await tx.run(query, rows=rows, **params)

        if rows := records.customer_rows(plan):
            await (await run(q.CREATE_CUSTOMERS, rows)).consume()
        merge_rows = records.merge_rows(plan)
        if merge_rows:
            row = await (await run(q.APPLY_MERGES, merge_rows)).single(strict=True)
            if row["applied"] != len(merge_rows):
                raise StoreError("a merge names a customer the store does not hold")
        if rows := records.first_seen_rows(plan):
            await (await run(q.SET_FIRST_SEEN, rows)).consume()
        if rows := records.identifier_rows(plan):
            row = await (await run(q.UPSERT_IDENTIFIERS, rows)).single(strict=True)
            if row["attached"] != row["fresh"]:
                raise StoreError("a new identifier names a customer the store does not hold")
        if rows := records.link_rows(plan):
            await (await run(q.UPSERT_LINKS, rows, sample=SAMPLE_EVENT_IDS)).consume()
        if rows := records.event_rows(plan):
            await (await run(q.CREATE_EVENTS, rows)).consume()
        if merge_rows:
            row = await (await run(q.RECORD_MERGES, merge_rows, sequence=MERGE_SEQUENCE)
                         ).single(strict=True)
            if row["recorded"] != len(merge_rows):
                raise StoreError("a merge names a customer the store does not hold")

    # -- reads -------------------------------------------------------------------
    @_translated
    async def current_ids(self, customer_ids: Collection[str]) -> dict[str, str]:
        rows = await self._read(q.CURRENT_IDS, ids=records.unique(customer_ids))
        return {r["id"]: r["current"] for r in rows}

    @_translated
    async def owners(self, keys: Collection[str]) -> dict[str, str]:
        rows = await self._read(q.OWNERS, keys=records.unique(keys))
        return {r["key"]: r["customer_id"] for r in rows}

    @_translated
    async def identifiers_of(self, customer_ids: Collection[str]
                             ) -> dict[str, list[IdentifierRecord]]:
        found: dict[str, list[IdentifierRecord]] = defaultdict(list)
        for row in await self._read(q.IDENTIFIERS_OF, ids=records.unique(customer_ids)):
            found[row["customer_id"]].append(records.identifier_record(row))
        return dict(found)

    @_translated
    async def timeline(self, customer_id: str, first: int, after: Cursor | None
                       ) -> list[EventRecord]:
        ts, event_id = after if after else (None, None)
        rows = await self._read(q.TIMELINE, customer_id=customer_id, first=first, ts=ts,
                                event_id=event_id)
        return [records.timeline_record(row) for row in rows]

    @_translated
    async def links_of(self, customer_id: str) -> list[LinkRecord]:
        rows = await self._read(q.LINKS_OF, customer_id=customer_id)
        return [records.link_record(row) for row in rows]

    @_translated
    async def merges_into(self, customer_ids: Collection[str]) -> dict[str, list[MergeRecord]]:
        found: dict[str, list[MergeRecord]] = defaultdict(list)
        for row in await self._read(q.MERGES_INTO, ids=records.unique(customer_ids)):
            found[row["current"]].append(records.merge_record(row))
        return dict(found)

    @_translated
    async def customer_page(self, after: str | None, limit: int) -> list[str]:
        rows = await self._read(q.CUSTOMER_PAGE, after=after or "", limit=limit)
        return [r["id"] for r in rows]

    @_translated
    async def stats(self) -> StoreStats:
        [row] = await self._read(q.STATS)
        return StoreStats(customers=row["customers"], identifiers=row["identifiers"],
                          links=row["links"], events=row["events"])
