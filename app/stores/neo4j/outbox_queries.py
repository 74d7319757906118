"""The Cypher of the outbox (app/stores/outbox.py): change events, the publisher's cursor,
pending segment checks. graph_schema/V0005__outbox.cypher holds their constraints and
graph_schema/model.md the nodes (`OutboxChange`, `OutboxCursor`, `SegmentPending`).

Locks, in the order every transaction takes them: customers (the identity write's own, or
a segment transaction's LOCK_CUSTOMERS) before a customer's `SegmentPending`; the
`outbox` counter last, held until the commit, so `seq` follows commit order and a reader
of the outbox always sees a prefix of it.
"""

from __future__ import annotations

from app.stores.neo4j.queries import numbered

OUTBOX_SEQUENCE = "outbox"  # the counter node (MergeSequence.name) that numbers changes
CURSOR = "changes"  # the one OutboxCursor.name

# (Lower-case names are fragments of statements, not statements.)
# A fragment (a unit subquery) that appends $outbox (index, change_id, customer_id, at,
# body) as OutboxChange nodes; a statement that holds it runs it through `numbered`.
append_changes = """
CALL () {
  NUMBERED $outbox BY $outbox_sequence
  CREATE (:OutboxChange {seq: base + row.index + 1, change_id: row.change_id,
                         customer_id: row.customer_id, at: row.at, body: row.body})
}
"""

# The end of an identity write: its segment checks ($checks), merged into a customer's
# pending check as app/domain/checks.py says (only while a segment is defined: the label
# count comes from the count store), then its change events. The customers are the
# write's own, locked since its snapshot. Planned once, like the other statements of
# every write (queries.py): its plan is a count-store read and unique-constraint seeks.
RECORD_CHANGES = numbered("""
CYPHER replan=skip
CALL () {
  MATCH (s:Segment)
  WITH count(s) AS segments
  WHERE segments > 0
  UNWIND $checks AS row
  MERGE (p:SegmentPending {customer_id: row.customer_id})
  ON CREATE SET p.at = row.at, p.since = row.since, p.survivor = row.survivor,
                p.split = row.split, p.inputs = row.inputs
  ON MATCH SET p.at = CASE WHEN row.at > p.at THEN row.at ELSE p.at END,
               p.since = CASE WHEN row.since < p.since THEN row.since ELSE p.since END,
               p.survivor = coalesce(p.survivor, row.survivor),
               p.split = p.split OR row.split,
               p.inputs = CASE WHEN p.inputs IS NULL OR row.inputs IS NULL THEN NULL
                               ELSE p.inputs + [k IN row.inputs WHERE NOT k IN p.inputs] END
}
""" + append_changes)

# An erased customer: the ids of its segment data (its own and those of the customers
# merged into it, path-compressed onto it), and the segments it held. The store then
# erases that data (ERASE_SEGMENT_DATA) and the unpublished change events (ERASE_CHANGES).
ERASED_SEGMENTS = """
CALL () {
  OPTIONAL MATCH (c:Customer {merged_into: $customer_id})
  USING INDEX c:Customer(merged_into)
  RETURN [$customer_id] + collect(c.id) AS ids
}
CALL () {
  MATCH (m:SegmentMember {customer_id: $customer_id})
  RETURN collect(m.segment) AS held
}
RETURN ids, held
"""

# The erased customers' unpublished change events ($ids) are deleted and the erased texts
# ($texts) scrubbed from the others. The outbox holds only unpublished changes, so the
# scans are of those.
ERASE_CHANGES = """
CALL () {
  MATCH (o:OutboxChange)
  WHERE o.customer_id IN $ids
  DELETE o
}
CALL () {
  MATCH (o:OutboxChange)
  WHERE any(t IN $texts WHERE o.body CONTAINS t)
  SET o.body = reduce(s = o.body, t IN $texts | replace(s, t, $mark))
}
"""

# The oldest pending checks (by the index on `since`), read before their customers are
# locked; PENDING_OF reads them again under the locks.
OLDEST_PENDING = """
MATCH (p:SegmentPending)
WHERE p.since <= $until
RETURN p.customer_id AS customer_id
ORDER BY p.since
LIMIT $limit
"""

PENDING_OF = """
UNWIND $ids AS id
MATCH (p:SegmentPending {customer_id: id})
RETURN p.customer_id AS customer_id, p.at AS at, p.since AS since, p.survivor AS survivor,
       p.split AS split, p.inputs AS inputs
"""

# A fragment: the pending checks a segment transaction evaluated ($done).
delete_pending = """
CALL () {
  UNWIND $done AS id
  MATCH (p:SegmentPending {customer_id: id})
  DELETE p
}
"""

# The lease: a free cursor (no holder, or its lease ran out on the server's clock, in
# milliseconds), or one this holder has, is taken for $lease milliseconds. The `_lock`
# write comes first, so two claims serialise and the second sees the first's holder.
CLAIM = """
MERGE (c:OutboxCursor {name: $name})
ON CREATE SET c.published = 0, c.expires = 0
SET c._lock = null
WITH c, c.holder IS NULL OR c.holder = $holder OR c.expires <= timestamp() AS free
FOREACH (_ IN CASE WHEN free THEN [1] ELSE [] END |
  SET c.holder = $holder, c.destination = $destination, c.expires = timestamp() + $lease)
RETURN free, c.published AS published
"""

# The cursor as it is, read without a lock: a claim that cannot succeed writes nothing.
CURSOR_STATE = """
OPTIONAL MATCH (c:OutboxCursor {name: $name})
RETURN c.holder AS holder, coalesce(c.expires > timestamp(), false) AS running
"""

CHANGES_AFTER = """
MATCH (o:OutboxChange)
WHERE o.seq > $after
RETURN o.seq AS seq, o.change_id AS change_id, o.body AS body
ORDER BY o.seq
LIMIT $limit
"""

# Fenced by the holder: a publisher whose lease was taken over moves nothing.
PUBLISHED = """
MATCH (c:OutboxCursor {name: $name})
SET c._lock = null
WITH c
WHERE c.holder = $holder
SET c.published = CASE WHEN $through > c.published THEN $through ELSE c.published END,
    c.expires = timestamp() + $lease
WITH c
CALL () {
  MATCH (o:OutboxChange)
  WHERE o.seq <= $through
  DELETE o
}
RETURN count(c) AS held
"""

RELEASE = """
MATCH (c:OutboxCursor {name: $name})
WHERE c.holder = $holder
SET c.holder = null, c.expires = 0
"""

STATUS = """
OPTIONAL MATCH (c:OutboxCursor {name: $name})
WITH c, coalesce(c.published, 0) AS published
CALL (published) {
  MATCH (o:OutboxChange)
  WHERE o.seq > published
  WITH o
  ORDER BY o.seq
  RETURN count(o) AS unpublished, head(collect(o.at)) AS oldest
}
CALL () {
  OPTIONAL MATCH (q:MergeSequence {name: $sequence})
  RETURN coalesce(q.next, 0) AS newest
}
CALL () {
  MATCH (p:SegmentPending)
  RETURN count(p) AS pending
}
RETURN newest, published, unpublished, oldest, c.destination AS destination,
       c.holder AS holder, coalesce(c.expires, 0) - timestamp() AS left_ms, pending
"""
