"""Synthetic customer data: a demo data set with a story, and a fast stream for benchmarks.

The demo (`demo_events`) follows the customers of a Dutch fashion retailer, online and on
the high street, over one quarter. Everything a person exploring the graph should find is
in it on purpose:

* Every visitor starts anonymous: a first-party cookie collects ad impressions and clicks
  (with campaign names) and page views.
* "online" customers later sign up on the website; "store" customers are already in the
  CRM (a nightly `crm_record` export with crm_id, e-mail, phone, loyalty card and full
  name, birth date and address) and log in on the website. The signup or login carries
  the cookie and the e-mail in one event: that is what ties the anonymous history to a
  known person.
* Known people install the app on one or two devices (`device_id` UUIDs, iOS ones written
  in upper case) and log in there with their e-mail; they buy on the web, in the app and
  in the shops (`pos`, with the loyalty card or an e-receipt e-mail); they open and click
  newsletters; they call customer service (`call` with the caller's phone number, and the
  crm_id when the agent verified the caller) and chat with the chatbot (`chat_message`
  with the cookie, sometimes the e-mail typed in the chat).
* One phone number is spelled the way each system writes it ("+31 6 1234 5678" in the CRM,
  "0031612345678" from the telephony platform, "06-12345678" in a web form), so only
  normalisation makes them one identifier. A few people have Belgian or German numbers.
* Realistic mess: e-mails typed in upper or mixed case, or with spaces around them; some
  people clear their cookies half-way (the next login ties the new cookie); some people
  never identify themselves and stay anonymous (cookies only).
* Households: two people at one address with the same surname, with their own e-mails,
  phones, crm ids, cookies and devices. They share no identifier, so a correct identity
  graph keeps them apart even though their traits look alike.
* Fuzzy duplicates: some store customers fill in a loyalty card at the till. Staff type
  the name, birth date and address, with the typos of app/synth/corrupt.py, and no e-mail:
  only the fuzzy matcher (trained by `idgraph demo`) can tell that the card and the CRM
  customer are one person; then their purchases with the card join the customer. When
  there is a queue, staff write an initial and a street only: too little to be sure, so
  the matcher leaves those cards apart or asks a steward (the review queue).
* A hub and a junk value, shared on purpose (`DemoData.shared`): the shop's own loyalty
  card, which cashiers scan for customers who forgot theirs (with the e-mail for the
  e-receipt), and "test@test.com", typed into the chat by a few anonymous visitors. The
  rules quarantine the first as a hub and block the second, so neither merges anyone.

`demo_data` returns the events together with the ground truth (`DemoPerson`, and which
person produced each event); `demo_events` returns just the events. The story's later
additions (cards at the till, the hub, the junk value) draw from a random source of their
own, so they leave the rest of the data set as it was.

`synthetic_events` streams any number of plain events for benchmarks: a sliding pool of
active people, about five events each, every event carrying one to three of its person's
identifiers, so identifiers link up over a person's events the way real traffic does.
"""

from __future__ import annotations

import random
import unicodedata
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

from app.synth.corrupt import date_error, name_error, typo

Event = dict[str, Any]

DEFAULT_START = datetime(2024, 1, 1, tzinfo=UTC)
SHOP = "https://www.dewinkel.example"

# -- the cast ------------------------------------------------------------------------------

DUTCH_FIRST_NAMES = (
    ("Anna", "female"), ("Sanne", "female"), ("Lotte", "female"), ("Emma", "female"),
    ("Julia", "female"), ("Fleur", "female"), ("Eva", "female"), ("Sophie", "female"),
    ("Noor", "female"), ("Femke", "female"), ("Marieke", "female"), ("Ingrid", "female"),
    ("Daan", "male"), ("Sem", "male"), ("Lucas", "male"), ("Thijs", "male"),
    ("Jeroen", "male"), ("Bram", "male"), ("Ruben", "male"), ("Pieter", "male"),
    ("Joost", "male"), ("Willem", "male"), ("Kees", "male"), ("Henk", "male"),
)
INTERNATIONAL_FIRST_NAMES = (
    ("Fatima", "female"), ("Priya", "female"), ("Sofia", "female"), ("Olga", "female"),
    ("Mei", "female"), ("Aisha", "female"), ("Mohamed", "male"), ("Lukas", "male"),
    ("Mateo", "male"), ("Yusuf", "male"), ("Kwame", "male"), ("Arjun", "male"),
)
DUTCH_SURNAMES = (
    "de Jong", "Jansen", "de Vries", "van den Berg", "van Dijk", "Bakker", "Janssen",
    "Visser", "Smit", "Meijer", "de Boer", "Mulder", "de Groot", "Bos", "Vos", "Peters",
    "Hendriks", "van Leeuwen", "Dekker", "Brouwer", "van der Meer", "Kok", "Vermeulen",
    "Willems",
)
INTERNATIONAL_SURNAMES = (
    "El Amrani", "Yilmaz", "Sharma", "García", "Müller", "Kowalski", "Nguyen", "Mensah",
    "Rossi", "Chen", "Öztürk", "Ivanova",
)
# City and the range of its four-digit postcodes.
CITIES = (
    ("Amsterdam", 1011, 1109), ("Rotterdam", 3011, 3089), ("Den Haag", 2491, 2597),
    ("Utrecht", 3511, 3585), ("Eindhoven", 5611, 5658), ("Groningen", 9711, 9747),
    ("Haarlem", 2011, 2037), ("Nijmegen", 6511, 6546), ("Zwolle", 8011, 8043),
    ("Leiden", 2311, 2334), ("Amersfoort", 3811, 3829), ("Breda", 4811, 4839),
)
STREETS = (
    "Kerkstraat", "Dorpsstraat", "Stationsweg", "Molenweg", "Prinsengracht", "Lindenlaan",
    "Julianastraat", "Wilhelminastraat", "Schoolstraat", "Beatrixlaan", "Nieuwstraat",
    "Kastanjelaan", "Oranjestraat", "Parkweg", "Havenstraat", "Vondelstraat",
)
EMAIL_DOMAINS = (
    "example.com", "example.nl", "example.org", "mail.example", "inbox.example",
    "mijnpost.example",
)
PERSONA_SHARES = (("anonymous", 0.2), ("store", 0.3))  # the rest is "online"
HOUSEHOLD_EVERY = 100  # one household pair per this many people (at least one)
CARD_AT_TILL = 0.5  # share of loyalty cards filled in at the till, not in the CRM
STAFF_TYPOS = 0.3  # chance that staff mistype a detail of a card filled in at the till
RUSHED_CARDS = 0.1  # of those cards (at least one), filled in with an initial and a street
# The shop's own loyalty card, scanned for customers who forgot theirs: more people than
# the hub limit (15) use it in a demo of the default size.
SHOP_CARD = "2000000000017"
SHOP_CARD_USERS = 18
JUNK_EMAIL = "test@test.com"
JUNK_EMAIL_USERS = 3
# Example segments that `idgraph demo` defines (docs/segments.md teaches the language).
DEMO_SEGMENTS = {
    "repeat_buyers": "count(purchase) >= 2",
    "big_spenders": "computed(lifetime_value) >= 200",
    "mailable": "consent(email_marketing) AND has(email)",
    "app_users": "has(device_id)",
    "lapsed_repeat_buyers": "in_segment(repeat_buyers) AND computed(days_since_last_purchase) > 60",
    "window_shoppers": "count(add_to_cart) >= 1 AND NOT count(purchase) >= 1",
}


@dataclass(frozen=True, slots=True)
class DemoPerson:
    """Ground truth for one demo person. Identifier values are in normalised form."""

    index: int
    persona: str  # "anonymous", "online" (signs up on the web) or "store" (already in the CRM)
    first_name: str
    last_name: str
    gender: str
    birth_date: str
    address: dict[str, str] = field(hash=False)
    cookies: tuple[str, ...]
    devices: tuple[str, ...] = ()
    email: str | None = None
    phone: str | None = None
    crm_id: str | None = None
    loyalty_id: str | None = None
    household: int | None = None  # index of the first member of this person's household
    card_at_till: bool = False  # the loyalty card was filled in at the till, not in the CRM
    card_rushed: bool = False  # ... with an initial and a street only

    @property
    def known(self) -> bool:
        return self.persona != "anonymous"

    def identifiers(self) -> set[tuple[str, str]]:
        """Every (type, normalised value) this person may show up with."""
        found = {("cookie", c) for c in self.cookies} | {("device_id", d) for d in self.devices}
        for type_ in ("email", "phone", "crm_id", "loyalty_id"):
            value = getattr(self, type_)
            if value is not None:
                found.add((type_, value))
        return found


@dataclass(frozen=True, slots=True)
class DemoData:
    people: tuple[DemoPerson, ...]
    events: list[Event]
    owner: dict[str, int]  # event_id -> DemoPerson.index
    # (type, normalised value) of the identifiers several people use on purpose
    shared: frozenset[tuple[str, str]] = frozenset()

    def events_of(self, person: DemoPerson) -> list[Event]:
        return [e for e in self.events if self.owner[e["event_id"]] == person.index]


def demo_people(people: int = 200, *, seed: int = 7, start: datetime = DEFAULT_START,
                days: int = 90) -> tuple[DemoPerson, ...]:
    """Who is who in `demo_events` with the same arguments."""
    _check_period(start, days)
    return _cast(random.Random(seed), people, start, seed)


def _cards_at_till(cast: list[DemoPerson], seed: object) -> None:
    story = random.Random(f"{seed}-cards")
    at_till = [i for i, p in enumerate(cast) if p.loyalty_id and story.random() < CARD_AT_TILL]
    rushed = set(story.sample(at_till, max(1, round(RUSHED_CARDS * len(at_till))))
                 if at_till else [])
    for i in at_till:
        cast[i] = replace(cast[i], card_at_till=True, card_rushed=i in rushed)


def demo_events(people: int = 200, *, seed: int = 7, start: datetime = DEFAULT_START,
                days: int = 90) -> list[Event]:
    """The demo data set: raw v1 events of `people` people over `days` days, in time order."""
    return demo_data(people, seed=seed, start=start, days=days).events


def demo_data(people: int = 200, *, seed: int = 7, start: datetime = DEFAULT_START,
              days: int = 90) -> DemoData:
    """The demo events with their ground truth."""
    _check_period(start, days)
    rng = random.Random(seed)
    cast = _cast(rng, people, start, seed)
    writer = _Writer(rng, start.astimezone(UTC), days, random.Random(f"{seed}-story"))
    for person in cast:
        if person.known:
            _known_journey(writer, person)
        else:
            _anonymous_journey(writer, person)
    shared = _shared_values(writer, cast)
    events, owner = writer.finish()
    return DemoData(cast, events, owner, shared)


def _check_period(start: datetime, days: int) -> None:
    if start.tzinfo is None:
        raise ValueError("start must be timezone-aware")
    if days < 1:
        raise ValueError("days must be at least 1")


def _cast(rng: random.Random, people: int, start: datetime, seed: int
          ) -> tuple[DemoPerson, ...]:
    if people < 0:
        raise ValueError("people must not be negative")
    personas = _personas(rng, people)
    housemate_of = _household_pairs(rng, personas)
    taken: set[str] = set()
    cast: list[DemoPerson] = []
    for index, persona in enumerate(personas):
        housemate = cast[housemate_of[index]] if index in housemate_of else None
        cast.append(_make_person(rng, index, persona, housemate, taken, start))
    for first in set(housemate_of.values()):
        cast[first] = replace(cast[first], household=first)
    _cards_at_till(cast, seed)
    return tuple(cast)


def _personas(rng: random.Random, people: int) -> list[str]:
    counts = {name: round(people * share) for name, share in PERSONA_SHARES}
    if people >= 3:
        counts = {name: max(1, count) for name, count in counts.items()}
    online = max(0, people - sum(counts.values()))
    personas = [name for name, count in counts.items() for _ in range(count)][:people]
    personas += ["online"] * online
    rng.shuffle(personas)
    return personas


def _household_pairs(rng: random.Random, personas: list[str]) -> dict[int, int]:
    """Second member -> first member, for households of two "store" customers."""
    store = [i for i, p in enumerate(personas) if p == "store"]
    pairs = min(len(store) // 2, max(1, len(personas) // HOUSEHOLD_EVERY))
    chosen = rng.sample(store, 2 * pairs)
    return {max(a, b): min(a, b) for a, b in zip(chosen[::2], chosen[1::2], strict=True)}


def _make_person(rng: random.Random, index: int, persona: str, housemate: DemoPerson | None,
                 taken: set[str], start: datetime) -> DemoPerson:
    first_name, gender, international = _first_name(rng, avoid=housemate)
    last_name = housemate.last_name if housemate else _surname(rng, international)
    switches_cookie = rng.random() < 0.08
    person = DemoPerson(
        index=index, persona=persona, first_name=first_name, last_name=last_name,
        gender=gender, birth_date=_birth_date(rng),
        address=housemate.address if housemate else _address(rng),
        cookies=tuple(_unique(taken, lambda: _cookie(rng, start))
                      for _ in range(2 if switches_cookie else 1)),
        household=housemate.index if housemate else None,
    )
    if persona == "anonymous":
        return person
    store = persona == "store"
    has_phone = store or rng.random() < 0.7
    foreign_phone = rng.random() < (0.25 if international else 0.04)
    return replace(
        person,
        devices=tuple(_unique(taken, lambda: str(uuid.UUID(int=rng.getrandbits(128), version=4)))
                      for _ in range(rng.choices((0, 1, 2), (35, 45, 20))[0])),
        email=_unique(taken, lambda: _email_address(rng, first_name, last_name)),
        phone=_unique(taken, lambda: _phone_number(rng, foreign_phone)) if has_phone else None,
        crm_id=(_unique(taken, lambda: f"CRM-{rng.randrange(10**6, 10**7)}")
                if store or rng.random() < 0.7 else None),
        loyalty_id=(_unique(taken, lambda: f"2{rng.randrange(10**11, 10**12)}")
                    if store and rng.random() < 0.7 else None),
    )


def _unique(taken: set[str], make: Callable[[], str]) -> str:
    """A value from `make` that no one has yet: people never share an identifier by accident."""
    while (value := make()) in taken:
        pass
    taken.add(value)
    return value


def _first_name(rng: random.Random, avoid: DemoPerson | None) -> tuple[str, str, bool]:
    while True:
        international = rng.random() < 0.25
        name, gender = rng.choice(INTERNATIONAL_FIRST_NAMES if international
                                  else DUTCH_FIRST_NAMES)
        if avoid is None or name != avoid.first_name:
            return name, gender, international


def _surname(rng: random.Random, international: bool) -> str:
    if international and rng.random() < 0.75:
        return rng.choice(INTERNATIONAL_SURNAMES)
    return rng.choice(DUTCH_SURNAMES)


def _birth_date(rng: random.Random) -> str:
    return (date(1950, 1, 1) + timedelta(days=rng.randrange(56 * 365))).isoformat()


def _address(rng: random.Random) -> dict[str, str]:
    city, low, high = rng.choice(CITIES)
    letters = "SA"
    while letters in ("SA", "SD", "SS"):  # Dutch postcodes never use these letter pairs
        letters = "".join(rng.choices("ABCDEFGHJKLMNPRSTVWXZ", k=2))
    address = {
        "street": rng.choice(STREETS),
        "house_number": str(rng.randint(1, 240)) + rng.choice(("",) * 8 + ("A", "B", "-2")),
        "postcode": f"{rng.randint(low, high)} {letters}",
        "city": city,
        "country": "NL",
    }
    if rng.random() < 0.1:
        address["address_line2"] = rng.choice(("2 hoog", "3e verdieping", "achterhuis"))
    return address


def _ascii(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in folded.lower() if ch.isalnum())


def _email_address(rng: random.Random, first_name: str, last_name: str) -> str:
    first, last = _ascii(first_name), _ascii(last_name)
    local = rng.choice((
        f"{first}.{last}", f"{first[0]}.{last}", f"{first}{last}",
        f"{first}.{last}{rng.randint(1, 99)}", f"{first}{rng.randint(60, 99)}",
        f"{first}_{last[:4]}{rng.randint(1, 999)}",
    ))
    return f"{local}@{rng.choice(EMAIL_DOMAINS)}"


def _phone_number(rng: random.Random, foreign: bool) -> str:
    """An E.164 mobile number: Dutch, or now and then Belgian or German."""
    if not foreign:
        return f"+316{rng.randint(1, 5)}{rng.randrange(10**7):07d}"
    if rng.random() < 0.5:
        return f"+324{rng.choice('789')}{rng.randrange(10**7):07d}"
    return f"+4915{rng.choice('1257')}{rng.randrange(10**8):08d}"


def _cookie(rng: random.Random, start: datetime) -> str:
    """A Google-Analytics-style first-party cookie: random id and creation time (in the
    weeks before the period: the data set only sees the cookie from `start` on)."""
    created = int(start.timestamp()) - rng.randrange(60 * 86400)
    return f"GA1.1.{rng.randrange(10**9, 10**10)}.{created}"


# -- spellings: how each system writes an identifier ------------------------------------

def _phone_spelling(rng: random.Random, e164: str, system: str) -> str:
    """`system` is "crm", "telephony" or "form"; each writes numbers its own way."""
    if not e164.startswith("+31"):
        cc, rest = e164[1:3], e164[3:]
        spaced = f"+{cc} {rest[:3]} {rest[3:]}"
        return rng.choice((e164, spaced, f"00{cc}{rest}"))
    n = e164[3:]
    by_system = {
        "crm": (f"+31 {n[0]} {n[1:5]} {n[5:]}", f"0{n[0]}-{n[1:]}", f"(0{n[0]}) {n[1:5]} {n[5:]}"),
        "telephony": (e164, f"0031{n}", f"0{n}"),
        "form": (f"0{n}", f"0{n[0]} {n[1:3]} {n[3:5]} {n[5:7]} {n[7:]}", f"0{n[0]}-{n[1:]}",
                 f"+31 (0){n[0]} {n[1:]}", f"+31 {n[0]} {n[1:5]} {n[5:]}"),
    }
    return rng.choice(by_system[system])


def _email_spelling(rng: random.Random, email: str, *, padding: bool = False) -> str:
    """As typed: mostly clean, sometimes in capitals, sometimes (if `padding`) with spaces."""
    roll = rng.random()
    if roll < 0.12:
        local, _, domain = email.partition("@")
        return f"{'.'.join(p.capitalize() for p in local.split('.'))}@{domain.capitalize()}"
    if roll < 0.17:
        return email.upper()
    if padding and roll < 0.27:
        return rng.choice((f" {email}", f"{email} ", f"  {email} "))
    return email


def _device_spelling(device: str) -> str:
    """iOS reports its identifiers in upper case, Android in lower case."""
    return device.upper() if int(device[-1], 16) % 2 else device


def _platform(device: str) -> dict[str, str]:
    if device != _device_spelling(device):
        return {"os": "iOS", "os_version": "17.2", "app_version": "5.3.1"}
    return {"os": "Android", "os_version": "14", "app_version": "5.3.0"}


def _id(type_: str, value: str) -> dict[str, str]:
    return {"type": type_, "value": value}


# -- time: local Dutch time, written as each system writes it -------------------------------

WEB_HOURS = (7, 8, 9, 10, 11, 12, 12, 13, 14, 15, 16, 17, 18, 19, 19, 20, 20, 21, 21, 22, 23)
OFFICE_HOURS = (9, 10, 11, 12, 13, 14, 15, 16)
SHOP_HOURS = (10, 11, 12, 13, 14, 15, 16, 17)
CRM_EXPORT_HOUR = 2

# How each source writes timestamps: UTC with milliseconds, UTC seconds, or local time.
STAMP_STYLE = {"web": "utc_ms", "ads": "utc_ms", "chatbot": "utc_ms", "email": "utc_s",
               "crm": "utc_s", "app": "local_ms", "pos": "local", "callcenter": "local"}


def _last_sunday_1am_utc(year: int, month: int) -> datetime:
    last = datetime(year, month, 31, 1, tzinfo=UTC)  # March and October have 31 days
    return last - timedelta(days=(last.weekday() + 1) % 7)


def _dutch_offset(moment: datetime) -> timedelta:
    """CET, or CEST from the last Sunday of March to the last Sunday of October."""
    summer = (_last_sunday_1am_utc(moment.year, 3) <= moment
              < _last_sunday_1am_utc(moment.year, 10))
    return timedelta(hours=2 if summer else 1)


def _from_dutch_time(local: datetime) -> datetime:
    """A naive Dutch wall-clock time as an aware UTC datetime."""
    moment = (local - timedelta(hours=1)).replace(tzinfo=UTC)
    return moment - (_dutch_offset(moment) - timedelta(hours=1))


def _stamp(moment: datetime, source: str) -> str:
    style = STAMP_STYLE.get(source, "utc_ms")
    if style == "utc_ms":
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    if style == "utc_s":
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    offset = _dutch_offset(moment)
    local = moment.astimezone(timezone(offset))
    return local.isoformat(timespec="milliseconds" if style == "local_ms" else "seconds")


# -- the writer: collects events and puts them in order -------------------------------------

@dataclass
class _Writer:
    rng: random.Random
    start: datetime
    days: int
    story: random.Random  # for the story's later additions, so the rest stays as it was
    rows: list[tuple[datetime, int, int, Event]] = field(default_factory=list)
    orders: int = 0
    chats: int = 0

    @property
    def end(self) -> datetime:
        return self.start + timedelta(days=self.days)

    def emit(self, person: DemoPerson, moment: datetime, type_: str, source: str,
             identifiers: list[dict[str, str]], **optional: dict[str, Any]) -> None:
        """Add an event; `optional` holds traits, properties and consent, when given."""
        stamp = _stamp(moment, source)
        body: Event = {"type": type_, "timestamp": stamp, "source": source,
                       "identifiers": identifiers}
        body.update((key, value) for key, value in optional.items() if value)
        self.rows.append((datetime.fromisoformat(stamp), len(self.rows), person.index, body))

    def finish(self) -> tuple[list[Event], dict[str, int]]:
        events: list[Event] = []
        owner: dict[str, int] = {}
        for n, (_, _, index, body) in enumerate(sorted(self.rows, key=lambda r: r[:2])):
            event_id = f"demo-{n:08d}"
            events.append({"event_id": event_id, **body})
            owner[event_id] = index
        return events, owner

    def on_day(self, day: int, hours: tuple[int, ...] = WEB_HOURS) -> datetime:
        """A moment at a plausible Dutch local hour on day `day` of the period."""
        local_date = (self.start + timedelta(days=day) + _dutch_offset(self.start)).date()
        local = datetime(local_date.year, local_date.month, local_date.day, self.rng.choice(hours),
                         self.rng.randrange(60), self.rng.randrange(60),
                         self.rng.randrange(1000) * 1000)
        return max(_from_dutch_time(local), self.start + self.seconds(60, 3600))

    def later(self, after: datetime, hours: tuple[int, ...] = WEB_HOURS) -> datetime:
        """A moment on a random day from `after` to the end of the period, after `after`."""
        first_day = (after - self.start).days
        moment = self.on_day(self.rng.randint(first_day, max(first_day, self.days - 1)), hours)
        if moment <= after:
            moment = after + self.seconds(10 * 60, 4 * 3600)
        return moment

    def seconds(self, low: int, high: int) -> timedelta:
        return timedelta(seconds=self.rng.randint(low, high),
                         milliseconds=self.rng.randrange(1000))


# -- journeys --------------------------------------------------------------------------------

AD_CAMPAIGNS = ("winter_sale_2024", "valentijn_2024", "spring_collection_2024",
                "easter_weekend_2024", "new_arrivals", "retargeting_cart", "brand_awareness_q1")
AD_NETWORKS = ("google_ads", "meta", "tiktok", "display")
# Product category, its web shop path and its price range in euros.
CATEGORIES = (
    ("shoes", "dames/schoenen", 49.95, 159.95), ("jackets", "heren/jassen", 79.95, 249.95),
    ("jeans", "dames/jeans", 39.95, 119.95), ("knitwear", "heren/truien", 29.95, 99.95),
    ("dresses", "dames/jurken", 34.95, 129.95), ("accessories", "accessoires", 9.95, 49.95),
    ("sportswear", "sport", 24.95, 89.95), ("kids", "kinderen", 14.95, 59.95),
)
PAGES = ("/", "/nieuw", "/sale", "/winkels", "/klantenservice", "/retourneren")
SHOPS = ("Amsterdam Kalverstraat", "Utrecht Hoog Catharijne", "Rotterdam Lijnbaan",
         "Den Haag Spuistraat", "Eindhoven Demer")
CALL_REASONS = ("delivery_status", "return_request", "billing_question", "change_address",
                "product_question", "loyalty_points", "complaint")
AGENTS = ("Sanne B.", "Ahmed K.", "Kees de W.", "Lisa M.", "Rachid E.", "Joyce V.")
CHAT_OPENERS = ("Hoi, waar blijft mijn bestelling?", "Can I return shoes I bought in a store?",
                "Mijn kortingscode werkt niet", "Wat zijn de openingstijden op zondag?",
                "Is deze jas ook in maat M op voorraad?", "How long does delivery to Belgium take?")
CHAT_FOLLOW_UPS = ("Het ordernummer staat in de mail", "Ok, dank je!", "Kan ik ook ruilen?",
                   "Thanks, that helps", "Ik wil graag iemand spreken")
CHAT_EMAIL_LINES = ("Mijn e-mailadres is het adres van mijn account",
                    "Here is my e-mail for the order")


def _anonymous_journey(w: _Writer, person: DemoPerson) -> None:
    """A visitor who never identifies: cookie-only sessions, ads, maybe a chat."""
    rng = w.rng
    sessions = rng.randint(2, 5) if len(person.cookies) > 1 else rng.randint(1, 5)
    moment = w.on_day(rng.randrange(w.days))
    for session in range(sessions):
        cookie = person.cookies[session * len(person.cookies) // sessions]
        end = _browse(w, person, moment, cookie, from_ad=rng.random() < 0.5,
                      cart=rng.random() < 0.15)
        if rng.random() < 0.1:
            _chat(w, person, end + w.seconds(5, 60), cookie, email=None)
        moment = w.later(end)
    if rng.random() < 0.3:
        _impression(w, person, w.later(moment), person.cookies[-1])


def _known_journey(w: _Writer, person: DemoPerson) -> None:
    """Anonymous browsing, the tie (signup or login), then the life of a customer."""
    rng = w.rng
    if person.persona == "store":
        _crm_export(w, person, w.on_day(rng.randint(0, min(2, w.days - 1)), (CRM_EXPORT_HOUR,)))
    tied_at, consent = _anonymous_start_and_tie(w, person)
    if person.persona == "online" and person.crm_id:
        night = w.on_day(min((tied_at - w.start).days + 1, w.days - 1), (CRM_EXPORT_HOUR,))
        _crm_export(w, person, max(night, tied_at + w.seconds(3600, 7200)))
    switch_at = _cookie_switch(w, person, tied_at)

    def cookie_at(moment: datetime) -> str:
        return person.cookies[1] if switch_at and moment >= switch_at else person.cookies[0]

    for _ in range(rng.randint(1, 5)):
        moment = w.later(tied_at)
        _customer_session(w, person, moment, cookie_at(moment))
    for device in person.devices:
        _app_usage(w, person, device, w.later(tied_at))
    _calls(w, person, tied_at)
    if rng.random() < 0.25:
        moment = w.later(tied_at)
        email = person.email if rng.random() < 0.6 else None
        _chat(w, person, moment, cookie_at(moment), email=email)
    _shop_visits(w, person, tied_at)
    if consent.get("email_marketing"):
        _newsletters(w, person, tied_at)


def _anonymous_start_and_tie(w: _Writer, person: DemoPerson) -> tuple[datetime, dict[str, bool]]:
    """Cookie-only sessions; the last one ends with the signup or login that ties the cookie
    to the e-mail. Returns when that happened and the person's marketing consent."""
    rng = w.rng
    first_day = rng.randrange(max(1, w.days * 2 // 3))
    tie_day = min(w.days - 1, first_day + rng.choice((0, 0, 1, 3, 7, 14, 21)))
    days = sorted(rng.randint(first_day, tie_day) for _ in range(rng.randint(0, 3))) + [tie_day]
    end = None
    for i, day in enumerate(days):
        moment = w.on_day(day)
        if end is not None and moment <= end:
            moment = end + w.seconds(30 * 60, 5 * 3600)
        end = _browse(w, person, moment, person.cookies[0], from_ad=i == 0 or rng.random() < 0.4)
    assert end is not None
    tied_at = end + w.seconds(20, 120)
    if person.persona == "online":
        return tied_at, _signup(w, person, tied_at, person.cookies[0])
    _login(w, person, tied_at, person.cookies[0])
    return tied_at, {"email_marketing": rng.random() < 0.7}


def _cookie_switch(w: _Writer, person: DemoPerson, tied_at: datetime) -> datetime | None:
    """A person who cleared cookies: a new anonymous session, then a login that ties it."""
    if len(person.cookies) < 2:
        return None
    switch_at = w.later(tied_at + timedelta(days=1))
    end = _browse(w, person, switch_at, person.cookies[1], from_ad=w.rng.random() < 0.5)
    _login(w, person, end + w.seconds(10, 90), person.cookies[1])
    return switch_at


def _browse(w: _Writer, person: DemoPerson, moment: datetime, cookie: str, *, from_ad: bool,
            cart: bool = False) -> datetime:
    """A web session on one cookie: maybe an ad impression and click, page views, maybe an
    abandoned cart. Returns when it ended."""
    rng = w.rng
    cookie_id = [_id("cookie", cookie)]
    landing = f"{SHOP}{rng.choice(PAGES)}"
    if from_ad:
        campaign, network = rng.choice(AD_CAMPAIGNS), rng.choice(AD_NETWORKS)
        ad = {"campaign": campaign, "network": network,
              "creative": f"{campaign}_{rng.randint(1, 4)}"}
        w.emit(person, moment, "impression", "ads", cookie_id, properties=ad)
        moment += w.seconds(2, 90)
        landing += f"?utm_source={network}&utm_medium=cpc&utm_campaign={campaign}"
        w.emit(person, moment, "click", "ads", [_id("cookie", cookie)],
               properties={**ad, "url": landing})
        moment += w.seconds(1, 3)
    url = landing
    for _ in range(rng.randint(1, 5)):
        w.emit(person, moment, "page_view", "web", [_id("cookie", cookie)],
               properties={"url": url})
        moment += w.seconds(8, 180)
        category, path, _, _ = rng.choice(CATEGORIES)
        sku = f"SKU-{rng.randrange(10000, 99999)}"
        url = rng.choice((f"{SHOP}/{path}", f"{SHOP}/p/{category}/{sku}"))
        if rng.random() < 0.2:
            element = rng.choice(("filter_size", "add_to_wishlist", "size_guide", "photo_zoom"))
            w.emit(person, moment, "click", "web", [_id("cookie", cookie)],
                   properties={"url": url, "element": element})
            moment += w.seconds(3, 30)
    if cart:
        w.emit(person, moment, "add_to_cart", "web", [_id("cookie", cookie)],
               properties=_product(rng))
        moment += w.seconds(5, 60)
    return moment


def _impression(w: _Writer, person: DemoPerson, moment: datetime, cookie: str) -> None:
    campaign = w.rng.choice(AD_CAMPAIGNS)
    w.emit(person, moment, "impression", "ads", [_id("cookie", cookie)],
           properties={"campaign": campaign, "network": w.rng.choice(AD_NETWORKS),
                       "creative": f"{campaign}_{w.rng.randint(1, 4)}"})


def _signup(w: _Writer, person: DemoPerson, moment: datetime, cookie: str) -> dict[str, bool]:
    assert person.email is not None
    rng = w.rng
    consent = {"email_marketing": rng.random() < 0.6, "analytics": rng.random() < 0.8}
    identifiers = [_id("cookie", cookie), _id("email", _email_spelling(rng, person.email))]
    if person.phone and rng.random() < 0.3:
        identifiers.append(_id("phone", _phone_spelling(rng, person.phone, "form")))
    w.emit(person, moment, "signup", "web", identifiers,
           traits={"first_name": person.first_name, "last_name": person.last_name},
           properties={"url": f"{SHOP}/account/aanmelden", "method": "email"}, consent=consent)
    return consent


def _login(w: _Writer, person: DemoPerson, moment: datetime, cookie: str) -> None:
    assert person.email is not None
    w.emit(person, moment, "login", "web",
           [_id("cookie", cookie), _id("email", _email_spelling(w.rng, person.email))],
           properties={"url": f"{SHOP}/account/inloggen"})


def _customer_session(w: _Writer, person: DemoPerson, moment: datetime, cookie: str) -> None:
    """A returning customer on the web: browsing, sometimes a login, sometimes an order."""
    rng = w.rng
    buys = rng.random() < 0.35
    end = _browse(w, person, moment, cookie, from_ad=rng.random() < 0.2, cart=buys)
    if buys or rng.random() < 0.2:
        end += w.seconds(10, 60)
        _login(w, person, end, cookie)
    if buys:
        assert person.email is not None
        w.emit(person, end + w.seconds(30, 300), "purchase", "web",
               [_id("cookie", cookie), _id("email", person.email)],
               properties=_order(w, "WEB"))


def _app_usage(w: _Writer, person: DemoPerson, device: str, installed_at: datetime) -> None:
    """Install, browse anonymously on the device, log in, come back, sometimes buy."""
    assert person.email is not None
    rng = w.rng
    spelled = _device_spelling(device)
    platform = _platform(device)
    moment = installed_at
    w.emit(person, moment, "app_install", "app", [_id("device_id", spelled)], properties=platform)
    for screen in rng.sample(("home", "sale", "new_in", "search", "product"), rng.randint(1, 3)):
        moment += w.seconds(5, 120)
        w.emit(person, moment, "page_view", "app", [_id("device_id", spelled)],
               properties={"screen": screen})
    moment += w.seconds(10, 600)
    w.emit(person, moment, "login", "app",
           [_id("device_id", spelled), _id("email", _email_spelling(rng, person.email))],
           properties=platform)
    for _ in range(rng.randint(0, 4)):
        moment = w.later(moment)
        w.emit(person, moment, "page_view", "app", [_id("device_id", spelled)],
               properties={"screen": rng.choice(("home", "orders", "product", "loyalty"))})
        if rng.random() < 0.3:
            w.emit(person, moment + w.seconds(60, 900), "purchase", "app",
                   [_id("device_id", spelled), _id("email", person.email)],
                   properties=_order(w, "APP"))


def _calls(w: _Writer, person: DemoPerson, after: datetime) -> None:
    """Calls to customer service from the person's phone; the agent verifies some callers."""
    rng = w.rng
    if not person.phone or rng.random() > (0.45 if person.persona == "store" else 0.3):
        return
    for _ in range(rng.randint(1, 2)):
        identifiers = [_id("phone", _phone_spelling(rng, person.phone, "telephony"))]
        verified = person.crm_id is not None and rng.random() < 0.6
        if verified:
            identifiers.append(_id("crm_id", person.crm_id))
        w.emit(person, w.later(after, OFFICE_HOURS), "call", "callcenter", identifiers,
               properties={"duration_s": rng.randint(45, 1500), "reason": rng.choice(CALL_REASONS),
                           "agent": rng.choice(AGENTS), "caller_verified": verified})


def _chat(w: _Writer, person: DemoPerson, moment: datetime, cookie: str,
          email: str | None) -> None:
    """A chatbot conversation on the website; the customer may type an e-mail address."""
    rng = w.rng
    w.chats += 1
    session = f"chat-{w.chats:05d}"
    lines = [rng.choice(CHAT_OPENERS), *rng.sample(CHAT_FOLLOW_UPS, rng.randint(1, 2))]
    email_turn = rng.randrange(1, len(lines) + 1) if email else -1
    if email:
        lines.insert(email_turn, rng.choice(CHAT_EMAIL_LINES))
    for turn, line in enumerate(lines):
        identifiers = [_id("cookie", cookie)]
        if turn == email_turn and email:
            identifiers.append(_id("email", _email_spelling(rng, email, padding=True)))
        w.emit(person, moment, "chat_message", "chatbot", identifiers,
               properties={"session_id": session, "author": "customer", "transcript": line})
        moment += w.seconds(10, 90)


def _shop_visits(w: _Writer, person: DemoPerson, after: datetime) -> None:
    """In-store purchases, identified by loyalty card or by the e-mail for the e-receipt."""
    rng = w.rng
    visits = rng.randint(1, 3) if person.persona == "store" else int(rng.random() < 0.15)
    signed_up = False
    for _ in range(visits):
        if person.loyalty_id:
            identifier = _id("loyalty_id", person.loyalty_id)
        elif person.email and rng.random() < 0.6:
            identifier = _id("email", _email_spelling(rng, person.email))
        else:
            continue  # paid without identifying: no event
        moment = w.later(after, SHOP_HOURS)
        if person.card_at_till and not signed_up:
            _card_at_till(w, person, moment - timedelta(seconds=w.story.randint(60, 300)))
            signed_up = True
        w.emit(person, moment, "purchase", "pos", [identifier],
               properties={**_order(w, "POS"), "store": rng.choice(SHOPS)})


def _card_at_till(w: _Writer, person: DemoPerson, moment: datetime) -> None:
    """A loyalty card filled in at the till: staff type the details, with typos."""
    assert person.loyalty_id is not None
    story = w.story

    def typed(value: str, error: Callable[[random.Random, str], str]) -> str:
        return error(story, value) if story.random() < STAFF_TYPOS else value

    traits = {"first_name": typed(person.first_name, name_error),
              "last_name": typed(person.last_name, name_error),
              "birth_date": typed(person.birth_date, date_error),
              **{k: typed(v, typo) for k, v in person.address.items() if k != "country"}}
    if person.card_rushed:
        # A queue at the till: an initial, no birth date, the street without a number.
        traits = {"first_name": person.first_name[0], "last_name": person.last_name,
                  "street": person.address["street"], "city": person.address["city"]}
    w.emit(person, moment, "loyalty_signup", "pos", [_id("loyalty_id", person.loyalty_id)],
           traits=traits, properties={"store": story.choice(SHOPS)})


def _shared_values(w: _Writer, cast: tuple[DemoPerson, ...]) -> frozenset[tuple[str, str]]:
    """The shop's card scanned for customers who forgot theirs, and a junk e-mail typed
    into the chat by anonymous visitors. Returns the values, as (type, normalised value)."""
    story = w.story
    known = [p for p in cast if p.email]
    for person in story.sample(known, min(SHOP_CARD_USERS, len(known))):
        assert person.email is not None
        w.emit(person, w.on_day(story.randrange(w.days), SHOP_HOURS), "purchase", "pos",
               [_id("loyalty_id", SHOP_CARD), _id("email", person.email)],
               properties={**_order(w, "POS"), "store": story.choice(SHOPS),
                           "note": "shop card"})
    anonymous = [p for p in cast if not p.known]
    for person in story.sample(anonymous, min(JUNK_EMAIL_USERS, len(anonymous))):
        w.emit(person, w.on_day(story.randrange(w.days)), "chat_message", "chatbot",
               [_id("cookie", person.cookies[0]), _id("email", JUNK_EMAIL)],
               properties={"session_id": f"chat-junk-{person.index}", "author": "customer",
                           "transcript": story.choice(CHAT_EMAIL_LINES)})
    return frozenset({("loyalty_id", SHOP_CARD), ("email", JUNK_EMAIL)})


def _newsletters(w: _Writer, person: DemoPerson, after: datetime) -> None:
    assert person.email is not None
    rng = w.rng
    for _ in range(rng.randint(1, 6)):
        moment = w.later(after)
        year, week, _ = moment.isocalendar()
        campaign = rng.choice((f"newsletter_{year}_w{week:02d}", rng.choice(AD_CAMPAIGNS)))
        w.emit(person, moment, "email_open", "email", [_id("email", person.email)],
               properties={"campaign": campaign})
        if rng.random() < 0.35:
            w.emit(person, moment + w.seconds(5, 300), "email_click", "email",
                   [_id("email", person.email)],
                   properties={"campaign": campaign,
                               "url": f"{SHOP}/sale?utm_source=email&utm_campaign={campaign}"})


def _crm_export(w: _Writer, person: DemoPerson, moment: datetime) -> None:
    """The nightly CRM export: crm_id, e-mail, phone, loyalty card and the full profile."""
    assert person.crm_id is not None and person.email is not None
    rng = w.rng
    identifiers = [_id("crm_id", person.crm_id),
                   _id("email", _email_spelling(rng, person.email, padding=True))]
    if person.phone:
        identifiers.append(_id("phone", _phone_spelling(rng, person.phone, "crm")))
    if person.loyalty_id and not person.card_at_till:
        identifiers.append(_id("loyalty_id", person.loyalty_id))
    traits = {"first_name": person.first_name, "last_name": person.last_name,
              "birth_date": person.birth_date, "gender": person.gender, **person.address}
    w.emit(person, moment, "crm_record", "crm", identifiers, traits=traits,
           properties={"segment": _segment(person)})


def _segment(person: DemoPerson) -> str:
    return "loyalty" if person.loyalty_id else ("store" if person.persona == "store" else "online")


def _product(rng: random.Random) -> dict[str, Any]:
    category, _, low, high = rng.choice(CATEGORIES)
    price = round(low + 5 * rng.randint(0, int((high - low) // 5)), 2)
    return {"product_id": f"SKU-{rng.randrange(10000, 99999)}", "category": category,
            "price": price, "currency": "EUR"}


def _order(w: _Writer, channel: str) -> dict[str, Any]:
    w.orders += 1
    product = _product(w.rng)
    quantity = w.rng.choices((1, 2, 3), (80, 15, 5))[0]
    return {"order_id": f"{channel}-{w.orders:06d}",
            "amount": round(product["price"] * quantity, 2), "currency": "EUR",
            "product_id": product["product_id"],
            "category": product["category"], "quantity": quantity}


# -- synthetic_events: a fast, bounded-memory stream for benchmarks ------------------------

# (weight, type, source, identifier types the event carries)
SYNTHETIC_PATTERNS = (
    (30, "page_view", "web", ("cookie",)),
    (8, "click", "web", ("cookie",)),
    (8, "impression", "ads", ("cookie",)),
    (4, "add_to_cart", "web", ("cookie",)),
    (15, "page_view", "web", ("cookie", "email")),  # browsing while logged in
    (5, "login", "web", ("cookie", "email")),
    (3, "purchase", "web", ("cookie", "email")),
    (1, "signup", "web", ("cookie", "email")),
    (1, "chat_message", "chatbot", ("cookie", "email")),
    (1, "callback_request", "web", ("cookie", "phone")),
    (8, "page_view", "app", ("device_id",)),
    (4, "page_view", "app", ("device_id", "email")),
    (3, "login", "app", ("device_id", "email")),
    (2, "purchase", "app", ("device_id", "email")),
    (6, "email_open", "email", ("email",)),
    (2, "email_click", "email", ("email",)),
    (1, "call", "callcenter", ("phone",)),
    (1, "call", "callcenter", ("phone", "crm_id")),
    (1, "crm_record", "crm", ("crm_id", "email", "phone")),
)
# Events per person, heavy-tailed; the mean is 5.
SYNTHETIC_BUDGETS = (1, 1, 2, 2, 3, 3, 4, 4, 5, 6, 7, 9, 11, 12)
SYNTHETIC_POOL = 1000  # people active at once
SYNTHETIC_URLS = tuple(f"{SHOP}{p}" for p in PAGES) + tuple(
    f"{SHOP}/{path}" for _, path, _, _ in CATEGORIES)
SYNTHETIC_AMOUNTS = (9.95, 19.95, 24.95, 39.95, 49.95, 59.9, 79.95, 89.85, 129.95, 249.95)
SYNTHETIC_CAMPAIGNS = AD_CAMPAIGNS


def synthetic_events(n: int, *, seed: int = 1,
                     start: datetime = DEFAULT_START) -> Iterator[Event]:
    """Exactly `n` raw v1 events of about n/5 people, in time order, generated lazily.

    People come and go through a pool of SYNTHETIC_POOL active people, so memory stays
    bounded whatever `n` is. Event ids are f"syn-{seed}-{i:09d}".
    """
    if n < 0:
        raise ValueError("n must not be negative")
    _check_period(start, 1)
    return _synthetic_stream(n, seed, start)


def _synthetic_stream(n: int, seed: int, start: datetime) -> Iterator[Event]:
    rng = random.Random(seed)
    random_ = rng.random
    patterns_for = _patterns_by_identifier_set()
    people = [_synthetic_person(rng, number, patterns_for)
              for number in range(min(SYNTHETIC_POOL, n // 5 + 1))]
    budgets = [rng.choice(SYNTHETIC_BUDGETS) for _ in people]
    next_number = len(people)
    clock = _SyntheticClock(start)
    prefix = f"syn-{seed}-"
    for i in range(n):
        slot = int(random_() * len(people))
        values, patterns = people[slot]
        type_, source, types = patterns[int(random_() * len(patterns))]
        yield {
            "event_id": f"{prefix}{i:09d}",
            "type": type_,
            "timestamp": clock.stamp(),
            "source": source,
            "identifiers": [{"type": t, "value": values[t]} for t in types],
            "properties": _SYNTHETIC_PROPERTIES[type_](random_, i),
        }
        clock.tick(int(random_() * 1000))
        budgets[slot] -= 1
        if budgets[slot] == 0:
            people[slot] = _synthetic_person(rng, next_number, patterns_for)
            budgets[slot] = rng.choice(SYNTHETIC_BUDGETS)
            next_number += 1


class _SyntheticClock:
    """Milliseconds since `start`, written as UTC text; the text of the current second is
    cached, so most events only append their milliseconds."""

    _MS = tuple(f".{ms:03d}Z" for ms in range(1000))

    def __init__(self, start: datetime) -> None:
        self.start = start.astimezone(UTC).replace(tzinfo=None)
        self.ms = 0
        self.second = -1
        self.second_text = ""

    def tick(self, ms: int) -> None:
        self.ms += ms

    def stamp(self) -> str:
        second, ms = divmod(self.ms, 1000)
        if second != self.second:
            moment = self.start + timedelta(seconds=second)
            self.second, self.second_text = second, moment.isoformat(timespec="seconds")
        return self.second_text + self._MS[ms]


_Patterns = tuple[tuple[str, str, tuple[str, ...]], ...]


def _synthetic_person(rng: random.Random, number: int,
                      patterns_for: dict[frozenset[str], _Patterns]
                      ) -> tuple[dict[str, str], _Patterns]:
    """One synthetic person: identifier type -> value (there is always a cookie), and the
    event patterns those identifiers allow."""
    values = {"cookie": f"syn.{rng.getrandbits(64):016x}"}
    if rng.random() < 0.6:
        values["email"] = f"person{number}.{rng.getrandbits(20):05x}@example.com"
    if rng.random() < 0.35:
        values["device_id"] = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    if rng.random() < 0.3:
        values["phone"] = f"+316{10_000_000 + number % 90_000_000:08d}"
    if "email" in values and "phone" in values and rng.random() < 0.5:
        values["crm_id"] = f"CRM{number:09d}"
    return values, patterns_for[frozenset(values)]


def _patterns_by_identifier_set() -> dict[frozenset[str], _Patterns]:
    """For every set of identifier types a person may have, the weighted event patterns
    that use only those types."""
    kinds = ("cookie", "email", "device_id", "phone", "crm_id")
    table = {}
    for mask in range(1 << len(kinds)):
        have = frozenset(k for bit, k in enumerate(kinds) if mask >> bit & 1)
        table[have] = tuple((type_, source, types)
                            for weight, type_, source, types in SYNTHETIC_PATTERNS
                            if have.issuperset(types) for _ in range(weight))
    return table


def _pick(options: tuple[Any, ...], random_: Callable[[], float]) -> Any:
    return options[int(random_() * len(options))]


_SyntheticProperties = Callable[[Callable[[], float], int], dict[str, Any]]
# Event type -> the properties of a synthetic event, from a random() function and the index.
_SYNTHETIC_PROPERTIES: dict[str, _SyntheticProperties] = {
    "page_view": lambda r, i: {"url": _pick(SYNTHETIC_URLS, r)},
    "click": lambda r, i: {"url": _pick(SYNTHETIC_URLS, r)},
    "impression": lambda r, i: {"campaign": _pick(SYNTHETIC_CAMPAIGNS, r)},
    "email_open": lambda r, i: {"campaign": _pick(SYNTHETIC_CAMPAIGNS, r)},
    "email_click": lambda r, i: {"campaign": _pick(SYNTHETIC_CAMPAIGNS, r)},
    "purchase": lambda r, i: {"order_id": f"O{i}", "amount": _pick(SYNTHETIC_AMOUNTS, r),
                              "currency": "EUR"},
    "call": lambda r, i: {"duration_s": 30 + int(r() * 1170)},
    "add_to_cart": lambda r, i: {"amount": _pick(SYNTHETIC_AMOUNTS, r), "currency": "EUR"},
    "login": lambda r, i: {},
    "signup": lambda r, i: {},
    "chat_message": lambda r, i: {"transcript": _pick(CHAT_OPENERS, r)},
    "callback_request": lambda r, i: {},
    "crm_record": lambda r, i: {},
}
