"""Loader metrics in Prometheus format: lag, throughput, errors.

One registry per process (`REGISTRY`), served by the loader's own tiny HTTP server
(`serve_metrics`) and by the API's /metrics route (`metrics_text`). Throughput is the
rate of the counters: `rate(idgraph_loader_messages_total[1m])`. The API does not consume,
so it can also report the lag of whole consumer groups, read from Kafka (`update_group_lag`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest, start_http_server

CONTENT_TYPE = CONTENT_TYPE_LATEST
BATCH_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class LoaderMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry

        def counter(name: str, doc: str, labels: Iterable[str] = ()) -> Counter:
            return Counter(name, doc, list(labels), registry=registry)

        def gauge(name: str, doc: str, labels: Iterable[str] = ()) -> Gauge:
            return Gauge(name, doc, list(labels), registry=registry)

        self.messages = counter("idgraph_loader_messages",
                                "Messages consumed and committed, per topic", ["topic"])
        self.events = counter(
            "idgraph_loader_events", "Events by outcome: stored (new), duplicate (already "
            "stored: a replay), rejected (invalid; dead-lettered when there is a DLQ topic)",
            ["outcome"])
        self.dead_letters = counter("idgraph_loader_dead_letters",
                                    "Messages sent to the DLQ topic, per source topic", ["topic"])
        self.batches = counter("idgraph_loader_batches", "Batches made durable and committed")
        self.batch_seconds = Histogram(
            "idgraph_loader_batch_seconds", "Time from a batch's read to its commit",
            buckets=BATCH_BUCKETS, registry=registry)
        self.errors = counter(
            "idgraph_loader_errors", "Errors by kind (store_unavailable, store_error, kafka, "
            "commit_failed); retried ones count each attempt", ["kind"])
        self.identifiers_dropped = counter(
            "idgraph_loader_identifiers_dropped", "Invalid identifiers dropped from kept events")
        self.changes = counter("idgraph_loader_changes_published",
                               "Change events published to the outbound topic", ["kind"])
        self.lag = gauge("idgraph_loader_consumer_lag",
                         "Messages after this loader's position, per assigned partition",
                         ["topic", "partition"])
        self.in_flight = gauge("idgraph_loader_in_flight_messages",
                               "Messages read and not yet committed (bounded by the batch size)")
        self.waiting = gauge("idgraph_loader_waiting_for_store",
                             "1 while the loader retries a batch against an unavailable store")
        self.assigned = gauge("idgraph_loader_assigned_partitions",
                              "Partitions assigned to this loader")
        self.last_commit = gauge("idgraph_loader_last_commit_timestamp_seconds",
                                 "Unix time of the last offset commit")
        self.group_lag = gauge(
            "idgraph_consumer_group_lag", "Messages after the committed offset of a consumer "
            "group, read from Kafka", ["group", "topic", "partition"])


REGISTRY = CollectorRegistry()
METRICS = LoaderMetrics(REGISTRY)


def metrics_text(registry: CollectorRegistry = REGISTRY) -> bytes:
    """The registry in Prometheus text format; serve it with CONTENT_TYPE."""
    return generate_latest(registry)


def serve_metrics(host: str, port: int, registry: CollectorRegistry = REGISTRY
                  ) -> tuple[int, Callable[[], None]]:
    """Serve /metrics on a background thread; return the port (0 picks a free one) and a
    function that stops the server."""
    server, thread = start_http_server(port, host, registry=registry)

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

    return server.server_port, stop


async def update_group_lag(bootstrap_servers: str, groups: Iterable[str],
                           metrics: LoaderMetrics = METRICS, timeout_s: float = 5.0) -> None:
    """Set idgraph_consumer_group_lag for each group from its committed offsets and the
    partitions' end offsets. For the API, which does not consume; bounded by `timeout_s`."""
    from aiokafka import AIOKafkaConsumer
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers,
                                request_timeout_ms=int(timeout_s * 1000))
    probe = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers,
                             request_timeout_ms=int(timeout_s * 1000))
    async with asyncio.timeout(timeout_s * 2):
        await admin.start()
        await probe.start()
        try:
            for group in groups:
                committed = await admin.list_consumer_group_offsets(group)
                ends = await probe.end_offsets(list(committed)) if committed else {}
                for tp, meta in committed.items():
                    lag = max(ends.get(tp, meta.offset) - max(meta.offset, 0), 0)
                    metrics.group_lag.labels(group, tp.topic, str(tp.partition)).set(lag)
        finally:
            await probe.stop()
            await admin.close()
