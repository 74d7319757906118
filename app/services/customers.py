"""Customer queries: look-ups that follow merges, identifiers, timelines, exports."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass

import anyio
from rapidfuzz import fuzz

from app.domain.explain import Explanation, explain
from app.domain.identifiers import normalise
from app.domain.profile import Observation, Profile, build_profile
from app.domain.search import DEFAULT_BOUNDS, SearchBounds, search_text
from app.stores.base import IdentityStore
from app.stores.ports import SearchPort
from app.stores.values import Cursor, EventRecord, IdentifierRecord

MAX_PAGE = 100
MAX_SEARCH = 50  # search results per page
SEARCH_CANDIDATES = 500  # terms the store returns for ranking
# A best result scoring this (of 100) or more was spelled as stored: no typo to look for.
CLOSE_ENOUGH = 90.0


class CursorError(ValueError):
    """A pagination cursor that idgraph did not issue. Use pageInfo.endCursor as given."""


def encode_cursor(cursor: Cursor) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(cursor)).encode()).decode()


def decode_cursor(text: str) -> Cursor:
    try:
        ts, event_id = json.loads(base64.urlsafe_b64decode(text.encode()))
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError):
        raise CursorError(f"after: {text[:40]!r} is not a cursor this API returned") from None
    if not isinstance(ts, str) or not isinstance(event_id, str):
        raise CursorError(f"after: {text[:40]!r} is not a cursor this API returned")
    return ts, event_id


@dataclass(frozen=True, slots=True)
class TimelinePage:
    events: list[EventRecord]
    has_next: bool


def profiles_from(observations: Mapping[str, list[Observation]], customer_ids: Iterable[str]
                  ) -> dict[str, Profile]:
    """The customers' profiles from their profile observations, read already (the API reads
    them together with the customers' other fields)."""
    return {cid: build_profile(observations.get(cid, [])) for cid in customer_ids}


class CustomerService:
    def __init__(self, store: IdentityStore, *, default_region: str = "NL") -> None:
        self.store = store
        self.default_region = default_region

    async def profiles(self, customer_ids: list[str]) -> dict[str, Profile]:
        observations = await self.store.profile_observations(customer_ids)
        return profiles_from(observations, customer_ids)

    async def explain(self, type_: str, value: str) -> Explanation | None:
        """Why an identifier belongs to its customer: the path of links to the customer's
        first-seen identifier, and the links that rules or stewards keep out. None when the
        identifier is unknown; raises IdentifierError when it is not valid."""
        key = normalise(type_, value, default_region=self.default_region).key
        record = (await self.store.identifiers([key])).get(key)
        if record is None:
            return None
        if record.customer_id is None:
            return explain(key, None, [], await self.store.links_touching([key]))
        members = (await self.store.identifiers_of([record.customer_id]))[record.customer_id]
        links = await self.store.links_of(record.customer_id)
        return explain(key, record.customer_id, [(m.key, m.first_seen) for m in members], links)

    async def timeline(self, customer_id: str, first: int, after: str | None) -> TimelinePage:
        if not 0 <= first <= MAX_PAGE:
            raise ValueError(f"first: must be between 0 and {MAX_PAGE}")
        cursor = decode_cursor(after) if after else None
        rows = await self.store.timeline(customer_id, first + 1, cursor)
        return TimelinePage(rows[:first], len(rows) > first)

    async def export(
        self, page_size: int = 500
    ) -> AsyncIterator[tuple[str, list[IdentifierRecord]]]:
        after: str | None = None
        while ids := await self.store.customer_page(after, page_size):
            identifiers = await self.store.identifiers_of(ids)
            for cid in ids:
                yield cid, identifiers.get(cid, [])
            after = ids[-1]


@dataclass(frozen=True, slots=True)
class SearchHit:
    customer_id: str
    score: float
    matched: str  # the term that matched best
    key: str = ""  # the identifier the term is filed under


async def search_customers(store: SearchPort, query: str, first: int,
                           bounds: SearchBounds = DEFAULT_BOUNDS, min_score: float = 0.0
                           ) -> list[SearchHit]:
    """Fuzzy search on names, e-mails and phone numbers: the store finds candidates that
    share a trigram token (or a piece that survives a typo) with the query, rapidfuzz ranks
    them; those scoring below `min_score` (0 to 100) are left out. Raises ValueError naming
    `query` or `minScore` when it is out of bounds."""
    if not 0.0 <= min_score <= 100.0:
        raise ValueError(f"minScore: between 0 and 100, not {min_score:g}")
    text = search_text(query, bounds)
    candidates = await store.search(text, SEARCH_CANDIDATES)
    # Ranking is CPU work that grows with the text and the candidates: in a worker
    # thread, the event loop keeps answering other requests meanwhile.
    hits = await anyio.to_thread.run_sync(rank, text, candidates, first, min_score)
    if hits and hits[0].score >= CLOSE_ENOUGH:
        return hits
    # Nothing close: perhaps a typo. The pieces that survive one match many more terms,
    # so they are searched only now, not for every search.
    candidates = await store.search(text, SEARCH_CANDIDATES, typos=True)
    return await anyio.to_thread.run_sync(rank, text, candidates, first, min_score)


def rank(text: str, candidates: Iterable[tuple[str, str, str]], first: int,
         min_score: float = 0.0) -> list[SearchHit]:
    """The best `first` customers among (key, customer id, term) candidates, scoring at
    least `min_score`."""
    best: dict[str, SearchHit] = {}
    for key, cid, term in candidates:
        score = fuzz.WRatio(text, term)
        if score >= min_score and (cid not in best or score > best[cid].score):
            best[cid] = SearchHit(cid, score, term, key)
    return sorted(best.values(), key=lambda h: (-h.score, h.customer_id))[:first]
