// V0002: what the grown IdentityStore port stores beyond V0001: bans, splits, the audit
// log, the review queue, the suppression list, search terms, matching records and models
// (graph_schema/model.md explains them). Each statement is idempotent; statements are
// separated by semicolons.

// Steward bans: one node per banned pair (a < b). A ban names keys, not nodes, so it
// outlives nothing: an erasure deletes the bans naming its identifiers.
CREATE CONSTRAINT ban_pair IF NOT EXISTS
FOR (x:Ban) REQUIRE (x.a, x.b) IS UNIQUE;

CREATE INDEX ban_a IF NOT EXISTS
FOR (x:Ban) ON (x.a);

CREATE INDEX ban_b IF NOT EXISTS
FOR (x:Ban) ON (x.b);

// Split history, numbered from the "splits" counter; read per customer.
CREATE CONSTRAINT split_seq IF NOT EXISTS
FOR (x:Split) REQUIRE x.seq IS UNIQUE;

CREATE INDEX split_customer IF NOT EXISTS
FOR (x:Split) ON (x.customer_id);

// The steward audit log, numbered from the "audit" counter, paged newest first by seq.
CREATE CONSTRAINT audit_entry_seq IF NOT EXISTS
FOR (e:AuditEntry) REQUIRE e.seq IS UNIQUE;

// The review queue: one item per pair, numbered from the "reviews" counter, paged by id
// within a status.
CREATE CONSTRAINT review_id IF NOT EXISTS
FOR (r:Review) REQUIRE r.id IS UNIQUE;

CREATE CONSTRAINT review_pair IF NOT EXISTS
FOR (r:Review) REQUIRE (r.a, r.b) IS UNIQUE;

CREATE INDEX review_status IF NOT EXISTS
FOR (r:Review) ON (r.status);

CREATE INDEX review_a IF NOT EXISTS
FOR (r:Review) ON (r.a);

CREATE INDEX review_b IF NOT EXISTS
FOR (r:Review) ON (r.b);

// Erased identifiers, remembered only as salted hashes.
CREATE CONSTRAINT suppressed_hash IF NOT EXISTS
FOR (s:Suppressed) REQUIRE s.hash IS UNIQUE;

// Erased customers: excluded from pages and counts.
CREATE INDEX customer_erased_at IF NOT EXISTS
FOR (c:Customer) ON (c.erased_at);

// Search: (key, term) pairs, found through a Lucene full-text index on the term.
CREATE CONSTRAINT search_term_pair IF NOT EXISTS
FOR (t:SearchTerm) REQUIRE (t.key, t.term) IS UNIQUE;

CREATE INDEX search_term_key IF NOT EXISTS
FOR (t:SearchTerm) ON (t.key);

CREATE FULLTEXT INDEX search_term_text IF NOT EXISTS
FOR (t:SearchTerm) ON EACH [t.term]
OPTIONS {indexConfig: {`fulltext.analyzer`: 'standard-no-stop-words'}};

// Matching: a record's cleaned traits per identifier key, and its filings under blocking
// keys, numbered from the "match_blocks" counter (a bucket is read newest first).
CREATE CONSTRAINT match_record_key IF NOT EXISTS
FOR (r:MatchRecord) REQUIRE r.key IS UNIQUE;

CREATE INDEX match_block_bucket IF NOT EXISTS
FOR (m:MatchBlock) ON (m.block, m.seq);

CREATE INDEX match_block_key IF NOT EXISTS
FOR (m:MatchBlock) ON (m.key);

// Trained models (the matcher), by name.
CREATE CONSTRAINT model_name IF NOT EXISTS
FOR (m:Model) REQUIRE m.name IS UNIQUE
