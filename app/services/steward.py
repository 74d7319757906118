"""Steward use cases: correct the identity graph, with an audit log and undo."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from app.clock import Clock, utc_now
from app.domain.changes import Change
from app.domain.effects import with_checks
from app.domain.events import format_ts
from app.domain.identifiers import IdentifierError, normalise
from app.domain.plan import Gather, Plan, ReviewStatus, Snapshot
from app.domain.resolution import DEFAULT_RULES
from app.domain.rules import Rules
from app.domain.steward import (
    Action,
    StewardActionKind,
    StewardError,
    StewardErrorCode,
    plan_action,
    undo_of,
)
from app.services.segments import SegmentService
from app.stores.base import IdentityStore
from app.stores.values import AuditRecord, ReviewRecord

RulesUndo = Callable[[int, dict[str, Any], str, str], Awaitable["ActionResult"]]


@dataclass(slots=True)
class ActionResult:
    merges: list[tuple[str, str]] = field(default_factory=list)  # (absorbed, survivor)
    splits: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)
    affected_customers: set[str] = field(default_factory=set)
    audit_seq: int | None = None
    plan: Plan | None = None
    segment_changes: list[Change] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class ReviewEffect:
    """What accepting a review item would do."""

    acceptable: bool
    blocked_by: str | None = None  # the rule that keeps the pair apart
    merges: tuple[tuple[str, str], ...] = ()  # (absorbed, survivor)
    moves: tuple[tuple[str, str | None], ...] = ()  # (identifier, its new customer)
    summary: str = ""

    @classmethod
    def of(cls, plan: Plan, owners: Mapping[str, str | None]) -> ReviewEffect:
        """The effect of `plan`, given each identifier's customer before it (`owners`):
        the identifiers of a merged customer go with it and are not listed as moves."""
        merges = tuple((m.absorbed, m.survivor) for m in plan.merges)
        absorbed = {m.absorbed for m in plan.merges}
        moves = tuple(sorted((k, c) for k, c in plan.moves.items()
                             if owners.get(k) not in absorbed and owners.get(k) != c))
        parts = [f"merges customer {a} into {s}" for a, s in merges]
        parts += [f"moves {k} to customer {c}" for k, c in moves]
        return cls(True, None, merges, moves, "; ".join(parts) or "nothing changes")


class _Planned(Exception):  # noqa: N818 - carries a plan out of a transaction, not an error
    """Raised inside a transaction to leave it, rolled back, with the plan it decided."""

    def __init__(self, plan: Plan, owners: Mapping[str, str | None]) -> None:
        super().__init__("planned, not applied")
        self.plan = plan
        self.owners = owners


class StewardService:
    def __init__(self, store: IdentityStore, *, default_region: str = "NL",
                 rules: Rules = DEFAULT_RULES, clock: Clock = utc_now,
                 segments: SegmentService | None = None) -> None:
        self.store = store
        self.default_region = default_region
        self.rules = rules
        self.clock = clock
        self.segments = segments  # memberships follow each action
        # Undoes an applied rules change (app/services/whatif.py). Set by bootstrap once the
        # rules service exists: that service changes the steward's rules, so it is built on
        # the steward and cannot be passed in.
        self.rules_undo: RulesUndo | None = None

    def key(self, type_: str, value: str) -> str:
        try:
            return normalise(type_, value, default_region=self.default_region).key
        except IdentifierError as exc:
            raise StewardError(StewardErrorCode.INVALID_IDENTIFIER, str(exc)) from None

    async def act(self, action: Action) -> ActionResult:
        """Carry out one action in one transaction; raises StewardError, changing nothing,
        when it cannot be done."""
        action, gather, now = await self._prepared(action)
        receipt = await self.store.transact(
            gather,
            lambda snapshot: with_checks(plan_action(action, snapshot, self.rules, now), now),
        )
        plan = receipt.plan
        return ActionResult(
            merges=[(m.absorbed, m.survivor) for m in plan.merges],
            splits=[(s.customer_id, s.parts) for s in plan.splits],
            affected_customers=plan.affected_customers,
            audit_seq=receipt.audit_seq,
            plan=plan,
            segment_changes=await self.segments.after_plan(plan, now) if self.segments else [],
        )

    async def plan(self, action: Action) -> tuple[Plan, dict[str, str | None], str]:
        """What `action` would do, planned as `act` plans it and rolled back: the plan, the
        customer before it of every identifier it read, and its moment."""
        action, gather, now = await self._prepared(action)

        def decide(snapshot: Snapshot) -> Plan:
            before: dict[str, str | None] = {k: snapshot.owners.get(k) for k in action.keys}
            for component in snapshot.components.values():
                for key, ident in (*component.neighbours.items(),
                                   *component.identifiers.items()):
                    before[key] = ident.customer_id
            raise _Planned(plan_action(action, snapshot, self.rules, now), before)

        try:
            await self.store.transact(gather, decide)
        except _Planned as planned:
            return planned.plan, dict(planned.owners), now
        raise AssertionError("a plan always raises")  # pragma: no cover

    async def _prepared(self, action: Action) -> tuple[Action, Gather, str]:
        """The action with its customers' current ids (and a release's neighbours), what
        it reads, and its moment."""
        customers: frozenset[str] = frozenset()
        if action.customers:
            current = await self.store.current_ids(action.customers)
            missing = [c for c in action.customers if c not in current]
            if missing:
                raise StewardError(StewardErrorCode.UNKNOWN_CUSTOMER, f"no customer {missing[0]}",
                                   customer_id=missing[0])
            action = Action(action.kind, action.actor, action.reason, action.keys, action.ban,
                            tuple(current[c] for c in action.customers), action.data)
            customers = frozenset(action.customers)
        if action.kind == "release":
            action = await self._with_neighbours(action)
        keys = frozenset(action.keys) | {k for p in action.data.get("pairs", ()) for k in p}
        return action, Gather(keys=keys, customers=customers), format_ts(self.clock())

    async def _with_neighbours(self, action: Action) -> Action:
        links = await self.store.links_touching(action.keys)
        far = {k for link in links for k in (link.a, link.b)} - set(action.keys)
        customers = sorted(set((await self.store.owners(far)).values()))
        return Action(action.kind, action.actor, action.reason, action.keys, action.ban,
                      action.customers, {**action.data, "neighbour_customers": customers})

    async def resolve_review(self, review_id: int, accept: bool, actor: str,
                             reason: str) -> ActionResult:
        """Accept a candidate match (link its identifiers) or reject it."""
        return await self.act(await self.review_action(review_id, accept, actor, reason))

    async def review_action(self, review_id: int, accept: bool, actor: str,
                            reason: str) -> Action:
        review = await self.store.review(review_id)
        if review is None:
            raise StewardError(StewardErrorCode.UNKNOWN_REVIEW, f"no review item {review_id}")
        if review.status is not ReviewStatus.OPEN:
            raise StewardError(StewardErrorCode.REVIEW_CLOSED,
                               f"review item {review_id} is {review.status}")
        return Action(StewardActionKind.REVIEW, actor, reason, (review.a, review.b),
                      data={"review_id": review_id, "accept": accept})

    async def preview_review(self, review: ReviewRecord) -> ReviewEffect:
        """What accepting a review item would do, planned under the rules and not
        applied: which customers merge, which identifiers move, or the rule that keeps
        the pair apart (then the item cannot be accepted)."""
        owners = await self.store.owners([review.a, review.b])
        if review.status is not ReviewStatus.OPEN:
            return ReviewEffect(False, f"the item is {review.status}")
        if owners.get(review.a) is not None and owners.get(review.a) == owners.get(review.b):
            return ReviewEffect(True, None, summary="nothing changes: both identifiers are "
                                f"already in customer {owners[review.a]}")
        action = Action(StewardActionKind.REVIEW, "preview", "preview of an accept",
                        (review.a, review.b), data={"review_id": review.id, "accept": True})
        try:
            plan, before, _ = await self.plan(action)
        except StewardError as exc:
            return ReviewEffect(False, exc.message)
        return ReviewEffect.of(plan, before)

    async def undo(self, seq: int, actor: str, reason: str) -> ActionResult:
        entry = await self.store.audit_entry(seq)
        if entry is None:
            raise StewardError(StewardErrorCode.UNKNOWN_AUDIT_ENTRY, f"no audit entry {seq}")
        if entry.undone_by is not None:
            raise StewardError(StewardErrorCode.ALREADY_UNDONE,
                               f"entry {seq} was undone by {entry.undone_by}")
        if entry.undo.get("kind") == "rules" and self.rules_undo is not None:
            return await self.rules_undo(seq, entry.undo, actor, reason)
        return await self.act(undo_of(seq, entry.undo, actor, reason or f"undo of {seq}"))

    async def audit_log(self, first: int = 50, before: int | None = None) -> list[AuditRecord]:
        return await self.store.audit_log(first, before)
