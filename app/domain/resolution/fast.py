"""The fast path, for the common batch that breaks no rule: union the batch's identifiers
with the customers they already belong to, and replay the merges it makes from the batch
alone (or from the whole components, when the batch brings late evidence)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from app.domain.events import Event
from app.domain.history import Anchor, Tie, moment, replay
from app.domain.plan import ACTIVE, CustomerInfo, Merge, Pair, Plan, Snapshot, pair
from app.domain.resolution.anchors import (
    anchor_of,
    info_of,
    settle,
    settled_of,
    survivor_of,
    tie_of,
)
from app.domain.resolution.batch import Batch
from app.domain.resolution.components import require_components
from app.domain.rules import Rules


@dataclass(slots=True)
class Group:
    keys: set[str] = field(default_factory=set)
    customers: set[str] = field(default_factory=set)
    events: list[Event] = field(default_factory=list)  # in time order
    # customer -> the first event that tied it to another customer
    triggers: dict[str, Event] = field(default_factory=dict)
    # the batch's unbanned evidence between two of its keys, in the batch's order
    pairs: list[Pair] = field(default_factory=list)


# The keys an event ties together (or a match: a record and its candidate), and the event.
Unit = tuple[list[str], Event]


@dataclass(slots=True)
class _Union:
    """Keys and customers joined by the batch's events, noting for each customer the event
    that first tied it to another.

    Its own union-find on one dict: networkx's, with a weight per node and a method call
    per lookup, was a tenth of planning a batch."""

    parent: dict[object, object] = field(default_factory=dict)
    customers_at: dict[object, set[str]] = field(default_factory=dict)  # root -> customers
    triggers: dict[str, Event] = field(default_factory=dict)

    def root(self, x: object) -> object:
        parent = self.parent
        up = parent.get(x)
        if up is None:
            parent[x] = x
            return x
        while up != x:
            above = parent[up]
            parent[x] = above  # path halving: every lookup shortens the path it walks
            x, up = up, above
        return x

    def tie(self, keys: list[str], event: Event, owners: Mapping[str, str],
            bans: set[Pair]) -> None:
        for key in keys:
            owner = owners.get(key)
            if owner is not None:
                self._own(key, owner, event)
        for key in keys[1:]:
            if pair(keys[0], key) not in bans:
                self._join(keys[0], key, event)

    def _own(self, key: str, owner: str, event: Event) -> None:
        node = ("customer", owner)
        at = self.root(node)
        if at not in self.customers_at:
            self.customers_at[at] = {owner}
        self._join(key, node, event)

    def _join(self, x: object, y: object, event: Event) -> None:
        rx, ry = self.root(x), self.root(y)
        if rx == ry:
            return
        cx, cy = self.customers_at.pop(rx, set()), self.customers_at.pop(ry, set())
        if cx and cy:
            for cid in cx | cy:
                self.triggers.setdefault(cid, event)
        self.parent[ry] = rx
        self.customers_at[rx] = cx | cy


def groups_of(batch: Batch, snapshot: Snapshot, inactive: Mapping[str, object]) -> list[Group]:
    """Union the batch's active identifiers with each other and with the customers they
    already belong to, noting for each customer the event that first tied it to another."""
    # Each event ties its identifiers; each match ties a record to its candidate.
    units = [([i.key for i in e.identifiers if i.key not in inactive], e) for e in batch.events]
    units += [([a, b], e) for a, b, e in batch.matches if a not in inactive and b not in inactive]
    union = _Union()
    for keys, event in units:
        union.tie(keys, event, snapshot.owners, snapshot.bans)
    groups, group_of = _grouped(units, union)
    for group in groups:
        group.events.sort(key=lambda e: (e.ts, e.event_id))
        group.triggers = {c: union.triggers[c] for c in group.customers if c in union.triggers}
    # One pass over the evidence for all groups, not one per group.
    for p in batch.evidence:
        holder = group_of.get(p[0])
        if holder is not None and group_of.get(p[1]) is holder and p not in snapshot.bans:
            holder.pairs.append(p)
    return groups


def _grouped(units: list[Unit], union: _Union) -> tuple[list[Group], dict[str, Group]]:
    """The groups, each holding the events that name its keys, and the group of each key."""
    by_root: dict[object, Group] = {}
    group_of: dict[str, Group] = {}
    # event ids are unique in a batch (new_events): a set per group, not a list scan
    listed: dict[int, set[str]] = {}
    for keys, event in units:
        for key in keys:
            root = union.root(key)
            group = by_root.get(root)
            if group is None:
                group = by_root[root] = Group(customers=union.customers_at.get(root, set()))
                listed[id(group)] = set()
            group.keys.add(key)
            group_of[key] = group
            if event.event_id not in listed[id(group)]:
                listed[id(group)].add(event.event_id)
                group.events.append(event)
    return list(by_root.values()), group_of


def breaks_a_rule(group: Group, snapshot: Snapshot, rules: Rules) -> bool:
    for type_, limit in rules.limits.items():
        stored = sum(snapshot.type_counts.get(c, {}).get(type_, 0) for c in group.customers)
        new = sum(1 for k in group.keys if k not in snapshot.owners and k.startswith(type_ + ":"))
        if stored + new > limit:
            return True

    def inside(key: str) -> bool:
        return key in group.keys or snapshot.ban_owners.get(key) in group.customers

    return any(inside(a) and inside(b) for a, b in snapshot.bans)


def resolve_fast(group: Group, snapshot: Snapshot, plan: Plan, batch: Batch, now: str) -> str:
    """A group that breaks no rule. When all of its evidence is later than what its
    customers were settled from (the common, in-order stream), the merges it makes are
    replayed from the batch alone and added to their history; otherwise the whole
    components are read and their history replayed again."""
    infos = [snapshot.customers[c] for c in sorted(group.customers)]
    ties = [batch.evidence[p].tie(*p) for p in group.pairs]
    if is_late(group, snapshot):
        return _late(group, infos, ties, snapshot, plan, batch, now)
    fresh = {k: batch.sightings[k].first for k in group.keys if k not in snapshot.owners}
    units = {c.id: anchor_of(c) for c in infos} | {k: Anchor(m, k) for k, m in fresh.items()}
    owned = {k: snapshot.owners[k] for k in group.keys if k in snapshot.owners}
    whole, merges = replay(units, owned, ties, fresh, {anchor_of(c): c.id for c in infos})
    assert whole is not None  # a group holds at least one key
    settled = settled_of(fresh, ties, *(c.settled for c in infos))
    if not infos:
        final = whole.customer_id
        plan.new_customers.append(info_of(final, whole, settled))
    else:
        survivor = survivor_of(infos)
        final = survivor.id
        plan.customer_updates[final] = replace(survivor, settled=settled)
        by_absorbed = {m.absorbed: m for m in merges}
        for info in infos:
            if info.id != final:
                plan.merges.append(_absorbed(info.id, final, by_absorbed, group, now))
    if merges:
        plan.history.setdefault(final, []).extend(merges)
    return final


def late_owners(events: Sequence[Event], snapshot: Snapshot) -> set[str]:
    """The stored customers that an event older than what they were settled from names
    (events come in time order)."""
    late: set[str] = set()
    for event in events:
        at = moment(event.ts, event.event_id)
        for ident in event.identifiers:
            owner = snapshot.owners.get(ident.key)
            if owner is not None and owner not in late and at <= snapshot.customers[owner].settled:
                late.add(owner)
    return late


def is_late(group: Group, snapshot: Snapshot) -> bool:
    """Whether the group brings evidence older than what its customers were settled from."""
    first = moment(group.events[0].ts, group.events[0].event_id)
    return any(first <= snapshot.customers[c].settled for c in group.customers)


def _absorbed(cid: str, final: str, by_absorbed: Mapping[str, Merge], group: Group,
              now: str) -> Merge:
    """The merge of a live customer into `final`, dated by the history when it names it."""
    found = by_absorbed.get(cid)
    if found is not None:
        return replace(found, survivor=final)
    trigger = group.triggers[cid]
    return Merge(cid, final, now, trigger.event_id,
                 f"{trigger.type} event {trigger.event_id} from {trigger.source} tied "
                 f"identifiers of {cid} to {final}")


def _late(group: Group, infos: list[CustomerInfo], ties: list[Tie], snapshot: Snapshot,
          plan: Plan, batch: Batch, now: str) -> str:
    """A group with evidence older than what its customers were settled from: replay the
    whole components with it."""
    require_components(group.customers, snapshot)
    firsts = {k: batch.sightings[k].first for k in group.keys}
    for cid in group.customers:
        for key, ident in snapshot.components[cid].identifiers.items():
            if ident.status == ACTIVE:
                firsts[key] = min(firsts.get(key, "~"), moment(ident.first_seen,
                                                                ident.first_event))
    by_pair = {(t.a, t.b): t for t in ties}
    for cid in group.customers:
        for p, link in snapshot.components[cid].links.items():
            if link.status != ACTIVE or p[0] not in firsts or p[1] not in firsts:
                continue
            ev = batch.evidence.get(p)
            first_seen, first_event = min(
                (link.first_seen, link.first_event),
                (ev.first_seen, ev.first_event) if ev else ("~", ""))
            sources = set(link.sources) | (ev.sources if ev else set())
            by_pair[p] = tie_of(*p, first_seen, first_event, sources)
    fallback = Merge("", "", now, first_event_of(group), "late evidence joined the customers")
    return settle(plan, infos, firsts, list(by_pair.values()), keep_survivor=False,
                   fallback=fallback)


def first_event_of(group: Group) -> str:
    return group.events[0].event_id if group.events else ""
