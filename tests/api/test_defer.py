"""@defer over HTTP, read as a client reads it (multipart/mixed, part by part): the parts
after the first carry `extensions.code` on their errors, as every other answer does, and
the query's time budget covers the whole response, not the first part only."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.api.conftest import KEYS, hold_store_call

MULTIPART = "multipart/mixed;deferSpec=20220824, application/json"


async def parts(api: Any, query: str, role: str = "steward") -> list[dict[str, Any]]:
    """Every part of the answer, in order; the client waits for the response to end."""
    async with httpx.AsyncClient(timeout=30) as http, http.stream(
            "POST", api.url + "/graphql", content=json.dumps({"query": query}),
            headers={"Content-Type": "application/json", "Accept": MULTIPART,
                     "Authorization": f"Bearer {KEYS[role]}"}) as response:
        assert response.headers["content-type"].startswith("multipart/mixed")
        body = "".join([text async for text in response.aiter_text()])
    return [json.loads(line) for line in body.splitlines() if line.startswith("{")]


@pytest.fixture
async def api(sqlite_store, api_with):
    async with api_with(sqlite_store, api_query_timeout_seconds=0.5) as served:
        yield served


async def test_a_deferred_parts_errors_carry_their_code(api):
    first, later = await parts(api, '{ viewer { role } ... @defer(label: "queue") '
                                    '{ reviewQueue(after: "zz") { __typename } } }')
    assert first["data"] == {"viewer": {"role": "STEWARD"}} and first["hasNext"] is True
    [completed] = later["completed"]
    [error] = completed["errors"]
    assert error["path"] == ["reviewQueue"] and "after" in error["message"]
    assert error["extensions"] == {"code": "BAD_USER_INPUT"}
    assert later["hasNext"] is False


async def test_a_deferred_part_past_the_time_budget_ends_the_response_with_its_code(
        api, monkeypatch):
    release = hold_store_call(monkeypatch, api.services.store, "segment_definitions")
    try:
        first, *later = await parts(
            api, "{ viewer { role } ... @defer { segments { id } } }", role="reader")
    finally:
        release.set()
    assert first["data"] == {"viewer": {"role": "READER"}} and first["hasNext"] is True
    [last] = later
    assert last["hasNext"] is False and "incremental" not in last
    [error] = last["completed"][0]["errors"]
    assert error["extensions"] == {"code": "QUERY_TIMEOUT"}
    assert error["message"].startswith("the query ran longer than 0.5 s and was stopped")
    # the request after it is answered as usual
    assert await api.run("reader", "{ viewer { role } }") == {"viewer": {"role": "READER"}}


async def test_a_deferred_get_is_sent_in_parts_and_not_stored(api):
    async with httpx.AsyncClient(timeout=30) as http:
        response = await http.get(api.url + "/graphql", params={
            "query": "{ viewer { role } ... @defer { viewer { actor } } }"},
            headers={"Accept": MULTIPART, "Authorization": f"Bearer {KEYS['reader']}"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("multipart/mixed")
    assert response.headers["cache-control"] == "no-store" and "etag" not in response.headers
    assert response.text.count('"hasNext"') == 2
