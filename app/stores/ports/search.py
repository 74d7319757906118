"""Candidates for fuzzy search: the terms (names, e-mails, phone numbers) sharing a token
with the query. Ranking them is the caller's."""

from __future__ import annotations

from abc import ABC, abstractmethod


class SearchPort(ABC):
    @abstractmethod
    async def search(self, text: str, limit: int, typos: bool = False
                     ) -> list[tuple[str, str, str]]:
        """(key, customer id, term) of search terms that share a token (three characters or
        more) with `text`, best first; with `typos`, also those that hold a piece of a
        token that survives a typo in it (app/domain/search.py, typo_pieces). A store whose
        index is fuzzy anyway (Neo4j's Lucene) may search the same either way."""
