"""Fuzzy matching through the pipeline, on every store: MATCHED links carry their weights,
households stay apart, uncertain pairs go to review, bad traits are ignored with reasons."""

from __future__ import annotations

import random

from app.domain.matching.blocking import BUCKET_LIMIT, CANDIDATE_LIMIT
from app.domain.plan import Gather, Plan, Snapshot
from app.services.ingest import IngestService
from app.services.matching import train_from_events
from tests.helpers import raw_event

FIRST = ["anna", "bram", "carla", "daan", "eva", "finn", "greta", "hugo", "iris", "jan",
         "kim", "lars", "mila", "noah", "olga", "piet", "quinn", "roos", "sem", "tess"]
LAST = ["jansen", "de vries", "van dijk", "bakker", "visser", "smit", "meijer", "mulder",
        "bos", "vos", "peters", "hendriks", "dekker", "brouwer", "van leeuwen", "kok"]
STREETS = ["prinsengracht", "keizersgracht", "damrak", "rokin", "spui", "singel"]
CITIES = ["amsterdam", "utrecht", "leiden", "delft", "haarlem", "zwolle"]


def person(rng: random.Random, n: int) -> dict[str, str]:
    return {"first_name": rng.choice(FIRST), "last_name": rng.choice(LAST),
            "birth_date": f"{rng.randrange(1950, 2004)}-{rng.randrange(1, 13):02}-"
                          f"{rng.randrange(1, 29):02}",
            "street": rng.choice(STREETS), "house_number": str(rng.randrange(1, 400)),
            "postcode": f"{rng.randrange(1000, 9999)} {chr(65 + n % 26)}{chr(65 + n // 26 % 26)}",
            "city": rng.choice(CITIES)}


def typo(text: str, rng: random.Random) -> str:
    i = rng.randrange(1, len(text) - 1)
    return text[:i] + text[i + 1] + text[i] + text[i + 2:]


def crm(n: int, traits: dict[str, str], ts: int) -> dict:
    return raw_event(f"crm-{n}", f"2024-01-01T00:{ts // 60:02}:{ts % 60:02}Z", f"crm_ref:r{n}",
                     type_="crm_record", source="crm", traits=traits)


def dataset(seed: int = 3):
    rng = random.Random(seed)
    people = [person(rng, n) for n in range(150)]
    events = [crm(n, p, n) for n, p in enumerate(people)]
    for n, p in enumerate(people[:60]):  # duplicates with a typo in the last name
        events.append(crm(1000 + n, {**p, "last_name": typo(p["last_name"], rng)}, 200 + n))
    return people, events


async def trained_ingest(store, events):
    service = IngestService(store)
    await train_from_events(store, events, service.rules)
    await service.load_matcher()
    return service


async def test_duplicates_link_with_match_weights_and_strangers_do_not(store):
    people, events = dataset()
    service = await trained_ingest(store, events)
    result = await service.ingest_raw((str(n), e) for n, e in enumerate(events))
    assert result.rejected == 0
    owners = await store.owners([f"crm_ref:r{n}" for n in [*range(150), *range(1000, 1060)]])
    linked = sum(owners[f"crm_ref:r{n}"] == owners[f"crm_ref:r{1000 + n}"] for n in range(60))
    assert linked >= 57
    assert len(set(owners[f"crm_ref:r{n}"] for n in range(150))) >= 148
    cid = owners["crm_ref:r0"]
    matched = [link for link in await store.links_of(cid) if link.match]
    assert matched and matched[0].sources == ("matcher",)
    assert matched[0].match["score"] > 0 and "last_name" in matched[0].match["weights"]


async def test_household_members_are_not_merged(store):
    _, events = dataset()
    home = {"last_name": "jansen", "street": "damrak", "house_number": "12",
            "postcode": "1012 LG", "city": "amsterdam"}
    events += [crm(5000, {**home, "first_name": "anna", "birth_date": "1970-03-02"}, 900),
               crm(5001, {**home, "first_name": "piet", "birth_date": "1968-11-20"}, 901)]
    service = await trained_ingest(store, events)
    await service.ingest_raw((str(n), e) for n, e in enumerate(events))
    owners = await store.owners(["crm_ref:r5000", "crm_ref:r5001"])
    assert owners["crm_ref:r5000"] != owners["crm_ref:r5001"]


async def test_bad_traits_are_ignored_with_a_reason_and_the_event_kept(store):
    _, events = dataset()
    service = await trained_ingest(store, events)
    bad = crm(7000, {"first_name": 42, "last_name": "bakker", "birth_date": "1990-02-31"}, 999)
    result = await service.ingest_raw([("line 1", bad)])
    assert result.stored == 1 and result.rejected == 0
    fields = {p.field for p in result.problems}
    assert {"traits.first_name", "traits.birth_date"} <= fields


async def test_a_snapshot_reads_the_newest_records_of_each_blocking_key(store):
    keys = [f"crm_ref:r{n}" for n in range(BUCKET_LIMIT + 20)]

    def filed(some: list[str]) -> Plan:
        return Plan(match_records=[(k, {"city": k}, ("big", "small") if k == keys[-1]
                                    else ("big",)) for k in some])

    await store.transact(Gather(), lambda _s: filed(keys[:60]))
    await store.transact(Gather(), lambda _s: filed(keys[60:]))
    seen: list[Snapshot] = []
    query = ("crm_ref:new", ("big", "small", "empty"))
    await store.transact(Gather(match_queries=(query,)),
                         lambda snapshot: seen.append(snapshot) or Plan())
    newest = keys[::-1][:BUCKET_LIMIT]
    assert seen[0].match_buckets == {"big": newest, "small": [keys[-1]]}
    # Traits are read only for the candidates kept: the newest, in both buckets, first.
    assert seen[0].match_records == {k: {"city": k} for k in newest[:CANDIDATE_LIMIT]}
