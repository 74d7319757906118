"""Every Cypher statement the Neo4j adapter runs, in one place.

Rules (tests/unit/test_neo4j_adapter.py checks them):
- every value is a `$parameter`: no string literals, nothing formatted into the text;
- writes of many rows are one `UNWIND $rows AS row` per plan section, never a round trip per row;
- every lookup of a node goes through a property with a unique constraint or an index from
  graph_schema/ (Identifier.key, Customer.id, Customer.merged_into, Event.event_id, ...);
  the only scans are the whole-graph reads (`MEMBERSHIP_*`), counts that Neo4j answers
  from its count store, the erasure scrub (`SCRUB_FIND`, `SCRUB_WRITE`), which rewrites
  free text wherever it is, and the suppression list's check when the store is migrated.

The graph model and what each statement relies on is documented in graph_schema/model.md.
Subqueries use the `CALL (x) { ... }` scope clause, so the server must be Neo4j 5.23 or later.
"""

from __future__ import annotations

import re

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
# A transaction runs three statements (graph_schema/model.md, "Writes"): LOCK_AND_SNAPSHOT,
# then, once the plan is decided, APPLY (every plan section) and RECORD (the numbered
# records, then the release of the locks). An erasure adds ERASE, SCRUB_FIND and
# SCRUB_WRITE between APPLY and RECORD; gathering whole components adds COMPONENTS; a
# snapshot whose owners changed before they were locked adds LOCK_CUSTOMERS + SNAPSHOT
# rounds.
#
# These four hot statements start with `CYPHER replan=skip`: Neo4j plans them once per
# server and does not re-plan them whenever the statistics of a growing graph drift (it
# would, at most every 10 s, and planning them costs about as much as running a batch).
# Their plans do not depend on statistics: every lookup is a unique-constraint seek, an
# expansion from a bound node, a count-store read, or a non-unique index seek pinned by a
# `USING INDEX` hint.
#
# Locking protocol (see graph_schema/model.md, "Concurrency"):
# 1. Every identifier of the batch is MERGEd in key order and `SET i._lock = null` takes
#    the write lock of those that exist: removing a property takes the node's write lock
#    first, even when the node has no such property, so the lock costs no write and leaves
#    nothing to undo (writing a dummy value and removing it again cost about a fifth of a
#    batch's LOCK_AND_SNAPSHOT and APPLY and half of its RECORD). A key that does not
#    exist yet becomes a placeholder node holding only `key` (creating it locks it, and
#    its index entry); the unique constraint on Identifier.key makes a second
#    transaction's MERGE of the same key wait until this one commits or rolls back, so
#    two loaders can never both treat a key as new.
# 2. The current owners of those identifiers are write-locked (in id order), then the
#    snapshot is read. If an owner changed before its lock was taken, LOCK_CUSTOMERS locks
#    the new one and SNAPSHOT reads again. The owners of the ends of relevant bans and of
#    matching candidates are locked the same way (candidates' identifiers by LOCK_KEYS),
#    and so are the customers of components gathered for the full path (COMPONENTS),
#    before they are read.
# 3. RECORD ends by deleting placeholders the plan did not fill in, so no trace of the
#    locking survives the transaction.

# Everything a decision reads besides the batch identifiers and their owners: for the
# owners (`owners`, customer nodes, bound by the statement), the batch keys ($keys) and
# events ($event_ids). `$limited_types`: count these types per owner (a pattern
# comprehension, so that it expands from the owner: a plan that seeks the type index
# instead and filters by owner costs owners x identifiers of the type). One expansion of
# each key's links gives both the stored links among batch keys and, when `$count_hubs`,
# one `hub_ends` entry per link to an identifier of a hub type (the degrees). Bans and
# suppression hashes are looked up only when the count store says there are any.
_snapshot_reads = """
CALL () {
  UNWIND $event_ids AS event_id
  MATCH (e:Event {event_id: event_id})
  RETURN collect(event_id) AS seen
}
CALL (owners) {
  UNWIND owners AS c
  UNWIND [(c)<-[:BELONGS_TO]-(i:Identifier) WHERE i.type IN $limited_types | i.type] AS type
  WITH c.id AS id, type, count(*) AS n
  RETURN collect({id: id, type: type, n: n}) AS type_counts
}
CALL () {
  UNWIND $keys AS key
  MATCH (a:Identifier {key: key})-[l:LINKED]-(o:Identifier)
  WITH key, o.key AS other, startNode(l) = a AS outgoing, l.status AS status, o.type AS type
  RETURN [x IN collect(CASE WHEN outgoing AND other IN $keys
                            THEN {a: key, b: other, status: status} END) WHERE x IS NOT NULL]
           AS links,
         collect(CASE WHEN $count_hubs AND type IN $hub_types THEN key END) AS hub_ends
}
CALL (owners) {
  MATCH (x:Ban)
  WITH count(x) AS total
  WHERE total > 0
  CALL (owners) {
    UNWIND $keys AS key
    MATCH (x:Ban {a: key})
    USING INDEX x:Ban(a)
    RETURN x
    UNION
    UNWIND $keys AS key
    MATCH (x:Ban {b: key})
    USING INDEX x:Ban(b)
    RETURN x
    UNION
    UNWIND owners AS c
    MATCH (c)<-[:BELONGS_TO]-(i:Identifier)
    CALL (i) {
      MATCH (x:Ban {a: i.key})
      USING INDEX x:Ban(a)
      RETURN x
      UNION
      MATCH (x:Ban {b: i.key})
      USING INDEX x:Ban(b)
      RETURN x
    }
    RETURN x
  }
  WITH DISTINCT x
  OPTIONAL MATCH (:Identifier {key: x.a})-[:BELONGS_TO]->(ca:Customer)
  OPTIONAL MATCH (:Identifier {key: x.b})-[:BELONGS_TO]->(cb:Customer)
  RETURN collect({a: x.a, b: x.b, a_owner: ca.id, b_owner: cb.id}) AS bans
}
CALL () {
  MATCH (s:Suppressed)
  WITH count(s) AS total
  WHERE total > 0
  UNWIND $hashes AS hash
  MATCH (s:Suppressed {hash: hash})
  RETURN collect({hash: hash, at: s.at}) AS suppressed
}
"""
_snapshot_fields = """identifiers,
       [c IN owners | {id: c.id, first_seen: c.first_seen, first_event: c.first_event,
                       first_key: c.first_key, settled: c.settled}] AS customers,
       seen, type_counts, links, hub_ends, bans, suppressed"""

# Steps 1 and 2 and the first snapshot read, in one statement. Each identifier's status
# and owner are read once its lock is held (an owner changes only with a write to the
# identifier's BELONGS_TO); the owners' first_seen only after their locks. `locked`: the
# customers it locked.
LOCK_AND_SNAPSHOT = """
CYPHER replan=skip
CALL () {
  UNWIND $keys AS key
  MERGE (i:Identifier {key: key})
  ON MATCH SET i._lock = null
  WITH i, key
  OPTIONAL MATCH (i)-[:BELONGS_TO]->(c:Customer)
  RETURN collect(DISTINCT c) AS owners,
         collect(CASE WHEN i.type IS NOT NULL
                      THEN {key: key, status: i.status, reason: i.reason, id: c.id} END)
           AS identifiers
}
CALL (owners) {
  UNWIND owners AS c
  WITH c
  ORDER BY c.id
  SET c._lock = null
  RETURN collect(c.id) AS locked
}
""" + _snapshot_reads + "RETURN locked, " + _snapshot_fields + "\n"

# A later round of step 2's locks.
LOCK_CUSTOMERS = """
UNWIND $ids AS id
MATCH (c:Customer {id: id})
SET c._lock = null
"""

# A later round of step 2's read.
SNAPSHOT = """
CYPHER replan=skip
CALL () {
  UNWIND $keys AS key
  MATCH (i:Identifier {key: key})
  WHERE i.type IS NOT NULL
  OPTIONAL MATCH (i)-[:BELONGS_TO]->(c:Customer)
  RETURN collect(DISTINCT c) AS owners,
         collect({key: key, status: i.status, reason: i.reason, id: c.id}) AS identifiers
}
""" + _snapshot_reads + "RETURN " + _snapshot_fields + "\n"

# Stored identifiers outside the batch that the plan may write (matching candidates).
LOCK_KEYS = """
UNWIND $keys AS key
MATCH (i:Identifier {key: key})
SET i._lock = null
"""

# Matching: the keys of the newest `$limit` records filed under each blocking key (newest
# first, by the filing's `seq`).
MATCH_BUCKETS = """
UNWIND $blocks AS block
CALL (block) {
  MATCH (m:MatchBlock {block: block})
  WITH m
  ORDER BY m.seq DESC
  LIMIT $limit
  RETURN collect(m.key) AS keys
}
RETURN collect({block: block, keys: keys}) AS buckets
"""

# The traits and owners of the candidates the batch's records will be compared with.
MATCH_RECORDS = """
UNWIND $keys AS key
OPTIONAL MATCH (r:MatchRecord {key: key})
OPTIONAL MATCH (:Identifier {key: key})-[:BELONGS_TO]->(c:Customer)
RETURN collect({key: key, traits: r.traits, id: c.id, first_seen: c.first_seen,
                first_event: c.first_event, first_key: c.first_key, settled: c.settled})
         AS records
"""

# The cleaned traits filed under identifiers, for a read outside a batch (whynot).
MATCH_TRAITS = """
UNWIND $keys AS key
MATCH (r:MatchRecord {key: key})
RETURN r.key AS key, r.traits AS traits
"""

# The whole stored components of customers (locked by the caller first): each customer's
# identifiers and, per identifier, every link touching it with the identifier at its far
# end (key, status, first seen and owner).
COMPONENTS = """
UNWIND $ids AS id
MATCH (c:Customer {id: id})
RETURN id, {id: c.id, first_seen: c.first_seen, first_event: c.first_event,
           first_key: c.first_key, settled: c.settled} AS customer,
       [(c)<-[:BELONGS_TO]-(i:Identifier) |
         {key: i.key, status: i.status, first_seen: i.first_seen, first_event: i.first_event,
          links: [(i)-[l:LINKED]-(o:Identifier) |
                  {a: startNode(l).key, b: endNode(l).key, first_seen: l.first_seen,
                   first_event: l.first_event, sources: l.sources, status: l.status,
                   reason: l.reason,
                   other: {key: o.key, status: o.status, first_seen: o.first_seen,
                           first_event: o.first_event,
                           customer_id: head([(o)-[:BELONGS_TO]->(oc:Customer) | oc.id])}}]}
       ] AS identifiers
"""

# -- transact: applying a plan -----------------------------------------------------------
#
# APPLY writes every section of a plan, one `UNWIND $<section> AS row` subquery per
# section, in the SQLite adapter's order (an empty section is a subquery over no rows).
# The subqueries run one after the other, each seeing what the earlier ones wrote:
# - customers: new customers;
# - merges: a CALL (row) per merge, so merges apply one after the other exactly like
#   SQLite's loop: move the absorbed customer's identifiers to the survivor, point the
#   absorbed customer and every customer already merged into it at the survivor (path
#   compression); the history edge is written by RECORD;
# - first_seen;
# - identifiers: a node with no `type` is a placeholder from the lock (or absent): it gets
#   all fields, its status and reason, and its BELONGS_TO when the plan names a customer
#   (an inactive identifier belongs to none). An existing identifier keeps its owner,
#   status and reason (they change by merges, moves and statuses); first/last seen widen
#   and sources become the sorted union (an insertion sort in `reduce`, no APOC needed);
# - moves: stored identifiers that change customer (a split, a release) or leave theirs
#   (customer_id null: quarantined); statuses;
# - links: stored once, a -> b with a < b. Both ends are write-locked (batch keys, or
#   matching candidates), so the read-modify-write of the counters cannot lose an update.
#   A banned link stays banned whatever the evidence; a MATCHED link keeps its match
#   payload (`match`, JSON text) unless new evidence brings one; link_statuses;
# - bans, unbans; match_records (a record's cleaned traits replace the stored ones);
# - events: the snapshot already dropped events the store holds, so CREATE: a concurrent
#   duplicate that slipped past the identifier locks fails on the unique constraint
#   instead of being counted twice; `profile` marks events with traits or consent;
# - search_terms, unsuppress, review_updates.
# The counts returned let the adapter refuse a plan that names a customer the store does
# not hold (the transaction rolls back).
APPLY = """
CYPHER replan=skip
CALL () {
  UNWIND $history_reset AS row
  CALL (row) {
    MATCH (s:Customer {id: row.id})
    RETURN s
    UNION
    MATCH (s:Customer {merged_into: row.id})
    USING INDEX s:Customer(merged_into)
    RETURN s
  }
  MATCH ()-[m:MERGED_INTO]->(s)
  DELETE m
}
CALL () {
  UNWIND $customers AS row
  MERGE (c:Customer {id: row.id})
  SET c.merged_into = null, c.first_seen = row.first_seen, c.first_event = row.first_event,
      c.first_key = row.first_key, c.settled = row.settled
}
CALL () {
  UNWIND $merges AS row
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
      USING INDEX m:Customer(merged_into)
      SET m.merged_into = s.id
    }
    SET a.merged_into = s.id
    RETURN count(*) AS applied
  }
  RETURN sum(applied) AS merged
}
CALL () {
  UNWIND $customer_updates AS row
  MATCH (c:Customer {id: row.id})
  SET c.first_seen = row.first_seen, c.first_event = row.first_event,
      c.first_key = row.first_key, c.settled = row.settled
}
CALL () {
  UNWIND $history_ids AS row
  MERGE (x:Customer {id: row.id})
  ON CREATE SET x.first_seen = row.at, x.merged_into = row.final
  ON MATCH SET x.merged_into = CASE WHEN x.merged_into IS NULL THEN null ELSE row.final END
}
CALL () {
  UNWIND $identifiers AS row
  MERGE (i:Identifier {key: row.key})
  WITH i, row, i.type IS NULL AS fresh
  SET i.type = coalesce(i.type, row.type),
      i.value = coalesce(i.value, row.value),
      i.status = CASE WHEN fresh THEN row.status ELSE i.status END,
      i.reason = CASE WHEN fresh THEN row.reason ELSE i.reason END,
      i.first_event = CASE WHEN fresh OR row.first_seen < i.first_seen
                                OR (row.first_seen = i.first_seen
                                    AND row.first_event < i.first_event)
                           THEN row.first_event ELSE i.first_event END,
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
  RETURN sum(CASE WHEN fresh AND row.customer_id IS NOT NULL THEN 1 ELSE 0 END) AS expected,
         sum(attached) AS attached
}
CALL () {
  UNWIND $moves AS row
  MATCH (i:Identifier {key: row.key})
  CALL (i) {
    MATCH (i)-[r:BELONGS_TO]->()
    DELETE r
  }
  CALL (i, row) {
    MATCH (c:Customer {id: row.customer_id})
    CREATE (i)-[:BELONGS_TO]->(c)
  }
}
CALL () {
  UNWIND $statuses AS row
  MATCH (i:Identifier {key: row.key})
  SET i.status = row.status, i.reason = row.reason
}
CALL () {
  UNWIND $links AS row
  MATCH (a:Identifier {key: row.a})
  MATCH (b:Identifier {key: row.b})
  MERGE (a)-[l:LINKED]->(b)
  ON CREATE SET l.count = row.count,
                l.first_seen = row.first_seen,
                l.first_event = row.first_event,
                l.last_seen = row.last_seen,
                l.sources = row.sources,
                l.event_ids = row.event_ids[0..$sample],
                l.status = row.status,
                l.reason = row.reason,
                l.match = row.match
  ON MATCH SET l.count = l.count + row.count,
               l.first_event = CASE WHEN row.first_seen < l.first_seen
                                         OR (row.first_seen = l.first_seen
                                             AND row.first_event < l.first_event)
                                    THEN row.first_event ELSE l.first_event END,
               l.first_seen = CASE WHEN row.first_seen < l.first_seen
                                   THEN row.first_seen ELSE l.first_seen END,
               l.last_seen = CASE WHEN row.last_seen > l.last_seen
                                  THEN row.last_seen ELSE l.last_seen END,
               l.sources = reduce(acc = [], s IN l.sources + row.sources |
                             CASE WHEN s IN acc THEN acc
                                  ELSE [x IN acc WHERE x < s] + s + [x IN acc WHERE x > s] END),
               l.event_ids = (l.event_ids + row.event_ids)[0..$sample],
               l.reason = CASE WHEN l.status = $banned THEN l.reason ELSE row.reason END,
               l.status = CASE WHEN l.status = $banned THEN l.status ELSE row.status END,
               l.match = coalesce(row.match, l.match)
}
CALL () {
  UNWIND $link_statuses AS row
  MATCH (a:Identifier {key: row.a})-[l:LINKED]->(b:Identifier {key: row.b})
  SET l.status = row.status, l.reason = row.reason
}
CALL () {
  UNWIND $bans AS row
  MERGE (:Ban {a: row.a, b: row.b})
}
CALL () {
  UNWIND $unbans AS row
  MATCH (x:Ban {a: row.a, b: row.b})
  DELETE x
}
CALL () {
  UNWIND $match_records AS row
  MERGE (r:MatchRecord {key: row.key})
  SET r.traits = row.traits
}
CALL () {
  UNWIND $events AS row
  CREATE (e:Event {event_id: row.event_id, type: row.type, ts: row.ts, source: row.source,
                   body: row.body, profile: row.profile})
  WITH e, row
  UNWIND row.keys AS key
  MATCH (i:Identifier {key: key})
  CREATE (e)-[:OBSERVED]->(i)
}
CALL () {
  UNWIND $search_terms AS row
  MERGE (:SearchTerm {key: row.key, term: row.term})
}
CALL () {
  UNWIND $unsuppress AS row
  MATCH (s:Suppressed {hash: row.hash})
  DELETE s
}
CALL () {
  UNWIND $review_updates AS row
  MATCH (r:Review {id: row.id})
  SET r.status = row.status, r.resolved_by = row.actor
}
RETURN merged, expected, attached
"""

# Erasure, one statement per erased customer: the events its identifiers observed (with
# every OBSERVED of those events), the links, bans, search terms, matching records,
# review items and identifiers themselves; the customer keeps only its id, first_seen
# and `erased_at`; the identifiers are remembered as suppression hashes. Returns what was
# removed. Free text elsewhere is scrubbed by SCRUB_FIND and SCRUB_WRITE.
ERASE = """
CALL () {
  UNWIND $keys AS key
  MATCH (:Identifier {key: key})<-[:OBSERVED]-(e:Event)
  WITH DISTINCT e
  DETACH DELETE e
  RETURN count(*) AS events
}
CALL () {
  UNWIND $keys AS key
  MATCH (:Identifier {key: key})-[l:LINKED]-(:Identifier)
  WITH DISTINCT l
  DELETE l
  RETURN count(*) AS links
}
CALL () {
  UNWIND $keys AS key
  CALL (key) {
    MATCH (x:Ban {a: key})
    RETURN x
    UNION
    MATCH (x:Ban {b: key})
    RETURN x
    UNION
    MATCH (x:SearchTerm {key: key})
    RETURN x
    UNION
    MATCH (x:MatchBlock {key: key})
    RETURN x
    UNION
    MATCH (x:MatchRecord {key: key})
    RETURN x
    UNION
    MATCH (x:Review {a: key})
    RETURN x
    UNION
    MATCH (x:Review {b: key})
    RETURN x
  }
  WITH DISTINCT x
  DETACH DELETE x
  RETURN count(*) AS mentions
}
CALL () {
  UNWIND $keys AS key
  MATCH (i:Identifier {key: key})
  DETACH DELETE i
  RETURN count(*) AS identifiers
}
CALL () {
  UNWIND $hashes AS hash
  MERGE (s:Suppressed {hash: hash})
  ON CREATE SET s.at = $at
}
CALL () {
  MATCH (c:Customer {id: $customer_id})
  SET c.erased_at = $at
}
CALL () {
  CALL () {
    MATCH (s:Customer {id: $customer_id})
    RETURN s
    UNION
    MATCH (s:Customer {merged_into: $customer_id})
    RETURN s
  }
  SET s.first_key = $nothing, s.first_event = $nothing, s.settled = $nothing
  WITH s
  CALL (s) {
    MATCH ()-[r:MERGED_INTO|RENAMED_TO]->(s)
    DELETE r
  }
}
RETURN events, links, identifiers
"""

# The free text that mentions an erased value: merge and split reasons, link and
# identifier reasons, audit entries, each whose text matches $pattern (a Java regular
# expression of every spelling of the erased values, app/domain/personal.py). A scan, like
# SQLite's UPDATE ... WHERE: erasures are rare. The adapter scrubs the texts found (with
# the same expression in Python) and writes them back by element id with SCRUB_WRITE.
SCRUB_FIND = """
CALL () {
  MATCH ()-[m:MERGED_INTO]->()
  WHERE m.reason =~ $pattern
  RETURN collect({id: elementId(m), reason: m.reason}) AS merges
}
CALL () {
  MATCH (x:Split)
  WHERE x.reason =~ $pattern
  RETURN collect({id: elementId(x), reason: x.reason}) AS splits
}
CALL () {
  MATCH ()-[l:LINKED]->()
  WHERE l.reason <> $nothing AND l.reason =~ $pattern
  RETURN collect({id: elementId(l), reason: l.reason}) AS links
}
CALL () {
  MATCH (i:Identifier)
  WHERE i.reason <> $nothing AND i.reason =~ $pattern
  RETURN collect({id: elementId(i), reason: i.reason}) AS identifiers
}
CALL () {
  MATCH (e:AuditEntry)
  WHERE e.target =~ $pattern OR e.reason =~ $pattern OR e.details =~ $pattern
        OR e.undo =~ $pattern
  RETURN collect({id: elementId(e), target: e.target, reason: e.reason, details: e.details,
                  undo: e.undo}) AS audit
}
RETURN merges, splits, links, identifiers, audit
"""

SCRUB_WRITE = """
CALL () {
  UNWIND $merges AS row
  MATCH ()-[m:MERGED_INTO]->()
  WHERE elementId(m) = row.id
  SET m.reason = row.reason
}
CALL () {
  UNWIND $splits AS row
  MATCH (x:Split)
  WHERE elementId(x) = row.id
  SET x.reason = row.reason
}
CALL () {
  UNWIND $links AS row
  MATCH ()-[l:LINKED]->()
  WHERE elementId(l) = row.id
  SET l.reason = row.reason
}
CALL () {
  UNWIND $identifiers AS row
  MATCH (i:Identifier)
  WHERE elementId(i) = row.id
  SET i.reason = row.reason
}
CALL () {
  UNWIND $audit AS row
  MATCH (e:AuditEntry)
  WHERE elementId(e) = row.id
  SET e.target = row.target, e.reason = row.reason, e.details = row.details, e.undo = row.undo
}
"""

# The suppression list, read when the store is migrated: legacy hashes are keyed in place
# (app/domain/privacy.py), and a key other than the list's is refused.
SUPPRESSION_HASHES = """
MATCH (s:Suppressed)
RETURN s.hash AS hash
"""

UPGRADE_SUPPRESSIONS = """
UNWIND $rows AS row
MATCH (s:Suppressed {hash: row.old})
SET s.hash = row.new
"""

# `  NUMBERED $rows BY $sequence` in a query stands for this: reserve size(rows) numbers of
# the named counter (locked until the commit, so numbers follow commit order), then go on
# with each `row` and `base`, the number before the first reserved.
_numbering = """  WITH ${rows} AS rows
  WHERE size(rows) > 0
  MERGE (q:MergeSequence {{name: ${sequence}}})
  SET q._lock = true
  WITH rows, q
  SET q.next = coalesce(q.next, 0) + size(rows)
  REMOVE q._lock
  WITH rows, q.next - size(rows) AS base
  UNWIND rows AS row"""


def numbered(query: str) -> str:
    return re.sub(r"^  NUMBERED \$(\w+) BY \$(\w+)$",
                  lambda m: _numbering.format(rows=m[1], sequence=m[2]), query, flags=re.M)

# -- transact: numbered records and release, last ----------------------------------------
#
# Merges, splits, audit entries, review items and matching filings are numbered from
# counter nodes (MergeSequence {name}), so they sort in commit order across transactions,
# like SQLite's AUTOINCREMENT. A counter is locked only when its section is not empty, at
# the very end of a transaction (this statement runs last; its subqueries in this fixed
# order) and held until the commit, so it never waits while holding another lock of the
# plan. The `_lock` write comes before the read of `next` so concurrent increments
# serialise. Audit entries, splits, review items and filings are numbered from 1 like
# SQLite rows; an audit entry that undoes another marks it (`undone_by`); a review pair
# already queued keeps its item (INSERT OR IGNORE) and new items get ids in plan order.
# Then the release: placeholders among the locked keys ($keys) that the plan did not fill
# (no `type`) are deleted; the locks themselves wrote nothing.
RECORD = numbered("""
CYPHER replan=skip
CALL () {
  NUMBERED $history BY $merge_sequence
  MATCH (a:Customer {id: row.absorbed})
  MATCH (s:Customer {id: row.survivor})
  CREATE (a)-[:MERGED_INTO {seq: base + row.index, at: row.at, event_id: row.event_id,
                            reason: row.reason}]->(s)
  RETURN count(*) AS recorded
}
CALL () {
  UNWIND $renames AS row
  MATCH (a:Customer {id: row.absorbed})
  MATCH (s:Customer {id: row.survivor})
  CREATE (a)-[:RENAMED_TO {at: row.at, event_id: row.event_id, reason: row.reason}]->(s)
}
CALL () {
  NUMBERED $splits BY $split_sequence
  CREATE (:Split {seq: base + row.index + 1, customer_id: row.customer_id, parts: row.parts,
                  at: row.at, reason: row.reason})
}
CALL () {
  NUMBERED $audit BY $audit_sequence
  CREATE (e:AuditEntry {seq: base + row.index + 1, actor: row.actor, action: row.action,
                        target: row.target, reason: row.reason, at: row.at,
                        details: row.details, undo: row.undo})
  WITH e, row
  CALL (e, row) {
    MATCH (u:AuditEntry {seq: row.undoes})
    SET u.undone_by = e.seq
  }
  WITH e
  ORDER BY e.seq
  RETURN collect(e.seq) AS audit_seqs
}
CALL () {
  WITH $reviews AS rows
  WHERE size(rows) > 0
  UNWIND rows AS row
  MERGE (r:Review {a: row.a, b: row.b})
  ON CREATE SET r.score = row.score, r.weights = row.weights, r.status = row.status,
                r.created_at = row.created_at, r._order = row.index
  WITH DISTINCT r
  WHERE r._order IS NOT NULL
  WITH r
  ORDER BY r._order
  WITH collect(r) AS fresh
  WHERE size(fresh) > 0
  MERGE (q:MergeSequence {name: $review_sequence})
  SET q._lock = true
  WITH fresh, q
  SET q.next = coalesce(q.next, 0) + size(fresh)
  REMOVE q._lock
  WITH fresh, q.next - size(fresh) AS base
  UNWIND range(0, size(fresh) - 1) AS n
  WITH fresh[n] AS r, base + n + 1 AS id
  SET r.id = id
  REMOVE r._order
}
CALL () {
  NUMBERED $match_blocks BY $match_block_sequence
  CREATE (:MatchBlock {seq: base + row.index + 1, block: row.block, key: row.key})
}
CALL () {
  UNWIND $keys AS key
  MATCH (i:Identifier {key: key})
  WHERE i.type IS NULL
  DETACH DELETE i
}
RETURN recorded, audit_seqs
""")

# -- reads ---------------------------------------------------------------------------

# Merged customers follow their redirect; an erased customer is not known any more.
CURRENT_IDS = """
UNWIND $ids AS id
MATCH (c:Customer {id: id})
MATCH (t:Customer {id: coalesce(c.merged_into, c.id)})
WHERE t.erased_at IS NULL
RETURN id, t.id AS current
"""

OWNERS = """
UNWIND $keys AS key
MATCH (:Identifier {key: key})-[:BELONGS_TO]->(c:Customer)
RETURN key, c.id AS customer_id
"""

IDENTIFIERS = """
UNWIND $keys AS key
MATCH (i:Identifier {key: key})
WHERE i.type IS NOT NULL
OPTIONAL MATCH (i)-[:BELONGS_TO]->(c:Customer)
RETURN c.id AS customer_id, i.type AS type, i.value AS value, i.first_seen AS first_seen,
       i.last_seen AS last_seen, i.sources AS sources, i.status AS status,
       i.reason AS reason
"""

# The reads of one CustomerReads (app/stores/base.py) in one statement, so in one round
# trip; each part is one list of maps, keyed as records.py reads them, and a part whose
# list parameter is empty reads nothing. `identifiers_of`, `profile_observations`,
# `timelines` and `segment_states` are this statement with the other parts empty.
# - identifiers: each customer's, by customer, type and value;
# - observations: the events with traits or consent (`profile`), each once, oldest first;
# - timelines: per window ($timelines: its number, customer ids, `first`, the cursor's ts
#   and event_id, `since`, `types`) and customer, up to `first` events strictly older
#   than the cursor and not before `since`, of `types` when that list is not empty,
#   newest first (LIMIT takes no per-row value: the window's slice of the sorted list);
# - segment_states: the customers with a check or a membership.
CUSTOMER_READS = """
CALL () {
  UNWIND $identifiers AS id
  MATCH (:Customer {id: id})<-[:BELONGS_TO]-(i:Identifier)
  WITH id, i
  ORDER BY id, i.type, i.value
  RETURN collect({customer_id: id, type: i.type, value: i.value, first_seen: i.first_seen,
                  last_seen: i.last_seen, sources: i.sources, status: i.status,
                  reason: i.reason}) AS identifiers
}
CALL () {
  UNWIND $observations AS id
  MATCH (:Customer {id: id})<-[:BELONGS_TO]-(:Identifier)<-[:OBSERVED]-(e:Event)
  WHERE e.profile
  WITH DISTINCT id, e
  ORDER BY id, e.ts, e.event_id
  RETURN collect({customer_id: id, event_id: e.event_id, ts: e.ts, source: e.source,
                  body: e.body}) AS observations
}
CALL () {
  UNWIND $timelines AS t
  UNWIND t.ids AS id
  CALL (t, id) {
    MATCH (:Customer {id: id})<-[:BELONGS_TO]-(:Identifier)<-[:OBSERVED]-(e:Event)
    WHERE (e.ts < t.ts OR (e.ts = t.ts AND e.event_id < t.event_id)) AND e.ts >= t.since
      AND (size(t.types) = 0 OR e.type IN t.types)
    WITH DISTINCT e
    ORDER BY e.ts DESC, e.event_id DESC
    WITH collect(e) AS events
    RETURN events[..t.first] AS page
  }
  RETURN collect({window: t.window, customer_id: id, events: [e IN page |
           {event_id: e.event_id, type: e.type, ts: e.ts, source: e.source, body: e.body,
            keys: [(e)-[:OBSERVED]->(i:Identifier) | i.key]}]}) AS timelines
}
CALL () {
  UNWIND $segment_states AS id
  OPTIONAL MATCH (s:SegmentCheck {customer_id: id})
  CALL (id) {
    MATCH (m:SegmentMember {customer_id: id})
    RETURN collect(m {.segment, .since, .why}) AS members
  }
  WITH id, s, members
  WHERE s IS NOT NULL OR size(members) > 0
  RETURN collect({customer_id: id, checked_at: s.checked_at, next_check: s.next_check,
                  members: members}) AS segment_states
}
RETURN identifiers, observations, timelines, segment_states
"""

# Events of any of the customer's identifiers, each once, newest first, strictly older
# than the (ts, event_id) cursor.
# CUSTOMER_READS' timeline selection, counted: since <= ts < until, of `types` if any.
TIMELINE_COUNTS = """
UNWIND $ids AS id
MATCH (:Customer {id: id})<-[:BELONGS_TO]-(:Identifier)<-[:OBSERVED]-(e:Event)
WHERE e.ts >= $since AND e.ts < $until AND (size($types) = 0 OR e.type IN $types)
RETURN id, count(DISTINCT e) AS n
"""

EVENTS = """
UNWIND $ids AS id
MATCH (e:Event {event_id: id})
RETURN e.event_id AS event_id, e.type AS type, e.ts AS ts, e.source AS source,
       e.body AS body, [(e)-[:OBSERVED]->(i:Identifier) | i.key] AS keys
"""

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

# Every link with either end among the customer's identifiers, whatever its status.
LINKS_OF = """
MATCH (:Customer {id: $customer_id})<-[:BELONGS_TO]-(:Identifier)-[l:LINKED]-(:Identifier)
WITH DISTINCT l
WITH l, startNode(l) AS a, endNode(l) AS b
RETURN a.key AS a, b.key AS b, l.count AS count, l.first_seen AS first_seen,
       l.last_seen AS last_seen, l.sources AS sources, l.event_ids AS event_ids,
       l.status AS status, l.reason AS reason, l.match AS match
ORDER BY a, b
"""

LINKS_TOUCHING = """
UNWIND $keys AS key
MATCH (:Identifier {key: key})-[l:LINKED]-(:Identifier)
WITH DISTINCT l
WITH l, startNode(l) AS a, endNode(l) AS b
RETURN a.key AS a, b.key AS b, l.count AS count, l.first_seen AS first_seen,
       l.last_seen AS last_seen, l.sources AS sources, l.event_ids AS event_ids,
       l.status AS status, l.reason AS reason, l.match AS match
ORDER BY a, b
"""

LINKS_WITH_STATUS = """
MATCH (a:Identifier)-[l:LINKED]->(b:Identifier)
WHERE l.status = $status
RETURN a.key AS a, b.key AS b, l.reason AS reason
ORDER BY a, b
"""

AUDIT_LOG = """
MATCH (e:AuditEntry)
WHERE e.seq < $before
RETURN e.seq AS seq, e.actor AS actor, e.action AS action, e.target AS target,
       e.reason AS reason, e.at AS at, e.details AS details, e.undo AS undo,
       e.undone_by AS undone_by
ORDER BY seq DESC
LIMIT $first
"""

AUDIT_COUNT = "MATCH (e:AuditEntry) RETURN count(e) AS n"

AUDIT_ENTRY = """
MATCH (e:AuditEntry {seq: $seq})
RETURN e.seq AS seq, e.actor AS actor, e.action AS action, e.target AS target,
       e.reason AS reason, e.at AS at, e.details AS details, e.undo AS undo,
       e.undone_by AS undone_by
"""

# Splits of each current customer or of a customer merged into it since, oldest first.
SPLITS_OF = """
UNWIND $ids AS current
CALL (current) {
  MATCH (c:Customer {id: current})
  WHERE c.merged_into IS NULL
  RETURN c
  UNION
  MATCH (c:Customer {merged_into: current})
  RETURN c
}
MATCH (x:Split {customer_id: c.id})
RETURN current, x.customer_id AS customer_id, x.parts AS parts, x.at AS at,
       x.reason AS reason
ORDER BY x.seq
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
ORDER BY m.at, m.event_id, m.seq
"""

CUSTOMER_PAGE = """
MATCH (c:Customer)
WHERE c.id > $after AND c.merged_into IS NULL AND c.erased_at IS NULL
RETURN c.id AS id
ORDER BY c.id
LIMIT $limit
"""

# Counts from the count store and the merged_into / erased_at indexes. (An erased customer
# is never merged afterwards: it has no identifiers left.)
STATS = """
CALL () { MATCH (c:Customer) RETURN count(c) AS all_customers }
CALL () { MATCH (c:Customer) WHERE c.merged_into IS NOT NULL RETURN count(c) AS merged }
CALL () {
  MATCH (c:Customer)
  WHERE c.erased_at IS NOT NULL AND c.merged_into IS NULL
  RETURN count(c) AS erased
}
CALL () { MATCH (i:Identifier) RETURN count(i) AS identifiers }
CALL () { MATCH ()-[l:LINKED]->() RETURN count(l) AS links }
CALL () { MATCH (e:Event) RETURN count(e) AS events }
RETURN all_customers - merged - erased AS customers, identifiers, links, events
"""

# Whole-graph reads for verification, streamed.
MEMBERSHIP_OWNERS = """
MATCH (i:Identifier)
WHERE i.type IS NOT NULL
OPTIONAL MATCH (i)-[:BELONGS_TO]->(c:Customer)
RETURN i.key AS key, c.id AS customer_id
"""

MEMBERSHIP_LINKS = """
MATCH (a:Identifier)-[l:LINKED]->(b:Identifier)
WHERE l.status = $active
RETURN a.key AS a, b.key AS b
"""

REVIEWS = """
MATCH (r:Review)
WHERE r.status = $status AND r.id > $after
RETURN r.id AS id, r.a AS a, r.b AS b, r.score AS score, r.weights AS weights,
       r.status AS status, r.created_at AS created_at
ORDER BY id
LIMIT $first
"""

REVIEW_COUNT = "MATCH (r:Review) WHERE r.status = $status RETURN count(r) AS n"

REVIEW = """
MATCH (r:Review {id: $id})
RETURN r.id AS id, r.a AS a, r.b AS b, r.score AS score, r.weights AS weights,
       r.status AS status, r.created_at AS created_at
"""

# Candidates from the full-text index (Lucene), best first: a fuzzy term per
# token of the search text ($lucene); only identifiers that belong to a customer count.
SEARCH = """
CALL db.index.fulltext.queryNodes($index, $lucene, {limit: $fetch}) YIELD node, score
MATCH (:Identifier {key: node.key})-[:BELONGS_TO]->(c:Customer)
RETURN node.key AS key, c.id AS customer_id, node.term AS term, score
ORDER BY score DESC, key, term
LIMIT $limit
"""

LOAD_MODEL = """
MATCH (m:Model {name: $name})
RETURN m.body AS body
"""

SAVE_MODEL = """
MERGE (m:Model {name: $name})
SET m.body = $body, m.trained_at = $trained_at
"""
