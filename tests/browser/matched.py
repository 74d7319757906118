"""A store with a trained matcher, for the browser tests that need real matcher output:
the matching data set of the contract tests (duplicates with a typo, linked with their
weights per comparison), a household the guard keeps apart, a pair the model sends to the
review queue, and thirteen namesakes (more than a page of search results)."""

from __future__ import annotations

from app.bootstrap import build_services
from app.config import Settings
from app.services.matching import train_from_events
from tests.contract.test_matching_contract import dataset
from tests.helpers import raw_event

HOME = {"last_name": "verhoeven", "street": "damrak", "house_number": "12",
        "postcode": "1012 LG", "city": "amsterdam"}
MOTHER_EMAIL = "ingrid.verhoeven@example.com"
FATHER_EMAIL = "piet.verhoeven@example.com"
HOUSEHOLD = [
    raw_event("hh-1", "2024-06-01T10:00:00Z", "crm_ref:H-1", f"email:{MOTHER_EMAIL}",
              type_="crm_record", source="crm",
              traits={**HOME, "first_name": "ingrid", "birth_date": "1970-03-02"}),
    raw_event("hh-2", "2024-06-01T10:01:00Z", "crm_ref:H-2", f"email:{FATHER_EMAIL}",
              type_="crm_record", source="crm",
              traits={**HOME, "first_name": "piet", "birth_date": "1968-11-20"}),
]
# Pairs of records of one name and birth date on one street, in other cities: the trained
# model scores each pair between its thresholds, so they wait in the review queue (more of
# them than fit beside the comparison in a narrow window).
PEOPLE = [("maarten", "brouwer"), ("lotte", "dekker"), ("sven", "hoekstra"),
          ("iris", "mulder"), ("bram", "visser"), ("femke", "bos"), ("ruben", "kok"),
          ("noor", "jacobs"), ("thijs", "peters"), ("lieke", "willems"), ("daan", "smeets")]
REVIEWED = [
    raw_event(f"rv-{n}{side}", f"2024-06-03T1{n % 10}:{'00' if side == 'a' else '30'}:00Z",
              f"crm_ref:RV-{n}{side.upper()}", type_="crm_record",
              source="crm" if side == "a" else "shop",
              traits={"first_name": first, "last_name": last, "birth_date": "1975-05-05",
                      "street": "oudegracht", "city": "utrecht" if side == "a" else "zwolle"})
    for n, (first, last) in enumerate(PEOPLE) for side in "ab"]
# Thirteen customers of one name: more than a page of search results.
NAMESAKES = [raw_event(f"kim-{n}", f"2024-06-02T10:{n:02}:00Z", f"crm_id:K-{n}",
                       f"email:quirine{n}@example.org", type_="crm_record", source="crm",
                       traits={"first_name": "Quirine", "last_name": "Oosterhuis",
                               **({"city": "Zwolle"} if n == 0 else {})})
             for n in range(13)]
NARROW = {"width": 800, "height": 900}
WIDE = {"width": 1440, "height": 1000}


async def with_matcher(url: str) -> None:
    """Train a matcher into the store and ingest the household and the namesakes."""
    services = build_services(Settings(store=url))
    try:
        _, events = dataset()
        events += HOUSEHOLD
        await train_from_events(services.store, events, services.ingest.rules)
        await services.ingest.load_matcher()
        result = await services.ingest.ingest_raw(
            (e["event_id"], e) for e in [*events, *NAMESAKES, *REVIEWED])
        assert not [p for p in result.problems if p.rejected], result.problems
    finally:
        await services.close()
