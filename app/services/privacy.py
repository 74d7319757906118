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

        def decide(snapshot: Snapshot) -> Plan:
            plan = plan_erase(current, snapshot, actor, reason, now, personal=personal,
                              region=self.default_region)
            plan.changes.append(Change(ChangeEventKind.CUSTOMER_ERASED, current, now, ()))
            return plan

        receipt = await self.store.transact(Gather(customers=frozenset({current})), decide)
        [erasure] = receipt.plan.erasures
        await self.store.purge_erased()
        return ErasureReceipt(current, erasure.keys, receipt.erased.events,
                              receipt.erased.links, now, receipt.audit_seq, receipt.changes)

    async def _personal_values(self, customer_id: str) -> set[Known]:
        """Every personal value any of the customer's events gave as a trait (every
        spelling the customer ever had, not only the profile's), to scrub from free text."""
        observations = (await self.store.profile_observations([customer_id])).get(
            customer_id, [])
        return {k for o in observations for k in known_values(o.traits)}
