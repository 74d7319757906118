"""The Spark engine of `idgraph rebuild`: the identity graph built from every event at once,
on Apache Spark, with the domain's own pure functions running inside Spark tasks.

- inputs.py: JSONL read in byte ranges, Parquet, and the events a store already holds;
- parse.py: every line decoded and validated by the loaders' own code (rejects kept);
- evidence.py: sightings, links with their evidence, degrees, as Spark aggregations;
- components.py: connected components (large-star / small-star on DataFrames);
- resolve.py: inactive identifiers, then each component resolved at once
  (app/domain/rebuild.py), in buckets that keep a large component in a task of its own;
- tables.py and job.py: the stored rows, written as Parquet to a staging directory, and
  the difference with what a store holds.

pyspark is an optional dependency (`pip install -e '.[spark]'`): nothing outside this
package imports it.
"""
