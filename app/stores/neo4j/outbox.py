"""The Neo4j half of the outbox port (app/stores/outbox.py); its Cypher is in
outbox_queries.py.

A segment transaction is one managed write transaction (re-run on a transient error, so
its `work` must decide without side effects): it write-locks the customers, as an identity
write does, before it reads their pending checks, definitions and facts, so a concurrent
write of the same customers waits for it or is seen whole by it, and two evaluations of
one customer never overlap.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING, Any

from neo4j import AsyncManagedTransaction

from app.domain.changes import Change, membership_change
from app.domain.checks import PendingCheck
from app.domain.plan import Plan
from app.domain.segments.membership import erased
from app.stores.neo4j import outbox_queries as oq
from app.stores.neo4j import queries as q
from app.stores.neo4j import records
from app.stores.neo4j.errors import translated as _translated
from app.stores.neo4j.part import Neo4jPart
from app.stores.neo4j.readmodel import rewrite_documents
from app.stores.neo4j.segments import (
    ERASE_SEGMENT_DATA,
    SAVE_SEGMENT_STATES,
    SEGMENT_DEFINITIONS,
    _change_rows,
    _state_rows,
    outbox_params,
)
from app.stores.outbox import (
    CHECKS_PER_TRANSACTION,
    OutboxStatus,
    SegmentWork,
    SegmentWrite,
    erased_texts,
    outbox_change,
)
from app.stores.values import CustomerData, CustomerReads, SegmentRecord

if TYPE_CHECKING:
    pass

SAVE_EVALUATED = oq.delete_pending + SAVE_SEGMENT_STATES


def _check(row: Any) -> PendingCheck:
    inputs = row.get("inputs")
    return PendingCheck(row["customer_id"], row["at"], row["since"], row["survivor"],
                        bool(row["split"]), None if inputs is None else frozenset(inputs))


class _Tx:
    """A segment transaction's view for its work (app.stores.outbox.SegmentTx)."""

    def __init__(self, tx: AsyncManagedTransaction, customers: list[str],
                 pending: dict[str, PendingCheck]) -> None:
        self.tx = tx
        self.customers = customers
        self.pending = pending

    async def read(self, reads: CustomerReads) -> CustomerData:
        result = await self.tx.run(q.CUSTOMER_READS, records.customer_reads_params(reads))
        return records.customer_data(await result.single(strict=True), reads.timelines)

    async def definitions(self) -> list[SegmentRecord]:
        result = await self.tx.run(SEGMENT_DEFINITIONS)
        return [SegmentRecord(r["name"], r["text"], r["created_at"], r["updated_at"])
                async for r in result]


class Neo4jOutbox(Neo4jPart):
    # -- inside an identity write ------------------------------------------------------------
    @staticmethod
    async def _apply_outbox(tx: AsyncManagedTransaction, plan: Plan) -> tuple[Change, ...]:
        """The end of a plan's transaction: what its erasures leave of segments, its
        segment checks, its change events; the change events written."""
        changes = [*plan.changes]
        for erasure in plan.erasures:
            row = await (await tx.run(oq.ERASED_SEGMENTS, customer_id=erasure.customer_id)
                         ).single(strict=True)
            await (await tx.run(ERASE_SEGMENT_DATA, ids=row["ids"])).consume()
            await (await tx.run(oq.ERASE_CHANGES, ids=row["ids"],
                                texts=erased_texts(erasure.keys),
                                mark=records.ERASED_MARK)).consume()
            changes.extend(membership_change(c)
                           for c in erased(erasure.customer_id, row["held"], erasure.at))
        checks = [{"customer_id": c.customer_id, "at": c.at, "since": c.since,
                   "survivor": c.survivor, "split": c.split,
                   "inputs": None if c.inputs is None else sorted(c.inputs)}
                  for c in plan.segment_checks]
        await (await tx.run(oq.RECORD_CHANGES, checks=checks,
                            **outbox_params(changes))).consume()
        return tuple(changes)

    # -- segment transactions -----------------------------------------------------------------
    @_translated
    async def segment_transaction(
        self, work: SegmentWork, customer_ids: Collection[str] | None = None, *,
        pending_only: bool = False, limit: int = CHECKS_PER_TRANSACTION,
        marked_until: str | None = None,
    ) -> SegmentWrite:
        if customer_ids is None:
            rows = await self._read(oq.OLDEST_PENDING, until=marked_until or "\uffff",
                                    limit=limit)
            customer_ids, pending_only = [r["customer_id"] for r in rows], True
        ids = records.unique(customer_ids)
        if not ids:
            return SegmentWrite()

        async def run(tx: AsyncManagedTransaction) -> SegmentWrite:
            await (await tx.run(q.LOCK_CUSTOMERS, ids=ids)).consume()
            pending = {r["customer_id"]: _check(r)
                       async for r in await tx.run(oq.PENDING_OF, ids=ids)}
            customers = sorted(pending) if pending_only else ids
            if not customers:
                return SegmentWrite()
            write = await work(_Tx(tx, customers, pending))
            await (await tx.run(SAVE_EVALUATED, done=sorted(pending),
                                states=_state_rows(write.states),
                                **_change_rows(write.changes))).consume()
            await rewrite_documents(tx, write.states, locked=True)
            return write

        async with self.driver.session(database=self.database) as session:
            return await session.execute_write(run)

    @_translated
    async def pending_checks(self, customer_ids: Collection[str]) -> dict[str, PendingCheck]:
        rows = await self._read(oq.PENDING_OF, ids=records.unique(customer_ids))
        return {r["customer_id"]: _check(r) for r in rows}

    # -- publishing -------------------------------------------------------------------------
    async def _write_one(self, query: str, **params: Any) -> Any:
        async def run(tx: AsyncManagedTransaction) -> Any:
            return await (await tx.run(query, params)).single()

        async with self.driver.session(database=self.database) as session:
            return await session.execute_write(run)

    @_translated
    async def claim_outbox(self, holder: str, destination: str, lease_s: float) -> int | None:
        [state] = await self._read(oq.CURSOR_STATE, name=oq.CURSOR)
        if state["holder"] not in (None, holder) and state["running"]:
            return None  # another holder's lease runs: nothing to write
        row = await self._write_one(oq.CLAIM, name=oq.CURSOR, holder=holder,
                                    destination=destination, lease=round(lease_s * 1000))
        return int(row["published"]) if row["free"] else None

    @_translated
    async def outbox_after(self, seq: int, limit: int) -> list[tuple[int, Change]]:
        rows = await self._read(oq.CHANGES_AFTER, after=seq, limit=limit)
        return [(r["seq"], outbox_change(r["change_id"], r["body"])) for r in rows]

    @_translated
    async def outbox_published(self, holder: str, through: int, lease_s: float) -> bool:
        row = await self._write_one(oq.PUBLISHED, name=oq.CURSOR, holder=holder,
                                    through=through, lease=round(lease_s * 1000))
        return bool(row and row["held"])

    @_translated
    async def release_outbox(self, holder: str) -> None:
        await self._write_one(oq.RELEASE, name=oq.CURSOR, holder=holder)

    @_translated
    async def outbox_status(self) -> OutboxStatus:
        [r] = await self._read(oq.STATUS, name=oq.CURSOR, sequence=oq.OUTBOX_SEQUENCE)
        return OutboxStatus(r["newest"], r["published"], r["unpublished"], r["oldest"],
                            r["destination"], r["holder"],
                            r["left_ms"] / 1000 if r["holder"] else 0.0, r["pending"])
