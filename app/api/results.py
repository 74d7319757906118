"""Mutation results: a success type, or one of the expected failures as a typed result.

Every failure implements `Failure`: a stable `code`, a `message`, and a `suggestion` that
says what to do instead. Unexpected errors stay GraphQL errors (masked, see limits.py).
"""

from __future__ import annotations

import functools
import operator
from enum import Enum, StrEnum
from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from app.api.context import Context
from app.api.described import UTC_TIME
from app.api.segments import Segment
from app.api.times import time_field
from app.api.types import AuditConnection, Customer, ReviewConnection
from app.domain.errors import DomainError
from app.domain.rules import RulesError, RulesErrorCode
from app.domain.segments import SegmentError, SegmentErrorCode
from app.domain.steward import StewardError, StewardErrorCode


class ApiFailureCode(StrEnum):
    """The codes of failures the API finds itself, before a use case runs."""

    FORBIDDEN = "FORBIDDEN"
    INVALID_INPUT = "INVALID_INPUT"


# Where each failure code comes from, for its description in the schema.
CODE_ORIGINS: tuple[tuple[type[StrEnum], str], ...] = (
    (ApiFailureCode, "The request"), (StewardErrorCode, "A steward action"),
    (SegmentErrorCode, "A segment definition"), (RulesErrorCode, "A rules file"))
FailureCode: Any = strawberry.enum(  # type: ignore[call-overload]  # a functional Enum
    Enum("FailureCode", {
        code.value: strawberry.enum_value(
            code.value, description=f"{origin}: {code.value.lower().replace('_', ' ')}")
        for vocabulary, origin in CODE_ORIGINS for code in vocabulary}),
    description="Why an expected failure happened; stable, for programs to match on (the "
    "failure's `suggestion` says what to do instead).")


@strawberry.interface(description="An expected failure: nothing was changed.")
class Failure:
    code: str = strawberry.field(graphql_type=FailureCode, description="Stable, for "
                                 "programs: UNKNOWN_CUSTOMER, ...")
    message: str = strawberry.field(description="What went wrong, for people")
    suggestion: str = strawberry.field(description="What to do instead; empty when there is "
                                       "no advice")


@strawberry.type(description="The API key's role may not do this.")
class Forbidden(Failure):
    required_role: str = strawberry.field(description="The least role that may: steward or "
                                          "admin")
    your_role: str = strawberry.field(description="The role of the API key sent: reader, "
                                      "steward or admin")


@strawberry.type(description="An argument idgraph cannot use; `field` names it.")
class InvalidInput(Failure):
    field: str = strawberry.field(description="The argument at fault, as the operation names "
                                  "it; empty when no one argument is")


@strawberry.type(description="No customer with this id (current or merged away).")
class CustomerNotFound(Failure):
    customer_id: strawberry.ID = strawberry.field(description="The id that found no customer")


@strawberry.type(description="The identifier is not in the identity graph, or not active.")
class IdentifierNotFound(Failure):
    pass


@strawberry.type(description="The linking rules, or a steward's ban, keep these apart.")
class RuleBlocked(Failure):
    pass


@strawberry.type(description="No audit entry, review item or segment with this id.")
class NotFound(Failure):
    pass


@strawberry.type(description="The action does not apply to the graph as it is now.")
class ActionRejected(Failure):
    pass


@strawberry.type(description="A rules file idgraph cannot use: `setting` names the setting "
                 "at fault (empty for text that is not TOML), `line` and `column` (from 1) "
                 "point at a TOML syntax error. Nothing was changed.")
class InvalidRules(Failure):
    setting: str = strawberry.field(description="The setting at fault, as the rules file names "
                                    "it; empty for text that is not TOML")
    line: int | None = strawberry.field(description="The TOML syntax error's line, from 1; null "
                                        "for other faults")
    column: int | None = strawberry.field(description="The TOML syntax error's column, from 1; "
                                          "null for other faults")


@strawberry.type(description="A segment definition idgraph cannot use: a syntax error, an "
                 "unknown name, a cycle of segments. `line` and `column` (from 1) point at the "
                 "fault and `length` is how many characters it spans; `message` shows the line "
                 "with a caret under it.")
class InvalidDefinition(Failure):
    segment_id: strawberry.ID = strawberry.field(description="The segment the fault was found "
                                                 "in; empty when not known")
    reason: str = strawberry.field(description="The message without the place")
    line: int | None = strawberry.field(description="null when the fault has no place in the "
                                        "text")
    column: int | None = strawberry.field(description="The fault's column, from 1; null when "
                                          "`line` is")
    length: int = strawberry.field(description="How many characters the fault spans")


# The result type of each domain refusal that has one; the others are ActionRejected.
FAILURE_TYPES: dict[StrEnum, type[Failure]] = {
    StewardErrorCode.UNKNOWN_CUSTOMER: CustomerNotFound,
    StewardErrorCode.UNKNOWN_IDENTIFIER: IdentifierNotFound,
    StewardErrorCode.IDENTIFIER_INACTIVE: IdentifierNotFound,
    StewardErrorCode.INVALID_IDENTIFIER: InvalidInput,
    StewardErrorCode.REASON_REQUIRED: InvalidInput,
    StewardErrorCode.RULE_BLOCKS_LINK: RuleBlocked,
    StewardErrorCode.BANNED_PAIR: RuleBlocked,
    StewardErrorCode.UNKNOWN_AUDIT_ENTRY: NotFound,
    StewardErrorCode.UNKNOWN_REVIEW: NotFound,
    SegmentErrorCode.INVALID_DEFINITION: InvalidDefinition,
    SegmentErrorCode.UNKNOWN_SEGMENT: NotFound,
    RulesErrorCode.INVALID_RULES: InvalidRules,
}


def failure(error: DomainError, result: str, customer_id: str = "") -> Failure:
    """The typed result for a domain refusal among the members of the union `result`; a
    code without a type of its own there is ActionRejected. `customer_id`: the customer
    the request named, for a CustomerNotFound whose error names none."""
    kind = FAILURE_TYPES.get(error.code, ActionRejected)
    if kind not in MEMBERS[result]:
        kind = ActionRejected
    common: dict[str, Any] = {"code": FailureCode(str(error.code)), "message": error.message,
                              "suggestion": error.suggestion}
    if kind is CustomerNotFound:
        named = error.customer_id if isinstance(error, StewardError) else ""
        return CustomerNotFound(**common, customer_id=strawberry.ID(named or customer_id))
    if kind is InvalidInput:
        return InvalidInput(**common, field=error.field)
    if isinstance(error, SegmentError) and kind is InvalidDefinition:
        return InvalidDefinition(
            **common, segment_id=strawberry.ID(error.segment or ""), reason=error.reason,
            line=error.line or None, column=error.column or None, length=error.length)
    if isinstance(error, RulesError) and kind is InvalidRules:
        return InvalidRules(**common, setting=error.setting, line=error.line or None,
                            column=error.column or None)
    return kind(**common)


def invalid(field: str, message: str, suggestion: str = "") -> InvalidInput:
    return InvalidInput(code=FailureCode(ApiFailureCode.INVALID_INPUT),
                        message=f"{field}: {message}", suggestion=suggestion, field=field)


def forbidden(info: Info[Context, Any], role: str) -> Forbidden | None:
    """A Forbidden result unless the caller has `role`."""
    principal = info.context.principal
    if principal.can(role):
        return None
    return Forbidden(code=FailureCode(ApiFailureCode.FORBIDDEN),
                     message=f"this needs the {role} role; your key is a {principal.role} key",
                     suggestion=f"use an API key with the {role} role (IDGRAPH_API_KEYS)",
                     required_role=role, your_role=principal.role)


async def current_customers(info: Info[Context, Any], ids: list[str]) -> list[Customer]:
    """The customers now behind these ids: merged ones are their survivors, erased ones gone."""
    current = await info.context.loaders.current_ids.load_many(ids)
    return [Customer(id=strawberry.ID(c)) for c in sorted({c for c in current if c})]


@strawberry.type(description="A merge done by an action: `absorbed` now redirects to "
                 "`survivor`.")
class MergeOutcome:
    absorbed_id: strawberry.ID = strawberry.field(description="The customer merged away; its "
                                                  "id now finds the survivor")
    survivor_id: strawberry.ID = strawberry.field(description="The customer it was merged "
                                                  "into")


@strawberry.type(description="A split done by an action: `parts` are the new customers.")
class SplitOutcome:
    customer_id: strawberry.ID = strawberry.field(description="The customer split")
    parts: list[strawberry.ID] = strawberry.field(description="The new customers split off it")


@strawberry.type(description="A steward action done, in one transaction, with its audit seq "
                 "(pass it to undoAction to reverse it).")
class ActionSuccess:
    audit_seq: int | None = strawberry.field(description="The action's audit entry; null when "
                                             "none was written")
    merges: list[MergeOutcome] = strawberry.field(description="The merges the action made")
    splits: list[SplitOutcome] = strawberry.field(description="The splits the action made")
    affected_customer_ids: strawberry.Private[list[str]]

    @strawberry.field(description="The customers the action changed, as they are now.")
    async def affected_customers(self, info: Info[Context, Any]) -> list[Customer]:
        return await current_customers(info, self.affected_customer_ids)


@strawberry.type(description="What an erasure removed. Keep it as the requester's receipt; "
                 "the erased identifiers are on the suppression list and come back only with "
                 "consent.")
class ErasureReceipt:
    customer_id: strawberry.ID = strawberry.field(description="The customer erased")
    identifiers: list[str] = strawberry.field(description="The identifier keys erased")
    identifiers_erased: int = strawberry.field(description="How many identifiers were erased")
    events_erased: int = strawberry.field(description="How many events were erased")
    links_erased: int = strawberry.field(description="How many links were erased")
    at: str = time_field(description=f"When, {UTC_TIME}")
    audit_seq: int | None = strawberry.field(description="The erasure's audit entry; null when "
                                             "none was written")


@strawberry.type(description="An event rejected, or an identifier dropped from an event.")
class IngestProblem:
    position: str = strawberry.field(description="events[i]: where it was in the input; "
                                     "event <id> for a problem found while linking")
    event_id: str | None = strawberry.field(description="The event's id; null when it had no "
                                            "usable one")
    field: str = strawberry.field(description="The field at fault: timestamp, identifiers, "
                                  "a trait's name, ...")
    reason: str = strawberry.field(description="What is wrong with it")
    rejected: bool = strawberry.field(description="true: the event was not stored")


@strawberry.type(description="What ingestEvents did, in one transaction.")
class IngestSuccess:
    received: int = strawberry.field(description="Events in the call")
    stored: int = strawberry.field(description="New events written")
    duplicates: int = strawberry.field(description="Events already stored: changed nothing")
    rejected: int = strawberry.field(description="Events not stored (see problems)")
    new_customers: int = strawberry.field(description="Customers the events created")
    merges: int = strawberry.field(description="Customers merged into others by the events")
    problems: list[IngestProblem] = strawberry.field(description="Events rejected, "
                                                     "identifiers dropped and traits ignored "
                                                     "for matching")
    affected_customer_ids: strawberry.Private[list[str]]

    @strawberry.field(description="The customers the events touched, as they are now.")
    async def affected_customers(self, info: Info[Context, Any]) -> list[Customer]:
        return await current_customers(info, self.affected_customer_ids)


def union_of(name: str, *members: type[Any], description: str) -> Any:
    """A named GraphQL union of these types; `failure` keeps to its members."""
    members_union: Any = functools.reduce(operator.or_, members)
    MEMBERS[name] = members
    return Annotated[members_union, strawberry.union(name, description=description)]


MEMBERS: dict[str, tuple[type[Any], ...]] = {}
DONE_OR_FAILED = "the action done, or the failure that changed nothing."
LinkResult = union_of("LinkResult", ActionSuccess, IdentifierNotFound, RuleBlocked, Forbidden,
                      InvalidInput, ActionRejected,
                      description=f"linkIdentifiers: {DONE_OR_FAILED}")
UnlinkResult = union_of("UnlinkResult", ActionSuccess, IdentifierNotFound, Forbidden,
                        InvalidInput, ActionRejected,
                        description=f"unlinkIdentifiers: {DONE_OR_FAILED}")
MergeResult = union_of("MergeResult", ActionSuccess, CustomerNotFound, RuleBlocked, Forbidden,
                       InvalidInput, ActionRejected,
                       description=f"mergeCustomers: {DONE_OR_FAILED}")
SplitResult = union_of("SplitResult", ActionSuccess, IdentifierNotFound, Forbidden,
                       InvalidInput, ActionRejected,
                       description=f"splitCustomer: {DONE_OR_FAILED}")
StatusResult = union_of("IdentifierStatusResult", ActionSuccess, IdentifierNotFound, Forbidden,
                        InvalidInput, ActionRejected,
                        description=f"quarantineIdentifier, releaseIdentifier: {DONE_OR_FAILED}")
ResolveReviewResult = union_of("ResolveReviewResult", ActionSuccess, NotFound,
                               IdentifierNotFound, RuleBlocked, Forbidden, InvalidInput,
                               ActionRejected, description=f"resolveReview: {DONE_OR_FAILED}")
UndoResult = union_of("UndoResult", ActionSuccess, NotFound, IdentifierNotFound,
                      CustomerNotFound, RuleBlocked, Forbidden, InvalidInput, ActionRejected,
                      description=f"undoAction: {DONE_OR_FAILED}")
ForgetResult = union_of("ForgetResult", ErasureReceipt, CustomerNotFound, Forbidden,
                        InvalidInput, ActionRejected,
                        description="forgetCustomer: the erasure's receipt, or the failure "
                        "that changed nothing.")
IngestResult = union_of("IngestEventsResult", IngestSuccess, Forbidden, InvalidInput,
                        description="ingestEvents: what it did (rejected events included), "
                        "or the failure that stored nothing.")


@strawberry.type(description="A segment defined or updated: every customer was evaluated for "
                 "it now. `entered` and `left` count the customers who entered or left this "
                 "segment; every membership change (also of segments that read it) is "
                 "published to the subscriptions.")
class SegmentDefined:
    segment: Segment = strawberry.field(description="The segment as it is now")
    entered: int = strawberry.field(description="Customers who entered it")
    left: int = strawberry.field(description="Customers who left it")


@strawberry.type(description="A segment deleted: its members left it (why: the segment was "
                 "deleted); their history stays.")
class SegmentDeleted:
    segment_id: strawberry.ID = strawberry.field(description="The segment deleted")
    left: int = strawberry.field(description="Customers who left it: its members")


DefineSegmentResult = union_of("DefineSegmentResult", SegmentDefined, InvalidDefinition,
                               ActionRejected, Forbidden, InvalidInput,
                               description="defineSegment: the segment defined, or the "
                               "failure that changed nothing.")
UpdateSegmentResult = union_of("UpdateSegmentResult", SegmentDefined, InvalidDefinition,
                               NotFound, ActionRejected, Forbidden, InvalidInput,
                               description="updateSegment: the segment updated, or the "
                               "failure that changed nothing.")
DeleteSegmentResult = union_of("DeleteSegmentResult", SegmentDeleted, NotFound,
                               ActionRejected, Forbidden, InvalidInput,
                               description="deleteSegment: the segment deleted, or the "
                               "failure that changed nothing.")


@strawberry.type(description="Who is calling: the API key's role, and the name the audit log "
                 "gives it.")
class Viewer:
    role: str = strawberry.field(description="reader, steward or admin")
    actor: str = strawberry.field(description="The name the audit log gives the caller: "
                                  "role-key-fingerprint, or local-dev when no keys are set")
    sees_pii: bool = strawberry.field(description="true for stewards and admins; false: "
                                      "personal values reach the caller masked")
    development_mode: bool = strawberry.field(description="true when no API keys are set "
                                              "(IDGRAPH_API_KEYS): every caller is an admin")


AuditLogResult = union_of("AuditLogResult", AuditConnection, Forbidden,
                          description="auditLog: a page of the log, or Forbidden for a reader.")
ReviewQueueResult = union_of("ReviewQueueResult", ReviewConnection, Forbidden,
                             description="reviewQueue: a page of the queue, or Forbidden for a "
                             "reader.")
