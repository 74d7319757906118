"""Comparisons: how two records agree on one trait, as a discrete level.

A comparison is composed of level objects, strongest agreement first. Level 0 is always
`null` (a value is missing on either side; it carries no evidence), level 1 always
`exact`, the last level always `else`; the first level between them that holds wins. The
Fellegi-Sunter model (model.py) gives each level its own m and u probability, so levels
need not be calibrated here. A comparison of a trait that a data set lacks is always
`null` and weighs nothing: the same comparisons fit every data set.

One comparison is made of others: a move (`MoveComparison`), whether the parts of an
address all changed at once, weighed as one fact instead of three or four.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from rapidfuzz.distance import OSA, Indel, JaroWinkler

NULL = 0
EXACT = 1

# Names use Jaro-Winkler (typos late in a name cost little); free-text address lines use
# the Indel ratio (a shared "street" suffix should not make two streets look alike the way
# a shared prefix does under Jaro-Winkler).
NAME_CLOSE = 0.92
NAME_SIMILAR = 0.80
TEXT_CLOSE = 0.85
TEXT_SIMILAR = 0.70
SWAP_CLOSE = 0.92

Traits = Mapping[str, str]


class Level(Protocol):
    """One way two values can agree. `x` and `y` are the compared trait's values (both
    present), `a` and `b` the whole records (for levels that look at another trait)."""

    kind: ClassVar[str]

    @property
    def name(self) -> str: ...

    def holds(self, x: str, y: str, a: Traits, b: Traits) -> bool: ...


@dataclass(frozen=True, slots=True)
class JaroWinklerLevel:
    threshold: float
    kind: ClassVar[str] = "jaro_winkler"

    @property
    def name(self) -> str:
        return f"jw>={self.threshold}"

    def holds(self, x: str, y: str, a: Traits, b: Traits) -> bool:
        return jaro_winkler(x, y) >= self.threshold


# A comparison asks for the similarity of one pair of values at several thresholds in a
# row: the last answer of each measure is kept, as one tuple (so a thread never reads half
# of another's), matched by the identity of the two strings (so it is never stale).
_last_jw: tuple[str | None, str | None, float] = (None, None, 0.0)
_last_ratio: tuple[str | None, str | None, float] = (None, None, 0.0)


def jaro_winkler(x: str, y: str) -> float:
    global _last_jw
    last = _last_jw
    if last[0] is x and last[1] is y:
        return last[2]
    similarity = JaroWinkler.normalized_similarity(x, y)
    _last_jw = (x, y, similarity)
    return similarity


def spaceless_ratio(x: str, y: str) -> float:
    """The Indel ratio with spaces ignored ("pridhamstreet" is "pridham street")."""
    global _last_ratio
    last = _last_ratio
    if last[0] is x and last[1] is y:
        return last[2]
    bare_x, bare_y = x.replace(" ", ""), y.replace(" ", "")
    ratio = 1.0 if bare_x == bare_y else Indel.normalized_similarity(bare_x, bare_y)
    _last_ratio = (x, y, ratio)
    return ratio


@dataclass(frozen=True, slots=True)
class RatioLevel:
    """Indel ratio with spaces ignored ("pridhamstreet" is "pridham street")."""

    threshold: float
    kind: ClassVar[str] = "ratio"

    @property
    def name(self) -> str:
        return f"ratio>={self.threshold}"

    def holds(self, x: str, y: str, a: Traits, b: Traits) -> bool:
        return spaceless_ratio(x, y) >= self.threshold


@dataclass(frozen=True, slots=True)
class SwappedLevel:
    """The value sits in `other` on the other side: first and last name exchanged, or
    the two address lines."""

    other: str
    threshold: float = SWAP_CLOSE
    kind: ClassVar[str] = "swapped"

    @property
    def name(self) -> str:
        return "swapped"

    def holds(self, x: str, y: str, a: Traits, b: Traits) -> bool:
        z = b.get(self.other)
        if z is None:
            return False
        return x == z or JaroWinkler.normalized_similarity(x, z) >= self.threshold


@dataclass(frozen=True, slots=True)
class InitialLevel:
    """One side is an initial, the other a name that starts with it ("j" and "jan")."""

    kind: ClassVar[str] = "initial"

    @property
    def name(self) -> str:
        return "initial"

    def holds(self, x: str, y: str, a: Traits, b: Traits) -> bool:
        return min(len(x), len(y)) == 1 and x[0] == y[0]


@dataclass(frozen=True, slots=True)
class OneEditLevel:
    """A substitution, insertion, deletion or adjacent transposition apart."""

    kind: ClassVar[str] = "one_edit"

    @property
    def name(self) -> str:
        return "one_edit"

    def holds(self, x: str, y: str, a: Traits, b: Traits) -> bool:
        return OSA.distance(x, y, score_cutoff=1) <= 1


@dataclass(frozen=True, slots=True)
class LetterSlipLevel:
    """One letter typed wrong, left out, doubled or exchanged within a word of three
    letters or more, everything else equal: "anna.jansen@" and "anna.jamsen@"; not
    "pieter72@" and "pieter82@", "sem.vandijk@" and "semvandijk@", nor "r.bos@" and
    "j.bos@" (the addresses of two people with one surname), nor "eva.jansen@" and
    "eva.janssen@" when the records' own names are Jansen and Janssen."""

    kind: ClassVar[str] = "letter_slip"

    @property
    def name(self) -> str:
        return "letter_slip"

    def holds(self, x: str, y: str, a: Traits, b: Traits) -> bool:
        if _NOT_LETTERS.findall(x) != _NOT_LETTERS.findall(y):
            return False
        words = [(v, w) for v, w in zip(_LETTERS.findall(x), _LETTERS.findall(y),
                                         strict=False) if v != w]
        if len(words) != 1 or min(len(words[0][0]), len(words[0][1])) < 3:
            return False
        v, w = words[0]
        mine, theirs = {a.get(t) for t in _NAMES}, {b.get(t) for t in _NAMES}
        named = (v in mine and w in theirs) or (w in mine and v in theirs)
        return not named and OSA.distance(v, w, score_cutoff=1) <= 1


_NOT_LETTERS = re.compile(r"[^a-z]+")
_LETTERS = re.compile(r"[a-z]+")
_NAMES = ("first_name", "last_name")


@dataclass(frozen=True, slots=True)
class OnePartDiffersLevel:
    """Dates (YYYYMMDD) that agree on two of year, month and day."""

    kind: ClassVar[str] = "one_part_differs"

    @property
    def name(self) -> str:
        return "one_part_differs"

    def holds(self, x: str, y: str, a: Traits, b: Traits) -> bool:
        return (x[:4] == y[:4]) + (x[4:6] == y[4:6]) + (x[6:] == y[6:]) == 2


@dataclass(frozen=True, slots=True)
class DayMonthSwappedLevel:
    kind: ClassVar[str] = "day_month_transposed"

    @property
    def name(self) -> str:
        return "day_month_transposed"

    def holds(self, x: str, y: str, a: Traits, b: Traits) -> bool:
        return x[:4] == y[:4] and x[4:6] == y[6:] and x[6:] == y[4:6]


_LEVELS: dict[str, Any] = {
    cls.kind: cls
    for cls in (JaroWinklerLevel, RatioLevel, SwappedLevel, InitialLevel, OneEditLevel,
                LetterSlipLevel, OnePartDiffersLevel, DayMonthSwappedLevel)
}


def level_to_json(level: Level) -> dict[str, Any]:
    return {"kind": level.kind, **{f.name: getattr(level, f.name)
                                   for f in dataclasses.fields(level)}}  # type: ignore[arg-type]


def level_from_json(data: Mapping[str, Any]) -> Level:
    params = dict(data)
    kind = params.pop("kind")
    if kind not in _LEVELS:
        raise ValueError(f"unknown comparison level {kind!r}")
    return _LEVELS[kind](**params)


@dataclass(frozen=True, slots=True)
class Comparison:
    """null / exact / `between`, strongest first / else, for one trait."""

    trait: str
    between: tuple[Level, ...] = ()
    term_frequencies: bool = False
    levels: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        names = ("null", "exact", *(level.name for level in self.between), "else")
        object.__setattr__(self, "levels", names)

    @property
    def name(self) -> str:
        return self.trait

    @property
    def traits(self) -> tuple[str, ...]:
        """The traits it compares: a blocking rule on any of them leaves it out of EM."""
        return (self.trait,)

    @property
    def silent(self) -> tuple[int, ...]:
        """Levels that weigh nothing, because other comparisons carry their evidence."""
        return ()

    @property
    def tf_trait(self) -> str | None:
        """The trait whose value frequencies adjust the weight of an exact agreement."""
        return self.trait if self.term_frequencies else None

    def level(self, a: Traits, b: Traits) -> int:
        x = a.get(self.trait)
        if x is None:
            return NULL
        y = b.get(self.trait)
        if y is None:
            return NULL
        if x == y:
            return EXACT
        index = 2
        for level in self.between:
            if level.holds(x, y, a, b):
                return index
            index += 1
        return index

    def to_json(self) -> dict[str, Any]:
        return {"trait": self.trait, "levels": [level_to_json(lv) for lv in self.between],
                "term_frequencies": self.term_frequencies}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Comparison:
        if data.get("kind") == "move":
            return MoveComparison(data["trait"], details=tuple(data["details"]),
                                  area=tuple(data["area"]))
        return cls(data["trait"], tuple(level_from_json(lv) for lv in data["levels"]),
                   bool(data.get("term_frequencies")))


# An address's parts: the details that place a home, and the area they lie in.
ADDRESS_DETAILS = ("street", "house_number", "postcode", "address_line2")
ADDRESS_AREA = ("city", "state")
STAYED, SAME_TOWN, ELSEWHERE = 1, 2, 3


@dataclass(frozen=True, slots=True)
class MoveComparison(Comparison):
    """Whether a person moved house between two records.

    A move changes street, house number and postcode at once: weighed one by one as
    independent evidence, they would count one fact three or four times, and a person
    who moved could never match their older record, whatever else agrees. So when every
    address detail both records have differs beyond its closest level, the parts weigh
    nothing and this comparison weighs the move once: `same_town` (the town agrees) or
    `elsewhere`. Otherwise it is `stayed`, which weighs nothing (the parts carry what
    agrees, weighed as before), but counts in training, so that m and u of a move are
    shares of all pairs with an address to compare. `null` when no detail is on both
    sides.
    """

    trait: str = "address"
    details: tuple[str, ...] = ADDRESS_DETAILS
    area: tuple[str, ...] = ADDRESS_AREA

    def __post_init__(self) -> None:
        object.__setattr__(self, "levels", ("null", "stayed", "same_town", "elsewhere"))

    @property
    def traits(self) -> tuple[str, ...]:
        return (*self.details, *self.area)

    @property
    def silent(self) -> tuple[int, ...]:
        return (STAYED,)

    def level(self, a: Traits, b: Traits) -> int:
        return NULL  # from the parts' levels: Comparator.vector

    @staticmethod
    def last_levels(comparisons: Sequence[Comparison], traits: Sequence[str]
                    ) -> tuple[tuple[int, int], ...]:
        """(index, its `else` level) of the comparisons of `traits`."""
        return tuple((k, len(c.levels) - 1) for k, c in enumerate(comparisons)
                     if c.trait in traits and not isinstance(c, MoveComparison))

    @staticmethod
    def move_level(vector: Sequence[int], details: Sequence[tuple[int, int]],
                   area: Sequence[tuple[int, int]]) -> int:
        present = [(k, last) for k, last in details if vector[k] != NULL]
        if not present:
            return NULL
        if any(vector[k] != last for k, last in present):
            return STAYED
        town = any(vector[k] not in (NULL, last) for k, last in area)
        return SAME_TOWN if town else ELSEWHERE

    def to_json(self) -> dict[str, Any]:
        return {"trait": self.trait, "kind": "move", "details": list(self.details),
                "area": list(self.area)}


def name_comparison(trait: str, other: str) -> Comparison:
    """A slip of the finger ("piter") may fall below Jaro-Winkler's close threshold; it is
    still one edit, which two people's names rarely are. A first name is often written
    as an initial ("J. Jansen")."""
    initial: tuple[Level, ...] = (InitialLevel(),) if trait == "first_name" else ()
    return Comparison(trait, (JaroWinklerLevel(NAME_CLOSE), OneEditLevel(), SwappedLevel(other),
                              *initial, JaroWinklerLevel(NAME_SIMILAR)), term_frequencies=True)


def text_comparison(trait: str, other: str | None = None, *, close: float = TEXT_CLOSE,
                    similar: float = TEXT_SIMILAR, term_frequencies: bool = False) -> Comparison:
    swapped: tuple[Level, ...] = (SwappedLevel(other),) if other else ()
    return Comparison(trait, (RatioLevel(close), *swapped, RatioLevel(similar)),
                      term_frequencies)


def code_comparison(trait: str, *, term_frequencies: bool = False) -> Comparison:
    return Comparison(trait, (OneEditLevel(),), term_frequencies)


def default_comparisons() -> tuple[Comparison, ...]:
    """The comparisons for the v1 person traits, whatever a data set holds. Their order
    is the order of levels in a comparison vector and of weights in a match result."""
    return (
        name_comparison("first_name", "last_name"),
        name_comparison("last_name", "first_name"),
        Comparison("birth_date", (OnePartDiffersLevel(), DayMonthSwappedLevel(),
                                  OneEditLevel())),
        code_comparison("house_number"),
        text_comparison("street", "address_line2"),
        text_comparison("address_line2", "street"),
        text_comparison("city", close=0.90, similar=0.80, term_frequencies=True),
        code_comparison("postcode", term_frequencies=True),
        Comparison("state"),
        # Addresses are made of names ("sem.vandijk", "semvandijk", "pieter72"), so two
        # people with one name have addresses a digit or a dot apart far more often than
        # two strangers do: only a slip of a letter counts. No term frequencies: an
        # address or a number is one person's, and how often it recurs says how many
        # records that person has, not how common it is.
        Comparison("email", (LetterSlipLevel(),)),
        code_comparison("phone"),
        MoveComparison(),
    )


class Comparator:
    """Comparison vectors of `comparisons`: each comparison's level, then each move
    comparison's level from the levels of its parts."""

    __slots__ = ("comparisons", "_moves")

    def __init__(self, comparisons: Sequence[Comparison]) -> None:
        self.comparisons = tuple(comparisons)
        self._moves = tuple(
            (k, c.last_levels(self.comparisons, c.details), c.last_levels(self.comparisons, c.area))
            for k, c in enumerate(self.comparisons) if isinstance(c, MoveComparison))

    def levels(self, a: Traits, b: Traits) -> list[int]:
        """Every comparison's own level: the parts of a move as they compare."""
        levels = [c.level(a, b) for c in self.comparisons]
        for k, details, area in self._moves:
            levels[k] = MoveComparison.move_level(levels, details, area)
        return levels

    def vector(self, a: Traits, b: Traits) -> tuple[int, ...]:
        """The levels that are scored: the parts of a move null (the move weighs them)."""
        levels = self.levels(a, b)
        for k, details, area in self._moves:
            if levels[k] not in (NULL, STAYED):
                for part, _ in (*details, *area):
                    levels[part] = NULL
        return tuple(levels)

