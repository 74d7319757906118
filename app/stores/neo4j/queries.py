"""Every Cypher statement the Neo4j adapter runs, in one place.

Rules (tests/contract/test_neo4j_queries.py checks them):
- every value is a `$parameter`: no string literals, nothing formatted into the text;
- writes of many rows are one `UNWIND $rows AS row` per plan section, never a round trip per row;
- every lookup of an Identifier, Customer or Event goes through a property with a unique
  constraint or an index from graph_schema/ (Identifier.key, Customer.id,
  Customer.merged_into, Event.event_id, ...).

The graph model and what each statement relies on is documented in graph_schema/model.md.
Subqueries use the `CALL (x) { ... }` scope clause, so the server must be Neo4j 5.23 or later.
"""

from __future__ import annotations

# -- lifecycle -----------------------------------------------------------------------

PING = "RETURN 1 AS ok"

# The migrator's own bookkeeping; like SQLite's `CREATE TABLE IF NOT EXISTS schema_migrations`
# it is created before the versioned migrations run (a wiped database has neither).
MIGRATIONS_BOOTSTRAP = """
CREATE CONSTRAINT schema_migration_version IF NOT EXISTS
FOR (m:SchemaMigration) REQUIRE m.version IS UNIQUE
"""

APPLIED_MIGRATIONS = """
MATCH (m:SchemaMigration)
RETURN m.version AS version
"""

RECORD_MIGRATION = """
MERGE (m:SchemaMigration {version: $version})
ON CREATE SET m.applied_at = $applied_at
"""

AWAIT_INDEXES = "CALL db.awaitIndexes($seconds)"

# -- transact: locks and snapshot ------------------------------------------------------
#
# Locking protocol (see graph_schema/model.md, "Concurrency"):
# 1. LOCK_IDENTIFIERS MERGEs every identifier of the batch in key order and writes a
#    dummy `_lock` property on those that exist, which takes the node's write lock. A key
#    that does not exist yet becomes a placeholder node holding only `key` (creating it
#    locks it, and its index entry); the unique constraint on
#    Identifier.key makes a second transaction's MERGE of the same key wait until this
#    one commits or rolls back, so two loaders can never both treat a key as new.
# 2. LOCK_CUSTOMERS write-locks the current owners of those identifiers; SNAPSHOT then
#    re-reads owners (repeating 2 if an owner changed before its lock was taken).
# 3. RELEASE removes `_lock` and deletes placeholders the plan did not fill in, so no
#    trace of the locking survives the transaction.

LOCK_IDENTIFIERS = """
UNWIND $keys AS key
MERGE (i:Identifier {key: key})
ON MATCH SET i._lock = true
WITH i, key
MATCH (i)-[:BELONGS_TO]->(c:Customer)
RETURN key, c.id AS customer_id
"""

LOCK_CUSTOMERS = """
UNWIND $ids AS id
MATCH (c:Customer {id: id})
SET c._lock = true
"""

SNAPSHOT = """
CALL () {
  UNWIND $keys AS key
  MATCH (:Identifier {key: key})-[:BELONGS_TO]->(c:Customer)
  RETURN collect({key: key, id: c.id, first_seen: c.first_seen}) AS owners
}
CALL () {
  UNWIND $event_ids AS event_id
  MATCH (e:Event {event_id: event_id})
  RETURN collect(e.event_id) AS seen
}
RETURN owners, seen
"""

RELEASE = """
CALL () {
  UNWIND $keys AS key
  MATCH (i:Identifier {key: key})
  REMOVE i._lock
  WITH i
  WHERE i.type IS NULL
  DETACH DELETE i
}
CALL () {
  UNWIND $customer_ids AS id
  MATCH (c:Customer {id: id})
  REMOVE c._lock
}
"""

# -- transact: applying a plan, one statement per section, in this order -----------------

CREATE_CUSTOMERS = """
UNWIND $rows AS row
CREATE (:Customer {id: row.id, first_seen: row.first_seen})
"""

# One row per merge, applied one after the other (a CALL subquery runs once per row and
# sees what the previous rows did), exactly like the SQLite adapter's loop: move the
# absorbed customer's identifiers to the survivor, point the absorbed customer and every
# customer already merged into it at the survivor (path compression). The history edge
# is written by RECORD_MERGES once the rest of the plan is applied.
APPLY_MERGES = """
UNWIND $rows AS row
CALL (row) {
  MATCH (a:Customer {id: row.absorbed})
  MATCH (s:Customer {id: row.survivor})
  CALL (a, s) {
    MATCH (i:Identifier)-[r:BELONGS_TO]->(a)
    DELETE r
    CREATE (i)-[:BELONGS_TO]->(s)
  }
  CALL (a, s) {
    MATCH (m:Customer {merged_into: a.id})
    SET m.merged_into = s.id
  }
  SET a.merged_into = s.id
  RETURN count(*) AS applied
}
RETURN sum(applied) AS applied
"""

SET_FIRST_SEEN = """
UNWIND $rows AS row
MATCH (c:Customer {id: row.id})
SET c.first_seen = row.first_seen
"""

# A node with no `type` is a placeholder from LOCK_IDENTIFIERS (or absent): it gets all
# fields and its BELONGS_TO (the counts let the adapter refuse a plan that names a
# customer the store does not hold, instead of leaving an identifier without one).
# An existing identifier keeps its owner (it moves only by a
# merge); first/last seen widen and sources become the sorted union (an insertion sort in
# `reduce`, so no APOC is needed).
UPSERT_IDENTIFIERS = """
UNWIND $rows AS row
MERGE (i:Identifier {key: row.key})
WITH i, row, i.type IS NULL AS fresh
SET i.type = coalesce(i.type, row.type),
    i.value = coalesce(i.value, row.value),
    i.status = coalesce(i.status, row.status),
    i.first_seen = CASE WHEN fresh OR row.first_seen < i.first_seen
                        THEN row.first_seen ELSE i.first_seen END,
    i.last_seen = CASE WHEN fresh OR row.last_seen > i.last_seen
                       THEN row.last_seen ELSE i.last_seen END,
    i.sources = reduce(acc = [], s IN coalesce(i.sources, []) + row.sources |
                  CASE WHEN s IN acc THEN acc
                       ELSE [x IN acc WHERE x < s] + s + [x IN acc WHERE x > s] END)
WITH i, row, fresh
CALL (i, row, fresh) {
  MATCH (c:Customer {id: row.customer_id})
  WHERE fresh
  CREATE (i)-[:BELONGS_TO]->(c)
  RETURN count(c) AS attached
}
RETURN sum(CASE WHEN fresh THEN 1 ELSE 0 END) AS fresh, sum(attached) AS attached
"""

# Stored once, a -> b with a < b. Both ends are write-locked by LOCK_IDENTIFIERS, so the
# read-modify-write of the counters cannot lose an update.
UPSERT_LINKS = """
UNWIND $rows AS row
MATCH (a:Identifier {key: row.a})
MATCH (b:Identifier {key: row.b})
MERGE (a)-[l:LINKED]->(b)
ON CREATE SET l.count = row.count,
              l.first_seen = row.first_seen,
              l.last_seen = row.last_seen,
              l.sources = row.sources,
              l.event_ids = row.event_ids[0..$sample]
ON MATCH SET l.count = l.count + row.count,
             l.first_seen = CASE WHEN row.first_seen < l.first_seen
                                 THEN row.first_seen ELSE l.first_seen END,
             l.last_seen = CASE WHEN row.last_seen > l.last_seen
                                THEN row.last_seen ELSE l.last_seen END,
             l.sources = reduce(acc = [], s IN l.sources + row.sources |
                           CASE WHEN s IN acc THEN acc
                                ELSE [x IN acc WHERE x < s] + s + [x IN acc WHERE x > s] END),
             l.event_ids = (l.event_ids + row.event_ids)[0..$sample]
"""

# The snapshot already dropped events the store holds, so CREATE: a concurrent duplicate
# that slipped past the identifier locks fails on the unique constraint instead of being
# counted twice.
CREATE_EVENTS = """
UNWIND $rows AS row
CREATE (e:Event {event_id: row.event_id, type: row.type, ts: row.ts, source: row.source,
                 body: row.body})
WITH e, row
UNWIND row.keys AS key
MATCH (i:Identifier {key: key})
CREATE (e)-[:OBSERVED]->(i)
"""

# Merge history. `seq` comes from one counter node, so merges sort in commit order across
# all transactions, like SQLite's AUTOINCREMENT. The counter is the last lock a
# transaction takes, held only until its commit, so it cannot take part in a deadlock.
# The `_lock` write comes before the read of `next` so concurrent increments serialise.
RECORD_MERGES = """
MERGE (q:MergeSequence {name: $sequence})
SET q._lock = true
WITH q
SET q.next = coalesce(q.next, 0) + size($rows)
REMOVE q._lock
WITH q.next - size($rows) AS base
UNWIND $rows AS row
MATCH (a:Customer {id: row.absorbed})
MATCH (s:Customer {id: row.survivor})
CREATE (a)-[:MERGED_INTO {seq: base + row.index, at: row.at, event_id: row.event_id,
                          reason: row.reason}]->(s)
RETURN count(*) AS recorded
"""

# -- reads ---------------------------------------------------------------------------

CURRENT_IDS = """
UNWIND $ids AS id
MATCH (c:Customer {id: id})
RETURN id, coalesce(c.merged_into, c.id) AS current
"""

OWNERS = """
UNWIND $keys AS key
MATCH (:Identifier {key: key})-[:BELONGS_TO]->(c:Customer)
RETURN key, c.id AS customer_id
"""

IDENTIFIERS_OF = """
UNWIND $ids AS id
MATCH (:Customer {id: id})<-[:BELONGS_TO]-(i:Identifier)
RETURN id AS customer_id, i.type AS type, i.value AS value, i.first_seen AS first_seen,
       i.last_seen AS last_seen, i.sources AS sources, i.status AS status
ORDER BY customer_id, type, value
"""

# Events of any of the customer's identifiers, each once, newest first, strictly older
# than the (ts, event_id) cursor.
TIMELINE = """
MATCH (:Customer {id: $customer_id})<-[:BELONGS_TO]-(:Identifier)<-[:OBSERVED]-(e:Event)
WHERE $ts IS NULL OR e.ts < $ts OR (e.ts = $ts AND e.event_id < $event_id)
WITH DISTINCT e
ORDER BY e.ts DESC, e.event_id DESC
LIMIT $first
RETURN e.event_id AS event_id, e.type AS type, e.ts AS ts, e.source AS source,
       e.body AS body, [(e)-[:OBSERVED]->(i:Identifier) | i.key] AS keys
ORDER BY ts DESC, event_id DESC
"""

# Like the SQLite adapter: links whose `a` end belongs to the customer (both ends of a
# link always belong to one customer).
LINKS_OF = """
MATCH (:Customer {id: $customer_id})<-[:BELONGS_TO]-(a:Identifier)-[l:LINKED]->(b:Identifier)
RETURN a.key AS a, b.key AS b, l.count AS count, l.first_seen AS first_seen,
       l.last_seen AS last_seen, l.sources AS sources, l.event_ids AS event_ids
ORDER BY a, b
"""

# Merges whose survivor's current id is in $ids: the survivor is that current customer,
# or a customer merged into it since.
MERGES_INTO = """
UNWIND $ids AS current
CALL (current) {
  MATCH (s:Customer {id: current})
  WHERE s.merged_into IS NULL
  RETURN s
  UNION
  MATCH (s:Customer {merged_into: current})
  RETURN s
}
MATCH (a:Customer)-[m:MERGED_INTO]->(s)
RETURN current, a.id AS absorbed, s.id AS survivor, m.at AS at, m.event_id AS event_id,
       m.reason AS reason
ORDER BY m.seq
"""

CUSTOMER_PAGE = """
MATCH (c:Customer)
WHERE c.id > $after AND c.merged_into IS NULL
RETURN c.id AS id
ORDER BY c.id
LIMIT $limit
"""

STATS = """
CALL () { MATCH (c:Customer) RETURN count(c) AS all_customers }
CALL () { MATCH (c:Customer) WHERE c.merged_into IS NOT NULL RETURN count(c) AS merged }
CALL () { MATCH (i:Identifier) RETURN count(i) AS identifiers }
CALL () { MATCH ()-[l:LINKED]->() RETURN count(l) AS links }
CALL () { MATCH (e:Event) RETURN count(e) AS events }
RETURN all_customers - merged AS customers, identifiers, links, events
"""
