"""Erasure use case: forget a customer on request, with a receipt (docs/privacy.md)."""

from __future__ import annotations

from dataclasses import dataclass

from app.clock import Clock, utc_now
from app.domain.changes import Change, ChangeEventKind
from app.domain.erasure import plan_erase
from app.domain.events import format_ts
from app.domain.personal import Known, known_values
from app.domain.plan import Gather, Plan, Snapshot
from app.domain.steward import StewardError, StewardErrorCode
from app.stores.base import IdentityStore
from app.stores.values import EventRecord

EVENT_PAGE = 1_000
LATEST = "9999-12-31T23:59:59.999999Z"  # after every stored event's time


@dataclass(frozen=True, slots=True)
class ErasureReceipt:
    customer_id: str
    identifiers: tuple[str, ...]  # the keys erased, for the requester's records
    events: int
    links: int
    at: str
    audit_seq: int | None
    # what the outbox publishes: the erasure, then the segment exits (the store adds
    # them, from the memberships it erases in the same transaction)
    changes: tuple[Change, ...] = ()


class PrivacyService:
    def __init__(self, store: IdentityStore, *, clock: Clock = utc_now,
                 default_region: str = "NL") -> None:
        self.store = store
        self.clock = clock
        self.default_region = default_region

    async def forget(self, customer_id: str, actor: str, reason: str) -> ErasureReceipt:
        """Erase a customer (following merges) and everything tied to its identifiers."""
        if not reason.strip():
            raise StewardError(StewardErrorCode.REASON_REQUIRED,
                               "reason: say why, for the audit log")
        current = (await self.store.current_ids([customer_id])).get(customer_id)
        if current is None:
            raise StewardError(StewardErrorCode.UNKNOWN_CUSTOMER, f"no customer {customer_id}",
                               customer_id=customer_id)
        now = format_ts(self.clock())
        personal = await self._personal_values(current)
        detached = await self._detached(current)

        def decide(snapshot: Snapshot) -> Plan:
            plan = plan_erase(current, snapshot, actor, reason, now, personal=personal,
                              detached=detached, region=self.default_region)
            plan.changes.append(Change(ChangeEventKind.CUSTOMER_ERASED, current, now, ()))
            return plan

        gather = Gather(customers=frozenset({current}), keys=detached)
        receipt = await self.store.transact(gather, decide)
        [erasure] = receipt.plan.erasures
        await self.store.purge_erased()
        return ErasureReceipt(current, erasure.keys, receipt.erased.events,
                              receipt.erased.links, now, receipt.audit_seq, receipt.changes)

    async def _detached(self, customer_id: str) -> frozenset[str]:
        """Identifiers that no customer holds (a steward quarantined them off this one)
        and that only this customer's events ever observed: its values, to erase with it.
        One that another customer's events observed too is not only its own, and stays."""
        own = {r.key for r in (await self.store.identifiers_of([customer_id])).get(
            customer_id, [])}
        events = await self._events_of(customer_id)
        observed = {i.key for e in events for i in e.identifiers} - own
        unheld = [k for k, r in (await self.store.identifiers(observed)).items()
                  if r.customer_id is None]
        mine = {e.event_id for e in events}
        found: set[str] = set()
        for key in unheld:
            seen = await self.store.events_observing([key], LATEST, len(mine) + 1)
            if {e.event_id for e in seen} <= mine:
                found.add(key)
        return frozenset(found)

    async def _events_of(self, customer_id: str) -> list[EventRecord]:
        events: list[EventRecord] = []
        while page := await self.store.timeline(customer_id, EVENT_PAGE,
                                                events[-1].cursor if events else None):
            events += page
        return events

    async def _personal_values(self, customer_id: str) -> set[Known]:
        """Every personal value any of the customer's events gave as a trait (every
        spelling the customer ever had, not only the profile's), to scrub from free text."""
        observations = (await self.store.profile_observations([customer_id])).get(
            customer_id, [])
        return {k for o in observations for k in known_values(o.traits)}
