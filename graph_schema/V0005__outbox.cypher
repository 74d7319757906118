// V0005: the outbox (app/stores/outbox.py): change events written with the write that
// made them, the publisher's cursor, and the customers whose segment memberships a write
// left to re-evaluate (graph_schema/model.md explains them).
// Each statement is idempotent; statements are separated by semicolons.

// Change events, numbered in commit order from the "outbox" counter; read and deleted by
// ranges of seq.
CREATE CONSTRAINT outbox_change_seq IF NOT EXISTS
FOR (o:OutboxChange) REQUIRE o.seq IS UNIQUE;

// The publisher's cursor and lease, by name (one: "changes").
CREATE CONSTRAINT outbox_cursor_name IF NOT EXISTS
FOR (c:OutboxCursor) REQUIRE c.name IS UNIQUE;

// One pending check per customer; the oldest are found by `since`.
CREATE CONSTRAINT segment_pending_customer IF NOT EXISTS
FOR (p:SegmentPending) REQUIRE p.customer_id IS UNIQUE;

CREATE INDEX segment_pending_since IF NOT EXISTS
FOR (p:SegmentPending) ON (p.since)
