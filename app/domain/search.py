"""Search terms: the text under which an identifier's customer can be found."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

NAME_TRAITS = ("first_name", "middle_name", "last_name")


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
