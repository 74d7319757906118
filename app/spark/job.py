"""The rebuild on Spark, stage by stage: records -> new events -> identifiers and link
candidates -> inactive identifiers -> components -> customers -> the plan that takes the
store from what it holds to the result (app/spark/sections.py), written as Parquet to the
staging directory. Nothing here touches the store.

What a store already holds comes in as `Stored` (exported by app/services/spark_rebuild.py):
its identifiers with their first sightings, its links with the evidence its events gave
(a steward's and the matcher's included), its bans, customers, merge histories and event
ids. New events add to that evidence exactly as `resolution.components._with_evidence` adds
a batch's evidence to a stored link: the earlier first moment, the union of the sources. So a
rebuild of files into an empty store gives what loading them gives, a rebuild over a store
gives what loading them into it would (ids named after anchors), and a rebuild of the
store alone (`--from-store`) re-resolves what it holds under the current rules.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from app.domain.plan import ACTIVE, BANNED, QUARANTINED, REMOVED
from app.spark import components, evidence, matching, resolve, sections
from app.spark.inputs import CHUNK_BYTES, InputFile, InputKind, chunks
from app.spark.kafka import Slice
from app.spark.parse import LINE_PLACEHOLDER, ParseConfig, RowKind, parquet_raw
from app.spark.staging import Staging

if TYPE_CHECKING:
    import pyarrow as pa
    from pyspark.sql import DataFrame, SparkSession

# The reason a rule gives a hub; any other quarantine is a steward's, which a rebuild keeps.
HUB_REASON_PREFIX = "hub: "


@dataclass(frozen=True, slots=True)
class Stored:
    """Parquet directories of what the store holds (None: an empty store)."""

    identifiers: str  # key, type, value, first_seen, first_event, status, reason, customer_id
    links: str  # a, b, first_seen, first_event, sources, status, reason
    customers: str  # id, first_seen, first_event, first_key, settled, merged_into, erased
    history: str  # current, absorbed, survivor, at, event_id, reason, seq
    bans: str  # a, b
    event_ids: str | None = None  # event_id; read only when files add events


@dataclass(frozen=True, slots=True)
class KafkaInput:
    bootstrap: str
    slices: list[Slice]


@dataclass(slots=True)
class JobReport:
    """What the job read and made, for the command's summary."""

    lines: int = 0  # records read
    events: int = 0  # new events
    duplicates: int = 0  # events the store holds, or read twice
    rejected: int = 0
    dropped: int = 0  # problems that left the event in (an identifier, a trait)
    identifiers: int = 0
    customers: int = 0
    components: int = 0
    largest_component: int = 0  # its identifiers, links and bans
    sections: dict[str, int] = field(default_factory=dict)  # rows of each plan section
    seconds: dict[str, float] = field(default_factory=dict)  # each stage's wall time


class RebuildJob:
    def __init__(self, spark: SparkSession, staging: Staging, config: ParseConfig,
                 now: str, chunk_bytes: int = CHUNK_BYTES) -> None:
        self.spark = spark
        self.staging = staging
        self.config = config
        self.now = now
        self.chunk_bytes = chunk_bytes
        self.report = JobReport()

    def stage(self, frame: DataFrame, name: str) -> DataFrame:
        with self._timed(name):
            return self.staging.stage(self.spark, frame, name)

    @contextmanager
    def _timed(self, name: str) -> Iterator[None]:
        start = time.monotonic()
        yield
        self.report.seconds[name] = round(time.monotonic() - start, 3)

    def run(self, files: list[InputFile], stored: Stored | None,
            kafka: KafkaInput | None = None) -> JobReport:
        """Read, resolve, and write the plan sections and the rejects to staging."""
        from pyspark.sql import functions as F

        old = _Old(self.spark, stored)
        parsed = self.parsed(files, kafka)
        problems = self.line_problems(parsed, self.line_starts(parsed, files))
        occurrences = self.stage(parsed.where(F.col("kind") == RowKind.EVENT), "occurrences")
        kept = self.stage(self.kept(occurrences, old.event_ids), "kept")
        problems = self.stage(problems.unionByName(self.event_problems(occurrences, kept)),
                              "problems")
        new = kept.where(F.col("stored"))
        found = self.stage(evidence.sightings(evidence.observations(new)), "new_sightings")
        matched = self.matched(new)
        paired = evidence.pairs(new)
        if matched is not None:
            paired = paired.unionByName(matching.link_pairs(matched))
        fresh = self.stage(evidence.evidence(paired), "new_links")
        keys = self.stage(sections.all_keys(found, old.identifiers), "keys")
        candidates = self.stage(_candidates(fresh, old.links, old.bans), "candidates")
        inactive = self.inactive(keys, candidates)
        nodes, mergeable = self.components(keys, candidates, inactive)
        resolved = self.resolved(nodes, mergeable, old.bans)
        decided = self.decisions(candidates, resolved, self.stopped(candidates, inactive))
        plan = sections.Sections(self.now, found, fresh, keys, inactive, resolved, decided,
                                 old, matched)
        for name, frame in plan.tables(new).items():
            with self._timed(f"result/{name}"):
                self.staging.result(frame, name)
        with self._timed("rejects"):
            reject_lines(problems).write.mode("overwrite").text(self.staging.path("rejects"))
        with self._timed("counts"):
            self._count(parsed, occurrences, kept, problems)
        return self.report

    # -- records ---------------------------------------------------------------------------
    def parsed(self, files: list[InputFile], kafka: KafkaInput | None) -> DataFrame:
        """Every record of the input files as event and problem rows (and JSONL ranges)."""
        from app.spark.parse import PARSED_SCHEMA, parse_jsonl, parse_kafka, parse_records

        frames = []
        if kafka is not None and kafka.slices:
            frames.append(parse_kafka(self.spark, kafka.bootstrap, kafka.slices, self.config))
        jsonl = chunks(files, self.chunk_bytes)
        if jsonl:
            frames.append(parse_jsonl(self.spark, jsonl, self.config))
        for f in files:
            if f.kind is InputKind.PARQUET:
                frames.append(parse_records(self._parquet_records(f), self.config,
                                            parquet_raw))
        if not frames:
            return self.spark.createDataFrame([], PARSED_SCHEMA)
        out = frames[0]
        for frame in frames[1:]:
            out = out.unionByName(frame)
        return self.stage(out, "parsed")

    def _parquet_records(self, f: InputFile) -> DataFrame:
        from pyspark.sql import functions as F

        frame = self.spark.read.parquet(f.uri)
        row = F.col("_metadata.row_index")
        return frame.select("*", F.lit(f.index).alias("file"), row.alias("offset"),
                            F.concat(F.lit(f"{f.path}:row "), (row + 1).cast("string"))
                            .alias("position"))

    def line_starts(self, parsed: DataFrame, files: list[InputFile]) -> DataFrame:
        """(file, chunk, start, path): the number of lines before each JSONL range."""
        from pyspark.sql import Window
        from pyspark.sql import functions as F

        ranges = parsed.where(F.col("kind") == RowKind.CHUNK).select("file", "chunk", "line")
        before = Window.partitionBy("file").orderBy("chunk").rowsBetween(
            Window.unboundedPreceding, -1)
        paths = self.spark.createDataFrame([(f.index, f.path) for f in files] or [(-1, "")],
                                           "file int, path string")
        return (ranges.withColumn("start", F.coalesce(F.sum("line").over(before), F.lit(0)))
                .join(paths, "file").select("file", "chunk", "start", "path"))

    def line_problems(self, parsed: DataFrame, starts: DataFrame) -> DataFrame:
        from pyspark.sql import functions as F

        problems = parsed.where(F.col("kind") == RowKind.PROBLEM).select(
            "file", "chunk", "line", "problem")
        placed = problems.join(starts, ["file", "chunk"], "left")
        position = F.when(F.col("problem.position") == LINE_PLACEHOLDER,
                          F.concat("path", F.lit(":"), (F.col("start") + F.col("line"))
                                   .cast("string"))).otherwise(F.col("problem.position"))
        return placed.select(F.col("problem").withField("position", position).alias("problem"))

    # -- events ----------------------------------------------------------------------------
    def kept(self, occurrences: DataFrame, stored_ids: DataFrame | None) -> DataFrame:
        """The first event read of each id the store does not hold."""
        from pyspark.sql import Window
        from pyspark.sql import functions as F

        first = Window.partitionBy("event_id").orderBy("file", "offset")
        kept = (occurrences.withColumn("n", F.row_number().over(first))
                .where(F.col("n") == 1).drop("n"))
        return kept if stored_ids is None else kept.join(stored_ids, "event_id", "left_anti")

    def event_problems(self, occurrences: DataFrame, kept: DataFrame) -> DataFrame:
        """What a load reports once its batch is deduplicated: the dropped identifiers of
        each new event, and the traits left out of matching of every copy of it whose
        record belongs to one of its identifiers."""
        from pyspark.sql import functions as F

        dropped = kept.select(F.explode("dropped").alias("problem"))
        copies = occurrences.select("event_id", "trait_key", "trait_problems")
        owned = copies.join(kept.select("event_id", F.col("keys").alias("kept_keys")),
                            "event_id").where(F.array_contains("kept_keys", F.col("trait_key")))
        traits = owned.select(F.explode("trait_problems").alias("problem"))
        return dropped.unionByName(traits)

    # -- matching --------------------------------------------------------------------------
    def matched(self, new: DataFrame) -> DataFrame | None:
        """The store's matcher over the new events' records (app/spark/matching.py); None
        when the store has no matcher."""
        matcher = self.config.matcher
        if matcher is None:
            return None
        found = self.stage(matching.records(new), "match_records")
        grouped = matching.blocking_components(found, self.stage)
        buckets = int(self.spark.conf.get("spark.sql.shuffle.partitions") or "8")
        return self.stage(matching.match(grouped, matcher, buckets), "matched")

    # -- the graph -------------------------------------------------------------------------
    def inactive(self, keys: DataFrame, candidates: DataFrame) -> DataFrame:
        from pyspark.sql import functions as F

        degree = evidence.degrees(candidates.select("a", "b"), self.config.rules.hub_count_types)
        steward = (F.col("old_status") == QUARANTINED) & ~F.col("old_reason").startswith(
            HUB_REASON_PREFIX)
        rows = (keys.join(degree, "key", "left").fillna(0, ["degree"])
                .select("key", "type", "value", "degree",
                        F.when(steward, F.col("old_status")).alias("carried_status"),
                        F.when(steward, F.col("old_reason")).alias("carried_reason")))
        return self.stage(resolve.inactive(rows, self.config.rules), "inactive")

    def components(self, keys: DataFrame, candidates: DataFrame,
                   inactive: DataFrame) -> tuple[DataFrame, DataFrame]:
        """(nodes: key, id, component, first_seen, first_event) for the active keys, and
        the links among them that may merge."""
        from pyspark.sql import functions as F

        active = keys.join(inactive.select("key"), "key", "left_anti")
        nodes = self.stage(active.select("key", "first_seen", "first_event").withColumn(
            "id", F.monotonically_increasing_id()), "nodes")
        ids = nodes.select("key", "id")
        mergeable = (candidates.where(F.col("carried_status").isNull())
                     .join(ids.withColumnRenamed("key", "a").withColumnRenamed("id", "ia"), "a")
                     .join(ids.withColumnRenamed("key", "b").withColumnRenamed("id", "ib"), "b"))
        mergeable = self.stage(mergeable, "mergeable")
        found = components.connected_components(
            mergeable.select(F.col("ia").alias("src"), F.col("ib").alias("dst")),
            lambda frame, name: self.stage(frame, f"components/{name}"))
        nodes = nodes.join(found.withColumnRenamed("node", "id"), "id", "left").withColumn(
            "component", F.coalesce("component", "id"))
        return self.stage(nodes, "components"), mergeable

    def resolved(self, nodes: DataFrame, mergeable: DataFrame,
                 bans: DataFrame | None) -> DataFrame:
        from pyspark.sql import functions as F

        component_of = nodes.select("key", "component")
        none = F.lit(None).cast("string")
        rows = nodes.select("component", F.lit("node").alias("kind"), F.col("key").alias("a"),
                            none.alias("b"), "first_seen", "first_event",
                            F.lit(None).cast("array<string>").alias("sources"))
        links = mergeable.join(component_of.withColumnRenamed("key", "a"), "a").select(
            "component", F.lit("link").alias("kind"), "a", "b", "first_seen", "first_event",
            "sources")
        rows = rows.unionByName(links)
        if bans is not None:
            ends = (bans.join(component_of.withColumnRenamed("key", "a"), "a")
                    .join(component_of.withColumnRenamed("key", "b")
                          .withColumnRenamed("component", "other"), "b")
                    .where(F.col("component") == F.col("other")))
            rows = rows.unionByName(ends.select(
                "component", F.lit("ban").alias("kind"), "a", "b", none.alias("first_seen"),
                none.alias("first_event"), F.lit(None).cast("array<string>").alias("sources")))
        sizes = self.stage(rows.groupBy("component").agg(F.count(F.lit(1)).alias("size")),
                           "sizes")
        stats = sizes.agg(F.count(F.lit(1)).alias("n"), F.max("size").alias("largest"),
                          F.sum("size").alias("rows")).collect()[0]
        self.report.components = int(stats["n"] or 0)
        self.report.largest_component = int(stats["largest"] or 0)
        buckets = max(int(self.spark.conf.get("spark.sql.shuffle.partitions") or "8"),
                      -(-int(stats["rows"] or 0) // resolve.BUCKET_ROWS))
        bucket = F.when(F.col("size") > resolve.BIG_COMPONENT, -1 - F.col("component")
                        ).otherwise(F.pmod(F.xxhash64("component"), F.lit(buckets)))
        rows = rows.join(sizes, "component").withColumn("bucket", bucket).drop("size")
        return self.stage(resolve.resolve_components(rows, self.config.rules), "resolved")

    def stopped(self, candidates: DataFrame, inactive: DataFrame) -> DataFrame:
        from pyspark.sql import functions as F

        def end(name: str) -> DataFrame:
            return inactive.select(F.col("key").alias(name),
                                   F.col("status").alias(f"{name}_status"),
                                   F.col("reason").alias(f"{name}_reason"))

        touching = (candidates.join(end("a"), "a", "left").join(end("b"), "b", "left")
                    .where(F.col("a_status").isNotNull() | F.col("b_status").isNotNull())
                    .select("a", "b", "first_seen", "first_event", "sources",
                            F.coalesce("carried_status", F.lit(ACTIVE)).alias("status"),
                            F.coalesce("carried_reason", F.lit("")).alias("reason"),
                            "a_status", "a_reason", "b_status", "b_reason"))
        return self.stage(resolve.stopped(touching, self.config.rules), "stopped")

    def decisions(self, candidates: DataFrame, resolved: DataFrame,
                  stopped: DataFrame) -> DataFrame:
        """(a, b, status, reason) of every candidate: a rule's decision, else a steward's
        status it keeps, else active."""
        from pyspark.sql import functions as F

        ruled = (resolved.where(F.col("kind") == resolve.ResolvedRow.DECISION)
                 .select("a", "b", "status", "reason").unionByName(stopped))
        joined = candidates.join(ruled, ["a", "b"], "left")
        return self.stage(joined.select(
            "a", "b",
            F.coalesce("status", "carried_status", F.lit(ACTIVE)).alias("status"),
            F.when(F.col("status").isNotNull(), F.col("reason"))
            .otherwise(F.coalesce("carried_reason", F.lit(""))).alias("reason")), "decisions")

    def _count(self, parsed: DataFrame, occurrences: DataFrame, kept: DataFrame,
               problems: DataFrame) -> None:
        from pyspark.sql import functions as F

        r = self.report
        # every record read makes an event or a problem row; blank lines make none
        r.lines = int(parsed.where(F.col("kind") != RowKind.CHUNK)
                      .select("file", "chunk", "offset").distinct().count())
        events = kept.agg(F.count(F.lit(1)), F.sum(F.col("stored").cast("int"))).collect()[0]
        r.events = int(events[1] or 0)
        r.duplicates = int(occurrences.count()) - int(events[0])
        found = problems.agg(F.sum(F.col("problem.rejected").cast("int")),
                             F.count(F.lit(1))).collect()[0]
        r.rejected = int(found[0] or 0)
        r.dropped = int(found[1]) - r.rejected
        for name in sections.SECTIONS:
            r.sections[name] = self.staging.rows("result", name)
        r.identifiers = self.staging.rows("stage", "keys")
        r.customers = int(self.spark.read.parquet(self.staging.path("stage", "resolved"))
                          .where(F.col("kind") == resolve.ResolvedRow.CUSTOMER).count())


class _Old:
    """What the store holds, as DataFrames (None for each part of an empty store)."""

    def __init__(self, spark: SparkSession, stored: Stored | None) -> None:
        def read(path: str | None) -> DataFrame | None:
            return None if path is None else spark.read.parquet(path)

        self.identifiers = read(stored.identifiers if stored else None)
        self.links = read(stored.links if stored else None)
        self.customers = read(stored.customers if stored else None)
        self.history = read(stored.history if stored else None)
        self.bans = read(stored.bans if stored else None)
        self.event_ids = read(stored.event_ids if stored else None)


def _candidates(fresh: DataFrame, links: DataFrame | None,
                bans: DataFrame | None) -> DataFrame:
    """Every link that partition weighs: a stored link with the new evidence added (the
    earlier first moment, the union of the sources), and the status a steward gave it that
    it keeps: banned, or removed while no new event gives it evidence again."""
    from pyspark.sql import functions as F

    new = fresh.select("a", "b", "first_seen", "first_event", "sources",
                       F.lit(True).alias("fresh"))
    if links is None:
        return new.select("a", "b", "first_seen", "first_event", "sources",
                          F.lit(None).cast("string").alias("carried_status"),
                          F.lit(None).cast("string").alias("carried_reason"))
    old = links.select(*[F.col(c).alias(f"o_{c}") for c in links.columns])
    joined = new.join(old, (new.a == old.o_a) & (new.b == old.o_b), "full")
    earlier = F.when(F.col("first_seen").isNull() | (
        F.col("o_first_seen").isNotNull()
        & (F.struct("o_first_seen", "o_first_event") < F.struct("first_seen", "first_event"))),
        F.struct(F.col("o_first_seen").alias("s"), F.col("o_first_event").alias("e"))
    ).otherwise(F.struct(F.col("first_seen").alias("s"), F.col("first_event").alias("e")))
    empty = F.array().cast("array<string>")
    status = (F.when(F.col("o_status") == BANNED, F.lit(BANNED))
              .when((F.col("o_status") == REMOVED) & F.col("fresh").isNull(), F.lit(REMOVED)))
    out = joined.select(
        F.coalesce("a", "o_a").alias("a"), F.coalesce("b", "o_b").alias("b"),
        earlier["s"].alias("first_seen"), earlier["e"].alias("first_event"),
        F.array_sort(F.array_union(F.coalesce("sources", empty), F.coalesce("o_sources", empty)))
        .alias("sources"),
        status.alias("carried_status"),
        F.when(status.isNotNull(), F.col("o_reason")).alias("carried_reason"))
    if bans is None:
        return out
    # a pair banned before any link held it: banned from its first evidence
    banned = bans.select("a", "b", F.lit(True).alias("ban"))
    out = out.join(banned, ["a", "b"], "left")
    return out.select(
        "a", "b", "first_seen", "first_event", "sources",
        F.when(F.col("ban") & F.col("carried_status").isNull(), F.lit(BANNED))
        .otherwise(F.col("carried_status")).alias("carried_status"),
        F.when(F.col("ban") & F.col("carried_status").isNull(), F.lit(""))
        .otherwise(F.col("carried_reason")).alias("carried_reason"))


REJECT_SCHEMA = "value string"


def reject_lines(problems: DataFrame) -> DataFrame:
    """Each problem as the JSON line a load writes to its rejects file."""
    import json

    from app.services.ingest import Problem
    from app.spark.arrow import arrow_schema, batches_of

    schema = arrow_schema(REJECT_SCHEMA)

    def lines(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            yield from batches_of(
                ({"value": json.dumps(Problem(p["position"], p["field"], p["reason"],
                                              p["rejected"], p["event_id"], p["erased"])
                                      .to_json())} for p in batch.column(0).to_pylist()),
                schema)

    return problems.select("problem").mapInArrow(lines, REJECT_SCHEMA)
