"""The SQLite schema as ordered, append-only migrations (the Neo4j twin is graph_schema/)."""

MIGRATIONS: list[tuple[str, str]] = [
    (
        "V0001__identity_graph",
        """
        CREATE TABLE customers (
            id TEXT PRIMARY KEY,
            first_seen TEXT NOT NULL,
            merged_into TEXT REFERENCES customers (id),
            erased_at TEXT
        );
        CREATE INDEX customers_merged_into ON customers (merged_into);
        CREATE TABLE identifiers (
            key TEXT PRIMARY KEY,
            type TEXT NOT NULL,
            value TEXT NOT NULL,
            first_seen TEXT NOT NULL,
            last_seen TEXT NOT NULL,
            sources TEXT NOT NULL DEFAULT '[]',
            status TEXT NOT NULL DEFAULT 'active',
            reason TEXT NOT NULL DEFAULT '',
            customer_id TEXT REFERENCES customers (id)
        );
        CREATE INDEX identifiers_customer ON identifiers (customer_id);
        CREATE TABLE links (
            a TEXT NOT NULL REFERENCES identifiers (key),
            b TEXT NOT NULL REFERENCES identifiers (key),
            count INTEGER NOT NULL,
            first_seen TEXT NOT NULL,
            last_seen TEXT NOT NULL,
            sources TEXT NOT NULL,
            event_ids TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'active',
            reason TEXT NOT NULL DEFAULT '',
            match TEXT,
            PRIMARY KEY (a, b)
        ) WITHOUT ROWID;
        CREATE INDEX links_b ON links (b);
        CREATE TABLE bans (
            a TEXT NOT NULL,
            b TEXT NOT NULL,
            PRIMARY KEY (a, b)
        ) WITHOUT ROWID;
        CREATE INDEX bans_b ON bans (b);
        CREATE TABLE splits (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            customer_id TEXT NOT NULL REFERENCES customers (id),
            parts TEXT NOT NULL,
            at TEXT NOT NULL,
            reason TEXT NOT NULL
        );
        CREATE INDEX splits_customer ON splits (customer_id);
        CREATE TABLE audit (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            target TEXT NOT NULL,
            reason TEXT NOT NULL,
            at TEXT NOT NULL,
            details TEXT NOT NULL,
            undo TEXT NOT NULL,
            undone_by INTEGER
        );
        CREATE TABLE events (
            event_id TEXT PRIMARY KEY,
            type TEXT NOT NULL,
            ts TEXT NOT NULL,
            source TEXT NOT NULL,
            body TEXT NOT NULL,
            -- 1 when the event carries traits or consent: it feeds the profile
            profile INTEGER NOT NULL DEFAULT 0
        );
        CREATE TABLE observations (
            key TEXT NOT NULL,
            ts TEXT NOT NULL,
            event_id TEXT NOT NULL REFERENCES events (event_id),
            PRIMARY KEY (key, ts, event_id)
        ) WITHOUT ROWID;
        CREATE INDEX observations_event ON observations (event_id);
        CREATE TABLE merges (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            absorbed TEXT NOT NULL REFERENCES customers (id),
            survivor TEXT NOT NULL REFERENCES customers (id),
            at TEXT NOT NULL,
            event_id TEXT NOT NULL,
            reason TEXT NOT NULL
        );
        CREATE INDEX merges_survivor ON merges (survivor);
        CREATE TABLE reviews (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            a TEXT NOT NULL,
            b TEXT NOT NULL,
            score REAL NOT NULL,
            weights TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'open',
            created_at TEXT NOT NULL,
            resolved_by TEXT,
            resolved_at TEXT,
            UNIQUE (a, b)
        );
        CREATE INDEX reviews_open ON reviews (status, id);
        CREATE TABLE match_records (
            key TEXT PRIMARY KEY,
            traits TEXT NOT NULL
        ) WITHOUT ROWID;
        CREATE TABLE match_blocks (
            id INTEGER PRIMARY KEY,
            block TEXT NOT NULL,
            key TEXT NOT NULL
        );
        CREATE INDEX match_blocks_block ON match_blocks (block, id);
        CREATE INDEX match_blocks_key ON match_blocks (key);
        CREATE TABLE models (
            name TEXT PRIMARY KEY,
            body TEXT NOT NULL,
            trained_at TEXT NOT NULL
        );
        CREATE TABLE suppressed (hash TEXT PRIMARY KEY, at TEXT NOT NULL) WITHOUT ROWID;
        CREATE TABLE search_terms (
            id INTEGER PRIMARY KEY,
            key TEXT NOT NULL,
            term TEXT NOT NULL,
            UNIQUE (key, term)
        );
        CREATE VIRTUAL TABLE search_fts USING fts5 (
            term, content = 'search_terms', content_rowid = 'id', tokenize = 'trigram'
        );
        CREATE TRIGGER search_terms_ai AFTER INSERT ON search_terms BEGIN
            INSERT INTO search_fts (rowid, term) VALUES (new.id, new.term);
        END;
        CREATE TRIGGER search_terms_ad AFTER DELETE ON search_terms BEGIN
            INSERT INTO search_fts (search_fts, rowid, term) VALUES ('delete', old.id, old.term);
        END
        """,
    ),
    (
        "V0002__segments",
        """
        CREATE TABLE segments (
            name TEXT PRIMARY KEY,
            text TEXT NOT NULL,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE TABLE segment_members (
            segment TEXT NOT NULL,
            customer_id TEXT NOT NULL,
            since TEXT NOT NULL,
            why TEXT NOT NULL,
            PRIMARY KEY (segment, customer_id)
        ) WITHOUT ROWID;
        CREATE INDEX segment_members_customer ON segment_members (customer_id);
        CREATE TABLE segment_checks (
            customer_id TEXT PRIMARY KEY,
            checked_at TEXT,
            next_check TEXT
        ) WITHOUT ROWID;
        CREATE INDEX segment_checks_next ON segment_checks (next_check);
        CREATE TABLE segment_history (
            seq INTEGER PRIMARY KEY,
            customer_id TEXT NOT NULL,
            segment TEXT NOT NULL,
            change TEXT NOT NULL,
            at TEXT NOT NULL,
            why TEXT NOT NULL
        );
        CREATE INDEX segment_history_customer ON segment_history (customer_id, at);
        """,
    ),
    (
        # The store indexes a batch's new search terms with one statement: through a
        # trigger per row, each new term cost several times as much.
        "V0003__search_terms_indexed_per_batch",
        "DROP TRIGGER search_terms_ai",
    ),
    (
        # Ids and merge history follow event time (app/domain/history.py): each identifier
        # and link keeps the event of its first sighting, each customer its anchor (first
        # seen, event, key) and the moment its history was replayed to. Stores written
        # before are given them from what they hold.
        "V0004__event_time_identity",
        """
        ALTER TABLE customers ADD COLUMN first_event TEXT NOT NULL DEFAULT '';
        ALTER TABLE customers ADD COLUMN first_key TEXT NOT NULL DEFAULT '';
        ALTER TABLE customers ADD COLUMN settled TEXT NOT NULL DEFAULT '';
        ALTER TABLE identifiers ADD COLUMN first_event TEXT NOT NULL DEFAULT '';
        ALTER TABLE links ADD COLUMN first_event TEXT NOT NULL DEFAULT '';
        CREATE TABLE renames (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            old_id TEXT NOT NULL,
            new_id TEXT NOT NULL,
            at TEXT NOT NULL,
            event_id TEXT NOT NULL,
            reason TEXT NOT NULL
        );
        CREATE INDEX renames_new ON renames (new_id);
        UPDATE identifiers SET first_event = coalesce((
            SELECT o.event_id FROM observations o WHERE o.key = identifiers.key
            ORDER BY o.ts, o.event_id LIMIT 1), '');
        UPDATE links SET first_event = coalesce((
            SELECT e.event_id FROM json_each(links.event_ids) j
            JOIN events e ON e.event_id = j.value ORDER BY e.ts, e.event_id LIMIT 1), '');
        UPDATE customers SET (first_seen, first_event, first_key) = (
            SELECT i.first_seen, i.first_event, i.key FROM identifiers i
            WHERE i.customer_id = customers.id
            ORDER BY i.first_seen, i.first_event, i.key LIMIT 1)
        WHERE EXISTS (SELECT 1 FROM identifiers i WHERE i.customer_id = customers.id);
        UPDATE customers SET settled = max(
            coalesce((SELECT max(i.first_seen || '|' || i.first_event) FROM identifiers i
                      WHERE i.customer_id = customers.id), ''),
            coalesce((SELECT max(l.first_seen || '|' || l.first_event)
                      FROM identifiers i JOIN links l ON l.a = i.key
                      WHERE i.customer_id = customers.id AND l.status = 'active'), ''))
        WHERE merged_into IS NULL;
        """,
    ),
    (
        # Change events written with the write that made them, published from here
        # (app/stores/outbox.py); the publisher's cursor and lease; and the customers
        # whose segment memberships a write left to re-evaluate (app/domain/checks.py).
        # AUTOINCREMENT: a seq is never used twice, even once the published rows are gone.
        "V0005__outbox",
        """
        CREATE TABLE outbox (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            change_id TEXT NOT NULL,
            customer_id TEXT NOT NULL,
            at TEXT NOT NULL,
            body TEXT NOT NULL
        );
        CREATE TABLE outbox_cursor (
            name TEXT PRIMARY KEY,
            destination TEXT NOT NULL,
            published INTEGER NOT NULL DEFAULT 0,
            holder TEXT,
            expires REAL NOT NULL DEFAULT 0
        );
        CREATE TABLE segment_pending (
            customer_id TEXT PRIMARY KEY,
            at TEXT NOT NULL,
            since TEXT NOT NULL,
            survivor TEXT,
            split INTEGER NOT NULL DEFAULT 0
        ) WITHOUT ROWID;
        CREATE INDEX segment_pending_since ON segment_pending (since);
        """,
    ),
    (
        # Events read back in event time (as-of queries, replay: app/stores/ports/history.py).
        "V0006__events_by_time",
        "CREATE INDEX events_ts ON events (ts, event_id)",
    ),
    (
        # What each rebuild (app/stores/bulk.py) covered: its inputs and the Kafka offsets
        # they reach, which `idgraph consume` starts from.
        "V0007__rebuilds",
        """
        CREATE TABLE rebuilds (
            id TEXT PRIMARY KEY,
            started_at TEXT NOT NULL,
            finished_at TEXT NOT NULL,
            inputs TEXT NOT NULL,
            positions TEXT NOT NULL,
            summary TEXT NOT NULL
        );
        """,
    ),
    (
        # The profile read model (app/stores/readmodel.py): one document per customer,
        # rewritten by every write; a customer without one is read from the graph.
        "V0008__profile_documents",
        """
        CREATE TABLE profile_documents (
            customer_id TEXT PRIMARY KEY,
            body TEXT NOT NULL
        ) WITHOUT ROWID;
        """,
    ),
    (
        # The segment inputs the writes behind a pending check touched (app/domain/checks.py),
        # NULL: any; streaming evaluation evaluates only the segments reading them.
        "V0009__segment_pending_inputs",
        "ALTER TABLE segment_pending ADD COLUMN inputs TEXT",
    ),
]
