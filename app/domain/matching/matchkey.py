"""A match key: the comparisons of a scored pair in one line, as stewards read Senzing's
(`+NAME+DOB-ADDRESS`): each comparison whose weight was evidence for one person adds
`+KEY`, each whose weight was evidence against adds `-KEY`. A comparison with weight 0
(a value missing on either side) says nothing and is left out."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def match_key(weights: Mapping[str, float]) -> str:
    """`+FIRST_NAME+BIRTH_DATE-STREET` from comparison -> weight: agreements first, then
    disagreements, each strongest first (ties by name), so the key reads from the best
    evidence down and is the same for the same weights."""
    signed = [(name, w) for name, w in weights.items() if w != 0]
    agreed = sorted((p for p in signed if p[1] > 0), key=lambda p: (-p[1], p[0]))
    against = sorted((p for p in signed if p[1] < 0), key=lambda p: (p[1], p[0]))
    return "".join([*(f"+{n.upper()}" for n, _ in agreed),
                    *(f"-{n.upper()}" for n, _ in against)])


def stored_match_key(match: Mapping[str, Any] | None) -> str | None:
    """The match key of a stored match payload (`{score, weights, model_version}`, as a
    MATCHED link or a review item keeps it); None when there is no payload or it holds
    no weights per comparison."""
    if not match:
        return None
    weights = match.get("weights")
    if not isinstance(weights, Mapping):
        return None
    numeric = {str(k): float(v) for k, v in weights.items()
               if isinstance(v, int | float) and not isinstance(v, bool)}
    return match_key(numeric)
