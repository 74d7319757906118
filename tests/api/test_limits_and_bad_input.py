"""Limits, authentication and bad input over HTTP: every failure is a clear GraphQL error
(or HTTP status) with no stack trace. The store does not matter here: SQLite only."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.api.data import seed


@pytest.fixture
async def api(sqlite_store, api_with):
    async with api_with(sqlite_store, api_max_depth=5, api_max_cost=2_000,
                        api_max_body_bytes=20_000,
                        api_cors_origins="https://app.example.com") as served:
        await seed(served.services)
        yield served


def no_trace(body: str) -> None:
    assert "Traceback" not in body and 'File "' not in body and "app/" not in body


async def test_a_query_deeper_than_the_limit_is_refused(api):
    deep = """{ identifier(type: "cookie", value: "ck_anna") { customer { timeline {
        edges { node { identifiers { type } } } } } } }"""
    failed = await api.fails("reader", deep)
    assert failed.errors[0]["message"] == "'anonymous' exceeds maximum operation depth of 5"
    assert failed.data is None
    shallow = '{ customerByIdentifier(type: "cookie", value: "ck_anna") { identifiers { type } } }'
    assert (await api.run("reader", shallow))["customerByIdentifier"]["identifiers"]


async def test_a_query_over_the_cost_limit_is_refused_before_it_runs(api):
    query = """query Big($ids: [IdentifierInput!]!, $n: Int!) { customers(identifiers: $ids) {
        timeline(first: $n) { edges { node { eventId } } } } }"""
    ids = [{"type": "cookie", "value": f"ck_{n}"} for n in range(50)]
    failed = await api.fails("reader", query, ids=ids, n=100)
    message = failed.errors[0]["message"]
    assert message.startswith("Big costs an estimated 10,100, over the limit of 2,000")
    assert "first" in message and failed.data is None
    api.counting.reset()
    await api.fails("reader", query, ids=ids, n=100)
    assert api.counting.total == 0  # refused before any read
    assert (await api.run("reader", query, ids=ids[:5], n=10))["customers"] == [None] * 5


async def test_the_cost_limit_holds_for_the_named_operation_of_a_document_with_several(api):
    document = """query Small { viewer { role } }
        query Big($ids: [IdentifierInput!]!) { customers(identifiers: $ids) {
        timeline(first: 100) { edges { node { eventId } } } } }"""
    ids = [{"type": "cookie", "value": f"ck_{n}"} for n in range(50)]
    api.counting.reset()
    response = await api.post({"query": document, "operationName": "Big",
                               "variables": {"ids": ids}}, role="reader")
    message = response.json()["errors"][0]["message"]
    assert message.startswith("Big costs an estimated 10,100, over the limit of 2,000")
    assert api.counting.total == 0  # refused before any read
    small = await api.post({"query": document, "operationName": "Small"}, role="reader")
    assert small.json() == {"data": {"viewer": {"role": "READER"}}}


async def test_fields_that_read_whole_histories_count_those_reads(api):
    query = """query Scores($ids: [IdentifierInput!]!) { customers(identifiers: $ids) {
        nextBestAction { step } profile { computed { name } } } }"""
    ids = [{"type": "cookie", "value": f"ck_{n}"} for n in range(10)]
    failed = await api.fails("reader", query, ids=ids)
    # 10 customers, each 1 + profile 1 + 10 computed traits + nextBestAction 1, plus
    # 100 for each of the two history-reading fields
    assert failed.errors[0]["message"].startswith("Scores costs an estimated 2,130, over")
    assert (await api.run("reader", query, ids=ids[:5]))["customers"] == [None] * 5
    report = """{ campaignPerformance(since: "2024-01-01T00:00:00Z",
                                      until: "2024-02-01T00:00:00Z") { conversions } }"""
    failed = await api.fails("admin", report)
    assert failed.errors[0]["message"].startswith("the query costs an estimated 5,001, over")


async def test_an_oversized_request_gets_413_with_a_clear_message(api):
    huge = json.dumps({"query": "{ viewer { role } }", "variables": {"pad": "x" * 30_000}})
    response = await api.post(huge)
    assert response.status_code == 413
    assert "larger than 20,000 bytes" in response.json()["errors"][0]["message"]


@pytest.mark.parametrize("body,expected", [
    ({"query": "{ customer(id: "}, "Syntax Error"),
    ({"query": '{ customer(id: "x") { nope } }'},
     "Cannot query field 'nope' on type 'Customer'"),
    ({"query": '{ customr(id: "x") { id } }'}, "Did you mean 'customer'"),
    ({"query": "query($n: Int!) { searchCustomers(query: \"anna\", first: $n) { edges "
               "{ score } } }", "variables": {"n": "many"}},
     "Variable '$n' has invalid value: Int cannot represent non-integer value: 'many'"),
    ({"query": '{ customerByIdentifier(type: "email", value: "not-an-email") { id } }'},
     "value: email identifier 'not-an-email'"),
    ({"query": '{ customerByIdentifier(type: "Bad Type", value: "x") { id } }'},
     "type must be lower_snake_case"),
    ({"query": '{ customers(identifiers: [{type: "cookie", value: "a"}, {type: "phone", '
               'value: "12"}]) { id } }'}, "identifiers[1]: phone identifier '12'"),
    ({"query": '{ customerByIdentifier(type: "cookie", value: "ck_anna") { timeline(first: '
               '500) { edges { cursor } } } }'}, "first: must be between 0 and 100, not 500"),
    ({"query": '{ customerByIdentifier(type: "cookie", value: "ck_anna") { timeline(after: '
               '"garbage") { edges { cursor } } } }'}, "is not a cursor this API returned"),
    ({"query": '{ customerByIdentifier(type: "cookie", value: "ck_anna") { identityGraph('
               'depth: 9) { depth } } }'}, "depth: must be between 0 and 3, not 9"),
    ({"query": '{ searchCustomers(query: "a") { edges { score } } }'},
     "query: give at least three characters"),
])
async def test_bad_input_gets_a_graphql_error_with_a_clear_message(api, body, expected):
    response = await api.post(body, role="reader")
    no_trace(response.text)
    errors = response.json()["errors"]
    assert expected in errors[0]["message"], errors
    assert set(errors[0]) <= {"message", "locations", "path", "extensions"}
    assert "stacktrace" not in json.dumps(errors).lower()


@pytest.mark.parametrize("field, limit", [
    ('customerByIdentifier(type: "cookie", value: "ck_anna") { timeline(first: $n) '
     '{ edges { cursor } } }', 100),
    ('customerByIdentifier(type: "cookie", value: "ck_anna") { segmentHistory(first: $n) '
     '{ at } }', 100),
    ('searchCustomers(query: "anna", first: $n) { edges { score } }', 50),
])
async def test_a_page_too_large_refuses_the_request_not_the_object_holding_it(
        api, field, limit):
    # Raised by the field, the error would null the customer that holds its timeline.
    query = f"query($n: Int!) {{ {field} }}"
    for n in (limit + 1, -1):
        body = (await api.post({"query": query, "variables": {"n": n}}, role="reader")).json()
        assert "data" not in body, body
        [error] = body["errors"]
        assert error["message"] == f"first: must be between 0 and {limit}, not {n}"
        assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "errors" not in (await api.post({"query": query, "variables": {"n": limit}},
                                           role="reader")).json()


async def test_a_body_that_is_not_json_is_refused_clearly(api):
    response = await api.post("{not json", role="reader")
    assert response.status_code == 400
    assert "JSON" in response.text
    no_trace(response.text)


async def test_an_unexpected_error_is_masked_and_nothing_leaks(api, monkeypatch):
    async def broken(*_args, **_kwargs):
        raise RuntimeError("secret internals at /var/lib/idgraph/db: password=hunter2")

    # a graph read (a filtered timeline: the profile documents do not hold it)
    monkeypatch.setattr(api.services.store, "read_customers", broken, raising=False)
    response = await api.post({"query": '{ customerByIdentifier(type: "cookie", value: '
                                        '"ck_anna") { id timeline(types: ["page_view"]) '
                                        '{ edges { cursor } } } }'})
    body = response.text
    assert "hunter2" not in body and "secret" not in body
    no_trace(body)
    [error] = response.json()["errors"]
    assert error["message"] == "internal error; the server log has the details"
    assert error["path"] == ["customerByIdentifier", "timeline"]


async def test_requests_without_an_accepted_key_get_401(api):
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic abc"}):
        async with httpx.AsyncClient() as http:
            response = await http.post(api.url + "/graphql", json={"query": "{ viewer { role } }"},
                                       headers=headers)
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"
        message = response.json()["errors"][0]["message"]
        assert "Bearer" in message or "unknown API key" in message
        assert "wrong" not in message
    viewer = await api.run("steward", "{ viewer { role actor seesPii developmentMode } }")
    assert viewer["viewer"] == {"role": "STEWARD", "actor": viewer["viewer"]["actor"],
                                "seesPii": True, "developmentMode": False}


async def test_cors_lets_the_configured_origin_in_and_no_other(api):
    async with httpx.AsyncClient() as http:
        allowed = await http.options(api.url + "/graphql", headers={
            "Origin": "https://app.example.com", "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type"})
        other = await http.options(api.url + "/graphql", headers={
            "Origin": "https://evil.example.net", "Access-Control-Request-Method": "POST"})
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "https://app.example.com"
    assert "authorization" in allowed.headers["access-control-allow-headers"].lower()
    assert "access-control-allow-origin" not in other.headers
    response = await api.post({"query": "{ viewer { role } }"}, role="reader",
                              headers={"Origin": "https://app.example.com"})
    assert response.headers["access-control-allow-origin"] == "https://app.example.com"


async def test_introspection_and_graphiql_can_be_switched_off(sqlite_store, api_with):
    schema_query = {"query": "{ __schema { queryType { name } } }"}
    async with api_with(sqlite_store) as on:
        assert (await on.post(schema_query)).json()["data"]["__schema"]["queryType"] == {
            "name": "Query"}
        async with httpx.AsyncClient() as http:
            page = await http.get(on.url + "/graphql", headers={"Accept": "text/html"})
        assert page.status_code == 200 and "graphiql" in page.text.lower()
    async with api_with(sqlite_store, api_introspection=False) as off:
        errors = (await off.post(schema_query)).json()["errors"]
        assert "introspection has been disabled" in errors[0]["message"]
        async with httpx.AsyncClient() as http:
            page = await http.get(off.url + "/graphql", headers={"Accept": "text/html"})
        assert "graphiql" not in page.text.lower()
