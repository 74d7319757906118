"""Opening, checking and closing a store."""

from __future__ import annotations

from abc import ABC, abstractmethod


class LifecyclePort(ABC):
    url: str

    @abstractmethod
    async def migrate(self) -> list[str]:
        """Bring the store's schema up to date; return the migrations applied now."""

    @abstractmethod
    async def ping(self) -> None:
        """Raise StoreUnavailable unless the store answers."""

    @abstractmethod
    async def close(self) -> None: ...
