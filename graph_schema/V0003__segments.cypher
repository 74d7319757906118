// V0003: segments (docs/segments.md): definitions, current memberships, when each customer
// was last checked, and the membership history (graph_schema/model.md explains them).
// Each statement is idempotent; statements are separated by semicolons.

// Definitions, by name.
CREATE CONSTRAINT segment_name IF NOT EXISTS
FOR (s:Segment) REQUIRE s.name IS UNIQUE;

// Current memberships: one node per (segment, customer), paged by customer id within a
// segment; read, replaced and erased per customer.
CREATE CONSTRAINT segment_member_pair IF NOT EXISTS
FOR (m:SegmentMember) REQUIRE (m.segment, m.customer_id) IS UNIQUE;

CREATE INDEX segment_member_customer IF NOT EXISTS
FOR (m:SegmentMember) ON (m.customer_id);

// When each customer was last brought up to date, and when a time window could next
// change an answer. The node is also the lock a save of the customer's state takes.
CREATE CONSTRAINT segment_check_customer IF NOT EXISTS
FOR (s:SegmentCheck) REQUIRE s.customer_id IS UNIQUE;

CREATE INDEX segment_check_next IF NOT EXISTS
FOR (s:SegmentCheck) ON (s.next_check);

// Membership history, numbered from the "segment_changes" counter; read per customer,
// newest first by (at, seq).
CREATE CONSTRAINT segment_change_seq IF NOT EXISTS
FOR (c:SegmentChange) REQUIRE c.seq IS UNIQUE;

CREATE INDEX segment_change_customer IF NOT EXISTS
FOR (c:SegmentChange) ON (c.customer_id)
