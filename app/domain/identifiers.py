"""Identifier types, their normalisation and validation.

An identifier is the pair (type, normalised value); its `key` ("type:value") is the
node key in every store. Normalisation makes spellings of one identifier collide:
"+31 6 1234 5678", "06-12345678" and "0031612345678" are one phone number.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache

import phonenumbers
from email_validator import SPECIAL_USE_DOMAIN_NAMES, EmailNotValidError, validate_email
from email_validator.rfc_constants import EMAIL_MAX_LENGTH, LOCAL_PART_MAX_LENGTH

TYPE_PATTERN = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")
MAX_VALUE_LENGTH = 512
BUILT_IN_TYPES = ("email", "phone", "cookie", "device_id", "crm_id")


class IdentifierError(ValueError):
    """An identifier that cannot be normalised; `reason` says why."""

    def __init__(self, type_: str, value: object, reason: str) -> None:
        super().__init__(f"{type_} identifier {value!r}: {reason}")
        self.type = type_
        self.value = value
        self.reason = reason


@dataclass(frozen=True, slots=True, order=True)
class Identifier:
    type: str
    value: str
    # "type:value", made once: the ingest path asks for it many times per identifier
    key: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "key", f"{self.type}:{self.value}")

    @classmethod
    def from_key(cls, key: str) -> Identifier:
        type_, _, value = key.partition(":")
        return cls(type_, value)


# Plain ASCII addresses (almost all of them) are checked here: dot-atom local part, a
# domain of LDH labels with no "--" (no Punycode) under an alphabetic top-level domain.
# email_validator accepts exactly these when the lengths fit and the domain is not
# special-use, and normalises them to themselves; anything else goes to it.
_PLAIN_EMAIL = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@((?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63})"
)


def _plain_email(text: str) -> str | None:
    match = _PLAIN_EMAIL.fullmatch(text)
    if match is None or len(text) > EMAIL_MAX_LENGTH or "--" in (domain := match[1].lower()):
        return None
    if len(text) - len(domain) - 1 > LOCAL_PART_MAX_LENGTH:
        return None
    if any(domain == d or domain.endswith("." + d) for d in SPECIAL_USE_DOMAIN_NAMES):
        return None
    return text.lower()


def _email(raw: str, _region: str) -> str:
    text = raw.strip()
    if (plain := _plain_email(text)) is not None:
        return plain
    try:
        result = validate_email(text, check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValueError(str(exc)) from None
    return result.normalized.lower()


def _phone(raw: str, region: str) -> str:
    text = raw.strip()
    # "0031..." is the international prefix spelled out; phonenumbers reads it only
    # when the default region uses 00, so make it explicit.
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise ValueError(f"not a phone number ({exc._msg})") from None
    if not phonenumbers.is_possible_number(number):
        raise ValueError("not a possible phone number for its region")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _device_id(raw: str, _region: str) -> str:
    text = raw.strip()
    try:
        return str(uuid.UUID(text))
    except ValueError:
        pass
    if not re.fullmatch(r"[0-9A-Za-z_\-.:]+", text):
        raise ValueError("a device id is a UUID (IDFA, GAID) or letters, digits and -_.:")
    return text.lower()


def _opaque(raw: str, _region: str) -> str:
    return raw.strip()


_NORMALISERS: dict[str, Callable[[str, str], str]] = {
    "email": _email,
    "phone": _phone,
    "device_id": _device_id,
    "cookie": _opaque,
    "crm_id": _opaque,
}


def normalise(type_: object, value: object, *, default_region: str = "NL") -> Identifier:
    """Return the normalised identifier or raise IdentifierError naming the reason."""
    if isinstance(type_, str) and isinstance(value, str):
        return _normalise_text(type_, value, default_region)
    return _normalise(type_, value, default_region)


@lru_cache(maxsize=200_000)
def _normalise_text(type_: str, value: str, default_region: str) -> Identifier:
    # Streams repeat the same identifiers over and over; e-mail and phone parsing is slow.
    return _normalise(type_, value, default_region)


def clear_identifier_cache() -> None:
    _normalise_text.cache_clear()


def _normalise(type_: object, value: object, default_region: str) -> Identifier:
    if not isinstance(type_, str) or not TYPE_PATTERN.match(type_):
        raise IdentifierError(str(type_), value, "type must be lower_snake_case text")
    if not isinstance(value, str):
        raise IdentifierError(type_, value, "value must be a string")
    if len(value) > MAX_VALUE_LENGTH:
        raise IdentifierError(type_, value[:40] + "...", f"longer than {MAX_VALUE_LENGTH}")
    if not value.strip():
        raise IdentifierError(type_, value, "value is empty")
    try:
        normalised = _NORMALISERS.get(type_, _opaque)(value, default_region)
    except ValueError as exc:
        raise IdentifierError(type_, value, str(exc)) from None
    return Identifier(type_, normalised)
