"""The Neo4j half of the history port (app/stores/ports/history.py), with its Cypher."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from neo4j import RoutingControl

from app.stores.neo4j import records
from app.stores.neo4j.errors import translated as _translated
from app.stores.neo4j.part import Neo4jPart
from app.stores.ports.history import Suppression
from app.stores.values import Cursor, EventRecord

_EVENT_FIELDS = """e.event_id AS event_id, e.type AS type, e.ts AS ts, e.source AS source,
       e.body AS body, [(e)-[:OBSERVED]->(i:Identifier) | i.key] AS keys"""

EVENTS_OBSERVING = f"""
UNWIND $keys AS key
MATCH (:Identifier {{key: key}})<-[:OBSERVED]-(e:Event)
WHERE e.ts <= $until
WITH DISTINCT e
ORDER BY e.ts, e.event_id
LIMIT $limit
RETURN {_EVENT_FIELDS}
"""

# Down the event_ts index (graph_schema/V0001): a page costs its own size.
EVENTS_AFTER = f"""
MATCH (e:Event)
WHERE e.ts >= $ts AND e.ts <= $until AND (e.ts > $ts OR e.event_id > $event_id)
WITH e
ORDER BY e.ts, e.event_id
LIMIT $limit
RETURN {_EVENT_FIELDS}
"""

SUPPRESSIONS = """
MATCH (s:Suppressed)
RETURN s.hash AS hash, s.at AS at
ORDER BY hash
"""

ADD_SUPPRESSIONS = """
UNWIND $rows AS row
MERGE (s:Suppressed {hash: row.hash})
ON CREATE SET s.at = row.at
"""


class Neo4jHistory(Neo4jPart):
    @_translated
    async def events_observing(self, keys: Collection[str], until: str, limit: int
                               ) -> list[EventRecord]:
        rows = await self._read(EVENTS_OBSERVING, keys=records.unique(keys), until=until,
                                limit=limit)
        return [records.timeline_record(row) for row in rows]

    @_translated
    async def events_after(self, after: Cursor | None, limit: int, until: str | None = None
                           ) -> list[EventRecord]:
        ts, event_id = after or ("", "")
        rows = await self._read(EVENTS_AFTER, ts=ts, event_id=event_id, limit=limit,
                                until=until if until is not None else "\uffff")
        return [records.timeline_record(row) for row in rows]

    @_translated
    async def suppressions(self) -> list[Suppression]:
        return [(r["hash"], r["at"]) for r in await self._read(SUPPRESSIONS)]

    @_translated
    async def add_suppressions(self, rows: Sequence[Suppression]) -> None:
        await self.driver.execute_query(
            ADD_SUPPRESSIONS, {"rows": [{"hash": h, "at": at} for h, at in rows]},
            database_=self.database, routing_=RoutingControl.WRITE)
