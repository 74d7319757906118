"""Explanations: why an identifier belongs to its customer, and what kept links out."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

import networkx as nx

from app.domain.plan import ACTIVE


class LinkLike(Protocol):
    """What an explanation reads of a link (LinkRecord has these attributes)."""

    @property
    def a(self) -> str: ...
    @property
    def b(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def reason(self) -> str: ...


@dataclass(frozen=True, slots=True)
class Explanation:
    key: str
    customer_id: str | None
    anchor: str | None  # the customer's first-seen identifier, where every path ends
    path: tuple[object, ...]  # the links from `key` to `anchor`, in order
    stopped: tuple[object, ...]  # links of `key` that rules or stewards keep out


def anchor_of(first_seen: Iterable[tuple[str, str]]) -> str | None:
    """The identifier first seen (ties: the smaller key) among (key, first_seen) pairs."""
    return min(((ts, key) for key, ts in first_seen), default=(None, None))[1]


def explain(key: str, customer_id: str | None, members: Sequence[tuple[str, str]],
            links: Sequence[LinkLike]) -> Explanation:
    """Explain `key` in its customer: `members` are the customer's (key, first_seen),
    `links` every link touching them."""
    anchor = anchor_of(members)
    stopped = tuple(link for link in links if key in (link.a, link.b) and link.status != ACTIVE)
    if customer_id is None or anchor is None:
        return Explanation(key, customer_id, None, (), stopped)
    graph: nx.Graph[str] = nx.Graph()
    graph.add_nodes_from(k for k, _ in members)
    for link in links:
        if link.status == ACTIVE:
            graph.add_edge(link.a, link.b, link=link)
    try:
        nodes = nx.shortest_path(graph, key, anchor)
    except (nx.NetworkXNoPath, nx.NodeNotFound):
        nodes = [key]
    path = tuple(graph.edges[a, b]["link"] for a, b in zip(nodes, nodes[1:], strict=False))
    return Explanation(key, customer_id, anchor, path, stopped)
