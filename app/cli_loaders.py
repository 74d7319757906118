"""Loader commands (consume, produce, dlq), registered on the `idgraph` group, and the
`bench stream` command (BENCH_COMMANDS), attached under `idgraph bench`.

app.cli imports this module at its end, so nothing here imports app.cli at import time.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
from collections.abc import Callable, Coroutine
from dataclasses import asdict
from pathlib import Path
from typing import Any

import click

from app.cli_common import settings_for as _settings
from app.cli_common import store_option
from app.config import Settings
from app.stores.errors import StoreError, StoreUnavailable
from loaders.segment_spec import INPUT_FORMATS, SegmentConfig

log = logging.getLogger("idgraph.loader")
DEFAULT_BOOTSTRAP = "127.0.0.1:9092"


def _run(coro: Coroutine[Any, Any, Any]) -> Any:
    try:
        return asyncio.run(coro)
    except StoreError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)


def _logging() -> None:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("aiokafka").setLevel(logging.WARNING)


def bootstrap_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--bootstrap-servers", envvar="IDGRAPH_KAFKA_BOOTSTRAP", default=DEFAULT_BOOTSTRAP,
        show_default=True, help="Kafka HOST:PORT[,HOST:PORT]. Also IDGRAPH_KAFKA_BOOTSTRAP.")(fn)


def format_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    fn = click.option("--user-id-type", default="user_id", show_default=True,
                      help="Identifier type for a Segment message's userId.")(fn)
    return click.option(
        "--format", "input_format", type=click.Choice(INPUT_FORMATS), default="v1",
        show_default=True,
        help="Message format: v1 events, Segment-spec messages, or auto (per message).")(fn)


# -- consume -----------------------------------------------------------------------------
@click.command()
@store_option
@bootstrap_option
@click.option("--topic", "topics", multiple=True, required=True, help="Topic to read; repeat.")
@click.option("--group", default="idgraph-loader", show_default=True,
              help="Consumer group: loaders in one group share the partitions.")
@click.option("--instance-id", default=None,
              help="Static group membership (e.g. the pod name): restarted with the same id, "
              "a loader gets its partitions back without a rebalance.")
@click.option("--session-timeout", type=click.FloatRange(6, 300), default=10.0,
              show_default=True, help="Seconds of silence before the group drops a loader.")
@click.option("--dlq-topic", default=None, help="Where messages that cannot be accepted go.")
@click.option("--changes-topic", default=None,
              help="Where change events (customer created, merged, ...) are published.")
@format_options
@click.option("--batch-size", type=click.IntRange(1, 100_000), default=None,
              help="Messages per read and per store transaction (default: IDGRAPH_BATCH_SIZE, "
              f"or {Settings.model_fields['batch_size'].default:,}).")
@click.option("--offset-reset", type=click.Choice(["earliest", "latest"]), default="earliest",
              show_default=True, help="Where a new group starts reading.")
@click.option("--metrics-host", default="127.0.0.1", show_default=True)
@click.option("--metrics-port", type=click.IntRange(0, 65535), default=9464, show_default=True,
              help="Port of /metrics (0: pick a free one and log it). One per loader.")
@click.option("--max-retry-delay", type=click.FloatRange(0.1), default=30.0, show_default=True,
              help="Cap, in seconds, of the backoff while the store or Kafka is away.")
@click.option("--exit-when-idle", type=click.FloatRange(0.1), default=None,
              help="Stop after this many seconds with nothing to read (backfills, benches).")
def consume(store_url: str | None, bootstrap_servers: str, topics: tuple[str, ...],
            group: str, instance_id: str | None, session_timeout: float,
            dlq_topic: str | None, changes_topic: str | None, input_format: str,
            user_id_type: str, batch_size: int | None, offset_reset: str, metrics_host: str,
            metrics_port: int, max_retry_delay: float, exit_when_idle: float | None) -> None:
    """Load events from Kafka topics into the store, continuously.

    Offsets are committed after each batch is in the store; SIGTERM or SIGINT stops after
    the batch in hand. Prints the run's figures as JSON on exit."""
    from loaders.kafka import LoaderConfig, StoreRejectsAll

    _logging()
    settings = _settings(store_url)
    config = LoaderConfig(
        bootstrap_servers=bootstrap_servers, topics=topics, group_id=group,
        dlq_topic=dlq_topic, changes_topic=changes_topic, input_format=input_format,
        segment=SegmentConfig(user_id_type=user_id_type),
        batch_size=batch_size or settings.batch_size, offset_reset=offset_reset,
        retry_max_s=max_retry_delay, idle_exit_s=exit_when_idle, instance_id=instance_id,
        session_timeout_s=session_timeout)
    try:
        stats = _run(_consume(settings, config, metrics_host, metrics_port))
    except StoreRejectsAll as exc:
        click.echo(f"error: {exc}; nothing of that batch was committed", err=True)
        sys.exit(3)
    except asyncio.CancelledError:  # a second signal: stopped at once, uncommitted work waits
        click.echo("stopped at once; uncommitted messages will be read again", err=True)
        sys.exit(130)
    click.echo(json.dumps(stats))


async def _consume(settings: Settings, config: Any, metrics_host: str, metrics_port: int
                   ) -> dict[str, Any]:
    from app.metrics import serve_metrics
    from loaders.kafka import KafkaLoader

    stopping = asyncio.Event()
    _on_signals(stopping)
    services = await _start_store(settings, config.retry_max_s, stopping)
    if services is None:
        return {"messages": 0, "stopped": "before the store answered"}
    try:
        port, stop_metrics = serve_metrics(metrics_host, metrics_port)
    except OSError as exc:
        await services.close()
        raise click.UsageError(f"cannot serve /metrics on {metrics_host}:{metrics_port} "
                               f"({exc}); give each loader its own --metrics-port") from None
    log.info("metrics at http://%s:%s/metrics", metrics_host, port)
    if settings.test_kill_after_commit:
        services.ingest.committed = _killer(settings.test_kill_after_commit)
    loader = KafkaLoader(services.ingest, config)
    watcher = asyncio.create_task(_stop_on(stopping, loader.stop))
    try:
        stats = await loader.run()
    finally:
        watcher.cancel()
        stop_metrics()
        await services.close()
    return stats.to_json()


def _killer(commits: int) -> Callable[[Any], None]:
    """What the crash tests install: SIGKILL this process right after its Nth commit."""
    count = 0

    def committed(_: Any) -> None:
        nonlocal count
        count += 1
        if count >= commits:
            log.warning("IDGRAPH_TEST_KILL_AFTER_COMMIT: killing this loader after commit %d",
                        count)
            os.kill(os.getpid(), signal.SIGKILL)

    return committed


def _on_signals(stopping: asyncio.Event) -> None:
    """First SIGTERM/SIGINT: stop after the batch in hand. Second: stop now."""
    loop = asyncio.get_running_loop()
    main = asyncio.current_task()

    def handle(name: str) -> None:
        if stopping.is_set() and main is not None:
            log.warning("%s again: stopping now", name)
            main.cancel()
            return
        log.info("%s: stopping after the batch in hand", name)
        stopping.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, handle, sig.name)


async def _stop_on(event: asyncio.Event, stop: Callable[[], None]) -> None:
    await event.wait()
    stop()


async def _start_store(settings: Settings, max_delay: float, stopping: asyncio.Event
                       ) -> Any:
    """Open the store, waiting (with backoff) while it is unavailable; None if stopped."""
    from app.bootstrap import start
    from loaders.kafka import Backoff

    backoff = Backoff(0.5, max_delay)
    while not stopping.is_set():
        try:
            return await start(settings)
        except StoreUnavailable as exc:
            log.warning("store unavailable, retrying: %s", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), backoff.next())
    return None


# -- produce -----------------------------------------------------------------------------
@click.command()
@bootstrap_option
@click.option("--topic", required=True)
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def produce(bootstrap_servers: str, topic: str, file: Path) -> None:
    """Send a JSONL file (v1 events or Segment messages) to a topic, one message a line,
    keyed by the first identifier. Lines are sent as they are, invalid ones too."""
    from loaders.kafka import produce_file

    sent = _run(produce_file(bootstrap_servers, topic, file))
    click.echo(f"sent {sent:,} messages to {topic}", err=True)


# -- dlq ---------------------------------------------------------------------------------
@click.group()
def dlq() -> None:
    """Dead letters: messages the loader could not accept, with the reason."""


@dlq.command("replay")
@bootstrap_option
@click.option("--dlq-topic", required=True)
@click.option("--to-topic", default=None,
              help="Send to this topic instead of each letter's source topic.")
@click.option("--group", default="idgraph-dlq-replay", show_default=True,
              help="Remembers what was replayed: a re-run sends only newer letters.")
@click.option("--timeout", type=click.FloatRange(1), default=600.0, show_default=True)
def dlq_replay(bootstrap_servers: str, dlq_topic: str, to_topic: str | None, group: str,
               timeout: float) -> None:
    """Re-submit dead letters, as they came, once the cause is fixed. Letters that fail
    again come back to the DLQ; the replay stops at the DLQ's end as it was at the start."""
    from loaders.dlq import replay

    report = _run(replay(bootstrap_servers, dlq_topic, group=group, to_topic=to_topic,
                         timeout_s=timeout))
    click.echo(json.dumps({"replayed": report.replayed, "by_topic": report.by_topic}))


@dlq.command("show")
@bootstrap_option
@click.option("--dlq-topic", required=True)
@click.option("--limit", type=click.IntRange(1), default=100, show_default=True)
def dlq_show(bootstrap_servers: str, dlq_topic: str, limit: int) -> None:
    """Print dead letters as JSON lines: source topic/partition/offset, field, reason."""
    from loaders.dlq import read_dead_letters

    for letter in _run(read_dead_letters(bootstrap_servers, dlq_topic, limit=limit)):
        click.echo(json.dumps(letter.to_json()))


# -- outbox ------------------------------------------------------------------------------
@click.group()
def outbox() -> None:
    """The outbox: change events written with each write, waiting to be published."""


@outbox.command("status")
@store_option
def outbox_status(store_url: str | None) -> None:
    """Print, as JSON, what waits in the outbox and who publishes it."""
    async def status() -> dict[str, Any]:
        from app.bootstrap import start

        services = await start(_settings(store_url))
        try:
            return asdict(await services.store.outbox_status())
        finally:
            await services.close()

    click.echo(json.dumps(_run(status())))


@outbox.command("publish")
@store_option
@bootstrap_option
@click.option("--changes-topic", required=True, help="The topic the changes go to.")
@click.option("--instance-id", default=None, help="The publisher's name in the lease.")
def outbox_publish(store_url: str | None, bootstrap_servers: str, changes_topic: str,
                   instance_id: str | None) -> None:
    """Publish what waits in the outbox to the changes topic, then stop (when no loader or
    API publishes it: after a file load, say). Waits while another publisher holds the
    lease."""
    from aiokafka import AIOKafkaProducer

    from app.bootstrap import start
    from app.outbound import publish_changes
    from app.services.outbox import Publisher

    _logging()

    async def publish() -> int:
        services = await start(_settings(store_url))
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers, acks="all",
                                    enable_idempotence=True, linger_ms=5)
        await producer.start()
        try:
            publisher = Publisher(services.store,
                                  lambda changes: publish_changes(producer, changes_topic,
                                                                  changes),
                                  changes_topic, holder=instance_id)
            sent = 0
            while (status := await services.store.outbox_status()).unpublished:
                sent += await publisher.drain()
                if status.holder not in (None, publisher.holder):
                    await asyncio.sleep(1)  # another holder: its lease runs out, or it drains
            await publisher.close()
            return sent
        finally:
            await producer.stop()
            await services.close()

    click.echo(json.dumps({"published": _run(publish())}))


# -- bench stream ------------------------------------------------------------------------
@click.command("stream")
@click.option("--store", "stores", multiple=True, default=("sqlite",), show_default=True,
              help="Store to measure; repeat. 'sqlite' is a fresh temporary file; a "
              "neo4j:// URL must name an empty database.")
@bootstrap_option
@click.option("--events", "n", default=200_000, show_default=True, type=click.IntRange(1))
@click.option("--batch-size", default=Settings.model_fields["batch_size"].default,
              show_default=True, type=click.IntRange(1),
              help="The loaders' batch size (and the baselines').")
@click.option("--partitions", default=4, show_default=True, type=click.IntRange(1))
@click.option("--loaders", default=1, show_default=True, type=click.IntRange(1),
              help="Loaders in one consumer group, each its own process.")
def bench_stream(stores: tuple[str, ...], bootstrap_servers: str, n: int, batch_size: int,
                 partitions: int, loaders: int) -> None:
    """Events per second from Kafka into each store through `idgraph consume`, next to the
    raw store baseline of `bench ingest`, and the consumer's peak memory."""
    from app.bench.stream import run_stream_bench

    _logging()
    reports = _run(run_stream_bench(_settings(None), list(stores), bootstrap_servers, n,
                                    batch_size, partitions, loaders))
    click.echo(json.dumps(reports, indent=2))


COMMANDS: list[click.Command] = [consume, produce, dlq, outbox]
BENCH_COMMANDS: list[click.Command] = [bench_stream]
