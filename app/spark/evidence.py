"""Sightings of identifiers and the evidence of links, as Spark aggregations over the
events: what resolution.batch.collect gathers for a batch, for every event at once.

- a sighting: the identifier's first moment (time, then event id), last time and sources;
- a link: each pair of distinct identifiers of an event (a < b), with its count, first
  moment, last time, sources and the ids of its first SAMPLE_EVENT_IDS events in time
  order (a load in time order keeps the same sample);
- a degree: how many distinct identifiers of the hub-counted types a key is linked to.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.domain.resolution import SAMPLE_EVENT_IDS

if TYPE_CHECKING:
    from pyspark.sql import DataFrame


def key_type(column: str = "key") -> str:
    return f"substring_index({column}, ':', 1)"


def key_value(column: str = "key") -> str:
    return f"substring({column}, instr({column}, ':') + 1)"


def observations(events: DataFrame) -> DataFrame:
    """(key, ts, event_id, source) for every identifier of every event."""
    from pyspark.sql import functions as F

    return events.select(F.explode("keys").alias("key"), "ts", "event_id", "source")


def sightings(observed: DataFrame) -> DataFrame:
    from pyspark.sql import functions as F

    return (observed.groupBy("key")
            .agg(F.min(F.struct("ts", "event_id")).alias("first"),
                 F.max("ts").alias("last_seen"),
                 F.array_sort(F.collect_set("source")).alias("sources"))
            .select("key", F.expr(key_type()).alias("type"), F.expr(key_value()).alias("value"),
                    F.col("first.ts").alias("first_seen"),
                    F.col("first.event_id").alias("first_event"), "last_seen", "sources"))


def pairs(events: DataFrame) -> DataFrame:
    """(a, b, ts, event_id, source, by_match) for each pair of distinct identifiers of an
    event (by_match: false; the matcher's links come as rows of their own)."""
    from pyspark.sql import functions as F

    keys = events.select(F.array_sort(F.array_distinct("keys")).alias("k"), "ts", "event_id",
                         "source").where(F.size("k") > 1)
    combos = F.expr("""flatten(transform(sequence(1, size(k) - 1), i ->
                         transform(slice(k, i + 1, size(k) - i), b -> named_struct('a', k[i - 1],
                                                                               'b', b))))""")
    return (keys.select(F.explode(combos).alias("p"), "ts", "event_id", "source")
            .select("p.a", "p.b", "ts", "event_id", "source",
                    F.lit(False).alias("by_match")))


def evidence(paired: DataFrame) -> DataFrame:
    """The links: one row per pair with its aggregated evidence. A batch sees the events'
    pairs before the matcher's links, so these come last in a link's sample."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    order = Window.partitionBy("a", "b").orderBy("by_match", "ts", "event_id")
    ranked = paired.withColumn("rank", F.row_number().over(order))
    sample = F.when(F.col("rank") <= SAMPLE_EVENT_IDS, F.struct("rank", "event_id"))
    return (ranked.groupBy("a", "b")
            .agg(F.count(F.lit(1)).alias("count"),
                 F.min(F.struct("ts", "event_id")).alias("first"),
                 F.max("ts").alias("last_seen"),
                 F.array_sort(F.collect_set("source")).alias("sources"),
                 F.array_sort(F.collect_list(sample)).alias("sample"))
            .select("a", "b", "count", F.col("first.ts").alias("first_seen"),
                    F.col("first.event_id").alias("first_event"), "last_seen", "sources",
                    F.transform("sample", lambda s: s["event_id"]).alias("event_ids")))


def degrees(links: DataFrame, counted: tuple[str, ...]) -> DataFrame:
    """(key, degree): neighbours of the counted types, over every link (one row a pair)."""
    from pyspark.sql import functions as F

    types = list(counted)
    ends = (links.select(F.col("a").alias("key"), F.col("b").alias("other"))
            .unionByName(links.select(F.col("b").alias("key"), F.col("a").alias("other"))))
    return (ends.where(F.expr(key_type("other")).isin(types))
            .groupBy("key").agg(F.count(F.lit(1)).alias("degree")))
