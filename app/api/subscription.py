"""Subscriptions (graphql-transport-ws): changes of one customer, and of one segment."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from enum import Enum
from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from app.api.context import Context
from app.api.described import UTC_TIME
from app.api.errors import InputError
from app.api.events import CUSTOMERS
from app.api.masking import Shown
from app.api.times import time_field
from app.api.types import Customer, CustomerID, customer_masker
from app.domain.changes import Change


@strawberry.enum(description="What happened to a customer.")
class ChangeKind(Enum):
    CUSTOMER_CREATED = strawberry.enum_value("customer_created", description="The customer "
                                             "was created")
    CUSTOMER_MERGED = strawberry.enum_value("customer_merged", description="Another customer "
                                            "(absorbedId) was merged into this one")
    CUSTOMER_RENAMED = strawberry.enum_value("customer_renamed", description="Earlier evidence "
                                             "gave the customer a new id; absorbedId is the "
                                             "old one")
    CUSTOMER_SPLIT = strawberry.enum_value("customer_split", description="Identifiers were "
                                           "split off into new customers (parts)")
    IDENTIFIERS_ADDED = strawberry.enum_value("identifiers_added", description="Identifiers "
                                              "new to the customer joined it (identifiers)")
    PROFILE_CHANGED = strawberry.enum_value("profile_changed", description="Events carrying "
                                            "traits or consent arrived")
    CUSTOMER_ERASED = strawberry.enum_value("customer_erased", description="The customer was "
                                            "erased (forgetCustomer)")
    SEGMENT_ENTERED = strawberry.enum_value("segment_entered", description="The customer "
                                            "entered a segment (segmentId, why)")
    SEGMENT_LEFT = strawberry.enum_value("segment_left", description="The customer left a "
                                         "segment (segmentId, why)")
    OTHER = strawberry.enum_value("other", description="A change of a kind this schema does "
                                  "not name")


@strawberry.type(description="Something happened to a customer. After a merge the "
                 "subscription follows the survivor (and a renamed customer).")
class CustomerChange:
    kind: ChangeKind = strawberry.field(description="What happened")
    customer_id: strawberry.ID = strawberry.field(description="The customer changed (the "
                                                  "survivor of a merge)")
    at: str = time_field(description=f"When it was recorded, {UTC_TIME}")
    event_ids: list[str] = strawberry.field(description="Events that caused it (a sample)")
    from_customers: list[strawberry.ID] = strawberry.field(description="merged, renamed: the "
                                                           "absorbed customer and the "
                                                           "survivor; split: the customer "
                                                           "split")
    absorbed_id: strawberry.ID | None = strawberry.field(description="merged, renamed: the id "
                                                         "merged away; null otherwise")
    parts: list[strawberry.ID] = strawberry.field(description="split: the new customers")
    identifiers: list[str] = strawberry.field(description="identifiers_added: their keys")
    reason: str = strawberry.field(description="merged, renamed, split: why; empty otherwise")
    segment_id: strawberry.ID | None = strawberry.field(description="segment_entered, "
                                                        "segment_left: the segment")
    why: list[str] = strawberry.field(description="segment_entered: the conditions that "
                                      "held; segment_left: those that stopped holding")

    @strawberry.field(description="The customer as it is now; null once erased.")
    async def customer(self, info: Info[Context, Any]) -> Customer | None:
        current = await info.context.loaders.current_ids.load(str(self.customer_id))
        return Customer(id=strawberry.ID(current)) if current else None

    @classmethod
    def of(cls, change: Change, m: Shown) -> CustomerChange:
        kinds = {k.value for k in ChangeKind}
        data = change.data
        return cls(
            kind=ChangeKind(change.kind if change.kind in kinds else "other"),
            customer_id=strawberry.ID(change.customer_id),
            at=change.at,
            event_ids=[m.text(e) for e in change.event_ids],
            from_customers=[strawberry.ID(c) for c in change.from_customers],
            absorbed_id=strawberry.ID(data["absorbed"]) if data.get("absorbed") else None,
            parts=[strawberry.ID(p) for p in data.get("parts", ())],
            identifiers=[m.key(k) for k in data.get("identifiers", ())],
            reason=m.text(str(data.get("reason", ""))),
            segment_id=strawberry.ID(data["segment"]) if data.get("segment") else None,
            why=[m.why(str(w)) for w in data.get("why", ())],
        )


SEGMENT_KINDS = (ChangeKind.SEGMENT_ENTERED.value, ChangeKind.SEGMENT_LEFT.value)


@strawberry.type(description="A customer entered or left a segment, with when and why.")
class SegmentMembershipChange:
    segment_id: strawberry.ID = strawberry.field(description="The segment's id (its name)")
    customer_id: strawberry.ID = strawberry.field(description="The customer's id at the time")
    joined: bool = strawberry.field(description="true: entered; false: left")
    at: str = time_field(description=f"When, {UTC_TIME}")
    why: list[str] = strawberry.field(description="Entered: the conditions that held, each "
                                      "with the value it saw; left: those that stopped "
                                      "holding, or what ended the membership")

    @strawberry.field(description="The customer as it is now (the survivor, if it was "
                      "merged into another since); null once erased.")
    async def customer(self, info: Info[Context, Any]) -> Customer | None:
        current = await info.context.loaders.current_ids.load(str(self.customer_id))
        return Customer(id=strawberry.ID(current)) if current else None


def concerns(change: Change, watched: set[str]) -> bool:
    """Whether a change touches one of the watched customers; a merge that absorbs one
    adds the survivor, so the subscription follows the customer."""
    involved = {change.customer_id, *change.from_customers, *change.data.get("parts", ())}
    if not involved & watched:
        return False
    if change.kind in ("customer_merged", "customer_renamed"):
        watched.add(change.customer_id)
    return True


@strawberry.type(description="Changes pushed over a WebSocket (graphql-transport-ws) as "
                 "they happen.")
class Subscription:
    @strawberry.subscription(description="Changes of one customer: created, merged (either "
                             "way), split, identifiers added, profile changed, entered or left "
                             "a segment, erased.")
    async def customer_changed(self, info: Info[Context, Any], id: CustomerID
                               ) -> AsyncGenerator[CustomerChange, None]:
        bus = info.context.bus
        async with bus.subscribe(CUSTOMERS) as changes:
            current = await info.context.loaders.current_ids.load(str(id))
            if current is None:
                raise InputError(f"id: no customer {str(id)[:40]}")
            watched = {str(id), current}
            async for change in changes:
                if concerns(change, watched):
                    info.context.fresh_loaders()
                    yield CustomerChange.of(change,
                                            await customer_masker(info, change.customer_id))

    @strawberry.subscription(description="Customers entering or leaving a segment, whatever "
                             "moved them: events, steward actions, a changed definition.")
    async def segment_membership_changed(
            self, info: Info[Context, Any],
            segment_id: Annotated[strawberry.ID, strawberry.argument(
                description="The segment's id (its name); an unknown one is refused")]
    ) -> AsyncGenerator[SegmentMembershipChange, None]:
        watched = str(segment_id)
        async with info.context.bus.subscribe(CUSTOMERS) as changes:
            if await info.context.services.segments.segment(watched) is None:
                raise InputError(f"segmentId: no segment {watched[:40]}")
            async for change in changes:
                if change.kind in SEGMENT_KINDS and change.data.get("segment") == watched:
                    info.context.fresh_loaders()
                    m = await customer_masker(info, change.customer_id)
                    yield SegmentMembershipChange(
                        segment_id=strawberry.ID(watched),
                        customer_id=strawberry.ID(change.customer_id),
                        joined=change.kind == ChangeKind.SEGMENT_ENTERED.value,
                        at=change.at, why=[m.why(str(w)) for w in change.data.get("why", ())])
