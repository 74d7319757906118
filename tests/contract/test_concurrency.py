"""Two loaders writing overlapping components at once end with exactly the components an
offline pass over the same links gives."""

from __future__ import annotations

import asyncio
import random

import networkx as nx

from app.services.ingest import IngestService
from app.stores import open_store
from tests.helpers import event


def overlapping_events(n: int, seed: int) -> list:
    rng = random.Random(seed)
    events = []
    for i in range(n):
        keys = {f"cookie:k{rng.randrange(300)}" for _ in range(rng.choice([1, 2, 2, 3]))}
        if rng.random() < 0.3:
            keys.add(f"email:p{rng.randrange(200)}@x.com")
        events.append(event(f"e{i:05}", f"2024-01-01T{i // 3600 % 24:02}:{i // 60 % 60:02}:"
                            f"{i % 60:02}Z", *sorted(keys)))
    return events


async def test_concurrent_loaders_agree_with_an_offline_pass(store, tmp_path):
    events = overlapping_events(1200, seed=5)
    second = open_store(store.url)  # a second loader with its own connection
    try:
        loaders = [IngestService(store), IngestService(second)]
        halves = [events[0::2], events[1::2]]

        async def run(loader, part):
            for start in range(0, len(part), 50):
                await loader.ingest(part[start:start + 50])

        await asyncio.gather(*(run(loader, part) for loader, part in zip(loaders, halves,
                                                                           strict=True)))
    finally:
        await second.close()
    graph = nx.Graph()
    for e in events:
        keys = [i.key for i in e.identifiers]
        graph.add_nodes_from(keys)
        graph.add_edges_from(zip(keys, keys[1:], strict=False))
    expected = sorted(sorted(c) for c in nx.connected_components(graph))
    owners = await store.owners(list(graph.nodes))
    by_customer: dict[str, list[str]] = {}
    for key, cid in owners.items():
        by_customer.setdefault(cid, []).append(key)
    assert sorted(sorted(v) for v in by_customer.values()) == expected
    assert (await store.stats()).events == len(events)
