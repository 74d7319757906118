"""Verify: recompute every component from the stored links and find drifted customers.

A customer is right when its identifiers are exactly one connected component of the
accepted links. Drift (from a crash between stores, a bug, or a hand edit) shows up as
a component spread over several customers, or a customer spread over several components.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import networkx as nx


@dataclass(frozen=True, slots=True)
class Drift:
    keys: tuple[str, ...]  # one component of the accepted links
    customers: tuple[str, ...]  # the customers its identifiers belong to now
    problem: str


def find_drift(
    owners: Mapping[str, str | None], active_links: Iterable[tuple[str, str]]
) -> list[Drift]:
    """`owners`: every identifier's customer (None when inactive)."""
    graph: nx.Graph[str] = nx.Graph()
    graph.add_nodes_from(k for k, c in owners.items() if c is not None)
    graph.add_edges_from((a, b) for a, b in active_links if owners.get(a) and owners.get(b))
    components_of: dict[str, list[int]] = defaultdict(list)
    found: list[Drift] = []
    components = [sorted(c) for c in nx.connected_components(graph)]
    for index, keys in enumerate(components):
        customers = sorted({c for k in keys if (c := owners[k])})
        for cid in customers:
            components_of[cid].append(index)
        if len(customers) > 1:
            found.append(
                Drift(
                    tuple(keys),
                    tuple(customers),
                    f"one component belongs to {len(customers)} customers",
                )
            )
    for cid, indexes in sorted(components_of.items()):
        if len(indexes) > 1:
            spanned = tuple(sorted(k for i in indexes for k in components[i]))
            found.append(Drift(spanned, (cid,), f"{cid} spans {len(indexes)} components"))
    return found
