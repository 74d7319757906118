"""The synthetic generator's shapes through the real pipeline (train, then load into the
embedded store), at sizes fit for CI: regression floors on pairwise F1, over-merged
customers and the review load. `idgraph bench match --dataset synth:SHAPE` measures the
same at full size, next to Splink."""

from __future__ import annotations

import pytest

from app.bench.match_data import load_dataset
from app.bench.match_metrics import cluster_scores
from app.services.ingest import IngestService
from app.services.matching import train_from_events

# shape -> (F1 floor, review items per 100 records ceiling), a little under what these
# sizes measure (docs/benchmarks.md has the full-size figures, and what keeps name_dob,
# name_email and name_address below 0.95: duplicates that kept little but a name)
FLOORS = {
    "name_dob,people=600": (0.93, 1.0),  # measured 0.9367, 0.86
    "name_email,people=400": (0.93, 1.8),  # 0.9318, 1.68
    "name_address,people=400": (0.85, 3.0),  # 0.8524, 2.72
    "everything,people=400": (0.99, 0.5),  # 1.0, 0.0
    "cdp,people=300": (0.93, 4.0),  # 0.9336, 3.82
}


async def pipeline_scores(store, shape: str) -> dict:
    service = IngestService(store)
    data = load_dataset(f"synth:{shape}", 1, service.rules)
    _, training = await train_from_events(store, data.events, service.rules)
    assert training.training.health.usable
    await service.load_matcher()
    for start in range(0, len(data.events), 250):
        result = await service.ingest_raw(
            (str(n), e) for n, e in enumerate(data.events[start:start + 250], start))
        assert result.rejected == 0
    owners = await store.owners([r.key for r in data.rows])
    scores = cluster_scores([owners.get(r.key, r.key) for r in data.rows],
                            [r.entity for r in data.rows])
    reviews = await store.reviews(100_000, None)
    return {**scores, "review_per_100": 100 * len(reviews) / len(data.rows)}


@pytest.mark.parametrize("shape", sorted(FLOORS))
async def test_each_shape_resolves_above_its_floor(sqlite_store, shape):
    f1_floor, review_ceiling = FLOORS[shape]
    scores = await pipeline_scores(sqlite_store, shape)
    assert scores["f1"] >= f1_floor, scores
    assert scores["precision"] >= 0.98, scores
    assert scores["over_merged_per_1000_people"] <= 5.0, scores
    assert scores["review_per_100"] <= review_ceiling, scores
