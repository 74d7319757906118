"""The segment index: which inputs each definition reads, which segments a write can
affect, and streaming evaluation of only those giving exactly the memberships and the
history of evaluating every segment at every moment (tests/segment_reference.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.domain.segments import Membership, Vocabulary, catch_up, define_segment, parse_segment
from app.domain.segments.evaluate import Catalogue
from app.domain.segments.index import CREATED, SegmentIndex, reads
from app.domain.traits import CustomerFacts, EventView, TraitsConfig, shift
from tests.segment_reference import catch_up_every_segment

TRAITS = TraitsConfig.default()
VOCABULARY = Vocabulary.of(TRAITS)
T0 = "2024-03-01T12:00:00.000000Z"


def catalogue(**texts: str) -> dict[str, object]:
    found: dict = {}
    for name, text in texts.items():
        found = define_segment(found, name, text, VOCABULARY)
    return found


def read_by(text: str) -> frozenset[str]:
    return reads(parse_segment("s", text, VOCABULARY), TRAITS)


# -- what a definition reads ------------------------------------------------------------
def test_each_condition_reads_its_input() -> None:
    assert read_by("count(purchase) >= 1") == {"event:purchase"}
    assert read_by("count(*) >= 3 within 1d") == {"event:*"}
    assert read_by("sum(purchase.amount) >= 5 within 7d") == {"event:purchase"}
    assert read_by('trait(city) = "Utrecht"') == {"trait:city"}
    assert read_by("has(device_id)") == {"identifier:device_id"}
    assert read_by("consent(email_marketing)") == {"consent:email_marketing"}


def test_a_computed_trait_reads_what_its_definition_reads() -> None:
    assert read_by("computed(lifetime_value) >= 100") == {"event:purchase"}
    assert read_by("computed(events_30d.purchase) >= 2") == {"event:*"}
    assert read_by("computed(device_count) >= 2") == {"identifier:device_id"}


def test_combinators_read_the_union_and_in_segment_reads_no_input() -> None:
    segments = catalogue(a="has(email)",
                         b="in_segment(a) AND NOT (count(call) >= 1 OR consent(sms))")
    assert reads(segments["b"], TRAITS) == {"event:call", "consent:sms"}


# -- which segments a write affects ---------------------------------------------------------
def test_a_write_affects_the_readers_of_its_inputs_and_their_dependents() -> None:
    index = SegmentIndex.of(catalogue(
        mailable="has(email)",
        buyers="count(purchase) >= 1",
        busy="count(*) >= 2",
        lapsing="in_segment(buyers) AND NOT count(purchase) >= 1 within 1d",
        lapsing_mailable="in_segment(lapsing) AND in_segment(mailable)",
        city='trait(city) = "Utrecht"',
    ), TRAITS)
    assert index.affected({"event:page_view"}, time_due=False) == {"busy"}
    assert index.affected({"event:purchase"}, time_due=False) == {
        "buyers", "busy", "lapsing", "lapsing_mailable"}
    assert index.affected({"identifier:email"}, time_due=False) == {
        "mailable", "lapsing_mailable"}
    assert index.affected({"trait:city", "identifier:phone"}, time_due=False) == {"city"}
    assert index.affected(set(), time_due=False) == set()
    assert index.affected(None, time_due=False) == index.names


def test_a_due_time_check_adds_every_segment_time_can_change() -> None:
    index = SegmentIndex.of(catalogue(
        mailable="has(email)", recent="count(purchase) >= 1 within 1d",
        recent_mailable="in_segment(recent) AND in_segment(mailable)"), TRAITS)
    assert index.affected(set(), time_due=True) == {"recent", "recent_mailable"}


def test_a_new_customer_is_evaluated_for_its_inputs_and_what_no_data_satisfies() -> None:
    index = SegmentIndex.of(catalogue(
        anonymous="NOT has(email)", buyers="count(purchase) >= 1",
        anonymous_buyers="in_segment(anonymous) AND in_segment(buyers)",
        mailable="has(email)"), TRAITS)
    assert index.without_data == {"anonymous", "anonymous_buyers"}
    assert index.new_customer({CREATED, "event:page_view"}) == {"anonymous", "anonymous_buyers"}
    # without CREATED the customer may hold data from before its check: everything
    assert index.new_customer({"event:page_view"}) == index.names


# -- indexed streaming equals evaluating everything --------------------------------------
LEAVES = [
    "count(purchase) >= 1", "count(purchase) >= 2", "count(page_view) >= 2 within 2d",
    "count(*) >= 3 within 1d", "sum(purchase.amount) >= 50 within 7d",
    "count(purchase where amount >= 30) >= 1", "count(add_to_cart) >= 1 within 1d",
    "has(email)", "has(device_id)", "consent(email_marketing)", 'trait(city) = "Utrecht"',
    "computed(lifetime_value) >= 60", "computed(order_count) >= 2",
    "computed(device_count) >= 1", "computed(days_since_last_purchase) > 2",
    "computed(events_7d.page_view) >= 2",
]
TYPES = ["purchase", "page_view", "add_to_cart", "email_open"]


@st.composite
def catalogues(draw: st.DrawFn) -> Catalogue:
    found: dict = {}
    for n in range(draw(st.integers(2, 7))):
        pool = LEAVES + [f"in_segment(s{j})" for j in range(n)]
        parts = [("NOT " if draw(st.booleans()) else "") + draw(st.sampled_from(pool))
                 for _ in range(draw(st.integers(1, 3)))]
        text = f" {draw(st.sampled_from(['AND', 'OR']))} ".join(parts)
        found = define_segment(found, f"s{n}", text, VOCABULARY)
    return found


@st.composite
def writes(draw: st.DrawFn) -> list[dict]:
    """A customer's writes: each a moment (later than the one before) and its events,
    some dated late, with traits, consent and new identifiers now and then."""
    found, hours = [], 0
    for _ in range(draw(st.integers(1, 8))):
        hours += draw(st.integers(0, 60))
        events = [(draw(st.sampled_from(TYPES)), hours - draw(st.sampled_from([0, 0, 0, 5, 30])),
                   draw(st.integers(1, 80))) for _ in range(draw(st.integers(0, 3)))]
        found.append({
            "hours": hours, "events": events,
            "traits": draw(st.sampled_from([{}, {}, {"city": "Utrecht"}, {"city": "Delft"}])),
            "consent": draw(st.sampled_from([{}, {}, {"email_marketing": True},
                                             {"email_marketing": False}])),
            "identifier": draw(st.sampled_from([None, None, "email", "device_id", "phone"])),
        })
    return found


@dataclass
class Customer:
    events: list[EventView] = field(default_factory=list)
    identifiers: set[str] = field(default_factory=set)
    traits: dict = field(default_factory=dict)
    consent: dict = field(default_factory=dict)

    def apply(self, write: dict, n: int) -> set[str]:
        """The write's facts added; the inputs it touched, as pending checks name them."""
        touched = set()
        for k, (type_, hours, amount) in enumerate(write["events"]):
            when = shift(T0, timedelta(hours=hours))
            self.events.append(EventView(f"e{n:02d}{k}", type_, when, "web", {"amount": amount}))
            touched.add(f"event:{type_}")
        self.traits |= write["traits"]
        self.consent |= write["consent"]
        touched |= {f"trait:{t}" for t in write["traits"]}
        touched |= {f"consent:{p}" for p in write["consent"]}
        if write["identifier"]:
            self.identifiers.add(f"{write['identifier']}:v{n}")
            touched.add(f"identifier:{write['identifier']}")
        return touched

    def facts(self) -> CustomerFacts:
        return CustomerFacts("c1", tuple(self.events), tuple(self.identifiers),
                             dict(self.traits), dict(self.consent))


@given(catalogues(), writes())
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_indexed_streaming_gives_the_history_of_evaluating_everything(segments, history) -> None:
    index = SegmentIndex.of(segments, TRAITS)
    customer = Customer()
    indexed: dict[str, Membership] = {}
    reference: dict[str, Membership] = {}
    checked_at = reference_at = next_check = None
    for n, write in enumerate(history):
        touched = customer.apply(write, n) | ({CREATED} if n == 0 else set())
        now = shift(T0, timedelta(hours=write["hours"]))
        facts = customer.facts()
        if checked_at is None:
            only = index.new_customer(touched)
        else:
            only = index.affected(touched, time_due=next_check is not None and next_check <= now)
        done = catch_up(segments, facts, indexed, checked_at, now, traits=TRAITS, only=only,
                        next_check=next_check)
        full = catch_up_every_segment(segments, facts, reference, reference_at, now,
                                      traits=TRAITS)
        assert done.changes == full.changes
        assert done.memberships == full.memberships
        indexed, checked_at, next_check = done.memberships, done.checked_at, done.next_check
        reference, reference_at = full.memberships, full.checked_at
        # a kept next check may be earlier than needed, never later
        assert full.next_check is None or (next_check is not None
                                           and next_check <= full.next_check)


@given(catalogues(), writes())
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_a_replay_that_steps_each_segment_alone_equals_stepping_everything(segments,
                                                                          history) -> None:
    """Batch refresh of a customer never checked: the whole history replayed at once."""
    customer = Customer()
    for n, write in enumerate(history):
        customer.apply(write, n)
    now = shift(T0, timedelta(hours=history[-1]["hours"] + 24 * 9))
    done = catch_up(segments, customer.facts(), {}, None, now, traits=TRAITS)
    full = catch_up_every_segment(segments, customer.facts(), {}, None, now, traits=TRAITS)
    assert (done.changes, done.memberships, done.next_check) == (
        full.changes, full.memberships, full.next_check)
