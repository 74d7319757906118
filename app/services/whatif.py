"""What a new rules file would do, exactly, and applying it as one audited, undoable action.

Preview and apply are one code path: both read the scope (app/domain/rules_change.py says
why it is exact), then plan the change under the new rules in a store transaction
through the ordinary re-partition of the domain (resolve_components). A preview leaves
that transaction by raising, so it is rolled back and nothing is written; apply commits
the same plan, with its audit entry. So the customers after apply are the ones the
preview announced, as long as nothing is written in between.

The rules in effect are the store's once a change was applied (model document "rules"):
every process reads them when it starts, and the configured file only until then.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.domain.changes import ChangeEventKind
from app.domain.effects import with_checks
from app.domain.events import format_ts
from app.domain.plan import AuditEntry, Gather, Plan, Receipt, Snapshot
from app.domain.rules import DEFAULT_RULES_TOML, Rules, RulesError
from app.domain.rules_change import (
    Diff,
    RulesChange,
    Scope,
    block_changes,
    chunks,
    combined,
    diff,
    hub_candidates,
    limit_scope,
    plan_rules_change,
    rule_delta,
)
from app.domain.segments.membership import MembershipChange
from app.domain.steward import Action, StewardError, StewardErrorCode
from app.services.container import Services
from app.services.whatif_segments import entries_exits, segment_effect
from app.stores.base import IdentityStore

if TYPE_CHECKING:
    from app.services.steward import ActionResult

RULES_DOCUMENT = "rules"
# A change is planned in parts of about this many customers (their whole regions), each
# in a transaction of its own: the store refuses to gather more than 5,000 at once.
PART_CUSTOMERS = 1_000
# links that join customers' regions besides the active ones, which lie within a customer
CROSS_STATUSES = ("rejected", "removed", "banned")
RULES_ACTION = "rules"


@dataclass(slots=True)
class RulesPreview:
    """A rules change's effect: the counts, and per customer the change and its causes."""

    settings: list[str]
    customers_before: int
    customers_after: int
    reevaluated: int
    diff: Diff
    identifiers_deactivated: int = 0
    identifiers_activated: int = 0
    segment_entries: int = 0
    segment_exits: int = 0
    # each entry and exit, for a steward action's preview (a rules change counts them only)
    segment_changes: list[MembershipChange] = field(default_factory=list)
    audit_seq: int | None = None
    applied: bool = False
    parts: int = 1  # transactions the change was planned in

    def as_json(self) -> dict[str, Any]:
        return {
            "applied": self.applied,
            "settings_changed": self.settings,
            "customers_before": self.customers_before,
            "customers_after": self.customers_after,
            **self.diff.counts(),
            "identifiers_deactivated": self.identifiers_deactivated,
            "identifiers_activated": self.identifiers_activated,
            "customers_reevaluated": self.reevaluated,
            "customers_changed": len(self.diff.customers),
            "segment_entries": self.segment_entries,
            "segment_exits": self.segment_exits,
            "audit_seq": self.audit_seq,
        }


class _Planned(Exception):  # noqa: N818 - carries a plan out of a transaction, not an error
    """Raised inside the transaction to leave it rolled back, with what it decided."""

    def __init__(self, change: RulesChange) -> None:
        super().__init__("planned, not applied")
        self.change = change


def parse_rules(text: str) -> Rules:
    """The rules in `text`; RulesError names the setting (or the line and column)."""
    return Rules.from_toml(text)


async def stored_rules(store: IdentityStore) -> str | None:
    """The TOML of the last rules change applied to the store, if any."""
    document = await store.load_model(RULES_DOCUMENT)
    return str(document["toml"]) if document else None


async def use_stored_rules(services: Services) -> None:
    """Run under the rules applied to the store, when a change was applied."""
    text = await stored_rules(services.store)
    if text is not None:
        _use(services, parse_rules(text))


def _use(services: Services, rules: Rules) -> None:
    services.ingest.rules = services.steward.rules = rules


class RulesService:
    def __init__(self, services: Services) -> None:
        self.services = services
        self.store = services.store

    async def current_text(self) -> str:
        stored = await stored_rules(self.store)
        if stored is not None:
            return stored
        path = self.services.settings.rules_file
        if path:
            return _file_text(path)
        return DEFAULT_RULES_TOML

    async def preview(self, text: str) -> RulesPreview:
        new = parse_rules(text)
        old = self.services.steward.rules
        return await self._run(old, new, AuditEntry("preview", RULES_ACTION, "rules",
                                                    "preview", "", {}, {}), apply=False)

    async def apply(self, text: str, reason: str, actor: str,
                    undoes: int | None = None) -> RulesPreview:
        if not reason.strip():
            raise StewardError(StewardErrorCode.REASON_REQUIRED,
                               "reason: say why, for the audit log")
        new = parse_rules(text)
        old = self.services.steward.rules
        previous = await self.current_text()
        audit = AuditEntry(actor, RULES_ACTION, "rules", reason, "",
                           {"settings": rule_delta(old, new).settings, "rules": text},
                           {"kind": RULES_ACTION, "rules": previous}, undoes)
        result = await self._run(old, new, audit, apply=True)
        await self.store.save_model(RULES_DOCUMENT, {"toml": text}, format_ts(
            self.services.steward.clock()))
        _use(self.services, new)
        return result

    async def undo(self, seq: int, undo: Mapping[str, Any], actor: str,
                   reason: str) -> ActionResult:
        """Put back the rules an applied change replaced (audit entry `seq`)."""
        from app.services.steward import ActionResult

        result = await self.apply(str(undo["rules"]), reason or f"undo of {seq}", actor,
                                  undoes=seq)
        return ActionResult(audit_seq=result.audit_seq)

    async def _run(self, old: Rules, new: Rules, audit: AuditEntry, *,
                   apply: bool) -> RulesPreview:
        owners, _ = await self.store.membership()
        scope = await self._scope(owners, old, new)
        now = format_ts(self.services.steward.clock())
        audit = AuditEntry(audit.actor, audit.action, audit.target, audit.reason, now,
                           audit.details, audit.undo, audit.undoes)
        cross = [(a, b) for status in CROSS_STATUSES
                 for a, b, _ in await self.store.links_with_status(status)]
        parts = chunks(scope, owners, cross, PART_CUSTOMERS)
        done: list[RulesChange] = []
        entries = exits = 0
        audit_seq = None
        for n, part in enumerate(parts):
            # the audit entry goes with the last part: an apply cut short says nothing
            change, receipt = await self._part(
                part, old, new, now, f"rules changed by {audit.actor}: {audit.reason}",
                audit if n == len(parts) - 1 else None, apply)
            done.append(change)
            if receipt is not None:
                found = await self.services.segments.after_plan(receipt.plan, now)
                entries += sum(1 for c in found if c.kind == ChangeEventKind.SEGMENT_ENTERED)
                exits += sum(1 for c in found if c.kind == ChangeEventKind.SEGMENT_LEFT)
                audit_seq = receipt.audit_seq if receipt.audit_seqs else audit_seq
            else:
                more = entries_exits(await segment_effect(
                    self.services.segments, self.store, change.plan, change.before,
                    change.after, now))
                entries, exits = entries + more[0], exits + more[1]
        result = _preview(combined(done), owners, rule_delta(old, new).settings)
        result.segment_entries, result.segment_exits = entries, exits
        result.applied, result.audit_seq, result.parts = apply, audit_seq, len(parts)
        return result

    async def _part(self, part: Scope, old: Rules, new: Rules, now: str, why: str,
                    audit: AuditEntry | None, apply: bool) -> tuple[RulesChange, Receipt | None]:
        """Plan one part in a transaction: committed (apply, with the store's receipt) or
        rolled back."""
        decided: list[RulesChange] = []

        def decide(snapshot: Snapshot) -> Plan:
            change = plan_rules_change(snapshot, part, old, new, now, why, audit)
            if not apply:
                raise _Planned(change)
            decided.append(change)
            return with_checks(change.plan, now)

        gather = Gather(keys=part.keys, hub_types=new.hub_count_types,
                        customers=frozenset(part.customers))
        try:
            receipt = await self.store.transact(gather, decide)
        except _Planned as planned:
            return planned.change, None
        return decided[-1], receipt

    async def _scope(self, owners: Mapping[str, str | None], old: Rules, new: Rules) -> Scope:
        delta = rule_delta(old, new)
        keys = frozenset(block_changes(owners, old, new) if delta.blocked else ()) | frozenset(
            hub_candidates(owners, delta))
        rejected = (await self.store.links_with_status("rejected")
                    if delta.limits or delta.priority else [])
        customers = limit_scope(owners, rejected, delta, new)
        inactive = [k for k in keys if owners.get(k) is None]
        neighbours: dict[str, set[str]] = {k: set() for k in inactive}
        if inactive:
            links = await self.store.links_touching(inactive)
            for link in links:
                for key, far in ((link.a, link.b), (link.b, link.a)):
                    if key in neighbours and owners.get(far) is not None:
                        neighbours[key].add(owners[far])  # type: ignore[arg-type]
        return Scope(keys, dict(customers), {k: frozenset(v) for k, v in neighbours.items()})


async def preview_action(services: Services, action: Action) -> RulesPreview:
    """What a steward action would do, in the shape of a rules preview: planned as the
    action is planned and rolled back. Raises StewardError when it cannot be done."""
    plan, before, now = await services.steward.plan(action)
    after = owners_after(plan, before)
    cause = f"{action.kind} by {action.actor}: {action.reason}"
    involved = {*before, *(c for c in [*before.values(), *after.values()] if c)}
    held = (await services.store.stats()).customers
    before_ids = {c for c in before.values() if c is not None}
    after_ids = {c for c in after.values() if c is not None}
    result = RulesPreview(
        settings=[], customers_before=held,
        customers_after=held - len(before_ids) + len(after_ids),
        reevaluated=len(before_ids), diff=diff(before, after, {c: [cause] for c in involved}),
        identifiers_deactivated=sum(1 for k, c in before.items()
                                    if c is not None and after.get(k) is None),
        identifiers_activated=sum(1 for k, c in before.items()
                                  if c is None and after.get(k) is not None))
    result.segment_changes = await segment_effect(
        services.segments, services.store, plan, before, after, now)
    result.segment_entries, result.segment_exits = entries_exits(result.segment_changes)
    return result


def owners_after(plan: Plan, before: Mapping[str, str | None]) -> dict[str, str | None]:
    """Each identifier's customer once `plan` is applied: its move, or its customer's
    survivor when that is merged away or renamed."""
    gone = {m.absorbed: m.survivor for m in [*plan.merges, *plan.renames]}
    after = {**before, **plan.moves}
    for key, cid in after.items():
        seen = set()
        while cid in gone and cid not in seen:
            seen.add(cid)
            cid = gone[cid]
        after[key] = cid
    return after


def _file_text(path: str) -> str:
    return Path(path).read_text(encoding="utf-8")


def _preview(change: RulesChange, owners: Mapping[str, str | None],
             settings: list[str]) -> RulesPreview:
    held_before = len({c for c in owners.values() if c is not None})
    before_ids = {c for c in change.before.values() if c is not None}
    after_ids = {c for c in change.after.values() if c is not None}
    result = diff(change.before, change.after, change.causes)
    return RulesPreview(
        settings=settings,
        customers_before=held_before,
        customers_after=held_before - len(before_ids) + len(after_ids),
        reevaluated=change.reevaluated,
        diff=result,
        identifiers_deactivated=sum(1 for k, c in change.before.items()
                                    if c is not None and change.after.get(k) is None),
        identifiers_activated=sum(1 for k, c in change.before.items()
                                  if c is None and change.after.get(k) is not None),
    )


__all__ = ["RulesError", "RulesPreview", "RulesService", "parse_rules", "use_stored_rules"]
