"""What a store holds, in a form two stores can be compared by: every row of every table
(SQLite) or every node and relationship with its properties (Neo4j), leaving out only
what numbers or dates a write (sequence numbers, the outbox, migration and rebuild
records)."""

from __future__ import annotations

import json
from typing import Any

from app.stores.base import IdentityStore

SQLITE_TABLES = {
    "customers": "id, first_seen, first_event, first_key, settled, merged_into, erased_at",
    "identifiers": "key, type, value, first_seen, last_seen, sources, status, reason, "
                   "customer_id, first_event",
    "links": "a, b, count, first_seen, last_seen, sources, event_ids, status, reason, match, "
             "first_event",
    "merges": "survivor, absorbed, at, event_id, reason",
    "renames": "old_id, new_id, event_id, reason",
    "splits": "customer_id, parts, at, reason",
    "events": "event_id, type, ts, source, body, profile",
    "observations": "key, ts, event_id",
    "search_terms": "key, term",
    "bans": "a, b",
    "suppressed": "hash, at",
    "match_records": "key, traits",
    "reviews": "a, b, score, weights, status",
}
# Orders that matter: a customer's merges in the order they were recorded.
SQLITE_ORDER = {"merges": "survivor, seq"}
NEO4J_SKIPPED = ("OutboxChange", "SchemaMigration", "MergeSequence", "Rebuild",
                 "OutboxCursor")
# A review item's created_at is when the load or rebuild that queued it ran, a model's
# trained_at when it was trained (SQLite's columns above leave both out too).
NEO4J_VOLATILE = {"seq", "applied_at", "created_at", "trained_at"}
# The profile read model is derived from the graph and compared with it by its own contract
# suite (tests/contract/test_read_model_contract.py); SQLite's tables above leave it out too.
NEO4J_DERIVED = {"profile_document"}


async def contents(store: IdentityStore) -> dict[str, list[Any]]:
    if hasattr(store, "db"):
        return _sqlite(store)
    return await _neo4j(store)


def _sqlite(store: Any) -> dict[str, list[Any]]:
    found = {}
    for table, columns in SQLITE_TABLES.items():
        order = SQLITE_ORDER.get(table)
        rows = store.db.execute(f"SELECT {columns} FROM {table}"
                                + (f" ORDER BY {order}" if order else "")).fetchall()
        found[table] = rows if order else sorted(rows, key=repr)
    return found


async def _neo4j(store: Any) -> dict[str, list[Any]]:
    async with store.driver.session(database=store.database) as session:
        nodes = await session.run(
            "MATCH (n) WHERE none(l IN labels(n) WHERE l IN $skipped) "
            "RETURN labels(n) AS labels, properties(n) AS p", skipped=list(NEO4J_SKIPPED))
        node_rows = [json.dumps([sorted(r["labels"]), _props(r["p"])], sort_keys=True)
                     async for r in nodes]
        rels = await session.run(
            "MATCH (a)-[r]->(b) WHERE none(l IN labels(a) + labels(b) WHERE l IN $skipped) "
            "RETURN type(r) AS type, coalesce(a.key, a.id, a.event_id) AS a, "
            "coalesce(b.key, b.id, b.event_id) AS b, properties(r) AS p, r.seq AS seq "
            "ORDER BY b, seq", skipped=list(NEO4J_SKIPPED))
        rel_rows = [json.dumps([r["type"], r["a"], r["b"], _props(r["p"])], sort_keys=True)
                    async for r in rels]
    merges = [r for r in rel_rows if r.startswith('["MERGED_INTO"')]
    return {"nodes": sorted(node_rows), "relationships": sorted(rel_rows),
            "merge_order": merges}


def _props(props: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in props.items()
            if k not in NEO4J_VOLATILE and k not in NEO4J_DERIVED}


async def outcome(store: IdentityStore) -> tuple[dict, dict]:
    """The export (customer -> its identifiers) and every customer's merge history, as the
    event-time ids contract compares them; every id a history names resolves."""
    from tests.contract.test_event_time_ids_contract import outcome as contract_outcome

    customers, histories = await contract_outcome(store)
    for cid, history in histories.items():
        named = {x for entry in history for x in entry[:2]}
        assert set((await store.current_ids(named)).values()) == {cid}
    return customers, histories
