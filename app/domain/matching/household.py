"""Households: records at one address are judged against housemates, not strangers.

People who live together share an address and often a surname, so their records agree on
those traits far more often than two strangers' do; weighing each agreement as if it were
independent evidence (as Fellegi-Sunter does) would merge them. So a pair of records at
one address (compared fuzzily: a mistyped street or postcode is still the address) is
scored against the other explanation of a shared address, a housemate:

- the odds start from the share of one-person pairs among the pairs at one address
  (`Housemates.prior`, estimated by training), not from the prior of two random records;
- only the traits that are personal count (first name, birth date, e-mail, phone); the
  shared ones (surname, address) are as likely for a housemate as for the person;
- housemates have their own birth date and first name, except twins and a child named
  after a parent (`Housemates.agreement`).

On top of that, the guard: two records at one address whose first names clearly differ
are two people when their birth dates clearly differ too (`Guard.HOUSEHOLD`: never linked,
whatever the score, and whatever their surnames say), and twins when their birth dates
are the same (`Guard.TWINS`: linked only when the data show that such pairs are one
person, as in a register that replaces first names).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rapidfuzz.distance import OSA, Indel, JaroWinkler

from app.domain.matching.comparisons import (
    EXACT,
    NAME_SIMILAR,
    SWAP_CLOSE,
    TEXT_CLOSE,
    Comparison,
    Traits,
)
from app.domain.matching.decisions import Guard

# Traits that members of one household share: agreeing on them does not tell a person
# from a housemate.
SHARED_TRAITS = frozenset({"last_name", "street", "house_number", "address_line2", "postcode",
                           "city", "state", "country"})
TWIN_TRAIT = "birth_date"
CITY_SAME = 0.8
_DIGITS = re.compile(r"\d+")


# Personal traits that housemates still share now and then, with how often a priori:
# twins' birth dates, and a child named after a parent.
HOUSEMATE_AGREEMENT = {TWIN_TRAIT: 0.02, "first_name": 0.005}


@dataclass(frozen=True, slots=True)
class Housemates:
    """What training learnt about pairs of records at one address: the share of
    one-person pairs among them; and how often two housemates agree exactly on the traits
    of HOUSEMATE_AGREEMENT (kept with the model, so that it scores as it was trained)."""

    prior: float = 0.5
    agreement: Mapping[str, float] = field(default_factory=lambda: dict(HOUSEMATE_AGREEMENT))

    @property
    def twins(self) -> float:
        return self.agreement[TWIN_TRAIT]

    def to_json(self) -> dict[str, Any]:
        return {"prior": self.prior, "agreement": dict(self.agreement)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Housemates:
        return cls(float(data.get("prior", 0.5)),
                   {**HOUSEMATE_AGREEMENT, **data.get("agreement", {})})


def personal(comparisons: Sequence[Comparison]) -> tuple[bool, ...]:
    return tuple(c.trait not in SHARED_TRAITS for c in comparisons)


def housemate_levels(u: Sequence[float], agree: float) -> tuple[float, ...]:
    """A personal trait's levels among housemates who agree on it exactly `agree` of the
    time: the other levels as among strangers."""
    rest = 1.0 - u[EXACT]
    return (u[0], agree, *((1.0 - agree) * p / rest for p in u[2:]))


def housemate_u(comparison: Comparison, u: Sequence[float], housemates: Housemates
                ) -> tuple[float, ...]:
    """The level probabilities of a personal trait among housemates."""
    agree = housemates.agreement.get(comparison.trait)
    return tuple(u) if agree is None else housemate_levels(u, agree)


def housemate_weights(comparisons: Sequence[Comparison], m: Sequence[Sequence[float]],
                      u: Sequence[Sequence[float]], housemates: Housemates
                      ) -> tuple[tuple[float, ...], ...]:
    """log2(m / u_housemate) per level for personal traits; 0 for shared ones."""
    rows = []
    for comp, mk, uk in zip(comparisons, m, u, strict=True):
        if comp.trait in SHARED_TRAITS:
            rows.append((0.0,) * len(mk))
            continue
        hk = housemate_u(comp, uk, housemates)
        rows.append((0.0, *(math.log2(a / b) for a, b in zip(mk[1:], hk[1:], strict=True))))
    return tuple(rows)


def _close_code(x: str | None, y: str | None) -> bool | None:
    """Equal or one edit apart; None when either is missing."""
    if x is None or y is None:
        return None
    return x == y or OSA.distance(x, y, score_cutoff=1) <= 1


def _close_text(x: str | None, y: str | None, threshold: float) -> bool | None:
    if x is None or y is None:
        return None
    x, y = x.replace(" ", ""), y.replace(" ", "")
    return x == y or Indel.normalized_similarity(x, y) >= threshold


def _close_number(x: str | None, y: str | None) -> bool | None:
    """House numbers one typo apart, or within two of each other (a slip of the finger,
    or the family next door, who are judged like housemates too)."""
    if x is None or y is None:
        return None
    if x == y or OSA.distance(x, y, score_cutoff=1) <= 1:
        return True
    dx, dy = _DIGITS.match(x), _DIGITS.match(y)
    return bool(dx and dy and abs(int(dx.group()) - int(dy.group())) <= 2)


def same_address(a: Traits, b: Traits) -> bool:
    """One street or postcode (typos allowed), and nothing that clearly differs: house
    numbers (either may be missing), streets, postcodes, towns."""
    if _close_number(a.get("house_number"), b.get("house_number")) is False:
        return False
    postcode = _close_code(a.get("postcode"), b.get("postcode"))
    street = _close_text(a.get("street"), b.get("street"), TEXT_CLOSE)
    city = _close_text(a.get("city"), b.get("city"), CITY_SAME)
    if postcode is False or street is False or city is False:
        return False
    return bool(postcode or street)


def first_names_differ(a: Traits, b: Traits) -> bool:
    """Both present and clearly not one name: not similar, not one typo apart, and not
    the other's surname (names written in each other's field)."""
    x, y = a.get("first_name"), b.get("first_name")
    if x is None or y is None:
        return False
    if JaroWinkler.normalized_similarity(x, y) >= NAME_SIMILAR:
        return False
    if OSA.distance(x, y, score_cutoff=1) <= 1:
        return False
    for name, other in ((x, b.get("last_name")), (y, a.get("last_name"))):
        if other is not None and JaroWinkler.normalized_similarity(name, other) >= SWAP_CLOSE:
            return False
    return True


def birth_dates(a: Traits, b: Traits) -> str:
    """"same", "unknown" (missing on a side), "close" (one typo apart: a digit, day and
    month exchanged, or one of month and day) or "differ"."""
    x, y = a.get(TWIN_TRAIT), b.get(TWIN_TRAIT)
    if x is None or y is None:
        return "unknown"
    if x == y:
        return "same"
    transposed = x[:4] == y[:4] and x[4:6] == y[6:] and x[6:] == y[4:6]
    same_year_one_part = x[:4] == y[:4] and (x[4:6] == y[4:6] or x[6:] == y[6:])
    if transposed or same_year_one_part or OSA.distance(x, y, score_cutoff=1) <= 1:
        return "close"
    return "differ"


def guard_for(a: Traits, b: Traits) -> Guard | None:
    """HOUSEHOLD or TWINS when `a` and `b` look like two people of one home, else None."""
    if not first_names_differ(a, b) or not same_address(a, b):
        return None
    born = birth_dates(a, b)
    if born == "same":
        return Guard.TWINS
    if born == "differ":
        return Guard.HOUSEHOLD
    # A mistyped date, or none to compare: the housemate model decides (model.py).
    return None
