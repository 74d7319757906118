"""`idgraph rebuild` and `idgraph bench rebuild` (BENCH_COMMANDS), registered by app.cli.

The rebuild parses its options and calls the rebuild use case (app/services/spark_rebuild.py);
Spark is imported only when a rebuild runs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from app.cli_common import console, fail, matcher_notice, run, settings_for, store_option
from loaders.segment_spec import INPUT_FORMATS


def _settings(pairs: tuple[str, ...]) -> dict[str, str]:
    found = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{pair!r}: expected KEY=VALUE", param_hint="--conf")
        found[key.strip()] = value.strip()
    return found


@click.command()
@store_option
@click.argument("files", nargs=-1)
@click.option("--engine", type=click.Choice(["spark"]), default="spark", show_default=True,
              help="What builds the graph: Apache Spark (local mode, or a cluster).")
@click.option("--master", default=None,
              help="Spark master URL: local[N], spark://host:7077, yarn, k8s://... Default: "
              "the session spark-submit made, else local[*].")
@click.option("--from-store", is_flag=True,
              help="Read no files: resolve again what the store holds, under the current "
              "rules (after a rule change).")
@click.option("--format", "input_format", type=click.Choice(INPUT_FORMATS), default="auto",
              show_default=True, help="JSONL lines: v1 events, Segment messages, or auto "
              "(per line). Parquet files hold v1 columns.")
@click.option("--rejects", type=click.Path(file_okay=False, path_type=Path),
              default=Path("rejects"), show_default=True,
              help="Directory for rejects.jsonl: each bad line or dropped value, with why.")
@click.option("--staging", default=None,
              help="Directory (or URI a cluster reaches) for the job's intermediate and "
              "result files. Default: a temporary directory.")
@click.option("--keep-staging", is_flag=True, help="Keep the staging files afterwards.")
@click.option("--kafka-offsets", "offsets", default=None,
              help="The Kafka positions the FILES cover, as TOPIC:PARTITION=NEXT_OFFSET,... "
              "(a topic's sink export, say): `idgraph consume` starts there afterwards.")
@click.option("--kafka-topic", "topics", multiple=True,
              help="Read this topic too, up to where it ends when the rebuild starts; "
              "repeat. `idgraph consume` on it starts there afterwards.")
@click.option("--bootstrap-servers", envvar="IDGRAPH_KAFKA_BOOTSTRAP", default="127.0.0.1:9092",
              show_default=True, help="Kafka HOST:PORT[,...] for --kafka-topic.")
@click.option("--driver-memory", default=None, help="Spark driver memory, e.g. 4g.")
@click.option("--conf", "conf", multiple=True, metavar="KEY=VALUE",
              help="A Spark setting; repeat.")
@run
async def rebuild(store_url: str | None, files: tuple[str, ...], engine: str,
                  master: str | None, from_store: bool, input_format: str, rejects: Path,
                  staging: str | None, keep_staging: bool, offsets: str | None,
                  topics: tuple[str, ...], bootstrap_servers: str, driver_memory: str | None,
                  conf: tuple[str, ...]) -> None:
    """Build the identity graph from every event at once on Apache Spark, with the same
    customers, ids and merge histories as loading them, and write it to the store.

    FILES are JSONL (v1 events or Segment messages) or Parquet, local paths or URIs the
    Spark tasks reach (directories are read whole); --kafka-topic reads a topic. Events
    the store holds count once. Into an empty store the result is
    written directly; a store with data gets the difference, every id it held still
    resolving. Bad lines go to the rejects; the store is only touched once the job is done.
    """
    from app.bootstrap import start
    from app.services.spark_rebuild import RebuildOptions, RebuildService
    from app.spark.inputs import RebuildInputError
    from app.spark.kafka import KafkaInputError
    from app.spark.session import SparkConfig, SparkMissing

    if bool(files or topics) == from_store:
        raise click.UsageError("give FILES or --kafka-topic, or --from-store")
    positions = _positions(offsets) if offsets else {}
    settings = settings_for(store_url)
    services = await start(settings)
    matcher_notice(services.ingest)
    service = RebuildService(services.store, rules=services.ingest.rules,
                             default_region=settings.default_region,
                             suppression=settings.suppression(), segments=services.segments,
                             matcher=services.ingest.matcher)
    options = RebuildOptions(files=files, from_store=from_store, staging=staging,
                             rejects=rejects, input_format=input_format,
                             keep_staging=keep_staging, positions=positions,
                             kafka_topics=topics, bootstrap_servers=bootstrap_servers)
    spark = SparkConfig(master=master, driver_memory=driver_memory, settings=_settings(conf))
    try:
        report = await service.rebuild(options, spark)
    except (RebuildInputError, KafkaInputError, SparkMissing) as exc:
        fail(exc)
    finally:
        await services.close()
    _summary(report)


def _positions(text: str) -> dict[str, dict[int, int]]:
    found: dict[str, dict[int, int]] = {}
    for item in filter(None, (p.strip() for p in text.split(","))):
        where, sep, offset = item.rpartition("=")
        topic, colon, partition = where.rpartition(":")
        if not (sep and colon and topic and partition.isdigit() and offset.isdigit()):
            raise click.BadParameter(f"{item!r}: expected TOPIC:PARTITION=NEXT_OFFSET",
                                     param_hint="--kafka-offsets")
        found.setdefault(topic, {})[int(partition)] = int(offset)
    return found


def _summary(report: Any) -> None:
    job = report.job
    table = Table(title=f"rebuild {report.id}", show_header=False)
    for name, value in [
        ("records read", job.lines),
        ("events stored", job.events),
        ("duplicates (already stored)", job.duplicates),
        ("records rejected", job.rejected),
        ("identifiers or traits dropped", job.dropped),
        ("identifiers", job.identifiers),
        ("customers", job.customers),
        ("components (largest: rows)", f"{job.components} ({job.largest_component})"),
        ("customers renamed (old ids redirect)", job.sections.get("renames", 0)),
        ("seconds (export, spark, switch, settle)",
         ", ".join(f"{report.seconds.get(k, 0):.1f}"
                   for k in ("export", "spark", "switch", "settle"))),
    ]:
        table.add_row(name, str(value))
    console.print(table)
    if report.rejects is not None:
        console.print(f"problems written to [bold]{report.rejects}[/bold]")
    click.echo(json.dumps({"rebuild": report.id, "sections": job.sections,
                          "seconds": {k: round(v, 1) for k, v in report.seconds.items()}}))


@click.command("rebuild")
@click.option("--events", "sizes", multiple=True, type=click.IntRange(1), default=[100_000],
              show_default=True, help="Events to rebuild and load; repeat for a curve.")
@click.option("--batch-size", default=1000, show_default=True, type=click.IntRange(1),
              help="The load's batch size (`idgraph load --batch-size`).")
@click.option("--master", default="local[*]", show_default=True, help="Spark master URL.")
def bench_rebuild(sizes: tuple[int, ...], batch_size: int, master: str) -> None:
    """A Spark rebuild next to `idgraph load` of the same synthetic events, into fresh
    SQLite files: wall time, events/s and the peak memory of each command's processes."""
    from app.bench.rebuild import run_rebuild_bench

    report = run_rebuild_bench(list(sizes), batch_size, master, console)
    click.echo(json.dumps(report, indent=2))


COMMANDS: list[click.Command] = [rebuild]
BENCH_COMMANDS: list[click.Command] = [bench_rebuild]
