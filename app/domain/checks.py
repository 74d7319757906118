"""Pending segment checks: the customers whose memberships a write may have changed.

A write records them in its own transaction, next to its change events, so that a process
that dies after the commit leaves a durable list of what still has to be re-evaluated
instead of stale memberships. Whoever evaluates a check (the writer right after its
commit, or any loader or API process later) saves the memberships, their history and
their change events and deletes the check, again in one transaction.

A customer marked by several writes before it is evaluated keeps one check: evaluated up
to the latest write (`at`), a split part from the earliest (`since`), and an absorbed
customer stays absorbed (`survivor`). The stores apply that rule when they record a mark.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class PendingCheck:
    customer_id: str
    at: str  # the latest write that touched the customer: evaluate up to here
    since: str  # the earliest write not evaluated yet
    survivor: str | None = None  # merged into this customer: leaves its segments
    split: bool = False  # a part split off: evaluated from `since`, its past not replayed
    # the inputs the writes touched (app.domain.segments.index), None: anything may have
    # changed; marks of several writes join theirs (None wins)
    inputs: frozenset[str] | None = None


def joined_inputs(a: frozenset[str] | None, b: frozenset[str] | None
                  ) -> frozenset[str] | None:
    return None if a is None or b is None else a | b


def inputs_text(inputs: frozenset[str] | None) -> str | None:
    """As a store keeps it: the keys in order, space-separated (a key has no space)."""
    return None if inputs is None else " ".join(sorted(inputs))


def inputs_of_text(text: str | None) -> frozenset[str] | None:
    return None if text is None else frozenset(text.split())
