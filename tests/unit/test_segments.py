"""Segments: the language, every condition and combinator, windows expiring, refused
definitions, membership history, and streaming evaluation equal to batch."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.domain.events import format_ts
from app.domain.segments import (
    ENTERED,
    LEFT,
    Membership,
    Segment,
    SegmentError,
    Vocabulary,
    catch_up,
    define_segment,
    delete_segment,
    dependents,
    diff,
    evaluate,
    evaluate_all,
    evaluation_order,
    merged,
    next_change_at,
    parse_condition,
    parse_segment,
    periods,
    render,
)
from app.domain.segments.language import (
    And,
    Compare,
    EventCondition,
    FieldCondition,
    HasIdentifier,
    Not,
    Or,
    TraitCondition,
)
from app.domain.traits import CustomerFacts, EventView, TraitsConfig, moment, shift

T0 = "2024-03-01T12:00:00.000000Z"
VOCABULARY = Vocabulary.of(TraitsConfig.default())


def at(days: float = 0, hours: float = 0) -> str:
    return shift(T0, timedelta(days=days, hours=hours))


def ev(n: int, when: str, type_: str = "page_view", source: str = "web", **props) -> EventView:
    return EventView(f"e{n:03d}", type_, when, source, props)


def buy(n: int, when: str, amount: float, source: str = "web", **props) -> EventView:
    return ev(n, when, "purchase", source, amount=amount, **props)


def customer(*events: EventView, identifiers=("email:ann@example.com",), traits=None,
             consent=None) -> CustomerFacts:
    return CustomerFacts("c1", events, identifiers, traits or {}, consent or {})


def segment(text: str, name: str = "s") -> Segment:
    return parse_segment(name, text, VOCABULARY)


def check(text: str, facts: CustomerFacts, now: str = T0) -> bool:
    return evaluate(segment(text), facts, now).member


def catalogue(**definitions: str) -> dict[str, Segment]:
    segments: dict[str, Segment] = {}
    names = set(definitions)
    vocabulary = Vocabulary.of(TraitsConfig.default(), segments=names)
    for name, text in definitions.items():
        segments[name] = parse_segment(name, text, vocabulary)
    return segments


# -- the language ----------------------------------------------------------------------------
@pytest.mark.parametrize("text", [
    'trait(city) = "Amsterdam"',
    'trait(city) != "Amsterdam"',
    "trait(age) >= 18",
    'trait(city) in ["Amsterdam", "Utrecht"]',
    "trait(birth_date) exists",
    'trait("date of birth") exists',
    "trait(vip) = true",
    "computed(lifetime_value) >= 100",
    "computed(average_order_value) < 25.5",
    "computed(events_30d.purchase) >= 2",
    "computed(events_7d) exists",
    'computed(favourite_channel) = "app"',
    "count(purchase) >= 2",
    "count(purchase where amount > 50) >= 2 within 30d",
    'count(* where source = "app") >= 1 within 12h',
    'count(page_view where url = "https://x.example/sale" OR NOT screen exists) > 3 within 14d',
    "sum(purchase.amount) >= 200 within 90d",
    'sum(purchase.amount where category in ["shoes", "jeans"]) > 100',
    "has(email)",
    "consent(email_marketing)",
    "in_segment(churned)",
    "has(email) AND has(phone)",
    "has(email) OR has(phone)",
    "NOT has(email)",
    "NOT (has(email) AND has(phone))",
    "(has(email) OR has(phone)) AND consent(sms)",
    "has(email) OR has(phone) AND consent(sms)",
    "NOT NOT has(email)",
])
def test_the_canonical_text_parses_back_to_the_same_tree(text):
    tree = parse_condition(text, VOCABULARY)
    assert render(tree) == text
    assert parse_condition(render(tree), VOCABULARY) == tree


def test_not_binds_tighter_than_and_which_binds_tighter_than_or():
    tree = parse_condition("NOT has(a) AND has(b) OR has(c)")
    assert tree == Or((And((Not(HasIdentifier("a")), HasIdentifier("b"))), HasIdentifier("c")))


def test_keywords_are_case_insensitive_and_comments_and_line_breaks_are_allowed():
    tree = parse_condition("""
        # buyers with an e-mail address
        count(purchase WHERE amount >= 50) >= 1 Within 30 days
        and has(email)   # for the newsletter
    """)
    assert render(tree) == "count(purchase where amount >= 50) >= 1 within 30d AND has(email)"


def test_filters_read_properties_and_the_event_source_and_type():
    tree = parse_condition('count(* where source = "app" and properties.source = "x" and '
                           'type != "login" and order.total > 1) >= 1')
    assert isinstance(tree, EventCondition)
    names = [f.name for f in tree.where.items if isinstance(f, FieldCondition)]
    assert names == ["source", "properties.source", "type", "properties.order.total"]


def test_weeks_are_written_back_as_days():
    assert render(parse_condition("count(*) >= 1 within 2w")) == "count(*) >= 1 within 14d"


def test_equals_spelled_twice_and_not_equal_spelled_as_brackets():
    assert parse_condition("trait(a) == 1") == TraitCondition("a", Compare("=", 1))
    assert parse_condition("trait(a) <> 1") == TraitCondition("a", Compare("!=", 1))


# -- refused definitions -----------------------------------------------------------------------
@pytest.mark.parametrize(("text", "reason", "line", "column"), [
    ("computed(lifetime_valu) >= 100",
     "unknown computed trait 'lifetime_valu'; did you mean 'lifetime_value'?", 1, 10),
    ("has(email) AND\n  computed(order_cnt) > 1", "unknown computed trait 'order_cnt'", 2, 12),
    ("purchases(amount > 50) >= 2", "unknown condition 'purchases'", 1, 1),
    ('trait(city) = Amsterdam', 'write text in double quotes: "Amsterdam"', 1, 15),
    ("trait(city) = 'Amsterdam'", "text goes in double quotes", 1, 15),
    ("has(email) AND", "expected a condition", 1, 15),
    ("has(email) has(phone)", "expected AND, OR or the end of the definition, found 'has'", 1, 12),
    ("(has(email) OR has(phone)", "expected ')' to close the parenthesis", 1, 26),
    ("count(purchase) >= 2 within 30x", "a duration is a whole number", 1, 31),
    ("count(purchase) within 30d >= 2", "expected a comparison after count(...)", 1, 17),
    ('count(purchase) >= "two"', "count(...) compares with a number", 1, 20),
    ("sum(purchase) > 100", "expected '.' and the property to add up", 1, 13),
    ("computed(events_30d) >= 2", "compare one entry, such as computed(events_30d.purchase)",
     1, 10),
    ("computed(order_count.purchase) >= 2", "is a single value, it has no entries", 1, 22),
    ("trait(city) like \"A%\"", "expected a comparison (= != < <= > >=), in [...] or exists",
     1, 13),
    ("  # only a comment", "a definition needs at least one condition", 1, 19),
    ("has(email) AND \u201cx\u201d", "unexpected character", 1, 16),
    ("count(purchase where amount > 50 AND has(email)) >= 1",
     "close the count or sum with ')' before has(...)", 1, 38),
])
def test_an_invalid_definition_is_refused_pointing_at_the_fault(text, reason, line, column):
    with pytest.raises(SegmentError) as raised:
        parse_segment("buyers", text, VOCABULARY)
    error = raised.value
    assert reason in error.reason
    assert (error.line, error.column) == (line, column)
    assert error.segment == "buyers"
    message = str(error)
    assert message.startswith(f"segment 'buyers', line {line}, column {column}: ")
    shown, caret = message.splitlines()[1:3]
    assert shown.strip() == text.splitlines()[line - 1].strip()
    assert caret.index("^") - 4 == column - 1


def test_unknown_names_are_refused_when_the_vocabulary_knows_the_names():
    vocabulary = Vocabulary.of(TraitsConfig.default(), profile_traits=["city", "first_name"],
                               event_types=["purchase", "page_view"],
                               identifier_types=["email", "phone", "device_id"],
                               consent_purposes=["email_marketing"], segments=["vip"])
    for text, fragment in [
        ('trait(cty) = "x"', "unknown trait 'cty'; did you mean 'city'?"),
        ("count(purchse) >= 1", "unknown event type 'purchse'; did you mean 'purchase'?"),
        ("computed(events_7d.purchses) > 1", "unknown event type 'purchses'"),
        ("has(emial)", "unknown identifier type 'emial'; did you mean 'email'?"),
        ("consent(sms)", "unknown consent purpose 'sms'; known: email_marketing"),
        ("in_segment(vipp)", "unknown segment 'vipp'; did you mean 'vip'?"),
    ]:
        with pytest.raises(SegmentError, match=None) as raised:
            parse_condition(text, vocabulary)
        assert fragment in str(raised.value), text


def test_a_bad_segment_name_is_refused():
    with pytest.raises(SegmentError, match="lower_snake_case"):
        parse_segment("High Value", "has(email)")


# -- every condition ---------------------------------------------------------------------------
def test_trait_conditions_compare_the_profile_value():
    ann = customer(traits={"city": "Amsterdam", "age": "42", "vip": True})
    assert check('trait(city) = "Amsterdam"', ann)
    assert not check('trait(city) = "amsterdam"', ann)  # text is compared exactly
    assert check('trait(city) != "Utrecht"', ann)
    assert check('trait(city) in ["Utrecht", "Amsterdam"]', ann)
    assert check("trait(age) > 40", ann)  # numeric text compares as a number
    assert check("trait(vip) = true", ann)
    assert check("trait(city) exists", ann)
    assert not check("trait(vip) > 0", ann)  # true is not a number


def test_a_missing_trait_satisfies_no_comparison_not_even_not_equal():
    nobody = customer()
    assert not check('trait(city) = "Amsterdam"', nobody)
    assert not check('trait(city) != "Amsterdam"', nobody)
    assert not check("trait(city) exists", nobody)
    assert check("NOT trait(city) exists", nobody)


def test_computed_conditions_read_the_computed_traits_at_now():
    buyer = customer(buy(1, at(-40), 80), buy(2, at(-3), 40), ev(3, at(-1)))
    assert check("computed(lifetime_value) >= 100", buyer)
    assert check("computed(order_count) = 2", buyer)
    assert check("computed(average_order_value) = 60", buyer)
    assert check("computed(days_since_last_purchase) <= 3", buyer)
    assert check("computed(events_30d.purchase) = 1", buyer)
    assert check("computed(events_30d.call) = 0", buyer)  # a type never seen counts 0
    assert check('computed(favourite_channel) = "web"', buyer)


def test_event_conditions_count_and_add_up_matching_events_in_the_window():
    shopper = customer(buy(1, at(-40), 200), buy(2, at(-20), 60, "app"), buy(3, at(-10), 55),
                       buy(4, at(-5), 20), ev(5, at(-1)))
    assert check("count(purchase where amount > 50) >= 2 within 30d", shopper)
    assert not check("count(purchase where amount > 50) >= 3 within 30d", shopper)
    assert check("count(purchase where amount > 50) >= 3", shopper)  # no window: all time
    assert check('count(purchase where source = "app") = 1', shopper)
    assert check("count(*) = 5", shopper)
    assert check("count(*) = 2 within 7d", shopper)
    assert check("sum(purchase.amount) = 335", shopper)
    assert check("sum(purchase.amount) = 135 within 30d", shopper)
    assert check('sum(purchase.amount where source = "web") = 75 within 30d', shopper)


def test_a_sum_or_a_computed_total_past_the_bound_of_one_amount_still_compares():
    """Each amount is below 10^38 (app/domain/bounds.py); two of them add up past it, and
    the total is still a number that compares."""
    big = customer(buy(1, at(-2), 9e37), buy(2, at(-1), 9e37))
    assert check("sum(purchase.amount) > 1000", big)
    assert check("computed(lifetime_value) >= 200", big)
    assert not check("sum(purchase.amount) < 1000", big)


def test_identifier_presence():
    app_user = customer(identifiers=("email:a@example.com", "device_id:d1"))
    assert check("has(email)", app_user)
    assert check("has(device_id)", app_user)
    assert not check("has(phone)", app_user)


def test_consent_holds_only_for_a_yes():
    assert check("consent(email_marketing)", customer(consent={"email_marketing": True}))
    refused = evaluate(segment("consent(email_marketing)"),
                       customer(consent={"email_marketing": False}), T0)
    assert not refused.member
    assert refused.why == ("consent(email_marketing) (value: \"refused\")",)
    assert not check("consent(email_marketing)", customer())


def test_segment_membership_reads_other_segments_in_dependency_order():
    segments = catalogue(
        buyer="count(purchase) >= 1",
        loyal="in_segment(buyer) AND count(purchase) >= 2",
        lapsed_loyal="in_segment(loyal) AND NOT count(purchase) >= 1 within 30d",
    )
    assert evaluation_order(segments) == ["buyer", "loyal", "lapsed_loyal"]
    results = evaluate_all(segments, customer(buy(1, at(-90), 10), buy(2, at(-60), 10)), T0)
    assert {n: r.member for n, r in results.items()} == {
        "buyer": True, "loyal": True, "lapsed_loyal": True}
    with pytest.raises(SegmentError, match="evaluated first"):
        evaluate(segments["loyal"], customer(), T0)
    assert evaluate(segments["loyal"], customer(), T0, memberships={"buyer": False}).why == (
        "in_segment(buyer)", "count(purchase) >= 2 (value: 0)")


# -- combinators and why ---------------------------------------------------------------------
ANN = customer(buy(1, at(-2), 70), identifiers=("email:ann@example.com",),
               traits={"city": "Utrecht"}, consent={"email_marketing": True})


def test_and_holds_when_every_part_holds_and_says_all_of_them():
    result = evaluate(segment("count(purchase) >= 1 within 7d AND has(email) AND "
                              "consent(email_marketing)"), ANN, T0)
    assert result.member
    assert result.why == ("count(purchase) >= 1 within 7d (value: 1)", "has(email)",
                          'consent(email_marketing) (value: "granted")')


def test_a_failing_and_says_which_parts_failed():
    result = evaluate(segment('has(email) AND trait(city) = "Amsterdam" AND has(phone)'), ANN, T0)
    assert not result.member
    assert result.why == ('trait(city) = "Amsterdam" (value: "Utrecht")', "has(phone)")


def test_or_holds_when_a_part_holds_and_says_which():
    result = evaluate(segment('trait(city) = "Amsterdam" OR has(email) OR has(phone)'), ANN, T0)
    assert result.member and result.why == ("has(email)",)
    result = evaluate(segment('trait(city) = "Amsterdam" OR has(phone)'), ANN, T0)
    assert not result.member and len(result.why) == 2


def test_not_flips_and_keeps_the_not_in_the_why():
    result = evaluate(segment("NOT has(phone)"), ANN, T0)
    assert result.member and result.why == ("NOT has(phone)",)
    result = evaluate(segment('NOT (has(email) AND trait(city) = "Amsterdam")'), ANN, T0)
    assert result.member
    assert result.why == ('NOT trait(city) = "Amsterdam" (value: "Utrecht")',)
    assert not evaluate(segment("NOT has(email)"), ANN, T0).member


def test_the_why_text_joins_the_conditions():
    result = evaluate(segment("has(email) AND NOT has(phone)"), ANN, T0)
    assert result.why_text == "has(email); NOT has(phone)"


# -- windows expiring as now moves -------------------------------------------------------------
def test_a_window_condition_expires_without_any_event_and_says_when():
    repeat = segment("count(purchase where amount > 50) >= 2 within 30d")
    facts = customer(buy(1, at(0), 60), buy(2, at(10), 80), buy(3, at(12), 20))
    assert evaluate(repeat, facts, at(15)).member
    expiry = next_change_at({"s": repeat}, facts, at(15))
    assert expiry == at(30)  # the purchase of day 0 leaves the window
    assert evaluate(repeat, facts, shift(expiry, -timedelta(microseconds=1))).member
    assert not evaluate(repeat, facts, expiry).member
    assert next_change_at({"s": repeat}, facts, expiry) == at(40)
    assert next_change_at({"s": repeat}, facts, at(40)) is None


def test_a_days_since_condition_is_rechecked_every_day():
    lapsed = segment("computed(days_since_last_purchase) >= 30")
    facts = customer(buy(1, at(0), 10))
    assert next_change_at({"s": lapsed}, facts, at(29, hours=3)) == at(30)
    assert not evaluate(lapsed, facts, at(29, hours=23)).member
    assert evaluate(lapsed, facts, at(30)).member


def test_a_days_since_condition_is_rechecked_only_where_it_can_flip():
    lapsed = segment("computed(days_since_last_purchase) > 60")
    facts = customer(buy(1, at(0), 10))
    assert next_change_at({"s": lapsed}, facts, at(1)) == at(60)  # not every day
    assert next_change_at({"s": lapsed}, facts, at(60)) == at(61)
    assert not evaluate(lapsed, facts, at(61, hours=-1)).member
    assert evaluate(lapsed, facts, at(61)).member
    assert next_change_at({"s": lapsed}, facts, at(61)) is None
    named = segment('computed(days_since_last_purchase) = "7"')  # text: a number still
    assert next_change_at({"s": named}, facts, at(1)) == at(7)
    present = segment("computed(days_since_last_purchase) exists")
    assert next_change_at({"s": present}, facts, at(1)) is None


def test_conditions_without_time_never_change_on_their_own():
    facts = customer(buy(1, at(0), 10))
    segments = catalogue(a="has(email) AND count(purchase) >= 1 AND trait(city) exists")
    assert next_change_at(segments, facts, at(1)) is None


def test_next_change_follows_the_segments_a_segment_reads():
    segments = catalogue(recent="count(*) >= 1 within 7d", plain="in_segment(recent)",
                         other="count(*) >= 1 within 1d")
    facts = customer(ev(1, at(0)))
    assert next_change_at(segments, facts, at(2), names=["plain"]) == at(7)
    assert next_change_at(segments, facts, at(0), names=["other"]) == at(1)


# -- the catalogue: cycles, updates, deletes ------------------------------------------------
def test_a_segment_that_reads_itself_is_refused():
    with pytest.raises(SegmentError) as raised:
        define_segment({}, "loop", "has(email) AND in_segment(loop)", VOCABULARY)
    assert "in_segment(loop) makes a cycle: loop -> loop" in str(raised.value)
    assert (raised.value.line, raised.value.column) == (1, 16)


def test_a_cycle_between_segments_is_refused_at_the_definition_that_closes_it():
    segments = define_segment({}, "a", "has(email)", VOCABULARY)
    segments = define_segment(segments, "b", "in_segment(a)", VOCABULARY)
    segments = define_segment(segments, "c", "in_segment(b) OR has(phone)", VOCABULARY)
    with pytest.raises(SegmentError) as raised:
        define_segment(segments, "a", "has(email) AND\nNOT in_segment(c)", VOCABULARY,
                       update=True)
    error = raised.value
    assert error.segment == "a" and (error.line, error.column) == (2, 5)
    assert "in_segment(c) makes a cycle: a -> c -> b -> a" in str(error)
    assert "    NOT in_segment(c)\n        ^^^^^^^^^^^^^" in str(error)


def test_defining_updating_and_deleting():
    segments = define_segment({}, "buyers", "count(purchase) >= 1", VOCABULARY)
    with pytest.raises(SegmentError, match="exists already"):
        define_segment(segments, "buyers", "has(email)", VOCABULARY)
    with pytest.raises(SegmentError, match="no segment 'sellers' to update"):
        define_segment(segments, "sellers", "has(email)", VOCABULARY, update=True)
    with pytest.raises(SegmentError, match="unknown segment 'byers'; did you mean 'buyers'"):
        define_segment(segments, "vip", "in_segment(byers)", VOCABULARY)
    segments = define_segment(segments, "vip", "in_segment(buyers)", VOCABULARY)
    segments = define_segment(segments, "buyers", "count(purchase) >= 2", VOCABULARY,
                              update=True)
    assert dependents(segments, ["buyers"]) == {"buyers", "vip"}
    with pytest.raises(SegmentError, match="'buyers' is read by vip"):
        delete_segment(segments, "buyers")
    assert set(delete_segment(delete_segment(segments, "vip"), "buyers")) == set()


# -- membership history ------------------------------------------------------------------------
def test_diff_records_entries_and_exits_with_why():
    results = evaluate_all(catalogue(mail="has(email)", phone="has(phone)"), ANN, T0)
    changes, now_in = diff("c1", {"phone": Membership("phone", at(-5), ("has(phone)",))},
                           results, T0)
    assert [(c.segment, c.change, c.at, c.why) for c in changes] == [
        ("mail", ENTERED, T0, ("has(email)",)),
        ("phone", LEFT, T0, ("has(phone)",)),
    ]
    assert set(now_in) == {"mail"} and now_in["mail"].since == T0


def test_catch_up_dates_each_change_when_it_happened():
    segments = catalogue(repeat="count(purchase) >= 2 within 30d")
    facts = customer(buy(1, at(0), 10), buy(2, at(10), 10))
    refresh = catch_up(segments, facts, {}, None, at(100))
    assert [(c.change, c.at) for c in refresh.changes] == [(ENTERED, at(10)), (LEFT, at(30))]
    assert refresh.changes[1].why == ("count(purchase) >= 2 within 30d (value: 1)",)
    assert refresh.memberships == {} and refresh.next_check is None
    history = periods(refresh.changes)
    assert [(p.segment, p.entered, p.left) for p in history] == [("repeat", at(10), at(30))]


def test_a_scheduled_check_finds_the_window_that_passed():
    segments = catalogue(recent="count(purchase) >= 1 within 7d")
    facts = customer(buy(1, at(0), 10))
    first = catch_up(segments, facts, {}, None, at(0))
    assert set(first.memberships) == {"recent"} and first.next_check == at(7)
    later = catch_up(segments, facts, first.memberships, first.checked_at, first.next_check)
    assert [(c.change, c.at) for c in later.changes] == [(LEFT, at(7))]


def test_a_merge_moves_memberships_to_the_survivor():
    segments = catalogue(mail_and_app="has(email) AND has(device_id)")
    web = CustomerFacts("c1", (ev(1, at(0)),), ("email:a@example.com",))
    app = CustomerFacts("c2", (ev(2, at(1), source="app"),), ("device_id:d1",))
    assert catch_up(segments, web, {}, None, at(1, hours=1)).memberships == {}
    both = CustomerFacts("c1", web.events + app.events, web.identifiers + app.identifiers)
    refresh = catch_up(segments, both, {}, at(1, hours=1), at(2))  # the merge, at day 2
    assert [(c.customer_id, c.change, c.at) for c in refresh.changes] == [("c1", ENTERED, at(2))]
    left = merged("c2", "c1", {"x": Membership("x", at(1), ())}, at(2))
    assert [(c.customer_id, c.segment, c.change, c.why) for c in left] == [
        ("c2", "x", LEFT, ("merged into c1",))]


# -- streaming equals batch ---------------------------------------------------------------------
STREAM_SEGMENTS = catalogue(
    recent_buyer="count(purchase) >= 1 within 7d",
    big_spender="sum(purchase.amount) >= 100 within 30d",
    engaged='count(page_view where source = "web") >= 3 within 14d OR count(*) >= 4 within 2d',
    lapsed="computed(days_since_last_purchase) > 10 AND NOT in_segment(recent_buyer)",
    vip="in_segment(big_spender) AND computed(order_count) >= 2",
    quiet="NOT count(*) >= 1 within 3d",
    app_week="computed(events_7d.page_view) >= 2 AND has(email)",
)
START = "2024-01-01T00:00:00.000000Z"

events_strategy = st.lists(
    st.tuples(
        st.integers(0, 60 * 24),  # hours after the start
        st.sampled_from(["page_view", "page_view", "purchase", "login"]),
        st.sampled_from(["web", "app"]),
        st.sampled_from([10, 35, 60, 120]),
    ),
    min_size=1,
    max_size=14,
)


def make_events(drawn) -> list[EventView]:
    made = []
    for n, (hours, type_, source, amount) in enumerate(sorted(drawn)):
        props = {"amount": amount} if type_ == "purchase" else {}
        made.append(EventView(f"e{n:03d}", type_, shift(START, timedelta(hours=hours)), source,
                              props))
    return made


def stream_facts(events: list[EventView]) -> CustomerFacts:
    return CustomerFacts("c1", tuple(events), ("email:a@example.com",))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events_strategy, st.lists(st.floats(0, 1), min_size=14, max_size=14),
       st.integers(0, 40 * 24))
def test_streaming_evaluation_writes_the_same_history_as_batch(drawn, delays, tail_hours):
    events = make_events(drawn)
    final = shift(events[-1].timestamp, timedelta(hours=tail_hours))

    # streaming: each event arrives at or after its time and before the next event's time
    # (an event dated at or before the last check is late, and is dated when it arrives),
    # then the clock runs on to `final`; every step catches up from the last check
    memberships: dict[str, Membership] = {}
    checked: str | None = None
    streamed = []
    for k, event in enumerate(events):
        nxt = events[k + 1].timestamp if k + 1 < len(events) else final
        clock = shift(event.timestamp, (moment(nxt) - moment(event.timestamp)) * delays[k])
        if k + 1 < len(events) and clock >= nxt:
            clock = event.timestamp
        refresh = catch_up(STREAM_SEGMENTS, stream_facts(events[:k + 1]), memberships, checked,
                           clock)
        memberships, checked = refresh.memberships, refresh.checked_at
        streamed += refresh.changes
    refresh = catch_up(STREAM_SEGMENTS, stream_facts(events), memberships, checked, final)
    streamed += refresh.changes

    batch = catch_up(STREAM_SEGMENTS, stream_facts(events), {}, None, final)
    # the same memberships after every moment; when events that share a moment arrive one
    # by one, that moment's changes may come in another order and quote other values
    assert {(m.segment, m.since) for m in refresh.memberships.values()} == {
        (m.segment, m.since) for m in batch.memberships.values()}
    assert states(streamed) == states(batch.changes)
    if len({e.timestamp for e in events}) == len(events):
        assert streamed == list(batch.changes)
    assert {n for n, r in evaluate_all(STREAM_SEGMENTS, stream_facts(events), final).items()
            if r.member} == set(batch.memberships)


def states(changes) -> list[tuple[str, frozenset[str]]]:
    """The segments a customer is in after each moment at which something changed."""
    found: list[tuple[str, frozenset[str]]] = []
    members: set[str] = set()
    for change in changes:
        (members.add if change.change == ENTERED else members.discard)(change.segment)
        if found and found[-1][0] == change.at:
            found.pop()
        found.append((change.at, frozenset(members)))
    kept: list[tuple[str, frozenset[str]]] = []
    for at_, members_ in found:
        if members_ != (kept[-1][1] if kept else frozenset()):
            kept.append((at_, members_))
    return kept


@settings(max_examples=60, deadline=None)
@given(events_strategy, st.lists(st.integers(0, 70 * 24), min_size=1, max_size=4),
       st.floats(0, 1))
def test_nothing_changes_before_next_change_at(drawn, checkpoints, fraction):
    facts = stream_facts(make_events(drawn))
    for hours in checkpoints:
        now = shift(START, timedelta(hours=hours))
        before = {n: r.member for n, r in evaluate_all(STREAM_SEGMENTS, facts, now).items()}
        upcoming = next_change_at(STREAM_SEGMENTS, facts, now)
        horizon = moment(upcoming) if upcoming else moment(now) + timedelta(days=100)
        span = horizon - moment(now)
        for sample in (moment(now) + span * fraction, horizon - timedelta(microseconds=1)):
            if not moment(now) <= sample < horizon:
                continue
            later = evaluate_all(STREAM_SEGMENTS, facts, format_ts(sample))
            assert {n: r.member for n, r in later.items()} == before


@settings(max_examples=30, deadline=None)
@given(events_strategy, st.randoms(use_true_random=False))
def test_events_arriving_out_of_order_still_end_in_the_batch_state(drawn, rng):
    events = make_events(drawn)
    arrival = list(events)
    rng.shuffle(arrival)
    final = shift(events[-1].timestamp, timedelta(days=3))
    memberships: dict[str, Membership] = {}
    checked: str | None = None
    seen: list[EventView] = []
    for event in arrival:
        seen.append(event)
        clock = max(event.timestamp, checked or "")
        refresh = catch_up(STREAM_SEGMENTS, stream_facts(seen), memberships, checked, clock)
        memberships, checked = refresh.memberships, refresh.checked_at
    refresh = catch_up(STREAM_SEGMENTS, stream_facts(seen), memberships, checked, final)
    batch = catch_up(STREAM_SEGMENTS, stream_facts(events), {}, None, final)
    assert set(refresh.memberships) == set(batch.memberships)

