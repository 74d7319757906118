"""GraphQL over HTTP as the specification and frontend tooling expect it: the
graphql-http audit with no failure and no warning, the media type the client accepts,
request errors with their status and without `data`, and `extensions.code` on every
error, so that clients match on codes, not on message text. SQLite only: the store does
not matter here."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.api.conftest import KEYS
from tests.api.data import seed
from tests.api.nodejs import installed, node

GRAPHQL_RESPONSE = "application/graphql-response+json"


@pytest.fixture
async def api(sqlite_store, api_with):
    async with api_with(sqlite_store, api_max_cost=2_000) as served:
        await seed(served.services)
        yield served


async def ask(api, body: Any, *, role: str | None = "reader", accept: str | None = None,
              method: str = "POST") -> httpx.Response:
    headers = {"Authorization": f"Bearer {KEYS[role]}"} if role else {}
    if accept is not None:
        headers["Accept"] = accept
    async with httpx.AsyncClient(timeout=30) as http:
        if method == "GET":
            return await http.get(api.url + "/graphql", params=body, headers=headers)
        # json.dumps escapes what is not text (a lone surrogate) as JSON allows
        return await http.post(api.url + "/graphql", content=json.dumps(body),
                               headers={"Content-Type": "application/json", **headers})


def cookies(n: int) -> str:
    """n cookie identifiers as a GraphQL list literal's items."""
    return ", ".join(f'{{type: "cookie", value: "ck_{i}"}}' for i in range(n))


def codes(response: httpx.Response) -> list[str]:
    return [error["extensions"]["code"] for error in response.json()["errors"]]


async def test_the_graphql_http_audit_passes_with_no_warning(api):
    await installed()
    out = await node("node", "audit.mjs", api.url + "/graphql", KEYS["reader"])
    results = [json.loads(line) for line in out.splitlines()]
    assert len(results) > 50
    assert [r for r in results if r["status"] != "ok"] == []


async def test_the_response_media_type_is_the_one_the_client_accepts(api):
    query = {"query": "{ viewer { role } }"}
    for accept, expected in [(GRAPHQL_RESPONSE, GRAPHQL_RESPONSE),
                             (f"{GRAPHQL_RESPONSE}, application/json;q=0.9", GRAPHQL_RESPONSE),
                             ("application/json", "application/json"),
                             ("*/*", "application/json"), (None, "application/json")]:
        response = await ask(api, query, accept=accept)
        assert response.status_code == 200
        assert response.headers["content-type"] == f"{expected}; charset=utf-8", accept
        assert response.json() == {"data": {"viewer": {"role": "reader"}}}


@pytest.mark.parametrize("body, code", [
    ({"query": "{ viewer { role "}, "GRAPHQL_PARSE_FAILED"),
    ({"query": "{ nothingHere }"}, "GRAPHQL_VALIDATION_FAILED"),
    ({"query": "query Q($n: Int!) { viewer { role } }", "variables": {"n": "x"}},
     "BAD_USER_INPUT"),
    ({"query": "query A { viewer { role } } query B { viewer { role } }"}, "BAD_REQUEST"),
])
async def test_a_request_error_has_no_data_and_its_status_follows_the_media_type(
        api, body, code):
    modern = await ask(api, body, accept=GRAPHQL_RESPONSE)
    assert modern.status_code == 400
    assert "data" not in modern.json() and codes(modern) == [code]
    legacy = await ask(api, body, accept="application/json")
    assert legacy.status_code == 200
    assert "data" not in legacy.json() and codes(legacy) == [code]


async def test_several_operations_run_the_one_named_and_only_it_is_costed(api):
    cheap = "query Cheap { viewer { role } }"
    costly = f"""query Costly {{ customers(identifiers: [{cookies(50)}]) {{
        timeline(first: 100) {{ edges {{ node {{ eventId }} }} }} }} }}"""
    named = await ask(api, {"query": f"{cheap} {costly}", "operationName": "Cheap"})
    assert named.json() == {"data": {"viewer": {"role": "reader"}}}
    refused = await ask(api, {"query": f"{cheap} {costly}", "operationName": "Costly"})
    assert codes(refused) == ["QUERY_TOO_COSTLY"]
    assert "Costly costs an estimated" in refused.json()["errors"][0]["message"]


async def test_requests_refused_before_graphql_are_json_with_a_code(api):
    no_query = await ask(api, {})
    assert (no_query.status_code, codes(no_query)) == (400, ["BAD_REQUEST"])
    string_variables = await ask(api, {"query": "{ viewer { role } }", "variables": "{}"})
    assert (string_variables.status_code, codes(string_variables)) == (400, ["BAD_REQUEST"])
    unknown = await ask(api, {"query": "query A { viewer { role } }", "operationName": "B"})
    assert (unknown.status_code, codes(unknown)) == (400, ["BAD_REQUEST"])
    no_key = await ask(api, {"query": "{ viewer { role } }"}, role=None)
    assert (no_key.status_code, codes(no_key)) == (401, ["UNAUTHENTICATED"])
    assert no_key.headers["www-authenticate"] == "Bearer"
    for response in (no_query, string_variables, unknown, no_key):
        assert response.headers["content-type"].startswith("application/json")


async def test_a_mutation_sent_with_get_is_refused_with_405(api):
    response = await ask(api, {"query": 'mutation { deleteSegment(name: "x") { __typename } }'},
                         role="admin", method="GET")
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert codes(response) == ["METHOD_NOT_ALLOWED"]


async def test_errors_raised_by_idgraph_carry_their_code(api):
    surrogate = {"query": "query Q($v: String!) { searchCustomers(query: $v) { "
                          "pageInfo { hasNextPage } } }", "variables": {"v": "\ud800"}}
    assert codes(await ask(api, surrogate)) == ["BAD_USER_INPUT"]
    cursor = {"query": '{ searchCustomers(query: "anna", after: "not-a-cursor") { '
                       'pageInfo { hasNextPage } } }'}
    assert codes(await ask(api, cursor)) == ["BAD_USER_INPUT"]
    too_many = {"query": f"{{ customers(identifiers: [{cookies(1_001)}]) {{ id }} }}"}
    response = await ask(api, too_many)
    assert set(codes(response)) <= {"BAD_USER_INPUT", "QUERY_TOO_COSTLY"}
