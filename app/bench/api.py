"""`idgraph bench api`: the frontend profile query over HTTP, next to the same reads made
straight on the store adapter, in one run.

The store is filled with synthetic customers (app.demo.synthetic_events) until it holds
`customers` of them, or used as it is when it holds enough. An API server runs in its own
process, or `workers` processes (as in production, with a reader key: values are masked,
and without access logs); the benchmark process plays 1, 16 and 64 concurrent clients,
each sending the query for a random customer's cookie as soon as its previous answer
arrived. It does so twice in one run: with the profile read model (the documents the
store keeps per customer, app/stores/readmodel.py; written first where the store lacks
them) and with it off, every read from the graph (the baseline). The raw figures make the
query's reads on the store as the API's DataLoaders make them (with the read model: the
identifier's owner and its document in one lookup; on the graph: owners, then one
read_customers for identifiers, profile observations, the timeline page and segment
states), one customer at a time, the two paths taking turns, so `graphql_over_raw` is
what GraphQL, HTTP and JSON cost on top.
Clients and server share the machine: on 2 cores the client's own CPU is part of the
figures at 64 clients.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from rich.console import Console

from app.bootstrap import Services, start
from app.config import WORKER_SETTINGS, Settings
from app.demo import synthetic_events
from app.domain.identifiers import normalise
from app.services.readmodel import build_documents
from app.services.views import Views
from app.stores.values import CustomerReads, TimelineWindow

BENCH_KEY = "idgraph-bench-reader-key"
# The two paths measured in one run: the profile documents, and the graph (the baseline).
PATHS = {"read_model": True, "graph": False}
LOAD_BATCH = 1000
QUERY = """query Profile($type: String!, $value: String!) {
  customerByIdentifier(type: $type, value: $value) {
    id
    profile { traits { name value source observedAt } }
    identifiers { type value firstSeen lastSeen sources }
    timeline(first: 20) { edges { cursor node { eventId type timestamp source properties } }
                          pageInfo { hasNextPage endCursor } }
    segments { segmentId }
  }
}"""


async def ensure_customers(services: Services, target: int, console: Console) -> int:
    """Load synthetic events until the store holds `target` customers; an empty store or
    one that holds enough already, nothing in between."""
    stats = await services.store.stats()
    if stats.customers >= target:
        console.print(f"the store holds {stats.customers:,} customers: using them")
        return stats.customers
    if stats.events:
        raise SystemExit(f"the store holds {stats.customers:,} customers, fewer than "
                         f"{target:,}: empty it, or pass --customers {stats.customers}")
    console.print(f"loading synthetic events until there are {target:,} customers ...")
    events = synthetic_events(10 * target)
    started, loaded, customers = time.perf_counter(), 0, 0
    while customers < target:
        batch = list(itertools.islice(events, LOAD_BATCH))
        result = await services.ingest.ingest_raw((str(n), raw) for n, raw in enumerate(batch))
        loaded += len(batch)
        customers += result.new_customers - result.merges
        if loaded % (50 * LOAD_BATCH) == 0:
            customers = (await services.store.stats()).customers
            console.print(f"  {loaded:,} events, {customers:,} customers, "
                          f"{loaded / (time.perf_counter() - started):,.0f} events/s")
    return (await services.store.stats()).customers


async def sample_customers(services: Services, n: int, seed: int) -> list[str]:
    """The ids of `n` random customers."""
    ids: list[str] = []
    after: str | None = None
    while page := await services.store.customer_page(after, 5000):
        ids += page
        after = page[-1]
    return random.Random(seed).sample(ids, min(n, len(ids)))


async def sample_cookies(services: Services, n: int, seed: int) -> list[tuple[str, str]]:
    """(type, value) of one identifier of each of `n` random customers."""
    chosen = await sample_customers(services, n, seed)
    identifiers = await services.store.identifiers_of(chosen)
    picks = []
    for cid in chosen:
        records = identifiers.get(cid, [])
        cookie = next((r for r in records if r.type == "cookie"), records[0] if records else None)
        if cookie is not None:
            picks.append((cookie.type, cookie.value))
    return picks


def summary(latencies: list[float], seconds: float, errors: int) -> dict[str, Any]:
    ms = sorted(x * 1000 for x in latencies)
    cuts = statistics.quantiles(ms, n=100, method="inclusive")
    return {"requests": len(ms), "errors": errors, "p50_ms": round(cuts[49], 2),
            "p99_ms": round(cuts[98], 2), "mean_ms": round(statistics.fmean(ms), 2),
            "per_s": round(len(ms) / seconds, 1)}


async def drive(clients: int, requests: int, lookups: list[tuple[str, str]],
                call: Callable[[str, str], Awaitable[bool]]) -> dict[str, Any]:
    """`clients` workers share `requests` calls; each waits for its answer before the next."""
    latencies: list[float] = []
    errors = 0
    counter = itertools.count()

    async def worker() -> None:
        nonlocal errors
        while (n := next(counter)) < requests:
            type_, value = lookups[n % len(lookups)]
            begin = time.perf_counter()
            ok = await call(type_, value)
            latencies.append(time.perf_counter() - begin)
            errors += not ok

    begin = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(clients)))
    return summary(latencies, time.perf_counter() - begin, errors)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(settings: Settings, port: int, workers: int, read_model: bool
                 ) -> subprocess.Popen[bytes]:
    # the worker factory takes its settings whole, as `idgraph serve --workers` hands them over
    served = settings.model_copy(update={"api_keys": f"{BENCH_KEY}:reader",
                                         "api_read_model": read_model})
    env = {**os.environ, WORKER_SETTINGS: served.to_json()}
    return subprocess.Popen(
        [sys.executable, "-m", "app.bench.api", "serve", str(port), str(workers)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


async def wait_healthy(url: str, server: subprocess.Popen[bytes]) -> None:
    async with httpx.AsyncClient() as http:
        for _ in range(600):
            if server.poll() is not None:
                stderr = server.stderr.read().decode() if server.stderr else ""
                raise SystemExit(f"the API server exited: {stderr[-2000:]}")
            try:
                if (await http.get(url + "/healthz", timeout=1)).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise SystemExit("the API server did not become healthy in 60 s")


class Connection:
    """A minimal HTTP/1.1 keep-alive client for one connection: the benchmark's clients
    share the CPU with the server, so they must cost as little of it as they can."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, body: bytes) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        assert self.reader is not None
        head = (f"POST /graphql HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n"
                f"Authorization: Bearer {BENCH_KEY}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n").encode()
        self.writer.write(head + body)
        headers = await self.reader.readuntil(b"\r\n\r\n")
        status = int(headers[9:12])
        length = next(int(line.split(b":", 1)[1]) for line in headers.split(b"\r\n")
                      if line.lower().startswith(b"content-length:"))
        return status, await self.reader.readexactly(length)

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(ConnectionError):
                await self.writer.wait_closed()


async def http_levels(ports: dict[str, int], lookups: list[tuple[str, str]],
                      levels: list[int], requests: int, console: Console
                      ) -> dict[str, dict[str, Any]]:
    """Each level on each path's server in turn (the paths alternate, so that neither
    gets the quieter minutes of a shared machine or the warmer store to itself)."""
    bodies = {lookup: json.dumps({"query": QUERY, "variables": {
        "type": lookup[0], "value": lookup[1]}}).encode() for lookup in lookups}

    async def level(port: int, clients: int, n: int) -> dict[str, Any]:
        connections = [Connection(port) for _ in range(clients)]
        free = list(connections)

        async def call(type_: str, value: str) -> bool:
            connection = free.pop()
            try:
                status, body = await connection.post(bodies[(type_, value)])
            finally:
                free.append(connection)
            return status == 200 and b'"errors"' not in body and b"null}" not in body[:60]

        try:
            return await drive(clients, n, lookups, call)
        finally:
            for connection in connections:
                await connection.close()

    for port in ports.values():
        await level(port, 4, 200)  # warm up
    results: dict[str, dict[str, Any]] = {path: {} for path in ports}
    for clients in levels:
        for path, port in ports.items():
            console.print(f"GraphQL over HTTP, {path}, {clients} client(s) ...")
            results[path][str(clients)] = await level(port, clients, requests)
    return results


async def raw_levels(services: Services, lookups: list[tuple[str, str]], requests: int
                     ) -> dict[str, dict[str, Any]]:
    """The query's reads as Views makes them on each path (from the profile documents, or
    from the graph), one client, the paths taking turns request by request."""
    calls = {path: _raw_call(services, read_model) for path, read_model in PATHS.items()}
    for call in calls.values():
        await drive(1, 200, lookups, call)
    latencies: dict[str, list[float]] = {path: [] for path in PATHS}
    errors = dict.fromkeys(PATHS, 0)
    for n in range(requests):
        for path, call in calls.items():
            begin = time.perf_counter()
            ok = await call(*lookups[n % len(lookups)])
            latencies[path].append(time.perf_counter() - begin)
            errors[path] += not ok
    return {path: summary(latencies[path], sum(latencies[path]), errors[path])
            for path in PATHS}


def _raw_call(services: Services, read_model: bool) -> Callable[[str, str], Awaitable[bool]]:
    region = services.settings.default_region
    views = Views(services.store, read_model=read_model)

    async def call(type_: str, value: str) -> bool:
        key = normalise(type_, value, default_region=region).key
        owners, documents = await views.owners_and_documents([key])
        if (cid := owners.get(key)) is None:
            return False
        data = await views.customer_data(CustomerReads(
            identifiers={cid}, observations={cid}, timelines={TimelineWindow(21): {cid}},
            segment_states={cid}), documents)
        return cid in data.identifiers

    return call


async def run_api_bench(settings: Settings, customers: int, requests: int, levels: list[int],
                        console: Console, seed: int = 7, workers: int = 1) -> dict[str, Any]:
    if settings.store.startswith("sqlite") and settings.store == Settings().store:
        path = os.path.join(tempfile.mkdtemp(prefix="idgraph-bench-api-"), "bench.db")
        settings = settings.model_copy(update={"store": f"sqlite:///{path}"})
    services = await start(settings)
    try:
        held = await ensure_customers(services, customers, console)
        console.print("writing the profile documents the store lacks ...")
        await build_documents(services.store)
        lookups = await sample_cookies(services, 2000, seed)
        load_before = os.getloadavg()[0]
        graphql = await serve_levels(settings, workers, lookups, levels, requests, console)
        console.print("raw store reads, 1 client, both paths in turn ...")
        raw = await raw_levels(services, lookups, requests)
    finally:
        await services.close()
    return {
        "benchmark": "api",
        "store": settings.store.split("://")[0],
        "customers": held,
        "query": "customerByIdentifier: profile, identifiers, timeline(first: 20), segments",
        "requests_per_level": requests,
        "server_workers": workers,
        # the machine is shared: a load above its CPUs means other work competed
        "machine": {"cpus": os.cpu_count(), "load_1m_before": round(load_before, 2),
                    "load_1m_after": round(os.getloadavg()[0], 2)},
        "graphql_http": graphql,
        "raw_store_1_client": raw,
        "graphql_over_raw_1_client": {path: _over(graphql[path], raw[path], levels)
                                      for path in PATHS},
        "read_model_over_graph": {
            level: {"p50": round(graphql["read_model"][level]["p50_ms"]
                                 / graphql["graph"][level]["p50_ms"], 2),
                    "p99": round(graphql["read_model"][level]["p99_ms"]
                                 / graphql["graph"][level]["p99_ms"], 2)}
            for level in graphql["graph"]},
    }


def _over(graphql: dict[str, Any], raw: dict[str, Any], levels: list[int]
          ) -> dict[str, float] | None:
    if levels[0] != 1:
        return None
    one = graphql["1"]
    return {"p50": round(one["p50_ms"] / raw["p50_ms"], 2),
            "mean": round(one["mean_ms"] / raw["mean_ms"], 2)}


async def serve_levels(settings: Settings, workers: int, lookups: list[tuple[str, str]],
                       levels: list[int], requests: int, console: Console
                       ) -> dict[str, dict[str, Any]]:
    """The query over HTTP at each level, on each path's server of its own."""
    ports = {path: free_port() for path in PATHS}
    servers = [start_server(settings, ports[path], workers, read_model)
               for path, read_model in PATHS.items()]
    try:
        for port, server in zip(ports.values(), servers, strict=True):
            await wait_healthy(f"http://127.0.0.1:{port}", server)
        return await http_levels(ports, lookups, levels, requests, console)
    finally:
        for server in servers:
            server.terminate()
            server.wait(timeout=30)


def _serve(port: int, workers: int) -> None:
    """The API server of the benchmark: the production app as `idgraph serve --workers`
    runs it, without access logs."""
    import uvicorn

    uvicorn.run("app.api.asgi:worker_app", factory=True, host="127.0.0.1", port=port,
                workers=workers, log_level="warning", access_log=False)


if __name__ == "__main__":
    if sys.argv[1:2] == ["serve"]:
        _serve(int(sys.argv[2]), int(sys.argv[3]))
