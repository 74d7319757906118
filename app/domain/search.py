"""Search terms: the text under which an identifier's customer can be found, and the
bounds of a search text (its cost grows with its length and its number of words)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

NAME_TRAITS = ("first_name", "middle_name", "last_name")
MIN_SEARCH_CHARS = 3


@dataclass(frozen=True, slots=True)
class SearchBounds:
    max_chars: int = 200
    max_words: int = 10


DEFAULT_BOUNDS = SearchBounds()


def search_text(query: str, bounds: SearchBounds = DEFAULT_BOUNDS) -> str:
    """The text to search for: trimmed and lower case. Raises ValueError naming `query`
    when it is too short, too long, has too many words or holds a control character."""
    text = " ".join(query.split()).lower()
    if len(text) < MIN_SEARCH_CHARS:
        raise ValueError("query: give at least three characters")
    if len(text) > bounds.max_chars:
        raise ValueError(f"query: at most {bounds.max_chars:,} characters, not "
                         f"{len(text):,}; search for a name, an e-mail address or a phone "
                         f"number")
    if (words := text.count(" ") + 1) > bounds.max_words:
        raise ValueError(f"query: at most {bounds.max_words} words, not {words}")
    if odd := next((c for c in text if unicodedata.category(c) in ("Cc", "Cs")), None):
        what = "an unpaired surrogate" if "\ud800" <= odd <= "\udfff" else "a control character"
        raise ValueError(f"query: U+{ord(odd):04X} is {what}, not text to search for")
    return text


def identifier_terms(key: str) -> list[str]:
    type_, _, value = key.partition(":")
    if type_ == "phone":
        return [value, value.lstrip("+")]
    if type_ == "email":
        return [value]
    return [value]


def name_term(traits: Mapping[str, Any]) -> str | None:
    parts = [str(traits[n]).strip() for n in NAME_TRAITS if isinstance(traits.get(n), str)]
    name = " ".join(p for p in parts if p)
    return name.lower() or None


def terms_of(keys: Iterable[str], traits: Mapping[str, Any]) -> set[tuple[str, str]]:
    """(key, term) pairs for the identifiers of one event and the name it carries."""
    name = name_term(traits)
    found: set[tuple[str, str]] = set()
    for key in keys:
        found.update((key, term) for term in identifier_terms(key))
        if name:
            found.add((key, name))
    return found


# Words as a trigram index sees them: letters and digits, with inner dots and apostrophes.
_WORD = re.compile(r"[^\W_]+(?:[.'][^\W_]+)*")
MIN_PIECE = 4  # shorter pieces match too many terms to narrow a search down


def typo_pieces(token: str) -> list[str]:
    """Substrings of a search token of which one survives one typo anywhere in it: each
    word of the token (of an e-mail address, of its local part: a domain is shared by too
    many), and the two halves of each long word without its middle two characters. A term
    holding one of them is a candidate for ranking; the exact token is searched as well."""
    local = token.rpartition("@")[0] or token
    pieces: list[str] = []
    for word in _WORD.findall(local):
        if len(word) >= MIN_SEARCH_CHARS and word != token:
            pieces.append(word)
        # Two characters between the halves: a swap across the middle leaves one whole.
        left, right = word[:len(word) // 2 - 1], word[len(word) // 2 + 1:]
        if min(len(left), len(right)) >= MIN_PIECE:
            pieces += [left, right]
    return list(dict.fromkeys(pieces))


@dataclass(frozen=True, slots=True)
class Disambiguator:
    """What tells customers of one name apart in a result list."""

    kind: str  # "city", or the type of a contact identifier: "email", "phone"
    value: str


CONTACT_TYPES = ("email", "phone")


def disambiguator(city: object, keys: Iterable[str]) -> Disambiguator | None:
    """The customer's city, else its first e-mail address, else its first phone number."""
    if isinstance(city, str) and city.strip():
        return Disambiguator("city", city.strip())
    keys = sorted(keys)
    for type_ in CONTACT_TYPES:
        if found := next((k for k in keys if k.startswith(type_ + ":")), None):
            return Disambiguator(type_, found.partition(":")[2])
    return None
