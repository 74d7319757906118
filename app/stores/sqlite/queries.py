"""Every SQL statement of the SQLite store (app/stores/sqlite/store.py), as the Neo4j
adapter keeps its Cypher in one module. The segment and outbox halves keep theirs beside
them (segments.py, outbox.py). A statement with `{marks}` takes one chunk of parameters
(app/stores/sqlite/chunks.py): format it with `marks(len(chunk))`."""

from __future__ import annotations

from app.domain.resolution import SAMPLE_EVENT_IDS

IDENTIFIER_COLUMNS = "type, value, customer_id, first_seen, last_seen, sources, status, reason"
LINK_COLUMNS = "a, b, count, first_seen, last_seen, sources, event_ids, status, reason, match"
AUDIT_COLUMNS = "seq, actor, action, target, reason, at, details, undo, undone_by"
REVIEW_COLUMNS = "id, a, b, score, weights, status, created_at"
CUSTOMER_COLUMNS = "c.id, c.first_seen, c.first_event, c.first_key, c.settled"
STORED_IDENTIFIER_COLUMNS = "key, status, customer_id, first_seen, first_event"

# -- migrations -------------------------------------------------------------------------
CREATE_MIGRATIONS = ("CREATE TABLE IF NOT EXISTS schema_migrations "
                     "(version TEXT PRIMARY KEY, applied_at TEXT)")
APPLIED_MIGRATIONS = "SELECT version FROM schema_migrations"
RECORD_MIGRATION = "INSERT INTO schema_migrations VALUES (?, datetime('now'))"
SUPPRESSION_HASHES = "SELECT hash FROM suppressed"
UPGRADE_SUPPRESSION = "UPDATE suppressed SET hash = ? WHERE hash = ?"
PING = "SELECT 1"

# -- the snapshot -----------------------------------------------------------------------
CREATE_BATCH_KEYS = "CREATE TEMP TABLE IF NOT EXISTS batch_keys (key TEXT PRIMARY KEY)"
CLEAR_BATCH_KEYS = "DELETE FROM batch_keys"
ADD_BATCH_KEY = "INSERT OR IGNORE INTO batch_keys VALUES (?)"
SEEN_EVENTS = "SELECT event_id FROM events WHERE event_id IN ({marks})"
BATCH_OWNERS = (
    f"SELECT i.key, i.status, i.reason, {CUSTOMER_COLUMNS} FROM batch_keys k "
    "JOIN identifiers i ON i.key = k.key LEFT JOIN customers c ON c.id = i.customer_id"
)
# {types}: the marks of the limited types
TYPE_COUNTS = (
    "SELECT customer_id, type, count(*) FROM identifiers "
    "WHERE customer_id IN ({marks}) "
    "AND type IN ({types}) GROUP BY 1, 2"
)
# IN, not a join on batch_keys: with the join the planner scanned every link. {types}: the
# marks of the hub types.
DEGREES = """SELECT key, count(*) FROM (
                SELECT a AS key, b AS other FROM links
                WHERE a IN (SELECT key FROM batch_keys)
                UNION ALL
                SELECT b, a FROM links WHERE b IN (SELECT key FROM batch_keys))
            WHERE substr(other, 1, instr(other, ':') - 1)
                  IN ({types})
            GROUP BY key"""
BATCH_LINK_STATUSES = (
    "SELECT l.a, l.b, l.status FROM batch_keys k JOIN links l ON l.a = k.key "
    "WHERE l.b IN (SELECT key FROM batch_keys)"
)
SUPPRESSED = "SELECT hash, at FROM suppressed WHERE hash IN ({marks})"
BATCH_BANS = (
    "SELECT a, b FROM bans WHERE a IN (SELECT key FROM batch_keys) "
    "OR b IN (SELECT key FROM batch_keys)"
)
OWNER_BANS = (
    "SELECT x.a, x.b FROM identifiers i JOIN bans x ON x.a = i.key OR x.b = i.key "
    "WHERE i.customer_id IN ({marks})"
)
# One small query per key, down the (block, id) index: its cost is the bucket limit, not
# the bucket's size. A single ranked query over all the keys had the planner scan the
# whole index.
MATCH_BUCKET = "SELECT key FROM match_blocks WHERE block = ? ORDER BY id DESC LIMIT ?"
MATCH_TRAITS = "SELECT key, traits FROM match_records WHERE key IN ({marks})"
MATCH_OWNERS = (
    f"SELECT i.key, {CUSTOMER_COLUMNS} FROM identifiers i "
    "JOIN customers c ON c.id = i.customer_id WHERE i.key IN ({marks})"
)

# -- components -------------------------------------------------------------------------
COMPONENT_CUSTOMERS = f"SELECT {CUSTOMER_COLUMNS} FROM customers c WHERE c.id IN ({{marks}})"
# {column}: key or customer_id
STORED_IDENTIFIERS = (
    f"SELECT {STORED_IDENTIFIER_COLUMNS} FROM identifiers WHERE {{column}} IN ({{marks}})"
)
BATCH_LINKS = """SELECT l.a, l.b, l.first_seen, l.sources, l.status, l.reason, l.first_event
   FROM links l
   WHERE l.a IN (SELECT key FROM batch_keys) OR l.b IN (SELECT key FROM batch_keys)"""

# -- applying a plan, in this order ------------------------------------------------------
RESET_HISTORY = (
    "DELETE FROM merges WHERE survivor IN (SELECT id FROM customers "
    "WHERE coalesce(merged_into, id) IN ({marks}))"
)
# A new customer may bear an id that redirects elsewhere (a part that split off and joined
# again): it is live again.
CREATE_CUSTOMER = (
    "INSERT INTO customers (id, first_seen, first_event, first_key, settled) "
    "VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET merged_into = NULL, "
    "first_seen = excluded.first_seen, first_event = excluded.first_event, "
    "first_key = excluded.first_key, settled = excluded.settled"
)
MOVE_ABSORBED = "UPDATE identifiers SET customer_id = ? WHERE customer_id = ?"
REDIRECT_ABSORBED = "UPDATE customers SET merged_into = ? WHERE id = ? OR merged_into = ?"
RECORD_RENAME = "INSERT INTO renames (old_id, new_id, at, event_id, reason) VALUES (?,?,?,?,?)"
UPDATE_CUSTOMER = (
    "UPDATE customers SET first_seen = ?, first_event = ?, first_key = ?, settled = ? "
    "WHERE id = ?"
)
HISTORY_REDIRECT = (
    "INSERT INTO customers (id, merged_into, first_seen) VALUES (?, ?, ?) "
    "ON CONFLICT (id) DO UPDATE SET merged_into = excluded.merged_into "
    "WHERE customers.merged_into IS NOT NULL"
)
RECORD_MERGE = "INSERT INTO merges (absorbed, survivor, at, event_id, reason) VALUES (?,?,?,?,?)"
RECORD_SPLIT = "INSERT INTO splits (customer_id, parts, at, reason) VALUES (?, ?, ?, ?)"
UPSERT_IDENTIFIER = """INSERT INTO identifiers
     (key, type, value, first_seen, last_seen, sources, customer_id, status, reason,
      first_event)
   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
   ON CONFLICT (key) DO UPDATE SET
     first_event = CASE WHEN (excluded.first_seen, excluded.first_event)
                             < (first_seen, first_event)
                        THEN excluded.first_event ELSE first_event END,
     first_seen = min(first_seen, excluded.first_seen),
     last_seen = max(last_seen, excluded.last_seen),
     sources = CASE WHEN excluded.sources = identifiers.sources
                    THEN identifiers.sources
                    ELSE (SELECT json_group_array(value) FROM (
                        SELECT value FROM json_each(identifiers.sources)
                        UNION SELECT value FROM json_each(excluded.sources)))
               END"""
MOVE_IDENTIFIER = "UPDATE identifiers SET customer_id = ? WHERE key = ?"
SET_IDENTIFIER_STATUS = "UPDATE identifiers SET status = ?, reason = ? WHERE key = ?"
UPSERT_LINK = f"""INSERT INTO links (a, b, count, first_seen, last_seen, sources, event_ids,
                      status, reason, match, first_event)
   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
   ON CONFLICT (a, b) DO UPDATE SET
     count = count + excluded.count,
     first_event = CASE WHEN (excluded.first_seen, excluded.first_event)
                             < (first_seen, first_event)
                        THEN excluded.first_event ELSE first_event END,
     first_seen = min(first_seen, excluded.first_seen),
     last_seen = max(last_seen, excluded.last_seen),
     sources = CASE WHEN excluded.sources = links.sources THEN links.sources
               ELSE (SELECT json_group_array(value) FROM (
                   SELECT value FROM json_each(links.sources)
                   UNION SELECT value FROM json_each(excluded.sources)))
               END,
     event_ids = CASE WHEN json_array_length(links.event_ids) >= {SAMPLE_EVENT_IDS}
                 THEN links.event_ids
                 ELSE (SELECT json_group_array(value) FROM (
                     SELECT value FROM json_each(links.event_ids)
                     UNION ALL SELECT value FROM json_each(excluded.event_ids)
                     LIMIT {SAMPLE_EVENT_IDS}))
                 END,
     status = CASE WHEN links.status = 'banned' THEN 'banned' ELSE excluded.status END,
     reason = CASE WHEN links.status = 'banned' THEN links.reason
                   ELSE excluded.reason END,
     match = coalesce(excluded.match, links.match)"""
SET_LINK_STATUS = "UPDATE links SET status = ?, reason = ? WHERE a = ? AND b = ?"
ADD_BAN = "INSERT OR IGNORE INTO bans (a, b) VALUES (?, ?)"
SAVE_MATCH_RECORD = "INSERT OR REPLACE INTO match_records (key, traits) VALUES (?, ?)"
FILE_MATCH_BLOCK = "INSERT INTO match_blocks (block, key) VALUES (?, ?)"
REMOVE_BAN = "DELETE FROM bans WHERE a = ? AND b = ?"
APPEND_AUDIT = (
    "INSERT INTO audit (actor, action, target, reason, at, details, undo) "
    "VALUES (?, ?, ?, ?, ?, ?, ?)"
)
MARK_UNDONE = "UPDATE audit SET undone_by = ? WHERE seq = ?"
INSERT_EVENT = (
    "INSERT INTO events (event_id, type, ts, source, body, profile) VALUES (?,?,?,?,?,?)"
)
LAST_SEARCH_TERM = "SELECT coalesce(max(id), 0) FROM search_terms"
ADD_SEARCH_TERM = "INSERT OR IGNORE INTO search_terms (key, term) VALUES (?, ?)"
INDEX_SEARCH_TERMS = (
    "INSERT INTO search_fts (rowid, term) SELECT id, term FROM search_terms WHERE id > ?"
)
UNSUPPRESS = "DELETE FROM suppressed WHERE hash = ?"
QUEUE_REVIEW = (
    "INSERT OR IGNORE INTO reviews (a, b, score, weights, created_at) VALUES (?,?,?,?,?)"
)
RESOLVE_REVIEW = "UPDATE reviews SET status = ?, resolved_by = ? WHERE id = ?"
OBSERVE = "INSERT INTO observations (key, ts, event_id) VALUES (?, ?, ?)"

# -- erasure (the erased keys are in batch_keys) ------------------------------------------
IN_KEYS = "IN (SELECT key FROM batch_keys)"
ERASED_EVENTS = f"SELECT DISTINCT event_id FROM observations WHERE key {IN_KEYS}"
DELETE_OBSERVATIONS = "DELETE FROM observations WHERE event_id IN ({marks})"
DELETE_EVENTS = "DELETE FROM events WHERE event_id IN ({marks})"
DELETE_LINKS = f"DELETE FROM links WHERE a {IN_KEYS} OR b {IN_KEYS}"
DELETE_BANS = f"DELETE FROM bans WHERE a {IN_KEYS} OR b {IN_KEYS}"
DELETE_SEARCH_TERMS = f"DELETE FROM search_terms WHERE key {IN_KEYS}"
DELETE_MATCH_BLOCKS = f"DELETE FROM match_blocks WHERE key {IN_KEYS}"
DELETE_MATCH_RECORDS = f"DELETE FROM match_records WHERE key {IN_KEYS}"
DELETE_REVIEWS = f"DELETE FROM reviews WHERE a {IN_KEYS} OR b {IN_KEYS}"
DELETE_IDENTIFIERS = f"DELETE FROM identifiers WHERE key {IN_KEYS}"
MARK_ERASED = "UPDATE customers SET erased_at = ? WHERE id = ?"
# A customer's anchor names one of its identifiers (and those it absorbed, theirs); its
# merge history names its events.
FORGET_ANCHORS = (
    "UPDATE customers SET first_key = '', first_event = '', settled = '' "
    "WHERE id = ? OR merged_into = ?"
)
FORGET_MERGES = (
    "DELETE FROM merges WHERE survivor IN (SELECT id FROM customers "
    "WHERE coalesce(merged_into, id) = ?)"
)
FORGET_RENAMES = (
    "DELETE FROM renames WHERE new_id IN (SELECT id FROM customers "
    "WHERE coalesce(merged_into, id) = ?)"
)
SUPPRESS = "INSERT OR IGNORE INTO suppressed VALUES (?, ?)"
# {table}, {column}, {scrub}: from SCRUBBED_COLUMNS
SCRUB = "UPDATE {table} SET {column} = {scrub}({column}) WHERE erased_mention({column})"
# Rewrite the search index, so that no segment still holds the erased terms.
DROP_ERASED_DOCUMENTS = ("DELETE FROM profile_documents WHERE erased_mention(body) "
                         "RETURNING customer_id")
OPTIMIZE_SEARCH = "INSERT INTO search_fts (search_fts) VALUES ('optimize')"
VACUUM = "VACUUM"
# Free text that outlives an erasure, and how each column is scrubbed.
SCRUBBED_COLUMNS = [
    ("merges", "reason", "erased_text"),
    ("splits", "reason", "erased_text"),
    ("links", "reason", "erased_text"),
    ("identifiers", "reason", "erased_text"),
    ("audit", "target", "erased_text"),
    ("audit", "reason", "erased_text"),
    ("audit", "details", "erased_json"),
    ("audit", "undo", "erased_json"),
]

# -- reads ------------------------------------------------------------------------------
CURRENT_IDS = (
    "SELECT c.id, t.id FROM customers c "
    "JOIN customers t ON t.id = coalesce(c.merged_into, c.id) "
    "WHERE c.id IN ({marks}) AND t.erased_at IS NULL"
)
OWNERS = "SELECT key, customer_id FROM identifiers WHERE key IN ({marks})"
IDENTIFIERS = f"SELECT {IDENTIFIER_COLUMNS} FROM identifiers WHERE key IN ({{marks}})"
IDENTIFIERS_OF = (
    f"SELECT {IDENTIFIER_COLUMNS} FROM identifiers "
    "WHERE customer_id IN ({marks}) ORDER BY type, value"
)
TIMELINE = """SELECT e.event_id, e.type, e.ts, e.source, e.body,
          (SELECT group_concat(o2.key, char(31)) FROM observations o2
           WHERE o2.event_id = e.event_id)
   FROM events e WHERE e.event_id IN (
       SELECT o.event_id FROM identifiers i JOIN observations o ON o.key = i.key
       WHERE i.customer_id = ? AND (o.ts < ? OR (o.ts = ? AND o.event_id < ?)))
   ORDER BY e.ts DESC, e.event_id DESC LIMIT ?"""
EVENTS = """SELECT e.event_id, e.type, e.ts, e.source, e.body,
          (SELECT group_concat(o2.key, char(31)) FROM observations o2
           WHERE o2.event_id = e.event_id)
   FROM events e WHERE e.event_id IN ({marks})"""
# {type_filter}: TYPE_FILTER with the marks of the types, or nothing
TIMELINES = """WITH own AS (
        SELECT DISTINCT i.customer_id AS cid, o.event_id, o.ts
        FROM identifiers i JOIN observations o ON o.key = i.key
        WHERE i.customer_id IN ({marks})
          AND (o.ts < ? OR (o.ts = ? AND o.event_id < ?)) AND o.ts >= ?),
    ranked AS (
        SELECT own.cid, own.event_id, row_number() OVER (
            PARTITION BY own.cid ORDER BY own.ts DESC, own.event_id DESC) AS n
        FROM own JOIN events e ON e.event_id = own.event_id {type_filter})
    SELECT r.cid, e.event_id, e.type, e.ts, e.source, e.body,
           (SELECT group_concat(o2.key, char(31)) FROM observations o2
            WHERE o2.event_id = e.event_id)
    FROM ranked r JOIN events e ON e.event_id = r.event_id
    WHERE r.n <= ? ORDER BY r.cid, e.ts DESC, e.event_id DESC"""
TYPE_FILTER = "WHERE e.type IN ({types})"
# TIMELINES' selection, counted: since <= ts < until, {type_filter} as there
TIMELINE_COUNTS = """SELECT own.cid, count(*) FROM (
        SELECT DISTINCT i.customer_id AS cid, o.event_id
        FROM identifiers i JOIN observations o ON o.key = i.key
        WHERE i.customer_id IN ({marks}) AND o.ts >= ? AND o.ts < ?) own
    JOIN events e ON e.event_id = own.event_id {type_filter}
    GROUP BY own.cid"""
LINKS_OF = f"""SELECT {LINK_COLUMNS}
   FROM links WHERE a IN (SELECT key FROM identifiers WHERE customer_id = ?1)
                 OR b IN (SELECT key FROM identifiers WHERE customer_id = ?1)
   ORDER BY a, b"""
LINKS_TOUCHING = f"SELECT {LINK_COLUMNS} FROM links WHERE a IN ({{marks}}) OR b IN ({{marks}})"
LINKS_WITH_STATUS = "SELECT a, b, reason FROM links WHERE status = ? ORDER BY a, b"
AUDIT_LOG = f"SELECT {AUDIT_COLUMNS} FROM audit WHERE seq < ? ORDER BY seq DESC LIMIT ?"
AUDIT_COUNT = "SELECT count(*) FROM audit"
AUDIT_ENTRY = f"SELECT {AUDIT_COLUMNS} FROM audit WHERE seq = ?"
SPLITS_OF = (
    "SELECT coalesce(c.merged_into, c.id), s.customer_id, s.parts, s.at, s.reason "
    "FROM splits s JOIN customers c ON c.id = s.customer_id "
    "WHERE coalesce(c.merged_into, c.id) IN ({marks}) ORDER BY s.seq"
)
MERGES_INTO = (
    "SELECT coalesce(c.merged_into, c.id), m.absorbed, m.survivor, m.at, "
    "m.event_id, m.reason FROM merges m JOIN customers c ON c.id = m.survivor "
    "WHERE coalesce(c.merged_into, c.id) IN ({marks}) "
    "ORDER BY m.at, m.event_id, m.seq"
)
CUSTOMER_PAGE = (
    "SELECT id FROM customers WHERE merged_into IS NULL AND erased_at IS NULL AND id > ? "
    "ORDER BY id LIMIT ?"
)
COUNT_CUSTOMERS = (
    "SELECT count(*) FROM customers WHERE merged_into IS NULL AND erased_at IS NULL"
)
COUNT_IDENTIFIERS = "SELECT count(*) FROM identifiers"
COUNT_LINKS = "SELECT count(*) FROM links"
COUNT_EVENTS = "SELECT count(*) FROM events"
PROFILE_OBSERVATIONS = """SELECT DISTINCT i.customer_id, e.event_id, e.ts, e.source, e.body
    FROM identifiers i JOIN observations o ON o.key = i.key
    JOIN events e ON e.event_id = o.event_id
    WHERE i.customer_id IN ({marks}) AND e.profile = 1"""
SEARCH = """SELECT s.key, i.customer_id, s.term FROM search_fts f
   JOIN search_terms s ON s.id = f.rowid
   JOIN identifiers i ON i.key = s.key
   WHERE search_fts MATCH ? AND i.customer_id IS NOT NULL
   ORDER BY f.rank LIMIT ?"""
REVIEWS = f"SELECT {REVIEW_COLUMNS} FROM reviews WHERE status = ? AND id > ? ORDER BY id LIMIT ?"
REVIEW_COUNT = "SELECT count(*) FROM reviews WHERE status = ?"
REVIEW = f"SELECT {REVIEW_COLUMNS} FROM reviews WHERE id = ?"
LOAD_MODEL = "SELECT body FROM models WHERE name = ?"
SAVE_MODEL = "INSERT OR REPLACE INTO models (name, body, trained_at) VALUES (?, ?, ?)"
MEMBERSHIP_OWNERS = "SELECT key, customer_id FROM identifiers"
ACTIVE_LINKS = "SELECT a, b FROM links WHERE status = 'active'"
