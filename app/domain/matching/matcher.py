"""Matching one new record against its candidates: the streaming step.

The caller (the ingest use case) gathers the new record's candidates from the store (by
blocking key, see blocking.py), the term frequencies of the new record's values and, for
each candidate, the customer it belongs to. `match_new_record` decides which pairs
become MATCHED edges and which go to the review queue.

Customers, not pairs, are what a link changes, so the rules work per customer:
- a customer with a candidate that the household guard keeps apart from the new record
  gets no link (its links go to review, guard `household`): a second household member
  must not join through a third record either;
- the new record joins the customer of its best link;
- a link to another customer would merge the two on the strength of one record, and
  errors would chain into ever larger clusters, so it needs the higher `merge` score;
  below it the pair goes to review, guard `other_customer`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from app.domain.matching.household import HOUSEHOLD
from app.domain.matching.model import LINK, REVIEW, MatchModel, MatchResult
from app.domain.matching.records import MatchRecord

OTHER_CUSTOMER = "other_customer"


@dataclass(frozen=True, slots=True)
class MatchOutcome:
    links: tuple[MatchResult, ...] = ()  # MATCHED edges to write, best first
    reviews: tuple[MatchResult, ...] = ()  # pairs for the review queue, best first
    scored: int = 0


def score_candidates(
    model: MatchModel,
    record: MatchRecord,
    candidates: Sequence[MatchRecord],
    tf: Mapping[str, float],
) -> list[MatchResult]:
    """Results for the candidates that score at least `lower`, best first."""
    lower = model.settings.lower
    results = []
    traits = record.traits
    for candidate in candidates:
        vector = model.vector(traits, candidate.traits)
        if model.score_vector(vector, tf) >= lower:
            results.append(model.result(record, candidate, vector, tf))
    results.sort(key=lambda r: (-r.score, r.candidate_id))
    return results


def match_new_record(
    model: MatchModel,
    record: MatchRecord,
    candidates: Sequence[MatchRecord],
    tf: Mapping[str, float],
    *,
    customer_of: Mapping[str, str] | None = None,
) -> MatchOutcome:
    """Score `record` against every candidate and decide links and reviews.

    `tf` maps a trait to the relative frequency of `record`'s value in the store;
    `customer_of` maps a candidate id to its customer (without one, it is its own).
    """
    customer_of = customer_of or {}
    results = score_candidates(model, record, candidates, tf)

    def customer(result: MatchResult) -> str:
        return customer_of.get(result.candidate_id, result.candidate_id)

    households = {customer(r) for r in results if r.guard == HOUSEHOLD}
    links: list[MatchResult] = []
    reviews: list[MatchResult] = []
    joined: set[str] = set()
    for result in results:
        if result.decision == LINK:
            owner = customer(result)
            if owner in households:
                result = _demoted(result, HOUSEHOLD)
            elif not joined or owner in joined or result.score >= model.settings.merge:
                joined.add(owner)
                links.append(result)
                continue
            else:
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
