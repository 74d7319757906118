"""Fuzzy matching on Spark with the store's trained matcher and the stream's own step
(app/domain/matching/stream.py match_batch): the same blocking keys, candidate cut,
comparisons, calibrated thresholds and household guard.

Blocking is a join: records that share a blocking key are tied, and the records tied
directly or through others form a blocking component (large-star/small-star, as for the
links). The stream compares a record only with earlier records under its own blocking
keys, and the clusters its matches make never leave such a component, so matching each
component on its own, in time order, gives what one batch of every event gives.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from app.domain.events import Event, parse_ts
from app.domain.matching.records import MatchRecord
from app.domain.matching.stream import PendingRecord, match_batch
from app.domain.matching.training import Matcher
from app.domain.plan import pair
from app.domain.resolution import MATCHER_SOURCE
from app.spark import components
from app.spark.arrow import arrow_schema, table_of

if TYPE_CHECKING:
    import pyarrow as pa
    from pyspark.sql import DataFrame

BUCKETS_PER_PARTITION = 4
MATCHED_SCHEMA = (
    "kind string, a string, b string, ts string, event_id string, source string, "
    "score double, payload string, traits string, blocks array<string>, seq int"
)


class Matched:
    LINK = "link"  # a pair above the upper threshold: evidence, as an event's pair is
    REVIEW = "review"  # between the thresholds, or guarded: for the review queue
    RECORD = "record"  # a record the store keeps for later matching (a: its key)


Stage = Callable[["DataFrame", str], "DataFrame"]


def records(new: DataFrame) -> DataFrame:
    """(rid, key, traits, blocks, ts, event_id, type, source) of the new events that make
    a record with blocking keys."""
    from pyspark.sql import functions as F

    return (new.where(F.col("match_traits").isNotNull() & (F.size("match_blocks") > 0))
            .select(F.monotonically_increasing_id().alias("rid"), F.col("trait_key").alias("key"),
                    F.col("match_traits").alias("traits"), F.col("match_blocks").alias("blocks"),
                    "ts", "event_id", "type", "source"))


def blocking_components(found: DataFrame, stage: Stage) -> DataFrame:
    """The records with the blocking component each belongs to (`component`)."""
    from pyspark.sql import functions as F

    filed = found.select("rid", F.explode("blocks").alias("block"))
    first = filed.groupBy("block").agg(F.min("rid").alias("first"))
    edges = (filed.join(first, "block").where(F.col("rid") != F.col("first"))
             .select(F.col("rid").alias("src"), F.col("first").alias("dst")))
    tied = components.connected_components(edges, lambda f, n: stage(f, f"blocking/{n}"))
    return (found.join(tied.withColumnRenamed("node", "rid"), "rid", "left")
            .withColumn("component", F.coalesce("component", "rid")))


def match(grouped: DataFrame, matcher: Matcher, buckets: int) -> DataFrame:
    """Every component's links, reviews and kept records (MATCHED_SCHEMA), by the
    stream's step over a store without records."""
    from pyspark.sql import functions as F

    schema = arrow_schema(MATCHED_SCHEMA)

    def run(table: pa.Table) -> pa.Table:
        by_component: dict[int, list[PendingRecord]] = defaultdict(list)
        for r in table.to_pylist():
            event = Event(r["event_id"], r["type"], parse_ts(r["ts"]), r["source"], ())
            by_component[r["component"]].append(PendingRecord(
                event, r["key"], MatchRecord(r["key"], json.loads(r["traits"])),
                tuple(r["blocks"]), ()))
        out: list[dict[str, Any]] = []
        for pending in by_component.values():
            out += _rows(pending, matcher)
        return table_of(out, schema)

    bucketed = grouped.withColumn("bucket", F.pmod(F.xxhash64("component"), F.lit(buckets)))
    return bucketed.groupBy("bucket").applyInArrow(run, MATCHED_SCHEMA)


def _rows(pending: list[PendingRecord], matcher: Matcher) -> Iterator[dict[str, Any]]:
    step = match_batch(pending, matcher, {}, {}, {})
    for n, m in enumerate(step.matches):
        a, b = pair(m.a, m.b)
        yield {"kind": Matched.REVIEW if m.review else Matched.LINK, "a": a, "b": b,
               "ts": m.event.ts, "event_id": m.event.event_id, "source": m.event.source,
               "score": m.score, "payload": json.dumps(m.payload), "seq": n}
    for p in step.records:
        if p.blocks:
            yield {"kind": Matched.RECORD, "a": p.key, "ts": p.event.ts,
                   "event_id": p.event.event_id, "traits": json.dumps(p.record.traits),
                   "blocks": list(p.blocks)}


def link_pairs(matched: DataFrame) -> DataFrame:
    """The links as evidence rows (a, b, ts, event_id, source, by_match), as evidence.pairs makes
    them for an event's identifiers."""
    from pyspark.sql import functions as F

    return matched.where(F.col("kind") == Matched.LINK).select(
        "a", "b", "ts", "event_id", F.lit(MATCHER_SOURCE).alias("source"),
        F.lit(True).alias("by_match"))


def payloads(matched: DataFrame) -> DataFrame:
    """(a, b, match): each matched link's payload, the latest match's (the stream keeps
    the last one a batch makes)."""
    from pyspark.sql import functions as F

    latest = F.max(F.struct("ts", "event_id", "seq", "payload"))
    return (matched.where(F.col("kind") == Matched.LINK)
            .groupBy("a", "b").agg(latest.alias("m"))
            .select("a", "b", F.col("m.payload").alias("match")))


def match_records(matched: DataFrame) -> DataFrame:
    """(key, traits, blocks) of the records the store keeps, in the order the stream
    files them (a key's latest record wins)."""
    from pyspark.sql import functions as F

    return matched.where(F.col("kind") == Matched.RECORD).select(
        F.col("a").alias("key"), "traits", "blocks", "ts", "event_id")


def reviews(matched: DataFrame, now: str) -> DataFrame:
    """(a, b, score, weights, created_at, ts, event_id, seq) of the pairs for the review
    queue, in the order the stream queues them."""
    from pyspark.sql import functions as F

    return matched.where(F.col("kind") == Matched.REVIEW).select(
        "a", "b", "score", F.col("payload").alias("weights"), F.lit(now).alias("created_at"),
        "ts", "event_id", "seq")
