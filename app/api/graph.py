"""A customer's neighbourhood in the identity graph, for the explorer.

Depth 0 is the customer's own identifiers and the links among them. Each further hop adds
the links from the identifiers reached so far to identifiers outside (links that a rule
rejected, or a steward removed or banned, keep other customers apart) and the identifiers
at their far end. Each hop is one batched read of links and one of identifiers.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.api.dataloaders import Loaders
from app.stores.values import IdentifierRecord, LinkRecord

MAX_DEPTH = 3
MAX_NODES = 500


@dataclass(frozen=True, slots=True)
class GraphView:
    customer_id: str
    depth: int
    nodes: list[tuple[IdentifierRecord, int]]  # with the hops from the customer
    links: list[LinkRecord]
    truncated: bool


async def identity_graph(loaders: Loaders, customer_id: str, depth: int) -> GraphView:
    own = await loaders.identifiers_of.load(customer_id)
    hops: dict[str, int] = {r.key: 0 for r in own}
    records: dict[str, IdentifierRecord] = {r.key: r for r in own}
    links: dict[tuple[str, str], LinkRecord] = {}
    frontier = sorted(hops)
    truncated = False
    for hop in range(depth + 1):
        touching = await loaders.links_touching.load_many(frontier)
        reached: set[str] = set()
        for link in (link for found in touching for link in found):
            far = {link.a, link.b} - hops.keys()
            if far and hop == depth:
                continue  # the edge leaves the requested depth
            links[(link.a, link.b)] = link
            reached |= far
        if hop == depth or not reached:
            break
        room = MAX_NODES - len(hops)
        if len(reached) > room:
            truncated = True
            reached = set(sorted(reached)[:room])
        found = await loaders.identifiers.load_many(sorted(reached))
        for record in found:
            if record is not None:
                records[record.key] = record
                hops[record.key] = hop + 1
        frontier = sorted(reached)
        if truncated:
            break
    kept = [link for p, link in sorted(links.items()) if p[0] in hops and p[1] in hops]
    nodes = [(records[k], hops[k]) for k in sorted(hops, key=lambda k: (hops[k], k))
             if k in records]
    return GraphView(customer_id, depth, nodes, kept, truncated)
