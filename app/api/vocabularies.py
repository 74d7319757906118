"""The closed vocabularies the schema returns as GraphQL enums: statuses, actions, rules and
kinds. Each member's value is the domain's word for it (a store holds that word), so a
record's string turns into its member with `Enum(value)`; tests/unit/test_api_vocabularies.py
keeps every enum equal to the domain vocabulary it mirrors."""

from __future__ import annotations

from enum import Enum

import strawberry

from app.domain.asof import FORGET
from app.domain.matching.decisions import Basis, Decision, Guard
from app.domain.plan import IdentifierStatus as DomainIdentifierStatus
from app.domain.plan import LinkStatus as DomainLinkStatus
from app.domain.plan import ReviewStatus as DomainReviewStatus
from app.domain.rules_change import OutcomeKind as DomainOutcomeKind
from app.domain.steward import StewardActionKind
from app.services.whatif import RULES_ACTION


@strawberry.enum(description="Whether an identifier links.")
class IdentifierStatus(Enum):
    ACTIVE = strawberry.enum_value(DomainIdentifierStatus.ACTIVE.value,
                                   description="It links to the identifiers seen with it")
    BLOCKED = strawberry.enum_value(DomainIdentifierStatus.BLOCKED.value, description="Its "
                                    "value matches a block rule; it links nothing")
    QUARANTINED = strawberry.enum_value(DomainIdentifierStatus.QUARANTINED.value,
                                        description="A hub, or quarantined by a steward; it "
                                        "links nothing until released")


@strawberry.enum(description="Whether a link joins its two identifiers, and who stopped it.")
class LinkStatus(Enum):
    ACTIVE = strawberry.enum_value(DomainLinkStatus.ACTIVE.value, description="It joins its "
                                   "ends into one customer")
    REJECTED = strawberry.enum_value(DomainLinkStatus.REJECTED.value, description="A rule "
                                     "stopped it; looked at again when its customer changes")
    REMOVED = strawberry.enum_value(DomainLinkStatus.REMOVED.value, description="A steward "
                                    "cut it; new evidence may link the pair again")
    BANNED = strawberry.enum_value(DomainLinkStatus.BANNED.value, description="A steward "
                                   "banned the pair; it never links again")


@strawberry.enum(description="What an audit entry records: a steward action, an erasure or "
                 "a rules change.")
class AuditAction(Enum):
    LINK = strawberry.enum_value(StewardActionKind.LINK.value,
                                 description="linkIdentifiers: two identifiers linked")
    UNLINK = strawberry.enum_value(StewardActionKind.UNLINK.value, description="unlinkIdentifiers"
                                   ": a link cut (banned with `ban`)")
    MERGE = strawberry.enum_value(StewardActionKind.MERGE.value,
                                  description="mergeCustomers: two customers merged")
    SPLIT = strawberry.enum_value(StewardActionKind.SPLIT.value, description="splitCustomer: "
                                  "identifiers split off into a new customer")
    RELINK = strawberry.enum_value(StewardActionKind.RELINK.value, description="The links an "
                                   "undone split cut, restored")
    QUARANTINE = strawberry.enum_value(StewardActionKind.QUARANTINE.value, description="quaran"
                                       "tineIdentifier: an identifier kept from linking")
    RELEASE = strawberry.enum_value(StewardActionKind.RELEASE.value, description="releaseIden"
                                    "tifier: a quarantined identifier let link again")
    REVIEW = strawberry.enum_value(StewardActionKind.REVIEW.value, description="resolveReview: "
                                   "a review item accepted (linked) or rejected")
    FORGET = strawberry.enum_value(FORGET, description="forgetCustomer: a customer erased")
    RULES = strawberry.enum_value(RULES_ACTION, description="A rules change applied (or one "
                                  "undone)")


@strawberry.enum(description="Where a review item stands.")
class ReviewStatus(Enum):
    OPEN = strawberry.enum_value(DomainReviewStatus.OPEN.value, description="Waiting for a "
                                 "steward (the queue holds these)")
    ACCEPTED = strawberry.enum_value(DomainReviewStatus.ACCEPTED.value, description="A steward "
                                     "accepted it: the pair is linked")
    REJECTED = strawberry.enum_value(DomainReviewStatus.REJECTED.value, description="A steward "
                                     "rejected it: the pair stays apart")


@strawberry.enum(description="What the match model alone would do with a record pair.")
class MatchDecision(Enum):
    LINK = strawberry.enum_value(Decision.LINK.value, description="Link the two records")
    REVIEW = strawberry.enum_value(Decision.REVIEW.value, description="Queue the pair for a "
                                   "steward (between the thresholds)")
    NONE = strawberry.enum_value(Decision.NONE.value, description="Nothing: below the review "
                                 "threshold")


@strawberry.enum(description="Why a record pair is kept from linking whatever its score.")
class MatchGuard(Enum):
    HOUSEHOLD = strawberry.enum_value(Guard.HOUSEHOLD.value, description="One address, first "
                                      "names and birth dates that clearly differ")
    TWINS = strawberry.enum_value(Guard.TWINS.value, description="One address and one birth "
                                  "date, first names that clearly differ")
    OTHER_CUSTOMER = strawberry.enum_value(Guard.OTHER_CUSTOMER.value, description="Linking "
                                           "would tie a second customer on one record's "
                                           "strength")


@strawberry.enum(description="Whom a record pair is weighed against: the other explanation of "
                 "what its records share.")
class MatchBasis(Enum):
    STRANGERS = strawberry.enum_value(Basis.STRANGERS.value, description="Two records drawn at "
                                      "random")
    HOUSEMATES = strawberry.enum_value(Basis.HOUSEMATES.value, description="Records at one "
                                       "address")
    TWINS = strawberry.enum_value(Basis.TWINS.value, description="Records with one surname and "
                                  "one birth date, not at one address")


@strawberry.enum(description="What a rules change or a steward action does to a customer.")
class OutcomeKind(Enum):
    MERGED = strawberry.enum_value(DomainOutcomeKind.MERGED.value, description="Its "
                                   "identifiers go to another customer that was there before")
    SPLIT = strawberry.enum_value(DomainOutcomeKind.SPLIT.value, description="Its identifiers "
                                  "go to several customers")
    CHANGED = strawberry.enum_value(DomainOutcomeKind.CHANGED.value, description="It keeps its "
                                    "id and gains or loses identifiers")
    NEW = strawberry.enum_value(DomainOutcomeKind.NEW.value, description="A customer that was "
                                "not there before")
    EMPTIED = strawberry.enum_value(DomainOutcomeKind.EMPTIED.value, description="Every "
                                    "identifier it held stops linking")


@strawberry.enum(description="The survivorship rule that chose a profile trait's value "
                 "(docs/api.md).")
class SurvivorshipRule(Enum):
    MOST_RECENT = strawberry.enum_value("most_recent", description="The value seen last")
    MOST_FREQUENT = strawberry.enum_value("most_frequent", description="The value seen most "
                                          "often (ties: the most recent)")
    SOURCE_PRIORITY = strawberry.enum_value("source_priority", description="The value from "
                                            "the highest-priority source (ties: the most "
                                            "recent)")


@strawberry.enum(description="How a computed trait is computed from the customer's events "
                 "(docs/segments.md, Computed traits).")
class ComputedTraitKind(Enum):
    COUNT = strawberry.enum_value("count", description="Events of its types")
    SUM = strawberry.enum_value("sum", description="The sum of a numeric property")
    AVERAGE = strawberry.enum_value("average", description="The average of a numeric property")
    FIRST_SEEN = strawberry.enum_value("first_seen", description="Time of the earliest event")
    LAST_SEEN = strawberry.enum_value("last_seen", description="Time of the latest event")
    DAYS_SINCE = strawberry.enum_value("days_since", description="Whole days since the latest "
                                       "event")
    MOST_FREQUENT = strawberry.enum_value("most_frequent", description="The value of a field "
                                          "seen most often")
    COUNT_BY_TYPE = strawberry.enum_value("count_by_type", description="Events per event type")
    DISTINCT_COUNT = strawberry.enum_value("distinct_count", description="Distinct values of a "
                                           "field")
    IDENTIFIER_COUNT = strawberry.enum_value("identifier_count", description="The customer's "
                                             "identifiers of a type")
