"""The audit log of steward actions (written by `transact`, with the action)."""

from __future__ import annotations

from abc import ABC, abstractmethod

from app.stores.values import AuditRecord


class AuditPort(ABC):
    @abstractmethod
    async def audit_log(self, first: int, before: int | None) -> list[AuditRecord]:
        """Steward actions, newest first, with seq below `before`."""

    @abstractmethod
    async def audit_count(self) -> int:
        """How many entries the audit log holds."""

    @abstractmethod
    async def audit_entry(self, seq: int) -> AuditRecord | None: ...
