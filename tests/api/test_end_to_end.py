"""End to end: `idgraph load` a JSONL file, `idgraph serve` it, query it over HTTP."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

EXAMPLES = Path(__file__).parents[2] / "docs" / "examples" / "events.jsonl"
IDGRAPH = [sys.executable, "-m", "app"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_healthy(url: str, process: subprocess.Popen) -> None:
    for _ in range(200):
        if process.poll() is not None:
            raise AssertionError(
                f"server exited: {process.stderr.read() if process.stderr else ''}"
            )
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError("server did not become healthy")


@pytest.fixture
def served(tmp_path) -> Iterator[tuple[str, subprocess.CompletedProcess]]:
    store = f"sqlite:///{tmp_path}/e2e.db"
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"event_id": "x1", "type": "click"}\nnot json\n')
    loaded = subprocess.run(
        [
            *IDGRAPH,
            "load",
            "--store",
            store,
            "--rejects",
            str(tmp_path / "rejects.jsonl"),
            str(EXAMPLES),
            str(bad),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "200"},
    )
    port = free_port()
    server = subprocess.Popen(
        [*IDGRAPH, "serve", "--store", store, "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(url, server)
        yield url, loaded
    finally:
        server.terminate()
        server.wait(timeout=20)


def graphql(url: str, query: str, **variables) -> dict:
    response = httpx.post(
        url + "/graphql", json={"query": query, "variables": variables}, timeout=10
    )
    assert response.status_code == 200, response.text
    return response.json()


QUERY = """query($type: String!, $value: String!, $after: String) {
  customerByIdentifier(type: $type, value: $value) {
    id
    identifiers { type value }
    timeline(first: 3, after: $after) {
      edges { cursor node { eventId type timestamp source } }
      pageInfo { hasNextPage endCursor }
    }
  }
}"""


def test_load_reports_bad_lines_and_loads_the_rest(served, tmp_path):
    _, loaded = served
    assert loaded.returncode == 0, loaded.stderr
    rejects = [json.loads(line) for line in (tmp_path / "rejects.jsonl").read_text().splitlines()]
    assert [(r["position"].rsplit(":", 1)[-1], r["field"]) for r in rejects] == [
        ("1", "timestamp"),
        ("2", "message"),
    ]
    assert "events stored" in loaded.stderr


def test_a_customer_found_by_any_phone_spelling_has_all_its_identifiers(served):
    url, _ = served
    data = graphql(url, QUERY, type="phone", value="+31 6 1234 5678")["data"]
    customer = data["customerByIdentifier"]
    assert {(i["type"], i["value"]) for i in customer["identifiers"]} == {
        ("cookie", "ck_7f3a9c"),
        ("email", "anna.devries@example.com"),
        ("device_id", "6d92078a-8246-4ba4-ae5b-76104861e7dc"),
        ("crm_id", "C-100234"),
        ("phone", "+31612345678"),
        ("loyalty_id", "LX-88120"),
    }
    again = graphql(url, QUERY, type="email", value=" Anna.deVries@EXAMPLE.com")["data"]
    assert again["customerByIdentifier"]["id"] == customer["id"]


def test_the_timeline_pages_newest_first_across_identifiers(served):
    url, _ = served
    seen, after = [], None
    while True:
        page = graphql(url, QUERY, type="cookie", value="ck_7f3a9c", after=after)
        timeline = page["data"]["customerByIdentifier"]["timeline"]
        seen += [edge["node"]["eventId"] for edge in timeline["edges"]]
        if not timeline["pageInfo"]["hasNextPage"]:
            break
        after = timeline["pageInfo"]["endCursor"]
    assert seen == [
        "bot-0001",
        "call-0001",
        "crm-0001",
        "pos-0001",
        "app-0001",
        "web-0002",
        "web-0001",
        "ads-0001",
    ]


def test_customer_by_id_and_unknown_and_invalid_lookups(served):
    url, _ = served
    cid = graphql(url, QUERY, type="cookie", value="ck_anon_42")["data"]["customerByIdentifier"][
        "id"
    ]
    found = graphql(url, "query($id: ID!) { customer(id: $id) { id } }", id=cid)
    assert found["data"]["customer"]["id"] == cid
    missing = graphql(url, '{ customer(id: "c_nope") { id } }')
    assert missing["data"]["customer"] is None
    unknown = graphql(url, QUERY, type="cookie", value="never-seen")
    assert unknown["data"]["customerByIdentifier"] is None
    invalid = graphql(url, QUERY, type="email", value="not-an-email")
    assert invalid["data"]["customerByIdentifier"] is None
    [error] = invalid["errors"]
    assert error["message"].startswith("value: email identifier") and "traceback" not in str(error)
    cursor = graphql(url, QUERY, type="cookie", value="ck_anon_42", after="garbage")
    assert "not a cursor" in cursor["errors"][0]["message"]


def test_healthz_answers(served):
    url, _ = served
    assert httpx.get(url + "/healthz").json() == {"status": "ok"}
