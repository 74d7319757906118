"""PII masking for readers (frontends): what a reader sees instead of personal data.

- e-mail: first character and the domain, `j***@gmail.com`;
- phone: the last four digits, `***5678`;
- name traits: the initial, `A.`; birth date: the year; street, house number, address
  line 2 and postcode: `***`; e-mail and phone traits as above;
- free text (reasons, search terms, event properties): e-mail addresses and phone
  numbers inside it are masked as above.
Other identifier types (cookies, device ids, CRM ids) are pseudonymous keys a frontend
needs to look customers up, and are shown.
"""

from __future__ import annotations

import re
from typing import Any

HIDDEN = "***"
NAME_TRAITS = frozenset({"first_name", "middle_name", "last_name", "name", "full_name"})
HIDDEN_TRAITS = frozenset({"street", "house_number", "address_line2", "postcode", "address"})
EMAIL_TEXT = re.compile(r"[^\s@:,;<>()\[\]\"']+@[^\s@:,;<>()\[\]\"']+\.[A-Za-z]{2,}")
# International (+31 6 ...) or national (06-...) numbers; not dates, times or amounts.
PHONE_TEXT = re.compile(r"\+\d[\d \-]{6,}\d|(?<![\w.:+-])0\d[\d \-]{6,}\d(?![\w.:])")


def mask_email(value: str) -> str:
    local, at, domain = value.rpartition("@")
    if not at:
        return HIDDEN
    return f"{local[:1]}{HIDDEN}@{domain}"


def mask_phone(value: str) -> str:
    digits = re.sub(r"\D", "", value)
    return f"{HIDDEN}{digits[-4:]}" if len(digits) > 4 else HIDDEN


def mask_value(type_: str, value: str) -> str:
    if type_ == "email":
        return mask_email(value)
    if type_ == "phone":
        return mask_phone(value)
    return value


def mask_key(key: str) -> str:
    type_, _, value = key.partition(":")
    return f"{type_}:{mask_value(type_, value)}"


def mask_text(text: str) -> str:
    text = EMAIL_TEXT.sub(lambda m: mask_email(m.group()), text)
    return PHONE_TEXT.sub(lambda m: mask_phone(m.group()), text)


def mask_trait(name: str, value: Any) -> Any:
    if value is None:
        return None
    if name in NAME_TRAITS:
        return f"{str(value)[:1]}." if str(value) else value
    if name in HIDDEN_TRAITS:
        return HIDDEN
    if name == "birth_date":
        return str(value)[:4]
    if name in ("email", "phone"):
        return mask_value(name, str(value))
    return mask_json(value)


def mask_traits(traits: dict[str, Any]) -> dict[str, Any]:
    return {name: mask_trait(name, value) for name, value in traits.items()}


def mask_json(value: Any) -> Any:
    """Mask e-mail addresses and phone numbers in every string of a JSON value."""
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, dict):
        return {k: mask_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [mask_json(v) for v in value]
    return value
