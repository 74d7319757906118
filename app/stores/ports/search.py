"""Candidates for fuzzy search: the terms (names, e-mails, phone numbers) sharing a token
with the query. Ranking them is the caller's."""

from __future__ import annotations

from abc import ABC, abstractmethod


class SearchPort(ABC):
    @abstractmethod
    async def search(self, text: str, limit: int) -> list[tuple[str, str, str]]:
        """(key, customer id, term) of search terms that share a token (three characters or
        more) with `text`, best first."""
