"""Trained models (the matcher, the next-best-action model), stored as JSON documents."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any


class ModelPort(ABC):
    @abstractmethod
    async def load_model(self, name: str) -> dict[str, Any] | None:
        """A trained model's JSON document (the matcher: name "matcher")."""

    @abstractmethod
    async def save_model(self, name: str, body: dict[str, Any], trained_at: str) -> None: ...
