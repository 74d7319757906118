"""The household guard: members of one household are never merged by a fuzzy match.

Two people at one address with one surname agree on most traits, so their score can pass
the link threshold. When their first names differ and their birth dates differ as well,
they are two people, whatever the score: the pair goes to review, never to a link.
"""

from __future__ import annotations

from collections.abc import Sequence

from rapidfuzz.distance import OSA

from app.domain.matching.comparisons import NAME_CLOSE, Comparison, Traits

HOUSEHOLD = "household"
# The levels that count as "the same" first name or birth date; any other level with
# both values present counts as different, except first names one typo apart.
SAME_FIRST_NAME = frozenset({"exact", f"jw>={NAME_CLOSE}", "swapped"})
SAME_BIRTH_DATE = frozenset({"exact", "one_part_differs", "day_month_transposed", "one_edit"})
ADDRESS_TRAITS = ("street", "house_number")


def same_address(a: Traits, b: Traits) -> bool:
    """Street and house number present and equal, and postcodes equal where both have one."""
    for trait in ADDRESS_TRAITS:
        value = a.get(trait)
        if value is None or value != b.get(trait):
            return False
    pa, pb = a.get("postcode"), b.get("postcode")
    return pa is None or pb is None or pa == pb


def household_reason(
    a: Traits, b: Traits, comparisons: Sequence[Comparison], vector: Sequence[int]
) -> str | None:
    """HOUSEHOLD when `a` and `b` look like two members of one household, else None."""
    surname = a.get("last_name")
    if surname is None or surname != b.get("last_name") or not same_address(a, b):
        return None
    levels = {c.name: c.levels[level] for c, level in zip(comparisons, vector, strict=True)}
    first, born = levels.get("first_name", "null"), levels.get("birth_date", "null")
    if first == "null" or born == "null":
        return None
    if first in SAME_FIRST_NAME or born in SAME_BIRTH_DATE:
        return None
    if OSA.distance(a["first_name"], b["first_name"], score_cutoff=1) <= 1:
        return None
    return HOUSEHOLD
