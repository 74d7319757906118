"""`previewRules` (admins) and `previewAction` (stewards): what a new rules file or a steward
action would do, without doing it (app/services/whatif.py)."""

from __future__ import annotations

from enum import Enum
from typing import Any

import strawberry
from strawberry.types import Info

from app.api.context import Context
from app.api.results import (
    ActionRejected,
    CustomerNotFound,
    Forbidden,
    IdentifierNotFound,
    InvalidInput,
    InvalidRules,
    NotFound,
    RuleBlocked,
    failure,
    forbidden,
    invalid,
    union_of,
)
from app.api.types import IdentifierInput, MembershipChangeKind
from app.api.vocabularies import OutcomeKind
from app.domain.rules import RulesError
from app.domain.steward import Action, StewardActionKind, StewardError, StewardErrorCode
from app.services.whatif import RulesPreview, RulesService, preview_action


@strawberry.type(description="A customer a rules change (or a steward action) changes: "
                 "`change` says how; `gained` and `lost` "
                 "the identifier keys it gains and loses, `fromCustomers` where the gains "
                 "come from and `toCustomers` where the losses go; `rules` the settings "
                 "that cause it.")
class CustomerDiff:
    customer_id: strawberry.ID = strawberry.field(description="The customer's id (for a new "
                                                  "one, the id it would get)")
    change: OutcomeKind = strawberry.field(description="What happens to it")
    gained: list[str] = strawberry.field(description="Identifier keys it would gain")
    lost: list[str] = strawberry.field(description="Identifier keys it would lose")
    from_customers: list[strawberry.ID] = strawberry.field(description="Customers the gained "
                                                           "identifiers come from")
    to_customers: list[strawberry.ID] = strawberry.field(description="Customers the lost "
                                                         "identifiers go to")
    rules: list[str] = strawberry.field(description="The settings that cause the change; for "
                                        "an action, the action and its reason")


@strawberry.type(description="A customer a steward action would bring into a segment or take "
                 "out of it, with the conditions that would hold (entered) or stop holding "
                 "(left). A part split off has a provisional id.")
class SegmentChangeDiff:
    customer_id: strawberry.ID = strawberry.field(description="The customer, as the action "
                                                  "would leave it")
    segment_id: strawberry.ID = strawberry.field(description="The segment")
    change: MembershipChangeKind = strawberry.field(description="Entered or left")
    why: list[str] = strawberry.field(description="The conditions that would hold (entered) "
                                      "or stop holding (left)")


@strawberry.type(description="What a rules change or a steward action would do, planned as "
                 "applying it plans it and rolled back: nothing is written "
                 "(docs/resolution.md). Segment entries and exits are those evaluating the "
                 "changed customers would make. For an action `settingsChanged` is empty.")
class GraphDiff:
    settings_changed: list[str] = strawberry.field(description="The settings that differ from "
                                                   "the rules in use, as the rules file names "
                                                   "them")
    customers_before: int = strawberry.field(description="Customers now")
    customers_after: int = strawberry.field(description="Customers there would be")
    merges: int = strawberry.field(description="Merges it would make (three customers "
                                   "becoming one count two)")
    splits: int = strawberry.field(description="Splits it would make (a customer split in "
                                   "three counts two)")
    identifiers_moved: int = strawberry.field(description="Identifiers that would change "
                                              "customer")
    identifiers_deactivated: int = strawberry.field(description="Identifiers that would stop "
                                                    "belonging to any customer")
    identifiers_activated: int = strawberry.field(description="Identifiers without a customer "
                                                  "that would gain one")
    customers_reevaluated: int = strawberry.field(
        description="Customers re-partitioned: only those a changed setting can touch.")
    segment_entries: int = strawberry.field(description="Segment entries the change would "
                                            "cause")
    segment_exits: int = strawberry.field(description="Segment exits the change would cause")
    customers: list[CustomerDiff] = strawberry.field(description="Each customer that would "
                                                     "change, and how")
    segment_changes: list[SegmentChangeDiff] = strawberry.field(description=(
        "Each segment entry and exit, for a steward action (empty for a rules change, "
        "which counts them only)."))

    @classmethod
    def of(cls, preview: RulesPreview) -> GraphDiff:
        counts = preview.as_json()
        return cls(
            settings_changed=preview.settings,
            **{name: counts[name] for name in (
                "customers_before", "customers_after", "merges", "splits",
                "identifiers_moved", "identifiers_deactivated", "identifiers_activated",
                "segment_entries", "segment_exits")},
            customers_reevaluated=preview.reevaluated,
            customers=[CustomerDiff(
                customer_id=strawberry.ID(c.customer_id), change=OutcomeKind(c.kind.value),
                gained=c.gained, lost=c.lost,
                from_customers=[strawberry.ID(x) for x in c.from_customers],
                to_customers=[strawberry.ID(x) for x in c.to_customers], rules=c.rules)
                for c in preview.diff.customers],
            segment_changes=[SegmentChangeDiff(
                customer_id=strawberry.ID(c.customer_id), segment_id=strawberry.ID(c.segment),
                change=MembershipChangeKind(c.change), why=list(c.why))
                for c in preview.segment_changes])


PreviewRulesResult = union_of("PreviewRulesResult", GraphDiff, InvalidRules, Forbidden,
                              description="previewRules: what the rules would change, or why "
                              "they cannot be previewed.")
PreviewActionResult = union_of("PreviewActionResult", GraphDiff, IdentifierNotFound,
                               CustomerNotFound, InvalidInput, RuleBlocked, NotFound,
                               ActionRejected, Forbidden,
                               description="previewAction: what the action would change, or "
                               "the failure doing it would meet.")


@strawberry.enum(description="A steward action to preview.")
class ActionKind(Enum):
    LINK = strawberry.enum_value("link", description="linkIdentifiers: link two identifiers")
    UNLINK = strawberry.enum_value("unlink", description="unlinkIdentifiers: remove the link "
                                   "between two identifiers (with `ban`, for good)")
    MERGE = strawberry.enum_value("merge", description="mergeCustomers: merge two customers")
    SPLIT = strawberry.enum_value("split", description="splitCustomer: split identifiers off "
                                  "into a new customer")
    QUARANTINE = strawberry.enum_value("quarantine", description="quarantineIdentifier: keep "
                                       "an identifier from linking")
    RELEASE = strawberry.enum_value("release", description="releaseIdentifier: let a "
                                    "quarantined identifier link again")
    ACCEPT_REVIEW = strawberry.enum_value("review", description="resolveReview with accept: "
                                          "link a review item's two identifiers")


@strawberry.input(description="A steward action as its mutation takes it: `identifiers` for "
                  "link and unlink (two), split (those to split off), quarantine and release "
                  "(one); `customers` for merge (two); `reviewId` to accept a review item; "
                  "`ban` with unlink.")
class ActionInput:
    kind: ActionKind = strawberry.field(description="The action")
    identifiers: list[IdentifierInput] = strawberry.field(
        default_factory=list, description="link, unlink: two; split: those to split off; "
        "quarantine, release: one")
    customers: list[strawberry.ID] = strawberry.field(
        default_factory=list, description="merge: the two customers' ids")
    review_id: strawberry.ID | None = strawberry.field(
        default=None, description="ACCEPT_REVIEW: the review item's id")
    ban: bool = strawberry.field(default=False, description="unlink: keep the two from ever "
                                 "linking again")
    reason: str = strawberry.field(default="preview", description="The reason the action "
                                   "would record; it shows in `rules` of each customer")


async def preview_steward_action(info: Info[Context, Any], action: ActionInput) -> Any:
    if denied := forbidden(info, "steward"):
        return denied
    steward = info.context.services.steward
    actor = info.context.principal.actor
    try:
        keys = tuple(steward.key(i.type, i.value) for i in action.identifiers)
        if action.kind is ActionKind.ACCEPT_REVIEW:
            if action.review_id is None:
                return invalid("reviewId", "which review item to accept")
            planned = await steward.review_action(_int(action.review_id), True, actor,
                                                  action.reason)
        else:
            planned = Action(StewardActionKind(action.kind.value), actor, action.reason, keys,
                             action.ban, tuple(str(c) for c in action.customers))
        if wrong := _wrong_arity(planned):
            return wrong
        preview = await preview_action(info.context.services, planned)
    except StewardError as exc:
        return failure(exc, "PreviewActionResult",
                       str(action.customers[0]) if action.customers else "")
    return GraphDiff.of(preview)


ARITY = {"link": ("identifiers", 2), "unlink": ("identifiers", 2), "quarantine":
         ("identifiers", 1), "release": ("identifiers", 1), "merge": ("customers", 2)}


def _wrong_arity(action: Action) -> InvalidInput | None:
    field_, n = ARITY.get(action.kind, ("identifiers", 0))
    given = len(action.customers) if field_ == "customers" else len(action.keys)
    if n and given != n:
        return invalid(field_, f"{action.kind} takes {n}, not {given}")
    if not n and not given:
        return invalid(field_, "which identifiers to split off")
    return None


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise StewardError(StewardErrorCode.UNKNOWN_REVIEW, f"no review item {text}") from None


async def preview_rules(info: Info[Context, Any], rules: str) -> Any:
    if denied := forbidden(info, "admin"):
        return denied
    try:
        preview = await RulesService(info.context.services).preview(rules)
    except RulesError as exc:
        return failure(exc, "PreviewRulesResult")
    return GraphDiff.of(preview)
