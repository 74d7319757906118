"""No read without a key, however the request is spelled: the GraphiQL page is decided on
the decoded parameters, and a caller without an accepted key runs no operation even if a
request reaches the schema. Also: /metrics, the Host header in local development mode,
and key configuration. SQLite only: nothing here depends on the store."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from app.api import asgi
from app.api.auth import ANONYMOUS, DEV_PRINCIPAL
from app.api.context import Context
from app.api.events import InProcessBus
from app.api.schema import build_schema
from app.config import Settings
from tests.api.conftest import KEYS
from tests.api.data import seed

VIEWER = "{viewer{role}}"
SEARCH = '{searchCustomers(query:"anna"){edges{matched}}}'
PROFILE = '{customerByIdentifier(type:"cookie",value:"ck_anna"){identifiers{value}}}'


@pytest.fixture
async def api(sqlite_store, api_with):
    async with api_with(sqlite_store) as served:  # introspection on: GraphiQL is served
        await seed(served.services)
        yield served


async def get(api, query_string: str, **headers: str) -> httpx.Response:
    async with httpx.AsyncClient(timeout=30) as http:
        return await http.get(f"{api.url}/graphql?{query_string}", headers=headers)


def read_nothing(response: httpx.Response) -> None:
    """The answer is a 401 asking for a key, or the GraphiQL page: never data."""
    if response.status_code == 401:
        assert response.json()["errors"][0]["message"].startswith("send an API key") \
            or "unknown API key" in response.json()["errors"][0]["message"]
        return
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html"), response.text
    assert "graphiql" in response.text.lower()
    for secret in ("anna", "devries", "ck_anna", '"role"'):
        assert secret not in response.text


SPELLINGS = [
    "%71uery={q}",                # the finding: %71 is q
    "qu%65ry={q}",
    "%71%75%65%72%79={q}",
    "Query={q}",                  # not `query`: the page, which runs nothing
    "QUERY={q}",
    "query=&query={q}",           # repeated: the last one counts
    "query={q}&query=",
    "query={q}&%71uery={q}",
    "query",                      # present without a value
    "query=",
    "a=1&%71uery={q}",
    "variables=%7B%7D&%71uery={q}",
    "%71uery={q}&operationName=x",
]


@pytest.mark.parametrize("spelling", SPELLINGS)
async def test_no_spelling_of_a_get_reads_without_an_accepted_key(api, spelling):
    for query in (VIEWER, SEARCH, PROFILE):
        for key in (None, "wrong-key"):
            headers = {"Accept": "text/html"}
            if key:
                headers["Authorization"] = f"Bearer {key}"
            read_nothing(await get(api, spelling.format(q=quote(query, safe="")), **headers))


async def test_an_operation_in_the_url_gets_401_not_the_page(api):
    for accept in ("text/html", "text/html,application/json", "*/*", "application/json"):
        response = await get(api, "%71uery=%7Bviewer%7Brole%7D%7D", Accept=accept)
        assert response.status_code == 401, (accept, response.text)


async def test_a_post_that_asks_for_html_gets_401(api):
    async with httpx.AsyncClient(timeout=30) as http:
        for url in ("/graphql", "/graphql?", "/graphql?Query=x"):
            response = await http.post(api.url + url, json={"query": VIEWER},
                                       headers={"Accept": "text/html"})
            assert response.status_code == 401, url


async def test_the_graphiql_page_still_loads_without_a_key(api):
    response = await get(api, "", Accept="text/html")
    assert response.status_code == 200 and "graphiql" in response.text.lower()


async def test_with_introspection_off_there_is_no_page_to_let_through(sqlite_store, api_with):
    async with api_with(sqlite_store, api_introspection=False) as off:
        for spelling in ("", "Query=%7Bviewer%7Brole%7D%7D", "%71uery=%7Bviewer%7Brole%7D%7D"):
            response = await get(off, spelling, Accept="text/html")
            assert response.status_code == 401, (spelling, response.text)


async def test_a_request_that_gets_past_the_page_check_runs_no_operation(api, monkeypatch):
    """The second line: should the page check ever let an operation through, its caller is
    ANONYMOUS, and ANONYMOUS runs nothing."""
    monkeypatch.setattr(asgi, "wants_ide", lambda scope, headers: True)
    api_url = api.url
    for query in (VIEWER, SEARCH, PROFILE):
        async with httpx.AsyncClient(timeout=30) as http:
            response = await http.get(api_url + "/graphql", params={"query": query},
                                      headers={"Accept": "text/html"})
        body = response.json()
        assert "data" not in body, body
        assert body["errors"][0]["message"] == "send an API key: Authorization: Bearer <key>"


async def execute_as(principal: Any, query: str, api) -> Any:
    schema = build_schema(api.services.settings)
    return await schema.execute(query, context_value=Context(api.services, principal,
                                                             InProcessBus()))


async def test_the_schema_refuses_every_operation_of_an_anonymous_caller(api):
    for query in (VIEWER, SEARCH, PROFILE, "{ __typename }",
                  'mutation { deleteSegment(id: "x") { __typename } }'):
        result = await execute_as(ANONYMOUS, query, api)
        assert result.data is None, (query, result.data)
        assert [e.message for e in result.errors or []] == [
            "send an API key: Authorization: Bearer <key>"]
    allowed = await execute_as(DEV_PRINCIPAL, VIEWER, api)
    assert allowed.data == {"viewer": {"role": "ADMIN"}}


async def test_an_anonymous_subscription_is_refused_too(api):
    schema = build_schema(api.services.settings)
    ids = await api.services.store.owners(["cookie:ck_anna"])
    stream = await schema.subscribe(
        "subscription($id: ID!) { customerChanged(id: $id) { kind } }",
        variable_values={"id": ids["cookie:ck_anna"]},
        context_value=Context(api.services, ANONYMOUS, InProcessBus()))
    results = [r async for r in stream] if hasattr(stream, "__aiter__") else [stream]
    assert [e.message for r in results for e in r.errors or []] == [
        "send an API key: Authorization: Bearer <key>"]
    assert all(r.data is None for r in results)


def test_an_anonymous_caller_has_no_role():
    assert not ANONYMOUS.authenticated
    assert not any(ANONYMOUS.can(role) for role in ("reader", "steward", "admin"))
    assert not ANONYMOUS.sees_pii


SUBSCRIBE = {"id": "1", "type": "subscribe", "payload": {
    "query": "subscription($id: ID!) { customerChanged(id: $id) { kind } }",
    "variables": {"id": "c_x"}}}
QUERY_OVER_WS = {"id": "2", "type": "subscribe", "payload": {"query": SEARCH}}


async def ws_exchange(api, messages: list[dict[str, Any]]) -> tuple[list[Any], int | None]:
    """Send the messages on a graphql-transport-ws connection; what came back until the
    first result or the server's close, and the close code (None: still open)."""
    received: list[Any] = []
    async with connect(api.ws_url, subprotocols=["graphql-transport-ws"]) as ws:
        try:
            for message in messages:
                await ws.send(json.dumps(message))
            async for reply in ws:
                received.append(json.loads(reply))
                if received[-1].get("type") in ("next", "error", "complete"):
                    return received, None
        except ConnectionClosed:
            pass
        return received, ws.close_code


@pytest.mark.parametrize("messages", [
    [SUBSCRIBE],                                               # no connection_init at all
    [QUERY_OVER_WS],
    [{"type": "connection_init", "payload": {}}, QUERY_OVER_WS],  # init without a key
    [{"type": "connection_init", "payload": {"Authorization": "Bearer wrong"}}, QUERY_OVER_WS],
    [{"type": "connection_init", "payload": {"authorization": KEYS["reader"][:-1]}},
     QUERY_OVER_WS],
])
async def test_a_websocket_without_an_accepted_key_reads_nothing(api, messages):
    received, code = await ws_exchange(api, messages)
    assert code in (4401, 4403), (code, received)
    assert not any(m.get("type") == "next" for m in received), received


async def test_a_websocket_with_a_key_in_its_connection_init_reads(api):
    init = {"type": "connection_init", "payload": {"Authorization": f"Bearer {KEYS['reader']}"}}
    received, _ = await ws_exchange(api, [init, QUERY_OVER_WS])
    assert received[0]["type"] == "connection_ack"
    assert received[1]["type"] == "next"
    assert received[1]["payload"]["data"]["searchCustomers"]["edges"]


async def test_metrics_need_a_key_once_keys_are_set(api):
    async with httpx.AsyncClient(timeout=30) as http:
        health = await http.get(api.url + "/healthz")
        refused = [await http.get(api.url + "/metrics", headers=headers)
                   for headers in ({}, {"Authorization": "Bearer wrong"})]
        allowed = await http.get(api.url + "/metrics",
                                 headers={"Authorization": f"Bearer {KEYS['reader']}"})
    assert health.json() == {"status": "ok"}  # load balancers probe it without a key
    assert [r.status_code for r in refused] == [401, 401]
    assert all("idgraph_loader" not in r.text for r in refused)
    assert refused[0].headers["www-authenticate"] == "Bearer"
    assert allowed.status_code == 200 and "idgraph_loader" in allowed.text
    assert allowed.headers["content-type"].startswith("text/plain")


# -- the Host header ---------------------------------------------------------------------
@pytest.fixture
async def dev_api(sqlite_store, api_with):
    async with api_with(sqlite_store, api_keys="") as served:
        yield served


async def post_with_host(api, host: str) -> httpx.Response:
    async with httpx.AsyncClient(timeout=30) as http:
        return await http.post(api.url + "/graphql", json={"query": VIEWER},
                               headers={"Host": host})


async def test_development_mode_answers_loopback_names_only(dev_api):
    port = dev_api.url.rsplit(":", 1)[1]
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", "localhost", f"[::1]:{port}",
                 f"LOCALHOST:{port}"):
        response = await post_with_host(dev_api, host)
        assert response.json() == {"data": {"viewer": {"role": "ADMIN"}}}, host
    for host in (f"rebound.attacker.example:{port}", "attacker.example", "127.0.0.1.nip.io",
                 f"localhost.attacker.example:{port}", ""):
        response = await post_with_host(dev_api, host)
        assert response.status_code == 400, host
        message = response.json()["errors"][0]["message"]
        assert "not one this API answers to" in message and "IDGRAPH_API_ALLOWED_HOSTS" in message
    async with httpx.AsyncClient(timeout=30) as http:
        other = await http.get(dev_api.url + "/explorer/", headers={"Host": "attacker.example"})
    assert other.status_code == 400


async def test_development_mode_refuses_a_websocket_from_another_host(dev_api):
    port = int(dev_api.url.rsplit(":", 1)[1])
    for name, extra in (("rebound.attacker.example", {}),
                        ("127.0.0.1", {"Host": "rebound.attacker.example"})):  # two Hosts
        with pytest.raises(InvalidStatus) as refused:
            # The name is the Host header; the connection goes to the test server.
            async with connect(f"ws://{name}:{port}/graphql", host="127.0.0.1", port=port,
                               subprotocols=["graphql-transport-ws"],
                               additional_headers=extra):
                pass
        assert refused.value.response.status_code == 403
    async with connect(dev_api.ws_url, subprotocols=["graphql-transport-ws"]) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
        assert json.loads(await ws.recv())["type"] == "connection_ack"


async def test_configured_hosts_apply_with_keys_as_well(sqlite_store, api_with):
    async with api_with(sqlite_store, api_allowed_hosts="idgraph.internal, *.shop.example"
                        ) as served:
        for host, status in (("idgraph.internal", 401), ("api.shop.example:443", 401),
                             ("shop.example", 400), ("127.0.0.1", 400)):
            assert (await post_with_host(served, host)).status_code == status, host


async def test_with_keys_and_no_list_any_host_is_answered(api):
    response = await post_with_host(api, "idgraph.example.com")
    assert response.status_code == 401  # asked for a key, not refused for its host


# -- key configuration -------------------------------------------------------------------
def refusal(keys: str) -> str:
    with pytest.raises(ValueError) as refused:
        Settings(api_keys=keys).api_key_roles()
    return str(refused.value)


@pytest.mark.parametrize("keys", ["replace-me-admin-key:admin", "changeme:reader",
                                  "good-key-1234567890:reader,CHANGE-ME-too:steward",
                                  "<your-key>:admin"])
def test_a_placeholder_key_is_refused_with_how_to_set_one(keys):
    message = refusal(keys)
    assert "placeholder" in message and "openssl rand" in message
    assert "IDGRAPH_API_KEYS entry" in message


@pytest.mark.parametrize("keys", ["s3cr3t-value-xyz:superuser", "s3cr3t-value-xyz",
                                  "ok-key-1234567890:reader,s3cr3t-value-xyz:root"])
def test_a_bad_key_entry_is_named_by_position_without_any_of_the_key(keys):
    message = refusal(keys)
    assert "expected key:role" in message and "entry" in message
    for n in range(2, len("s3cr3t-value-xyz") + 1):
        assert "s3cr3t-value-xyz"[:n] not in message
    assert "ok-key" not in message


def test_an_app_with_a_placeholder_key_does_not_start(tmp_path):
    from app.bootstrap import build_services
    from app.stores import open_store

    store = open_store(f"sqlite:///{tmp_path}/x.db")
    services = build_services(Settings(store=store.url, api_keys="replace-me-admin-key:admin"),
                              store=store)
    with pytest.raises(ValueError, match="placeholder"):
        asgi.create_app(services, bus=InProcessBus())
