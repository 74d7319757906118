"""Times are DateTime: given out as RFC 3339 in UTC (the text clients read before times were
typed), taken with any offset; a time without one is refused by the argument that takes
it, named, on both stores."""

from __future__ import annotations

import re

import pytest
from graphql import GraphQLObjectType, get_named_type

from app.api.schema import schema
from tests.api.data import ANNA_EMAIL, seed

TIME_NAMES = re.compile(r"^(at|since|until|timestamp|asOf|\w+At|firstSeen|lastSeen)$")
STORED_FORM = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


def time_fields() -> dict[str, str]:
    """Every field and argument whose name says it is a time, with its type's name."""
    found: dict[str, str] = {}
    for kind in schema._schema.type_map.values():
        if not isinstance(kind, GraphQLObjectType) or kind.name.startswith("__"):
            continue
        for name, field in kind.fields.items():
            if TIME_NAMES.match(name):
                found[f"{kind.name}.{name}"] = get_named_type(field.type).name
            for arg_name, arg in field.args.items():
                if TIME_NAMES.match(arg_name):
                    found[f"{kind.name}.{name}({arg_name})"] = get_named_type(arg.type).name
    return found


def test_every_time_in_the_schema_is_a_datetime():
    found = time_fields()
    assert len(found) >= 28  # 22 fields and 6 arguments when times were typed
    assert {where: kind for where, kind in found.items() if kind != "DateTime"} == {}


TIMELINE = """query($id: ID!, $since: DateTime, $until: DateTime) {
  customer(id: $id) { timeline(first: 10, since: $since, until: $until) {
    edges { node { eventId } } } } }"""
ARGUMENTS = {
    "Customer.timeline(since)": (TIMELINE, "since", {}),
    "Customer.timeline(until)": (TIMELINE, "until", {}),
    "Query.customer(asOf)": ("query($id: ID!, $t: DateTime) { customer(id: $id, asOf: $t) "
                             "{ id } }", "asOf", {}),
    "Query.customerByIdentifier(asOf)": (
        f'query($t: DateTime) {{ customerByIdentifier(type: "email", value: "{ANNA_EMAIL}", '
        f'asOf: $t) {{ id }} }}', "asOf", {}),
    "Query.campaignPerformance(since)": (
        "query($t: DateTime!) { campaignPerformance(since: $t, until: "
        '"2025-01-01T00:00:00Z") { conversions } }', "since", {}),
    "Query.campaignPerformance(until)": (
        'query($t: DateTime!) { campaignPerformance(since: "2023-01-01T00:00:00Z", '
        "until: $t) { conversions } }", "until", {}),
}


def test_every_datetime_argument_is_checked_below():
    arguments = {where for where, kind in time_fields().items() if "(" in where}
    assert arguments == set(ARGUMENTS)


@pytest.mark.parametrize("where", sorted(ARGUMENTS))
async def test_a_time_without_an_offset_is_refused_naming_the_argument(api, where):
    ids = await seed(api.services)
    query, name, _ = ARGUMENTS[where]
    variable = "t" if "$t" in query else name
    failed = await api.fails("steward", query, id=ids["anna"], **{variable: "2024-01-03T12:00:00"})
    [error] = failed.errors
    assert error["message"].startswith(f"{name}: 2024-01-03T12:00:00 has no offset; give one")
    assert error["extensions"]["code"] == "BAD_USER_INPUT"


async def test_a_literal_without_an_offset_is_refused_as_well(api):
    ids = await seed(api.services)
    query = """query($id: ID!) { customer(id: $id) {
      timeline(first: 10, since: "2024-01-02") { edges { cursor } } } }"""
    [error] = (await api.fails("reader", query, id=ids["anna"])).errors
    assert error["message"].startswith("since: 2024-01-02T00:00:00 has no offset")


async def test_text_that_is_no_time_is_refused_by_the_scalar(api):
    ids = await seed(api.services)
    [error] = (await api.fails("reader", TIMELINE, id=ids["anna"], since="last tuesday")).errors
    assert "not an RFC 3339 time, such as 2024-03-01T00:00:00Z" in error["message"]
    assert "'last tuesday'" in error["message"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"


async def test_any_offset_names_the_same_moment(api):
    ids = await seed(api.services)

    async def events(**window):
        page = (await api.run("reader", TIMELINE, id=ids["anna"], **window))
        return [e["node"]["eventId"] for e in page["customer"]["timeline"]["edges"]]

    in_utc = await events(since="2024-01-02T10:00:00Z", until="2024-01-04T10:00:00Z")
    assert in_utc == ["web-2", "crm-1"]
    assert await events(since="2024-01-02T11:00:00+01:00",
                        until="2024-01-04T05:00:00-05:00") == in_utc


async def test_times_are_given_out_as_stored_in_utc(api):
    ids = await seed(api.services)
    data = await api.run("reader", """query($id: ID!) { customer(id: $id) {
      profile { traits { observedAt } } consent { observedAt }
      identifiers { firstSeen lastSeen }
      timeline(first: 10) { edges { node { timestamp } } } } }""", id=ids["anna"])
    customer = data["customer"]
    times = ([t["observedAt"] for t in customer["profile"]["traits"]]
             + [c["observedAt"] for c in customer["consent"]]
             + [i[k] for i in customer["identifiers"] for k in ("firstSeen", "lastSeen")]
             + [e["node"]["timestamp"] for e in customer["timeline"]["edges"]])
    assert times and all(STORED_FORM.match(t) for t in times), times
    assert "2024-01-02T10:00:00.000000Z" in times
