"""The Neo4j half of the profile read model (app/stores/readmodel.py): each customer's
document is a JSON text on its Customer node (`profile_document`, found through the
unique constraint on Customer.id), rewritten inside the transaction of every write."""

from __future__ import annotations

from collections.abc import Collection, Mapping

from neo4j import AsyncManagedTransaction

from app.domain.plan import Plan, Snapshot
from app.stores.neo4j import queries as q
from app.stores.neo4j import records
from app.stores.neo4j.errors import translated as _translated
from app.stores.neo4j.part import Neo4jPart
from app.stores.readmodel import (
    before,
    combine,
    document_reads,
    documents,
    identifier_rows,
    patched,
    plan_keys,
    read_whole,
    touched_customers,
)
from app.stores.values import CustomerData, CustomerReads

READ_DOCUMENTS = """
UNWIND $ids AS id
MATCH (c:Customer {id: id})
WHERE c.profile_document IS NOT NULL
RETURN id, c.profile_document AS body
"""
OWNER_DOCUMENTS = """
UNWIND $keys AS key
MATCH (:Identifier {key: key})-[:BELONGS_TO]->(c:Customer)
RETURN key, c.id AS customer_id, c.profile_document AS body
"""
# null removes the property: a customer merged away or erased has no document
WRITE_DOCUMENTS = """
UNWIND $rows AS row
MATCH (c:Customer {id: row.id})
SET c.profile_document = row.body
"""
PLAN_OWNERS = """
UNWIND $keys AS key
MATCH (:Identifier {key: key})-[:BELONGS_TO]->(c:Customer)
RETURN key, c.id AS id
"""
# Documents that quote an erased value (another customer's identifier reason): read from
# the graph, scrubbed, until their customer's next write.
DROP_ERASED_DOCUMENTS = """
MATCH (c:Customer)
WHERE c.profile_document =~ $pattern
SET c.profile_document = null
RETURN c.id AS id
"""
# A rebuild's switch replaces the graph the documents were made from; the rebuild writes
# them again once it has settled (app/services/spark_rebuild.py).
DROP_ALL_DOCUMENTS = """
MATCH (c:Customer)
WHERE c.profile_document IS NOT NULL
SET c.profile_document = null
"""


class Neo4jReadModel(Neo4jPart):
    @_translated
    async def profile_documents(self, customer_ids: Collection[str]) -> dict[str, str]:
        rows = await self._read(READ_DOCUMENTS, ids=records.unique(customer_ids))
        return {r["id"]: r["body"] for r in rows}

    @_translated
    async def owner_documents(self, keys: Collection[str]) -> dict[str, tuple[str, str | None]]:
        rows = await self._read(OWNER_DOCUMENTS, keys=records.unique(keys))
        return {r["key"]: (r["customer_id"], r["body"]) for r in rows}

    @_translated
    async def build_profile_documents(self, customer_ids: Collection[str]) -> int:
        async def run(tx: AsyncManagedTransaction) -> int:
            return await rewrite_documents(tx, customer_ids)

        async with self.driver.session(database=self.database) as session:
            return await session.execute_write(run)


async def rewrite_after(tx: AsyncManagedTransaction, plan: Plan, snapshot: Snapshot,
                        dropped: Collection[str]) -> None:
    """Inside the plan's transaction, after it was applied: the documents of the customers
    it touched and of those whose documents its erasures dropped (the transaction holds
    the locks of every customer the plan touches already, GraphPort.transact; a dropped
    document's customer is locked by the drop's write). Those it only adds events and
    sightings to are patched; the others are read whole, with the patched ones'
    identifiers, in one statement."""
    owners_after = {r["key"]: r["id"] async for r in await tx.run(
        PLAN_OWNERS, keys=sorted(plan_keys(plan)))}
    ids = touched_customers(plan, snapshot) | set(owners_after.values()) | set(dropped)
    whole = read_whole(plan, snapshot, owners_after)
    stored = before(plan, whole, {r["id"]: r["body"] async for r in await tx.run(
        READ_DOCUMENTS, ids=records.unique(ids - whole))})
    reads = document_reads(ids - stored.keys())
    reads.identifiers |= stored.keys()
    data = await _customer_reads(tx, reads)
    built = patched(stored, identifier_rows(data.identifiers), plan.events,
                    owners_after)
    rest = ids - built.keys()
    if unread := rest & stored.keys():  # documents of another version: read them whole
        combine(data, await _customer_reads(tx, document_reads(unread)))
    built.update(documents(rest, data))
    await _write(tx, built)


async def rewrite_documents(tx: AsyncManagedTransaction, customer_ids: Collection[str], *,
                            locked: bool = False) -> int:
    """Inside the caller's transaction: lock the customers unless it holds their locks
    (so that no other write changes them between the read and the write), then write
    their documents as the graph holds them now."""
    ids = records.unique(customer_ids)
    if not ids:
        return 0
    if not locked:
        await (await tx.run(q.LOCK_CUSTOMERS, ids=ids)).consume()
    built = documents(ids, await _customer_reads(tx, document_reads(ids)))
    return await _write(tx, built)


async def _customer_reads(tx: AsyncManagedTransaction, reads: CustomerReads) -> CustomerData:
    row = await (await tx.run(q.CUSTOMER_READS, records.customer_reads_params(reads))
                 ).single(strict=True)
    return records.customer_data(row, reads.timelines)


async def _write(tx: AsyncManagedTransaction, built: Mapping[str, str | None]) -> int:
    """Write these documents; None removes a customer's."""
    await (await tx.run(WRITE_DOCUMENTS, rows=[{"id": cid, "body": body}
                                     for cid, body in built.items()])).consume()
    return sum(body is not None for body in built.values())
