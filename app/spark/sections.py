"""The plan that takes a store from what it holds to the rebuilt graph, section by section
(the sections of app/domain/plan.py Plan), as DataFrames the writer turns into Plans and
applies with the stores' own `_apply` (app/services/spark_rebuild.py).

For an empty store it is the plan of loading every event in one batch. For a store with
data it is the difference, with lineage: every customer the store holds that the rebuild
names otherwise is renamed to its successor, the customer that now holds its anchor (else
most of its identifiers), so that its id still resolves; a customer whose merge history
changes has it replaced whole.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from app.domain.plan import ACTIVE
from app.domain.search import identifier_terms
from app.spark.arrow import arrow_schema, batches_of
from app.spark.resolve import ResolvedRow

if TYPE_CHECKING:
    import pyarrow as pa
    from pyspark.sql import Column, DataFrame

# Plan sections, in the order they apply, each with the columns its rows are sorted by
# within a file (the order of a table's primary key, which inserts fastest). A customer's
# merge history is kept in one file, in its order.
SECTIONS = {
    "history_reset": ("id",),
    "new_customers": ("id",),
    "customer_updates": ("id",),
    "renames": ("absorbed",),
    "identifiers": ("key",),
    "moves": ("key",),
    "statuses": ("key",),
    "links": ("a", "b"),
    "link_statuses": ("a", "b"),
    "events": ("ts", "event_id"),
    "search_terms": ("key", "term"),
    "unsuppress": ("key",),
    "history": ("customer", "idx"),
    "match_records": ("ts", "event_id"),
    "reviews": ("ts", "event_id", "seq"),
}
# Sections whose rows apply in one order across all their files (sorted globally)
ORDERED = {"match_records", "reviews"}
GROUPED = {"history": "customer"}
CUSTOMER_COLUMNS = ("id", "first_seen", "first_event", "first_key", "settled")
HISTORY_COLUMNS = ("absorbed", "survivor", "at", "event_id", "reason")
TERMS_SCHEMA = "key string, term string"


def _none(type_: str = "string") -> Column:
    from pyspark.sql import functions as F

    return F.lit(None).cast(type_)


def all_keys(found: DataFrame, stored: DataFrame | None) -> DataFrame:
    """Every identifier: the store's and the new events', with its earliest sighting and
    what the store holds of it (old_status, old_reason, old_customer; nulls for a new
    one)."""
    from pyspark.sql import functions as F

    new = found.select("key", "type", "value", "first_seen", "first_event")
    if stored is None:
        return new.select("*", _none().alias("old_status"), _none().alias("old_reason"),
                          _none().alias("old_customer"), F.lit(False).alias("old"))
    old = stored.select(*[F.col(c).alias(f"o_{c}") for c in stored.columns])
    joined = new.join(old, new.key == old.o_key, "full")
    older = F.col("first_seen").isNull() | (
        F.col("o_first_seen").isNotNull()
        & (F.struct("o_first_seen", "o_first_event") < F.struct("first_seen", "first_event")))
    return joined.select(
        F.coalesce("key", "o_key").alias("key"), F.coalesce("o_type", "type").alias("type"),
        F.coalesce("o_value", "value").alias("value"),
        F.when(older, F.col("o_first_seen")).otherwise(F.col("first_seen")).alias("first_seen"),
        F.when(older, F.col("o_first_event")).otherwise(F.col("first_event"))
        .alias("first_event"),
        F.col("o_status").alias("old_status"), F.col("o_reason").alias("old_reason"),
        F.col("o_customer_id").alias("old_customer"), F.col("o_key").isNotNull().alias("old"))


class Sections:
    def __init__(self, now: str, found: DataFrame, fresh: DataFrame, keys: DataFrame,
                 inactive: DataFrame, resolved: DataFrame, decided: DataFrame,
                 old: object, matched: DataFrame | None = None) -> None:
        from pyspark.sql import functions as F

        self.now = now
        self.found = found
        self.fresh = fresh
        self.keys = keys
        self.inactive = inactive
        self.decided = decided
        self.old = old
        self.matched = matched
        self.owners = resolved.where(F.col("kind") == ResolvedRow.OWNER).select(
            "key", F.col("customer").alias("owner"))
        self.live = resolved.where(F.col("kind") == ResolvedRow.CUSTOMER).select(
            F.col("customer").alias("id"), *CUSTOMER_COLUMNS[1:])
        self.history_rows = resolved.where(F.col("kind") == ResolvedRow.MERGE).select(
            "customer", *HISTORY_COLUMNS, "idx")

    def tables(self, new_events: DataFrame) -> dict[str, DataFrame]:
        """Every section, its rows in the order they are applied."""
        from pyspark.sql import functions as F

        state = self._identifier_state()
        renames = self._renames()
        changed = self._changed_history(renames)
        out = {
            "history_reset": self._history_reset(renames, changed),
            "new_customers": self._new_customers(),
            "customer_updates": self._customer_updates(),
            "renames": renames,
            "identifiers": self._identifiers(state),
            "moves": self._moves(state),
            "statuses": self._statuses(state),
            "links": self._links(),
            "link_statuses": self._link_statuses(),
            "events": new_events.select("event_id", "type", "ts", "source", "body", "keys"),
            "search_terms": search_terms(new_events, self.inactive),
            "unsuppress": new_events.select(F.explode("unsuppress").alias("key")).distinct(),
            "history": self.history_rows.join(changed, "customer"),
            **self._matching(),
        }
        return {name: frame.orderBy(*SECTIONS[name]) if name in ORDERED else
                (frame.repartition(GROUPED[name]) if name in GROUPED else frame)
                .sortWithinPartitions(*SECTIONS[name]) for name, frame in out.items()}

    def _matching(self) -> dict[str, DataFrame]:
        """The matcher's records for later matching and its review queue."""
        from app.spark import matching

        if self.matched is None:
            return {}
        return {"match_records": matching.match_records(self.matched),
                "reviews": matching.reviews(self.matched, self.now)}

    # -- customers ---------------------------------------------------------------------------
    def _old_live(self) -> DataFrame | None:
        from pyspark.sql import functions as F

        customers = self.old.customers  # type: ignore[attr-defined]
        if customers is None:
            return None
        return customers.where(F.col("merged_into").isNull() & ~F.col("erased")).select(
            *CUSTOMER_COLUMNS)

    def _new_customers(self) -> DataFrame:
        old = self._old_live()
        return self.live if old is None else self.live.join(old.select("id"), "id", "left_anti")

    def _customer_updates(self) -> DataFrame:
        from pyspark.sql import functions as F

        old = self._old_live()
        if old is None:
            return self.live.limit(0)
        before = old.select("id", F.struct(*CUSTOMER_COLUMNS[1:]).alias("before"))
        after = self.live.select(*CUSTOMER_COLUMNS,
                                 F.struct(*CUSTOMER_COLUMNS[1:]).alias("after"))
        return (after.join(before, "id").where(F.col("before") != F.col("after"))
                .select(*CUSTOMER_COLUMNS))

    def _renames(self) -> DataFrame:
        """Each live customer of the store that the rebuild does not name: renamed to the
        customer holding its anchor, else most of its identifiers (ties: the smaller id)."""
        from pyspark.sql import Window
        from pyspark.sql import functions as F

        empty = self.live.select(F.col("id").alias("absorbed"), F.col("id").alias("survivor"),
                                 *[_none().alias(c) for c in ("at", "event_id", "reason")])
        old = self._old_live()
        if old is None:
            return empty.limit(0)
        gone = old.join(self.live.select("id"), "id", "left_anti")
        by_anchor = gone.join(self.owners.withColumnRenamed("key", "first_key"), "first_key",
                              "left").select("id", F.col("owner").alias("anchor_owner"))
        held = (self.keys.where(F.col("old_customer").isNotNull())
                .join(self.owners, "key").groupBy("old_customer", "owner")
                .agg(F.count(F.lit(1)).alias("n")))
        most = Window.partitionBy("old_customer").orderBy(F.desc("n"), "owner")
        majority = (held.withColumn("r", F.row_number().over(most)).where(F.col("r") == 1)
                    .select(F.col("old_customer").alias("id"), F.col("owner").alias("most")))
        target = by_anchor.join(majority, "id", "left").select(
            F.col("id").alias("absorbed"), F.coalesce("anchor_owner", "most").alias("survivor"))
        return target.where(F.col("survivor").isNotNull()).select(
            "absorbed", "survivor", F.lit(self.now).alias("at"), F.lit("").alias("event_id"),
            F.concat(F.lit("a rebuild renamed "), F.col("absorbed"), F.lit(" to "),
                     F.col("survivor")).alias("reason"))

    def _changed_history(self, renames: DataFrame) -> DataFrame:
        """(customer): the customers whose merge history differs from what the store holds
        for that id, and those a renamed customer now resolves to."""
        from pyspark.sql import functions as F

        entry = F.struct(*HISTORY_COLUMNS)
        new = self.history_rows.groupBy("customer").agg(
            F.array_sort(F.collect_list(F.struct("idx", entry.alias("e")))).alias("h"))
        new = new.select("customer", F.transform("h", lambda x: x["e"]).alias("after"))
        after = self.live.select(F.col("id").alias("customer")).join(new, "customer", "left")
        history = self.old.history  # type: ignore[attr-defined]
        if history is None:
            return after.where(F.col("after").isNotNull()).select("customer")
        old = history.groupBy(F.col("current").alias("customer")).agg(
            F.array_sort(F.collect_list(F.struct("at", "event_id", "seq", entry.alias("e"))))
            .alias("h")).select("customer", F.transform("h", lambda x: x["e"]).alias("before"))
        none = F.array().cast(new.schema["after"].dataType)
        differ = (after.join(old, "customer", "left")
                  .where(F.coalesce("after", none) != F.coalesce("before", none))
                  .select("customer"))
        return differ.unionByName(renames.select(F.col("survivor").alias("customer"))).distinct()

    def _history_reset(self, renames: DataFrame, changed: DataFrame) -> DataFrame:
        """The store's customers whose recorded history goes: those renamed, and those that
        stay whose history is replaced."""
        from pyspark.sql import functions as F

        old = self._old_live()
        if old is None:
            return self.live.select("id").limit(0)
        staying = old.select("id").join(changed.withColumnRenamed("customer", "id"), "id")
        return staying.unionByName(renames.select(F.col("absorbed").alias("id"))).distinct()

    # -- identifiers -------------------------------------------------------------------------
    def _identifier_state(self) -> DataFrame:
        """Every key with its owner, status and reason in the rebuilt graph."""
        from pyspark.sql import functions as F

        return (self.keys.join(self.inactive, "key", "left").join(self.owners, "key", "left")
                .select("key", "old", "old_status", "old_reason", "old_customer", "owner",
                        F.coalesce("status", F.lit(ACTIVE)).alias("status"),
                        F.coalesce("reason", F.lit("")).alias("reason")))

    def _identifiers(self, state: DataFrame) -> DataFrame:
        """The new sightings (an identifier the store holds widens its own)."""
        return self.found.join(state.select("key", "owner", "status", "reason",
                                            "old_customer"), "key").select(
            "key", "type", "value", "first_seen", "last_seen", "sources",
            _col("owner", "customer_id"), "status", "reason", "first_event", "old_customer")

    def _moves(self, state: DataFrame) -> DataFrame:
        from pyspark.sql import functions as F

        return (state.where(F.col("old") & ~F.col("owner").eqNullSafe(F.col("old_customer")))
                .select("key", _col("owner", "customer_id")))

    def _statuses(self, state: DataFrame) -> DataFrame:
        from pyspark.sql import functions as F

        differ = F.col("old") & ((F.col("status") != F.col("old_status"))
                                 | (F.col("reason") != F.col("old_reason")))
        return state.where(differ).select("key", "status", "reason")

    # -- links -------------------------------------------------------------------------------
    def _links(self) -> DataFrame:
        """The new evidence, with each link's decision (and the matcher's payload)."""
        from app.spark import matching

        links = self.fresh.join(self.decided, ["a", "b"])
        if self.matched is None:
            links = links.withColumn("match", _none())
        else:
            links = links.join(matching.payloads(self.matched), ["a", "b"], "left")
        return links.select("a", "b", "count", "first_seen", "last_seen", "sources",
                            "event_ids", "status", "reason", "match", "first_event")

    def _link_statuses(self) -> DataFrame:
        """Stored links without new evidence whose decision changes."""
        from pyspark.sql import functions as F

        links = self.old.links  # type: ignore[attr-defined]
        if links is None:
            return self.decided.limit(0)
        old = links.select("a", "b", F.col("status").alias("s0"), F.col("reason").alias("r0"))
        return (old.join(self.fresh.select("a", "b"), ["a", "b"], "left_anti")
                .join(self.decided, ["a", "b"])
                .where((F.col("status") != F.col("s0")) | (F.col("reason") != F.col("r0")))
                .select("a", "b", "status", "reason"))


def _col(name: str, alias: str) -> Column:
    from pyspark.sql import functions as F

    return F.col(name).alias(alias)


def search_terms(events: DataFrame, inactive: DataFrame) -> DataFrame:
    """(key, term) of the events' active identifiers: each one's own terms, and the name
    its event carries (app/domain/search.py terms_of)."""
    from pyspark.sql import functions as F

    active = (events.select(F.explode("keys").alias("key"), "name")
              .join(inactive.select("key"), "key", "left_anti"))
    named = active.where(F.col("name").isNotNull()).select("key", F.col("name").alias("term"))
    schema = arrow_schema(TERMS_SCHEMA)

    def own(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            yield from batches_of(({"key": key, "term": term}
                                   for key in batch.column(0).to_pylist()
                                   for term in identifier_terms(key)), schema)

    keys = active.select("key").distinct()
    return keys.mapInArrow(own, TERMS_SCHEMA).unionByName(named).distinct()
