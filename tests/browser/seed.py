"""A small, deterministic world for the explorer's browser tests and its documentation
screenshots, loaded through the services (the ingest pipeline) like real data.

- Anna de Vries: CRM record, e-mail, phone, two cookies, an app device, calls, purchases.
- Bert Jansen signed up once on Anna's laptop: his e-mail is tied to Anna's second cookie
  by that one event, so Anna and Bert are one customer until a steward cuts that link.
- A shop's call-centre number given by many customers: a hub, quarantined by the rules;
  Anna gave it once, so it shows next to her graph.
- test@test.com, typed into Anna's browser: blocked by the rules.
- A family tablet logged in as Anna and as Carla Smit, who has her own CRM id: one CRM id
  per customer, so one of the tablet's links is rejected.
- A matcher trained (as `idgraph train` trains one) on the matching data set of the contract
  tests, so that the world is loaded through the real matcher and its output
  (`{score, probability, weights, model_version}`) is what the explorer reads:
  - "Ana de Vries", a shop signup in Haarlem with Anna's name one letter short and her birth
    date, and no identifier in common: the matcher scores the pair between its thresholds,
    so it waits in the review queue;
  - Carla's loyalty card, signed up for with her name misspelt and her birth date and
    address: the matcher links it to her CRM id (a MATCHED link).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from app.bootstrap import Services
from app.services.matching import train_from_events
from tests.contract.test_matching_contract import dataset

T0 = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)

ANNA_CRM = "C-100234"
ANNA_EMAIL = "anna.devries@example.com"
ANNA_PHONE_RAW = "06-12345678"
ANNA_PHONE = "+31612345678"
ANNA_COOKIE_1 = "ck-9f1c2a77"
ANNA_COOKIE_2 = "ck-41be0d13"
ANNA_DEVICE = "8c1f5a8e-3d3b-4a57-9a0e-1f5e0c3b7d21"
BERT_EMAIL = "bert.jansen@example.org"
BERT_COOKIE = "ck-b3e7aa01"
BERT_PHONE = "+31687654321"
HUB_PHONE = "+31205550100"
TABLET = "tablet-fam-0042"
CARLA_CRM = "C-300777"
CARLA_EMAIL = "carla.smit@example.net"
ANA_EMAIL = "ana.vries@mail.example"
ANA_COOKIE = "ck-77ad0c5e"
CARLA_LOYALTY = "L-5512"
CARLA_HOME = {"birth_date": "1991-07-30", "street": "Oudegracht", "house_number": "14",
              "postcode": "3511 AB", "city": "Utrecht"}

# Anna's own component: the identifiers that stay hers when Bert is cut off.
ANNA_KEYS = (f"crm_id:{ANNA_CRM}", f"email:{ANNA_EMAIL}", f"phone:{ANNA_PHONE}",
             f"cookie:{ANNA_COOKIE_1}", f"cookie:{ANNA_COOKIE_2}", f"device_id:{ANNA_DEVICE}",
             f"device_id:{TABLET}")
BERT_KEYS = (f"email:{BERT_EMAIL}", f"cookie:{BERT_COOKIE}", f"phone:{BERT_PHONE}")
HUB_PEOPLE = 17
BRIDGE_EVENT = "signup-bert-laptop"
BROWSING = ("/shoes", "/shoes/running", "/shoes/running/trail-x2", "/cart", "/socks",
            "/shoes/running/trail-x2/reviews", "/account", "/returns", "/outdoor/jackets",
            "/outdoor/jackets/rain-pro", "/cart", "/checkout")


@dataclass(frozen=True)
class World:
    anna: str  # customer ids
    carla: str
    ana: str
    review_id: int
    review_match: dict[str, Any]  # the matcher's output for the queued pair, as stored

    @property
    def anna_nodes(self) -> int:
        return len(ANNA_KEYS) + len(BERT_KEYS)


def _ids(*pairs: tuple[str, str]) -> list[dict[str, str]]:
    return [{"type": t, "value": v} for t, v in pairs]


class _Events:
    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []

    def add(self, type_: str, at: timedelta, source: str, ids: list[tuple[str, str]],
            properties: dict[str, Any] | None = None, traits: dict[str, Any] | None = None,
            event_id: str | None = None) -> None:
        event: dict[str, Any] = {
            "event_id": event_id or f"{type_}-{len(self.items) + 1:04d}", "type": type_,
            "timestamp": (T0 + at).isoformat().replace("+00:00", "Z"), "source": source,
            "identifiers": _ids(*ids), "properties": properties or {}}
        if traits:
            event["traits"] = traits
        self.items.append(event)


def world_events() -> list[dict[str, Any]]:
    e = _Events()
    d = timedelta(days=1)
    h = timedelta(hours=1)
    e.add("crm_record", 0 * d, "crm",
          [("crm_id", ANNA_CRM), ("email", ANNA_EMAIL), ("phone", ANNA_PHONE_RAW)],
          traits={"first_name": "Anna", "last_name": "de Vries", "birth_date": "1988-04-12",
                  "street": "Prinsengracht", "house_number": "263", "postcode": "1016 GV",
                  "city": "Amsterdam", "country": "NL"})
    e.add("page_view", 1 * d, "web", [("cookie", ANNA_COOKIE_1)],
          {"url": "/shoes/running", "title": "Running shoes"})
    e.add("login", 1 * d + h, "web", [("cookie", ANNA_COOKIE_1), ("email", ANNA_EMAIL)])
    e.add("purchase", 2 * d, "web", [("cookie", ANNA_COOKIE_1), ("email", ANNA_EMAIL)],
          {"order_id": "O-5521", "amount": 89.95, "currency": "EUR"})
    e.add("page_view", 5 * d, "web", [("cookie", ANNA_COOKIE_2)], {"url": "/"})
    e.add("login", 5 * d + h, "web", [("cookie", ANNA_COOKIE_2), ("email", ANNA_EMAIL)])
    e.add("app_open", 6 * d, "app", [("device_id", ANNA_DEVICE), ("email", ANNA_EMAIL)],
          {"platform": "ios", "app_version": "4.2.0"})
    e.add("call", 8 * d, "callcenter", [("phone", "+31 6 1234 5678"), ("crm_id", ANNA_CRM)],
          {"topic": "delivery", "duration_s": 312})
    e.add("chat_message", 9 * d, "chatbot", [("cookie", ANNA_COOKIE_1)],
          {"intent": "return_item"})
    for n, page in enumerate(BROWSING):  # enough events for more than one timeline page
        e.add("page_view", 3 * d + n * h, "web", [("cookie", ANNA_COOKIE_1)],
              {"url": page})
    # Bert signs up on Anna's laptop, then goes on from his own devices.
    e.add("signup", 10 * d, "web", [("cookie", ANNA_COOKIE_2), ("email", BERT_EMAIL)],
          traits={"first_name": "Bert", "last_name": "Jansen"}, event_id=BRIDGE_EVENT)
    e.add("login", 11 * d, "web", [("cookie", BERT_COOKIE), ("email", BERT_EMAIL)])
    e.add("call", 12 * d, "callcenter", [("phone", BERT_PHONE), ("email", BERT_EMAIL)],
          {"topic": "invoice"})
    e.add("page_view", 12 * d + h, "web", [("cookie", BERT_COOKIE)], {"url": "/outdoor"})
    # A junk e-mail typed into Anna's browser.
    e.add("newsletter_signup", 13 * d, "web",
          [("cookie", ANNA_COOKIE_1), ("email", "test@test.com")])
    # The family tablet: Anna and Carla (who has a CRM id of her own) both log in on it.
    e.add("crm_record", 14 * d, "crm", [("crm_id", CARLA_CRM), ("email", CARLA_EMAIL)],
          traits={"first_name": "Carla", "last_name": "Smit", **CARLA_HOME})
    e.add("loyalty_signup", 14 * d + h, "shop", [("loyalty_id", CARLA_LOYALTY)],
          traits={"first_name": "Carla", "last_name": "Smid", **CARLA_HOME})
    e.add("login", 15 * d, "app", [("device_id", TABLET), ("email", ANNA_EMAIL)])
    e.add("login", 16 * d, "app", [("device_id", TABLET), ("email", CARLA_EMAIL)])
    # The shop's call-centre number, given by many customers: a hub.
    for n in range(HUB_PEOPLE):
        e.add("call", 17 * d + n * h, "callcenter",
              [("phone", HUB_PHONE), ("email", f"customer{n:02d}@example.com")],
              {"topic": "order status"})
    e.add("call", 18 * d, "callcenter", [("phone", HUB_PHONE), ("email", ANNA_EMAIL)],
          {"topic": "order status"})
    # "Ana de Vries": Anna by name and birth date, in another city; no shared identifier.
    e.add("signup", 20 * d, "pos", [("email", ANA_EMAIL), ("cookie", ANA_COOKIE)],
          traits={"first_name": "Ana", "last_name": "de Vries", "birth_date": "1988-04-12",
                  "city": "Haarlem"})
    return e.items


async def seed_world(services: Services) -> World:
    """Train the matcher, then load the world's events through it, as a deployment would."""
    _, training = dataset()
    await train_from_events(services.store, training, services.ingest.rules)
    await services.ingest.load_matcher()
    events = world_events()
    result = await services.ingest.ingest_raw((f"seed[{n}]", e) for n, e in enumerate(events))
    if result.rejected:
        raise RuntimeError(f"seed events rejected: {result.problems}")
    owners = await services.store.owners([f"email:{ANNA_EMAIL}", f"email:{CARLA_EMAIL}",
                                          f"email:{ANA_EMAIL}",
                                          f"loyalty_id:{CARLA_LOYALTY}"])
    reviews = await services.store.reviews(10, None)
    # the world the tests describe, or a clear word of how the matcher's answer differs
    pairs = [(r.a, r.b) for r in reviews]
    if pairs != [(f"crm_id:{ANNA_CRM}", f"email:{ANA_EMAIL}")]:
        raise RuntimeError(f"the matcher queued {pairs}, not Ana and Anna for review")
    if owners[f"loyalty_id:{CARLA_LOYALTY}"] != owners[f"email:{CARLA_EMAIL}"]:
        raise RuntimeError("the matcher did not link Carla's loyalty card to her")
    return World(anna=owners[f"email:{ANNA_EMAIL}"], carla=owners[f"email:{CARLA_EMAIL}"],
                 ana=owners[f"email:{ANA_EMAIL}"], review_id=reviews[0].id,
                 review_match=reviews[0].weights)


async def seed_store(store_url: str) -> World:
    from app.bootstrap import start
    from app.config import Settings

    services = await start(Settings(store=store_url))
    try:
        return await seed_world(services)
    finally:
        await services.close()
