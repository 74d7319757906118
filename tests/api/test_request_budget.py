"""The budget of one request: what it may send (body, query string, JSON nesting, tokens,
WebSocket messages) and what it may ask for (search text, cursors, report times), each
refused with a message that names the part and the reason, never an HTTP 500 or an
"internal error". SQLite only: nothing here depends on the store."""

from __future__ import annotations

import json

import pytest
from websockets.asyncio.client import connect

from tests.api.conftest import KEYS
from tests.api.data import seed
from tests.api.websocket import INIT, ws_send

MAX_BYTES = 20_000
MAX_DEPTH = 8
MAX_TOKENS = 400
VIEWER = "{ viewer { role } }"
INTERNAL = "internal error"


@pytest.fixture
async def api(sqlite_store, api_with):
    async with api_with(sqlite_store, api_max_body_bytes=MAX_BYTES, api_max_json_depth=MAX_DEPTH,
                        api_max_query_tokens=MAX_TOKENS, api_max_search_chars=60,
                        api_max_search_words=4) as served:
        await seed(served.services)
        yield served


def nested(depth: int) -> str:
    """A JSON list nested `depth` deep, as text (the encoder would not go that deep)."""
    return "[" * depth + "1" + "]" * depth


def message_of(response) -> str:
    assert response.status_code != 500, response.text
    assert "Traceback" not in response.text and INTERNAL not in response.text
    try:
        body = response.json()
    except ValueError:
        return response.text
    return " ".join(e["message"] for e in body.get("errors", [])) if isinstance(body, dict) \
        else response.text


# -- what a request may send ---------------------------------------------------------------
@pytest.mark.parametrize("body,expected", [
    ('"x"', 'request body: expected a JSON object such as {"query": "{ viewer { role } }"}, '
            "not a string"),
    ("123", "request body: expected a JSON object such as"),
    ("null", "not null"),
    ("true", "not a boolean"),
    ("[]", "request body: a list (a batch of operations) is not accepted"),
    ('[{"query": "{ viewer { role } }"}]', "send one operation per request"),
    ('{"query": 5}', "query: must be a string or null, not a number"),
    ('{"query": "{ viewer { role } }", "variables": []}',
     "variables: must be an object or null, not a list"),
    ('{"query": "{ viewer { role } }", "operationName": 5}',
     "operationName: must be a string or null, not a number"),
    ('{"query": "{ viewer { role } }", "extensions": "x"}', "extensions: must be an object"),
    ("{not json", "Unable to parse request body as JSON"),
    (b'{"query": "{ viewer { role } }", "x": "\xff\xfe"}',
     "request body: not valid UTF-8 (byte 39 cannot start or continue a character); send "
     "JSON encoded as UTF-8"),
])
async def test_a_body_that_is_not_one_operation_gets_400_naming_the_part(api, body, expected):
    response = await api.post(body)
    assert response.status_code == 400
    assert expected in message_of(response)


def body_with(variable: str) -> str:
    # Variables the operation does not declare are ignored: only the nesting counts here.
    return '{"query": "{ viewer { role } }", "variables": {"v": ' + variable + "}}"


async def test_variables_nested_deeper_than_the_limit_are_refused(api):
    # {"variables": {"v": ...}}: the body and its variables are two levels
    fits = await api.post(body_with(nested(MAX_DEPTH - 2)))
    assert fits.json() == {"data": {"viewer": {"role": "STEWARD"}}}
    for depth in (MAX_DEPTH - 1, 1_000, 9_000):
        response = await api.post(body_with(nested(depth)))
        assert response.status_code == 400
        assert message_of(response) == (f"request body: JSON nested deeper than {MAX_DEPTH} "
                                         f"levels (IDGRAPH_API_MAX_JSON_DEPTH)")


async def test_variables_in_the_url_are_bounded_the_same_way(api):
    async with api_client(api) as http:
        deep = await http.get("/graphql", params={
            "query": VIEWER, "variables": '{"v": ' + nested(3_000) + "}"})
        bad = await http.get("/graphql", params={"query": VIEWER, "variables": "[1"})
        long = await http.get("/graphql", params={"query": VIEWER, "x": "y" * MAX_BYTES})
    assert deep.status_code == 400
    assert message_of(deep) == (f"variables: JSON nested deeper than {MAX_DEPTH} levels "
                                f"(IDGRAPH_API_MAX_JSON_DEPTH)")
    assert bad.status_code == 400 and "Unable to parse variables as JSON" in bad.text
    assert long.status_code == 413
    assert message_of(long) == (f"query string larger than {MAX_BYTES:,} bytes; send less per "
                                f"request (IDGRAPH_API_MAX_BODY_BYTES)")


def api_client(api):
    import httpx

    return httpx.AsyncClient(base_url=api.url, timeout=30,
                             headers={"Authorization": f"Bearer {KEYS['steward']}"})


async def test_a_document_over_the_token_limit_is_refused_before_it_is_validated(api):
    fields = " ".join(f"a{n}: viewer {{ role }}" for n in range(200))  # 1,200 tokens
    failed = await api.fails("reader", "{ " + fields + " }")
    assert failed.errors[0]["message"] == (
        f"Syntax Error: Document contains more than {MAX_TOKENS} tokens. Parsing aborted.")
    assert failed.data is None


async def test_a_document_nested_thousands_deep_is_a_syntax_error(sqlite_store, api_with):
    async with api_with(sqlite_store) as served:  # the default token limit
        response = await served.post({"query": "{" + "viewer {" * 2_000 + "role" + "}" * 2_001})
    assert message_of(response).startswith("Syntax Error: Document is nested too deeply")


# -- fragments: measured once each -----------------------------------------------------------
def doubling(levels: int, leaf: str) -> str:
    """Fragments that spread the next one twice: 2^levels copies of `leaf` written out."""
    fragments = [f"fragment F{n} on Query {{ ...F{n + 1} ...F{n + 1} }}" for n in range(levels)]
    return " ".join(["query Q { ...F0 }", *fragments,
                     f"fragment F{levels} on Query {{ {leaf} }}"])


async def test_fragments_that_double_at_every_level_are_estimated_exactly(sqlite_store, api_with):
    async with api_with(sqlite_store) as served:  # the default limits
        cost = await served.fails("reader", doubling(40, "viewer { role }"))
        aliases = await served.fails("reader", doubling(40, "a: viewer { role }"))
    # 2^40 objects: only a walk that measures each fragment once finishes this
    assert cost.errors[0]["message"].startswith(
        f"Q costs an estimated {2**40:,}, over the limit of 20,000")
    assert f"{2**40} aliases found. Allowed: 100" in [e["message"] for e in aliases.errors]


async def test_depth_through_fragments_is_counted(api_with, sqlite_store):
    async with api_with(sqlite_store, api_max_depth=2) as served:
        query = """query Deep { ...A } fragment A on Query { customer(id: "x") { ...B } }
                   fragment B on Customer { identityGraph { nodes { key } } }"""
        failed = await served.fails("reader", query)
        assert failed.errors[0]["message"] == "'Deep' exceeds maximum operation depth of 2"
        ok = await served.run("reader", query.replace("nodes { key }", "truncated"))
        assert ok == {"customer": None}


# -- WebSocket messages ----------------------------------------------------------------------
async def test_a_websocket_message_over_the_size_limit_closes_the_connection(api):
    subscribe = {"id": "1", "type": "subscribe", "payload": {
        "query": VIEWER, "variables": {"pad": "x" * (5 * 1024 * 1024)}}}
    received, code, reason = await ws_send(api, json.dumps(subscribe))
    assert code == 1009 and received == []
    assert "IDGRAPH_API_MAX_BODY_BYTES" in reason
    received, code, reason = await ws_send(api, b"\x00" * (MAX_BYTES + 1))
    assert code == 1009


@pytest.mark.parametrize("frame,reason", [
    ('"x"', "WebSocket message: expected a JSON object with a type"),
    ("123", "WebSocket message: expected a JSON object with a type"),
    ("null", "WebSocket message: expected a JSON object with a type"),
    ('[{"type": "ping"}]', "WebSocket message: expected a JSON object with a type"),
    ('{"type": 5}', "WebSocket message: expected a JSON object with a type"),
    ('{"id": "1", "type": "subscribe", "payload": {"query": "{ viewer { role } }", '
     '"variables": {"v": ' + nested(50) + "}}}",
     f"WebSocket message: JSON nested deeper than {MAX_DEPTH} levels"),
    ("{not json", "WebSocket message must be valid JSON"),
])
async def test_a_websocket_message_that_is_not_a_protocol_message_closes_with_a_reason(
        api, frame, reason):
    received, code, said = await ws_send(api, frame)
    assert code == 4400 and received == []
    assert said.startswith(reason), said


async def test_a_websocket_within_the_budget_still_works(api):
    query = {"id": "1", "type": "subscribe", "payload": {"query": VIEWER}}
    async with connect(api.ws_url, subprotocols=["graphql-transport-ws"]) as ws:
        await ws.send(json.dumps(INIT))
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        await ws.send(json.dumps(query))
        assert json.loads(await ws.recv())["payload"] == {"data": {"viewer": {"role": "READER"}}}


# -- what a request may ask for ----------------------------------------------------------------
SEARCH = "query($q: String!) { searchCustomers(query: $q) { edges { matched } } }"


@pytest.mark.parametrize("text,expected", [
    ("anna " * 3_000, "query: at most 60 characters, not 14,999"),
    ("x" * 840_000, "request body larger than 20,000 bytes"),
    ("anna de vries example com", "query: at most 4 words, not 5"),
    ("ann\x00a", "query: U+0000 is a control character, not text to search for"),
    ("anna\x1b[2J", "query: U+001B is a control character"),
    ("ann\ud800a", "$q: holds U+D800, half of a UTF-16 surrogate pair"),
    ("  a ", "query: give at least three characters"),
])
async def test_a_search_text_out_of_bounds_is_refused_naming_the_bound(api, text, expected):
    response = await api.post(json.dumps({"query": SEARCH, "variables": {"q": text}}),
                              role="reader")
    assert expected in message_of(response)


async def test_a_search_within_bounds_finds_the_customer(api):
    found = await api.run("reader", SEARCH, q="  Anna   De\tVries ")
    assert found["searchCustomers"]["edges"]


@pytest.mark.parametrize("query,expected", [
    ('{ auditLog(before: "²") { __typename } }', "before: '²' is not a cursor this API returned"),
    ('{ auditLog(before: "١٢") { __typename } }', "is not a cursor this API returned"),
    ('{ auditLog(before: "' + "9" * 30 + '") { __typename } }', "is not a cursor"),
    ('{ auditLog(before: "9223372036854775808") { __typename } }', "is not a cursor"),
    ('{ reviewQueue(after: "' + "9" * 19 + '") { __typename } }', "after: '9999"),
    ('{ reviewQueue(after: "-1") { __typename } }', "after: '-1' is not a cursor"),
    ('{ searchCustomers(query: "anna", after: "b2Zmc2V0OrI=") { edges { score } } }',
     "after: 'b2Zmc2V0OrI=' is not a cursor"),
    ('{ searchCustomers(query: "anna", after: "b2Zmc2V0Ojk5OTk5OTk5OTk5OTk5OTk5OTk5") '
     '{ edges { score } } }', "is not a cursor this API returned"),
    ('{ campaignPerformance(since: "0001-01-01T00:00:00+14:00", until: '
     '"2024-01-01T00:00:00Z") { conversions } }',
     "since: 0001-01-01T00:00:00+14:00 is outside the accepted range 1900-01-01 to "
     "2999-12-31 (in UTC)"),
    ('{ campaignPerformance(since: "0001-01-01T00:00:00Z", until: "0001-02-01T00:00:00Z") '
     '{ conversions } }', "since: 0001-01-01T00:00:00+00:00 is outside the accepted range"),
    ('{ campaignPerformance(since: "9999-12-01T00:00:00Z", until: '
     '"9999-12-31T23:59:59-12:00") { conversions } }', "since: 9999-12-01T00:00:00+00:00 is"),
    ('{ campaignPerformance(since: "2024-01-01T00:00:00Z", until: "2024-02-01T00:00:00Z", '
     'funnel: ["purchase"], funnelWithinDays: 2000000000) { conversions } }',
     "funnelWithinDays: must be between 1 and 3,660, not 2,000,000,000"),
])
async def test_an_argument_out_of_range_is_an_error_naming_it(api, query, expected):
    response = await api.post({"query": query}, role="admin")
    assert expected in message_of(response)


async def test_a_review_id_out_of_range_is_an_invalid_input(api):
    result = await api.run("steward", 'mutation { resolveReview(id: "' + "9" * 30 + '", '
                           'accept: true, reason: "x") { __typename ... on InvalidInput '
                           '{ field message } } }')
    assert result["resolveReview"]["__typename"] == "InvalidInput"
    assert result["resolveReview"]["field"] == "id"


@pytest.mark.parametrize("query,variables", [
    ('query($v: String!) { customerByIdentifier(type: "cookie", value: $v) { id } }',
     {"v": "ck\ud800"}),
    ('query($v: ID!) { customer(id: $v) { id } }', {"v": "\udfff"}),
    ('mutation($v: String!) { linkIdentifiers(a: {type: "cookie", value: "ck_anna"}, '
     'b: {type: "cookie", value: "ck_bob"}, reason: $v) { __typename } }', {"v": "x\ud800"}),
    ('mutation($a: IdentifierInput!) { linkIdentifiers(a: $a, b: {type: "cookie", value: '
     '"ck_bob"}, reason: "x") { __typename } }', {"a": {"type": "cookie", "value": "\ud800"}}),
])
async def test_an_unpaired_surrogate_in_a_variable_is_refused_naming_it(api, query, variables):
    response = await api.post(json.dumps({"query": query, "variables": variables}),
                              role="admin")
    message = message_of(response)
    name = next(iter(variables))
    assert message.startswith(f"${name}") and "half of a UTF-16 surrogate pair" in message
    assert "data" not in response.json()  # a request error: no operation ran


async def test_events_are_left_to_ingest_which_rejects_them_one_by_one(api):
    ingest = """mutation($events: [JSON!]!) { ingestEvents(events: $events) {
        ... on IngestSuccess { received } } }"""
    response = await api.post(json.dumps({"query": ingest,
                                          "variables": {"events": [{"x": "\ud800"}]}}))
    assert "$events" not in response.text
