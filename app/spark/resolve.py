"""The rules inside Spark tasks: which identifiers link nothing, and each component's
customers, by the domain's own functions (app/domain/rebuild.py).

Components are resolved in buckets (one Python call each, many components per bucket), so
that millions of small components do not cost a task each; a component larger than
`BIG_COMPONENT` rows gets a bucket of its own, so it never shares a task's memory with
others. (A hub, the usual cause of a giant component, is inactive before components are
found: its links join nothing.)
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from app.domain.history import moment
from app.domain.plan import ACTIVE, LINKED, LinkStatus
from app.domain.rebuild import Sighting, inactive_keys, resolve_component, stopped_links
from app.domain.resolution import LinkFacts
from app.domain.rules import Rules
from app.spark.arrow import arrow_schema, batches_of, table_of

if TYPE_CHECKING:
    import pyarrow as pa
    from pyspark.sql import DataFrame

BIG_COMPONENT = 200_000  # rows (identifiers and links) of a component that gets its own bucket
BUCKET_ROWS = 100_000  # rows a bucket of small components holds, about

INACTIVE_SCHEMA = "key string, status string, reason string"
DECISION_SCHEMA = "a string, b string, status string, reason string"
RESOLVED_SCHEMA = (
    "kind string, key string, customer string, first_seen string, first_event string, "
    "first_key string, settled string, absorbed string, survivor string, at string, "
    "event_id string, reason string, idx int, a string, b string, status string"
)


class ResolvedRow:
    OWNER = "owner"
    CUSTOMER = "customer"
    MERGE = "merge"
    REDIRECT = "redirect"
    DECISION = "decision"


def inactive(keys: DataFrame, rules: Rules) -> DataFrame:
    """(key, status, reason) of the identifiers that link nothing. `keys` holds every key
    with its type, value, degree and the status the store carries for it (or nulls)."""
    schema = arrow_schema(INACTIVE_SCHEMA)

    def decide(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            rows = batch.to_pylist()
            sightings = {r["key"]: Sighting(r["type"], r["value"], r["degree"]) for r in rows}
            carried = {r["key"]: (r["carried_status"], r["carried_reason"]) for r in rows
                       if r["carried_status"]}
            found = inactive_keys(sightings, carried, rules)
            yield from batches_of([{"key": k, "status": s, "reason": why}
                                    for k, (s, why) in found.items()], schema)

    return keys.mapInArrow(decide, INACTIVE_SCHEMA)


def _candidate(row: dict[str, Any]) -> LinkFacts:
    return LinkFacts(row["a"], row["b"], row["first_seen"], tuple(row["sources"] or ()),
                     LinkStatus(row.get("status") or LINKED), row.get("reason") or "",
                     row["first_event"] or "")


def stopped(links: DataFrame, rules: Rules) -> DataFrame:
    """Decisions on the links with an inactive end. `links` holds the candidate's fields
    and each end's inactive status and reason (nulls for an active end)."""
    schema = arrow_schema(DECISION_SCHEMA)

    def decide(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            rows = batch.to_pylist()
            ends = {}
            for r in rows:
                for end in ("a", "b"):
                    if r[f"{end}_status"]:
                        ends[r[end]] = (r[f"{end}_status"], r[f"{end}_reason"])
            found = stopped_links([_candidate(r) for r in rows], ends, rules)
            yield from batches_of([{"a": a, "b": b, "status": s, "reason": why}
                                    for (a, b), (s, why) in found.items()], schema)

    return links.mapInArrow(decide, DECISION_SCHEMA)


def resolve_components(rows: DataFrame, rules: Rules) -> DataFrame:
    """The customers of every component. `rows` holds, per bucket and component, its
    identifiers (kind 'node': key, first_seen, first_event), its links that may merge
    (kind 'link') and its bans (kind 'ban': a, b)."""
    schema = arrow_schema(RESOLVED_SCHEMA)

    def resolve(table: pa.Table) -> pa.Table:
        nodes: dict[int, dict[str, str]] = defaultdict(dict)
        links: dict[int, list[LinkFacts]] = defaultdict(list)
        bans: dict[int, list[tuple[str, str]]] = defaultdict(list)
        for r in table.to_pylist():
            if r["kind"] == "node":
                nodes[r["component"]][r["a"]] = moment(r["first_seen"], r["first_event"])
            elif r["kind"] == "link":
                links[r["component"]].append(_candidate(r))
            else:
                bans[r["component"]].append((r["a"], r["b"]))
        out: list[dict[str, Any]] = []
        for component, firsts in nodes.items():
            out += _resolved(resolve_component(firsts, links[component], bans[component],
                                               rules))
        return table_of(out, schema)

    return rows.groupBy("bucket").applyInArrow(resolve, RESOLVED_SCHEMA)


def _resolved(resolution: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for customer in resolution.customers:
        info = customer.info
        out.append({"kind": ResolvedRow.CUSTOMER, "customer": info.id,
                    "first_seen": info.first_seen, "first_event": info.first_event,
                    "first_key": info.first_key, "settled": info.settled})
        out += [{"kind": ResolvedRow.OWNER, "key": key, "customer": info.id}
                for key in customer.keys]
        out += [{"kind": ResolvedRow.MERGE, "customer": info.id, "absorbed": m.absorbed,
                 "survivor": m.survivor, "at": m.at, "event_id": m.event_id,
                 "reason": m.reason, "idx": n} for n, m in enumerate(customer.history)]
        out += [{"kind": ResolvedRow.REDIRECT, "key": cid, "customer": final, "at": at}
                for cid, final, at in customer.redirects]
    out += [{"kind": ResolvedRow.DECISION, "a": a, "b": b, "status": s, "reason": why}
            for (a, b), (s, why) in resolution.decisions.items() if s != ACTIVE]
    return out
