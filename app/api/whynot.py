"""whyNot: why two customers are not one (app/domain/whynot.py decides, app/services/whynot.py
gathers); this module parses the two sides and shapes the answer, masked for readers."""

from __future__ import annotations

import asyncio
from enum import Enum
from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from app.api.context import Context
from app.api.errors import InputError
from app.api.masking import Shown
from app.api.results import (
    CustomerNotFound,
    Failure,
    IdentifierNotFound,
    failure,
    union_of,
)
from app.api.types import (
    AuditEntry,
    Customer,
    IdentifierInput,
    Link,
    customer_masker,
    sees_pii,
)
from app.api.vocabularies import MatchBasis, MatchDecision, MatchGuard
from app.api.whatif import ActionInput, ActionKind, PreviewActionResult, preview_steward_action
from app.domain.identifiers import IdentifierError, normalise
from app.domain.matching import MatchResult
from app.domain.steward import StewardError, StewardErrorCode
from app.domain.whynot import MAX_PAIRS, MAX_RECORDS, Conflict
from app.domain.whynot import Reason as DomainReason
from app.services.whynot import AUDIT_SCAN, UnknownCustomer, WhyNotAnswer, why_not_customers


@strawberry.enum(description="Why two customers are apart, strongest first.")
class WhyNotReason(Enum):
    SAME_CUSTOMER = strawberry.enum_value(
        DomainReason.SAME_CUSTOMER.value, description="They are one customer already")
    BANNED = strawberry.enum_value(DomainReason.BANNED.value, description="A steward banned "
                                   "a link between them: it never links again")
    REMOVED = strawberry.enum_value(DomainReason.REMOVED.value, description="A steward cut a "
                                    "link between them; new evidence may link them again")
    RULE_REJECTED = strawberry.enum_value(DomainReason.RULE_REJECTED.value,
                                          description="A rule stopped a link between them")
    LIMIT = strawberry.enum_value(DomainReason.LIMIT.value, description="One customer may not "
                                  "hold both customers' identifiers of a type (see conflicts)")
    GUARD = strawberry.enum_value(DomainReason.GUARD.value, description="The household or "
                                  "twins guard keeps their best pair apart whatever its score")
    NEEDS_MERGE_SCORE = strawberry.enum_value(
        DomainReason.NEEDS_MERGE_SCORE.value, description="The best pair would link a record "
        "to one customer, but joining a second needs the merge probability")
    IN_REVIEW = strawberry.enum_value(DomainReason.IN_REVIEW.value, description="The best "
                                      "pair is between the thresholds: a steward decides")
    WEAK_MATCH = strawberry.enum_value(DomainReason.WEAK_MATCH.value, description="The best "
                                       "pair is below the review threshold")
    NO_RECORDS = strawberry.enum_value(DomainReason.NO_RECORDS.value, description="One side "
                                       "has no traits (names, birth date, address) to compare")
    NO_MODEL = strawberry.enum_value(DomainReason.NO_MODEL.value, description="No trained, "
                                     "usable match model (idgraph match train)")
    NOT_COMPARED = strawberry.enum_value(
        DomainReason.NOT_COMPARED.value, description="The best pair would merge them, but the "
        "stream never compared the two records (blocking kept them apart, or they came "
        "before the model)")


@strawberry.type(description="One comparison of a record pair: its level and weight.")
class ComparisonWeight:
    comparison: str = strawberry.field(description="The trait compared: first_name, email, ...")
    level: str = strawberry.field(description="How closely they agree: exact, a similarity "
                                  "level, null (missing on a side), else")
    weight: float = strawberry.field(description="Its log2 weight of evidence: above 0 for, "
                                     "below 0 against")


@strawberry.type(description="Two records, one of each customer, scored by the match model.")
class RecordPair:
    a: str = strawberry.field(description="The first customer's identifier the record is filed "
                              "under (key type:value, masked for readers)")
    b: str = strawberry.field(description="The second customer's identifier (masked for "
                              "readers)")
    score: float = strawberry.field(description="The log2 odds that the two are one person")
    probability: float = strawberry.field(description="The same as a probability, 0 to 1")
    decision: MatchDecision = strawberry.field(description="What the model alone would do")
    guard: MatchGuard | None = strawberry.field(description="The guard that keeps the pair apart "
                                                "whatever its score; else null")
    basis: MatchBasis = strawberry.field(description="Whom the pair is weighed against")
    comparisons: list[ComparisonWeight] = strawberry.field(description="Every comparison, in "
                                                           "the model's order")


@strawberry.type(description="A per-type limit of the rules that a merge would break.")
class LimitConflict:
    type: str = strawberry.field(description="The identifier type: crm_id, ...")
    limit: int = strawberry.field(description="At most this many per customer")
    count: int = strawberry.field(description="How many the two customers hold together")
    message: str = strawberry.field(description="The rule, in words")


@strawberry.type(description="The match model's thresholds, as probabilities.")
class Thresholds:
    review: float = strawberry.field(description="At or above it a pair goes to review")
    link: float = strawberry.field(description="At or above it a record links to one customer")
    merge: float = strawberry.field(description="At or above it a record may join a second "
                                    "customer, merging the two")


@strawberry.type(description="Why two customers are not one: the reasons, strongest first; "
                 "the best record pairs under the match model with every comparison's weight; "
                 "the links between them that rules or stewards stopped; the limits a merge "
                 "would break; the steward decisions that bear on them; and what a merge would "
                 "do.")
class WhyNot:
    a: Customer = strawberry.field(description="The first customer (merged ids followed)")
    b: Customer = strawberry.field(description="The second customer")
    reasons: list[WhyNotReason] = strawberry.field(description="Why they are apart, strongest "
                                                   "first; empty when nothing keeps them apart")
    pairs: list[RecordPair] = strawberry.field(description=f"The best-scoring record pairs, "
                                               f"best first, at most {MAX_PAIRS}")
    compared: int = strawberry.field(description=f"Record pairs scored (at most {MAX_RECORDS} "
                                     f"records a side)")
    thresholds: Thresholds | None = strawberry.field(description="The model's thresholds; "
                                                     "null without a model")
    stopped_links: list[Link] = strawberry.field(description="Links between the two that are "
                                                 "not active: rejected by a rule, removed or "
                                                 "banned by a steward")
    conflicts: list[LimitConflict] = strawberry.field(description="The per-type limits a "
                                                      "merge would break")
    decisions: list[AuditEntry] | None = strawberry.field(
        description=f"Steward actions among the newest {AUDIT_SCAN} audit entries that reach "
        "both customers, and splits that made either, newest first; null for readers (the "
        "audit log is the stewards')")
    audit_scanned: int = strawberry.field(description="Audit entries looked through")
    customer_ids: strawberry.Private[tuple[str, str]]

    @strawberry.field(description="What merging the two would do (previewAction with "
                      "MERGE); the steward role")
    async def merge(self, info: Info[Context, Any]) -> PreviewActionResult:
        return await preview_steward_action(info, ActionInput(
            kind=ActionKind.MERGE, customers=[strawberry.ID(c) for c in self.customer_ids],
            reason="why not: merge preview"))


WhyNotResult = union_of("WhyNotResult", WhyNot, CustomerNotFound, IdentifierNotFound,
                        description="whyNot: the answer, or the side that was not found.")

CustomersArgument = Annotated[list[strawberry.ID] | None, strawberry.argument(
    description="Two customer ids (merged ids find the survivor); or give `identifiers`")]
IdentifiersArgument = Annotated[list[IdentifierInput] | None, strawberry.argument(
    description="Two identifiers, whose customers are compared; or give `customers`")]


async def resolve_why_not(info: Info[Context, Any], customers: list[strawberry.ID] | None,
                          identifiers: list[IdentifierInput] | None) -> Any:
    sides = await _sides(info, customers, identifiers)
    if not isinstance(sides, tuple):
        return sides
    try:
        answer = await why_not_customers(info.context.services, *sides)
    except UnknownCustomer as exc:
        return failure(exc, "WhyNotResult")
    return await _shaped(info, answer)


async def _sides(info: Info[Context, Any], customers: list[strawberry.ID] | None,
                 identifiers: list[IdentifierInput] | None
                 ) -> tuple[str, str] | Failure:
    if (customers is None) == (identifiers is None):
        raise InputError("customers: give two customer ids, or two identifiers, not both")
    if customers is not None:
        if len(customers) != 2:
            raise InputError(f"customers: give two, not {len(customers)}")
        return str(customers[0]), str(customers[1])
    identifiers = identifiers or []
    if len(identifiers) != 2:
        raise InputError(f"identifiers: give two, not {len(identifiers)}")
    region = info.context.services.settings.default_region
    keys: list[str] = []
    for n, ident in enumerate(identifiers):
        try:
            keys.append(normalise(ident.type, ident.value, default_region=region).key)
        except IdentifierError as exc:
            raise InputError(f"identifiers[{n}]: {exc}") from None
    owners = await info.context.loaders.owners.load_many(keys)
    for n, owner in enumerate(owners):
        if owner is None:
            return failure(StewardError(StewardErrorCode.UNKNOWN_IDENTIFIER,
                                        f"identifiers[{n}]: no customer has it"),
                           "WhyNotResult")
    return str(owners[0]), str(owners[1])


async def _shaped(info: Info[Context, Any], answer: WhyNotAnswer) -> WhyNot:
    why = answer.why
    ma, mb = await asyncio.gather(customer_masker(info, why.a), customer_masker(info, why.b))
    thresholds = Thresholds(**why.thresholds) if why.thresholds else None
    return WhyNot(
        a=Customer(id=strawberry.ID(why.a)), b=Customer(id=strawberry.ID(why.b)),
        reasons=[WhyNotReason(r.value) for r in why.reasons],
        pairs=[_pair(p, ma, mb) for p in why.pairs], compared=why.compared,
        thresholds=thresholds,
        stopped_links=[Link.of(link, ma) for link in why.stopped],  # type: ignore[arg-type]
        conflicts=[_conflict(c) for c in why.conflicts],
        decisions=[AuditEntry.of(e) for e in answer.decisions] if sees_pii(info) else None,
        audit_scanned=answer.audit_scanned, customer_ids=(why.a, why.b))


def _pair(p: MatchResult, ma: Shown, mb: Shown) -> RecordPair:
    return RecordPair(
        a=ma.key(p.record_id), b=mb.key(p.candidate_id), score=round(p.score, 4),
        probability=p.probability, decision=MatchDecision(p.decision.value),
        guard=MatchGuard(p.guard.value) if p.guard else None, basis=MatchBasis(p.basis.value),
        comparisons=[ComparisonWeight(comparison=c.comparison, level=c.level, weight=c.weight)
                     for c in p.comparisons])


def _conflict(c: Conflict) -> LimitConflict:
    return LimitConflict(type=c.type, limit=c.limit, count=c.count, message=c.message)
