"""Trained models (the matcher, the next-best-action model), stored as JSON documents."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Collection
from typing import Any


class ModelPort(ABC):
    @abstractmethod
    async def load_model(self, name: str) -> dict[str, Any] | None:
        """A trained model's JSON document (the matcher: name "matcher")."""

    @abstractmethod
    async def save_model(self, name: str, body: dict[str, Any], trained_at: str) -> None: ...

    @abstractmethod
    async def match_records(self, keys: Collection[str]) -> dict[str, dict[str, str]]:
        """The cleaned traits the matcher filed under each of `keys` (identifier keys);
        keys without a record are absent."""
