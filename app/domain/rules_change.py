"""A change of the linking rules: which identifiers and customers it can touch, the plan
that re-partitions them under the new rules, and the diff it makes.

Pure. The scope is exact, not a guess: an identifier changes status only if the new rules
block it, stop blocking it, or put its degree on the other side of its hub limit; a
component changes only if it holds such an identifier or a neighbour of one, breaks a new
limit, or already has a link a limit or a ban rejected (the order links are accepted in,
so the priorities and limits, decides only which of those give way). A component with no
rejected link that breaks no new limit partitions the same in any order.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from networkx.utils import UnionFind

from app.domain.effects import changes_of
from app.domain.identifiers import Identifier
from app.domain.plan import (
    ACTIVE,
    BLOCKED,
    QUARANTINED,
    AuditEntry,
    IdentifierDecision,
    IdentifierStatusChange,
    Plan,
    Snapshot,
)
from app.domain.resolution import resolve_components
from app.domain.rules import Rules, hub_reason

HUB_PREFIX = "hub:"
RULE_REJECTIONS = ("limit:", "ban:")  # reasons of links that a limit or a ban rejected


class OutcomeKind(StrEnum):
    MERGED = "merged"  # its identifiers went to another customer that was there before
    SPLIT = "split"  # its identifiers went to several customers
    CHANGED = "changed"  # it kept its id and gained or lost identifiers
    NEW = "new"  # a customer that was not there before
    EMPTIED = "emptied"  # every identifier it held stopped linking


# -- what changed in the rules ----------------------------------------------------------
@dataclass(frozen=True, slots=True)
class RuleDelta:
    """The settings that differ between two rules, each named as in the rules file."""

    blocked: bool
    limits: dict[str, tuple[int | None, int | None]]
    priority: list[str]
    hub_types: frozenset[str] | None  # types whose hub limit changed; None: every type
    hubs: list[str]
    matching: list[str]  # thresholds: they decide records matched from then on only
    # purposes that bring an erased identifier back: they decide later events only
    consent: list[str] = field(default_factory=list)

    @property
    def settings(self) -> list[str]:
        names = ["blocked"] if self.blocked else []
        names += [f"limits.{t} {_n(a)} -> {_n(b)}" for t, (a, b) in sorted(self.limits.items())]
        return names + self.priority + self.hubs + self.matching + self.consent


def _n(value: int | None) -> str:
    return "none" if value is None else str(value)


def _changed(name: str, old: Mapping[str, int], new: Mapping[str, int]) -> list[str]:
    return [f"{name}.{k} {_n(old.get(k))} -> {_n(new.get(k))}"
            for k in sorted(old.keys() | new.keys()) if old.get(k) != new.get(k)]


def rule_delta(old: Rules, new: Rules) -> RuleDelta:
    limits = {t: (old.limits.get(t), new.limits.get(t))
              for t in old.limits.keys() | new.limits.keys()
              if old.limits.get(t) != new.limits.get(t)}
    priority = (_changed("priority.types", old.type_priority, new.type_priority)
                + _changed("priority.sources", old.source_priority, new.source_priority))
    hubs = _changed("hubs.max_links_by_type", old.hub_max_links, new.hub_max_links)
    hub_types: frozenset[str] | None = frozenset(
        t for t in old.hub_max_links.keys() | new.hub_max_links.keys()
        if old.hub_limit(t) != new.hub_limit(t))
    if old.hub_default_max_links != new.hub_default_max_links:
        hubs.append(f"hubs.max_links {old.hub_default_max_links} -> "
                    f"{new.hub_default_max_links}")
        hub_types = None
    if set(old.hub_count_types) != set(new.hub_count_types):
        hubs.append(f"hubs.count_types {sorted(old.hub_count_types)} -> "
                    f"{sorted(new.hub_count_types)}")
        hub_types = None
    matching = [f"matching.{name} {getattr(old.matching, name)} -> "
                f"{getattr(new.matching, name)}" for name in ("link", "review", "merge")
                if getattr(old.matching, name) != getattr(new.matching, name)]
    return RuleDelta(set(old.blocked) != set(new.blocked), limits, priority,
                     hub_types if hubs else frozenset(), hubs, matching,
                     _consent_changed(old, new))


def _consent_changed(old: Rules, new: Rules) -> list[str]:
    a, b = old.consent_returns, new.consent_returns
    return [f"consent.returns.{t} {_purposes(a.get(t))} -> {_purposes(b.get(t))}"
            for t in sorted(a.keys() | b.keys()) if a.get(t) != b.get(t)]


def _purposes(patterns: tuple[str, ...] | None) -> str:
    return "none" if patterns is None else str(list(patterns))


def identifier_of(key: str) -> Identifier:
    type_, _, value = key.partition(":")
    return Identifier(type_, value)


def block_changes(keys: Iterable[str], old: Rules, new: Rules) -> list[str]:
    """The keys that one of the two rules blocks and the other does not."""
    return [k for k in keys
            if (old.blocked_by(identifier_of(k)) is None)
            != (new.blocked_by(identifier_of(k)) is None)]


def hub_candidates(keys: Iterable[str], delta: RuleDelta) -> list[str]:
    """The keys whose hub limit changed (every key when the default or the counted types
    did): only their degree can fall on the other side of it."""
    if not delta.hubs:
        return []
    if delta.hub_types is None:
        return list(keys)
    return [k for k in keys if k.partition(":")[0] in delta.hub_types]


def limit_scope(owners: Mapping[str, str | None], rejected: Iterable[tuple[str, str, str]],
                delta: RuleDelta, rules: Rules) -> dict[str, set[str]]:
    """Customer -> the settings that can re-partition it: a new limit it breaks, or a
    link a limit or a ban rejected when a limit or a priority changed."""
    causes: dict[str, set[str]] = defaultdict(set)
    counts: dict[tuple[str, str], int] = defaultdict(int)
    tightened = {t for t, (_, b) in delta.limits.items() if b is not None}
    for key, cid in owners.items():
        type_ = key.partition(":")[0]
        if cid is not None and type_ in tightened:
            counts[(cid, type_)] += 1
    for (cid, type_), n in counts.items():
        if n > rules.limits[type_]:
            causes[cid].add(_limit_name(delta, type_))
    if delta.limits or delta.priority:
        for a, b, reason in rejected:
            if reason.startswith(RULE_REJECTIONS):
                why = _rejection_causes(reason, delta)
                for key in (a, b):
                    if (cid := owners.get(key)) is not None:
                        causes[cid].update(why)
    return causes


def _rejection_causes(reason: str, delta: RuleDelta) -> list[str]:
    """The changed settings that can re-decide a link rejected for `reason`: the limit it
    names, and any limit or priority, since they decide which link gives way."""
    named = [_limit_name(delta, t) for t in sorted(delta.limits)
             if reason.startswith("limit:") and f" {t} per customer" in reason]
    others = [_limit_name(delta, t) for t in sorted(delta.limits)
              if _limit_name(delta, t) not in named]
    return named + delta.priority + others


def _limit_name(delta: RuleDelta, type_: str) -> str:
    a, b = delta.limits[type_]
    return f"limits.{type_} {_n(a)} -> {_n(b)}"


# -- the new status of an identifier ----------------------------------------------------
def target_status(key: str, current: IdentifierDecision, degree: int, rules: Rules
                  ) -> IdentifierDecision:
    """What the rules make of a stored identifier: a steward's quarantine stays; else
    blocked, a hub, or active (a status of the same kind keeps its stored reason)."""
    status, why = current
    if status == QUARANTINED and not why.startswith(HUB_PREFIX):
        return current
    ident = identifier_of(key)
    rule = rules.blocked_by(ident)
    if rule is not None:
        return current if status == BLOCKED else (BLOCKED, f"matches {rule}")
    limit = rules.hub_limit(ident.type)
    if degree > limit:
        return current if status == QUARANTINED else (QUARANTINED, hub_reason(degree, limit))
    return (ACTIVE, "")


def _status_cause(key: str, before: IdentifierDecision, after: IdentifierDecision,
                  delta: RuleDelta) -> str:
    if after[0] == BLOCKED:
        return f"blocked: {key} {after[1]}"
    if before[0] == BLOCKED:
        return f"blocked: {key} no longer blocked"
    settings = "; ".join(delta.hubs)
    if after[0] == QUARANTINED:
        return f"{settings}: {key} is a {after[1]}"
    return f"{settings}: {key} is no longer a hub"


# -- the plan ---------------------------------------------------------------------------
@dataclass(slots=True)
class RulesChange:
    """What a rules change decides, before it is applied."""

    plan: Plan
    before: dict[str, str | None]  # every key involved -> its customer before
    after: dict[str, str | None]  # ... and after
    causes: dict[str, set[str]]  # customer before (or key, for one without) -> settings
    reevaluated: int  # customers re-partitioned


@dataclass(frozen=True, slots=True)
class Scope:
    """What the store's reads found a rules change can touch."""

    keys: frozenset[str]  # identifiers whose status may change
    customers: dict[str, set[str]]  # customers to re-partition -> why
    neighbours: dict[str, frozenset[str]]  # inactive key -> the customers its links reach


def chunks(scope: Scope, owners: Mapping[str, str | None],
           cross_links: Iterable[tuple[str, str]], limit: int) -> list[Scope]:
    """The scope in parts of about `limit` customers whose regions do not overlap, each
    re-partitioned in a transaction of its own: a region is every customer reachable by a
    link of any status (as the re-partition gathers it), and an identifier coming back
    joins the customers its links reach, so those go in one part. One part at least."""
    uf = _regions(scope, owners, cross_links)
    units = _units(scope, uf)
    sizes: dict[tuple[str, str], int] = defaultdict(int)
    for node in uf:
        if node[0] == "c" and uf[node] in units:
            sizes[uf[node]] += 1
    parts: list[Scope] = []
    current, size = Scope(frozenset(), {}, {}), 0
    for root in sorted(units, key=lambda r: min(units[r].keys | set(units[r].customers))):
        unit = units[root]
        if size and size + sizes[root] > limit:
            parts.append(current)
            current, size = Scope(frozenset(), {}, {}), 0
        current = Scope(current.keys | unit.keys, {**current.customers, **unit.customers},
                        {**current.neighbours, **unit.neighbours})
        size += max(sizes[root], 1)
    return [*parts, current]


def _regions(scope: Scope, owners: Mapping[str, str | None],
             cross_links: Iterable[tuple[str, str]]) -> UnionFind[tuple[str, str]]:
    """Customers ("c", id) and the scope's identifiers ("k", key), joined as one region
    where a link joins them or an identifier's links reach them."""
    uf: UnionFind[tuple[str, str]] = UnionFind()
    for a, b in cross_links:
        ca, cb = owners.get(a), owners.get(b)
        if ca is not None and cb is not None and ca != cb:
            uf.union(("c", ca), ("c", cb))
    for key in scope.keys:
        owner = owners.get(key)
        for cid in ([owner] if owner is not None else sorted(scope.neighbours.get(key, ()))):
            uf.union(("k", key), ("c", cid))
    return uf


def _units(scope: Scope, uf: UnionFind[tuple[str, str]]) -> dict[tuple[str, str], Scope]:
    """The scope's part in each region, by the region's root."""
    units: dict[tuple[str, str], Scope] = {}
    members = [("k", k) for k in sorted(scope.keys)] + [("c", c) for c in sorted(scope.customers)]
    for kind, name in members:
        root = uf[(kind, name)]
        unit = units.setdefault(root, Scope(frozenset(), {}, {}))
        if kind == "k":
            units[root] = Scope(unit.keys | {name}, unit.customers,
                                {**unit.neighbours, **({name: scope.neighbours[name]}
                                                       if name in scope.neighbours else {})})
        else:
            unit.customers[name] = scope.customers[name]
    return units


@dataclass(slots=True)
class _StatusEffect:
    """What the identifiers' new statuses set going: the customers to re-partition, the
    identifiers leaving (with their new status) and those coming back."""

    customers: set[str]
    deactivated: dict[str, IdentifierDecision] = field(default_factory=dict)
    released: list[str] = field(default_factory=list)


def plan_rules_change(snapshot: Snapshot, scope: Scope, old: Rules, new: Rules, now: str,
                      why: str, audit: AuditEntry | None) -> RulesChange:
    """`why` is the reason merges and splits record; `audit` the entry, for one part."""
    causes: dict[str, set[str]] = defaultdict(set)
    for cid, settings in scope.customers.items():
        causes[cid] |= settings
    plan = Plan()
    effect = _statuses(snapshot, scope, new, rule_delta(old, new), plan, causes)
    before: dict[str, str | None] = {k: snapshot.owners.get(k) for k in scope.keys}
    after = dict(before)
    reevaluated = 0
    if effect.customers or effect.released:
        resolved = resolve_components(
            effect.customers, snapshot, plan, new, now, inactive=effect.deactivated,
            extra_nodes=effect.released, reason=why)
        for key in effect.released:
            plan.moves[key] = resolved.owners[key]
        for key, owner in resolved.owners.items():
            before.setdefault(key, _stored_owner(snapshot, key))
            after[key] = owner
        reevaluated = len({before[k] for k in resolved.owners} - {None})
    plan.changes = changes_of(plan, snapshot.owners, now)
    if audit is not None:
        plan.audit.append(audit)
    return RulesChange(plan, before, after, dict(causes), reevaluated)


def _statuses(snapshot: Snapshot, scope: Scope, new: Rules, delta: RuleDelta, plan: Plan,
              causes: dict[str, set[str]]) -> _StatusEffect:
    """Each scope identifier's status under the new rules, into `plan`, with its cause."""
    effect = _StatusEffect(set(scope.customers))
    for key in sorted(scope.keys):
        if key not in snapshot.owners and key not in snapshot.statuses:
            continue  # erased or gone since the scope was read
        current = snapshot.statuses.get(key, (ACTIVE, ""))
        target = target_status(key, current, snapshot.degrees.get(key, 0), new)
        if target == current:
            continue
        plan.statuses.append(IdentifierStatusChange(key, *target))
        cause = _status_cause(key, current, target, delta)
        causes[key].add(cause)
        if current[0] == ACTIVE:
            effect.deactivated[key] = target
            reached = [o] if (o := snapshot.owners.get(key)) is not None else []
        elif target[0] == ACTIVE:
            effect.released.append(key)
            reached = list(scope.neighbours.get(key, ()))
        else:
            reached = []
        for cid in reached:
            effect.customers.add(cid)
            causes[cid].add(cause)
    return effect


def combined(changes: Iterable[RulesChange]) -> RulesChange:
    """The parts of one change as one (their regions do not overlap)."""
    whole = RulesChange(Plan(), {}, {}, defaultdict(set), 0)
    for change in changes:
        whole.before.update(change.before)
        whole.after.update(change.after)
        for name, why in change.causes.items():
            whole.causes[name] |= why
        whole.reevaluated += change.reevaluated
    whole.causes = dict(whole.causes)
    return whole


def _stored_owner(snapshot: Snapshot, key: str) -> str | None:
    for component in snapshot.components.values():
        ident = component.identifiers.get(key) or component.neighbours.get(key)
        if ident is not None:
            return ident.customer_id
    return snapshot.owners.get(key)


# -- the diff ---------------------------------------------------------------------------
@dataclass(slots=True)
class CustomerOutcome:
    customer_id: str
    kind: OutcomeKind
    gained: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)
    from_customers: list[str] = field(default_factory=list)  # where its gains came from
    to_customers: list[str] = field(default_factory=list)  # where its losses went
    rules: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"customer_id": self.customer_id, "change": self.kind.value,
                "gained": self.gained, "lost": self.lost,
                "from_customers": self.from_customers, "to_customers": self.to_customers,
                "rules": self.rules}


@dataclass(slots=True)
class Diff:
    merges: int
    splits: int
    identifiers_moved: int
    customers: list[CustomerOutcome]

    def counts(self) -> dict[str, int]:
        return {"merges": self.merges, "splits": self.splits,
                "identifiers_moved": self.identifiers_moved}


def diff(before: Mapping[str, str | None], after: Mapping[str, str | None],
         causes: Mapping[str, Collection[str]] | None = None) -> Diff:
    """How customers changed between two assignments of identifiers to customers (None:
    the identifier links nothing). Keys missing from one side count as None there."""
    causes = causes or {}
    keys = sorted(before.keys() | after.keys())
    was = {k: before.get(k) for k in keys}
    now = {k: after.get(k) for k in keys}
    held_before: dict[str, set[str]] = defaultdict(set)
    held_after: dict[str, set[str]] = defaultdict(set)
    for k in keys:
        if was[k] is not None:
            held_before[was[k]].add(k)  # type: ignore[index]
        if now[k] is not None:
            held_after[now[k]].add(k)  # type: ignore[index]
    sources = {a: {c for k in ks if (c := was[k]) is not None} for a, ks in held_after.items()}
    parts = {b: {c for k in ks if (c := now[k]) is not None} for b, ks in held_before.items()}
    merges = sum(max(0, len(s) - 1) for s in sources.values())
    splits = sum(max(0, len(p) - 1) for p in parts.values())
    moved = sum(1 for k in keys if was[k] != now[k])
    changes = []
    for cid in sorted(held_before.keys() | held_after.keys()):
        old, new = held_before.get(cid, set()), held_after.get(cid, set())
        if old == new:
            continue
        gained, lost = sorted(new - old), sorted(old - new)
        kind = _kind(cid, old, new, parts, held_before)
        why = set(causes.get(cid, ()))
        for k in gained + lost:
            why |= set(causes.get(was[k] or k, ())) | set(causes.get(k, ()))
        changes.append(CustomerOutcome(
            cid, kind, gained, lost,
            sorted({was[k] or "" for k in gained} - {""}),
            sorted({now[k] or "" for k in lost} - {""}), sorted(why)))
    return Diff(merges, splits, moved, changes)


def _kind(cid: str, old: set[str], new: set[str], parts: Mapping[str, set[str]],
          held_before: Mapping[str, set[str]]) -> OutcomeKind:
    if not old:
        return OutcomeKind.NEW
    if not new:
        gone_to = parts.get(cid, set())
        return OutcomeKind.MERGED if gone_to & held_before.keys() else (
            OutcomeKind.SPLIT if len(gone_to) > 1 else OutcomeKind.EMPTIED)
    return OutcomeKind.SPLIT if len(parts.get(cid, ())) > 1 else OutcomeKind.CHANGED
