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
