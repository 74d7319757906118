"""Queries: parse the arguments, call a service or a batched read, shape the answer."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Annotated, Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from app.api.arguments import MAX_STORED_INT, ascii_int
from app.api.asof import AsOfArgument, customer_as_of, customer_by_identifier_as_of
from app.api.connections import known
from app.api.context import Context
from app.api.described import After, First, IdentifierType, IdentifierValue
from app.api.masking import shown_match
from app.api.node_ids import Node
from app.api.nodes import resolve
from app.api.performance import CampaignPerformance
from app.api.results import (
    AuditLogResult,
    ReviewQueueResult,
    Viewer,
    forbidden,
)
from app.api.segments import Segment
from app.api.times import with_offset
from app.api.types import (
    AuditConnection,
    AuditEdge,
    AuditEntry,
    Customer,
    CustomerID,
    IdentifierInfo,
    IdentifierInput,
    InputError,
    PageInfo,
    Review,
    ReviewConnection,
    ReviewEdge,
    ReviewSide,
    SearchConnection,
    SearchEdge,
    masker,
    owner_masker,
    page_size,
    shown,
    shown_key,
)
from app.api.vocabularies import MatchGuard, ReviewStatus, Role
from app.api.whatif import (
    ActionInput,
    PreviewActionResult,
    PreviewRulesResult,
    preview_rules,
    preview_steward_action,
)
from app.api.whynot import (
    CustomersArgument,
    IdentifiersArgument,
    WhyNotResult,
    resolve_why_not,
)
from app.domain.identifiers import Identifier, IdentifierError, normalise
from app.domain.matching.matchkey import stored_match_key
from app.domain.search import SearchBounds
from app.services.customers import MAX_SEARCH, SEARCH_CANDIDATES

MAX_LOOKUP = 100
MAX_FUNNEL_STEPS = 20
MAX_FUNNEL_DAYS = 3_660
MAX_SEARCH_OFFSET = 10_000  # search ranks at most SEARCH_CANDIDATES terms anyway


def identifier_key(info: Info[Context, Any], type_: str, value: str, name: str = "value") -> str:
    try:
        return normalise(type_, value,
                         default_region=info.context.services.settings.default_region).key
    except IdentifierError as exc:
        raise InputError(f"{name}: {exc}") from None


def offset_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode()


def decode_offset(after: str | None) -> int:
    if not after:
        return 0
    try:
        kind, _, n = base64.urlsafe_b64decode(after.encode()).decode().partition(":")
        if kind == "offset" and (offset := ascii_int(n, MAX_SEARCH_OFFSET)) is not None:
            return offset
    except (binascii.Error, ValueError, UnicodeDecodeError):
        pass
    raise InputError(f"after: {after[:40]!r} is not a cursor this API returned")


def decode_int(text: str | None, name: str) -> int | None:
    if text is None:
        return None
    if (number := ascii_int(text, MAX_STORED_INT)) is None:
        raise InputError(f"{name}: {text[:40]!r} is not a cursor this API returned")
    return number


def search_bounds(info: Info[Context, Any]) -> SearchBounds:
    settings = info.context.services.settings
    return SearchBounds(settings.api_max_search_chars, settings.api_max_search_words)


@strawberry.type(description="Reads, for every role (readers see personal values masked); "
                 "reviewQueue, auditLog and previewAction need the steward role, previewRules "
                 "the admin role.")
class Query:
    @strawberry.field(description="A customer by id; the id of a merged customer finds the "
                      "survivor.")
    async def customer(self, info: Info[Context, Any], id: CustomerID,
                       as_of: AsOfArgument = None) -> Customer | None:
        if as_of is not None:
            return await customer_as_of(info, str(id), as_of)
        current = await info.context.loaders.current_ids.load(str(id))
        return Customer(id=strawberry.ID(current)) if current else None

    @strawberry.field(description="The customer an identifier belongs to; the value is "
                      "normalised first, so any spelling of a phone number or e-mail finds it.")
    async def customer_by_identifier(self, info: Info[Context, Any], type: IdentifierType,
                                     value: IdentifierValue,
                                     as_of: AsOfArgument = None) -> Customer | None:
        if as_of is not None:
            return await customer_by_identifier_as_of(info, type, value, as_of)
        cid = await info.context.loaders.customer_owners.load(identifier_key(info, type, value))
        return Customer(id=strawberry.ID(cid)) if cid else None

    @strawberry.field(description=f"Batch look-up for frontends: the customer of each "
                      f"identifier, in order; null where unknown. At most {MAX_LOOKUP}.")
    async def customers(self, info: Info[Context, Any], identifiers: Annotated[
            list[IdentifierInput], strawberry.argument(
                description=f"The identifiers to look up, at most {MAX_LOOKUP}")]
                        ) -> list[Customer | None]:
        if len(identifiers) > MAX_LOOKUP:
            raise InputError(f"identifiers: at most {MAX_LOOKUP} per call, not "
                             f"{len(identifiers)}")
        keys = [identifier_key(info, i.type, i.value, f"identifiers[{n}]")
                for n, i in enumerate(identifiers)]
        owners = await info.context.loaders.customer_owners.load_many(keys)
        return [Customer(id=strawberry.ID(c)) if c else None for c in owners]

    @strawberry.field(description="Fuzzy search on names, e-mail addresses and phone numbers, "
                      "best first. Give at least three characters.")
    async def search_customers(
            self, info: Info[Context, Any],
            query: Annotated[str, strawberry.argument(
                description="A name, e-mail address or phone number, or part of one: 3 to "
                "IDGRAPH_API_MAX_SEARCH_CHARS characters (200 unless set) and at most "
                "IDGRAPH_API_MAX_SEARCH_WORDS words (10 unless set)")],
            first: Annotated[int, strawberry.argument(
                description=f"How many results the page holds, 0 to {MAX_SEARCH}")] = 10,
            after: After = None,
            min_score: Annotated[float, strawberry.argument(
                description="Leave out results scoring below this, 0 to 100; 0 keeps every "
                "candidate")] = 0.0) -> SearchConnection:
        page_size(first, MAX_SEARCH)
        offset = decode_offset(after)
        try:
            # every hit: ranking sorts them all anyway, and their number is totalCount
            hits = await info.context.services.views.search(query, SEARCH_CANDIDATES,
                                                            search_bounds(info), min_score)
        except ValueError as exc:
            raise InputError(str(exc)) from None
        page = hits[offset:offset + first]
        m = masker(info)
        edges = [SearchEdge(cursor=offset_cursor(offset + n + 1),
                            node=Customer(id=strawberry.ID(h.customer_id)),
                            score=round(h.score, 2), matched=shown_match(m, h.key, h.matched))
                 for n, h in enumerate(page)]
        return SearchConnection(edges=edges, page_info=PageInfo.of(
            [e.cursor for e in edges], len(hits) > offset + first, after),
            count=known(len(hits)))

    @strawberry.field(description="Why two customers are not one (see WhyNot): give two "
                      "customer ids or two identifiers. Readers see personal values masked "
                      "and no audit entries; the merge preview needs the steward role.")
    async def why_not(self, info: Info[Context, Any], customers: CustomersArgument = None,
                      identifiers: IdentifiersArgument = None) -> WhyNotResult:
        return await resolve_why_not(info, customers, identifiers)

    @strawberry.field(description="An identifier: its customer, its links and its status "
                      "(active, blocked or quarantined); null when idgraph has never seen it.")
    async def identifier(self, info: Info[Context, Any], type: IdentifierType,
                         value: IdentifierValue) -> IdentifierInfo | None:
        record = await info.context.loaders.identifiers.load(identifier_key(info, type, value))
        if record is None:
            return None
        return IdentifierInfo.of(record, await owner_masker(info, record.customer_id))

    @strawberry.field(description="Candidate matches scored between the thresholds, oldest "
                      "first, for a steward to accept or reject.")
    async def review_queue(self, info: Info[Context, Any], first: First = 20,
                           after: After = None) -> ReviewQueueResult:
        if denied := forbidden(info, "steward"):
            return denied
        page_size(first)
        rows = await info.context.services.views.reviews(first + 1, decode_int(after, "after"))
        keys = sorted({k for r in rows for k in (r.a, r.b)})
        owners = dict(zip(keys, await info.context.loaders.owners.load_many(keys), strict=True))

        def side(key: str) -> ReviewSide:
            ident = Identifier.from_key(key)
            cid = owners.get(key)
            return ReviewSide(key=shown_key(info, key), type=ident.type,
                              value=shown(info, ident.type, ident.value),
                              customer_id=strawberry.ID(cid) if cid else None)

        edges = [ReviewEdge(cursor=str(r.id), node=Review(
            id=strawberry.ID(str(r.id)), a=side(r.a), b=side(r.b), score=r.score,
            probability=r.weights.get("probability"), guard=_guard(r.weights.get("guard")),
            weights=JSON(_comparison_weights(r.weights)),
            match_key=stored_match_key(r.weights), status=ReviewStatus(r.status),
            created_at=r.created_at, record=r))
            for r in rows[:first]]
        return ReviewConnection(edges=edges, page_info=PageInfo.of(
            [e.cursor for e in edges], len(rows) > first, after),
            count=info.context.services.views.review_count)

    @strawberry.field(description="Steward actions, newest first; `after: "
                      "pageInfo.endCursor` pages on to older ones.")
    async def audit_log(
            self, info: Info[Context, Any], first: First = 20, after: After = None,
            before: Annotated[str | None, strawberry.argument(
                description="The old name of `after`; give one of the two, not both",
                deprecation_reason="the same as `after`, whose name Relay clients expect"
            )] = None) -> AuditLogResult:
        if denied := forbidden(info, "steward"):
            return denied
        page_size(first)
        if after is not None and before is not None:
            raise InputError("before: give `after` only (`before` is its old name)")
        name, cursor = ("before", before) if before is not None else ("after", after)
        rows = await info.context.services.steward.audit_log(first + 1,
                                                             decode_int(cursor, name))
        edges = [AuditEdge(cursor=str(r.seq), node=AuditEntry.of(r)) for r in rows[:first]]
        return AuditConnection(edges=edges, page_info=PageInfo.of(
            [e.cursor for e in edges], len(rows) > first, cursor),
            count=info.context.services.views.audit_count)

    @strawberry.field(description="What the rules file `rules` (TOML, as IDGRAPH_RULES_FILE) "
                      "would do to the customers, exactly, without writing anything: counts "
                      "and each customer that changes with the settings that cause it. "
                      "Admin role. Apply it with `idgraph rules apply`.")
    async def preview_rules(self, info: Info[Context, Any], rules: Annotated[
            str, strawberry.argument(description="A whole rules file, as TOML text "
                                     "(docs/resolution.md)")]) -> PreviewRulesResult:
        return await preview_rules(info, rules)

    @strawberry.field(description="What a steward action (link, unlink, merge, split, "
                      "quarantine, release, accept a review item) would do, exactly, without "
                      "doing it: the diff `previewRules` gives. Steward role. A part split "
                      "off gets its id from the action's moment: its id here is provisional.")
    async def preview_action(self, info: Info[Context, Any],
                             action: Annotated[ActionInput, strawberry.argument(
                                 description="The action, as its mutation would take it")]
                             ) -> PreviewActionResult:
        return await preview_steward_action(info, action)

    @strawberry.field(description="Every segment, by id.")
    async def segments(self, info: Info[Context, Any]) -> list[Segment]:
        m = masker(info)
        return [Segment.of(s, m) for s in await info.context.services.segments.segments()]

    @strawberry.field(description="A segment by id (its name); null when there is none.")
    async def segment(self, info: Info[Context, Any], id: Annotated[
            strawberry.ID, strawberry.argument(description="The segment's id, its name")]
                      ) -> Segment | None:
        found = await info.context.services.segments.segment(str(id))
        return Segment.of(found, masker(info)) if found else None

    @strawberry.field(description="Conversions (purchases) in [since, until) attributed to "
                      "sources and campaigns, and a funnel of event types (or type@source) "
                      "reached in order; `funnelWithinDays` asks every step to follow the "
                      "first within that many days. Times are RFC 3339 with an offset, "
                      "2024-03-01T00:00:00Z. Reads every customer's events in the period.")
    async def campaign_performance(
            self, info: Info[Context, Any],
            since: Annotated[datetime, strawberry.argument(
                description="The period's start (inclusive), RFC 3339 with an offset, such "
                "as 2024-03-01T00:00:00Z")],
            until: Annotated[datetime, strawberry.argument(
                description="The period's end (exclusive), RFC 3339 with an offset, after "
                "since")],
            funnel: Annotated[list[str] | None, strawberry.argument(
                description=f"The funnel's steps in order, event types or type@source, at "
                f"most {MAX_FUNNEL_STEPS}; empty or null for no funnel")
            ] = (),  # type: ignore[assignment]
            funnel_within_days: Annotated[int | None, strawberry.argument(
                description=f"Each step must follow the first within this many days, 1 to "
                f"{MAX_FUNNEL_DAYS:,}; null: any time in the period")] = None
    ) -> CampaignPerformance:
        steps = list(funnel or ())
        if len(steps) > MAX_FUNNEL_STEPS:
            raise InputError(f"funnel: at most {MAX_FUNNEL_STEPS} steps, not {len(steps)}")
        if funnel_within_days is not None and not 1 <= funnel_within_days <= MAX_FUNNEL_DAYS:
            raise InputError(f"funnelWithinDays: must be between 1 and {MAX_FUNNEL_DAYS:,}, "
                             f"not {funnel_within_days:,}")
        try:
            attribution, counts = await info.context.services.marketing.campaign_performance(
                with_offset(since, "since"), with_offset(until, "until"), steps,
                funnel_within_days)
        except ValueError as exc:
            raise InputError(str(exc)) from None
        return CampaignPerformance.of(attribution, counts, masker(info))

    @strawberry.field(description="Any object that implements Node, by its global id "
                      "(Relay's refetch), shown as the field that gave it out shows it to "
                      "the caller. A malformed id (BAD_USER_INPUT), an id of nothing any "
                      "more (NOT_FOUND) or of what the caller's role may not read "
                      "(FORBIDDEN) gives null and an error.")
    async def node(self, info: Info[Context, Any], id: Annotated[
            strawberry.ID, strawberry.argument(description="A global id: the `id` of a "
                                               "Customer, Identifier, IdentifierInfo, Link, "
                                               "Event or AuditEntry")]) -> Node | None:
        return await resolve(info, str(id), "id")

    @strawberry.field(description=f"`node` for each id, in order, at most {MAX_LOOKUP}: null "
                      "and an error at its place for an id that gives none; the others "
                      "answer.")
    def nodes(self, info: Info[Context, Any], ids: Annotated[
            list[strawberry.ID], strawberry.argument(
                description=f"Global ids, at most {MAX_LOOKUP}")]
              ) -> list[Node | None]:
        if len(ids) > MAX_LOOKUP:
            raise InputError(f"ids: at most {MAX_LOOKUP} per call, not {len(ids)}")
        # awaitables, one per item: each fails on its own (null and an error at its place)
        return [resolve(info, str(i), f"ids[{n}]")  # type: ignore[misc]
                for n, i in enumerate(ids)]

    @strawberry.field(description="The caller: its role and how the audit log names it.")
    def viewer(self, info: Info[Context, Any]) -> Viewer:
        principal = info.context.principal
        return Viewer(role=Role(principal.role), actor=principal.actor, sees_pii=principal.sees_pii,
                      development_mode=not info.context.services.settings.api_key_roles())


def _guard(stored: object) -> MatchGuard | None:
    """A review item's guard as the matcher stored it; items queued without one have none."""
    return MatchGuard(stored) if stored else None


def _comparison_weights(payload: dict[str, Any]) -> dict[str, Any]:
    """The weight of each comparison: a matcher's review item keeps them under "weights"
    next to its score and probability."""
    weights = payload.get("weights")
    return weights if isinstance(weights, dict) else payload
