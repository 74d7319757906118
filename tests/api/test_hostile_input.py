"""Hostile input (issue 12) at `idgraph load` and `ingestEvents`, on SQLite and Neo4j.

- A fuzz suite (hypothesis) throws batches of valid events mixed with malformed and
  extreme ones at the loader function `idgraph load` calls and at `ingestEvents` through
  the real GraphQL app: every good event is stored, every bad one is rejected with a reason
  naming its field, and every command still reads the store afterwards (export, segments
  refresh, train, campaigns, a profile query). IDGRAPH_FUZZ_PROFILE=idgraph-fuzz-deep runs
  many more examples than CI does.
- Focused regressions: the poisons of the issue in one ingestEvents call; a store holding
  values from before the bounds; defineSegment and updateSegment that fail store nothing.
"""

from __future__ import annotations

import io
import json
import logging
import os
import string
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.domain.events import Event
from app.domain.identifiers import normalise
from app.stores.errors import StoreUnavailable
from loaders.files import load_files
from tests.api.conftest import Api
from tests.loaders.hostile import HTTP_POISONS, good, line, nested

INGEST = """mutation($events: [JSON!]!) { r: ingestEvents(events: $events) {
  __typename
  ... on IngestSuccess { received stored duplicates rejected
                         problems { position eventId field reason rejected } } } }"""
DEFINE = """mutation($id: ID!, $definition: String!) { r: %s(id: $id, definition: $definition) {
  __typename ... on SegmentDefined { entered segment { size } } } }"""
SEGMENTS = "{ segments { id definition size } }"
PROFILE = """query($type: String!, $value: String!) { c: customerByIdentifier(type: $type,
  value: $value) { id profile { traits { name value } computed { name value } }
  timeline(first: 100) { edges { node { eventId properties traits } } }
  segments { segmentId } nextBestAction { step } } }"""
PERFORMANCE = """query($since: DateTime!, $until: DateTime!) { campaignPerformance(since: $since,
  until: $until, funnel: ["page_view", "purchase"], funnelWithinDays: 3660) {
  conversions value paths lastTouch { byCampaign { key conversions value } }
  funnel { step customers } } }"""
SEGMENT_DEFINITIONS = {
    "spenders": "sum(purchase.amount) > 10",
    "valued": "computed(lifetime_value) >= 0",
    "recent_buyers": "count(purchase where amount > 5) >= 1 within 30d",
    "lapsed": "computed(days_since_last_purchase) > 30",
}


async def post_events(api: Api, lines: list[bytes]) -> dict[str, Any]:
    """ingestEvents with the events as they are written: a JSON body holds what no JSON
    writer produces (400 digits, a lone surrogate escape)."""
    body = (b'{"query": ' + json.dumps(INGEST).encode() + b', "variables": {"events": ['
            + b",".join(lines) + b"]}}")
    response = await api.post(body, role="steward")
    assert response.status_code == 200, response.text[:500]
    found = response.json()
    assert "errors" not in found, found["errors"]
    return found["data"]["r"]


async def define_segments(api: Api) -> None:
    for name, text in SEGMENT_DEFINITIONS.items():
        done = await api.run("admin", DEFINE % "defineSegment", id=name, definition=text)
        assert done["r"]["__typename"] == "SegmentDefined", done


async def still_stored(api: Api, events: list[dict[str, Any]]) -> int:
    """How many of the events the store holds: ingesting them again finds each there."""
    again = await api.services.ingest.ingest_raw((e["event_id"], e) for e in events)
    return again.duplicates


async def every_command_reads_the_store(api: Api, touched: list[dict[str, Any]]) -> None:
    """What `idgraph export`, `segments refresh`, `train` and `campaigns` call, and the
    profile, segments and campaign queries of the API."""
    services = api.services
    exported = [cid async for cid, _ in services.customers.export()]
    assert len(exported) == (await services.store.stats()).customers
    await services.segments.refresh()
    await services.marketing.train()
    found = await api.run("reader", PERFORMANCE, since="1900-01-01T00:00:00Z",
                          until="2999-12-31T00:00:00Z")
    assert found["campaignPerformance"]["paths"] >= 0
    sizes = {s["id"]: s["size"] for s in (await api.run("reader", SEGMENTS))["segments"]}
    assert set(sizes) >= set(SEGMENT_DEFINITIONS)
    for raw in touched[:3]:
        first = raw["identifiers"][0]
        profile = await api.run("reader", PROFILE, type=first["type"], value=first["value"])
        assert profile["c"] is not None, first
        shown = [e["node"]["eventId"] for e in profile["c"]["timeline"]["edges"]]
        assert raw["event_id"] in shown or len(shown) == 100


# -- the poisons, in one call ---------------------------------------------------------
async def test_ingest_events_stores_the_good_events_of_a_call_and_names_each_poison(api):
    lines, goods, bad_at = [], [], {}
    for n, poison in enumerate(HTTP_POISONS):
        goods.append(good(f"g{n}"))
        lines.append(line(goods[-1]))
        bad_at[f"events[{len(lines)}]"] = poison
        lines.append(poison.make(f"bad-{n}"))

    result = await post_events(api, lines)

    assert result["__typename"] == "IngestSuccess"
    assert (result["stored"], result["rejected"]) == (len(goods), len(HTTP_POISONS))
    problems = {p["position"]: p for p in result["problems"] if p["rejected"]}
    assert set(problems) == set(bad_at)
    for at, poison in bad_at.items():
        assert problems[at]["field"].startswith(poison.field), (poison.name, problems[at])
        assert poison.reason in problems[at]["reason"], (poison.name, problems[at])
    assert await still_stored(api, goods) == len(goods)


# -- a store written before the bounds --------------------------------------------------------
def stored_before_the_bounds() -> list[Event]:
    """Events the old code accepted: they are written past today's parser."""
    cookie, email = normalise("cookie", "ck-old"), normalise("email", "old@example.com")
    campaign = {"utm_campaign": "spring", "utm_source": "mail"}

    def old(n: int, when: datetime, **properties: Any) -> Event:
        return Event(f"old-{n}", "purchase", when, "web", (cookie, email), {},
                     {**campaign, **properties}, {})

    return [old(1, datetime(2024, 5, 1, tzinfo=UTC), amount=10**400),
            old(2, datetime(2024, 5, 2, tzinfo=UTC), amount=1e308),
            old(3, datetime(2024, 5, 3, tzinfo=UTC), amount=1e308),
            old(4, datetime(1, 1, 1, tzinfo=UTC), amount=12),
            old(5, datetime(9999, 12, 31, tzinfo=UTC), amount=12),
            old(6, datetime(2024, 5, 4, tzinfo=UTC), amount=20)]


async def test_a_store_holding_values_from_before_the_bounds_serves_every_command(api, tmp_path):
    await api.services.ingest.ingest(stored_before_the_bounds())
    touched = good("new-1", identifiers=[{"type": "email", "value": "old@example.com"}],
                   type="purchase", properties={"amount": 30})

    await define_segments(api)  # defineSegment evaluates the customer
    result = await post_events(api, [line(touched)])  # an ingest that touches it
    assert (result["stored"], result["rejected"]) == (1, 0)
    path = tmp_path / "more.jsonl"  # and `idgraph load`
    path.write_bytes(line(good("new-2", identifiers=[{"type": "cookie", "value": "ck-old"}])))
    loaded = await load_files(api.services.ingest, [path])
    assert (loaded.stored, loaded.rejected) == (1, 0)
    await every_command_reads_the_store(api, [touched])

    profile = await api.run("reader", PROFILE, type="email", value="old@example.com")
    computed = {t["name"]: t["value"] for t in profile["c"]["profile"]["computed"]}
    assert computed["lifetime_value"] == 62.0  # 30 + 20 + 12 in year 1; the rest is ignored
    assert {s["segmentId"] for s in profile["c"]["segments"]} >= {"spenders", "valued"}
    found = await api.run("reader", PERFORMANCE, since="2024-01-01T00:00:00Z",
                          until="2025-01-01T00:00:00Z")
    assert found["campaignPerformance"]["value"] == 50.0


# -- definitions are all or nothing -----------------------------------------------------------
@dataclass
class Fault:
    """A fault injected where a definition is evaluated or written, reached once armed."""

    armed: bool = False
    reached: list[str] = field(default_factory=list)


@pytest.fixture
def faults(api, monkeypatch) -> dict[str, Fault]:
    import app.services.segments as segments_service

    real_catch_up = segments_service.catch_up
    real_write = api.counting.segment_transaction
    found = {"evaluate": Fault(), "write": Fault()}

    def catch_up(segments, facts, *args, **kwargs):  # a bug only one customer reaches
        if found["evaluate"].armed and facts.identifiers[:1] == ("cookie:c-p5",):
            found["evaluate"].reached.append(facts.customer_id)
            raise ZeroDivisionError("a bug")
        return real_catch_up(segments, facts, *args, **kwargs)

    async def segment_transaction(work, *args, **kwargs):  # the store goes away mid-define
        if found["write"].armed:
            found["write"].reached.append("write")
            raise StoreUnavailable("the store went away")
        return await real_write(work, *args, **kwargs)

    monkeypatch.setattr(segments_service, "catch_up", catch_up)
    monkeypatch.setattr(api.counting, "segment_transaction", segment_transaction)
    return found


@pytest.mark.parametrize("where", ["evaluate", "write"])
async def test_a_define_or_update_that_fails_stores_nothing(api, faults, where):
    buyers = [good(f"p{n}", type="purchase", properties={"amount": 10 * n}) for n in range(8)]
    assert (await post_events(api, [line(e) for e in buyers]))["stored"] == 8
    done = await api.run("admin", DEFINE % "defineSegment", id="buyers",
                         definition="sum(purchase.amount) >= 30")
    assert done["r"]["segment"]["size"] == 5
    before = (await api.run("reader", SEGMENTS))["segments"]

    faults[where].armed = True
    await api.fails("admin", DEFINE % "defineSegment", id="big",
                    definition="sum(purchase.amount) >= 50")
    await api.fails("admin", DEFINE % "updateSegment", id="buyers",
                    definition="sum(purchase.amount) >= 10")

    assert len(faults[where].reached) == 2  # the fault was met, twice
    assert (await api.run("reader", SEGMENTS))["segments"] == before
    faults[where].armed = False
    done = await api.run("admin", DEFINE % "defineSegment", id="big",
                         definition="sum(purchase.amount) >= 50")
    assert (done["r"]["entered"], done["r"]["segment"]["size"]) == (3, 3)


async def test_a_definition_that_cannot_be_put_back_either_is_logged(api, faults, monkeypatch,
                                                                     caplog):
    async def delete_segment(name, changes):  # the store is still away
        raise StoreUnavailable("still away")

    monkeypatch.setattr(api.counting, "delete_segment", delete_segment)
    assert (await post_events(api, [line(good("p1"))]))["stored"] == 1  # one to write
    faults["write"].armed = True
    with caplog.at_level(logging.ERROR, logger="idgraph.segments"):
        failed = await api.fails("admin", DEFINE % "defineSegment", id="big",
                                 definition="sum(purchase.amount) >= 50")

    assert failed.errors[0]["message"] == "the store is unavailable; try again shortly"
    [record] = [r for r in caplog.records if r.name == "idgraph.segments"]
    assert "segment big" in record.getMessage() and "StoreUnavailable" in record.getMessage()


# -- the fuzz suite ---------------------------------------------------------------------------
settings.register_profile(
    "idgraph-fuzz", max_examples=12, deadline=None, print_blob=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
settings.register_profile("idgraph-fuzz-deep", settings.get_profile("idgraph-fuzz"),
                          max_examples=300)
FUZZ = settings.get_profile(os.environ.get("IDGRAPH_FUZZ_PROFILE", "idgraph-fuzz"))

EARLIEST, LATEST = datetime(1900, 1, 2), datetime(2999, 12, 30)
_TEXT = st.text(st.characters(exclude_categories=("Cs", "Cc")), max_size=30)
_KEY = st.text(string.ascii_letters + "_. -é", min_size=1, max_size=12)
_NUMBER = (st.integers(-(10**38) + 1, 10**38 - 1)
           | st.floats(-1e37, 1e37, allow_nan=False, allow_infinity=False))
_VALUE = st.recursive(st.none() | st.booleans() | _NUMBER | _TEXT,
                      lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(_KEY, inner, max_size=3), max_leaves=8)


@st.composite
def timestamps(draw: Any, low: datetime = EARLIEST, high: datetime = LATEST) -> str:
    """RFC 3339 text with any offset, of a moment within [low, high] in UTC."""
    recent = draw(st.booleans())
    moment = draw(st.datetimes(datetime(2023, 1, 1) if recent else low,
                               datetime(2025, 12, 31) if recent else high))
    offset = timedelta(minutes=draw(st.integers(-(23 * 60 + 59), 23 * 60 + 59)))
    return (moment.replace(tzinfo=UTC) + offset).replace(tzinfo=timezone(offset)).isoformat()


@st.composite
def valid_events(draw: Any) -> dict[str, Any]:
    """A valid event whose values roam within the bounds. Its id is set by the caller."""
    people = st.integers(0, 30)
    identifiers = draw(st.lists(st.one_of(
        people.map(lambda p: {"type": "cookie", "value": f"ck-{p}"}),
        people.map(lambda p: {"type": "email", "value": f"person{p}@example.com"})),
        min_size=1, max_size=3))
    kind = draw(st.sampled_from(["page_view", "purchase", "login", "crm_record"]))
    event = {"event_id": "", "type": kind, "timestamp": draw(timestamps()),
             "source": draw(st.sampled_from(["web", "app", "pos", "crm"])),
             "identifiers": identifiers}
    properties = draw(st.dictionaries(_KEY, _VALUE, max_size=3))
    if kind == "purchase":
        properties["amount"] = draw(_NUMBER | _NUMBER.map(str))
    if draw(st.booleans()):
        properties |= {"utm_campaign": draw(st.sampled_from(["spring", "sale"])),
                       "utm_source": draw(st.sampled_from(["mail", "ads"]))}
    if properties:
        event["properties"] = properties
    traits = draw(st.dictionaries(st.sampled_from(["first_name", "city", "birth_date", "note"])
                                  | _KEY, _VALUE, max_size=3))
    if traits:
        event["traits"] = traits
    if draw(st.booleans()):
        event["consent"] = {"email_marketing": draw(st.booleans())}
    return event


@dataclass(frozen=True)
class Bad:
    """A valid event spoilt by one fault, as the bytes of a JSON line."""

    text: bytes
    field: str  # the field its rejection names (it starts with this)
    reason: str  # a word its reason holds
    also: str = ""  # another field the rejection may name instead (nesting past the stack)


def _spoil(event: dict[str, Any], where: str, value: Any) -> dict[str, Any]:
    spoilt = json.loads(json.dumps(event))
    if where == "identifiers[0].value":
        spoilt["identifiers"][0]["value"] = value
    elif "." in where:
        part, name = where.split(".", 1)
        spoilt.setdefault(part, {})[name] = value
    else:
        spoilt[where] = value
    return spoilt


@st.composite
def bad_events(draw: Any, over_http: bool) -> Bad:
    event = draw(valid_events())
    kind = draw(st.sampled_from(["digits", "exponent", "magnitude", "constant", "timestamp",
                                 "surrogate", "nul", "depth", "long", "values", "utf8"]
                                if not over_http else
                                ["digits", "exponent", "magnitude", "timestamp", "surrogate",
                                 "nul", "depth", "long", "values"]))
    where = draw(st.sampled_from(["properties.amount", "traits.score", "properties.x"]))
    if kind in ("digits", "exponent", "magnitude", "constant"):
        literal = {
            "digits": lambda: "1" + "0" * draw(st.integers(38, 4000 if over_http else 6000)),
            "exponent": lambda: draw(st.sampled_from(["", "-"])) + "1e"
            + str(draw(st.integers(309, 99_999))),
            "magnitude": lambda: draw(st.sampled_from([str(10**38), str(-(10**38)), "1e39",
                                                       "-2.5e300", str(10**60 + 7)])),
            "constant": lambda: draw(st.sampled_from(["NaN", "Infinity", "-Infinity"])),
        }[kind]()
        return Bad(line(_spoil(event, where, "@N@"), N=literal), where, "number")
    if kind == "timestamp":
        early = draw(st.booleans())
        low, high = ((datetime(1, 1, 2), datetime(1899, 12, 30)) if early
                     else (datetime(3000, 1, 2), datetime(9999, 12, 30)))
        edge = draw(st.sampled_from([None, "9999-12-31T23:59:59-00:01",
                                     "9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+14:00",
                                     "0001-01-01T00:00:00+00:01"]))
        text = edge or draw(st.datetimes(low, high)).isoformat() + draw(
            st.sampled_from(["Z", "+14:00", "-12:00", "+05:45"]))
        return Bad(line({**event, "timestamp": text}), "timestamp", "range")
    if kind in ("surrogate", "nul"):
        bad = chr(draw(st.integers(0xD800, 0xDFFF))) if kind == "surrogate" else "\0"
        where = draw(st.sampled_from(["event_id", "identifiers[0].value", "source",
                                      "traits.note", "properties.x"]))
        if where == "event_id":  # the caller's id, spoilt where the caller sets it
            return Bad(line({**event, "event_id": "@ID@" + bad}), "event_id",
                       "surrogate" if kind == "surrogate" else "NUL")
        original = "x" if where != "identifiers[0].value" else event["identifiers"][0]["value"]
        at = draw(st.integers(0, len(original)))
        spoilt = original[:at] + bad + original[at:]
        return Bad(line(_spoil(event, where, spoilt)), where,
                   "surrogate" if kind == "surrogate" else "NUL")
    if kind == "depth":
        depth = draw(st.integers(31, 38 if over_http else 6000))
        return Bad(line(_spoil(event, "properties.x", "@N@"), N=nested(depth)),
                   "properties.x[0]", "nest", also="message")
    if kind == "long":
        text = "x" * draw(st.integers(65_537, 70_000))
        return Bad(line(_spoil(event, "traits.note", text)), "traits.note", "characters")
    if kind == "values":
        items = [0] * draw(st.integers(10_001, 10_200))
        return Bad(line(_spoil(event, "properties.list", items)), "event", "values")
    # bytes that are not UTF-8, in an identifier
    spoilt = line(_spoil(event, "identifiers[0].value", "@V@"))
    return Bad(spoilt.replace(b"@V@", b"v\xff\xfe"), "identifiers[0].value", "UTF-8")


def batches(over_http: bool) -> st.SearchStrategy[list[tuple[bool, Any]]]:
    """Good events and bad ones, shuffled: (True, event) or (False, Bad)."""
    return st.lists(st.one_of(valid_events().map(lambda e: (True, e)),
                              bad_events(over_http).map(lambda b: (False, b))),
                    min_size=1, max_size=12)


@dataclass
class Example:
    """One drawn batch as lines: the good events (with their ids) and the bad ones by
    index."""

    lines: list[bytes] = field(default_factory=list)
    goods: list[dict[str, Any]] = field(default_factory=list)
    bads: dict[int, Bad] = field(default_factory=dict)

    @classmethod
    def of(cls, batch: list[tuple[bool, Any]], prefix: str) -> Example:
        example = cls()
        for n, (valid, item) in enumerate(batch):
            event_id = f"{prefix}-{n}"
            if valid:
                example.goods.append({**item, "event_id": event_id})
                example.lines.append(line(example.goods[-1]))
            else:
                example.bads[n] = item
                text = item.text.replace(b'"@ID@', b'"' + event_id.encode())
                example.lines.append(text.replace(b'"event_id": ""',
                                                  f'"event_id": "{event_id}"'.encode(), 1))
        return example

    def check(self, rejected: dict[int, dict[str, Any]], stored: int) -> None:
        assert stored == len(self.goods)
        assert set(rejected) == set(self.bads), (rejected, self.bads)
        for n, bad in self.bads.items():
            problem = rejected[n]
            named = problem["field"].startswith(bad.field) or problem["field"] == bad.also
            assert named and bad.reason in problem["reason"], (problem, bad.field, bad.reason)


class Counter:
    def __init__(self) -> None:
        self.n = 0

    def next(self, name: str) -> str:
        self.n += 1
        return f"{name}{self.n}"


@pytest.fixture
async def fuzzed(api) -> tuple[Api, Counter]:
    await define_segments(api)
    return api, Counter()


@FUZZ
@given(batch=batches(over_http=False))
async def test_fuzz_idgraph_load_keeps_every_good_event_and_rejects_every_bad_one(
        fuzzed, tmp_path, batch):
    api, counter = fuzzed
    example = Example.of(batch, counter.next("load"))
    path = tmp_path / f"{counter.n}.jsonl"
    path.write_bytes(b"\n".join(example.lines) + b"\n")
    rejects = io.StringIO()

    result = await load_files(api.services.ingest, [path], batch_size=5, rejects=rejects)

    problems = [json.loads(x) for x in rejects.getvalue().splitlines()]
    rejected = {int(p["position"].rsplit(":", 1)[1]) - 1: p for p in problems
                if p["action"] == "event rejected"}
    example.check(rejected, result.stored)
    assert await still_stored(api, example.goods) == len(example.goods)
    await every_command_reads_the_store(api, example.goods)


@FUZZ
@given(batch=batches(over_http=True))
async def test_fuzz_ingest_events_keeps_every_good_event_and_rejects_every_bad_one(
        fuzzed, batch):
    api, counter = fuzzed
    example = Example.of(batch, counter.next("api"))

    result = await post_events(api, example.lines)

    assert result["__typename"] == "IngestSuccess"
    rejected = {int(p["position"][len("events["):-1]): p for p in result["problems"]
                if p["rejected"]}
    example.check(rejected, result["stored"])
    assert await still_stored(api, example.goods) == len(example.goods)
    await every_command_reads_the_store(api, example.goods)
