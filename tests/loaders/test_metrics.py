"""Lag, throughput and errors on /metrics, in Prometheus text format."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from app.metrics import LoaderMetrics, metrics_text, serve_metrics, update_group_lag
from tests.conftest import KAFKA_BOOTSTRAP
from tests.loaders.streams import (
    add_malformed,
    create_topic,
    loader,
    people_stream,
    produce,
    run_loader,
    scrape,
    total,
    unique,
)

pytestmark = pytest.mark.kafka


async def test_the_loader_serves_throughput_lag_and_errors(sqlite_store):
    topic, dlq = await create_topic(unique("events")), unique("dlq")
    stream = people_stream(500, 50)
    add_malformed(stream, 5)
    await produce(topic, stream.messages())
    instance = loader(sqlite_store, topic, dlq_topic=dlq, batch_size=100)
    port, stop = serve_metrics("127.0.0.1", 0, instance.metrics.registry)
    try:
        await run_loader(instance)
        found = scrape(f"http://127.0.0.1:{port}/metrics")
    finally:
        stop()

    assert total(found, "idgraph_loader_messages_total", topic=topic) == 505
    assert total(found, "idgraph_loader_events_total", outcome="stored") == 500
    assert total(found, "idgraph_loader_events_total", outcome="rejected") == 5
    assert total(found, "idgraph_loader_dead_letters_total", topic=topic) == 5
    assert total(found, "idgraph_loader_batches_total") >= 6
    assert total(found, "idgraph_loader_batch_seconds_count") >= 6
    assert total(found, "idgraph_loader_consumer_lag", topic=topic) == 0
    assert total(found, "idgraph_loader_last_commit_timestamp_seconds") > 0
    assert total(found, "idgraph_loader_errors_total") == 0


async def test_the_api_reads_a_groups_lag_from_kafka(sqlite_store):
    topic = await create_topic(unique("events"))
    group = unique("group")
    await produce(topic, people_stream(100, 10).messages())
    await run_loader(loader(sqlite_store, topic, group_id=group, idle_exit_s=2))
    await produce(topic, people_stream(25, 5, prefix="late").messages())
    metrics = LoaderMetrics(registry := CollectorRegistry())

    await update_group_lag(KAFKA_BOOTSTRAP, [group], metrics)

    found = {(s.name, tuple(sorted(s.labels.items()))): s.value for family in
             text_string_to_metric_families(metrics_text(registry).decode())
             for s in family.samples}
    assert total(found, "idgraph_consumer_group_lag", group=group, topic=topic) == 25
