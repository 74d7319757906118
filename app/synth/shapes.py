"""Data shapes: which details records carry, how dirty they are, and how people live.

A shape is written `NAME[,key=value...]`, as in `name_dob,people=10000,typos=0.2`:
a named shape from SHAPES with some settings changed (`parse_shape`).
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from enum import StrEnum

from app.synth.people import Population


class Detail(StrEnum):
    """A group of traits a record may carry."""

    NAME = "name"  # first_name, last_name
    BIRTH_DATE = "birth_date"
    EMAIL = "email"
    PHONE = "phone"
    ADDRESS = "address"  # street, house_number, postcode, city


class Layout(StrEnum):
    """How the records come: one register (every record its own `record_id`, duplicates
    among them), or a customer-data stream of several systems (CRM, shop loyalty cards,
    web signups, app logins, anonymous visits)."""

    REGISTER = "register"
    STREAM = "stream"


class ContactsAs(StrEnum):
    """Where a record's e-mail address and phone number go."""

    IDENTIFIERS = "identifiers"
    TRAITS = "traits"


ALL_DETAILS = frozenset(Detail)


@dataclass(frozen=True, slots=True)
class Shape:
    name: str
    details: frozenset[Detail] = ALL_DETAILS
    layout: Layout = Layout.REGISTER
    people: int = 2000
    duplicates: float = 0.3  # register: share of people with more than one record
    typos: float = 0.15  # chance that a detail of a re-typed record is mistyped
    missing: float = 0.05  # chance that a detail of a record is left out
    households: float = 0.3
    twins: float = 0.1
    movers: float = 0.1
    contacts_as: ContactsAs = ContactsAs.IDENTIFIERS
    seed: int = 1

    @property
    def population(self) -> Population:
        return Population(self.households, self.twins, self.movers)

    def describe(self) -> str:
        details = "+".join(d.value for d in Detail if d in self.details)
        return (f"{self.name}: {self.layout.value} of {self.people:,} people, {details}, "
                f"duplicates {self.duplicates:.0%}, typos {self.typos:.0%}, missing "
                f"{self.missing:.0%}, households {self.households:.0%}, twins {self.twins:.0%} "
                f"of children, movers {self.movers:.0%}, seed {self.seed}")


_NAME_DOB = frozenset({Detail.NAME, Detail.BIRTH_DATE})
SHAPES: dict[str, Shape] = {
    "name_dob": Shape("name_dob", _NAME_DOB, duplicates=0.1),
    "name_email": Shape("name_email", frozenset({Detail.NAME, Detail.EMAIL})),
    "name_address": Shape("name_address", frozenset({Detail.NAME, Detail.ADDRESS})),
    "everything": Shape("everything"),
    "cdp": Shape("cdp", layout=Layout.STREAM, households=0.5),
}


def parse_shape(text: str) -> Shape:
    """`NAME[,key=value...]` -> a Shape; ValueError names what is wrong."""
    name, *settings = [part.strip() for part in text.split(",")]
    if name not in SHAPES:
        raise ValueError(f"unknown shape {name!r}; one of {', '.join(SHAPES)}")
    shape = SHAPES[name]
    known = {f.name: f.type for f in fields(Shape)} | {"details": "details"}
    for setting in settings:
        key, sep, value = setting.partition("=")
        if not sep or key not in known or key == "name":
            raise ValueError(f"{setting!r}: expected key=value with key one of "
                             f"{', '.join(k for k in known if k != 'name')}")
        shape = replace(shape, **{key: _value(key, value)})
    return shape


def _value(key: str, text: str) -> object:
    try:
        if key == "details":
            return frozenset(Detail(d) for d in text.split("+"))
        if key == "layout":
            return Layout(text)
        if key == "contacts_as":
            return ContactsAs(text)
        if key in ("people", "seed"):
            return int(text)
        share = float(text)
    except ValueError:
        raise ValueError(f"{key}: {text!r} is not a valid value") from None
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"{key}: {text!r} is not a share between 0 and 1")
    return share
