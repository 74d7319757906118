"""Matching one new record against its candidates: the streaming step.

The caller (the ingest use case) gathers the new record's candidates from the store (by
blocking key, see blocking.py), the term frequencies of the new record's values and, for
each candidate, the customer it belongs to. `match_new_record` decides which pairs
become MATCHED edges and which go to the review queue.

Customers, not pairs, are what a link changes, so the rules work per customer:
- a customer with a candidate that the household guard keeps apart from the new record
  gets no link (its pairs go to review when likely enough): a second household member
  must not join through a third record either;
- the new record joins the customer of its best link;
- a link to another customer would merge the two on the strength of one record, and
  errors would chain into ever larger clusters, so it needs the higher `merge`
  probability; below it the pair goes to review, guard `other_customer`;
- the review queue gets at most one item per customer, its best pair, and none for the
  record's own customer or one it joins: accepting those would change nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from app.domain.matching.decisions import Decision, Guard
from app.domain.matching.model import MatchModel, MatchResult
from app.domain.matching.records import MatchRecord


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
    """Results for the candidates that are guarded or likely enough to review, best
    first."""
    return worth_deciding(model.judge(record.record_id, candidate.record_id,
                                      model.compare(record.traits, candidate.traits), tf)
                          for candidate in candidates)


def worth_deciding(results: Iterable[MatchResult]) -> list[MatchResult]:
    """The results that are guarded or likely enough to review, best first."""
    kept = [r for r in results if r.guard is not None or r.decision is not Decision.NONE]
    kept.sort(key=lambda r: (-r.probability, -r.score, r.candidate_id))
    return kept


def match_new_record(
    model: MatchModel,
    record: MatchRecord,
    candidates: Sequence[MatchRecord],
    tf: Mapping[str, float],
    *,
    customer_of: Mapping[str, str] | None = None,
    own: str | None = None,
) -> MatchOutcome:
    """Score `record` against every candidate and decide links and reviews.

    `tf` maps a trait to the relative frequency of `record`'s value in the store;
    `customer_of` maps a candidate id to its customer (without one, it is its own);
    `own` is the customer the record already belongs to, if any.
    """
    if not model.health.usable:
        return MatchOutcome(scored=len(candidates))
    outcome = decide(model, score_candidates(model, record, candidates, tf),
                     customer_of=customer_of, own=own)
    return replace(outcome, scored=len(candidates))


def decide(model: MatchModel, results: Sequence[MatchResult], *,
           customer_of: Mapping[str, str] | None = None, own: str | None = None
           ) -> MatchOutcome:
    """Links and reviews from a record's results (`worth_deciding`), customer by
    customer."""
    customer_of = customer_of or {}

    def customer(result: MatchResult) -> str:
        return customer_of.get(result.candidate_id, result.candidate_id)

    households = {customer(r) for r in results
                  if r.guard is not None and r.decision is not Decision.LINK}
    links: list[MatchResult] = []
    candidates_for_review: list[MatchResult] = []
    joined: set[str] = set() if own is None else {own}
    for result in results:
        if result.decision is Decision.LINK:
            owner = customer(result)
            if owner in households:
                result = replace(result, decision=Decision.REVIEW, guard=Guard.HOUSEHOLD)
            elif (len(joined) <= (own is not None) or owner in joined
                  or result.score >= model.merge_score):
                joined.add(owner)
                links.append(result)
                continue
            else:
                result = replace(result, decision=Decision.REVIEW, guard=Guard.OTHER_CUSTOMER)
        if result.decision is Decision.REVIEW:
            candidates_for_review.append(result)
    reviews: dict[str, MatchResult] = {}
    for result in candidates_for_review:
        owner = customer(result)
        if owner not in joined and owner not in reviews:
            reviews[owner] = result
    return MatchOutcome(tuple(links), tuple(reviews.values()), len(results))
