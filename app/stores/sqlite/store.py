"""The embedded store: one SQLite file in WAL mode, zero set-up.

Calls are synchronous under an async interface: SQLite answers these indexed queries in
microseconds, so a thread hop per call would cost more than it saves. Writers take the
file's write lock at the start of `transact` (BEGIN IMMEDIATE), so several processes can
load one file without losing a merge.

Laid out as the Neo4j adapter is: the SQL is in queries.py, rows become models (and plans
rows) in records.py, checkpoint.py copies the write-ahead log back into the file, and
chunks.py cuts parameter lists to SQLite's limit.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable
from pathlib import Path
from typing import Any

from app.domain.matching.blocking import BUCKET_LIMIT
from app.domain.matching.stream import needed_candidates
from app.domain.personal import Spellings
from app.domain.plan import (
    ACTIVE,
    Component,
    CustomerInfo,
    Erased,
    Erasure,
    Gather,
    IdentifierStatus,
    LinkFacts,
    LinkStatus,
    Merge,
    Plan,
    Receipt,
    ReviewStatus,
    Snapshot,
    Split,
)
from app.domain.privacy import ERASED_MARK, SuppressionKey, upgrades
from app.domain.profile import Observation
from app.domain.search import typo_pieces
from app.stores.base import IdentityStore
from app.stores.errors import StoreBusy, StoreUnavailable
from app.stores.keys import resolve_key
from app.stores.ports.graph import Decide, add_neighbours, decide_with_components
from app.stores.sqlite import queries as q
from app.stores.sqlite import records
from app.stores.sqlite.checkpoint import (
    AUTOCHECKPOINT_PAGES,
    PURGE_WAIT_S,
    Checkpointer,
    truncate_log,
)
from app.stores.sqlite.chunks import chunks, marks
from app.stores.sqlite.history import SQLiteHistory
from app.stores.sqlite.outbox import SQLiteOutbox
from app.stores.sqlite.readmodel import SQLiteReadModel
from app.stores.sqlite.schema import MIGRATIONS
from app.stores.sqlite.segments import SQLiteSegments
from app.stores.values import (
    AuditRecord,
    Cursor,
    EventRecord,
    IdentifierRecord,
    LinkRecord,
    ReviewRecord,
    StoreStats,
    TimelineWindow,
)

# Reads go through a memory map of the file's first GiB, not read() into SQLite's cache:
# about a quarter off the random owner and trait look-ups of matching.
MMAP_BYTES = 1 << 30
# SQLite's own page cache, per connection (the default is 2 MiB). A batch of 1,000
# events changes pages all over the identifier, link, observation and search indexes;
# with 64 MiB writing and committing a batch took about a tenth less CPU at 200,000
# events (docs/benchmarks.md). Memory only: what a commit makes durable does not change.
CACHE_KIB = 64 * 1024
BUSY_TIMEOUT_MS = 30_000
_NEWEST: Cursor = ("\uffff", "")  # a cursor before every event
log = logging.getLogger(__name__)


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


class _Connection(sqlite3.Connection):
    """A connection whose statements raise StoreBusy when another process holds the file
    longer than the busy timeout: the one place SQLite's lock errors become the port's."""

    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
        try:
            return super().execute(sql, parameters)
        except sqlite3.OperationalError as exc:
            raise _busy(exc) from exc

    def executemany(self, sql: str, parameters: Iterable[Any], /) -> sqlite3.Cursor:
        try:
            return super().executemany(sql, parameters)
        except sqlite3.OperationalError as exc:
            raise _busy(exc) from exc


def _busy(exc: sqlite3.OperationalError) -> Exception:
    text = str(exc)
    return StoreBusy(f"SQLite: {text}") if "locked" in text or "busy" in text else exc


class SQLiteStore(SQLiteSegments, SQLiteOutbox, SQLiteHistory, SQLiteReadModel,
                  IdentityStore):
    def __init__(self, path: str, url: str | None = None, *,
                 suppression: SuppressionKey | None = None) -> None:
        self.path = path
        # the customers whose documents the current transaction's erasures dropped
        self._dropped_documents: set[str] = set()
        self.url = url or f"sqlite:///{path}"
        self.suppression = suppression or resolve_key(self.url)
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        try:
            self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False,
                                      factory=_Connection)
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
        self.db.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
        self._checkpointer: Checkpointer | None = None  # started by the first write

    # -- lifecycle ---------------------------------------------------------------
    async def migrate(self) -> list[str]:
        self.db.execute(q.CREATE_MIGRATIONS)
        done = {r[0] for r in self.db.execute(q.APPLIED_MIGRATIONS)}
        applied = []
        for version, sql in MIGRATIONS:
            if version in done:
                continue
            self.db.execute("BEGIN IMMEDIATE")
            try:
                for statement in _statements(sql):
                    self.db.execute(statement)
                self.db.execute(q.RECORD_MIGRATION, (version,))
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            applied.append(version)
        self._upgrade_suppressions()
        return applied

    def _upgrade_suppressions(self) -> None:
        """Key the suppression list's legacy hashes; refuse a key that is not the list's."""
        stored = [h for (h,) in self.db.execute(q.SUPPRESSION_HASHES)]
        changes = upgrades(stored, self.suppression)
        if changes:
            with self._segment_tx():
                self.db.executemany(q.UPGRADE_SUPPRESSION,
                                    [(new, old) for old, new in changes.items()])

    async def ping(self) -> None:
        try:
            self.db.execute(q.PING).fetchone()
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
            self._checkpointer = Checkpointer(self.path)
        self.db.execute("BEGIN IMMEDIATE")

    # -- writes ------------------------------------------------------------------
    async def transact(self, gather: Gather, decide: Decide) -> Receipt:
        self._begin()
        try:
            snapshot = self._snapshot(gather)
            plan = await decide_with_components(
                snapshot, decide, self._gather_components, gather.customers
            )
            self._dropped_documents = set()
            receipt = self._apply(plan) if plan else Receipt(plan)
            if plan:
                await self._rewrite_after(plan, snapshot, self._dropped_documents)
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        return receipt

    def _rows(self, statement: str, values: Collection[str], *extra: Any,
              **fields: str) -> Iterable[Any]:
        """The rows of a `{marks}` statement for every chunk of `values` (each chunk's
        parameters followed by `extra`)."""
        for chunk in chunks(values):
            yield from self.db.execute(statement.format(marks=marks(len(chunk)), **fields),
                                       [*chunk, *extra])

    def _load_keys(self, keys: Collection[str]) -> None:
        """Put the batch's keys in a temporary table, so that every read joins on it."""
        self.db.execute(q.CREATE_BATCH_KEYS)
        self.db.execute(q.CLEAR_BATCH_KEYS)
        self.db.executemany(q.ADD_BATCH_KEY, [(k,) for k in keys])

    def _snapshot(self, gather: Gather) -> Snapshot:
        snap = Snapshot()
        snap.seen_events.update(r[0] for r in self._rows(q.SEEN_EVENTS, gather.event_ids))
        self._load_keys(gather.keys)
        self._gather_owners(snap)
        owners = sorted(set(snap.owners.values()))
        if gather.limited_types and owners:
            self._gather_type_counts(snap, owners, gather.limited_types)
        if gather.hub_types:
            snap.degrees.update(self.db.execute(
                q.DEGREES.format(types=marks(len(gather.hub_types))), gather.hub_types))
        rows = self.db.execute(q.BATCH_LINK_STATUSES)
        snap.link_status.update(((a, b), LinkStatus(status)) for a, b, status in rows)
        self._gather_suppressed(snap, gather.keys)
        self._gather_bans(snap, owners)
        if gather.block_keys:
            self._gather_matches(snap, gather)
        return snap

    def _gather_owners(self, snap: Snapshot) -> None:
        """The batch's stored identifiers: their status and their customer."""
        for key, status, reason, *customer in self.db.execute(q.BATCH_OWNERS):
            if status != ACTIVE:
                snap.statuses[key] = (IdentifierStatus(status), reason)
            if customer[0] is not None:
                snap.owners[key] = customer[0]
                snap.customers[customer[0]] = CustomerInfo(*customer)

    def _gather_type_counts(self, snap: Snapshot, owners: list[str],
                            types: tuple[str, ...]) -> None:
        for cid, type_, n in self._rows(q.TYPE_COUNTS, owners, *types,
                                        types=marks(len(types))):
            snap.type_counts.setdefault(cid, {})[type_] = n

    def _gather_suppressed(self, snap: Snapshot, keys: Collection[str]) -> None:
        hashes = self.suppression.hashes(keys)
        snap.suppressed.update((hashes[h], at) for h, at in self._rows(q.SUPPRESSED, hashes))

    def _gather_matches(self, snap: Snapshot, gather: Gather) -> None:
        """The newest records under each blocking key, and the traits and owners of those
        that the batch's records will be compared with."""
        for block in sorted(gather.block_keys):
            bucket = [key for (key,) in self.db.execute(q.MATCH_BUCKET, (block, BUCKET_LIMIT))]
            if bucket:
                snap.match_buckets[block] = bucket
        # A record's buckets hold ~140 ids on average (over 500 for common names), but it
        # is compared with at most CANDIDATE_LIMIT: read traits and owners for those alone.
        keys = sorted(needed_candidates(gather.match_queries, snap.match_buckets))
        for key, traits in self._rows(q.MATCH_TRAITS, keys):
            snap.match_records[key] = json.loads(traits)
        for key, *customer in self._rows(q.MATCH_OWNERS, keys):
            snap.owners.setdefault(key, customer[0])
            snap.customers.setdefault(customer[0], CustomerInfo(*customer))

    def _gather_bans(self, snap: Snapshot, owners: list[str]) -> None:
        snap.bans.update((a, b) for a, b in self.db.execute(q.BATCH_BANS))
        snap.bans.update((a, b) for a, b in self._rows(q.OWNER_BANS, owners))
        ends = {k for ban in snap.bans for k in ban}
        snap.ban_owners.update({k: c for k, c in self._owners(ends).items() if c})

    async def _gather_components(self, customer_ids: set[str]) -> dict[str, Component]:
        return self._components(customer_ids)

    def _components(self, customer_ids: set[str]) -> dict[str, Component]:
        """Each customer's identifiers, every link touching them, and the identifiers at
        the far end of those links that are not its own."""
        components = {cid: Component() for cid in customer_ids}
        for customer in self._rows(q.COMPONENT_CUSTOMERS, customer_ids):
            components[customer[0]].customer = CustomerInfo(*customer)
        owner_of: dict[str, str] = {}
        for row in self._rows(q.STORED_IDENTIFIERS, customer_ids, column="customer_id"):
            ident = records.stored_identifier(row)
            components[row[2]].identifiers[ident.key] = ident
            owner_of[ident.key] = row[2]
        far = self._component_links(components, owner_of)
        neighbours = {row[0]: records.stored_identifier(row)
                      for row in self._rows(q.STORED_IDENTIFIERS, far, column="key")}
        add_neighbours(components, neighbours)
        return components

    def _component_links(self, components: dict[str, Component], owner_of: dict[str, str]
                         ) -> set[str]:
        """Add every link touching an owned identifier to its component; return the keys at
        their far ends that none of the components own."""
        self._load_keys(owner_of)
        far: set[str] = set()
        for a, b, first_seen, sources, status, reason, first_event in self.db.execute(
                q.BATCH_LINKS):
            link = LinkFacts(a, b, first_seen, tuple(json.loads(sources)), LinkStatus(status),
                             reason, first_event)
            for near, other in ((a, b), (b, a)):
                if near in owner_of:
                    components[owner_of[near]].links[(a, b)] = link
                    if other not in owner_of:
                        far.add(other)
        return far

    # -- applying a plan: one small function per section, in this order ----------------
    def _apply(self, plan: Plan) -> Receipt:
        for step in self._apply_steps():
            step(plan)
        # The audit entries go in before the erasures, which scrub erased values from them.
        audit_seqs = self._append_audit(plan)
        erased = self._erase_all(plan)
        self._observe(plan)
        return Receipt(plan, audit_seqs, erased, self._apply_outbox(plan))

    def _apply_steps(self) -> tuple[Callable[[Plan], None], ...]:
        return (self._reset_history, self._create_customers, self._merge, self._rename,
                self._update_customers, self._record_history, self._record_splits,
                self._upsert_identifiers, self._move_identifiers, self._set_statuses,
                self._upsert_links, self._set_link_statuses, self._ban, self._file_matches,
                self._unban, self._insert_events, self._index_search, self._unsuppress,
                self._queue_reviews)

    def _reset_history(self, plan: Plan) -> None:
        for chunk in chunks(plan.history_reset):
            self.db.execute(q.RESET_HISTORY.format(marks=marks(len(chunk))), chunk)

    def _create_customers(self, plan: Plan) -> None:
        self.db.executemany(q.CREATE_CUSTOMER,
                            [records.customer_row(c) for c in plan.new_customers])

    def _merge(self, plan: Plan) -> None:
        for m in [*plan.merges, *plan.renames]:
            self.db.execute(q.MOVE_ABSORBED, (m.survivor, m.absorbed))
            self.db.execute(q.REDIRECT_ABSORBED, (m.survivor, m.absorbed, m.absorbed))

    def _rename(self, plan: Plan) -> None:
        self.db.executemany(q.RECORD_RENAME, records.merge_rows(plan.renames))

    def _update_customers(self, plan: Plan) -> None:
        self.db.executemany(q.UPDATE_CUSTOMER, records.customer_update_rows(plan))

    def _record_history(self, plan: Plan) -> None:
        """Add each customer's merge history, after the redirects it needs."""
        self.db.executemany(q.HISTORY_REDIRECT, plan.history_redirects())
        self.db.executemany(q.RECORD_MERGE, records.history_rows(plan))

    def _record_splits(self, plan: Plan) -> None:
        self.db.executemany(q.RECORD_SPLIT, records.split_rows(plan))

    def _upsert_identifiers(self, plan: Plan) -> None:
        self.db.executemany(q.UPSERT_IDENTIFIER, records.identifier_rows(plan))

    def _move_identifiers(self, plan: Plan) -> None:
        self.db.executemany(q.MOVE_IDENTIFIER, [(cid, key) for key, cid in plan.moves.items()])

    def _set_statuses(self, plan: Plan) -> None:
        self.db.executemany(q.SET_IDENTIFIER_STATUS,
                            [(s.status, s.reason, s.key) for s in plan.statuses])

    def _upsert_links(self, plan: Plan) -> None:
        self.db.executemany(q.UPSERT_LINK, records.link_rows(plan))

    def _set_link_statuses(self, plan: Plan) -> None:
        self.db.executemany(q.SET_LINK_STATUS,
                            [(s.status, s.reason, s.a, s.b) for s in plan.link_statuses])

    def _ban(self, plan: Plan) -> None:
        self.db.executemany(q.ADD_BAN, plan.bans)

    def _file_matches(self, plan: Plan) -> None:
        self.db.executemany(q.SAVE_MATCH_RECORD, records.match_record_rows(plan))
        self.db.executemany(q.FILE_MATCH_BLOCK, records.match_block_rows(plan))

    def _unban(self, plan: Plan) -> None:
        self.db.executemany(q.REMOVE_BAN, plan.unbans)

    def _append_audit(self, plan: Plan) -> tuple[int, ...]:
        seqs = []
        for entry in plan.audit:
            seq = int(self.db.execute(q.APPEND_AUDIT, records.audit_row(entry)).lastrowid or 0)
            seqs.append(seq)
            if entry.undoes is not None:
                self.db.execute(q.MARK_UNDONE, (seq, entry.undoes))
        return tuple(seqs)

    def _insert_events(self, plan: Plan) -> None:
        self.db.executemany(q.INSERT_EVENT, records.event_rows(plan))

    def _index_search(self, plan: Plan) -> None:
        if plan.search_terms:
            (last,) = self.db.execute(q.LAST_SEARCH_TERM).fetchone()
            self.db.executemany(q.ADD_SEARCH_TERM, plan.search_terms)
            self.db.execute(q.INDEX_SEARCH_TERMS, (last,))

    def _unsuppress(self, plan: Plan) -> None:
        self.db.executemany(q.UNSUPPRESS, records.unsuppress_rows(plan, self.suppression))

    def _queue_reviews(self, plan: Plan) -> None:
        self.db.executemany(q.QUEUE_REVIEW, records.review_rows(plan))
        self.db.executemany(q.RESOLVE_REVIEW, [(status, actor, review_id) for
                                               review_id, status, actor in plan.review_updates])

    def _erase_all(self, plan: Plan) -> Erased:
        return sum((self._erase(erasure) for erasure in plan.erasures), Erased())

    def _observe(self, plan: Plan) -> None:
        self.db.executemany(q.OBSERVE, records.observation_rows(plan))

    def _erase(self, erasure: Erasure) -> Erased:
        db = self.db
        self._load_keys(erasure.keys)
        events = [r[0] for r in db.execute(q.ERASED_EVENTS)]
        for chunk in chunks(events):
            db.execute(q.DELETE_OBSERVATIONS.format(marks=marks(len(chunk))), chunk)
            db.execute(q.DELETE_EVENTS.format(marks=marks(len(chunk))), chunk)
        links = db.execute(q.DELETE_LINKS).rowcount
        for statement in (q.DELETE_BANS, q.DELETE_SEARCH_TERMS, q.DELETE_MATCH_BLOCKS,
                          q.DELETE_MATCH_RECORDS, q.DELETE_REVIEWS):
            db.execute(statement)
        identifiers = db.execute(q.DELETE_IDENTIFIERS).rowcount
        db.execute(q.MARK_ERASED, (erasure.at, erasure.customer_id))
        db.execute(q.FORGET_ANCHORS, (erasure.customer_id, erasure.customer_id))
        db.execute(q.FORGET_MERGES, (erasure.customer_id,))
        db.execute(q.FORGET_RENAMES, (erasure.customer_id,))
        db.executemany(q.SUPPRESS, [(self.suppression.hash(k), erasure.at) for k in erasure.keys])
        self._scrub(erasure.spellings)
        db.execute(q.OPTIMIZE_SEARCH)
        return Erased(len(events), links, identifiers)

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
            for table, column, scrub in q.SCRUBBED_COLUMNS:
                self.db.execute(q.SCRUB.format(table=table, column=column, scrub=scrub))
            # documents that quote an erased value (another customer's identifier reason):
            # written again from the scrubbed graph at the end of the transaction
            self._dropped_documents.update(
                cid for (cid,) in self.db.execute(q.DROP_ERASED_DOCUMENTS))
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
        self.db.execute(q.VACUUM)
        if await truncate_log(self.db, BUSY_TIMEOUT_MS):
            return
        log.warning("%s-wal: another connection kept reading for %s s; the log keeps old "
                    "copies of the erased rows until a checkpoint empties it "
                    "(docs/privacy.md)", self.path, PURGE_WAIT_S)

    # -- reads -------------------------------------------------------------------
    async def current_ids(self, customer_ids: Collection[str]) -> dict[str, str]:
        return dict(self._rows(q.CURRENT_IDS, customer_ids))

    async def owners(self, keys: Collection[str]) -> dict[str, str]:
        return {k: c for k, c in self._owners(keys).items() if c is not None}

    def _owners(self, keys: Collection[str]) -> dict[str, str | None]:
        return dict(self._rows(q.OWNERS, keys))

    async def identifiers(self, keys: Collection[str]) -> dict[str, IdentifierRecord]:
        found = (records.identifier(row) for row in self._rows(q.IDENTIFIERS, keys))
        return {record.key: record for record in found}

    async def identifiers_of(
        self, customer_ids: Collection[str]
    ) -> dict[str, list[IdentifierRecord]]:
        found: dict[str, list[IdentifierRecord]] = defaultdict(list)
        for row in self._rows(q.IDENTIFIERS_OF, customer_ids):
            record = records.identifier(row)
            found[record.customer_id or ""].append(record)
        return dict(found)

    async def timeline(
        self, customer_id: str, first: int, after: Cursor | None
    ) -> list[EventRecord]:
        ts, eid = after or _NEWEST
        rows = self.db.execute(q.TIMELINE, (customer_id, ts, ts, eid, first))
        return [records.event(row) for row in rows]

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
        ts, eid = min(after or _NEWEST, (until, "") if until is not None else _NEWEST)
        type_list = sorted(set(types))
        type_filter = q.TYPE_FILTER.format(types=marks(len(type_list))) if type_list else ""
        found: dict[str, list[EventRecord]] = defaultdict(list)
        for cid, *row in self._rows(q.TIMELINES, customer_ids, ts, ts, eid, since or "",
                                    *type_list, first, type_filter=type_filter):
            found[cid].append(records.event(row))
        return dict(found)

    async def events(self, event_ids: Collection[str]) -> dict[str, EventRecord]:
        found = (records.event(row) for row in self._rows(q.EVENTS, event_ids))
        return {e.event_id: e for e in found}

    async def timeline_counts(self, customer_ids: Collection[str], window: TimelineWindow
                              ) -> dict[str, int]:
        types = sorted(set(window.types))
        type_filter = q.TYPE_FILTER.format(types=marks(len(types))) if types else ""
        return {cid: n for cid, n in self._rows(
            q.TIMELINE_COUNTS, customer_ids, window.since or "", window.until or _NEWEST[0],
            *types, type_filter=type_filter)}

    async def links_of(self, customer_id: str) -> list[LinkRecord]:
        return [records.link(row) for row in self.db.execute(q.LINKS_OF, (customer_id,))]

    async def links_touching(self, keys: Collection[str]) -> list[LinkRecord]:
        found: dict[tuple[str, str], LinkRecord] = {}
        for chunk in chunks(keys):
            rows = self.db.execute(q.LINKS_TOUCHING.format(marks=marks(len(chunk))),
                                   [*chunk, *chunk])
            for row in rows:
                link = records.link(row)
                found[(link.a, link.b)] = link
        return [found[p] for p in sorted(found)]

    async def links_with_status(self, status: str) -> list[tuple[str, str, str]]:
        return [(a, b, reason or "") for a, b, reason in
                self.db.execute(q.LINKS_WITH_STATUS, (status,))]

    async def audit_log(self, first: int, before: int | None) -> list[AuditRecord]:
        rows = self.db.execute(q.AUDIT_LOG, (before if before is not None else 2**62, first))
        return [records.audit(row) for row in rows]

    async def audit_count(self) -> int:
        return int(self.db.execute(q.AUDIT_COUNT).fetchone()[0])

    async def audit_entry(self, seq: int) -> AuditRecord | None:
        found = self.db.execute(q.AUDIT_ENTRY, (seq,)).fetchone()
        return records.audit(found) if found else None

    async def splits_of(self, customer_ids: Collection[str]) -> dict[str, list[Split]]:
        found: dict[str, list[Split]] = defaultdict(list)
        for current, *row in self._rows(q.SPLITS_OF, customer_ids):
            found[current].append(records.split(row))
        return dict(found)

    async def merges_into(self, customer_ids: Collection[str]) -> dict[str, list[Merge]]:
        found: dict[str, list[Merge]] = defaultdict(list)
        for current, *row in self._rows(q.MERGES_INTO, customer_ids):
            found[current].append(records.merge(row))
        return dict(found)

    async def customer_page(self, after: str | None, limit: int) -> list[str]:
        return [r[0] for r in self.db.execute(q.CUSTOMER_PAGE, (after or "", limit))]

    async def stats(self) -> StoreStats:
        def count(sql: str) -> int:
            return int(self.db.execute(sql).fetchone()[0])

        return StoreStats(
            customers=count(q.COUNT_CUSTOMERS),
            identifiers=count(q.COUNT_IDENTIFIERS),
            links=count(q.COUNT_LINKS),
            events=count(q.COUNT_EVENTS),
        )

    # -- profile and search ----------------------------------------------------------
    async def profile_observations(
        self, customer_ids: Collection[str]
    ) -> dict[str, list[Observation]]:
        found: dict[str, list[Observation]] = defaultdict(list)
        for cid, *row in self._rows(q.PROFILE_OBSERVATIONS, customer_ids):
            found[cid].append(records.observation(row))
        return dict(found)

    async def search(self, text: str, limit: int, typos: bool = False
                     ) -> list[tuple[str, str, str]]:
        tokens = [t for t in text.lower().split() if len(t) >= 3]
        if not tokens:
            return []
        # Each token as a phrase (a substring, under the trigram tokenizer); with typos,
        # also the pieces of it one of which survives a typo.
        pieces = [p for t in tokens for p in typo_pieces(t)] if typos else []
        phrases = dict.fromkeys([*tokens, *pieces])
        query = " OR ".join('"' + t.replace('"', '""') + '"' for t in phrases)
        return [tuple(r) for r in self.db.execute(q.SEARCH, (query, limit))]

    # -- review queue and models -------------------------------------------------------
    async def reviews(
        self, first: int, after: int | None, status: ReviewStatus = ReviewStatus.OPEN
    ) -> list[ReviewRecord]:
        rows = self.db.execute(q.REVIEWS, (status, after or 0, first))
        return [records.review(row) for row in rows]

    async def review_count(self, status: ReviewStatus = ReviewStatus.OPEN) -> int:
        return int(self.db.execute(q.REVIEW_COUNT, (status,)).fetchone()[0])

    async def review(self, review_id: int) -> ReviewRecord | None:
        row = self.db.execute(q.REVIEW, (review_id,)).fetchone()
        return records.review(row) if row else None

    async def load_model(self, name: str) -> dict[str, Any] | None:
        row = self.db.execute(q.LOAD_MODEL, (name,)).fetchone()
        return json.loads(row[0]) if row else None

    async def save_model(self, name: str, body: dict[str, Any], trained_at: str) -> None:
        self.db.execute(q.SAVE_MODEL, (name, json.dumps(body), trained_at))

    async def match_records(self, keys: Collection[str]) -> dict[str, dict[str, str]]:
        return {key: json.loads(traits) for key, traits in self._rows(q.MATCH_TRAITS, keys)}

    async def membership(self) -> tuple[dict[str, str | None], list[tuple[str, str]]]:
        owners = dict(self.db.execute(q.MEMBERSHIP_OWNERS))
        links = [(a, b) for a, b in self.db.execute(q.ACTIVE_LINKS)]
        return owners, links
