"""Subscriptions (graphql-transport-ws): changes of one customer, and of one segment."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from enum import Enum
from typing import Any

import strawberry
from strawberry.types import Info

from app.api.context import Context
from app.api.events import CUSTOMERS, SEGMENTS, SegmentChange
from app.api.types import Customer, CustomerID, InputError, shown_key, shown_text
from app.domain.changes import Change


@strawberry.enum
class ChangeKind(Enum):
    CUSTOMER_CREATED = "customer_created"
    CUSTOMER_MERGED = "customer_merged"
    CUSTOMER_SPLIT = "customer_split"
    IDENTIFIERS_ADDED = "identifiers_added"
    PROFILE_CHANGED = "profile_changed"
    CUSTOMER_ERASED = "customer_erased"
    OTHER = "other"


@strawberry.type(description="Something happened to a customer. After a merge the "
                 "subscription follows the survivor.")
class CustomerChange:
    kind: ChangeKind
    customer_id: strawberry.ID = strawberry.field(description="The customer changed (the "
                                                  "survivor of a merge)")
    at: str
    event_ids: list[str] = strawberry.field(description="Events that caused it (a sample)")
    from_customers: list[strawberry.ID]
    absorbed_id: strawberry.ID | None
    parts: list[strawberry.ID] = strawberry.field(description="split: the new customers")
    identifiers: list[str] = strawberry.field(description="identifiers_added: their keys")
    reason: str

    @strawberry.field(description="The customer as it is now; null once erased.")
    async def customer(self, info: Info[Context, Any]) -> Customer | None:
        current = await info.context.loaders.current_ids.load(str(self.customer_id))
        return Customer(id=strawberry.ID(current)) if current else None

    @classmethod
    def of(cls, change: Change, info: Info[Context, Any]) -> CustomerChange:
        kinds = {k.value for k in ChangeKind}
        data = change.data
        return cls(
            kind=ChangeKind(change.kind if change.kind in kinds else "other"),
            customer_id=strawberry.ID(change.customer_id),
            at=change.at,
            event_ids=list(change.event_ids),
            from_customers=[strawberry.ID(c) for c in change.from_customers],
            absorbed_id=strawberry.ID(data["absorbed"]) if data.get("absorbed") else None,
            parts=[strawberry.ID(p) for p in data.get("parts", ())],
            identifiers=[shown_key(info, k) for k in data.get("identifiers", ())],
            reason=shown_text(info, str(data.get("reason", ""))),
        )


@strawberry.type(description="A customer joined or left a segment.")
class SegmentMembershipChange:
    segment_id: strawberry.ID
    customer_id: strawberry.ID
    joined: bool
    at: str
    why: str


def concerns(change: Change, watched: set[str]) -> bool:
    """Whether a change touches one of the watched customers; a merge that absorbs one
    adds the survivor, so the subscription follows the customer."""
    involved = {change.customer_id, *change.from_customers, *change.data.get("parts", ())}
    if not involved & watched:
        return False
    if change.kind == "customer_merged":
        watched.add(change.customer_id)
    return True


@strawberry.type
class Subscription:
    @strawberry.subscription(description="Changes of one customer: created, merged (either "
                             "way), split, identifiers added, profile changed, erased.")
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
                    yield CustomerChange.of(change, info)

    @strawberry.subscription(description="Customers joining or leaving a segment. Segments "
                             "come with the segments issue; until then nothing is sent.")
    async def segment_membership_changed(self, info: Info[Context, Any],
                                         segment_id: strawberry.ID
                                         ) -> AsyncGenerator[SegmentMembershipChange, None]:
        async with info.context.bus.subscribe(SEGMENTS) as changes:
            async for change in changes:
                if isinstance(change, SegmentChange) and change.segment_id == str(segment_id):
                    yield SegmentMembershipChange(
                        segment_id=strawberry.ID(change.segment_id),
                        customer_id=strawberry.ID(change.customer_id), joined=change.joined,
                        at=change.at, why=shown_text(info, change.why))
