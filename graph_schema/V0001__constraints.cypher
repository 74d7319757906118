// V0001: the identity graph's constraints and indexes (graph_schema/model.md explains them).
// Each statement is idempotent; statements are separated by semicolons.

// Unique keys: every MATCH/MERGE of an Identifier, Customer or Event goes through one of
// these, and the constraint is what makes a concurrent MERGE of one key wait instead of
// creating a duplicate.
CREATE CONSTRAINT identifier_key IF NOT EXISTS
FOR (i:Identifier) REQUIRE i.key IS UNIQUE;

CREATE CONSTRAINT customer_id IF NOT EXISTS
FOR (c:Customer) REQUIRE c.id IS UNIQUE;

CREATE CONSTRAINT event_id IF NOT EXISTS
FOR (e:Event) REQUIRE e.event_id IS UNIQUE;

// The counter that numbers merges (one node, created on first use by MERGE).
CREATE CONSTRAINT merge_sequence_name IF NOT EXISTS
FOR (q:MergeSequence) REQUIRE q.name IS UNIQUE;

// Redirects and path compression: customers merged into a given customer.
CREATE INDEX customer_merged_into IF NOT EXISTS
FOR (c:Customer) ON (c.merged_into);

// Time-ordered event access (timeline ranges, retention, exports).
CREATE INDEX event_ts IF NOT EXISTS
FOR (e:Event) ON (e.ts);

// Identifier look-ups by type (per-type counts and exports, steward screens).
CREATE INDEX identifier_type IF NOT EXISTS
FOR (i:Identifier) ON (i.type);

// Merge history in commit order.
CREATE INDEX merged_into_seq IF NOT EXISTS
FOR ()-[m:MERGED_INTO]-() ON (m.seq)
