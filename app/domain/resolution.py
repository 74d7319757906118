"""Identity resolution: decide how events and steward actions change the identity graph.

Pure: no I/O and no clock (the caller passes `now`). Identifiers seen in one event are
linked; the connected components of the accepted links are customers.

Two paths give the same answer:
- the fast path, for the common batch that breaks no rule: union the batch's identifiers
  with the customers they already belong to;
- the full path, when a batch would break a per-type limit or a ban, quarantines a hub,
  or a steward changes a link: gather the whole stored components, and re-run
  `partition`, which accepts links strongest first and rejects the ones that would break
  a rule. It is a function of the set of links, so the outcome does not depend on the
  order in which the evidence arrived.

When customers merge, the one first seen (ties: the smaller id) keeps its id; the others
are recorded as merged into it. When a customer splits, the part holding most of its
identifiers keeps the id and the others become new customers.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from itertools import combinations
from typing import Any

from networkx.utils import UnionFind

from app.domain.effects import changes_of
from app.domain.events import Event
from app.domain.history import (
    Anchor,
    Moment,
    Tie,
    component_history,
    customer_id_for,
    effective,
    moment,
    moment_event,
    moment_ts,
    replay,
)
from app.domain.identifiers import Identifier
from app.domain.matching.stream import PendingRecord, match_batch
from app.domain.matching.training import Matcher
from app.domain.personal import Spellings, identifier_known
from app.domain.plan import (
    ACTIVE,
    BANNED,
    BLOCKED,
    QUARANTINED,
    REJECTED,
    REMOVED,
    CustomerInfo,
    IdentifierDelta,
    LinkDelta,
    LinkStatus,
    Merge,
    NeedComponents,
    Pair,
    Plan,
    ReviewItem,
    Snapshot,
    Split,
    StatusChange,
    StoredIdentifier,
    StoredLink,
    pair,
)
from app.domain.privacy import ALL_SUPPRESSED, ERASED_MARK, SUPPRESSED, brings_back
from app.domain.rules import Rules, hub_reason
from app.domain.search import terms_of

SAMPLE_EVENT_IDS = 10
MATCHER_SOURCE = "matcher"
STEWARD_SOURCE = "steward"
DEFAULT_RULES = Rules.default()


def anchor_of(info: CustomerInfo) -> Anchor:
    return Anchor(moment(info.first_seen, info.first_event), info.first_key)


def survivor_of(customers: Iterable[CustomerInfo]) -> CustomerInfo:
    """Of customers that join, the one with the earliest anchor keeps its id."""
    return min(customers, key=lambda c: (anchor_of(c), c.id))


def _info(cid: str, anchor: Anchor, settled: Moment) -> CustomerInfo:
    return CustomerInfo(cid, moment_ts(anchor.moment), moment_event(anchor.moment), anchor.key,
                        settled)


def _tie(a: str, b: str, first_seen: str, first_event: str, sources: Iterable[str]) -> Tie:
    kinds = set(sources)
    return Tie(a, b, moment(first_seen, first_event),
               steward=not first_event and STEWARD_SOURCE in kinds,
               matcher=kinds == {MATCHER_SOURCE})


def _settled(firsts: Mapping[str, Moment], ties: Iterable[Tie], *more: Moment) -> Moment:
    return max([*more, *firsts.values(), *(effective(t, firsts) for t in ties)], default="")


def new_events(events: Iterable[Event], seen: set[str]) -> list[Event]:
    """The events not yet stored, each once, in time order (ties: event id)."""
    unique: dict[str, Event] = {}
    for event in events:
        if event.event_id not in seen:
            unique.setdefault(event.event_id, event)
    return sorted(unique.values(), key=lambda e: (e.ts, e.event_id))


# -- the partition of a component under the rules -------------------------------------
@dataclass(frozen=True, slots=True)
class Candidate:
    """A link offered to `partition`: stored, from the batch, or both merged."""

    a: str
    b: str
    first_seen: str
    sources: tuple[str, ...]
    status: str = ACTIVE
    reason: str = ""
    first_event: str = ""  # with first_seen, the moment of the first evidence


@dataclass(slots=True)
class Partition:
    groups: list[set[str]]
    decisions: dict[Pair, tuple[str, str]]  # pair -> (status, reason)


def partition(
    nodes: Mapping[str, str],
    links: Iterable[Candidate],
    bans: Iterable[Pair],
    rules: Rules,
    inactive: Mapping[str, tuple[str, str]] | None = None,
) -> Partition:
    """Group active identifiers (`nodes`: key -> type) by accepting links strongest first,
    rejecting those that would break a per-type limit or join a banned pair."""
    inactive = inactive or {}
    uf = UnionFind(nodes)
    limited = {t for t in rules.limits}
    counts: dict[object, Counter[str]] = {
        k: Counter({t: 1}) if t in limited else Counter() for k, t in nodes.items()
    }
    bans = [b for b in bans if b[0] in nodes and b[1] in nodes]
    decisions: dict[Pair, tuple[str, str]] = {}

    def strength(c: Candidate) -> tuple[object, ...]:
        type_p, source_p = rules.link_priority(c.a, c.b, c.sources)
        return (-type_p, -source_p, c.first_seen, c.a, c.b)

    for link in sorted(links, key=strength):
        key = (link.a, link.b)
        if link.status in (REMOVED, BANNED):
            decisions[key] = (link.status, link.reason)
            continue
        stopped = next((k for k in key if k not in nodes), None)
        if stopped is not None:
            status, why = inactive.get(stopped, (BLOCKED, "not active"))
            decisions[key] = (REJECTED, f"{stopped} is {status}: {why}")
            continue
        ra, rb = uf[link.a], uf[link.b]
        if ra == rb:
            decisions[key] = (ACTIVE, "")
            continue
        joined = counts[ra] + counts[rb]
        over = next(((t, n) for t, n in sorted(joined.items()) if n > rules.limits[t]), None)
        if over is not None:
            t, n = over
            decisions[key] = (
                REJECTED,
                f"limit: at most {rules.limits[t]} {t} per customer (this link would join {n})",
            )
            continue
        ban = next((b for b in bans if {uf[b[0]], uf[b[1]]} == {ra, rb}), None)
        if ban is not None:
            decisions[key] = (REJECTED, f"ban: {ban[0]} and {ban[1]} are kept apart")
            continue
        uf.union(ra, rb)
        counts[uf[ra]] = joined
        decisions[key] = (ACTIVE, "")
    return Partition([set(g) for g in uf.to_sets()], decisions)


# -- collecting a batch -----------------------------------------------------------------
@dataclass(slots=True)
class _Sighting:
    type: str
    value: str
    first_seen: str
    last_seen: str
    first_event: str
    sources: set[str] = field(default_factory=set)

    @property
    def first(self) -> Moment:
        return moment(self.first_seen, self.first_event)


@dataclass(slots=True)
class _Evidence:
    count: int = 0
    first_seen: str = "~"
    last_seen: str = ""
    first_event: str = ""
    sources: set[str] = field(default_factory=set)
    event_ids: list[str] = field(default_factory=list)

    def saw(self, event: Event, source: str) -> None:
        self.count += 1
        if (event.ts, event.event_id) < (self.first_seen, self.first_event):
            self.first_seen, self.first_event = event.ts, event.event_id
        self.last_seen = max(self.last_seen, event.ts)
        self.sources.add(source)
        if len(self.event_ids) < SAMPLE_EVENT_IDS:
            self.event_ids.append(event.event_id)

    def tie(self, a: str, b: str) -> Tie:
        return _tie(a, b, self.first_seen, self.first_event, self.sources)


@dataclass(slots=True)
class _Batch:
    events: list[Event]
    sightings: dict[str, _Sighting]
    evidence: dict[Pair, _Evidence]
    # (record key, candidate key, event) of the links the matcher made
    matches: list[tuple[str, str, Event]] = field(default_factory=list)
    match_payloads: dict[Pair, dict[str, Any]] = field(default_factory=dict)


def _collect(batch: list[Event]) -> _Batch:
    sightings: dict[str, _Sighting] = {}
    evidence: dict[Pair, _Evidence] = defaultdict(_Evidence)
    for event in batch:
        ts = event.ts
        for ident in event.identifiers:
            s = sightings.get(ident.key)
            if s is None:
                s = sightings[ident.key] = _Sighting(ident.type, ident.value, ts, ts,
                                                     event.event_id)
            elif (ts, event.event_id) < (s.first_seen, s.first_event):
                s.first_seen, s.first_event = ts, event.event_id
            s.last_seen = max(s.last_seen, ts)
            s.sources.add(event.source)
        for a, b in combinations(sorted({i.key for i in event.identifiers}), 2):
            evidence[(a, b)].saw(event, event.source)
    return _Batch(batch, sightings, dict(evidence))


def _inactive_keys(
    batch: _Batch, snapshot: Snapshot, rules: Rules
) -> tuple[dict[str, tuple[str, str]], list[str]]:
    """Batch keys that must not link (blocked, or quarantined now or before), and the
    stored keys that this batch turns into hubs."""
    inactive: dict[str, tuple[str, str]] = {}
    new_hubs: list[str] = []
    new_neighbours: dict[str, set[str]] = defaultdict(set)
    counted = set(rules.hub_count_types)
    for a, b in batch.evidence:
        if (a, b) not in snapshot.link_status:
            if b.partition(":")[0] in counted:
                new_neighbours[a].add(b)
            if a.partition(":")[0] in counted:
                new_neighbours[b].add(a)
    for key, sighting in batch.sightings.items():
        if key in snapshot.statuses:
            inactive[key] = snapshot.statuses[key]
            continue
        rule = rules.blocked_by(Identifier(sighting.type, sighting.value))
        if rule is not None:
            inactive[key] = (BLOCKED, f"matches {rule}")
            continue
        degree = snapshot.degrees.get(key, 0) + len(new_neighbours.get(key, ()))
        limit = rules.hub_limit(sighting.type)
        if degree > limit:
            inactive[key] = (QUARANTINED, hub_reason(degree, limit))
            if key in snapshot.owners:
                new_hubs.append(key)
    return inactive, new_hubs


# -- the fast path ------------------------------------------------------------------------
@dataclass(slots=True)
class _Group:
    keys: set[str] = field(default_factory=set)
    customers: set[str] = field(default_factory=set)
    events: list[Event] = field(default_factory=list)  # in time order
    # customer -> the first event that tied it to another customer
    triggers: dict[str, Event] = field(default_factory=dict)
    # the batch's unbanned evidence between two of its keys, in the batch's order
    pairs: list[Pair] = field(default_factory=list)


def _groups(batch: _Batch, snapshot: Snapshot, inactive: Mapping[str, object]) -> list[_Group]:
    """Union the batch's active identifiers with each other and with the customers they
    already belong to, noting for each customer the event that first tied it to another."""
    uf: UnionFind[object] = UnionFind()
    customers_at: dict[object, set[str]] = {}
    triggers: dict[str, Event] = {}

    def join(x: object, y: object, event: Event) -> None:
        rx, ry = uf[x], uf[y]
        if rx == ry:
            return
        cx, cy = customers_at.pop(rx, set()), customers_at.pop(ry, set())
        if cx and cy:
            for cid in cx | cy:
                triggers.setdefault(cid, event)
        uf.union(rx, ry)
        customers_at[uf[rx]] = cx | cy

    # Each event ties its identifiers; each match ties a record to its candidate.
    units = [([i.key for i in e.identifiers if i.key not in inactive], e) for e in batch.events]
    units += [([a, b], e) for a, b, e in batch.matches if a not in inactive and b not in inactive]
    for keys, event in units:
        for key in keys:
            owner = snapshot.owners.get(key)
            if owner is not None:
                node = ("customer", owner)
                if uf[node] not in customers_at:
                    customers_at[uf[node]] = {owner}
                join(key, node, event)
        for key in keys[1:]:
            if pair(keys[0], key) not in snapshot.bans:
                join(keys[0], key, event)

    by_root: dict[object, _Group] = {}
    group_of: dict[str, _Group] = {}
    # event ids are unique in a batch (new_events): a set per group, not a list scan
    listed: dict[int, set[str]] = {}
    for keys, event in units:
        for key in keys:
            root = uf[key]
            group = by_root.get(root)
            if group is None:
                group = by_root[root] = _Group(customers=customers_at.get(root, set()))
                listed[id(group)] = set()
            group.keys.add(key)
            group_of[key] = group
            if event.event_id not in listed[id(group)]:
                listed[id(group)].add(event.event_id)
                group.events.append(event)
    for group in by_root.values():
        group.events.sort(key=lambda e: (e.ts, e.event_id))
    for group in by_root.values():
        group.triggers = {c: triggers[c] for c in group.customers if c in triggers}
    # One pass over the evidence for all groups, not one per group.
    for p in batch.evidence:
        group = group_of.get(p[0])
        if group is not None and group_of.get(p[1]) is group and p not in snapshot.bans:
            group.pairs.append(p)
    return list(by_root.values())


def _breaks_a_rule(group: _Group, snapshot: Snapshot, rules: Rules) -> bool:
    for type_, limit in rules.limits.items():
        stored = sum(snapshot.type_counts.get(c, {}).get(type_, 0) for c in group.customers)
        new = sum(1 for k in group.keys if k not in snapshot.owners and k.startswith(type_ + ":"))
        if stored + new > limit:
            return True

    def inside(key: str) -> bool:
        return key in group.keys or snapshot.ban_owners.get(key) in group.customers

    return any(inside(a) and inside(b) for a, b in snapshot.bans)


def _fast(group: _Group, snapshot: Snapshot, plan: Plan, batch: _Batch, now: str) -> str:
    """A group that breaks no rule. When all of its evidence is later than what its
    customers were settled from (the common, in-order stream), the merges it makes are
    replayed from the batch alone and added to their history; otherwise the whole
    components are read and their history replayed again."""
    infos = [snapshot.customers[c] for c in sorted(group.customers)]
    ties = [batch.evidence[p].tie(*p) for p in group.pairs]
    if _is_late(group, snapshot):
        return _late(group, infos, ties, snapshot, plan, batch, now)
    fresh = {k: batch.sightings[k].first for k in group.keys if k not in snapshot.owners}
    units = {c.id: anchor_of(c) for c in infos} | {k: Anchor(m, k) for k, m in fresh.items()}
    owned = {k: snapshot.owners[k] for k in group.keys if k in snapshot.owners}
    whole, merges = replay(units, owned, ties, fresh, {anchor_of(c): c.id for c in infos})
    assert whole is not None  # a group holds at least one key
    settled = _settled(fresh, ties, *(c.settled for c in infos))
    if not infos:
        final = whole.customer_id
        plan.new_customers.append(_info(final, whole, settled))
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


def _late_owners(events: Sequence[Event], snapshot: Snapshot) -> set[str]:
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


def _is_late(group: _Group, snapshot: Snapshot) -> bool:
    """Whether the group brings evidence older than what its customers were settled from."""
    first = moment(group.events[0].ts, group.events[0].event_id)
    return any(first <= snapshot.customers[c].settled for c in group.customers)


def _absorbed(cid: str, final: str, by_absorbed: Mapping[str, Merge], group: _Group,
              now: str) -> Merge:
    """The merge of a live customer into `final`, dated by the history when it names it."""
    found = by_absorbed.get(cid)
    if found is not None:
        return replace(found, survivor=final)
    trigger = group.triggers[cid]
    return Merge(cid, final, now, trigger.event_id,
                 f"{trigger.type} event {trigger.event_id} from {trigger.source} tied "
                 f"identifiers of {cid} to {final}")


def _late(group: _Group, infos: list[CustomerInfo], ties: list[Tie], snapshot: Snapshot,
          plan: Plan, batch: _Batch, now: str) -> str:
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
            by_pair[p] = _tie(*p, first_seen, first_event, sources)
    fallback = Merge("", "", now, first_event_of(group), "late evidence joined the customers")
    return _settle(plan, infos, firsts, list(by_pair.values()), keep_survivor=False,
                   fallback=fallback)


def first_event_of(group: _Group) -> str:
    return group.events[0].event_id if group.events else ""


def _settle(plan: Plan, infos: list[CustomerInfo], firsts: Mapping[str, Moment],
            ties: list[Tie], *, keep_survivor: bool, fallback: Merge,
            final: str | None = None) -> str:
    """Name one component (its identifiers' moments `firsts`, its accepted links `ties`),
    claimed by the old customers `infos`, and record it: its whole history replaces theirs;
    the claimant with the earliest anchor keeps its id when the component's anchor is its
    own (or always, with `keep_survivor`), else the component is named after its anchor
    (a rename); the other claimants are merged into it."""
    whole = min(Anchor(m, k) for k, m in firsts.items())
    survivor = survivor_of(infos) if infos else None
    if final is None:
        keeps = survivor is not None and (keep_survivor or anchor_of(survivor) == whole)
        final = survivor.id if keeps and survivor is not None else whole.customer_id
    if keep_survivor:
        # A steward's action counts from its moment: its merges are added to the history
        # (a split or a cut does not erase the merges that came before it).
        merges = [replace(fallback, absorbed=c.id, survivor=final,
                          reason=f"{fallback.reason}: joined {c.id} to {final}")
                  for c in sorted(infos, key=lambda c: c.id) if c.id != final]
        if merges:
            plan.history[final] = merges
    else:
        labels = {anchor_of(c): c.id for c in infos} | {whole: final}
        _, merges = component_history(firsts, ties, final, labels)
        plan.history[final] = merges
        plan.history_reset.update(c.id for c in infos)
    info = _info(final, whole, _settled(firsts, ties))
    if survivor is not None and survivor.id == final:
        plan.customer_updates[final] = info
    else:
        plan.new_customers.append(info)
    by_absorbed = {m.absorbed: m for m in merges}
    for old in infos:
        if old.id == final:
            continue
        if old is survivor:
            event_id = moment_event(whole.moment)
            plan.renames.append(Merge(
                old.id, final, moment_ts(whole.moment), event_id,
                f"earlier evidence (event {event_id}) renamed {old.id} to {final}"))
        elif old.id in by_absorbed:
            plan.merges.append(replace(by_absorbed[old.id], survivor=final))
        else:
            plan.merges.append(replace(fallback, absorbed=old.id, survivor=final,
                                       reason=f"{fallback.reason}: joined {old.id} to {final}"))
    return final


# -- the full path -----------------------------------------------------------------------
@dataclass(slots=True)
class Resolved:
    owners: dict[str, str | None]  # every key involved -> its customer (None: inactive)
    decisions: dict[Pair, tuple[str, str]]  # every link involved -> (status, reason)


def require_components(customers: set[str], snapshot: Snapshot) -> None:
    """Ask the store for the whole components of `customers` unless it gave them."""
    if not customers <= snapshot.components.keys():
        raise NeedComponents(set(customers) | set(snapshot.components))


def _gathered(
    customers: set[str], snapshot: Snapshot
) -> tuple[dict[str, StoredIdentifier], dict[Pair, StoredLink]]:
    """The stored identifiers and links of `customers` and of every customer their links
    reach (a rejected or removed link to another customer must be re-evaluated too); asks
    the store for the components it does not have yet."""
    customers = set(customers)
    while True:
        require_components(customers, snapshot)
        identifiers: dict[str, StoredIdentifier] = {}
        links: dict[Pair, StoredLink] = {}
        outside: set[str] = set()
        for cid in customers:
            component = snapshot.components[cid]
            identifiers.update(component.identifiers)
            links.update(component.links)
            for key, ident in component.neighbours.items():
                if ident.customer_id is not None and ident.customer_id not in customers:
                    outside.add(ident.customer_id)
                identifiers.setdefault(key, ident)
        if not outside:
            return identifiers, links
        customers |= outside


def resolve_components(
    customers: set[str],
    snapshot: Snapshot,
    plan: Plan,
    rules: Rules,
    now: str,
    *,
    batch: _Batch | None = None,
    inactive: Mapping[str, tuple[str, str]] | None = None,
    overrides: Mapping[Pair, Candidate] | None = None,
    extra_nodes: Iterable[str] = (),
    reason: str = "rules re-evaluated the component",
    steward: bool = False,
) -> Resolved:
    """Re-partition the stored components of `customers`, with a batch's evidence, any
    steward `overrides` of links and `extra_nodes` (a released identifier), and record the
    merges, splits and moves that follow. A `steward` action keeps a split customer's id
    with its largest part and records the split; otherwise ids follow the anchors."""
    stored, stored_links = _gathered(customers, snapshot)
    inactive = dict(inactive or {})
    extra = set(extra_nodes)
    for key, ident in stored.items():
        if ident.status != ACTIVE and key not in extra:
            inactive.setdefault(key, (ident.status, "as stored"))
    nodes = {k: k.partition(":")[0] for k in stored.keys() | extra if k not in inactive}
    candidates = {
        p: Candidate(s.a, s.b, s.first_seen, s.sources, s.status, s.reason, s.first_event)
        for p, s in stored_links.items()
    }
    if batch is not None:
        for key in batch.sightings:
            if key not in inactive:
                nodes.setdefault(key, key.partition(":")[0])
        for p, ev in batch.evidence.items():
            candidates[p] = _with_evidence(candidates.get(p), p, ev, p in snapshot.bans)
    candidates.update(overrides or {})
    bans = {b for b in snapshot.bans if b[0] in nodes and b[1] in nodes}
    result = partition(nodes, candidates.values(), bans, rules, inactive)

    for p, (status, why) in sorted(result.decisions.items()):
        before = stored_links.get(p)
        fresh = batch is not None and p in batch.evidence
        if before is not None and not fresh and (before.status, before.reason) != (status, why):
            plan.link_statuses.append(LinkStatus(p[0], p[1], status, why))
    trigger = batch.events[0].event_id if batch is not None and batch.events else ""
    ties = [_tie(*p, c.first_seen, c.first_event, c.sources) for p, c in candidates.items()
            if result.decisions.get(p, ("", ""))[0] == ACTIVE]
    owners = _assign(result.groups, stored, snapshot, plan, now,
                     Merge("", "", now, trigger, reason), batch, ties, steward)
    for key in inactive:
        if key in stored or (batch is not None and key in batch.sightings):
            owners[key] = None
    for key, ident in stored.items():
        if key in owners and ident.customer_id != owners[key]:
            plan.moves[key] = owners[key]
    return Resolved(owners, result.decisions)


def _with_evidence(stored: Candidate | None, p: Pair, ev: _Evidence, banned: bool) -> Candidate:
    if stored is None:
        return Candidate(p[0], p[1], ev.first_seen, tuple(sorted(ev.sources)),
                         BANNED if banned else ACTIVE, "", ev.first_event)
    if stored.status == BANNED:
        return stored
    first_seen, first_event = min((stored.first_seen, stored.first_event),
                                  (ev.first_seen, ev.first_event))
    return Candidate(p[0], p[1], first_seen, tuple(sorted(set(stored.sources) | ev.sources)),
                     first_event=first_event)


def _assign(
    groups: list[set[str]],
    stored: Mapping[str, StoredIdentifier],
    snapshot: Snapshot,
    plan: Plan,
    now: str,
    fallback: Merge,
    batch: _Batch | None,
    ties: list[Tie],
    steward: bool,
) -> dict[str, str | None]:
    """Give each group a customer id. An old customer claims the group holding its anchor
    (after a steward's action: the group holding most of its identifiers); a group keeps
    the id of its earliest claimant, or is named after its own anchor (see _settle); a
    group no customer claims is a new customer."""
    old_owner = {k: i.customer_id for k, i in stored.items() if i.customer_id is not None}
    ordered = sorted(groups, key=min)
    index_of = {k: n for n, group in enumerate(ordered) for k in group}
    firsts = {k: moment(i.first_seen, i.first_event) for k, i in stored.items()}
    if batch is not None:
        for key, sighting in batch.sightings.items():
            firsts[key] = min(firsts.get(key, "~"), sighting.first)
    per_customer: dict[str, Counter[int]] = defaultdict(Counter)
    for key, cid in old_owner.items():
        if key in index_of:
            per_customer[cid][index_of[key]] += 1
    claims: dict[int, list[CustomerInfo]] = defaultdict(list)
    for cid, sizes in sorted(per_customer.items()):
        info = snapshot.customers[cid]
        home = None if steward else index_of.get(info.first_key)
        if home is None or home not in sizes:
            home = min(sizes, key=lambda i: (-sizes[i], i))
        claims[home].append(info)
    ties_of: dict[int, list[Tie]] = defaultdict(list)
    for tie in ties:
        if tie.a in index_of and index_of[tie.a] == index_of.get(tie.b):
            ties_of[index_of[tie.a]].append(tie)

    owners: dict[str, str | None] = {}
    split_parts: dict[str, list[str]] = defaultdict(list)
    for index, group in enumerate(ordered):
        infos = claims.get(index, [])
        parents = sorted({old_owner[k] for k in group if k in old_owner})
        final = None
        if not infos and steward:
            seed = f"split:{parents[0]}:{now}" if parents else f"steward:{now}"
            final = customer_id_for(seed, min(group))
        gfirsts = {k: firsts.get(k, moment(now, "")) for k in group}
        final = _settle(plan, infos, gfirsts, ties_of[index], keep_survivor=steward,
                        fallback=fallback, final=final)
        if not infos:
            for parent in parents:
                split_parts[parent].append(final)
        for key in group:
            owners[key] = final
    for parent, parts in sorted(split_parts.items()):
        plan.splits.append(Split(parent, tuple(parts), now, fallback.reason))
    return owners


# -- ingest -------------------------------------------------------------------------------
def plan_ingest(
    events: Iterable[Event],
    snapshot: Snapshot,
    now: str,
    rules: Rules = DEFAULT_RULES,
    matcher: Matcher | None = None,
    pending: Sequence[PendingRecord] = (),
) -> Plan:
    """`pending`: the batch's trait-bearing records (matching.stream.pending_records),
    matched with `matcher` when there is one."""
    plan = Plan()
    batch_events = _without_suppressed(new_events(events, snapshot.seen_events), snapshot, plan)
    plan.events = batch_events
    if not batch_events:
        return plan
    # Late evidence needs whole components: ask before the costlier work below.
    require_components(_late_owners(batch_events, snapshot), snapshot)
    batch = _collect(batch_events)
    _match(batch, plan, snapshot, matcher, pending, now)
    inactive, new_hubs = _inactive_keys(batch, snapshot, rules)

    owner_of_key: dict[str, str | None] = {k: None for k in inactive}
    groups = _groups(batch, snapshot, inactive)
    hubs = {snapshot.owners[k] for k in new_hubs}
    # Ask for every component the batch will read at once: one round trip, not one a group.
    require_components(hubs | {c for g in groups if _is_late(g, snapshot) or
                               _breaks_a_rule(g, snapshot, rules) for c in g.customers},
                       snapshot)
    full_groups, fast_groups, full = _split_paths(groups, hubs, snapshot, rules)
    for group in fast_groups:
        owner = _fast(group, snapshot, plan, batch, now)
        for key in group.keys:
            owner_of_key[key] = owner
    decisions: dict[Pair, tuple[str, str]] = {}
    if full_groups or full:
        resolved = resolve_components(
            full,
            snapshot,
            plan,
            rules,
            now,
            batch=_restrict(batch, full_groups, inactive),
            inactive=inactive,
            reason="a conflict between rules re-evaluated the component",
        )
        owner_of_key.update(resolved.owners)
        decisions = resolved.decisions

    for key, (status, why) in inactive.items():
        stored = key in snapshot.owners or key in snapshot.statuses
        if stored and snapshot.statuses.get(key, (ACTIVE, ""))[0] != status:
            plan.statuses.append(StatusChange(key, status, why))
    plan.identifiers = [
        IdentifierDelta(
            key,
            s.type,
            s.value,
            s.first_seen,
            s.last_seen,
            tuple(sorted(s.sources)),
            snapshot.owners.get(key) or owner_of_key.get(key),
            *(inactive.get(key, (ACTIVE, ""))),
            first_event=s.first_event,
        )
        for key, s in sorted(batch.sightings.items())
    ]
    plan.links = [
        replace(delta, match=batch.match_payloads.get((delta.a, delta.b)))
        for delta in (
            _link_delta(p, ev, inactive, snapshot, decisions.get(p))
            for p, ev in sorted(batch.evidence.items())
        )
    ]
    plan.search_terms = sorted(
        {t for e in batch_events
         for t in terms_of([i.key for i in e.identifiers if i.key not in inactive], e.traits)}
    )
    plan.changes = changes_of(plan, snapshot.owners, now)
    return plan


def _split_paths(groups: list[_Group], full: set[str], snapshot: Snapshot, rules: Rules
                 ) -> tuple[list[_Group], list[_Group], set[str]]:
    """The groups the full path re-partitions (they break a rule, or touch a customer it
    re-partitions, including those its components reach by a rejected link), the groups
    the fast path takes, and the customers of the full path."""
    chosen = {n for n, g in enumerate(groups)
              if g.customers & full or _breaks_a_rule(g, snapshot, rules)}
    while chosen or full:
        full |= {c for n in chosen for c in groups[n].customers}
        stored, _ = _gathered(full, snapshot)
        involved = full | {i.customer_id for i in stored.values() if i.customer_id}
        more = {n for n, g in enumerate(groups) if n not in chosen and g.customers & involved}
        if not more:
            break
        chosen |= more
    return ([g for n, g in enumerate(groups) if n in chosen],
            [g for n, g in enumerate(groups) if n not in chosen], full)


def _without_suppressed(events: list[Event], snapshot: Snapshot, plan: Plan) -> list[Event]:
    """Drop erased identifiers from events, unless the event brings one back with an
    explicit new consent (privacy.brings_back). What is kept of an event no longer names
    them, and the problems name only their type."""
    if not snapshot.suppressed:
        return events
    kept = []
    for event in events:
        erased = [i for i in event.identifiers if i.key in snapshot.suppressed]
        back = {i.key for i in erased
                if brings_back(event.consent, event.ts, snapshot.suppressed[i.key])}
        plan.unsuppress += sorted(back)
        gone = [i for i in erased if i.key not in back]
        if gone:
            plan.dropped += [(event.event_id, f"{i.type}:{ERASED_MARK}", SUPPRESSED)
                             for i in gone]
            rest = tuple(i for i in event.identifiers if i not in gone)
            if not rest:
                plan.dropped.append((event.event_id, "", ALL_SUPPRESSED))
                continue
            event = _without_mentions(event, rest, gone)
        kept.append(event)
    return kept


def _without_mentions(event: Event, rest: tuple[Identifier, ...],
                      gone: list[Identifier]) -> Event:
    spellings = Spellings([identifier_known(i.key) for i in gone])
    return replace(event, identifiers=rest,
                   properties=spellings.scrub_json(event.properties, ERASED_MARK),
                   traits=spellings.scrub_json(event.traits, ERASED_MARK))


def _restrict(batch: _Batch, groups: list[_Group], inactive: Mapping[str, object]) -> _Batch:
    """The part of a batch that the full path re-partitions: the keys of its groups."""
    keys = {k for g in groups for k in g.keys}
    events = [e for e in batch.events if any(i.key in keys for i in e.identifiers)]
    return _Batch(
        events,
        {k: s for k, s in batch.sightings.items() if k in keys},
        {
            p: ev
            for p, ev in batch.evidence.items()
            if (p[0] in keys or p[0] in inactive)
            and (p[1] in keys or p[1] in inactive)
            and (p[0] in keys or p[1] in keys)
        },
    )


def _link_delta(
    p: Pair,
    ev: _Evidence,
    inactive: Mapping[str, tuple[str, str]],
    snapshot: Snapshot,
    decided: tuple[str, str] | None,
) -> LinkDelta:
    stopped = next((k for k in p if k in inactive), None)
    if decided is not None:
        status, reason = decided
    elif p in snapshot.bans:
        status, reason = BANNED, "banned by a steward"
    elif stopped is not None:
        status, reason = REJECTED, f"{stopped} is {inactive[stopped][0]}: {inactive[stopped][1]}"
    else:
        status, reason = ACTIVE, ""
    return LinkDelta(
        p[0],
        p[1],
        ev.count,
        ev.first_seen,
        ev.last_seen,
        tuple(sorted(ev.sources)),
        tuple(ev.event_ids),
        status,
        reason,
        first_event=ev.first_event,
    )


__all__ = [
    "Candidate",
    "Partition",
    "StoredLink",
    "customer_id_for",
    "partition",
    "plan_ingest",
    "resolve_components",
    "survivor_of",
]


def _match(batch: _Batch, plan: Plan, snapshot: Snapshot, matcher: Matcher | None,
           pending: Sequence[PendingRecord], now: str) -> None:
    """Match the batch's records: links join the batch's evidence as MATCHED links,
    candidates between the thresholds go to the review queue."""
    if not pending:  # most batches: no traits, and the index below would cost more
        return
    # An identifier dropped from its event (suppressed after an erasure) makes no record.
    kept = {e.event_id: {i.key for i in e.identifiers} for e in batch.events}
    records = [p for p in pending if p.key in kept.get(p.event.event_id, ())]
    plan.trait_problems = [(p.event.event_id, f"traits.{t.trait}", t.reason)
                           for p in records for t in p.problems]
    if matcher is None or not records:
        return
    step = match_batch(records, matcher, snapshot.match_buckets, snapshot.match_records,
                       snapshot.owners)
    plan.match_records = [(p.key, p.record.traits, p.blocks) for p in step.records if p.blocks]
    for match in step.matches:
        p = pair(match.a, match.b)
        if match.review:
            plan.reviews.append(ReviewItem(p[0], p[1], match.score, match.payload, now))
            continue
        batch.matches.append((match.a, match.b, match.event))
        batch.match_payloads[p] = match.payload
        batch.evidence.setdefault(p, _Evidence()).saw(match.event, MATCHER_SOURCE)
