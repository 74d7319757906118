"""The embedded store: one SQLite file in WAL mode, zero set-up.

Calls are synchronous under an async interface: SQLite answers these indexed queries in
microseconds, so a thread hop per call would cost more than it saves. Writers take the
file's write lock at the start of `transact` (BEGIN IMMEDIATE), so several processes can
load one file without losing a merge.

The write-ahead log is copied back into the database file by a background thread (see
`_Checkpointer`), not by whichever COMMIT happens to cross SQLite's threshold: that
copy took ~19 ms, one commit in 25.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sqlite3
import threading
import time
from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from pathlib import Path
from typing import Any

import orjson

from app.domain.matching.blocking import BUCKET_LIMIT
from app.domain.matching.stream import needed_candidates
from app.domain.personal import Spellings
from app.domain.plan import (
    ACTIVE,
    Component,
    CustomerInfo,
    Erasure,
    Gather,
    Plan,
    Snapshot,
    StoredIdentifier,
    StoredLink,
)
from app.domain.privacy import ERASED_MARK, SuppressionKey, upgrades
from app.domain.profile import Observation
from app.domain.resolution import SAMPLE_EVENT_IDS
from app.stores.base import (
    AuditRecord,
    Cursor,
    Decide,
    EventRecord,
    IdentifierRecord,
    IdentityStore,
    LinkRecord,
    MergeRecord,
    ReviewRecord,
    SplitRecord,
    StoreStats,
    StoreUnavailable,
    decide_with_components,
    event_body,
    event_record,
)
from app.stores.keys import resolve_key
from app.stores.sqlite.history import SQLiteHistory
from app.stores.sqlite.outbox import SQLiteOutbox
from app.stores.sqlite.schema import MIGRATIONS
from app.stores.sqlite.segments import SQLiteSegments, _chunks, _marks


def _statements(script: str) -> Iterable[str]:
    """Split a script into statements; a trigger's body holds semicolons of its own."""
    statement = ""
    for piece in script.split(";"):
        statement += piece + ";"
        if sqlite3.complete_statement(statement):
            if statement.strip("; \n"):
                yield statement
            statement = ""
    if statement.strip("; \n"):
        yield statement


_IDENTIFIER_COLUMNS = "type, value, customer_id, first_seen, last_seen, sources, status, reason"


_LINK_COLUMNS = "a, b, count, first_seen, last_seen, sources, event_ids, status, reason, match"
_AUDIT_COLUMNS = "seq, actor, action, target, reason, at, details, undo, undone_by"


def _link(row: Sequence[Any]) -> LinkRecord:
    a, b, n, first, last, sources, event_ids, status, reason, match = row
    return LinkRecord(
        a,
        b,
        n,
        first,
        last,
        tuple(json.loads(sources)),
        tuple(json.loads(event_ids)),
        status,
        reason,
        json.loads(match) if match else None,
    )


def _audit(row: Sequence[Any]) -> AuditRecord:
    seq, actor, action, target, reason, at, details, undo, undone_by = row
    return AuditRecord(
        seq, actor, action, target, reason, at, json.loads(details), json.loads(undo), undone_by
    )


# The background checkpointer runs this often; a pass with nothing to copy costs microseconds.
CHECKPOINT_INTERVAL = 0.05  # seconds
# Commits still checkpoint when the log reaches this many pages (~40 MB of 4 KiB pages):
# a safety net should no checkpointer keep up, never the normal path.
AUTOCHECKPOINT_PAGES = 10_000
# Reads go through a memory map of the file's first GiB, not read() into SQLite's cache:
# about a quarter off the random owner and trait look-ups of matching.
MMAP_BYTES = 1 << 30
BUSY_TIMEOUT_MS = 30_000
log = logging.getLogger(__name__)


class _Checkpointer:
    """Copies the write-ahead log into the database file, off the writers' path.

    Its own connection runs PASSIVE checkpoints, which never block readers or writers and
    give way to another process's checkpoint. Every store that writes runs one, so several
    processes sharing a file each keep it short; a process on older code still has its own
    automatic checkpoints.
    """

    def __init__(self, path: str) -> None:
        self._stop = threading.Event()
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._thread = threading.Thread(target=self._run, name="sqlite-checkpoint", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while not self._stop.wait(CHECKPOINT_INTERVAL):
                # Busy or locked: the next pass catches up.
                with contextlib.suppress(sqlite3.Error):
                    self._db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        finally:
            self._db.close()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def _identifier(row: Sequence[Any]) -> IdentifierRecord:
    type_, value, cid, first, last, sources, status, reason = row
    return IdentifierRecord(
        type_, value, cid, first, last, tuple(json.loads(sources)), status, reason
    )


class SQLiteStore(SQLiteSegments, SQLiteOutbox, SQLiteHistory, IdentityStore):
    def __init__(self, path: str, url: str | None = None, *,
                 suppression: SuppressionKey | None = None) -> None:
        self.path = path
        self.url = url or f"sqlite:///{path}"
        self.suppression = suppression or resolve_key(self.url)
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        try:
            self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"cannot open SQLite database {path}: {exc}") from exc
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("PRAGMA foreign_keys=ON")
        self.db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        # Erased values are overwritten on disk, not just unlinked from the b-tree.
        self.db.execute("PRAGMA secure_delete=ON")
        self.db.execute(f"PRAGMA wal_autocheckpoint={AUTOCHECKPOINT_PAGES}")
        self.db.execute(f"PRAGMA mmap_size={MMAP_BYTES}")
        self._checkpointer: _Checkpointer | None = None  # started by the first write

    # -- lifecycle ---------------------------------------------------------------
    async def migrate(self) -> list[str]:
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations "
            "(version TEXT PRIMARY KEY, applied_at TEXT)"
        )
        done = {r[0] for r in self.db.execute("SELECT version FROM schema_migrations")}
        applied = []
        for version, sql in MIGRATIONS:
            if version in done:
                continue
            self.db.execute("BEGIN IMMEDIATE")
            try:
                for statement in _statements(sql):
                    self.db.execute(statement)
                self.db.execute(
                    "INSERT INTO schema_migrations VALUES (?, datetime('now'))", (version,)
                )
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            applied.append(version)
        self._upgrade_suppressions()
        return applied

    def _upgrade_suppressions(self) -> None:
        """Key the suppression list's legacy hashes; refuse a key that is not the list's."""
        stored = [h for (h,) in self.db.execute("SELECT hash FROM suppressed")]
        changes = upgrades(stored, self.suppression)
        if changes:
            with self._segment_tx():
                self.db.executemany("UPDATE suppressed SET hash = ? WHERE hash = ?",
                                    [(new, old) for old, new in changes.items()])

    async def ping(self) -> None:
        try:
            self.db.execute("SELECT 1").fetchone()
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"SQLite database {self.path} does not answer: {exc}") from exc

    async def close(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.stop()
            self._checkpointer = None
        self.db.close()

    def _begin(self) -> None:
        """Take the write lock; the first write also starts the background checkpointer."""
        if self._checkpointer is None and self.path != ":memory:":
            self._checkpointer = _Checkpointer(self.path)
        self.db.execute("BEGIN IMMEDIATE")

    # -- writes ------------------------------------------------------------------
    async def transact(self, gather: Gather, decide: Decide) -> Plan:
        self._begin()
        try:
            snapshot = self._snapshot(gather)
            plan = await decide_with_components(
                snapshot, decide, self._gather_components, gather.customers
            )
            if plan:
                self._apply(plan)
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        return plan

    def _load_keys(self, keys: Collection[str]) -> None:
        """Put the batch's keys in a temporary table, so that every read joins on it."""
        self.db.execute("CREATE TEMP TABLE IF NOT EXISTS batch_keys (key TEXT PRIMARY KEY)")
        self.db.execute("DELETE FROM batch_keys")
        self.db.executemany("INSERT OR IGNORE INTO batch_keys VALUES (?)", [(k,) for k in keys])

    def _snapshot(self, gather: Gather) -> Snapshot:
        db, snap = self.db, Snapshot()
        for chunk in _chunks(gather.event_ids):
            rows = db.execute(
                f"SELECT event_id FROM events WHERE event_id IN ({_marks(len(chunk))})", chunk
            )
            snap.seen_events.update(r[0] for r in rows)
        self._load_keys(gather.keys)
        rows = db.execute(
            f"SELECT i.key, i.status, i.reason, {_CUSTOMER_COLUMNS} FROM batch_keys k "
            "JOIN identifiers i ON i.key = k.key LEFT JOIN customers c ON c.id = i.customer_id"
        )
        for key, status, reason, *customer in rows:
            if status != ACTIVE:
                snap.statuses[key] = (status, reason)
            if customer[0] is not None:
                snap.owners[key] = customer[0]
                snap.customers[customer[0]] = CustomerInfo(*customer)
        owners = sorted(set(snap.owners.values()))
        if gather.limited_types and owners:
            for chunk in _chunks(owners):
                rows = db.execute(
                    f"SELECT customer_id, type, count(*) FROM identifiers "
                    f"WHERE customer_id IN ({_marks(len(chunk))}) "
                    f"AND type IN ({_marks(len(gather.limited_types))}) GROUP BY 1, 2",
                    [*chunk, *gather.limited_types],
                )
                for cid, type_, n in rows:
                    snap.type_counts.setdefault(cid, {})[type_] = n
        if gather.hub_types:
            # IN, not a join on batch_keys: with the join the planner scanned every link.
            rows = db.execute(
                f"""SELECT key, count(*) FROM (
                        SELECT a AS key, b AS other FROM links
                        WHERE a IN (SELECT key FROM batch_keys)
                        UNION ALL
                        SELECT b, a FROM links WHERE b IN (SELECT key FROM batch_keys))
                    WHERE substr(other, 1, instr(other, ':') - 1)
                          IN ({_marks(len(gather.hub_types))})
                    GROUP BY key""",
                gather.hub_types,
            )
            snap.degrees.update(rows)
        rows = db.execute(
            "SELECT l.a, l.b, l.status FROM batch_keys k JOIN links l ON l.a = k.key "
            "WHERE l.b IN (SELECT key FROM batch_keys)"
        )
        snap.link_status.update(((a, b), status) for a, b, status in rows)
        hashes = self.suppression.hashes(gather.keys)
        for chunk in _chunks(hashes):
            rows = db.execute(
                f"SELECT hash, at FROM suppressed WHERE hash IN ({_marks(len(chunk))})", chunk
            )
            snap.suppressed.update((hashes[h], at) for h, at in rows)
        self._gather_bans(snap, owners)
        if gather.block_keys:
            self._gather_matches(snap, gather)
        return snap

    def _gather_matches(self, snap: Snapshot, gather: Gather) -> None:
        """The newest records under each blocking key, and the traits and owners of those
        that the batch's records will be compared with."""
        # One small query per key, down the (block, id) index: its cost is the bucket
        # limit, not the bucket's size. A single ranked query over all the keys had the
        # planner scan the whole index.
        for block in sorted(gather.block_keys):
            rows = self.db.execute(
                "SELECT key FROM match_blocks WHERE block = ? ORDER BY id DESC LIMIT ?",
                (block, BUCKET_LIMIT),
            )
            bucket = [key for (key,) in rows]
            if bucket:
                snap.match_buckets[block] = bucket
        # A record's buckets hold ~140 ids on average (over 500 for common names), but it
        # is compared with at most CANDIDATE_LIMIT: read traits and owners for those alone.
        keys = sorted(needed_candidates(gather.match_queries, snap.match_buckets))
        for chunk in _chunks(keys):
            marks = _marks(len(chunk))
            for key, traits in self.db.execute(
                f"SELECT key, traits FROM match_records WHERE key IN ({marks})", chunk
            ):
                snap.match_records[key] = json.loads(traits)
            for key, *customer in self.db.execute(
                f"SELECT i.key, {_CUSTOMER_COLUMNS} FROM identifiers i "
                f"JOIN customers c ON c.id = i.customer_id WHERE i.key IN ({marks})",
                chunk,
            ):
                snap.owners.setdefault(key, customer[0])
                snap.customers.setdefault(customer[0], CustomerInfo(*customer))

    def _gather_bans(self, snap: Snapshot, owners: list[str]) -> None:
        rows = self.db.execute(
            "SELECT a, b FROM bans WHERE a IN (SELECT key FROM batch_keys) "
            "OR b IN (SELECT key FROM batch_keys)"
        )
        for a, b in rows:
            snap.bans.add((a, b))
        for chunk in _chunks(owners):
            rows = self.db.execute(
                f"SELECT x.a, x.b FROM identifiers i JOIN bans x ON x.a = i.key OR x.b = i.key "
                f"WHERE i.customer_id IN ({_marks(len(chunk))})",
                chunk,
            )
            snap.bans.update((a, b) for a, b in rows)
        ends = {k for ban in snap.bans for k in ban}
        snap.ban_owners.update({k: c for k, c in self._owners(ends).items() if c})

    async def _gather_components(self, customer_ids: set[str]) -> dict[str, Component]:
        return self._components(customer_ids)

    def _components(self, customer_ids: set[str]) -> dict[str, Component]:
        components = {cid: Component() for cid in customer_ids}
        for chunk in _chunks(customer_ids):
            rows = self.db.execute(
                f"SELECT {_CUSTOMER_COLUMNS} FROM customers c "
                f"WHERE c.id IN ({_marks(len(chunk))})", chunk
            )
            for customer in rows:
                components[customer[0]].customer = CustomerInfo(*customer)
        owner_of: dict[str, str] = {}
        for chunk in _chunks(customer_ids):
            rows = self.db.execute(
                f"SELECT key, status, customer_id, first_seen, first_event FROM identifiers "
                f"WHERE customer_id IN ({_marks(len(chunk))})",
                chunk,
            )
            for key, status, cid, first_seen, first_event in rows:
                components[cid].identifiers[key] = StoredIdentifier(key, status, cid, first_seen,
                                                                    first_event)
                owner_of[key] = cid
        self._load_keys(owner_of)
        rows = self.db.execute(
            """SELECT l.a, l.b, l.first_seen, l.sources, l.status, l.reason, l.first_event
               FROM links l
               WHERE l.a IN (SELECT key FROM batch_keys) OR l.b IN (SELECT key FROM batch_keys)"""
        )
        far: set[str] = set()
        for a, b, first_seen, sources, status, reason, first_event in rows:
            link = StoredLink(a, b, first_seen, tuple(json.loads(sources)), status, reason,
                              first_event)
            for near, other in ((a, b), (b, a)):
                if near in owner_of:
                    components[owner_of[near]].links[(a, b)] = link
                    if other not in owner_of:
                        far.add(other)
        neighbours = {}
        for chunk in _chunks(far):
            rows = self.db.execute(
                f"SELECT key, status, customer_id, first_seen, first_event FROM identifiers "
                f"WHERE key IN ({_marks(len(chunk))})",
                chunk,
            )
            for key, status, cid, first_seen, first_event in rows:
                neighbours[key] = StoredIdentifier(key, status, cid, first_seen, first_event)
        for component in components.values():
            for a, b in component.links:
                for key in (a, b):
                    if key in neighbours:
                        component.neighbours[key] = neighbours[key]
        return components

    def _apply(self, plan: Plan) -> None:
        db = self.db
        for chunk in _chunks(plan.history_reset):
            db.execute(
                f"DELETE FROM merges WHERE survivor IN (SELECT id FROM customers "
                f"WHERE coalesce(merged_into, id) IN ({_marks(len(chunk))}))",
                chunk,
            )
        # A new customer may bear an id that redirects elsewhere (a part that split off
        # and joined again): it is live again.
        db.executemany(
            "INSERT INTO customers (id, first_seen, first_event, first_key, settled) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET merged_into = NULL, "
            "first_seen = excluded.first_seen, first_event = excluded.first_event, "
            "first_key = excluded.first_key, settled = excluded.settled",
            [_customer_row(c) for c in plan.new_customers],
        )
        for m in [*plan.merges, *plan.renames]:
            db.execute(
                "UPDATE identifiers SET customer_id = ? WHERE customer_id = ?",
                (m.survivor, m.absorbed),
            )
            db.execute(
                "UPDATE customers SET merged_into = ? WHERE id = ? OR merged_into = ?",
                (m.survivor, m.absorbed, m.absorbed),
            )
        db.executemany(
            "INSERT INTO renames (old_id, new_id, at, event_id, reason) VALUES (?,?,?,?,?)",
            [(r.absorbed, r.survivor, r.at, r.event_id, r.reason) for r in plan.renames],
        )
        db.executemany(
            "UPDATE customers SET first_seen = ?, first_event = ?, first_key = ?, settled = ? "
            "WHERE id = ?",
            [(*_customer_row(c)[1:], c.id) for c in plan.customer_updates.values()],
        )
        self._record_history(plan)
        db.executemany(
            "INSERT INTO splits (customer_id, parts, at, reason) VALUES (?, ?, ?, ?)",
            [(s.customer_id, json.dumps(s.parts), s.at, s.reason) for s in plan.splits],
        )
        db.executemany(
            """INSERT INTO identifiers
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
                           END""",
            [
                (
                    d.key,
                    d.type,
                    d.value,
                    d.first_seen,
                    d.last_seen,
                    _json_array(d.sources),
                    d.customer_id,
                    d.status,
                    d.reason,
                    d.first_event,
                )
                for d in plan.identifiers
            ],
        )
        db.executemany(
            "UPDATE identifiers SET customer_id = ? WHERE key = ?",
            [(cid, key) for key, cid in plan.moves.items()],
        )
        db.executemany(
            "UPDATE identifiers SET status = ?, reason = ? WHERE key = ?",
            [(s.status, s.reason, s.key) for s in plan.statuses],
        )
        db.executemany(
            f"""INSERT INTO links (a, b, count, first_seen, last_seen, sources, event_ids,
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
                 match = coalesce(excluded.match, links.match)""",
            [
                (
                    d.a,
                    d.b,
                    d.count,
                    d.first_seen,
                    d.last_seen,
                    _json_array(d.sources),
                    _json_array(d.event_ids),
                    d.status,
                    d.reason,
                    json.dumps(d.match) if d.match else None,
                    d.first_event,
                )
                for d in plan.links
            ],
        )
        db.executemany(
            "UPDATE links SET status = ?, reason = ? WHERE a = ? AND b = ?",
            [(s.status, s.reason, s.a, s.b) for s in plan.link_statuses],
        )
        db.executemany("INSERT OR IGNORE INTO bans (a, b) VALUES (?, ?)", plan.bans)
        db.executemany(
            "INSERT OR REPLACE INTO match_records (key, traits) VALUES (?, ?)",
            [(key, json.dumps(traits)) for key, traits, _ in plan.match_records],
        )
        db.executemany(
            "INSERT INTO match_blocks (block, key) VALUES (?, ?)",
            [(block, key) for key, _, blocks in plan.match_records for block in blocks],
        )
        db.executemany("DELETE FROM bans WHERE a = ? AND b = ?", plan.unbans)
        for entry in plan.audit:
            cursor = db.execute(
                "INSERT INTO audit (actor, action, target, reason, at, details, undo) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    entry.actor,
                    entry.action,
                    entry.target,
                    entry.reason,
                    entry.at,
                    json.dumps(entry.details, ensure_ascii=False),
                    json.dumps(entry.undo, ensure_ascii=False),
                ),
            )
            seq = int(cursor.lastrowid or 0)
            plan.audit_seqs.append(seq)
            if entry.undoes is not None:
                db.execute("UPDATE audit SET undone_by = ? WHERE seq = ?", (seq, entry.undoes))
        db.executemany(
            "INSERT INTO events (event_id, type, ts, source, body, profile) VALUES (?,?,?,?,?,?)",
            [
                (e.event_id, e.type, e.ts, e.source, event_body(e), bool(e.traits or e.consent))
                for e in plan.events
            ],
        )
        if plan.search_terms:
            (last,) = db.execute("SELECT coalesce(max(id), 0) FROM search_terms").fetchone()
            db.executemany(
                "INSERT OR IGNORE INTO search_terms (key, term) VALUES (?, ?)", plan.search_terms
            )
            db.execute(
                "INSERT INTO search_fts (rowid, term) SELECT id, term FROM search_terms "
                "WHERE id > ?",
                (last,),
            )
        db.executemany("DELETE FROM suppressed WHERE hash = ?",
                       [(self.suppression.hash(k),) for k in plan.unsuppress])
        db.executemany(
            "INSERT OR IGNORE INTO reviews (a, b, score, weights, created_at) VALUES (?,?,?,?,?)",
            [(r.a, r.b, r.score, json.dumps(r.weights), r.created_at) for r in plan.reviews],
        )
        db.executemany(
            "UPDATE reviews SET status = ?, resolved_by = ? WHERE id = ?",
            [(status, actor, review_id) for review_id, status, actor in plan.review_updates],
        )
        for erasure in plan.erasures:
            plan.erased.update(self._erase(erasure))
        db.executemany(
            "INSERT INTO observations (key, ts, event_id) VALUES (?, ?, ?)",
            [(i.key, e.ts, e.event_id) for e in plan.events for i in e.identifiers],
        )
        self._apply_outbox(plan)

    def _record_history(self, plan: Plan) -> None:
        """Add each customer's merge history, after the redirects it needs."""
        self.db.executemany(
            "INSERT INTO customers (id, merged_into, first_seen) VALUES (?, ?, ?) "
            "ON CONFLICT (id) DO UPDATE SET merged_into = excluded.merged_into "
            "WHERE customers.merged_into IS NOT NULL",
            plan.history_redirects(),
        )
        self.db.executemany(
            "INSERT INTO merges (absorbed, survivor, at, event_id, reason) VALUES (?,?,?,?,?)",
            [(m.absorbed, m.survivor, m.at, m.event_id, m.reason)
             for merges in plan.history.values() for m in merges],
        )

    # -- reads -------------------------------------------------------------------
    async def current_ids(self, customer_ids: Collection[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        for chunk in _chunks(customer_ids):
            rows = self.db.execute(
                f"SELECT c.id, t.id FROM customers c "
                f"JOIN customers t ON t.id = coalesce(c.merged_into, c.id) "
                f"WHERE c.id IN ({_marks(len(chunk))}) AND t.erased_at IS NULL",
                chunk,
            )
            found.update(rows)
        return found

    async def owners(self, keys: Collection[str]) -> dict[str, str]:
        return {k: c for k, c in self._owners(keys).items() if c is not None}

    def _owners(self, keys: Collection[str]) -> dict[str, str | None]:
        found: dict[str, str | None] = {}
        for chunk in _chunks(keys):
            rows = self.db.execute(
                f"SELECT key, customer_id FROM identifiers WHERE key IN ({_marks(len(chunk))})",
                chunk,
            )
            found.update(rows)
        return found

    async def identifiers(self, keys: Collection[str]) -> dict[str, IdentifierRecord]:
        found: dict[str, IdentifierRecord] = {}
        for chunk in _chunks(keys):
            rows = self.db.execute(
                f"SELECT {_IDENTIFIER_COLUMNS} FROM identifiers "
                f"WHERE key IN ({_marks(len(chunk))})",
                chunk,
            )
            for row in rows:
                record = _identifier(row)
                found[record.key] = record
        return found

    async def identifiers_of(
        self, customer_ids: Collection[str]
    ) -> dict[str, list[IdentifierRecord]]:
        found: dict[str, list[IdentifierRecord]] = defaultdict(list)
        for chunk in _chunks(customer_ids):
            rows = self.db.execute(
                f"SELECT {_IDENTIFIER_COLUMNS} FROM identifiers "
                f"WHERE customer_id IN ({_marks(len(chunk))}) ORDER BY type, value",
                chunk,
            )
            for row in rows:
                record = _identifier(row)
                found[record.customer_id or ""].append(record)
        return dict(found)

    async def timeline(
        self, customer_id: str, first: int, after: Cursor | None
    ) -> list[EventRecord]:
        ts, eid = after or ("\uffff", "")
        rows = self.db.execute(
            """SELECT e.event_id, e.type, e.ts, e.source, e.body,
                      (SELECT group_concat(o2.key, char(31)) FROM observations o2
                       WHERE o2.event_id = e.event_id)
               FROM events e WHERE e.event_id IN (
                   SELECT o.event_id FROM identifiers i JOIN observations o ON o.key = i.key
                   WHERE i.customer_id = ? AND (o.ts < ? OR (o.ts = ? AND o.event_id < ?)))
               ORDER BY e.ts DESC, e.event_id DESC LIMIT ?""",
            (customer_id, ts, ts, eid, first),
        )
        return [self._event(row) for row in rows]

    async def timelines(
        self,
        customer_ids: Collection[str],
        first: int,
        after: Cursor | None = None,
        *,
        types: Collection[str] = (),
        since: str | None = None,
        until: str | None = None,
    ) -> dict[str, list[EventRecord]]:
        ts, eid = min(after or ("\uffff", ""), (until, "") if until is not None else ("\uffff", ""))
        type_list = sorted(set(types))
        type_filter = f"WHERE e.type IN ({_marks(len(type_list))})" if type_list else ""
        found: dict[str, list[EventRecord]] = defaultdict(list)
        for chunk in _chunks(customer_ids):
            rows = self.db.execute(
                f"""WITH own AS (
                        SELECT DISTINCT i.customer_id AS cid, o.event_id, o.ts
                        FROM identifiers i JOIN observations o ON o.key = i.key
                        WHERE i.customer_id IN ({_marks(len(chunk))})
                          AND (o.ts < ? OR (o.ts = ? AND o.event_id < ?)) AND o.ts >= ?),
                    ranked AS (
                        SELECT own.cid, own.event_id, row_number() OVER (
                            PARTITION BY own.cid ORDER BY own.ts DESC, own.event_id DESC) AS n
                        FROM own JOIN events e ON e.event_id = own.event_id {type_filter})
                    SELECT r.cid, e.event_id, e.type, e.ts, e.source, e.body,
                           (SELECT group_concat(o2.key, char(31)) FROM observations o2
                            WHERE o2.event_id = e.event_id)
                    FROM ranked r JOIN events e ON e.event_id = r.event_id
                    WHERE r.n <= ? ORDER BY r.cid, e.ts DESC, e.event_id DESC""",
                [*chunk, ts, ts, eid, since or "", *type_list, first],
            )
            for cid, *row in rows:
                found[cid].append(self._event(row))
        return dict(found)

    @staticmethod
    def _event(row: Sequence[Any]) -> EventRecord:
        event_id, type_, ts, source, body, keys = row
        return event_record(event_id, type_, ts, source, keys.split("\x1f"), body)

    async def links_of(self, customer_id: str) -> list[LinkRecord]:
        rows = self.db.execute(
            f"""SELECT {_LINK_COLUMNS}
               FROM links WHERE a IN (SELECT key FROM identifiers WHERE customer_id = ?1)
                             OR b IN (SELECT key FROM identifiers WHERE customer_id = ?1)
               ORDER BY a, b""",
            (customer_id,),
        )
        return [_link(row) for row in rows]

    async def links_touching(self, keys: Collection[str]) -> list[LinkRecord]:
        found: dict[tuple[str, str], LinkRecord] = {}
        for chunk in _chunks(keys):
            marks = _marks(len(chunk))
            rows = self.db.execute(
                f"SELECT {_LINK_COLUMNS} FROM links WHERE a IN ({marks}) OR b IN ({marks})",
                [*chunk, *chunk],
            )
            for row in rows:
                link = _link(row)
                found[(link.a, link.b)] = link
        return [found[p] for p in sorted(found)]

    async def links_with_status(self, status: str) -> list[tuple[str, str, str]]:
        rows = self.db.execute("SELECT a, b, reason FROM links WHERE status = ? ORDER BY a, b",
                               (status,))
        return [(a, b, reason or "") for a, b, reason in rows]

    async def audit_log(self, first: int, before: int | None) -> list[AuditRecord]:
        rows = self.db.execute(
            f"SELECT {_AUDIT_COLUMNS} FROM audit WHERE seq < ? ORDER BY seq DESC LIMIT ?",
            (before if before is not None else 2**62, first),
        )
        return [_audit(row) for row in rows]

    async def audit_entry(self, seq: int) -> AuditRecord | None:
        row = self.db.execute(f"SELECT {_AUDIT_COLUMNS} FROM audit WHERE seq = ?", (seq,))
        found = row.fetchone()
        return _audit(found) if found else None

    async def splits_of(self, customer_ids: Collection[str]) -> dict[str, list[SplitRecord]]:
        found: dict[str, list[SplitRecord]] = defaultdict(list)
        for chunk in _chunks(customer_ids):
            rows = self.db.execute(
                f"SELECT coalesce(c.merged_into, c.id), s.customer_id, s.parts, s.at, s.reason "
                f"FROM splits s JOIN customers c ON c.id = s.customer_id "
                f"WHERE coalesce(c.merged_into, c.id) IN ({_marks(len(chunk))}) ORDER BY s.seq",
                chunk,
            )
            for current, cid, parts, at, reason in rows:
                found[current].append(SplitRecord(cid, tuple(json.loads(parts)), at, reason))
        return dict(found)

    async def merges_into(self, customer_ids: Collection[str]) -> dict[str, list[MergeRecord]]:
        found: dict[str, list[MergeRecord]] = defaultdict(list)
        for chunk in _chunks(customer_ids):
            rows = self.db.execute(
                f"SELECT coalesce(c.merged_into, c.id), m.absorbed, m.survivor, m.at, "
                f"m.event_id, m.reason FROM merges m JOIN customers c ON c.id = m.survivor "
                f"WHERE coalesce(c.merged_into, c.id) IN ({_marks(len(chunk))}) "
                f"ORDER BY m.at, m.event_id, m.seq",
                chunk,
            )
            for current, *fields in rows:
                found[current].append(MergeRecord(*fields))
        return dict(found)

    async def customer_page(self, after: str | None, limit: int) -> list[str]:
        rows = self.db.execute(
            "SELECT id FROM customers WHERE merged_into IS NULL AND erased_at IS NULL AND id > ? "
            "ORDER BY id LIMIT ?",
            (after or "", limit),
        )
        return [r[0] for r in rows]

    async def stats(self) -> StoreStats:
        def count(sql: str) -> int:
            return int(self.db.execute(sql).fetchone()[0])

        return StoreStats(
            customers=count(
                "SELECT count(*) FROM customers WHERE merged_into IS NULL AND erased_at IS NULL"
            ),
            identifiers=count("SELECT count(*) FROM identifiers"),
            links=count("SELECT count(*) FROM links"),
            events=count("SELECT count(*) FROM events"),
        )

    def _erase(self, erasure: Erasure) -> dict[str, int]:
        db = self.db
        self._load_keys(erasure.keys)
        in_keys = "IN (SELECT key FROM batch_keys)"
        events = [
            r[0]
            for r in db.execute(f"SELECT DISTINCT event_id FROM observations WHERE key {in_keys}")
        ]
        for chunk in _chunks(events):
            marks = _marks(len(chunk))
            db.execute(f"DELETE FROM observations WHERE event_id IN ({marks})", chunk)
            db.execute(f"DELETE FROM events WHERE event_id IN ({marks})", chunk)
        links = db.execute(f"DELETE FROM links WHERE a {in_keys} OR b {in_keys}").rowcount
        db.execute(f"DELETE FROM bans WHERE a {in_keys} OR b {in_keys}")
        db.execute(f"DELETE FROM search_terms WHERE key {in_keys}")
        db.execute(f"DELETE FROM match_blocks WHERE key {in_keys}")
        db.execute(f"DELETE FROM match_records WHERE key {in_keys}")
        db.execute(f"DELETE FROM reviews WHERE a {in_keys} OR b {in_keys}")
        identifiers = db.execute(f"DELETE FROM identifiers WHERE key {in_keys}").rowcount
        db.execute(
            "UPDATE customers SET erased_at = ? WHERE id = ?", (erasure.at, erasure.customer_id)
        )
        # A customer's anchor names one of its identifiers (and those it absorbed, theirs);
        # its merge history names its events.
        db.execute(
            "UPDATE customers SET first_key = '', first_event = '', settled = '' "
            "WHERE id = ? OR merged_into = ?", (erasure.customer_id, erasure.customer_id)
        )
        db.execute(
            "DELETE FROM merges WHERE survivor IN (SELECT id FROM customers "
            "WHERE coalesce(merged_into, id) = ?)", (erasure.customer_id,)
        )
        db.execute(
            "DELETE FROM renames WHERE new_id IN (SELECT id FROM customers "
            "WHERE coalesce(merged_into, id) = ?)", (erasure.customer_id,)
        )
        db.executemany(
            "INSERT OR IGNORE INTO suppressed VALUES (?, ?)",
            [(self.suppression.hash(k), erasure.at) for k in erasure.keys],
        )
        self._scrub(erasure.spellings)
        # Rewrite the search index, so that no segment still holds the erased terms.
        db.execute("INSERT INTO search_fts (search_fts) VALUES ('optimize')")
        return {"events": len(events), "links": links, "identifiers": identifiers}

    def _scrub(self, spellings: Spellings) -> None:
        """Replace every spelling of the erased values in free text that stays (reasons,
        the audit log), with Python's regular expressions called from SQL: one pass over
        each column, in the erasure's transaction."""
        if not spellings:
            return

        def text(value: str | None) -> str | None:
            return None if value is None else spellings.scrub(value, ERASED_MARK)

        def document(value: str | None) -> str | None:
            if value is None:
                return None
            return json.dumps(spellings.scrub_json(json.loads(value), ERASED_MARK),
                              ensure_ascii=False)

        def mentions(value: str | None) -> bool:
            return value is not None and spellings.mentions(value)

        functions = {"erased_text": text, "erased_json": document, "erased_mention": mentions}
        for name, function in functions.items():
            self.db.create_function(name, 1, function, deterministic=True)
        try:
            for table, column, scrub in SCRUBBED_COLUMNS:
                self.db.execute(f"UPDATE {table} SET {column} = {scrub}({column}) "
                                f"WHERE erased_mention({column})")
        finally:
            for name in functions:
                self.db.create_function(name, 1, None)

    async def purge_erased(self) -> None:
        """secure_delete zeroes what a deletion frees, but not the old copies of rows
        that SQLite moved between pages earlier (they stay in the unused space of live
        pages), nor the old pages in the write-ahead log. VACUUM rewrites every page;
        the TRUNCATE checkpoint then empties the log, once no reader still needs it and
        no other checkpoint (the background one, copying what VACUUM wrote) is running."""
        if self.path == ":memory:":
            return
        self.db.execute("VACUUM")
        if await self._truncate_log():
            return
        log.warning("%s-wal: another connection kept reading for %s s; the log keeps old "
                    "copies of the erased rows until a checkpoint empties it "
                    "(docs/privacy.md)", self.path, PURGE_WAIT_S)

    async def _truncate_log(self) -> bool:
        """Try the TRUNCATE checkpoint until it completes or PURGE_WAIT_S pass, waiting
        between tries without holding up the event loop."""
        deadline = time.monotonic() + PURGE_WAIT_S
        self.db.execute(f"PRAGMA busy_timeout={PURGE_TRY_MS}")
        try:
            while True:
                busy, _, _ = self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
                if not busy:
                    return True
                if time.monotonic() > deadline:
                    return False
                await asyncio.sleep(PURGE_TRY_MS / 1000)
        finally:
            self.db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")

    # -- profile and search ----------------------------------------------------------
    async def profile_observations(
        self, customer_ids: Collection[str]
    ) -> dict[str, list[Observation]]:
        found: dict[str, list[Observation]] = defaultdict(list)
        for chunk in _chunks(customer_ids):
            rows = self.db.execute(
                f"""SELECT DISTINCT i.customer_id, e.event_id, e.ts, e.source, e.body
                    FROM identifiers i JOIN observations o ON o.key = i.key
                    JOIN events e ON e.event_id = o.event_id
                    WHERE i.customer_id IN ({_marks(len(chunk))}) AND e.profile = 1""",
                chunk,
            )
            for cid, event_id, ts, source, body in rows:
                data = json.loads(body)
                found[cid].append(
                    Observation(
                        event_id, ts, source, data.get("traits", {}), data.get("consent", {})
                    )
                )
        return dict(found)

    async def search(self, text: str, limit: int) -> list[tuple[str, str, str]]:
        tokens = [t for t in text.lower().split() if len(t) >= 3]
        if not tokens:
            return []
        query = " OR ".join('"' + t.replace('"', '""') + '"' for t in tokens)
        rows = self.db.execute(
            """SELECT s.key, i.customer_id, s.term FROM search_fts f
               JOIN search_terms s ON s.id = f.rowid
               JOIN identifiers i ON i.key = s.key
               WHERE search_fts MATCH ? AND i.customer_id IS NOT NULL
               ORDER BY f.rank LIMIT ?""",
            (query, limit),
        )
        return [tuple(r) for r in rows]

    # -- review queue ----------------------------------------------------------------
    async def reviews(
        self, first: int, after: int | None, status: str = "open"
    ) -> list[ReviewRecord]:
        rows = self.db.execute(
            f"SELECT {_REVIEW_COLUMNS} FROM reviews WHERE status = ? AND id > ? "
            f"ORDER BY id LIMIT ?",
            (status, after or 0, first),
        )
        return [_review(row) for row in rows]

    async def review(self, review_id: int) -> ReviewRecord | None:
        row = self.db.execute(
            f"SELECT {_REVIEW_COLUMNS} FROM reviews WHERE id = ?", (review_id,)
        ).fetchone()
        return _review(row) if row else None

    async def load_model(self, name: str) -> dict[str, Any] | None:
        row = self.db.execute("SELECT body FROM models WHERE name = ?", (name,)).fetchone()
        return json.loads(row[0]) if row else None

    async def save_model(self, name: str, body: dict[str, Any], trained_at: str) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO models (name, body, trained_at) VALUES (?, ?, ?)",
            (name, json.dumps(body), trained_at),
        )

    async def membership(self) -> tuple[dict[str, str | None], list[tuple[str, str]]]:
        owners = dict(self.db.execute("SELECT key, customer_id FROM identifiers"))
        links = [
            (a, b) for a, b in self.db.execute("SELECT a, b FROM links WHERE status = 'active'")
        ]
        return owners, links


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
# The checkpoint after an erasure is tried again this often, for this long: a reader in
# another process finishes in milliseconds, and the erasure's caller is waiting.
PURGE_TRY_MS = 50
PURGE_WAIT_S = 10.0


_CUSTOMER_COLUMNS = "c.id, c.first_seen, c.first_event, c.first_key, c.settled"


def _customer_row(c: CustomerInfo) -> tuple[str, str, str, str, str]:
    return (c.id, c.first_seen, c.first_event, c.first_key, c.settled)


def _json_array(items: Sequence[str]) -> str:
    """Written as SQLite's json_group_array writes it, so that an unchanged list compares
    equal to the stored text and the upserts skip their merge."""
    return orjson.dumps(items).decode()


_REVIEW_COLUMNS = "id, a, b, score, weights, status, created_at"


def _review(row: Sequence[Any]) -> ReviewRecord:
    review_id, a, b, score, weights, status, created_at = row
    return ReviewRecord(review_id, a, b, score, json.loads(weights), status, created_at)
