"""Rebuild use case: gather what the store holds, let Spark decide the whole graph, apply
the result to the store in bulk.

1. gather: the store's fingerprint, and (unless it is empty) its identifiers, links,
   customers, histories, bans and event ids, exported as Parquet to the staging directory;
2. decide: the Spark job (app/spark/job.py) reads the input files, resolves every
   component with the domain's functions, and writes the plan that takes the store to the
   result, section by section, with the rejects; nothing of the store changes meanwhile;
3. apply: the sections become Plans (in order, in batches), applied by the store's own
   `_apply` (app/stores/bulk.py says how atomically), with the change events and segment
   checks any write leaves; then the segment checks are evaluated.

A rebuild that dies before 3 leaves the store as it was and can simply run again.
"""

from __future__ import annotations

import json
import os
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.domain.effects import changes_of, pending_checks
from app.domain.events import Event, format_ts, parse_ts
from app.domain.identifiers import Identifier
from app.domain.matching.training import Matcher
from app.domain.plan import (
    CustomerInfo,
    IdentifierDelta,
    IdentifierStatusChange,
    LinkDelta,
    LinkStatusChange,
    Merge,
    Plan,
    ReviewItem,
)
from app.domain.privacy import SuppressionKey
from app.domain.rules import Rules
from app.services.readmodel import build_documents
from app.stores import bulk_of
from app.stores.base import IdentityStore
from app.stores.bulk import (
    EXPORTS,
    BulkStore,
    PendingSwitch,
    RebuildRecord,
    SwitchPending,
)
from app.stores.bulk import Switch as SwitchPlans

if TYPE_CHECKING:
    from app.services.segments import SegmentService
    from app.spark.job import JobReport, Stored
    from app.spark.session import SparkConfig

PLAN_ROWS = 5000  # rows of a section per Plan (and per transaction on Neo4j)
Clock = Callable[[], datetime]


@dataclass(frozen=True, slots=True)
class RebuildOptions:
    files: tuple[str, ...] = ()
    from_store: bool = False  # with no files: re-resolve what the store holds
    staging: str | None = None  # default: a temporary directory, removed after
    rejects: Path = Path("rejects")
    input_format: str = "auto"
    chunk_bytes: int | None = None
    plan_rows: int = PLAN_ROWS
    keep_staging: bool = False
    # topic -> partition -> next offset: the Kafka positions the input files cover
    positions: dict[str, dict[int, int]] = field(default_factory=dict)
    # topics read whole, up to their offsets when the rebuild starts (recorded as positions)
    kafka_topics: tuple[str, ...] = ()
    bootstrap_servers: str | None = None


@dataclass(slots=True)
class SparkRebuildReport:
    id: str
    job: JobReport
    staging: str
    rejects: Path | None
    seconds: dict[str, float] = field(default_factory=dict)


class RebuildService:
    def __init__(self, store: IdentityStore, *, rules: Rules, default_region: str = "NL",
                 suppression: SuppressionKey | None = None,
                 segments: SegmentService | None = None,
                 matcher: Matcher | None = None,
                 clock: Clock = lambda: datetime.now(UTC)) -> None:
        self.store = store
        self.matcher = matcher  # the store's trained matcher, as loading uses it
        self.bulk: BulkStore = bulk_of(store)
        self.rules = rules
        self.default_region = default_region
        self.suppression = suppression
        self.segments = segments
        self.clock = clock
        # called with each switch step once applied (the crash tests kill the process there)
        self.applied: Callable[[int], None] | None = None

    async def rebuild(self, options: RebuildOptions, spark: SparkConfig) -> SparkRebuildReport:
        import time

        from app.spark.inputs import CHUNK_BYTES, list_inputs
        from app.spark.job import KafkaInput, RebuildJob
        from app.spark.kafka import ranges
        from app.spark.parse import ParseConfig
        from app.spark.session import spark_session
        from app.spark.staging import Staging

        if (pending := await self.bulk.pending_switch()) is not None:
            await self.finish(pending)
        files = list_inputs(options.files)
        kafka, positions = None, dict(options.positions)
        if options.kafka_topics:
            slices, covered = await ranges(options.bootstrap_servers or "",
                                           list(options.kafka_topics), len(files))
            kafka = KafkaInput(options.bootstrap_servers or "", slices)
            positions.update(covered)
        started = self.clock()
        now = format_ts(started)
        rebuild_id = f"r_{started:%Y%m%dT%H%M%S}_{uuid.uuid4().hex[:8]}"
        root = options.staging or tempfile.mkdtemp(prefix="idgraph-rebuild-")
        staging = Staging(f"{root.rstrip('/')}/{rebuild_id}")
        seconds: dict[str, float] = {}
        mark = time.monotonic()
        fingerprint = await self.bulk.fingerprint()
        reads = bool(files) or kafka is not None
        stored = None if await self.bulk.is_empty() else await self._export(
            staging, with_event_ids=reads)
        suppressed = await self.bulk.suppressed() if reads else {}
        seconds["export"], mark = time.monotonic() - mark, time.monotonic()
        config = ParseConfig(self.rules, self.default_region, options.input_format,
                             suppressed=suppressed, suppression=self.suppression,
                             matcher=self.matcher)
        session = spark_session(spark)
        seconds["session"], mark = time.monotonic() - mark, time.monotonic()
        job = RebuildJob(session, staging, config, now, options.chunk_bytes or CHUNK_BYTES)
        report = job.run(files, stored, kafka)
        seconds["spark"], mark = time.monotonic() - mark, time.monotonic()
        inputs = [f.path for f in files] + [f"kafka:{t}" for t in options.kafka_topics]
        record = RebuildRecord(rebuild_id, now, format_ts(self.clock()), inputs or ["store"],
                               positions, asdict(report))
        await self.bulk.switch(SwitchPlans(record, fingerprint, staging.uri, options.plan_rows,
                                           plans(staging, now, options.plan_rows),
                                           self.applied))
        seconds["switch"], mark = time.monotonic() - mark, time.monotonic()
        await self._settle()
        seconds["settle"] = time.monotonic() - mark
        rejects = _copy_rejects(staging, options.rejects)
        if not options.keep_staging:
            staging.remove()
            if options.staging is None:
                os.rmdir(root)
        return SparkRebuildReport(rebuild_id, report, staging.uri, rejects, seconds)

    async def finish(self, pending: PendingSwitch) -> None:
        """Finish a switch cut off half-way, from the plans its staging directory holds."""
        from app.spark.staging import Staging

        staging = Staging(pending.staging)
        if not staging.exists("result", "new_customers"):
            raise SwitchPending(
                f"rebuild {pending.id} was cut off while switching, and its staging directory "
                f"{pending.staging} is gone: restore it (or the store's backup) before "
                "rebuilding")
        await self.bulk.resume(pending, plans(staging, pending.now, pending.plan_rows,
                                              skip=pending.done), format_ts(self.clock()))
        await self._settle()

    async def _settle(self) -> None:
        """After a switch: the segment checks it left, and the profile read model, whose
        documents the switch dropped with the graph they were made from (written last, so
        that they hold the settled segments)."""
        if self.segments is not None:
            await self.segments.settle()
        await build_documents(self.store)

    async def _export(self, staging: Any, *, with_event_ids: bool) -> Stored:
        """What the store holds, as Parquet under staging/stored/."""
        import pyarrow as pa
        import pyarrow.fs as pafs
        import pyarrow.parquet as pq

        from app.spark.job import Stored

        paths = {}
        for table, columns in EXPORTS.items():
            if table == "event_ids" and not with_event_ids:
                continue
            schema = pa.schema([(name, _arrow_type(kind)) for name, kind in columns.items()])
            path = staging.path("stored", table)
            fs, inner = pafs.FileSystem.from_uri(path)
            fs.create_dir(inner, recursive=True)
            with pq.ParquetWriter(f"{inner}/part-0.parquet", schema, filesystem=fs) as writer:
                async for batch in self.bulk.export(table):
                    writer.write_table(pa.Table.from_pylist(batch, schema=schema))
            paths[table] = path
        return Stored(paths["identifiers"], paths["links"], paths["customers"],
                      paths["history"], paths["bans"], paths.get("event_ids"))


def _arrow_type(kind: str) -> Any:
    import pyarrow as pa

    return {"string": pa.string(), "bool": pa.bool_(), "int64": pa.int64(),
            "list<string>": pa.list_(pa.string())}[kind]


def _copy_rejects(staging: Any, target: Path) -> Path | None:
    """The rejects as one JSONL file (`target`/rejects.jsonl), None when there are none."""
    import pyarrow.fs as pafs

    if not staging.exists("rejects"):
        return None
    fs, inner = pafs.FileSystem.from_uri(staging.path("rejects"))
    parts = sorted(i.path for i in fs.get_file_info(pafs.FileSelector(inner))
                   if i.base_name.startswith("part-"))
    text = b"".join(fs.open_input_stream(p).read() for p in parts)
    if not text:
        return None
    target.mkdir(parents=True, exist_ok=True)
    out = target / "rejects.jsonl"
    out.write_bytes(text)
    return out


# -- the plans of a rebuild's sections ----------------------------------------------------
def _rows(staging: Any, section: str) -> Iterator[dict[str, Any]]:
    """A section's rows, in the order Spark sorted them (its files in name order)."""
    import pyarrow.dataset as ds

    path = staging.path("result", section)
    if not staging.exists("result", section):
        return
    files = sorted(f for f in ds.dataset(path, format="parquet").files)
    for name in files:
        for batch in ds.dataset(name, format="parquet").to_batches():
            yield from batch.to_pylist()


def _chunks(rows: Iterator[dict[str, Any]], size: int,
            same: Callable[[dict[str, Any]], object] | None = None
            ) -> Iterator[list[dict[str, Any]]]:
    """Runs of `size` rows; with `same`, a run never splits rows that share its value."""
    chunk: list[dict[str, Any]] = []
    for row in rows:
        if len(chunk) >= size and (same is None or same(row) != same(chunk[-1])):
            yield chunk
            chunk = []
        chunk.append(row)
    if chunk:
        yield chunk


def _info(r: dict[str, Any]) -> CustomerInfo:
    return CustomerInfo(r["id"], r["first_seen"], r["first_event"], r["first_key"],
                        r["settled"])


def _merge(r: dict[str, Any]) -> Merge:
    return Merge(r["absorbed"], r["survivor"], r["at"], r["event_id"], r["reason"])


def _event(r: dict[str, Any]) -> Event:
    from app.domain import bounds

    body = bounds.decode(r["body"])
    assert isinstance(body, dict)
    return Event(r["event_id"], r["type"], parse_ts(r["ts"]), r["source"],
                 tuple(Identifier.from_key(k) for k in r["keys"]), body.get("traits") or {},
                 body.get("properties") or {}, body.get("consent") or {})


def _history(rows: list[dict[str, Any]]) -> dict[str, list[Merge]]:
    history: dict[str, list[Merge]] = {}
    for r in rows:
        history.setdefault(r["customer"], []).append(_merge(r))
    return history


# A plan's section from its staged rows: each section is the Plan field of the same name.
_SECTION_READERS: dict[str, Callable[[list[dict[str, Any]]], Any]] = {
    "history_reset": lambda rows: {r["id"] for r in rows},
    "new_customers": lambda rows: [_info(r) for r in rows],
    "customer_updates": lambda rows: {r["id"]: _info(r) for r in rows},
    "renames": lambda rows: [_merge(r) for r in rows],
    "identifiers": lambda rows: [IdentifierDelta(
        r["key"], r["type"], r["value"], r["first_seen"], r["last_seen"],
        tuple(r["sources"]), r["customer_id"], r["status"], r["reason"],
        r["first_event"]) for r in rows],
    "moves": lambda rows: {r["key"]: r["customer_id"] for r in rows},
    "statuses": lambda rows: [IdentifierStatusChange(r["key"], r["status"], r["reason"])
                              for r in rows],
    "links": lambda rows: [LinkDelta(
        r["a"], r["b"], r["count"], r["first_seen"], r["last_seen"], tuple(r["sources"]),
        tuple(r["event_ids"]), r["status"], r["reason"],
        json.loads(r["match"]) if r["match"] else None, r["first_event"]) for r in rows],
    "link_statuses": lambda rows: [LinkStatusChange(r["a"], r["b"], r["status"], r["reason"])
                                   for r in rows],
    "events": lambda rows: [_event(r) for r in rows],
    "search_terms": lambda rows: [(r["key"], r["term"]) for r in rows],
    "unsuppress": lambda rows: [r["key"] for r in rows],
    "match_records": lambda rows: [(r["key"], json.loads(r["traits"]), tuple(r["blocks"]))
                                   for r in rows],
    "reviews": lambda rows: [ReviewItem(r["a"], r["b"], r["score"], json.loads(r["weights"]),
                                        r["created_at"]) for r in rows],
    "history": _history,
}


def _plan(section: str, rows: list[dict[str, Any]]) -> Plan:
    plan = Plan()
    read = _SECTION_READERS.get(section)
    if read is not None:
        setattr(plan, section, read(rows))
    return plan


def plans(staging: Any, now: str, size: int, skip: int = 0) -> Iterator[tuple[int, Plan]]:
    """The rebuild's plans, numbered, in the order they apply: each section in turn (the
    order of app/spark/sections.py SECTIONS), `size` rows a plan, each with the change
    events and segment checks it leaves; the first `skip` are left out (already applied)."""
    from app.spark.sections import SECTIONS

    step = 0
    for section in SECTIONS:
        same = (lambda r: r["customer"]) if section == "history" else None
        for rows in _chunks(_rows(staging, section), size, same):
            step += 1
            if step <= skip:
                continue
            plan = _plan(section, rows)
            owners = {r["key"]: r["old_customer"] for r in rows
                      if section == "identifiers" and r.get("old_customer")}
            plan.changes = changes_of(plan, owners, now)
            plan.segment_checks = pending_checks(plan, now)
            yield step, plan
