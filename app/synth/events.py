"""Synthetic v1 events of a shape (shapes.py), with the ground truth: who made each event.

`synth_data(shape)` draws the people (people.py) and their records from one seeded
random source, so a shape and a seed always give the same events.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from app.synth.corrupt import date_error, email_error, name_error, phone_error, typo
from app.synth.people import Address, Person, population
from app.synth.shapes import ContactsAs, Detail, Layout, Shape

Event = dict[str, Any]
START = datetime(2024, 1, 1, tzinfo=UTC)
DAYS = 180


@dataclass(frozen=True, slots=True)
class SynthData:
    shape: Shape
    people: tuple[Person, ...]
    events: list[Event]
    owner: dict[str, int]  # event_id -> Person.index

    @property
    def trait_events(self) -> list[Event]:
        return [e for e in self.events if e.get("traits")]


def synth_data(shape: Shape) -> SynthData:
    rng = random.Random(shape.seed)
    people = population(rng, shape.people, shape.population)
    writer = _Writer(rng, f"synth-{shape.name}-{shape.seed}")
    if shape.layout is Layout.REGISTER:
        _register(writer, shape, people)
    else:
        _stream(writer, shape, people)
    events, owner = writer.finish()
    return SynthData(shape, tuple(people), events, owner)


@dataclass(slots=True)
class _Writer:
    rng: random.Random
    prefix: str
    rows: list[tuple[datetime, int, int, Event]] = field(default_factory=list)
    counter: int = 0

    def emit(self, person: Person, moment: datetime, type_: str, source: str,
             identifiers: list[dict[str, str]], traits: dict[str, str] | None = None) -> None:
        body: Event = {"type": type_, "timestamp": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
                       "source": source, "identifiers": identifiers}
        if traits:
            body["traits"] = traits
        self.rows.append((moment, len(self.rows), person.index, body))

    def value(self, kind: str) -> str:
        self.counter += 1
        return f"{kind}{self.counter:07d}"

    def moment(self, low: float = 0.0, high: float = 1.0) -> datetime:
        seconds = DAYS * 86400
        return START + timedelta(seconds=self.rng.randint(int(low * seconds), int(high * seconds)))

    def finish(self) -> tuple[list[Event], dict[str, int]]:
        events, owner = [], {}
        for n, (_, _, index, body) in enumerate(sorted(self.rows, key=lambda r: r[:2])):
            event_id = f"{self.prefix}-{n:07d}"
            events.append({"event_id": event_id, **body})
            owner[event_id] = index
        return events, owner


def _id(type_: str, value: str) -> dict[str, str]:
    return {"type": type_, "value": value}


# -- what a record says about a person ---------------------------------------------------
@dataclass(frozen=True, slots=True)
class _Typing:
    """How carefully a record was typed: chances of a mistyped and of a left-out detail."""

    typos: float
    missing: float


def _details(rng: random.Random, person: Person, details: frozenset[Detail], typing: _Typing,
             address: Address) -> tuple[dict[str, str], dict[str, str]]:
    """The record's traits, and its e-mail and phone (`contacts`), as typed."""
    traits: dict[str, str] = {}
    contacts: dict[str, str] = {}

    def typed(value: str, error: Any, *, missing: float | None = None) -> str | None:
        if rng.random() < (typing.missing if missing is None else missing):
            return None
        return error(rng, value) if rng.random() < typing.typos else value

    if Detail.NAME in details:
        first = typed(person.first_name, name_error)
        last = typed(person.last_name, name_error, missing=typing.missing / 2)
        if rng.random() < typing.typos / 20:  # first and last name in each other's field
            first, last = last, first
        traits |= {k: v for k, v in (("first_name", first), ("last_name", last)) if v}
    if Detail.BIRTH_DATE in details and (born := typed(person.birth_date, date_error)):
        traits["birth_date"] = born
    if Detail.ADDRESS in details and rng.random() >= typing.missing:
        for trait, value in address.traits().items():
            error = _number_error if trait == "house_number" else typo
            if (text := typed(value, error, missing=typing.missing / 2)) is not None:
                traits[trait] = text
    if Detail.EMAIL in details and (email := typed(person.email, email_error)):
        contacts["email"] = email
    if Detail.PHONE in details and (phone := typed(person.phone, phone_error)):
        contacts["phone"] = phone
    return traits, contacts


def _number_error(rng: random.Random, number: str) -> str:
    digits = "".join(c for c in number if c.isdigit())
    slipped = str(int(digits) + rng.choice((-2, -1, 1, 2, 10)))
    return slipped if int(slipped) > 0 else digits + "1"


# -- one register ------------------------------------------------------------------------
def _register(writer: _Writer, shape: Shape, people: list[Person]) -> None:
    """Every person once, and some again (re-typed, perhaps after a move)."""
    rng = writer.rng
    clean = _Typing(0.0, shape.missing)
    retyped = _Typing(shape.typos, shape.missing)
    for person in people:
        copies = 1 + (rng.choices((1, 2, 3), (6, 3, 1))[0] if rng.random() < shape.duplicates
                      else 0)
        for copy in range(copies):
            moved = person.moved_to is not None and copy > 0 and rng.random() < 0.5
            address = person.moved_to if moved and person.moved_to else person.home
            traits, contacts = _details(rng, person, shape.details,
                                        retyped if copy else clean, address)
            identifiers = [_id("record_id", writer.value("r"))]
            if shape.contacts_as is ContactsAs.TRAITS:
                traits |= contacts
            else:
                identifiers += [_id(type_, value) for type_, value in contacts.items()]
            writer.emit(person, writer.moment(), "crm_record", "crm", identifiers, traits)


# -- a customer-data stream --------------------------------------------------------------
def _stream(writer: _Writer, shape: Shape, people: list[Person]) -> None:
    """Anonymous visits that later sign in, CRM exports, loyalty cards filled in at the
    till, app logins, and family tablets shared by the CRM customers of a household."""
    rng = writer.rng
    crm_members: dict[int, list[Person]] = {}
    for person in people:
        cookie = writer.value("GA1.1.")
        start = writer.moment(0.0, 0.6)
        for _ in range(rng.randint(1, 3)):
            writer.emit(person, start - timedelta(minutes=rng.randint(1, 600)), "page_view",
                        "web", [_id("cookie", cookie)])
        systems = _systems(rng)
        if "crm" in systems:
            _crm(writer, shape, person, start)
            if person.household is not None:
                crm_members.setdefault(person.household, []).append(person)
        if "web" in systems:
            traits, _ = _details(rng, person, shape.details & {Detail.NAME},
                                 _Typing(shape.typos / 2, shape.missing), person.home)
            writer.emit(person, start, "signup", "web",
                        [_id("cookie", cookie), _id("email", person.email)], traits)
            for _ in range(rng.randint(0, 3)):
                writer.emit(person, writer.moment(0.6, 1.0), "login", "web",
                            [_id("cookie", cookie), _id("email", person.email)])
        if "loyalty" in systems:
            _loyalty(writer, shape, person)
        if "app" in systems:
            device = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            writer.emit(person, writer.moment(0.3, 1.0), "login", "app",
                        [_id("device_id", device), _id("email", person.email)])
    for members in crm_members.values():
        if len(members) >= 2 and rng.random() < 0.5:
            tablet = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            for member in members:
                writer.emit(member, writer.moment(0.7, 1.0), "login", "app",
                            [_id("device_id", tablet), _id("email", member.email)])


def _systems(rng: random.Random) -> set[str]:
    systems = {name for name, share in (("crm", 0.5), ("web", 0.6), ("loyalty", 0.4),
                                        ("app", 0.35)) if rng.random() < share}
    if rng.random() < 0.1:
        return set()  # never identifies: cookies only
    return systems or {"web"}


def _crm(writer: _Writer, shape: Shape, person: Person, start: datetime) -> None:
    rng = writer.rng
    crm_id = writer.value("CRM-")
    addresses = [(start, person.home)]
    if person.moved_to is not None:
        addresses.append((writer.moment(0.7, 1.0), person.moved_to))
    for moment, address in addresses:
        traits, contacts = _details(rng, person, shape.details - {Detail.EMAIL},
                                    _Typing(0.0, shape.missing), address)
        identifiers = [_id("crm_id", crm_id), _id("email", person.email)]
        if shape.contacts_as is ContactsAs.TRAITS:
            traits |= contacts
        else:
            identifiers += [_id(type_, value) for type_, value in contacts.items()]
        writer.emit(person, moment, "crm_record", "crm", identifiers, traits)


def _loyalty(writer: _Writer, shape: Shape, person: Person) -> None:
    """A loyalty card filled in at the till: typed by staff, no e-mail."""
    rng = writer.rng
    card = writer.value("LOY-")
    moved = person.moved_to is not None and rng.random() < 0.5
    address = person.moved_to if moved and person.moved_to else person.home
    traits, contacts = _details(rng, person, shape.details - {Detail.EMAIL},
                                _Typing(shape.typos, shape.missing), address)
    identifiers = [_id("loyalty_id", card)]
    if contacts.get("phone") and rng.random() < 0.5:
        if shape.contacts_as is ContactsAs.TRAITS:
            traits["phone"] = contacts["phone"]
        else:
            identifiers.append(_id("phone", contacts["phone"]))
    moment = writer.moment(0.0, 0.9)
    writer.emit(person, moment, "loyalty_signup", "pos", identifiers, traits)
    for _ in range(rng.randint(0, 3)):
        writer.emit(person, writer.moment(0.0, 1.0) if rng.random() < 0.2 else
                    moment + timedelta(days=rng.randint(1, 20)), "purchase", "pos",
                    [_id("loyalty_id", card)])
