"""Comparisons: how two records agree on one trait, as a discrete level.

Each comparison maps a pair of records to a level index. Level 0 is always `null` (a
value is missing on either side; it carries no evidence), level 1 is always `exact`,
and the last level is always `else`. The levels between are ordered from strongest to
weakest agreement; the first one that holds wins. The Fellegi-Sunter model (model.py)
gives each level its own m and u probability, so levels need not be calibrated here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from rapidfuzz.distance import OSA, Indel, JaroWinkler

NULL = 0
EXACT = 1

# Similarity thresholds. Names use Jaro-Winkler (typos late in a name cost little);
# free-text address lines use the Indel ratio (a shared "street" suffix should not make
# two streets look alike the way a shared prefix does under Jaro-Winkler).
NAME_CLOSE = 0.92
NAME_SIMILAR = 0.80
TEXT_CLOSE = 0.85
TEXT_SIMILAR = 0.70
SWAP_CLOSE = 0.92

Traits = Mapping[str, str]


@dataclass(frozen=True, slots=True)
class NameComparison:
    """exact / Jaro-Winkler >= close / swapped with `other` (first and last name
    exchanged) / Jaro-Winkler >= similar / else."""

    trait: str
    other: str | None = None
    close: float = NAME_CLOSE
    similar: float = NAME_SIMILAR

    @property
    def name(self) -> str:
        return self.trait

    @property
    def tf_trait(self) -> str | None:
        return self.trait

    @property
    def levels(self) -> tuple[str, ...]:
        swapped = ("swapped",) if self.other else ()
        return ("null", "exact", f"jw>={self.close}", *swapped, f"jw>={self.similar}", "else")

    def level(self, a: Traits, b: Traits) -> int:
        x, y = a.get(self.trait), b.get(self.trait)
        if x is None or y is None:
            return NULL
        if x == y:
            return EXACT
        sim = JaroWinkler.normalized_similarity(x, y, score_cutoff=self.similar)
        if sim >= self.close:
            return 2
        if self.other is None:
            return 3 if sim else 4
        if _swapped(a, b, self.trait, self.other):
            return 3
        return 4 if sim else 5


def _swapped(a: Traits, b: Traits, trait: str, other: str) -> bool:
    x, y = a.get(trait), b.get(other)
    if x is None or y is None:
        return False
    return x == y or JaroWinkler.normalized_similarity(x, y) >= SWAP_CLOSE


@dataclass(frozen=True, slots=True)
class TextComparison:
    """exact / Indel ratio >= close / swapped with `other` / Indel ratio >= similar / else.

    For address lines and places. Spaces are ignored ("pridhamstreet" is "pridham street").
    """

    trait: str
    other: str | None = None
    close: float = TEXT_CLOSE
    similar: float = TEXT_SIMILAR
    term_frequencies: bool = False

    @property
    def name(self) -> str:
        return self.trait

    @property
    def tf_trait(self) -> str | None:
        return self.trait if self.term_frequencies else None

    @property
    def levels(self) -> tuple[str, ...]:
        swapped = ("swapped",) if self.other else ()
        return ("null", "exact", f"ratio>={self.close}", *swapped, f"ratio>={self.similar}", "else")

    def level(self, a: Traits, b: Traits) -> int:
        x, y = a.get(self.trait), b.get(self.trait)
        if x is None or y is None:
            return NULL
        if x == y:
            return EXACT
        x, y = x.replace(" ", ""), y.replace(" ", "")
        sim = Indel.normalized_similarity(x, y, score_cutoff=self.similar)
        if x == y or sim >= self.close:
            return 2
        if self.other is None:
            return 3 if sim else 4
        if _swapped(a, b, self.trait, self.other):
            return 3
        return 4 if sim else 5


@dataclass(frozen=True, slots=True)
class CodeComparison:
    """exact / one edit (a substitution, insertion, deletion or adjacent transposition) /
    else. For postcodes and house numbers."""

    trait: str
    term_frequencies: bool = False

    @property
    def name(self) -> str:
        return self.trait

    @property
    def tf_trait(self) -> str | None:
        return self.trait if self.term_frequencies else None

    @property
    def levels(self) -> tuple[str, ...]:
        return ("null", "exact", "one_edit", "else")

    def level(self, a: Traits, b: Traits) -> int:
        x, y = a.get(self.trait), b.get(self.trait)
        if x is None or y is None:
            return NULL
        if x == y:
            return EXACT
        return 2 if OSA.distance(x, y, score_cutoff=1) <= 1 else 3


@dataclass(frozen=True, slots=True)
class DateComparison:
    """exact / one of year, month, day differs / day and month transposed / one edit
    (e.g. adjacent digits swapped across a part boundary) / else. Dates are YYYYMMDD."""

    trait: str

    @property
    def name(self) -> str:
        return self.trait

    @property
    def tf_trait(self) -> str | None:
        return None

    @property
    def levels(self) -> tuple[str, ...]:
        return ("null", "exact", "one_part_differs", "day_month_transposed", "one_edit", "else")

    def level(self, a: Traits, b: Traits) -> int:
        x, y = a.get(self.trait), b.get(self.trait)
        if x is None or y is None:
            return NULL
        if x == y:
            return EXACT
        same = (x[:4] == y[:4]) + (x[4:6] == y[4:6]) + (x[6:] == y[6:])
        if same == 2:
            return 2
        if x[:4] == y[:4] and x[4:6] == y[6:] and x[6:] == y[4:6]:
            return 3
        if OSA.distance(x, y, score_cutoff=1) <= 1:
            return 4
        return 5


@dataclass(frozen=True, slots=True)
class ExactComparison:
    """exact / else. For state, country, gender."""

    trait: str

    @property
    def name(self) -> str:
        return self.trait

    @property
    def tf_trait(self) -> str | None:
        return None

    @property
    def levels(self) -> tuple[str, ...]:
        return ("null", "exact", "else")

    def level(self, a: Traits, b: Traits) -> int:
        x, y = a.get(self.trait), b.get(self.trait)
        if x is None or y is None:
            return NULL
        return EXACT if x == y else 2


Comparison = NameComparison | TextComparison | CodeComparison | DateComparison | ExactComparison


def default_comparisons() -> tuple[Comparison, ...]:
    """The comparisons for the v1 person traits. Their order is the order of levels in a
    comparison vector and of weights in a match result."""
    return (
        NameComparison("first_name", other="last_name"),
        NameComparison("last_name", other="first_name"),
        DateComparison("birth_date"),
        CodeComparison("house_number"),
        TextComparison("street", other="address_line2"),
        TextComparison("address_line2", other="street"),
        TextComparison("city", close=0.90, similar=0.80, term_frequencies=True),
        CodeComparison("postcode", term_frequencies=True),
        ExactComparison("state"),
    )


def comparison_vector(comparisons: tuple[Comparison, ...], a: Traits, b: Traits) -> tuple[int, ...]:
    return tuple(c.level(a, b) for c in comparisons)
