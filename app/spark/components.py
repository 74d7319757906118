"""Connected components on Spark DataFrames: the large-star / small-star algorithm
(Kiveris et al., "Connected Components in MapReduce and Beyond", 2014), which GraphFrames
runs, written on DataFrames so that no JVM package is needed.

Edges are kept one per pair, from the larger node to the smaller (src > dst). A round is a
large-star step (every node's larger neighbours are tied to the smallest node it sees) and
a small-star step (a node and its smaller neighbours are tied to the smallest of them);
rounds repeat until the edges stop changing, which takes O(log n) rounds. Then every edge
ties a node to the smallest node of its component, which names the component.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

Checkpoint = Callable[["DataFrame", str], "DataFrame"]
MAX_ROUNDS = 200


class NoConvergence(RuntimeError):
    """The components did not settle within MAX_ROUNDS rounds."""


def canonical(edges: DataFrame) -> DataFrame:
    """One edge a pair, from the larger node to the smaller; no loops."""
    from pyspark.sql import functions as F

    return (edges.select(F.greatest("src", "dst").alias("src"),
                         F.least("src", "dst").alias("dst"))
            .where(F.col("src") != F.col("dst")).distinct())


def _smallest_below(edges: DataFrame) -> DataFrame:
    """(node, m): the smallest node among a node's smaller neighbours."""
    from pyspark.sql import functions as F

    return edges.groupBy(F.col("src").alias("node")).agg(F.min("dst").alias("m"))


def large_star(edges: DataFrame) -> DataFrame:
    from pyspark.sql import functions as F

    below = _smallest_below(edges)
    joined = edges.join(below, edges.dst == below.node, "left")
    return canonical(joined.select("src", F.coalesce(F.least("dst", "m"), "dst").alias("dst")))


def small_star(edges: DataFrame) -> DataFrame:
    from pyspark.sql import functions as F

    below = _smallest_below(edges)
    joined = edges.join(below, edges.src == below.node)
    return canonical(joined.select(F.col("dst").alias("src"), F.col("m").alias("dst"))
                     .unionByName(joined.select("src", F.col("m").alias("dst"))))


def _signature(edges: DataFrame) -> tuple[int, int, int]:
    from pyspark.sql import functions as F

    row = edges.agg(F.count(F.lit(1)).alias("n"),
                    F.sum(F.xxhash64("src", "dst").cast("decimal(38,0)")).alias("h"),
                    F.sum(F.hash("dst", "src").cast("decimal(38,0)")).alias("g")).collect()[0]
    return (int(row["n"]), int(row["h"] or 0), int(row["g"] or 0))


def connected_components(edges: DataFrame, checkpoint: Checkpoint) -> DataFrame:
    """(node, component) for every node with an edge; `edges` hold (src, dst) longs.
    `checkpoint(frame, name)` materialises a round (and cuts Spark's lineage)."""
    from pyspark.sql import functions as F

    current = checkpoint(canonical(edges), "round-0")
    seen = _signature(current)
    for n in range(1, MAX_ROUNDS + 1):
        current = checkpoint(small_star(large_star(current)), f"round-{n}")
        signature = _signature(current)
        if signature == seen:
            roots = current.select(F.col("dst").alias("node"), F.col("dst").alias("component"))
            stars = current.select(F.col("src").alias("node"), F.col("dst").alias("component"))
            return stars.unionByName(roots).distinct()
        seen = signature
    raise NoConvergence(f"connected components did not settle in {MAX_ROUNDS} rounds")
