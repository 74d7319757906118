"""Why two customers are not one: the best-scoring record pairs between them under the
match model, the links between them that rules or stewards stopped, the per-type limits a
merge would break, and the reasons in order of weight.

Pure: the caller gathers both customers' identifiers, match records and links, and the
matcher; `why_not` decides. It answers with the shapes of explain.py (links as they are
stored) and of matching (MatchResult, ComparisonOutcome), so that a steward reads one
vocabulary across explanations, the review queue and this.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol, TypeVar

from app.domain.explain import LinkLike
from app.domain.matching import Decision, Guard, MatchRecord, MatchResult
from app.domain.matching.training import Matcher
from app.domain.plan import ACTIVE, BANNED, REJECTED, REMOVED

MAX_RECORDS = 50  # match records per customer that are scored: pairs grow as their product
MAX_PAIRS = 5  # best pairs shown
A = TypeVar("A", bound="AuditDecision")


class Reason(StrEnum):
    """Why two customers are apart, strongest first."""

    SAME_CUSTOMER = "same_customer"  # they are one customer
    BANNED = "banned"  # a steward banned a link between them: it never links again
    REMOVED = "removed"  # a steward cut a link between them
    RULE_REJECTED = "rule_rejected"  # a rule stopped a link between them
    LIMIT = "limit"  # one customer may not hold both customers' identifiers of a type
    GUARD = "guard"  # the household or twins guard keeps their best pair apart
    NEEDS_MERGE_SCORE = "needs_merge_score"  # likely, but joining two customers needs more
    IN_REVIEW = "in_review"  # the best pair is between the thresholds: a steward decides
    WEAK_MATCH = "weak_match"  # the best pair is below the review threshold
    NO_RECORDS = "no_records"  # one side has no traits to compare
    NO_MODEL = "no_model"  # no trained, usable match model
    # the best pair would merge them, but the stream never compared the two records
    # (blocking did not bring them together, or they came before the model)
    NOT_COMPARED = "not_compared"


_LINK_REASONS = {BANNED: Reason.BANNED, REMOVED: Reason.REMOVED, REJECTED: Reason.RULE_REJECTED}


@dataclass(frozen=True, slots=True)
class Conflict:
    """A per-type limit a merge would break."""

    type: str
    limit: int
    count: int  # identifiers of the type the two customers hold together

    @property
    def message(self) -> str:
        return (f"limit: at most {self.limit} {self.type} per customer (a merge would join "
                f"{self.count})")


@dataclass(frozen=True, slots=True)
class WhyNot:
    a: str
    b: str
    reasons: tuple[Reason, ...]
    pairs: tuple[MatchResult, ...]  # best first; record ids are identifier keys
    stopped: tuple[LinkLike, ...]  # links between the two that are not active
    conflicts: tuple[Conflict, ...]
    thresholds: Mapping[str, float]  # review, link and merge, as probabilities
    compared: int  # pairs scored


def conflicts_of(keys_a: Sequence[str], keys_b: Sequence[str], limits: Mapping[str, int]
                 ) -> tuple[Conflict, ...]:
    counts = Counter(k.partition(":")[0] for k in (*keys_a, *keys_b))
    return tuple(Conflict(t, limits[t], counts[t]) for t in sorted(limits)
                 if counts[t] > limits[t])


def stopped_between(keys_a: Sequence[str], keys_b: Sequence[str], links: Sequence[LinkLike]
                    ) -> tuple[LinkLike, ...]:
    a, b = set(keys_a), set(keys_b)
    return tuple(link for link in links if link.status != ACTIVE and (
        (link.a in a and link.b in b) or (link.a in b and link.b in a)))


def score_pairs(matcher: Matcher, records_a: Sequence[MatchRecord],
                records_b: Sequence[MatchRecord]) -> list[MatchResult]:
    """Every pair across the two customers (at most MAX_RECORDS a side), best first."""
    model = matcher.model
    results = [model.judge(x.record_id, y.record_id, model.compare(x.traits, y.traits),
                           matcher.tf(x))
               for x in records_a[:MAX_RECORDS] for y in records_b[:MAX_RECORDS]]
    results.sort(key=lambda r: (-r.score, r.record_id, r.candidate_id))
    return results


def pair_reasons(matcher: Matcher | None, best: MatchResult | None) -> list[Reason]:
    if matcher is None or not matcher.model.health.usable:
        return [Reason.NO_MODEL]
    if best is None:
        return [Reason.NO_RECORDS]
    if best.guard in (Guard.HOUSEHOLD, Guard.TWINS):
        return [Reason.GUARD]
    if best.decision is Decision.LINK:
        # Linked alone, the record would join one customer; it ties a second one only
        # with the merge probability (matcher.py).
        return [Reason.NOT_COMPARED if best.score >= matcher.model.merge_score
                else Reason.NEEDS_MERGE_SCORE]
    return [Reason.IN_REVIEW if best.decision is Decision.REVIEW else Reason.WEAK_MATCH]


def why_not(a: str, b: str, keys_a: Sequence[str], keys_b: Sequence[str],
            records_a: Sequence[MatchRecord], records_b: Sequence[MatchRecord],
            links: Sequence[LinkLike], matcher: Matcher | None, limits: Mapping[str, int]
            ) -> WhyNot:
    """Why customer `a` (identifier keys `keys_a`, match records `records_a`) and `b` are
    apart. `links` are links touching either; `matcher` the trained one, if any."""
    if a == b:
        return WhyNot(a, b, (Reason.SAME_CUSTOMER,), (), (), (), {}, 0)
    stopped = stopped_between(keys_a, keys_b, links)
    conflicts = conflicts_of(keys_a, keys_b, limits)
    scored = score_pairs(matcher, records_a, records_b) if matcher else []
    reasons = [_LINK_REASONS[s] for s in (BANNED, REMOVED, REJECTED)
               if any(link.status == s for link in stopped)]
    if conflicts:
        reasons.append(Reason.LIMIT)
    reasons += pair_reasons(matcher, scored[0] if scored else None)
    thresholds: dict[str, float] = {}
    if matcher:
        settings = matcher.model.settings
        thresholds = {"review": settings.review, "link": settings.link,
                      "merge": settings.merge}
    return WhyNot(a, b, tuple(reasons), tuple(scored[:MAX_PAIRS]), stopped, conflicts,
                  thresholds, len(scored))


class AuditDecision(Protocol):
    """What `decisions_between` reads of an audit entry (AuditRecord has these)."""

    @property
    def action(self) -> str: ...
    @property
    def details(self) -> Mapping[str, Any]: ...


def decisions_between(entries: Iterable[A], keys_a: Collection[str], keys_b: Collection[str],
                      ids_a: Collection[str], ids_b: Collection[str]) -> list[A]:
    """The steward decisions among `entries` that bear on the two customers: those whose
    identifiers or customers reach both sides (a cut, a ban, an undone merge), and the
    splits that made either (a split leaves the new customer apart from the old)."""
    found: list[A] = []
    for entry in entries:
        keys = [k for k in entry.details.get("keys", ()) if isinstance(k, str)]
        customers = [c for c in entry.details.get("customers", ()) if isinstance(c, str)]
        sides = ({"a" for k in keys if k in keys_a} | {"b" for k in keys if k in keys_b}
                 | {"a" for c in customers if c in ids_a}
                 | {"b" for c in customers if c in ids_b})
        if len(sides) == 2 or (entry.action == "split" and sides):
            found.append(entry)
    return found
