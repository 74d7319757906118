"""The GraphQL schema. Resolvers parse arguments, call a service, and shape the answer."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from app.api.context import Context
from app.domain.identifiers import IdentifierError
from app.services.customers import CursorError, encode_cursor
from app.stores.base import EventRecord, IdentifierRecord, MergeRecord

DEFAULT_PAGE = 20


class InputError(Exception):
    """A query argument idgraph cannot use; the message names the argument and the reason."""


@strawberry.type(description="One identifier of a customer: an e-mail, phone, cookie, ...")
class Identifier:
    type: str
    value: str
    first_seen: str = strawberry.field(description="UTC time of the earliest event seen with it")
    last_seen: str
    sources: list[str]

    @classmethod
    def of(cls, r: IdentifierRecord) -> Identifier:
        return cls(
            type=r.type,
            value=r.value,
            first_seen=r.first_seen,
            last_seen=r.last_seen,
            sources=list(r.sources),
        )


@strawberry.type(description="An identifier as observed in an event.")
class ObservedIdentifier:
    type: str
    value: str


@strawberry.type(description="One interaction: a page view, purchase, call, chat message, ...")
class Event:
    event_id: str
    type: str
    timestamp: str
    source: str
    identifiers: list[ObservedIdentifier]
    properties: JSON
    traits: JSON
    consent: JSON

    @classmethod
    def of(cls, r: EventRecord) -> Event:
        return cls(
            event_id=r.event_id,
            type=r.type,
            timestamp=r.timestamp,
            source=r.source,
            identifiers=[ObservedIdentifier(type=i.type, value=i.value) for i in r.identifiers],
            properties=r.properties,
            traits=r.traits,
            consent=r.consent,
        )


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class EventEdge:
    cursor: str
    node: Event


@strawberry.type(description="A page of a customer's timeline, newest first (Relay connection).")
class EventConnection:
    edges: list[EventEdge]
    page_info: PageInfo


@strawberry.type(description="A customer absorbed into this one, with when and why.")
class Merge:
    absorbed_id: str
    survivor_id: str
    at: str
    event_id: str
    reason: str

    @classmethod
    def of(cls, r: MergeRecord) -> Merge:
        return cls(
            absorbed_id=r.absorbed,
            survivor_id=r.survivor,
            at=r.at,
            event_id=r.event_id,
            reason=r.reason,
        )


@strawberry.type(description="A unified customer: one connected component of the identity graph.")
class Customer:
    id: strawberry.ID

    @strawberry.field
    async def identifiers(self, info: Info[Context, Any]) -> list[Identifier]:
        records = await info.context.loaders.identifiers.load(str(self.id))
        return [Identifier.of(r) for r in records]

    @strawberry.field(description="The customer's events across all its identifiers, newest first.")
    async def timeline(
        self, info: Info[Context, Any], first: int = DEFAULT_PAGE, after: str | None = None
    ) -> EventConnection:
        try:
            page = await info.context.services.customers.timeline(str(self.id), first, after)
        except (CursorError, ValueError) as exc:
            raise InputError(str(exc)) from None
        edges = [EventEdge(cursor=encode_cursor(e.cursor), node=Event.of(e)) for e in page.events]
        return EventConnection(
            edges=edges,
            page_info=PageInfo(
                has_next_page=page.has_next, end_cursor=edges[-1].cursor if edges else None
            ),
        )

    @strawberry.field(description="Customers merged into this one, oldest first.")
    async def merge_history(self, info: Info[Context, Any]) -> list[Merge]:
        return [Merge.of(r) for r in await info.context.loaders.merges.load(str(self.id))]


@strawberry.type
class Query:
    @strawberry.field(
        description="A customer by id; the id of a merged customer finds the survivor."
    )
    async def customer(self, info: Info[Context, Any], id: strawberry.ID) -> Customer | None:
        current = await info.context.loaders.current_ids.load(str(id))
        return Customer(id=strawberry.ID(current)) if current else None

    @strawberry.field(
        description="The customer an identifier belongs to; the value is normalised "
        "first, so any spelling of a phone number or e-mail finds it."
    )
    async def customer_by_identifier(
        self, info: Info[Context, Any], type: str, value: str
    ) -> Customer | None:
        try:
            cid = await info.context.services.customers.id_by_identifier(type, value)
        except IdentifierError as exc:
            raise InputError(f"value: {exc}") from None
        return Customer(id=strawberry.ID(cid)) if cid else None


schema = strawberry.Schema(query=Query)
