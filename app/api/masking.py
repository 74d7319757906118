"""What a reader (a frontend) sees instead of personal data; stewards and admins see values.

A value is masked by what it is (app/domain/personal.py), not by the name of its field:
- an e-mail address, in any encoding and anywhere (a property, a JSON key, a reason, an
  identifier of any type): `j***@gmail.com`;
- a phone number, with any separators or none: `***3333`;
- the customer's own name, birth date, postcode, street and address, known from their
  traits and found in any spelling wherever they appear (event properties, reasons, the
  `why` of a segment membership): a name becomes its initial (`v.`), a birth date its
  year, an address or postcode `***`;
- a trait or property whose name says it is personal (`Last_Name`, `surname`,
  `date_of_birth`, `zip`, `mobile`, ...), nested objects too, masked as that kind.
Other identifier types (cookies, device ids, CRM ids) are pseudonymous keys a frontend
needs to look customers up, and are shown unless they hold an e-mail address or a phone
number.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from app.domain.personal import (
    EMAIL,
    Kind,
    Spellings,
    decode_email,
    find_phones,
    integer_is_phone,
    known_values,
    may_hold_email,
    spellings,
    trait_kind,
)
from app.domain.search import identifier_terms
from app.domain.segments.why import reword, reword_literals

HIDDEN = "***"
_IDENTIFIER_KINDS = {"email": Kind.EMAIL, "phone": Kind.PHONE}
COHORT_KINDS = frozenset({Kind.BIRTH_DATE, Kind.POSTCODE})
# What a steward typed as the reason for an action, after what the action itself says
# (app/domain/steward.py): "removed by sam: <typed>", "quarantined by sam: <typed>".
TYPED_REASON = re.compile(r"\b((?:removed|banned|quarantined) by [^\s:]+(?: to split \S+)?): .*",
                          re.DOTALL)
REASON_FOR_STEWARDS = "(the reason is shown to stewards)"
_YEAR = re.compile(r"(?<!\d)(\d{4})(?!\d)")


def mask_email(value: str) -> str:
    local, at, domain = decode_email(value).rpartition("@")
    if not at:
        return HIDDEN
    return f"{local[:1]}{HIDDEN}@{domain}"


def mask_phone(value: str) -> str:
    digits = re.sub(r"\D", "", value)
    return f"{HIDDEN}{digits[-4:]}" if len(digits) > 4 else HIDDEN


def mask_name(value: str) -> str:
    text = value.strip()
    return f"{text[:1]}." if text else value


def mask_kind(kind: Kind, value: str) -> str:
    match kind:
        case Kind.EMAIL:
            return mask_email(value) if "@" in decode_email(value) else HIDDEN
        case Kind.PHONE:
            return mask_phone(value)
        case Kind.NAME:
            return mask_name(value)
        case Kind.BIRTH_DATE:
            year = _YEAR.search(value)
            return year[1] if year else HIDDEN
    return HIDDEN


@dataclass(frozen=True, slots=True)
class Masker:
    """Masks values for a reader; `known` spells the values of the customer being read."""

    known: Spellings | None = None
    region: str = "NL"

    @classmethod
    def of_traits(cls, traits: Iterable[tuple[str, Any]], region: str = "NL") -> Masker:
        known = known_values(dict(traits))
        return cls(spellings(frozenset(known), region) if known else None, region)

    def text(self, text: str) -> str:
        if self.known:
            text = self.known.replace(text, mask_kind)
        if may_hold_email(text):
            text = EMAIL.sub(lambda m: mask_email(m.group()), text)
        for match in reversed(find_phones(text, self.region)):
            text = text[:match.start()] + mask_phone(match.group()) + text[match.end():]
        return text

    def json(self, value: Any, kind: Kind | None = None) -> Any:
        """Every string of a JSON value, keys included; under a key whose name says what
        it holds (`lastName`, `zip`), the values as that kind."""
        if isinstance(value, dict):
            return {self.text(str(k)): self.json(v, trait_kind(str(k)) or kind)
                    for k, v in value.items()}
        if isinstance(value, list):
            return [self.json(v, kind) for v in value]
        if isinstance(value, bool) or value is None:
            return value
        if kind is not None:
            return mask_kind(kind, str(value))
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, int) and integer_is_phone(value, self.region):
            return mask_phone(str(value))
        return value

    def match(self, payload: Any, kind: Kind | None = None) -> Any:
        """A matcher's output (`{score, probability, weights, model_version}`): its numbers
        are scores and weights of comparisons, not anyone's data, and stay numbers (a
        comparison named `birth_date` is no birth date); anything else is masked as JSON."""
        if isinstance(payload, dict):
            return {self.text(str(k)): self.match(v, trait_kind(str(k)) or kind)
                    for k, v in payload.items()}
        if isinstance(payload, list):
            return [self.match(v, kind) for v in payload]
        if isinstance(payload, int | float) and not isinstance(payload, bool):
            return payload
        return self.json(payload, kind)

    def reason(self, text: str) -> str:
        """Why a link or an identifier has its status. A steward's own words can name
        anyone, in no form a detector knows: a reader sees what was done, not why."""
        return self.text(TYPED_REASON.sub(rf"\1: {REASON_FOR_STEWARDS}", text, count=1))

    def trait(self, name: str, value: Any) -> Any:
        return self.json(value, trait_kind(name))

    def traits(self, traits: dict[str, Any]) -> dict[str, Any]:
        return self.json(traits)

    def value(self, type_: str, value: str) -> str:
        """An identifier's value: by its type, and by what it holds (an e-mail address
        in a user_id)."""
        kind = _IDENTIFIER_KINDS.get(type_) or trait_kind(type_)
        return mask_kind(kind, value) if kind is not None else self.text(value)

    def key(self, key: str) -> str:
        type_, sep, value = key.partition(":")
        return f"{type_}{sep}{self.value(type_, value)}" if sep else self.text(key)

    def why(self, line: str) -> str:
        """A segment condition and the value it saw: the value, and the values the
        condition compares with, masked as the trait they belong to; then the whole line
        as text."""
        return self.text(reword(line, self._as_trait, self._literal))

    def definition(self, text: str) -> str:
        """A segment definition: values compared with a personal trait masked as that
        trait (`trait(last_name) = "v."`), then the whole text as text."""
        return self.text(reword_literals(text, self._literal))

    def _as_trait(self, trait: str | None, value: Any) -> Any:
        return self.json(value, trait_kind(trait) if trait else None)

    def _literal(self, trait: str, value: Any) -> Any:
        """A value a definition compares a trait with: masked when it names one person (a
        name, an e-mail address, a phone or id number, a street); a birth-date threshold
        or a postcode area describes many and stays."""
        kind = trait_kind(trait)
        return value if kind in COHORT_KINDS else self.json(value, kind)

    def name(self, text: str) -> str:
        """A name as a search matched it: the initial of each word."""
        return " ".join(mask_name(w) for w in text.split())


PLAIN = Masker()


class Unmasked:
    """What a steward or an admin sees: every value as it is, through the same calls."""

    def text(self, text: str) -> str:
        return text

    def json(self, value: Any, kind: Kind | None = None) -> Any:
        return value

    def match(self, payload: Any, kind: Kind | None = None) -> Any:
        return payload

    def reason(self, text: str) -> str:
        return text

    def trait(self, name: str, value: Any) -> Any:
        return value

    def traits(self, traits: dict[str, Any]) -> dict[str, Any]:
        return traits

    def value(self, type_: str, value: str) -> str:
        return value

    def key(self, key: str) -> str:
        return key

    def why(self, line: str) -> str:
        return line

    def definition(self, text: str) -> str:
        return text

    def name(self, text: str) -> str:
        return text


UNMASKED = Unmasked()
Shown = Masker | Unmasked


def shown_match(m: Shown, key: str, term: str) -> str:
    """What a search matched: an identifier's value masked as its type, a name as its
    initials."""
    if term in identifier_terms(key):
        return m.value(key.partition(":")[0], term)
    return m.name(term)
