"""Matching one new record against its candidates: the streaming step.

The caller (the ingest use case) gathers the new record's candidates from the store (by
blocking key, see blocking.py), the term frequencies of the new record's values and, for
each candidate, the group (customer) it belongs to. `match_new_record` decides which
pairs become MATCHED edges and which go to the review queue.

Chaining: a link joins the new record to a candidate's customer. When candidates of
several customers pass the link threshold, linking to all of them would merge those
customers on the strength of one fuzzy record, and errors would chain into ever larger
clusters. So the new record links only to the customer of its best-scoring link; links
to other customers go to review with the guard `other_customer`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from app.domain.matching.model import LINK, REVIEW, MatchModel, MatchResult
from app.domain.matching.records import MatchRecord

OTHER_CUSTOMER = "other_customer"


@dataclass(frozen=True, slots=True)
class MatchOutcome:
    links: tuple[MatchResult, ...] = ()  # MATCHED edges to write, best first
    reviews: tuple[MatchResult, ...] = ()  # pairs for the review queue, best first
    scored: int = 0


def match_new_record(
    model: MatchModel,
    record: MatchRecord,
    candidates: Sequence[MatchRecord],
    tf: Mapping[str, float],
    *,
    group_of: Mapping[str, str] | None = None,
) -> MatchOutcome:
    """Score `record` against every candidate and decide links and reviews.

    `tf` maps a trait to the relative frequency of `record`'s value in the store;
    `group_of` maps a candidate id to its customer (a candidate without one is its own).
    """
    lower = model.settings.lower
    results: list[MatchResult] = []
    traits = record.traits
    for candidate in candidates:
        vector = model.vector(traits, candidate.traits)
        if model.score_vector(vector, tf) >= lower:
            results.append(model.result(record, candidate, vector, tf))
    results.sort(key=lambda r: (-r.score, r.candidate_id))
    links: list[MatchResult] = []
    reviews: list[MatchResult] = []
    chosen: str | None = None
    for result in results:
        if result.decision == LINK:
            group = (group_of or {}).get(result.candidate_id, result.candidate_id)
            chosen = chosen or group
            if group == chosen:
                links.append(result)
                continue
            result = _demoted(result, OTHER_CUSTOMER)
        reviews.append(result)
    return MatchOutcome(tuple(links), tuple(reviews), len(candidates))


def _demoted(result: MatchResult, guard: str) -> MatchResult:
    return MatchResult(
        result.record_id,
        result.candidate_id,
        result.score,
        result.probability,
        result.comparisons,
        REVIEW,
        guard,
    )
