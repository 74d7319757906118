"""Trait-bearing records: the cleaned, typed form of the traits that fuzzy matching reads.

`clean_traits` never raises on bad input. A trait of the wrong type (a number where a
name goes), an impossible birth date or an unusable value is left out of the record and
reported as a `TraitProblem`, so the caller can record why it was ignored.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from app.domain.identifiers import IdentifierError, normalise

# Traits of the v1 event contract that matching reads, by how they are cleaned.
TEXT_TRAITS = (
    "first_name",
    "middle_name",
    "last_name",
    "street",
    "address_line2",
    "city",
    "state",
    "country",
)
NAME_TRAITS = ("first_name", "middle_name", "last_name")
CODE_TRAITS = ("house_number", "postcode")
# E-mail and phone count wherever a record has them: in its traits, or as identifiers of
# its event (`with_contacts`).
CONTACT_TRAITS = ("email", "phone")
MATCH_TRAITS = (*TEXT_TRAITS, *CODE_TRAITS, "birth_date", "gender", *CONTACT_TRAITS)

MAX_TRAIT_LENGTH = 200
MIN_BIRTH_YEAR = 1880
MAX_BIRTH_YEAR = 2100
GENDERS = {
    "f": "f",
    "female": "f",
    "w": "f",
    "v": "f",
    "vrouw": "f",
    "m": "m",
    "male": "m",
    "man": "m",
    "x": "x",
    "other": "x",
    "non-binary": "x",
    "nonbinary": "x",
    "diverse": "x",
}

_NOT_WORD = re.compile(r"[^\w ]+")
_SPACES = re.compile(r"\s+")
_CODE_JUNK = re.compile(r"[\s\-./]+")
_CODE = re.compile(r"[0-9a-z]{1,12}")
_ISO_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")


@dataclass(frozen=True, slots=True)
class TraitProblem:
    """A trait left out of matching, and why."""

    trait: str
    reason: str


@dataclass(frozen=True, slots=True)
class MatchRecord:
    """The cleaned traits of one record; missing and rejected traits are absent.

    Text is lower case, without diacritics or punctuation, with single spaces (names
    without spaces). A birth date is "YYYYMMDD" (eight digits, so that comparing parts
    is slicing). Postcodes and house numbers are letters and digits only.
    """

    record_id: str
    traits: dict[str, str] = field(default_factory=dict)

    def get(self, trait: str) -> str | None:
        return self.traits.get(trait)


@dataclass(frozen=True, slots=True)
class CleanedRecord:
    record: MatchRecord
    problems: tuple[TraitProblem, ...] = ()


def fold_text(text: str) -> str:
    """Lower case, no diacritics, punctuation to spaces, whitespace collapsed."""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    # An apostrophe joins ("o'brien" is "obrien"); other punctuation separates.
    bare = bare.replace("'", "").replace("\u2019", "")
    return _SPACES.sub(" ", _NOT_WORD.sub(" ", bare.casefold()).replace("_", " ")).strip()


def _text(trait: str, value: object) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected text, got {type(value).__name__}")
    text = fold_text(value)
    if text and trait in NAME_TRAITS:
        if not any(c.isalpha() for c in text):
            raise ValueError("a name needs at least one letter")
        # "anne marie", "anne-marie" and "annemarie" are one name for matching.
        return text.replace(" ", "")
    return text


def _code(_trait: str, value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValueError(f"expected text or an integer, got {type(value).__name__}")
    text = _CODE_JUNK.sub("", fold_text(str(value)))
    if text and not _CODE.fullmatch(text):
        raise ValueError("expected up to 12 letters and digits")
    return text


def _birth_date(_trait: str, value: object) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected a YYYY-MM-DD text, got {type(value).__name__}")
    text = value.strip()
    if not text:
        return ""
    found = _ISO_DATE.fullmatch(text)
    if not found:
        raise ValueError("expected YYYY-MM-DD")
    year, month, day = (int(part) for part in found.groups())
    try:
        date(year, month, day)
    except ValueError as exc:
        raise ValueError(f"not a calendar date ({exc})") from None
    if not MIN_BIRTH_YEAR <= year < MAX_BIRTH_YEAR:
        raise ValueError(f"year outside {MIN_BIRTH_YEAR}..{MAX_BIRTH_YEAR - 1}")
    return f"{year:04d}{month:02d}{day:02d}"


def _gender(_trait: str, value: object) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected text, got {type(value).__name__}")
    text = fold_text(value)
    if text and text not in GENDERS:
        raise ValueError("not a known gender code")
    return GENDERS.get(text, "")


def _contact(trait: str, value: object) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected text, got {type(value).__name__}")
    if not value.strip():
        return ""
    try:
        return normalise(trait, value).value
    except IdentifierError as exc:
        raise ValueError(exc.reason) from None


_CLEANERS = {
    **dict.fromkeys(TEXT_TRAITS, _text),
    **dict.fromkeys(CODE_TRAITS, _code),
    "birth_date": _birth_date,
    "gender": _gender,
    **dict.fromkeys(CONTACT_TRAITS, _contact),
}


def clean_traits(record_id: str, traits: Mapping[str, Any]) -> CleanedRecord:
    """The matching record for `traits`, with every trait it had to leave out.

    Traits that matching does not read are ignored silently; None and empty text are
    missing values, not problems.
    """
    cleaned: dict[str, str] = {}
    problems: list[TraitProblem] = []
    for trait in MATCH_TRAITS:
        value = traits.get(trait)
        if value is None:
            continue
        if isinstance(value, str) and len(value) > MAX_TRAIT_LENGTH:
            problems.append(TraitProblem(trait, f"longer than {MAX_TRAIT_LENGTH} characters"))
            continue
        try:
            text = _CLEANERS[trait](trait, value)
        except ValueError as exc:
            problems.append(TraitProblem(trait, str(exc)))
            continue
        if text:
            cleaned[trait] = text
    return CleanedRecord(MatchRecord(record_id, cleaned), tuple(problems))
