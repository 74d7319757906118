"""What lets clients and caches save work: automatic persisted queries (a hash in place of
the document, POST or GET), ETag and Cache-Control on GET answers (a 304 when nothing
changed), and gzip for large answers. SQLite only: the store does not matter here."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import httpx
import pytest
from strawberry.http import GraphQLRequestData

from app.api.errors import Refused
from app.api.persisted import PersistedQueries
from tests.api.conftest import KEYS
from tests.api.data import seed
from tests.helpers import raw_event

QUERY = '{ customerByIdentifier(type: "cookie", value: "ck_anna") { id identifiers { value } } }'
DIGEST = hashlib.sha256(QUERY.encode()).hexdigest()


def persisted(digest: str = DIGEST, version: Any = 1) -> dict[str, Any]:
    return {"persistedQuery": {"version": version, "sha256Hash": digest}}


@pytest.fixture
async def api(sqlite_store, api_with):
    async with api_with(sqlite_store) as served:
        await seed(served.services)
        yield served


async def post(api, body: dict[str, Any], role: str = "reader") -> httpx.Response:
    async with httpx.AsyncClient(timeout=30) as http:
        return await http.post(api.url + "/graphql", json=body,
                               headers={"Authorization": f"Bearer {KEYS[role]}"})


async def get(api, params: dict[str, Any], **headers: str) -> httpx.Response:
    params = {k: json.dumps(v) if isinstance(v, dict) else v for k, v in params.items()}
    async with httpx.AsyncClient(timeout=30) as http:
        return await http.get(api.url + "/graphql", params=params,
                              headers={"Authorization": f"Bearer {KEYS['reader']}", **headers})


def error(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert "data" not in body, body
    [only] = body["errors"]
    return only


async def test_a_hash_runs_the_document_registered_under_it(api):
    # Unknown at first: the client is told to send the document (200, so that nothing on
    # the way masks the body), and nobody caches that answer.
    first = await post(api, {"extensions": persisted()})
    assert first.status_code == 200
    assert error(first) == {"message": "PersistedQueryNotFound",
                            "extensions": {"code": "PERSISTED_QUERY_NOT_FOUND"}}
    assert first.headers["cache-control"] == "no-store"
    registered = await post(api, {"query": QUERY, "extensions": persisted()})
    data = registered.json()["data"]
    assert data["customerByIdentifier"]["id"]
    assert (await post(api, {"extensions": persisted()})).json() == {"data": data}
    assert (await get(api, {"extensions": persisted()})).json() == {"data": data}


async def test_a_hash_that_is_not_the_documents_is_refused_and_nothing_registered(api):
    other = hashlib.sha256(b"{ viewer { role } }").hexdigest()
    mismatch = await post(api, {"query": QUERY, "extensions": persisted(other)})
    assert mismatch.status_code == 400
    assert error(mismatch)["message"] == \
        "extensions.persistedQuery.sha256Hash: not the SHA-256 of the query"
    assert error(mismatch)["extensions"]["code"] == "BAD_REQUEST"
    assert error(await post(api, {"extensions": persisted(other)}))["extensions"]["code"] \
        == "PERSISTED_QUERY_NOT_FOUND"


@pytest.mark.parametrize("extensions, field", [
    (persisted(version=2), "extensions.persistedQuery"),
    ({"persistedQuery": "abc"}, "extensions.persistedQuery"),
    (persisted(DIGEST.upper()), "extensions.persistedQuery.sha256Hash"),
    (persisted("abc"), "extensions.persistedQuery.sha256Hash"),
])
async def test_a_malformed_persisted_query_is_refused_naming_the_field(api, extensions, field):
    response = await post(api, {"query": QUERY, "extensions": extensions})
    assert response.status_code == 400
    assert error(response)["message"].startswith(field + ": ")


async def test_persisted_queries_can_be_turned_off(sqlite_store, api_with):
    async with api_with(sqlite_store, api_persisted_queries=0) as api:
        response = await post(api, {"query": QUERY, "extensions": persisted()})
    assert error(response)["extensions"]["code"] == "PERSISTED_QUERY_NOT_SUPPORTED"


def test_the_registry_keeps_the_most_recently_used_documents():
    registry = PersistedQueries(capacity=2)
    documents = [f"{{ a{i}: viewer {{ role }} }}" for i in range(3)]
    digests = [hashlib.sha256(d.encode()).hexdigest() for d in documents]

    def ask(i: int, with_document: bool = False) -> str | None:
        return registry.resolve(GraphQLRequestData(
            query=documents[i] if with_document else None, variables=None,
            operation_name=None, extensions=persisted(digests[i]))).query

    ask(0, True), ask(1, True)
    assert ask(0) == documents[0]  # used: 1 is now the oldest
    ask(2, True)
    assert ask(0) == documents[0] and ask(2) == documents[2]
    with pytest.raises(Refused):
        ask(1)


async def test_a_get_answer_is_revalidated_by_its_etag(api):
    first = await get(api, {"query": QUERY})
    etag = first.headers["etag"]
    assert first.headers["cache-control"] == "private, no-cache"
    assert "Authorization" in first.headers["vary"]
    unchanged = await get(api, {"query": QUERY}, **{"If-None-Match": etag})
    assert unchanged.status_code == 304 and unchanged.content == b""
    assert unchanged.headers["etag"] == etag
    # Anna gains an identifier: the answer changes, and so does its tag.
    result = await api.services.ingest.ingest_raw([("e-9", raw_event(
        "web-9", "2024-05-01T10:00:00Z", "cookie:ck_anna", "device_id:dev-anna"))])
    assert not result.problems
    changed = await get(api, {"query": QUERY}, **{"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag
    assert "dev-anna" in changed.text


async def test_answers_that_must_not_be_kept_say_so(api):
    posted = await post(api, {"query": QUERY})
    assert posted.headers["cache-control"] == "no-store" and "etag" not in posted.headers
    failed = await get(api, {"query": "{ customer(id: \"x\") { nope } }"})
    assert "errors" in failed.json()
    assert failed.headers["cache-control"] == "no-store" and "etag" not in failed.headers


async def test_large_answers_are_compressed_for_clients_that_accept_gzip(api):
    query = "{ __schema { types { name fields { name } } } }"
    async with httpx.AsyncClient(timeout=30) as http:
        big = await http.post(api.url + "/graphql", json={"query": query},
                              headers={"Authorization": f"Bearer {KEYS['reader']}",
                                       "Accept-Encoding": "gzip"})
        small = await http.post(api.url + "/graphql", json={"query": "{ viewer { role } }"},
                                headers={"Authorization": f"Bearer {KEYS['reader']}",
                                         "Accept-Encoding": "gzip"})
    assert big.headers["content-encoding"] == "gzip"
    assert int(big.headers["content-length"]) < len(big.content)  # httpx decoded it
    assert big.json()["data"]["__schema"]["types"]
    assert "content-encoding" not in small.headers
