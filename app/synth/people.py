"""Synthetic people: who they are, where they live, and with whom.

People live alone or in households of two to four at one address: a partner (usually with
the same surname), children (with the head's surname), now and then twins (one birth date,
two first names). Some people move house during the period (`moved_to`). E-mail
addresses and phone numbers are personal: no two people share one.
"""

from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass, replace
from datetime import date, timedelta

from app.synth.names import CITIES, EMAIL_DOMAINS, FEMALE, MALE, STREETS, SURNAMES, zipf_weights

# Offsets that give the most common names the shares they have in the Netherlands: a
# first name about 2% of its sex, a surname about 1% of everyone.
_FEMALE_W, _MALE_W = zipf_weights(len(FEMALE), 20.0), zipf_weights(len(MALE), 20.0)
_SURNAME_W = zipf_weights(len(SURNAMES), offset=30.0)
_STREET_W = zipf_weights(len(STREETS))
_CITY_W = zipf_weights(len(CITIES), offset=2.0)
HOUSEHOLD_SIZES = ((2, 5), (3, 3), (4, 2))  # (size, weight)
LATEST_BIRTH = date(2008, 12, 31)


@dataclass(frozen=True, slots=True)
class Address:
    street: str
    house_number: str
    postcode: str
    city: str

    def traits(self) -> dict[str, str]:
        return {"street": self.street, "house_number": self.house_number,
                "postcode": self.postcode, "city": self.city}


@dataclass(frozen=True, slots=True)
class Person:
    index: int
    first_name: str
    last_name: str
    gender: str  # "female" or "male"
    birth_date: str  # YYYY-MM-DD
    email: str
    phone: str  # E.164
    home: Address
    moved_to: Address | None = None
    household: int | None = None  # index of the household's first member
    twin_of: int | None = None


@dataclass(frozen=True, slots=True)
class Population:
    """How people live: the share of people in households of two or more, the chance that
    a child is one of twins, and the share of people who move house."""

    households: float = 0.3
    twins: float = 0.1
    movers: float = 0.1


def population(rng: random.Random, n: int, how: Population = Population()) -> list[Person]:
    """`n` people, household by household; `rng` makes every choice."""
    if n < 0:
        raise ValueError("n must not be negative")
    builder = _Builder(rng, how)
    # A household of mean size s is started with probability q, so that the share of
    # people in households is `how.households`: q*s / (q*s + 1 - q) = h.
    mean = sum(s * w for s, w in HOUSEHOLD_SIZES) / sum(w for _, w in HOUSEHOLD_SIZES)
    h = min(max(how.households, 0.0), 0.99)
    start_household = h / (mean - (mean - 1) * h)
    while len(builder.people) < n:
        size = 1
        if rng.random() < start_household:
            size = rng.choices([s for s, _ in HOUSEHOLD_SIZES],
                               [w for _, w in HOUSEHOLD_SIZES])[0]
        builder.household(min(size, n - len(builder.people)))
    return builder.people


class _Builder:
    def __init__(self, rng: random.Random, how: Population) -> None:
        self.rng = rng
        self.how = how
        self.people: list[Person] = []
        self.emails: set[str] = set()
        self.phones: set[str] = set()
        self.addresses: set[tuple[str, str, str]] = set()

    def household(self, size: int) -> None:
        rng = self.rng
        home = self.address()
        head = self.person(self.surname(), self.birth(1940, 2000), home, None)
        first = head.index
        if size == 1:
            self.add(head)
            return
        self.add(replace(head, household=first))
        born = date.fromisoformat(head.birth_date)
        if rng.random() < 0.75:  # a partner
            surname = head.last_name if rng.random() < 0.6 else self.surname()
            partner_born = born + timedelta(days=rng.randint(-8 * 365, 8 * 365))
            self.add(self.person(surname, partner_born.isoformat(), home, first,
                                 avoid=head.first_name))
        while self.members(first) < size:
            child_born = born + timedelta(days=rng.randint(20 * 365, 40 * 365))
            if child_born > LATEST_BIRTH:  # too young a head for a child: a sibling
                child_born = min(born + timedelta(days=rng.randint(-10 * 365, 10 * 365)),
                                 LATEST_BIRTH)
            child = self.person(head.last_name, child_born.isoformat(), home, first,
                                avoid=head.first_name)
            self.add(child)
            if rng.random() < self.how.twins and self.members(first) < size:
                self.add(self.person(head.last_name, child.birth_date, home, first,
                                     avoid=child.first_name, twin_of=child.index))

    def members(self, first: int) -> int:
        return sum(p.household == first for p in self.people[first:])

    def add(self, person: Person) -> None:
        if self.rng.random() < self.how.movers:
            person = replace(person, moved_to=self.address())
        self.people.append(person)

    def person(self, surname: str, birth_date: str, home: Address, household: int | None,
               *, avoid: str = "", twin_of: int | None = None) -> Person:
        rng = self.rng
        while True:
            gender = rng.choice(("female", "male"))
            names, weights = (FEMALE, _FEMALE_W) if gender == "female" else (MALE, _MALE_W)
            first = rng.choices(names, weights)[0]
            if first != avoid:
                break
        return Person(len(self.people), first, surname, gender, birth_date,
                      self.email(first, surname), self.phone(), home,
                      household=household, twin_of=twin_of)

    def surname(self) -> str:
        return self.rng.choices(SURNAMES, _SURNAME_W)[0]

    def birth(self, low: int, high: int) -> str:
        start = date(low, 1, 1)
        return (start + timedelta(days=self.rng.randrange((date(high, 1, 1) - start).days))
                ).isoformat()

    def address(self) -> Address:
        rng = self.rng
        while True:
            city, low, high = rng.choices(CITIES, _CITY_W)[0]
            street = rng.choices(STREETS, _STREET_W)[0]
            number = str(rng.randint(1, 250)) + rng.choice(("",) * 10 + ("a", "b", "-2"))
            if (city, street, number) not in self.addresses:
                break
        self.addresses.add((city, street, number))
        letters = "".join(rng.choices("ABCDEGHJKLMNPRTVWXZ", k=2))
        return Address(street, number, f"{rng.randint(low, high)} {letters}", city)

    def email(self, first: str, last: str) -> str:
        rng = self.rng
        f, s = _ascii(first), _ascii(last)
        while True:
            local = rng.choice((f"{f}.{s}", f"{f[0]}.{s}", f"{f}{s}",
                                f"{f}.{s}{rng.randint(1, 99)}", f"{f}{rng.randint(50, 99)}",
                                f"{f[0]}{s}{rng.randint(1, 999)}"))
            email = f"{local}@{rng.choice(EMAIL_DOMAINS)}"
            if email not in self.emails:
                self.emails.add(email)
                return email

    def phone(self) -> str:
        while True:
            phone = f"+316{self.rng.randrange(10**8):08d}"
            if phone not in self.phones:
                self.phones.add(phone)
                return phone


def _ascii(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in folded.lower() if ch.isalnum())
