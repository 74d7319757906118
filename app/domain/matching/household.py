"""Households and twins: records that share what kin share are judged against kin.

People who live together share an address and often a surname; twins share a surname and
a birth date. Their records agree on those traits far more often than two strangers' do,
and weighing each agreement as independent evidence (as Fellegi-Sunter does) would merge
them. So a pair is scored against the likeliest other explanation of what it shares
(`basis_of`):

- at one address (compared fuzzily: a mistyped street or postcode is still the address),
  against housemates (`Basis.HOUSEMATES`);
- with one surname (a typo allowed) and one birth date, elsewhere, against twins
  (`Basis.TWINS`);
- otherwise against strangers (the model's prior and every weight).

Against kin, the odds start from the share of one-person pairs among such pairs (`Kin`,
estimated by training), and only what kin do not share counts: the shared traits weigh
nothing. Kin have their own first names (a child named after a parent is rare) and
housemates their own birth dates, except twins (`HOUSEMATE_AGREEMENT`).

On top of that, the guard: two records at one address whose first names clearly differ
are two people when their birth dates clearly differ too (`Guard.HOUSEHOLD`: never linked,
whatever the score, and whatever their surnames say); records whose first names clearly
differ but whose surname and birth date, or address and birth date, are one, are twins
(`Guard.TWINS`: linked only when the data show that such pairs are one person, as in a
register that replaces first names).
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
    NAME_CLOSE,
    NAME_SIMILAR,
    SWAP_CLOSE,
    TEXT_CLOSE,
    Comparison,
    Traits,
)
from app.domain.matching.decisions import Basis, Guard

TWIN_TRAIT = "birth_date"
ADDRESS_TRAITS = frozenset({"street", "house_number", "address_line2", "postcode", "city",
                            "state", "country", "address"})
# What kin share: agreeing on it does not tell a person from a housemate or a twin.
SHARED_TRAITS: Mapping[Basis, frozenset[str]] = {
    Basis.STRANGERS: frozenset(),
    Basis.HOUSEMATES: ADDRESS_TRAITS | {"last_name"},
    Basis.TWINS: frozenset({"last_name", TWIN_TRAIT}),
}
# Personal traits that kin still share now and then, with how often: twins' birth dates
# (among housemates), and a child named after a parent.
HOUSEMATE_AGREEMENT = {TWIN_TRAIT: 0.02, "first_name": 0.005}
KIN = (Basis.HOUSEMATES, Basis.TWINS)
CITY_SAME = 0.8
_DIGITS = re.compile(r"\d+")


@dataclass(frozen=True, slots=True)
class Kin:
    """What training learnt about pairs that share what kin share: the share of
    one-person pairs among the pairs of each kin basis; and how often kin agree exactly
    on the traits of HOUSEMATE_AGREEMENT (kept with the model, so that it scores as it was
    trained)."""

    priors: Mapping[Basis, float] = field(default_factory=lambda: dict.fromkeys(KIN, 0.5))
    agreement: Mapping[str, float] = field(default_factory=lambda: dict(HOUSEMATE_AGREEMENT))

    def to_json(self) -> dict[str, Any]:
        return {"priors": {str(b): p for b, p in self.priors.items()},
                "agreement": dict(self.agreement)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Kin:
        priors = {Basis(b): float(p) for b, p in data.get("priors", {}).items()}
        return cls({**dict.fromkeys(KIN, 0.5), **priors},
                   {**HOUSEMATE_AGREEMENT, **data.get("agreement", {})})


def shared_by(basis: Basis, comparisons: Sequence[Comparison]) -> tuple[bool, ...]:
    return tuple(c.trait in SHARED_TRAITS[basis] for c in comparisons)


def kin_levels(u: Sequence[float], agree: float) -> tuple[float, ...]:
    """A trait's levels among kin who agree on it exactly `agree` of the time: the other
    levels as among strangers."""
    rest = 1.0 - u[EXACT]
    return (u[0], agree, *((1.0 - agree) * p / rest for p in u[2:]))


def kin_u(basis: Basis, comparisons: Sequence[Comparison], u: Sequence[Sequence[float]],
          agreement: Mapping[str, float]) -> list[tuple[float, ...] | None]:
    """The level probabilities among kin of `basis`, per comparison; None for what they
    share, which weighs nothing."""
    out: list[tuple[float, ...] | None] = []
    for comp, uk in zip(comparisons, u, strict=True):
        if comp.trait in SHARED_TRAITS[basis]:
            out.append(None)
        elif comp.trait in agreement:
            out.append(kin_levels(uk, agreement[comp.trait]))
        else:
            out.append(tuple(uk))
    return out


def kin_weights(basis: Basis, comparisons: Sequence[Comparison], m: Sequence[Sequence[float]],
                u: Sequence[Sequence[float]], agreement: Mapping[str, float]
                ) -> tuple[tuple[float, ...], ...]:
    """log2(m / u among kin) per level; 0 for what kin of `basis` share."""
    rows = []
    for mk, hk in zip(m, kin_u(basis, comparisons, u, agreement), strict=True):
        if hk is None:
            rows.append((0.0,) * len(mk))
        else:
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


def _same_surname(a: Traits, b: Traits) -> bool:
    x, y = a.get("last_name"), b.get("last_name")
    if x is None or y is None:
        return False
    return (x == y or OSA.distance(x, y, score_cutoff=1) <= 1
            or JaroWinkler.normalized_similarity(x, y) >= NAME_CLOSE)


def basis_of(a: Traits, b: Traits) -> Basis:
    if same_address(a, b):
        return Basis.HOUSEMATES
    born = a.get(TWIN_TRAIT)
    if born is not None and born == b.get(TWIN_TRAIT) and _same_surname(a, b):
        return Basis.TWINS
    return Basis.STRANGERS


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


def guard_for(a: Traits, b: Traits, basis: Basis | None = None) -> Guard | None:
    """HOUSEHOLD or TWINS when `a` and `b` look like two people of one family, else None;
    `basis` as `basis_of(a, b)` says, if the caller has it."""
    basis = basis_of(a, b) if basis is None else basis
    if basis is Basis.STRANGERS or not first_names_differ(a, b):
        return None
    born = birth_dates(a, b)
    if born == "same":
        return Guard.TWINS
    if born == "differ" and basis is Basis.HOUSEMATES:
        return Guard.HOUSEHOLD
    # A mistyped date, or none to compare: the scoring against kin decides (model.py).
    return None
