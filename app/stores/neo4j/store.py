"""The production store: Neo4j 5 through the official async driver.

Behaves exactly like the SQLite reference adapter (one contract suite runs on both). The
Cypher lives in queries.py, record conversion in records.py, migrations in migrate.py.

`transact` runs as one managed write transaction (`session.execute_write`), which the
driver re-runs on transient errors such as a detected deadlock; `decide` is pure, so
running it again is harmless. Before reading, a transaction write-locks the batch's
identifiers (creating placeholders for new keys, which the unique constraint on
Identifier.key serialises) and then their current customers, and the customers of any
component it gathers; graph_schema/model.md explains why that keeps concurrent loaders
from splitting or losing a customer. A batch costs three statements in the common case
(LOCK_AND_SNAPSHOT, APPLY, RECORD) and one commit.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Collection
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from neo4j import (
    READ_ACCESS,
    AsyncGraphDatabase,
    AsyncManagedTransaction,
    NotificationMinimumSeverity,
    RoutingControl,
)
from neo4j.exceptions import (
    AuthError,
    ConfigurationError,
    DriverError,
    Neo4jError,
)

from app.domain.matching.blocking import BUCKET_LIMIT
from app.domain.matching.stream import needed_candidates
from app.domain.personal import Spellings
from app.domain.plan import (
    ACTIVE,
    BANNED,
    Component,
    Erased,
    Gather,
    Merge,
    Plan,
    Receipt,
    ReviewStatus,
    Snapshot,
    Split,
)
from app.domain.privacy import SuppressionKey, upgrades
from app.domain.profile import Observation
from app.domain.resolution import SAMPLE_EVENT_IDS
from app.stores.base import IdentityStore
from app.stores.errors import StoreError, StoreUnavailable, StoreURLError
from app.stores.keys import resolve_key
from app.stores.neo4j import migrate as migrations
from app.stores.neo4j import queries as q
from app.stores.neo4j import records
from app.stores.neo4j.errors import translated as _translated
from app.stores.neo4j.history import Neo4jHistory
from app.stores.neo4j.outbox import Neo4jOutbox
from app.stores.neo4j.readmodel import DROP_ERASED_DOCUMENTS, Neo4jReadModel, rewrite_after
from app.stores.neo4j.segments import Neo4jSegments
from app.stores.ports.graph import Decide, decide_with_components
from app.stores.values import (
    AuditRecord,
    Cursor,
    CustomerData,
    CustomerReads,
    EventRecord,
    IdentifierRecord,
    LinkRecord,
    ReviewRecord,
    StoreStats,
    TimelineWindow,
)

# The names of the counter nodes (MergeSequence.name) that number merges, splits, audit
# entries, review items and matching filings.
MERGE_SEQUENCE = "merges"
SPLIT_SEQUENCE = "splits"
AUDIT_SEQUENCE = "audit"
REVIEW_SEQUENCE = "reviews"
MATCH_BLOCK_SEQUENCE = "match_blocks"
# The full-text index of SearchTerm.term (graph_schema/V0002__rules_privacy_matching.cypher),
# and how many index hits to fetch per result wanted (hits of identifiers without a
# customer drop out).
SEARCH_INDEX = "search_term_text"
SEARCH_FETCH_FACTOR = 4
HINT = "start it with scripts/services up or check IDGRAPH_STORE"


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


class _Locks:
    """What a transaction has write-locked: identifier keys and customer ids."""

    __slots__ = ("customers", "gathered", "keys")

    def __init__(self, keys: Collection[str]) -> None:
        self.keys: set[str] = set(keys)
        self.customers: set[str] = set()
        self.gathered: set[str] = set()  # customers whose whole component was read


class Neo4jStore(Neo4jSegments, Neo4jOutbox, Neo4jHistory, Neo4jReadModel, IdentityStore):
    def __init__(self, address: str, auth: tuple[str, str], *, database: str = "neo4j",
                 url: str | None = None, suppression: SuppressionKey | None = None) -> None:
        self.address = address
        self.database = database
        self.user = auth[0]
        self.url = url or address.replace("://", f"://{quote(auth[0], safe='')}@", 1)
        self.redacted_url = redact(self.url)
        self.suppression = suppression or resolve_key(self.url)
        try:
            # Notifications (unknown labels on a fresh database, ...) are for people
            # writing queries at a console; these are fixed and tested.
            self.driver = AsyncGraphDatabase.driver(
                address, auth=auth, user_agent="idgraph",
                notifications_min_severity=NotificationMinimumSeverity.OFF)
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
        """A read in an auto-commit transaction: one round trip, where a managed one
        (execute_query) takes two (BEGIN with RUN, then COMMIT). It keeps execute_query's
        bookmarks; a read that fails with an error worth retrying (a server gone, a
        transient error) is made again through execute_query, which retries it."""
        try:
            async with self.driver.session(
                    database=self.database, default_access_mode=READ_ACCESS,
                    bookmark_manager=self.driver.execute_query_bookmark_manager) as session:
                result = await session.run(query, params)
                return [record async for record in result]
        except (Neo4jError, DriverError) as exc:
            if not exc.is_retryable():
                raise
        records_, _, _ = await self.driver.execute_query(
            query, params, database_=self.database, routing_=RoutingControl.READ)
        return records_

    # -- lifecycle ---------------------------------------------------------------
    @_translated
    async def migrate(self) -> list[str]:
        applied = await migrations.migrate(self.driver, self.database)
        await self._upgrade_suppressions()
        return applied

    async def _upgrade_suppressions(self) -> None:
        """Key the suppression list's legacy hashes; refuse a key that is not the list's."""
        stored = [r["hash"] for r in await self._read(q.SUPPRESSION_HASHES)]
        changes = upgrades(stored, self.suppression)
        if changes:
            rows = [{"old": old, "new": new} for old, new in changes.items()]
            await self.driver.execute_query(q.UPGRADE_SUPPRESSIONS, rows=rows,
                                            database_=self.database)

    async def purge_erased(self) -> None:
        """Nothing the adapter can do: Neo4j keeps deleted records in its store files until
        it reuses their space, and the transactions in its logs until they are pruned
        (docs/privacy.md says what to set)."""

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
    async def transact(self, gather: Gather, decide: Decide) -> Receipt:
        keys = records.unique(gather.keys)
        event_ids = records.unique(gather.event_ids)
        hashes = self.suppression.hashes(keys)
        params = {
            "keys": keys,
            "event_ids": event_ids,
            "limited_types": list(gather.limited_types),
            "count_hubs": bool(gather.hub_types),
            "hub_types": list(gather.hub_types),
            "hashes": sorted(hashes),
        }

        async def work(tx: AsyncManagedTransaction) -> Receipt:
            locks = _Locks(keys)
            snapshot = await self._lock_and_snapshot(tx, gather, params, hashes, locks)

            async def components(customer_ids: set[str]) -> dict[str, Component]:
                return await self._components(tx, customer_ids, locks)

            plan = await decide_with_components(snapshot, decide, components, gather.customers)
            if not plan:
                await self._record_and_release(tx, None, locks)
                return Receipt(plan)
            dropped: set[str] = set()  # documents the erasures' scrub dropped
            erased = await self._apply(tx, plan, dropped)
            audit_seqs = await self._record_and_release(tx, plan, locks)
            changes = await self._apply_outbox(tx, plan)
            await rewrite_after(tx, plan, snapshot, dropped)
            return Receipt(plan, audit_seqs, erased, changes)

        async with self.driver.session(database=self.database) as session:
            return await session.execute_write(work)

    async def _lock_and_snapshot(self, tx: AsyncManagedTransaction, gather: Gather,
                                 params: dict[str, Any], hashes: dict[str, str],
                                 locks: _Locks) -> Snapshot:
        row = await (await tx.run(q.LOCK_AND_SNAPSHOT, params)).single(strict=True)
        locks.customers.update(row["locked"])
        while True:
            snapshot = records.snapshot(row)
            records.add_suppressed(snapshot, hashes, row["suppressed"])
            locked_more = False
            if gather.block_keys:
                buckets = await (await tx.run(q.MATCH_BUCKETS, blocks=sorted(gather.block_keys),
                                              limit=BUCKET_LIMIT)).single(strict=True)
                records.add_buckets(snapshot, buckets)
                candidates = needed_candidates(gather.match_queries, snapshot.match_buckets)
                found = await (await tx.run(q.MATCH_RECORDS, keys=sorted(candidates))
                               ).single(strict=True)
                records.add_match_records(snapshot, found)
                if new := sorted(candidates - locks.keys):
                    # The plan may link a candidate or merge its customer: lock it too.
                    await (await tx.run(q.LOCK_KEYS, keys=new)).consume()
                    locks.keys.update(new)
                    locked_more = True
            # An owner read before its customer was locked may have been merged away in
            # between; lock the new owners and read again until nothing changes. Each round
            # locks at least one more customer (or matching candidate), so this ends.
            owners = set(snapshot.owners.values()) | set(snapshot.ban_owners.values())
            if owners <= locks.customers and not locked_more:
                return snapshot
            await self._lock_customers(tx, owners, locks)
            row = await (await tx.run(q.SNAPSHOT, params)).single(strict=True)

    @staticmethod
    async def _lock_customers(tx: AsyncManagedTransaction, ids: Collection[str],
                              locks: _Locks) -> None:
        if need := sorted(set(ids) - locks.customers):
            await (await tx.run(q.LOCK_CUSTOMERS, ids=need)).consume()
            locks.customers.update(need)

    async def _components(self, tx: AsyncManagedTransaction, customer_ids: set[str],
                          locks: _Locks) -> dict[str, Component]:
        """Lock the customers, then read their components and again those read before, so
        that every component and the owners of its neighbours are read under the locks
        taken so far (a neighbour's customer may have changed before its lock)."""
        await self._lock_customers(tx, customer_ids, locks)
        locks.gathered.update(customer_ids)
        ids = sorted(locks.gathered)
        rows = [row async for row in await tx.run(q.COMPONENTS, ids=ids)]
        return records.components(rows, ids)

    async def _apply(self, tx: AsyncManagedTransaction, plan: Plan,
                     dropped: set[str] | None = None) -> Erased:
        """APPLY, then ERASE for each erasure: what the erasures removed. The customers
        whose documents their scrub dropped are added to `dropped`."""
        row = await (await tx.run(q.APPLY, records.apply_params(plan, self.suppression),
                                  sample=SAMPLE_EVENT_IDS,
                                  banned=BANNED)).single(strict=True)
        if row["merged"] != len(plan.merges) + len(plan.renames):
            raise StoreError("a merge names a customer the store does not hold")
        if row["attached"] != row["expected"]:
            raise StoreError("a new identifier names a customer the store does not hold")
        erased = Erased()
        for erasure in plan.erasures:
            row = await (await tx.run(
                q.ERASE, customer_id=erasure.customer_id, keys=list(erasure.keys),
                hashes=[self.suppression.hash(k) for k in erasure.keys], at=erasure.at,
                nothing="",
            )).single(strict=True)
            erased += Erased(row["events"], row["links"], row["identifiers"])
            found = await self._scrub(tx, erasure.spellings)
            if dropped is not None:
                dropped.update(found)
        return erased

    @staticmethod
    async def _scrub(tx: AsyncManagedTransaction, spellings: Spellings) -> list[str]:
        """Scrub the erased values from free text; the customers whose documents quoted
        one, dropped (their customers' documents are written again in the transaction)."""
        if not spellings:
            return []
        found = await (await tx.run(q.SCRUB_FIND, pattern=records.scrub_pattern(spellings),
                                    nothing="")).single(strict=True)
        rows = records.scrubbed_rows(found, spellings)
        if any(rows.values()):
            await (await tx.run(q.SCRUB_WRITE, rows)).consume()
        return [r["id"] async for r in await tx.run(
            DROP_ERASED_DOCUMENTS, pattern=records.scrub_pattern(spellings))]

    @staticmethod
    async def _record_and_release(tx: AsyncManagedTransaction, plan: Plan | None,
                                  locks: _Locks) -> tuple[int, ...]:
        """RECORD: the numbered records of an applied plan, then the deletion of the
        placeholders it did not fill (always, also when the plan was empty); the locks are
        released by the commit. The sequence numbers of the plan's audit entries."""
        release = set(locks.keys)
        if plan is not None:
            release.update(d.key for d in plan.identifiers)
        row = await (await tx.run(
            q.RECORD, records.record_params(plan), keys=sorted(release),
            merge_sequence=MERGE_SEQUENCE, split_sequence=SPLIT_SEQUENCE,
            audit_sequence=AUDIT_SEQUENCE,
            review_sequence=REVIEW_SEQUENCE, match_block_sequence=MATCH_BLOCK_SEQUENCE,
        )).single(strict=True)
        if plan is None:
            return ()
        if row["recorded"] != len(records.history_entries(plan)):
            raise StoreError("a merge history names a customer the store does not hold")
        return tuple(row["audit_seqs"])

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
    async def identifiers(self, keys: Collection[str]) -> dict[str, IdentifierRecord]:
        rows = await self._read(q.IDENTIFIERS, keys=records.unique(keys))
        found = (records.identifier_record(row) for row in rows)
        return {record.key: record for record in found}

    async def identifiers_of(self, customer_ids: Collection[str]
                             ) -> dict[str, list[IdentifierRecord]]:
        return (await self.read_customers(CustomerReads(identifiers=set(customer_ids)))
                ).identifiers

    @_translated
    async def timeline(self, customer_id: str, first: int, after: Cursor | None
                       ) -> list[EventRecord]:
        ts, event_id = after if after else (None, None)
        rows = await self._read(q.TIMELINE, customer_id=customer_id, first=first, ts=ts,
                                event_id=event_id)
        return [records.timeline_record(row) for row in rows]

    async def timelines(
        self,
        customer_ids: Collection[str],
        first: int,
        after: Cursor | None = None,
        *,
        types: Collection[str] = (),
        since: str | None = None,
        until: str | None = None,
    ) -> dict[str, list[EventRecord]]:
        window = TimelineWindow(first, after, tuple(sorted(set(types))), since, until)
        reads = CustomerReads(timelines={window: set(customer_ids)})
        return (await self.read_customers(reads)).timelines[window]

    @_translated
    async def events(self, event_ids: Collection[str]) -> dict[str, EventRecord]:
        rows = await self._read(q.EVENTS, ids=records.unique(event_ids))
        found = (records.timeline_record(row) for row in rows)
        return {e.event_id: e for e in found}

    @_translated
    async def timeline_counts(self, customer_ids: Collection[str], window: TimelineWindow
                              ) -> dict[str, int]:
        rows = await self._read(q.TIMELINE_COUNTS, ids=records.unique(customer_ids),
                                types=sorted(set(window.types)), since=window.since or "",
                                until=window.until or records.NEWEST[0])
        return {row["id"]: row["n"] for row in rows}

    @_translated
    async def read_customers(self, reads: CustomerReads) -> CustomerData:
        [row] = await self._read(q.CUSTOMER_READS, **records.customer_reads_params(reads))
        return records.customer_data(row, reads.timelines)

    @_translated
    async def links_of(self, customer_id: str) -> list[LinkRecord]:
        rows = await self._read(q.LINKS_OF, customer_id=customer_id)
        return [records.link_record(row) for row in rows]

    @_translated
    async def links_touching(self, keys: Collection[str]) -> list[LinkRecord]:
        rows = await self._read(q.LINKS_TOUCHING, keys=records.unique(keys))
        return [records.link_record(row) for row in rows]

    @_translated
    async def links_with_status(self, status: str) -> list[tuple[str, str, str]]:
        rows = await self._read(q.LINKS_WITH_STATUS, status=status)
        return [(row["a"], row["b"], row["reason"] or "") for row in rows]

    @_translated
    async def audit_log(self, first: int, before: int | None) -> list[AuditRecord]:
        rows = await self._read(q.AUDIT_LOG, first=first,
                                before=before if before is not None else 2**62)
        return [records.audit_record(row) for row in rows]

    @_translated
    async def audit_count(self) -> int:
        return int((await self._read(q.AUDIT_COUNT))[0]["n"])

    @_translated
    async def audit_entry(self, seq: int) -> AuditRecord | None:
        rows = await self._read(q.AUDIT_ENTRY, seq=seq)
        return records.audit_record(rows[0]) if rows else None

    @_translated
    async def splits_of(self, customer_ids: Collection[str]) -> dict[str, list[Split]]:
        found: dict[str, list[Split]] = defaultdict(list)
        for row in await self._read(q.SPLITS_OF, ids=records.unique(customer_ids)):
            found[row["current"]].append(records.split_record(row))
        return dict(found)

    @_translated
    async def merges_into(self, customer_ids: Collection[str]) -> dict[str, list[Merge]]:
        found: dict[str, list[Merge]] = defaultdict(list)
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

    async def profile_observations(
        self, customer_ids: Collection[str]
    ) -> dict[str, list[Observation]]:
        return (await self.read_customers(CustomerReads(observations=set(customer_ids)))
                ).observations

    @_translated
    async def membership(self) -> tuple[dict[str, str | None], list[tuple[str, str]]]:
        async def work(tx: AsyncManagedTransaction
                       ) -> tuple[dict[str, str | None], list[tuple[str, str]]]:
            result = await tx.run(q.MEMBERSHIP_OWNERS)
            owners = {r["key"]: r["customer_id"] async for r in result}
            result = await tx.run(q.MEMBERSHIP_LINKS, active=ACTIVE)
            return owners, [(r["a"], r["b"]) async for r in result]

        async with self.driver.session(database=self.database) as session:
            return await session.execute_read(work)

    # -- review queue ----------------------------------------------------------------
    @_translated
    async def reviews(self, first: int, after: int | None, status: ReviewStatus = ReviewStatus.OPEN
                      ) -> list[ReviewRecord]:
        rows = await self._read(q.REVIEWS, status=status, after=after or 0, first=first)
        return [records.review_record(row) for row in rows]

    @_translated
    async def review_count(self, status: ReviewStatus = ReviewStatus.OPEN) -> int:
        return int((await self._read(q.REVIEW_COUNT, status=status))[0]["n"])

    @_translated
    async def review(self, review_id: int) -> ReviewRecord | None:
        rows = await self._read(q.REVIEW, id=review_id)
        return records.review_record(rows[0]) if rows else None

    # -- search and models -------------------------------------------------------------
    @_translated
    async def search(self, text: str, limit: int, typos: bool = False
                     ) -> list[tuple[str, str, str]]:
        # The Lucene query holds a fuzzy term per word: it forgives typos either way.
        query = records.lucene_query(text)
        if query is None:
            return []
        rows = await self._read(q.SEARCH, index=SEARCH_INDEX, lucene=query,
                                fetch=SEARCH_FETCH_FACTOR * limit, limit=limit)
        return [(r["key"], r["customer_id"], r["term"]) for r in rows]

    @_translated
    async def load_model(self, name: str) -> dict[str, Any] | None:
        rows = await self._read(q.LOAD_MODEL, name=name)
        return records.loads(rows[0]["body"]) if rows else None

    @_translated
    async def match_records(self, keys: Collection[str]) -> dict[str, dict[str, str]]:
        rows = await self._read(q.MATCH_TRAITS, keys=records.unique(keys))
        return {r["key"]: records.loads(r["traits"]) for r in rows}

    @_translated
    async def save_model(self, name: str, body: dict[str, Any], trained_at: str) -> None:
        await self.driver.execute_query(
            q.SAVE_MODEL, {"name": name, "body": records.dumps(body), "trained_at": trained_at},
            database_=self.database, routing_=RoutingControl.WRITE)
