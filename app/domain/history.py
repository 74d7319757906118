"""Customer ids and merge history as functions of the events, never of their arrival.

Everything here is ordered by *moments*: an event's time, then its id, written as one text
`"<ts>|<event_id>"` (the timestamp is fixed-width UTC text, so text order is event-time
order). An identifier's moment is its earliest sighting; a link's is its earliest evidence
(and never before both its ends exist: a matcher can tie a record to one that arrived
later). A customer's *anchor* is the earliest (moment, key) of its identifiers, and a
customer born from events is named after its anchor. When components join, the one with
the earlier anchor keeps its id, which is exactly the id of the joined component: so
however the events are batched or ordered, the same events give the same ids.

The merge history of a customer is replayed from its accepted links in moment order: each
link that joins two parts that both existed before it (their anchors are earlier than the
link) is a merge, at the link's event time. A link that brings a part to life in the same
event (a new identifier seen with an old one) is growth, not a merge.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from app.domain.plan import Merge

Moment = str  # "<ts>|<event_id>"; "" is before every moment


def moment(ts: str, event_id: str) -> Moment:
    return f"{ts}|{event_id}"


def moment_ts(m: Moment) -> str:
    return m.partition("|")[0]


def moment_event(m: Moment) -> str:
    return m.partition("|")[2]


def customer_id_for(seed: str, seed_key: str) -> str:
    """A customer's id derives from what created it (an event and an identifier of it, or
    a steward's split), so replaying the same evidence yields the same id."""
    digest = hashlib.blake2b(f"{seed}|{seed_key}".encode(), digest_size=8)
    return "c_" + digest.hexdigest()


@dataclass(frozen=True, slots=True, order=True)
class Anchor:
    """The earliest sighting of a component: its moment, then the identifier's key."""

    moment: Moment
    key: str

    @property
    def customer_id(self) -> str:
        return customer_id_for(moment_event(self.moment), self.key)


@dataclass(frozen=True, slots=True)
class Tie:
    """An accepted link as the history sees it; `steward` when a steward made it."""

    a: str
    b: str
    moment: Moment
    steward: bool = False
    matcher: bool = False


def effective(tie: Tie, firsts: Mapping[str, Moment]) -> Moment:
    """A link counts from its first evidence, and not before both its ends were seen."""
    return max(tie.moment, firsts.get(tie.a, ""), firsts.get(tie.b, ""))


def replay(
    units: Mapping[str, Anchor],
    unit_of: Mapping[str, str],
    ties: Iterable[Tie],
    firsts: Mapping[str, Moment],
    labels: Mapping[Anchor, str],
) -> tuple[Anchor | None, list[Merge]]:
    """Join `units` (parts with their anchors; `unit_of` maps each key to its unit, keys
    not in it are their own unit) along `ties` in moment order, and return the anchor of
    the whole and the merges on the way. A part is named by `labels` (the ids customers
    actually have), else after its anchor."""
    parent: dict[str, str] = {}
    anchor: dict[str, Anchor] = dict(units)

    def find(x: str) -> str:
        root = x
        while parent.get(root, root) != root:
            root = parent[root]
        while x != root:
            parent[x], x = root, parent[x]
        return root

    def name(a: Anchor) -> str:
        return labels.get(a) or a.customer_id

    merges: list[tuple[Moment, Anchor, Anchor, Tie]] = []
    ordered = sorted(ties, key=lambda t: (effective(t, firsts), t.a, t.b))
    for tie in ordered:
        at = effective(tie, firsts)
        ends = []
        for key in (tie.a, tie.b):
            unit = unit_of.get(key, key)
            if unit not in anchor:
                anchor[unit] = Anchor(firsts.get(key, at), key)
            ends.append(find(unit))
        ra, rb = ends
        if ra == rb:
            continue
        first, second = sorted((anchor[ra], anchor[rb]))
        if second.moment < at:
            merges.append((at, second, first, tie))
        keep, drop = (ra, rb) if anchor[ra] == first else (rb, ra)
        parent[drop] = keep
    whole = min((anchor[u] for u in anchor if find(u) == u), default=None)
    return whole, [_merge(at, name(absorbed), name(survivor), tie)
                   for at, absorbed, survivor, tie in merges]


def _merge(at: Moment, absorbed: str, survivor: str, tie: Tie) -> Merge:
    event_id = moment_event(at)
    if tie.steward:
        why = f"a steward's link tied identifiers of {absorbed} to {survivor}"
    elif tie.matcher:
        why = f"the matcher tied identifiers of {absorbed} to {survivor} (event {event_id})"
    else:
        why = f"event {event_id} tied identifiers of {absorbed} to {survivor}"
    return Merge(absorbed, survivor, moment_ts(at), event_id, why)


def component_history(
    firsts: Mapping[str, Moment], ties: Iterable[Tie], final_id: str,
    labels: Mapping[Anchor, str] | None = None,
) -> tuple[Anchor, list[Merge]]:
    """The anchor and full merge history of one component: `firsts` holds its identifiers'
    moments, `ties` its accepted links."""
    units = {k: Anchor(m, k) for k, m in firsts.items()}
    whole = min(units.values())
    names = dict(labels or {})
    names[whole] = final_id
    _, merges = replay(units, {}, ties, firsts, names)
    return whole, merges
