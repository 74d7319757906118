"""Scores of a clustering against the truth: pairwise precision, recall and F1 (every pair
of rows in one cluster), over-merged clusters (holding rows of more than one person) per
1,000 people, and review items per 100 rows."""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Sequence
from typing import Any


def _pairs(n: int) -> int:
    return n * (n - 1) // 2


def cluster_scores(labels: Sequence[Hashable], entities: Sequence[Hashable]) -> dict[str, Any]:
    """`labels[i]` is row i's cluster, `entities[i]` the person it is about."""
    if len(labels) != len(entities):
        raise ValueError("one label and one entity per row")
    cells = Counter(zip(labels, entities, strict=True))
    true_positives = sum(_pairs(n) for n in cells.values())
    predicted = sum(_pairs(n) for n in Counter(labels).values())
    truth = sum(_pairs(n) for n in Counter(entities).values())
    precision = true_positives / predicted if predicted else 1.0
    recall = true_positives / truth if truth else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    people_per_cluster = Counter(label for label, _ in cells)
    over_merged = sum(n > 1 for n in people_per_cluster.values())
    people = len(set(entities))
    return {
        "precision": round(precision, 5),
        "recall": round(recall, 5),
        "f1": round(f1, 5),
        "true_pairs": truth,
        "false_positives": predicted - true_positives,
        "false_negatives": truth - true_positives,
        "over_merged": over_merged,
        "over_merged_per_1000_people": round(1000 * over_merged / people, 2) if people else 0.0,
    }


def components(n: int, links: Sequence[tuple[int, int]]) -> list[int]:
    """Connected components of rows 0..n-1 under `links`: each row's smallest member."""
    parent = list(range(n))

    def root(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in links:
        ra, rb = root(a), root(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return [root(i) for i in range(n)]
