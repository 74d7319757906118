"""What the resolution core reads (Snapshot) and what it decides (Plan).

A use case gathers a Snapshot from the store, the domain turns it into a Plan, and the
store applies the Plan in one transaction. Both stores apply the same Plan, so the
outcome of resolution cannot differ between them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from app.domain.changes import Change
from app.domain.checks import PendingCheck
from app.domain.events import Event

if TYPE_CHECKING:
    from app.domain.personal import Spellings



class IdentifierStatus(StrEnum):
    ACTIVE = "active"  # it links
    BLOCKED = "blocked"  # its value matches a block rule; it links nothing
    QUARANTINED = "quarantined"  # a hub, or quarantined by a steward; it links nothing


class LinkStatus(StrEnum):
    ACTIVE = "active"  # it joins its ends into one customer
    REJECTED = "rejected"  # a rule stopped it; re-evaluated when its component changes
    REMOVED = "removed"  # a steward removed it; new evidence may link the pair again
    BANNED = "banned"  # a steward banned the pair; it never links again


class ReviewStatus(StrEnum):
    """Where a review item (a candidate match) stands; the queue holds the open ones."""

    OPEN = "open"  # waiting for a steward
    ACCEPTED = "accepted"  # the steward linked the pair
    REJECTED = "rejected"  # the steward closed it without a link


# The short names resolution reads: "active" is the same value for identifiers and links
# (ACTIVE and LINKED).
ACTIVE = IdentifierStatus.ACTIVE
BLOCKED = IdentifierStatus.BLOCKED
QUARANTINED = IdentifierStatus.QUARANTINED
LINKED = LinkStatus.ACTIVE
REJECTED = LinkStatus.REJECTED
REMOVED = LinkStatus.REMOVED
BANNED = LinkStatus.BANNED

Pair = tuple[str, str]  # (a, b) with a < b
# What resolution decides of an identifier or a link: its status and why.
IdentifierDecision = tuple[IdentifierStatus, str]
LinkDecision = tuple[LinkStatus, str]


def pair(a: str, b: str) -> Pair:
    return (a, b) if a < b else (b, a)


class NeedComponents(Exception):  # noqa: N818 - a request, not an error
    """Raised by a decision that needs the whole stored components of these customers.
    The store gathers them and calls the decision again."""

    def __init__(self, customer_ids: set[str]) -> None:
        super().__init__(f"needs the components of {len(customer_ids)} customer(s)")
        self.customer_ids = customer_ids


@dataclass(frozen=True, slots=True)
class Gather:
    """What a decision needs the store to read into its Snapshot."""

    keys: frozenset[str] = frozenset()
    event_ids: frozenset[str] = frozenset()
    limited_types: tuple[str, ...] = ()  # count these types per owner (type_counts)
    hub_types: tuple[str, ...] = ()  # count neighbours of these types per key (degrees)
    customers: frozenset[str] = frozenset()  # gather these whole components up front
    # matching: each pending record's (key, blocking keys), in the order they are matched.
    # The store reads those buckets, and traits and owners only for the ids that
    # `needed_candidates` keeps from them.
    match_queries: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @property
    def block_keys(self) -> frozenset[str]:
        return frozenset(b for _, blocks in self.match_queries for b in blocks)


@dataclass(frozen=True, slots=True)
class CustomerInfo:
    """A customer as resolution sees it. Its anchor, (first_seen, first_event, first_key),
    is the earliest sighting among its identifiers; `settled` is the latest moment
    ("<ts>|<event_id>") of the evidence its merge history was replayed from (domain/history)."""

    id: str
    first_seen: str
    first_event: str = ""
    first_key: str = ""
    settled: str = ""


@dataclass(frozen=True, slots=True)
class StoredIdentifier:
    key: str
    status: IdentifierStatus
    customer_id: str | None
    first_seen: str
    first_event: str = ""  # the event of the first sighting


@dataclass(frozen=True, slots=True)
class LinkFacts:
    """What resolution knows of a link between `a` and `b` (a < b): stored, offered by a
    batch's evidence or a steward, or both merged; `partition` decides on these."""

    a: str
    b: str
    first_seen: str
    sources: tuple[str, ...]
    status: LinkStatus = LinkStatus.ACTIVE
    reason: str = ""
    first_event: str = ""  # with first_seen, the moment of the first evidence; "" for a steward's


@dataclass(slots=True)
class Component:
    """Everything stored about one customer: its identifiers, every link that touches
    them, and the identifiers at the far end of those links that are not its own."""

    identifiers: dict[str, StoredIdentifier] = field(default_factory=dict)
    links: dict[Pair, LinkFacts] = field(default_factory=dict)
    neighbours: dict[str, StoredIdentifier] = field(default_factory=dict)
    customer: CustomerInfo | None = None


@dataclass(slots=True)
class Snapshot:
    """The store's state for the identifiers and events of one batch."""

    # identifier key -> id of the customer it belongs to
    owners: dict[str, str] = field(default_factory=dict)
    customers: dict[str, CustomerInfo] = field(default_factory=dict)
    # event ids of the batch that the store already holds
    seen_events: set[str] = field(default_factory=set)
    # batch keys whose status is not active, with the reason
    statuses: dict[str, IdentifierDecision] = field(default_factory=dict)
    # customer -> identifier type -> count, for the types that have a limit
    type_counts: dict[str, dict[str, int]] = field(default_factory=dict)
    # batch key -> number of distinct identifiers it is linked to
    degrees: dict[str, int] = field(default_factory=dict)
    # stored links among batch keys, with their status
    link_status: dict[Pair, LinkStatus] = field(default_factory=dict)
    # banned pairs with an end among the batch keys or the owners' identifiers
    bans: set[Pair] = field(default_factory=set)
    # the owner of each end of those bans
    ban_owners: dict[str, str] = field(default_factory=dict)
    # matching: blocking key -> identifier keys filed under it, newest first (bounded),
    # and the cleaned traits of those records; their owners are in `owners`
    match_buckets: dict[str, list[str]] = field(default_factory=dict)
    match_records: dict[str, dict[str, str]] = field(default_factory=dict)
    # batch keys that were erased and are on the suppression list -> when they were erased
    suppressed: dict[str, str] = field(default_factory=dict)
    # whole components, gathered on request (NeedComponents), keyed by customer id
    components: dict[str, Component] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class IdentifierDelta:
    """A sighting of an identifier in this batch; the store merges it into what it holds."""

    key: str
    type: str
    value: str
    first_seen: str
    last_seen: str
    sources: tuple[str, ...]
    customer_id: str | None  # the owner of a new identifier; existing ones move by Merge/moves
    status: IdentifierStatus = ACTIVE
    reason: str = ""
    first_event: str = ""  # the event of the first sighting (with first_seen)


@dataclass(frozen=True, slots=True)
class LinkDelta:
    """Evidence that `a` and `b` (a < b) belong together, added to the stored link."""

    a: str
    b: str
    count: int
    first_seen: str
    last_seen: str
    sources: tuple[str, ...]
    event_ids: tuple[str, ...]  # a bounded sample
    status: LinkStatus = LinkStatus.ACTIVE
    reason: str = ""
    match: dict[str, Any] | None = None  # a MATCHED link: score, weights, model version
    first_event: str = ""  # the event of the first evidence (with first_seen)


@dataclass(frozen=True, slots=True)
class LinkStatusChange:
    a: str
    b: str
    status: LinkStatus
    reason: str


@dataclass(frozen=True, slots=True)
class IdentifierStatusChange:
    key: str
    status: IdentifierStatus
    reason: str


@dataclass(frozen=True, slots=True)
class Merge:
    absorbed: str
    survivor: str
    at: str
    event_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class Split:
    customer_id: str
    parts: tuple[str, ...]  # the new customers split off; the customer keeps the largest part
    at: str
    reason: str


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """A steward action: who, when, what, why, and the action that undoes it."""

    actor: str
    action: str
    target: str
    reason: str
    at: str
    details: dict[str, Any]
    undo: dict[str, Any]
    undoes: int | None = None  # the audit entry this one undoes


@dataclass(frozen=True, slots=True)
class Erasure:
    """Forget a customer: its identifiers, every event and link that touches them, and
    every spelling of them and of its personal values in free text (`spellings`);
    remember the identifiers only as suppression hashes (the store keys them)."""

    customer_id: str
    keys: tuple[str, ...]
    at: str
    spellings: Spellings


@dataclass(frozen=True, slots=True)
class ReviewItem:
    a: str
    b: str
    score: float
    weights: dict[str, Any]
    created_at: str


@dataclass(slots=True)
class Plan:
    events: list[Event] = field(default_factory=list)
    new_customers: list[CustomerInfo] = field(default_factory=list)
    # live customers absorbed by another: their identifiers move, their ids redirect
    merges: list[Merge] = field(default_factory=list)
    # live customers whose anchor became earlier (late evidence): renamed after it, the
    # old id redirects
    renames: list[Merge] = field(default_factory=list)
    splits: list[Split] = field(default_factory=list)
    # identifier key -> its new customer (None: it belongs to no customer any more)
    moves: dict[str, str | None] = field(default_factory=dict)
    identifiers: list[IdentifierDelta] = field(default_factory=list)
    statuses: list[IdentifierStatusChange] = field(default_factory=list)
    links: list[LinkDelta] = field(default_factory=list)
    link_statuses: list[LinkStatusChange] = field(default_factory=list)
    bans: list[Pair] = field(default_factory=list)
    unbans: list[Pair] = field(default_factory=list)
    audit: list[AuditEntry] = field(default_factory=list)
    # existing customers whose anchor or settled moment changes
    customer_updates: dict[str, CustomerInfo] = field(default_factory=dict)
    # merge history (domain/history): the stored history of these customers (and of every
    # id redirecting to them) is dropped first, then the entries are added under each final
    # customer; an id an entry names that the store does not hold becomes a redirect to it
    history_reset: set[str] = field(default_factory=set)
    history: dict[str, list[Merge]] = field(default_factory=dict)
    # matching: (key, cleaned traits, blocking keys) of the batch's records, and the
    # traits left out of matching as (event id, trait, reason)
    match_records: list[tuple[str, dict[str, str], tuple[str, ...]]] = field(
        default_factory=list
    )
    trait_problems: list[tuple[str, str, str]] = field(default_factory=list)
    # (key, term) pairs under which the identifiers can be searched
    search_terms: list[tuple[str, str]] = field(default_factory=list)
    erasures: list[Erasure] = field(default_factory=list)
    # review queue: new candidate matches, and (id, status, actor) for resolved ones
    reviews: list[ReviewItem] = field(default_factory=list)
    review_updates: list[tuple[int, ReviewStatus, str]] = field(default_factory=list)
    unsuppress: list[str] = field(default_factory=list)  # erased keys back with consent
    # identifiers dropped from events (event id, key or "" for the whole event, reason)
    dropped: list[tuple[str, str, str]] = field(default_factory=list)
    # what the plan changes, for the outbound topic and subscriptions; the store writes
    # them to its outbox in the plan's transaction (app/domain/checks.py)
    changes: list[Change] = field(default_factory=list)
    # customers whose segment memberships the plan may change, recorded with it
    segment_checks: list[PendingCheck] = field(default_factory=list)

    def history_redirects(self) -> list[tuple[str, str, str]]:
        """(id, customer, at) for each id a history names besides its customer: the store
        makes it a redirect to the customer (an id never held, a part that joined in a
        batch), so that every id a history shows resolves."""
        return [
            (cid, final, min(m.at for m in merges))
            for final, merges in self.history.items()
            for cid in sorted({x for m in merges for x in (m.absorbed, m.survivor)} - {final})
        ]

    @property
    def affected_customers(self) -> set[str]:
        moved = {c for c in self.moves.values() if c}
        return (
            {d.customer_id for d in self.identifiers if d.customer_id}
            | {m.survivor for m in self.merges}
            | {r.survivor for r in self.renames}
            | {s.customer_id for s in self.splits}
            | {p for s in self.splits for p in s.parts}
            | moved
        )

    def __bool__(self) -> bool:
        return bool(
            self.events
            or self.merges
            or self.renames
            or self.history
            or self.customer_updates
            or self.splits
            or self.moves
            or self.statuses
            or self.link_statuses
            or self.bans
            or self.unbans
            or self.new_customers
            or self.audit
            or self.erasures
            or self.reviews
            or self.review_updates
            or self.match_records
            or self.links
        )


@dataclass(frozen=True, slots=True)
class Erased:
    """How much of the graph an erasure removed."""

    events: int = 0
    links: int = 0
    identifiers: int = 0

    def __add__(self, other: Erased) -> Erased:
        return Erased(self.events + other.events, self.links + other.links,
                      self.identifiers + other.identifiers)


@dataclass(frozen=True, slots=True)
class Receipt:
    """What a store reports of the plan it applied: the store never writes into the plan,
    so a plan reads the same before and after, and a retried transaction decides afresh."""

    plan: Plan
    audit_seqs: tuple[int, ...] = ()  # the sequence numbers of plan.audit, in order
    erased: Erased = Erased()
    # what went to the outbox: the plan's changes, then the segment exits of its erasures
    changes: tuple[Change, ...] = ()

    @property
    def audit_seq(self) -> int | None:
        """The sequence number of the plan's last audit entry, if it has one."""
        return self.audit_seqs[-1] if self.audit_seqs else None
