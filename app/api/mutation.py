"""Mutations: check the role, build the use case's input, call it, and wake what publishes
the changes it recorded in the store's outbox (app/api/events.py).

Each mutation is one transaction in the store: a failure (a typed result) changes nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from app.api.arguments import MAX_STORED_INT, ascii_int
from app.api.context import Context
from app.api.described import Reason
from app.api.results import (
    ActionSuccess,
    DefineSegmentResult,
    DeleteSegmentResult,
    ErasureReceipt,
    ForgetResult,
    IngestProblem,
    IngestResult,
    IngestSuccess,
    LinkResult,
    MergeOutcome,
    MergeResult,
    ResolveReviewResult,
    SegmentDefined,
    SegmentDeleted,
    SplitOutcome,
    SplitResult,
    StatusResult,
    UndoResult,
    UnlinkResult,
    UpdateSegmentResult,
    failure,
    forbidden,
    invalid,
)
from app.api.segments import Segment
from app.api.types import CustomerID, IdentifierInput, masker
from app.domain.segments import ENTERED, DefinitionLimits, SegmentError, SegmentErrorCode
from app.domain.steward import Action, StewardActionKind, StewardError
from app.domain.traits import NAME_PATTERN
from app.services.steward import ActionResult

MAX_SPLIT = 1000


class BadArgument(Exception):
    """An argument the use case cannot take; it becomes an InvalidInput result."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


async def steward_action(info: Info[Context, Any], result: str,
                         run: Callable[[], Awaitable[ActionResult]], customer_id: str = ""
                         ) -> Any:
    """Run a steward use case for a caller with the steward role; a StewardError becomes
    the typed failure of the union `result`."""
    if denied := forbidden(info, "steward"):
        return denied
    try:
        done = await run()
    except StewardError as exc:
        return failure(exc, result, customer_id)
    except BadArgument as exc:
        return invalid(exc.field, exc.message)
    _changed(info)
    return ActionSuccess(
        audit_seq=done.audit_seq,
        merges=[MergeOutcome(absorbed_id=strawberry.ID(a), survivor_id=strawberry.ID(s))
                for a, s in done.merges],
        splits=[SplitOutcome(customer_id=strawberry.ID(c), parts=[strawberry.ID(p) for p in ps])
                for c, ps in done.splits],
        affected_customer_ids=sorted(done.affected_customers),
    )


def _changed(info: Info[Context, Any]) -> None:
    """The mutation's changes are in the outbox: have them delivered now."""
    if info.context.changed is not None:
        info.context.changed()


def actor(info: Info[Context, Any]) -> str:
    return info.context.principal.actor


def key(info: Info[Context, Any], ident: IdentifierInput) -> str:
    """Raises StewardError INVALID_IDENTIFIER (an InvalidInput result)."""
    return info.context.services.steward.key(ident.type, ident.value)


SegmentName = Annotated[strawberry.ID, strawberry.argument(
    description="The segment's id, its name: lower_snake_case, such as high_value")]
Definition = Annotated[str, strawberry.argument(
    description="The definition in the segment language (docs/segments.md), at most "
    "IDGRAPH_API_MAX_DEFINITION_CHARS characters (10,000 unless set)")]
OneIdentifier = Annotated[IdentifierInput, strawberry.argument(
    description="The identifier; its value is normalised first")]
LinkEnd = Annotated[IdentifierInput, strawberry.argument(
    description="One of the two identifiers; its value is normalised first")]


@strawberry.type(description="Writes: events, steward actions (steward role), erasure and "
                 "segment definitions (admin role). Each is one transaction.")
class Mutation:
    @strawberry.mutation(description="Ingest v1 events (docs/events.md) through the same "
                         "pipeline as the loaders, in one transaction: invalid events are "
                         "reported by position (events[i]) and the rest stored. Steward role.")
    async def ingest_events(
            self, info: Info[Context, Any],
            events: Annotated[list[JSON], strawberry.argument(
                description="v1 events (docs/events.md), at most "
                "IDGRAPH_API_MAX_INGEST_EVENTS (1000 unless set) per call")]
    ) -> IngestResult:
        if denied := forbidden(info, "steward"):
            return denied
        services = info.context.services
        limit = services.settings.api_max_ingest_events
        if len(events) > limit:
            return invalid("events", f"at most {limit} events per call, not {len(events)}",
                           "send the rest in further calls")
        result = await services.ingest.ingest_raw(
            (f"events[{n}]", raw) for n, raw in enumerate(events))
        _changed(info)
        return IngestSuccess(
            received=result.received, stored=result.stored, duplicates=result.duplicates,
            rejected=result.rejected, new_customers=result.new_customers, merges=result.merges,
            problems=[IngestProblem(position=p.position, event_id=p.event_id, field=p.field,
                                    reason=p.reason, rejected=p.rejected)
                      for p in result.problems],
            affected_customer_ids=sorted(result.affected_customers),
        )

    @strawberry.mutation(description="Link two identifiers (a steward link): their customers "
                         "merge unless a rule keeps them apart. Steward role.")
    async def link_identifiers(self, info: Info[Context, Any], a: LinkEnd,
                               b: LinkEnd, reason: Reason) -> LinkResult:
        async def run() -> ActionResult:
            keys = (key(info, a), key(info, b))
            return await info.context.services.steward.act(
                Action(StewardActionKind.LINK, actor(info), reason, keys))
        return await steward_action(info, "LinkResult", run)

    @strawberry.mutation(description="Remove the link between two identifiers; `ban` keeps "
                         "them from ever linking again. The customer splits if nothing else "
                         "holds it together. Steward role.")
    async def unlink_identifiers(
            self, info: Info[Context, Any], a: LinkEnd, b: LinkEnd, reason: Reason,
            ban: Annotated[bool, strawberry.argument(
                description="true: keep the two from ever linking again (undo the action to "
                "lift it)")] = False
    ) -> UnlinkResult:
        async def run() -> ActionResult:
            keys = (key(info, a), key(info, b))
            return await info.context.services.steward.act(
                Action(StewardActionKind.UNLINK, actor(info), reason, keys, ban=ban))
        return await steward_action(info, "UnlinkResult", run)

    @strawberry.mutation(description="Split these identifiers off their customer into a new "
                         "one, by removing the links between them and the rest. Steward role.")
    async def split_customer(
            self, info: Info[Context, Any],
            identifiers: Annotated[list[IdentifierInput], strawberry.argument(
                description=f"The identifiers to split off, 1 to {MAX_SPLIT}, all of one "
                "customer")],
            reason: Reason) -> SplitResult:
        async def run() -> ActionResult:
            if not 0 < len(identifiers) <= MAX_SPLIT:
                raise BadArgument("identifiers", f"give 1 to {MAX_SPLIT} identifiers")
            keys = tuple(key(info, i) for i in identifiers)
            return await info.context.services.steward.act(
                Action(StewardActionKind.SPLIT, actor(info), reason, keys))
        return await steward_action(info, "SplitResult", run)

    @strawberry.mutation(description="Merge two customers (a steward link between them); the "
                         "rules still apply. Steward role.")
    async def merge_customers(self, info: Info[Context, Any], a: CustomerID, b: CustomerID,
                              reason: Reason) -> MergeResult:
        async def run() -> ActionResult:
            return await info.context.services.steward.act(
                Action(StewardActionKind.MERGE, actor(info), reason, customers=(str(a), str(b))))
        return await steward_action(info, "MergeResult", run, str(a))

    @strawberry.mutation(description="Quarantine an identifier: it keeps its events but links "
                         "nothing, and its customer is re-partitioned. Steward role.")
    async def quarantine_identifier(self, info: Info[Context, Any], identifier: OneIdentifier,
                                    reason: Reason) -> StatusResult:
        async def run() -> ActionResult:
            return await info.context.services.steward.act(
                Action(StewardActionKind.QUARANTINE, actor(info), reason, (key(info, identifier),)))
        return await steward_action(info, "IdentifierStatusResult", run)

    @strawberry.mutation(description="Release a quarantined identifier: it links again under "
                         "the rules. Steward role.")
    async def release_identifier(self, info: Info[Context, Any], identifier: OneIdentifier,
                                 reason: Reason) -> StatusResult:
        async def run() -> ActionResult:
            return await info.context.services.steward.act(
                Action(StewardActionKind.RELEASE, actor(info), reason, (key(info, identifier),)))
        return await steward_action(info, "IdentifierStatusResult", run)

    @strawberry.mutation(description="Accept a candidate match (link its two identifiers) or "
                         "reject it (close the item). Steward role.")
    async def resolve_review(
            self, info: Info[Context, Any],
            id: Annotated[strawberry.ID, strawberry.argument(
                description="The review item's id (Review.id)")],
            accept: Annotated[bool, strawberry.argument(
                description="true: link the two identifiers; false: close the item")],
            reason: Reason) -> ResolveReviewResult:
        async def run() -> ActionResult:
            if (review := ascii_int(str(id), MAX_STORED_INT)) is None:
                raise BadArgument("id", f"{str(id)[:40]!r} is not a review id (see reviewQueue)")
            return await info.context.services.steward.resolve_review(
                review, accept, actor(info), reason)
        return await steward_action(info, "ResolveReviewResult", run)

    @strawberry.mutation(description="Reverse a steward action by its audit seq. The undo is "
                         "an action of its own, in the audit log. Steward role.")
    async def undo_action(
            self, info: Info[Context, Any],
            seq: Annotated[int, strawberry.argument(
                description="The audit seq of the action to reverse (AuditEntry.seq)")],
            reason: Annotated[str, strawberry.argument(
                description="Why, for the audit log; empty: \"undo of <seq>\"")]
    ) -> UndoResult:
        async def run() -> ActionResult:
            return await info.context.services.steward.undo(seq, actor(info), reason)
        return await steward_action(info, "UndoResult", run)

    @strawberry.mutation(description="Erase a customer (GDPR): its identifiers, their events, "
                         "links and traits (docs/privacy.md). The identifiers go on a "
                         "suppression list and are not re-created unless they come back with "
                         "a consent given after the erasure. Admin role.")
    async def forget_customer(self, info: Info[Context, Any], id: CustomerID,
                              reason: Annotated[str, strawberry.argument(
                                  description="Why, for the audit log, which keeps it without "
                                  "the customer's personal values; blank is refused")]
                              ) -> ForgetResult:
        if denied := forbidden(info, "admin"):
            return denied
        try:
            receipt = await info.context.services.privacy.forget(str(id), actor(info), reason)
        except StewardError as exc:
            return failure(exc, "ForgetResult", str(id))
        _changed(info)
        return ErasureReceipt(
            customer_id=strawberry.ID(receipt.customer_id), identifiers=list(receipt.identifiers),
            identifiers_erased=len(receipt.identifiers), events_erased=receipt.events,
            links_erased=receipt.links, at=receipt.at, audit_seq=receipt.audit_seq)

    @strawberry.mutation(description="Define a segment: `id` is its name (lower_snake_case), "
                         "`definition` its text in the segment language (docs/segments.md). "
                         "Every customer is evaluated for it now. A definition idgraph cannot "
                         "use is an InvalidDefinition pointing at the fault. Admin role.")
    async def define_segment(self, info: Info[Context, Any], id: SegmentName,
                             definition: Definition) -> DefineSegmentResult:
        return await _define(info, str(id), definition, update=False)

    @strawberry.mutation(description="Replace a segment's definition; its members are "
                         "re-evaluated now, and enter or leave it with the why. Admin role.")
    async def update_segment(self, info: Info[Context, Any], id: SegmentName,
                             definition: Definition) -> UpdateSegmentResult:
        return await _define(info, str(id), definition, update=True)

    @strawberry.mutation(description="Delete a segment: its members leave it (why: the "
                         "segment was deleted); refused while other segments read it. Admin "
                         "role.")
    async def delete_segment(self, info: Info[Context, Any], id: SegmentName
                             ) -> DeleteSegmentResult:
        if denied := forbidden(info, "admin"):
            return denied
        name = str(id)
        try:
            changes = await info.context.services.segments.delete(name)
        except SegmentError as exc:
            return failure(exc, "DeleteSegmentResult")
        _changed(info)
        return SegmentDeleted(segment_id=strawberry.ID(name),
                              left=len({c.customer_id for c in changes}))


async def _define(info: Info[Context, Any], name: str, text: str, update: bool) -> Any:
    """defineSegment and updateSegment: the SegmentDefined result or a typed failure."""
    if denied := forbidden(info, "admin"):
        return denied
    if not NAME_PATTERN.match(name):
        return invalid("id", f"a segment id is lower_snake_case, such as high_value, not "
                       f"{name[:40]!r}")
    settings = info.context.services.settings
    if len(text) > settings.api_max_definition_chars:
        return invalid("definition", f"at most {settings.api_max_definition_chars:,} "
                       f"characters, not {len(text):,}")
    segments = info.context.services.segments
    # Bounded here, for new definitions only: stored ones must keep loading.
    limits = DefinitionLimits(settings.api_max_definition_conditions,
                              settings.api_max_definition_nesting)
    result = "UpdateSegmentResult" if update else "DefineSegmentResult"
    try:
        changes = await segments.define(name, text, update=update, limits=limits)
    except SegmentError as exc:
        return failure(exc, result)
    _changed(info)
    found = await segments.segment(name)
    if found is None:
        return failure(SegmentError(f"segment {name!r} was deleted by another request "
                                    "meanwhile", code=SegmentErrorCode.SEGMENT_DELETED), result)
    mine = [c for c in changes if c.segment == name]
    return SegmentDefined(segment=Segment.of(found, masker(info)),
                          entered=len({c.customer_id for c in mine if c.change == ENTERED}),
                          left=len({c.customer_id for c in mine if c.change != ENTERED}))
