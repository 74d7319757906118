"""The bulk port on Neo4j (app/stores/bulk.py).

A rebuild's switch is too large for one Neo4j transaction (its state lives in the server's
heap), so it is a journaled sequence of transactions: a Rebuild node is created with the
switch's staging directory and state "switching", then each plan is applied by the
adapter's own APPLY, RECORD and RECORD_CHANGES statements in a transaction that also
records its step on the Rebuild node, so a step is applied exactly once. A switch cut off
half-way is finished from the staging directory by the next rebuild (`pending_switch`,
`resume`); it is marked "done" with what it covered.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from neo4j import AsyncManagedTransaction

from app.domain.plan import Plan
from app.stores.bulk import BulkStore, PendingSwitch, Row, StoreChanged, Switch
from app.stores.errors import StoreUnavailable
from app.stores.neo4j.errors import translated
from app.stores.neo4j.readmodel import DROP_ALL_DOCUMENTS

if TYPE_CHECKING:
    from app.stores.neo4j.store import Neo4jStore

EXPORT_ROWS = 20_000
SWITCHING = "switching"
DONE = "done"

IS_EMPTY = """
CALL () { MATCH (e:Event) RETURN count(e) AS events }
CALL () { MATCH (i:Identifier) RETURN count(i) AS identifiers }
CALL () { MATCH (c:Customer) RETURN count(c) AS customers }
RETURN events + identifiers + customers = 0 AS empty
"""

# Counts from the count store, and every numbered record's counter (merges, splits, audit
# entries, reviews, matching filings, the outbox): any write a rebuild would miss moves one.
FINGERPRINT = """
CALL () { MATCH (e:Event) RETURN count(e) AS events }
CALL () { MATCH (i:Identifier) RETURN count(i) AS identifiers }
CALL () { MATCH ()-[l:LINKED]->() RETURN count(l) AS links }
CALL () { MATCH (c:Customer) RETURN count(c) AS customers }
CALL () { MATCH (x:Ban) RETURN count(x) AS bans }
CALL () { MATCH (s:Suppressed) RETURN count(s) AS suppressed }
CALL () {
  OPTIONAL MATCH (q:MergeSequence)
  WITH q ORDER BY q.name
  RETURN collect([q.name, q.next]) AS counters
}
RETURN [events, identifiers, links, customers, bans, suppressed] AS counts, counters
"""

EXPORTS = {
    "identifiers": """
        MATCH (i:Identifier)
        WHERE i.type IS NOT NULL
        OPTIONAL MATCH (i)-[:BELONGS_TO]->(c:Customer)
        RETURN i.key AS key, i.type AS type, i.value AS value, i.first_seen AS first_seen,
               coalesce(i.first_event, '') AS first_event,
               coalesce(i.status, 'active') AS status, coalesce(i.reason, '') AS reason,
               c.id AS customer_id""",
    "links": """
        MATCH (a:Identifier)-[l:LINKED]->(b:Identifier)
        RETURN a.key AS a, b.key AS b, l.first_seen AS first_seen,
               coalesce(l.first_event, '') AS first_event, l.sources AS sources,
               coalesce(l.status, 'active') AS status, coalesce(l.reason, '') AS reason""",
    "customers": """
        MATCH (c:Customer)
        RETURN c.id AS id, coalesce(c.first_seen, '') AS first_seen,
               coalesce(c.first_event, '') AS first_event,
               coalesce(c.first_key, '') AS first_key, coalesce(c.settled, '') AS settled,
               c.merged_into AS merged_into, c.erased_at IS NOT NULL AS erased""",
    "history": """
        MATCH (a:Customer)-[m:MERGED_INTO]->(s:Customer)
        RETURN coalesce(s.merged_into, s.id) AS current, a.id AS absorbed, s.id AS survivor,
               m.at AS at, m.event_id AS event_id, m.reason AS reason, m.seq AS seq""",
    "bans": "MATCH (x:Ban) RETURN x.a AS a, x.b AS b",
    "event_ids": "MATCH (e:Event) RETURN e.event_id AS event_id",
}

SUPPRESSED = "MATCH (s:Suppressed) RETURN s.hash AS hash, s.at AS at"

BEGIN_SWITCH = """
CREATE (r:Rebuild {id: $id, state: $state, staging: $staging, now: $now,
                   plan_rows: $plan_rows, done: 0, started_at: $started_at,
                   inputs: $inputs, positions: $positions})
"""

STEP = """
MATCH (r:Rebuild {id: $id})
WHERE r.done = $step - 1
SET r.done = $step
RETURN r.done AS done
"""

END_SWITCH = """
MATCH (r:Rebuild {id: $id})
SET r.state = $state, r.finished_at = $finished_at, r.summary = $summary
"""

PENDING = """
MATCH (r:Rebuild {state: $state})
RETURN r.id AS id, r.staging AS staging, r.now AS now, r.plan_rows AS plan_rows,
       r.done AS done
ORDER BY r.started_at
LIMIT 1
"""

POSITIONS = """
MATCH (r:Rebuild {state: $state})
RETURN r.positions AS positions
ORDER BY r.finished_at, r.id
"""


class Neo4jBulk(BulkStore):
    def __init__(self, store: Neo4jStore) -> None:
        self.store = store
        self.driver = store.driver
        self.database = store.database
        self.redacted_url = store.redacted_url

    def _unavailable(self, exc: BaseException) -> StoreUnavailable:
        return self.store._unavailable(exc)

    async def _one(self, query: str, **params: Any) -> Any:
        [row] = await self.store._read(query, **params)
        return row

    @translated
    async def is_empty(self) -> bool:
        return bool((await self._one(IS_EMPTY))["empty"])

    @translated
    async def fingerprint(self) -> str:
        row = await self._one(FINGERPRINT)
        return json.dumps([row["counts"], row["counters"]])

    async def export(self, table: str) -> AsyncIterator[list[Row]]:
        async with self.driver.session(database=self.database) as session:
            result = await session.run(EXPORTS[table])
            batch: list[Row] = []
            async for record in result:
                row = record.data()
                if table == "links":
                    row["sources"] = sorted(row["sources"] or ())
                batch.append(row)
                if len(batch) >= EXPORT_ROWS:
                    yield batch
                    batch = []
            if batch:
                yield batch

    @translated
    async def suppressed(self) -> dict[str, str]:
        return {r["hash"]: r["at"] for r in await self.store._read(SUPPRESSED)}

    @translated
    async def switch(self, switch: Switch) -> None:
        record = switch.record

        async def begin(tx: AsyncManagedTransaction) -> None:
            # The journal is created only if nothing was written since the rebuild read
            # the store; from here on, the switch is finished by whoever finds it.
            row = await (await tx.run(FINGERPRINT)).single(strict=True)
            if json.dumps([row["counts"], row["counters"]]) != switch.fingerprint:
                raise StoreChanged(
                    "the store changed while the rebuild ran (a load, a steward's action or "
                    "an erasure): nothing was switched; stop the writers and run it again")
            await (await tx.run(DROP_ALL_DOCUMENTS)).consume()
            await tx.run(BEGIN_SWITCH, id=record.id, state=SWITCHING, staging=switch.staging,
                         now=record.started_at, plan_rows=switch.plan_rows,
                         started_at=record.started_at, inputs=json.dumps(record.inputs),
                         positions=json.dumps(record.positions))

        async with self.driver.session(database=self.database) as session:
            await session.execute_write(begin)
        await self._steps(record.id, switch.plans, switch.applied)
        await self._end(record.id, record.finished_at, record.summary)

    async def _steps(self, rebuild_id: str, plans: Iterable[tuple[int, Plan]],
                     applied: Any) -> None:
        from app.stores.neo4j.store import _Locks

        async with self.driver.session(database=self.database) as session:
            for step, plan in plans:
                async def work(tx: AsyncManagedTransaction, step: int = step,
                               plan: Plan = plan) -> None:
                    await self.store._apply(tx, plan)
                    await self.store._record_and_release(tx, plan, _Locks(()))
                    await self.store._apply_outbox(tx, plan)
                    await (await tx.run(STEP, id=rebuild_id, step=step)).single(strict=True)

                await session.execute_write(work)
                if applied is not None:
                    applied(step)

    async def _end(self, rebuild_id: str, finished_at: str, summary: Mapping[str, Any]) -> None:
        await self.driver.execute_query(END_SWITCH, id=rebuild_id, state=DONE,
                                        finished_at=finished_at, summary=json.dumps(summary),
                                        database_=self.database)

    @translated
    async def pending_switch(self) -> PendingSwitch | None:
        rows = await self.store._read(PENDING, state=SWITCHING)
        if not rows:
            return None
        r = rows[0]
        return PendingSwitch(r["id"], r["staging"], r["now"], int(r["plan_rows"]),
                             int(r["done"]))

    @translated
    async def resume(self, pending: PendingSwitch, plans: Iterable[tuple[int, Plan]],
                     finished_at: str) -> None:
        await self._steps(pending.id, plans, None)
        await self._end(pending.id, finished_at, {"resumed_after_step": pending.done})

    @translated
    async def positions(self) -> Mapping[str, dict[int, int]]:
        found: dict[str, dict[int, int]] = {}
        for row in await self.store._read(POSITIONS, state=DONE):
            for topic, offsets in json.loads(row["positions"] or "{}").items():
                found[topic] = {int(p): int(o) for p, o in offsets.items()}
        return found
