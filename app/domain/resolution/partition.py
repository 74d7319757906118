"""The partition of a component under the rules: links accepted strongest first, those
that would break a per-type limit or join a banned pair rejected. A function of the set
of links, so the outcome does not depend on the order in which the evidence arrived."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from networkx.utils import UnionFind

from app.domain.plan import (
    BANNED,
    BLOCKED,
    LINKED,
    REJECTED,
    REMOVED,
    IdentifierDecision,
    LinkDecision,
    LinkFacts,
    Pair,
)
from app.domain.rules import Rules


@dataclass(slots=True)
class Partition:
    groups: list[set[str]]
    decisions: dict[Pair, LinkDecision]  # pair -> (status, reason)


def partition(
    nodes: Mapping[str, str],
    links: Iterable[LinkFacts],
    bans: Iterable[Pair],
    rules: Rules,
    inactive: Mapping[str, IdentifierDecision] | None = None,
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
    decisions: dict[Pair, LinkDecision] = {}

    def strength(c: LinkFacts) -> tuple[object, ...]:
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
            decisions[key] = (LINKED, "")
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
        decisions[key] = (LINKED, "")
    return Partition([set(g) for g in uf.to_sets()], decisions)
