"""As of a moment: the moment itself, the part of the graph a customer could have spanned
then, and the steward actions of the audit log as steps to replay.

A customer as of T is what the events up to T, and the steward actions made up to T, make
of it (docs/resolution.md, "As of a moment"). Since ids and merge histories are a function
of the events (app/domain/history.py), loading exactly those events and replaying those
actions at their moments gives the customer, its id then and its history. What to load is
decided here: the identifiers reachable from the customer's along links whose first
evidence is at or before T. Closing over links rather than events also follows the
matcher's links, and a link kept out (rejected, removed, banned) is followed too: the
rules decide a component whole, with the links they reject.

Two kinds of identifier do not carry the closure on: one the rules block (it never links)
and a hub, linked to more distinct identifiers of people than its limit (it is quarantined,
and its links merge nothing), from before the first steward action replayed. A hub's own
events up to T are still loaded, so that it is a hub in the replay too.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import Enum, StrEnum
from typing import Any, Protocol

from app.domain.errors import DomainError
from app.domain.events import format_ts, parse_ts
from app.domain.identifiers import Identifier
from app.domain.plan import pair
from app.domain.privacy import ERASED_MARK
from app.domain.rules import Rules

# The most identifiers, and events, one as-of answer rebuilds: past them it is refused.
MAX_REGION_IDENTIFIERS = 5_000
MAX_REGION_EVENTS = 50_000
FORGET = "forget"


class AsOfErrorCode(StrEnum):
    NO_OFFSET = "NO_OFFSET"
    NOT_A_TIME = "NOT_A_TIME"
    REGION_TOO_LARGE = "REGION_TOO_LARGE"


class AsOfError(DomainError, ValueError):
    """An as-of request that cannot be answered: the argument at fault (`field`) and why
    (`reason`); the message is both."""

    code: AsOfErrorCode

    def __init__(self, code: AsOfErrorCode, field: str, reason: str, *,
                 suggestion: str = "") -> None:
        super().__init__(code, f"{field}: {reason}", suggestion=suggestion, field=field)
        self.reason = reason


class RegionTooLarge(AsOfError):
    """The part of the graph to rebuild is larger than one as-of answer may be."""

    def __init__(self, reason: str) -> None:
        super().__init__(AsOfErrorCode.REGION_TOO_LARGE, "asOf", reason,
                         suggestion="use `idgraph export --as-of` for the whole store")


def require_offset(when: datetime, name: str, given: str | None = None) -> None:
    """Refuse a time without an offset: it names no moment until someone guesses its zone."""
    if when.tzinfo is None or when.utcoffset() is None:
        iso = when.isoformat()
        raise AsOfError(AsOfErrorCode.NO_OFFSET, name, f"{given or iso} has no offset; give "
                        f"one, as in {iso}Z or {iso}+01:00")


def moment_of(when: datetime, name: str = "asOf", given: str | None = None) -> str:
    """A time with an offset, as stored text."""
    require_offset(when, name, given)
    try:
        return format_ts(when)
    except (OverflowError, ValueError):
        raise AsOfError(AsOfErrorCode.NOT_A_TIME, name,
                        f"{when.isoformat()} is not a usable time") from None


def parse_moment(text: str, name: str = "--as-of") -> str:
    """An RFC 3339 time with an offset, as stored text."""
    try:
        when = parse_ts(text.strip())
    except ValueError:
        raise AsOfError(AsOfErrorCode.NOT_A_TIME, name, f"{text!r} is not a time; give one "
                        "such as 2024-03-01T00:00:00Z") from None
    return moment_of(when, name, text.strip())


# -- the region ---------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Evidence:
    """A stored link as the closure sees it: its ends and its first evidence."""

    a: str
    b: str
    first_seen: str


@dataclass(slots=True)
class Region:
    """Identifiers whose events up to the moment are loaded; `hubs` among them do not
    carry the closure on (their events are loaded, bounded, on their own).

    A hub stops the closure only if it was a hub already at `hubs_from`, the moment of the
    first steward action to replay: an action sees the customer as it was when it was
    made, and before an identifier became a hub its links merged. The links the actions
    at `hubs_from` made (`acted`) are first evidenced at that moment too, but they come
    after that moment's events, so they do not count then."""

    until: str
    hubs_from: str = ""
    acted: frozenset[tuple[str, str]] = frozenset()
    keys: set[str] = field(default_factory=set)
    hubs: set[str] = field(default_factory=set)
    # key -> its neighbours up to the moment, each with the first evidence of their link
    neighbours: dict[str, dict[str, str]] = field(default_factory=lambda: defaultdict(dict))

    def add_links(self, links: Iterable[Evidence]) -> None:
        for link in links:
            if link.first_seen <= self.until:
                self.neighbours[link.a][link.b] = link.first_seen
                self.neighbours[link.b][link.a] = link.first_seen

    def expand(self, frontier: Iterable[str], rules: Rules, released: set[str]) -> set[str]:
        """The identifiers the frontier reaches that are new to the region (after
        add_links gave it the frontier's links). Raises RegionTooLarge past the bound."""
        new: set[str] = set()
        for key in frontier:
            near = self.neighbours.get(key, {})
            if key in released or not is_hub(key, self._before_actions(key, near), rules,
                                              self.hubs_from or self.until):
                new |= near.keys() - self.keys
            else:
                self.hubs.add(key)
        self.keys |= new
        if len(self.keys) > MAX_REGION_IDENTIFIERS:
            raise RegionTooLarge(
                f"as of {self.until} this customer's part of the graph reaches more "
                f"than {MAX_REGION_IDENTIFIERS:,} identifiers, more than one as-of answer "
                "rebuilds; a hub may be missing from the rules (docs/resolution.md), or use "
                "`idgraph export --as-of` for the whole store")
        return new

    def _before_actions(self, key: str, near: Mapping[str, str]) -> Mapping[str, str]:
        """`key`'s neighbours as the first action to replay finds them."""
        if not self.acted:
            return near
        return {n: t for n, t in near.items()
                if t != self.hubs_from or pair(key, n) not in self.acted}

    @property
    def own_keys(self) -> set[str]:
        """The identifiers whose events are loaded with the region's (not the hubs')."""
        return self.keys - self.hubs


def hub_since(key: str, neighbours: Mapping[str, str], rules: Rules) -> str | None:
    """When `key` became a hub: the first evidence of the link that took it past its limit
    of distinct identifiers of people (rules.hubs); None if it never did."""
    counted = set(rules.hub_count_types)
    times = sorted(t for n, t in neighbours.items() if n.partition(":")[0] in counted)
    limit = rules.hub_limit(key.partition(":")[0])
    return times[limit] if len(times) > limit else None


def is_hub(key: str, neighbours: Mapping[str, str], rules: Rules, at: str) -> bool:
    since = hub_since(key, neighbours, rules)
    return since is not None and since <= at


def is_blocked(key: str, rules: Rules) -> bool:
    try:
        return rules.blocked_by(Identifier.from_key(key)) is not None
    except ValueError:
        return True


# -- steward actions as steps ---------------------------------------------------------
class AuditLike(Protocol):
    """An audit entry as a store returns it (read-only: a store's records are frozen)."""

    @property
    def seq(self) -> int: ...
    @property
    def actor(self) -> str: ...
    @property
    def action(self) -> str: ...
    @property
    def reason(self) -> str: ...
    @property
    def at(self) -> str: ...
    @property
    def details(self) -> dict[str, Any]: ...
    @property
    def undo(self) -> dict[str, Any]: ...
    @property
    def undone_by(self) -> int | None: ...


class StepKind(Enum):
    """What a logged action is when replayed."""

    ACTION = "action"  # carried out again, at its moment
    UNDO = "undo"  # the undo of an earlier entry, carried out again
    ERASURE = "erasure"  # its effect is in the store already: events gone, keys suppressed
    NOT_REPLAYABLE = "not_replayable"  # names erased identifiers, or nothing to act on


@dataclass(frozen=True, slots=True)
class Step:
    """One entry of the audit log, as a step of a replay."""

    seq: int
    at: str
    actor: str
    action: str  # the entry's kind: link, unlink, merge, split, quarantine, ...
    reason: str
    kind: StepKind
    keys: tuple[str, ...] = ()
    ban: bool = False
    customers: tuple[str, ...] = ()
    undoes: int | None = None  # UNDO: the seq of the entry it undoes
    accept: bool = True  # a review: accepted (a link) or rejected (nothing to act on)
    touches: frozenset[str] = frozenset()  # every identifier key it acts on

    def order(self) -> tuple[str, int]:
        return (self.at, self.seq)

    @property
    def scrubbed(self) -> bool:
        """Whether the identifiers it needs are named only as an erasure left them."""
        needs = self.keys if self.action not in ("merge",) else tuple(self.touches)
        return any(ERASED_MARK in k for k in needs)


def steps_of(entries: Iterable[AuditLike]) -> list[Step]:
    """Every audit entry as a replay step, in moment order (at, then seq)."""
    entries = sorted(entries, key=lambda e: e.seq)
    undoes = {e.undone_by: e.seq for e in entries if e.undone_by is not None}
    steps: dict[int, Step] = {}
    for entry in entries:
        steps[entry.seq] = _step(entry, undoes.get(entry.seq), steps)
    return sorted(steps.values(), key=Step.order)


def _step(entry: AuditLike, undoes: int | None, earlier: Mapping[int, Step]) -> Step:
    details, undo = entry.details or {}, entry.undo or {}
    keys = tuple(str(k) for k in details.get("keys", ()))
    touches = set(keys) | {str(k) for k in undo.get("keys", ())}
    touches |= {str(k) for p in undo.get("pairs", ()) for k in p}
    step = Step(entry.seq, entry.at, entry.actor, entry.action, entry.reason,
                StepKind.NOT_REPLAYABLE, keys, bool(details.get("ban")),
                tuple(str(c) for c in details.get("customers", ())),
                accept=entry.action != "review" or "kind" in undo)
    if entry.action == FORGET:
        return replace(step, kind=StepKind.ERASURE)
    if undoes is not None:
        target = earlier.get(undoes)
        if target is not None:
            touches |= target.touches
        done = target is not None and target.kind in (StepKind.ACTION, StepKind.UNDO)
        return replace(step, kind=StepKind.UNDO if done else StepKind.NOT_REPLAYABLE,
                       undoes=undoes, touches=frozenset(touches))
    return replace(step, kind=StepKind.ACTION if touches else StepKind.NOT_REPLAYABLE,
                   touches=frozenset(touches))


# -- what erasures scrubbed -----------------------------------------------------------
# An erasure scrubs every spelling of the erased person's values from the audit log, in
# other people's identifiers too (a first name inside someone else's e-mail address). An
# identifier the log names that way is found again among the identifiers that are left,
# when exactly one fits; the erased person's own are gone, so they never fit.
def scrubbed_keys(steps: Iterable[Step]) -> set[str]:
    return {k for s in steps for k in s.touches if ERASED_MARK in k}


def recover(scrubbed: Iterable[str], known: Iterable[str]) -> dict[str, str]:
    """scrubbed key -> the one known key it fits (scrubbed keys that fit none, or several,
    are left out)."""
    known = list(known)
    found: dict[str, str] = {}
    for key in scrubbed:
        parts = key.split(ERASED_MARK)
        pattern = re.compile(".+?".join(re.escape(p) for p in parts), re.DOTALL)
        fits = [k for k in known if all(p in k for p in parts) and pattern.fullmatch(k)]
        if len(fits) == 1:
            found[key] = fits[0]
    return found


def with_recovered(steps: Iterable[Step], found: Mapping[str, str]) -> list[Step]:
    if not found:
        return list(steps)
    return [replace(s, keys=tuple(found.get(k, k) for k in s.keys),
                    touches=frozenset(found.get(k, k) for k in s.touches)) for s in steps]


def steps_touching(steps: Iterable[Step], keys: set[str], until: str) -> list[Step]:
    """The steps made up to `until` that act on any of `keys`."""
    return [s for s in steps if s.at <= until and s.touches & keys]


def released_keys(steps: Iterable[Step], until: str) -> set[str]:
    """Identifiers a steward released up to `until`: they link whatever their degree."""
    return {k for s in steps if s.at <= until and s.action == "release" for k in s.keys}


def links_made(steps: Iterable[Step], moment: str) -> frozenset[tuple[str, str]]:
    """The pairs the steward actions made at `moment` name: every link one of them made
    (a link, a merge, an accepted review, the undo of an unlink) is among them. A pair
    named by one that made none is among them too: a link left out of a hub's degree at
    worst lets the gathering go further, and the rebuild decides it as ever."""
    return frozenset(p for s in steps if s.at == moment and s.kind is not StepKind.ERASURE
                     and (p := link_pair(s)) is not None)


def link_pair(step: Step) -> tuple[str, str] | None:
    """The two identifiers a link-like step joins (a merge made as a link between one
    identifier of each customer), when the log names them."""
    keys = step.keys if len(step.keys) == 2 else tuple(sorted(step.touches))
    return pair(*keys) if len(keys) == 2 else None
