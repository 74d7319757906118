"""The `idgraph` command. Each command parses, calls a use case, and prints."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
from pathlib import Path
from typing import Any

import click
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from app.bootstrap import Services, start
from app.cli_common import (
    CONFIG_ERRORS,
    console,
    fail,
    matcher_notice,
    run,
    settings_for,
    store_option,
)
from app.config import WORKER_SETTINGS, Settings
from loaders.files import FILE_FORMATS

LOOPBACK = ("127.0.0.1", "localhost", "::1")

@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="idgraph")
def main() -> None:
    """idgraph: a customer data platform built as a GraphQL identity graph."""


# -- serve ---------------------------------------------------------------------------
@main.command()
@store_option
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to bind. Without API keys (IDGRAPH_API_KEYS) only a loopback "
              "address is allowed.")
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1),
              help="Server processes sharing the port (uvicorn's workers). Each worker's "
              "subscriptions hear of every change, read from the store's outbox.")
def serve(store_url: str | None, host: str, port: int, workers: int) -> None:
    """Serve the GraphQL API (/graphql, with GraphiQL), /healthz and /metrics."""
    settings = settings_for(store_url)
    _check_exposure(settings, host)
    if workers > 1:
        _serve_workers(settings, host, port, workers)
    else:
        _serve_settings(settings, host, port)


def _start_sync(settings: Settings) -> Services:
    try:
        return asyncio.run(start(settings))
    except CONFIG_ERRORS as exc:
        fail(exc)


def _check_exposure(settings: Settings, host: str) -> bool:
    """Whether the API runs in local development mode (no keys); exits when the settings
    would expose it unprotected."""
    try:
        keys = settings.api_key_roles()
    except ValueError as exc:
        fail(exc)
    if keys:
        return False
    if host not in LOOPBACK:
        console.print(
            f"[red]error:[/red] refusing to serve on {host} without API keys: anyone who can "
            "reach it could read and change every customer. Set IDGRAPH_API_KEYS "
            "(key:role,...; roles reader, steward, admin), or bind to 127.0.0.1."
        )
        sys.exit(2)
    return True


def _serve(services: Services, host: str, port: int) -> None:
    """Serve a store opened elsewhere (demo --serve): it is reopened in the server's event
    loop, since a Neo4j driver cannot move between loops."""
    with contextlib.suppress(Exception):  # the loop that opened it may be gone
        asyncio.run(services.close())
    _serve_settings(services.settings, host, port)


def _warn_development_mode(settings: Settings, host: str) -> None:
    if _check_exposure(settings, host):
        console.print(
            "[bold yellow]" + "!" * 78 + "\n"
            "LOCAL DEVELOPMENT MODE: no API keys are configured (IDGRAPH_API_KEYS), so every\n"
            "request gets every role (reader, steward, admin), unmasked, as 'local-dev'.\n"
            f"Bound to {host} only. Configure keys before exposing this API.\n"
            + "!" * 78 + "[/bold yellow]"
        )


def _serve_workers(settings: Settings, host: str, port: int, workers: int) -> None:
    """uvicorn's multi-process mode: the workers import app.api.asgi:worker_app and open
    their own services. The store is opened here first, so that a bad URL or an
    unreachable store fails once with one clear line and the schema is migrated once."""
    import uvicorn

    _warn_development_mode(settings, host)
    asyncio.run(_check_store(settings))
    console.print(f"idgraph serving [bold]{settings.store.split('@')[-1]}[/bold] at "
                  f"[bold]http://{host}:{port}/graphql[/bold] with {workers} workers")
    # the workers inherit the environment: the settings go to them whole, as read here
    os.environ[WORKER_SETTINGS] = settings.to_json()
    try:
        uvicorn.run("app.api.asgi:worker_app", factory=True, host=host, port=port,
                    workers=workers, log_level="info", ws_max_size=settings.api_max_body_bytes)
    finally:
        del os.environ[WORKER_SETTINGS]


async def _check_store(settings: Settings) -> None:
    """Open the store (migrating it) and close it again; one clear line if that fails."""
    try:
        services = await start(settings)
    except CONFIG_ERRORS as exc:
        fail(exc)
    await services.close()


def _serve_settings(settings: Settings, host: str, port: int) -> None:
    import uvicorn

    from app.api.asgi import create_app

    _warn_development_mode(settings, host)

    async def serve_api() -> None:
        # One event loop for the store and the server.
        services = await start(settings)
        console.print(
            f"idgraph serving [bold]{services.store.url.split('@')[-1]}[/bold] at "
            f"[bold]http://{host}:{port}/graphql[/bold]"
        )
        # uvicorn would buffer a WebSocket message up to 16 MB before the API's own limit
        config = uvicorn.Config(create_app(services), host=host, port=port, log_level="info",
                                ws_max_size=settings.api_max_body_bytes)
        await uvicorn.Server(config).serve()

    try:
        asyncio.run(serve_api())
    except CONFIG_ERRORS as exc:
        fail(exc)


# -- load ----------------------------------------------------------------------------
@main.command()
@store_option
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option(
    "--rejects",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("rejects.jsonl"),
    show_default=True,
    help="Where rejected lines and dropped identifiers are written, with reasons.",
)
@click.option(
    "--batch-size",
    type=click.IntRange(1, 100_000),
    default=None,
    help="Events per store transaction (default: IDGRAPH_BATCH_SIZE, or "
    f"{Settings.model_fields['batch_size'].default:,}).",
)
@click.option(
    "--format", "input_format", type=click.Choice(FILE_FORMATS),
    default="auto", show_default=True,
    help="auto: .csv files are CSV, other files JSONL of v1 events or Segment messages, "
    "decided per line.",
)
@click.option("--mapping", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="TOML column mapping for CSV files (docs/loaders.md).")
@click.option("--user-id-type", default="user_id", show_default=True,
              help="Identifier type for a Segment message's userId.")
@click.option("--checkpoint", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Record progress here after each batch; a re-run skips what is stored.")
@run
async def load(
    store_url: str | None, files: tuple[Path, ...], rejects: Path, batch_size: int | None,
    input_format: str, mapping: Path | None, user_id_type: str, checkpoint: Path | None,
) -> None:
    """Load files of events: JSONL (v1 events or Segment messages) or CSV with a mapping.
    Bad records go to the rejects file with their reasons; the rest loads."""
    from loaders.csv_mapping import MappingError, load_mapping
    from loaders.files import Source, load_files
    from loaders.segment_spec import SegmentConfig

    try:
        source = Source(input_format, load_mapping(mapping) if mapping else None,
                        SegmentConfig(user_id_type))
    except MappingError as exc:
        fail(exc)
    settings = settings_for(store_url)
    services = await start(settings)
    matcher_notice(services.ingest)
    total_bytes = sum(p.stat().st_size for p in files)
    resuming = _exists(checkpoint)  # then the rejects of the earlier runs are kept
    try:
        await services.segments.settle()  # what a load that died after a commit left
        with rejects.open("a" if resuming else "w") as reject_file, _progress() as bar:
            task = bar.add_task("loading", total=total_bytes, lines=0, rate=0.0)

            def advance(lines: int, size: int) -> None:
                done = bar.tasks[task].fields["lines"] + lines
                elapsed = bar.tasks[task].elapsed or 1e-9
                bar.update(task, advance=size, lines=done, rate=done / elapsed)

            result = await load_files(
                services.ingest,
                list(files),
                batch_size=batch_size or settings.batch_size,
                rejects=reject_file,
                progress=advance,
                source=source,
                checkpoint=checkpoint,
            )
            elapsed = bar.tasks[task].elapsed or 0.0
    except MappingError as exc:
        fail(exc)
    finally:
        await services.close()
    dropped = len(result.problems) - result.rejected
    table = Table(title="load summary", show_header=False)
    for name, value in [
        ("lines", result.received),
        ("events stored", result.stored),
        ("duplicates (already stored)", result.duplicates),
        ("lines rejected", result.rejected),
        ("identifiers dropped", dropped),
        ("customers created", result.new_customers),
        ("merges", result.merges),
        ("rate", f"{result.received / elapsed:,.0f} lines/s" if elapsed else "-"),
    ]:
        table.add_row(name, str(value))
    console.print(table)
    if result.problems or resuming:
        console.print(f"problems written to [bold]{rejects}[/bold]")
    else:
        # a regular file only: --rejects /dev/null (or a pipe) is not the load's to delete
        if rejects.is_file():  # noqa: ASYNC240 - once, after the load
            rejects.unlink()  # noqa: ASYNC240 - once, after the load


def _exists(path: Path | None) -> bool:
    return path is not None and path.exists()


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[lines]:,} lines"),
        TextColumn("{task.fields[rate]:,.0f} lines/s"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )


# -- export --------------------------------------------------------------------------
@main.command()
@store_option
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Output file (default: standard output).",
)
@click.option("--as-of", "as_of", default=None, metavar="TIME",
              help="Event time with an offset (2024-03-01T00:00:00Z): the customers as the "
              "events up to then and the steward actions made by then made them, with the "
              "ids they had then (docs/resolution.md).")
@run
async def export(store_url: str | None, out: Path | None, as_of: str | None) -> None:
    """Write one JSON line per customer with its identifiers."""
    from app.cli_replay import as_of_moment, exported

    at = as_of_moment(as_of) if as_of is not None else None
    services = await start(settings_for(store_url))
    handle = out.open("w") if out else sys.stdout
    try:
        count = await exported(services, handle, at)
    finally:
        if out:
            handle.close()
        await services.close()
    console.print(f"exported {count:,} customers" + (f" as of {at}" if at else ""))


# -- demo ----------------------------------------------------------------------------
@main.command()
@store_option
@click.option("--people", default=200, show_default=True, type=click.IntRange(1, 1_000_000))
@click.option("--seed", default=7, show_default=True, type=int)
@click.option(
    "--serve/--no-serve",
    "serve_after",
    default=False,
    help="Serve the API on the demo data afterwards.",
)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
def demo(
    store_url: str | None, people: int, seed: int, serve_after: bool, host: str, port: int
) -> None:
    """Generate a realistic synthetic data set, train the fuzzy matcher on it, load it with
    example segments kept up to date as it streams in, train the next-best-action model,
    and optionally serve it."""
    from app.demo import DEMO_SEGMENTS, JUNK_EMAIL, SHOP_CARD, demo_events
    from app.domain.traits import normal_ts
    from app.services.matching import train_from_events

    settings = settings_for(store_url or "sqlite:///idgraph-demo.db")
    services = _start_sync(settings)
    events = demo_events(people, seed=seed)

    async def load_demo() -> Any:
        known = {r.name for r in await services.store.segment_definitions()}
        for name, text in DEMO_SEGMENTS.items():
            if name not in known:
                await services.segments.define(name, text)
        _, training = await train_from_events(services.store, events, services.ingest.rules,
                                              seed=seed)
        await services.ingest.load_matcher()
        result = await services.ingest.ingest_raw(
            (f"demo event {n}", raw) for n, raw in enumerate(events, start=1)
        )
        model = await services.marketing.train(max(normal_ts(e["timestamp"]) for e in events))
        reviews = len(await services.store.reviews(10_000, None))
        return training, result, await services.segments.segments(), model, reviews

    training, result, segments, model, reviews = asyncio.run(load_demo())
    for line in training.lines():
        console.print(f"matcher: {line}", markup=False, highlight=False, soft_wrap=True)
    console.print(
        f"demo: {result.stored:,} events stored ({result.duplicates:,} already there), "
        f"{result.new_customers:,} customers created, {result.merges:,} merges, "
        f"into {settings.store}"
    )
    console.print(f"review queue: {reviews:,} open items (see reviewQueue)")
    console.print(f'a hub: {{ identifier(type: "loyalty_id", value: "{SHOP_CARD}") '
                  "{ status reason } }", markup=False)
    console.print(f'a junk value: {{ identifier(type: "email", value: "{JUNK_EMAIL}") '
                  "{ status reason } }", markup=False)
    console.print("segments: " + ", ".join(f"{s.record.name} {s.size:,}" for s in segments))
    console.print(f"next-best-action model: {model.quality.summary()}", markup=False)
    example = next((e for e in events if any(i["type"] == "email" for i in e["identifiers"])), None)
    if example:
        email = next(i["value"] for i in example["identifiers"] if i["type"] == "email")
        query = (
            f'{{ customerByIdentifier(type: "email", value: "{email.strip()}") '
            "{ id identifiers { type value } timeline(first: 5) "
            "{ edges { node { type timestamp source } } } } }"
        )
        console.print(f"try: {query}", markup=False)
    if serve_after:
        _serve(services, host, port)
    else:
        asyncio.run(services.close())


# -- resolve -------------------------------------------------------------------------
@main.command()
@store_option
@click.option("--verify", is_flag=True, required=True,
              help="Recompute every component from the stored links and report drift.")
@click.option("--repair", is_flag=True, help="Also re-partition every drifted customer, "
              "evaluate pending segment checks and catch stale memberships up.")
@run
async def resolve(store_url: str | None, verify: bool, repair: bool) -> None:
    """Verify (and repair) that customers are exactly the components of their links, and
    that their segment memberships are what the definitions give."""
    from app.services.verify import VerifyService

    services = await start(settings_for(store_url))
    try:
        report = await VerifyService(services.store, rules=services.ingest.rules,
                                     segments=services.segments).verify(repair)
    finally:
        await services.close()
    console.print(f"checked {report.identifiers:,} identifiers and {report.links:,} links: "
                  f"{len(report.drift)} drifted component(s)")
    for drift in report.drift[:50]:
        console.print(f"  {drift.problem}: {', '.join(drift.customers)}", markup=False)
    stale = _print_memberships(report.memberships)
    if repair:
        console.print(f"repaired {report.repaired} component(s), "
                      f"{report.memberships.repaired if report.memberships else 0} customer(s)"
                      f" with stale memberships")
    elif report.drift or stale:
        sys.exit(1)


def _print_memberships(report: Any) -> bool:
    """Print the membership part of a verify report; whether any membership is stale."""
    if report is None:
        return False
    console.print(f"checked the segment memberships of {report.customers:,} customers: "
                  f"{len(report.stale)} stale, {report.pending} pending re-evaluation")
    for s in report.stale[:50]:
        since = s.checked_at or "never evaluated"
        console.print(f"  {s.customer_id} (checked {since}): missing {list(s.missing)}, "
                      f"extra {list(s.extra)}", markup=False, soft_wrap=True)
    return bool(report.stale)


# -- matcher -------------------------------------------------------------------------
@main.group()
def matcher() -> None:
    """The fuzzy matcher of trait-bearing records."""


@matcher.command("train")
@store_option
@click.argument("files", nargs=-1, required=True,
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--seed", default=7, show_default=True, type=int)
@run
async def matcher_train(store_url: str | None, files: tuple[Path, ...], seed: int) -> None:
    """Estimate the matcher without labels (EM) from JSONL files of v1 events with traits,
    and store it for every loader. Prints the estimated prior and what the matcher expects
    to do at the rules' thresholds: precision, recall and the review load."""
    from app.services.matching import train_from_events
    from loaders.files import read_lines

    services = await start(settings_for(store_url))
    raws = [json.loads(line.text) for path in files for line in read_lines(path)
            if line.text.startswith("{")]
    try:
        _, result = await train_from_events(services.store, raws, services.ingest.rules,
                                            seed=seed,
                                            default_region=services.settings.default_region)
    finally:
        await services.close()
    for line in [*result.lines(), "stored as 'matcher'"]:
        console.print(line, markup=False, highlight=False, soft_wrap=True)


# -- schema --------------------------------------------------------------------------
@main.group()
def schema() -> None:
    """The store's schema (constraints, indexes, tables)."""


@schema.command("apply")
@store_option
@run
async def schema_apply(store_url: str | None) -> None:
    """Apply pending schema migrations (idempotent)."""
    from app.stores import open_store

    settings = settings_for(store_url)
    store = open_store(settings.store, neo4j_database=settings.neo4j_database,
                       suppression=settings.suppression())
    try:
        await store.ping()
        applied = await store.migrate()
    finally:
        await store.close()
    console.print(f"applied: {', '.join(applied)}" if applied else "schema is up to date")


# -- bench ---------------------------------------------------------------------------
@main.group()
def bench() -> None:
    """Benchmarks: print figures next to a baseline measured in the same run."""


@bench.command("match")
@store_option
@click.option("--dataset", default="febrl4", show_default=True,
              help="febrl1, febrl2, febrl3, febrl4, or synth:SHAPE[,key=value...] with SHAPE "
              "one of name_dob, name_email, name_address, everything, cdp (see app/synth).")
@click.option("--seed", default=1, show_default=True, type=int)
@click.option("--batch-size", default=1000, show_default=True, type=click.IntRange(1))
@click.option("--distractors", default=0, show_default=True, type=click.IntRange(0),
              help="Records stored first; then the first 1,000 records are ingested alone "
              "and timed.")
@click.option("--no-baseline", is_flag=True, help="Skip Splink and recordlinkage's ECM.")
@click.option("--json", "as_json", is_flag=True, help="Print the whole report as JSON.")
@run
async def bench_match(store_url: str | None, dataset: str, seed: int, batch_size: int,
                      distractors: int, no_baseline: bool, as_json: bool) -> None:
    """Pairwise precision, recall and F1, over-merged customers per 1,000 people and
    review items per 100 records, through the pipeline, next to Splink and ECM."""
    from app.bench.match import run_match_bench
    from app.bench.match_data import FEBRL

    if dataset not in FEBRL and not dataset.startswith("synth:"):
        raise click.BadParameter(f"one of {', '.join(FEBRL)} or synth:SHAPE",
                                 param_hint="--dataset")
    try:
        report = await run_match_bench(settings_for(store_url), dataset, seed=seed,
                                       batch_size=batch_size, distractors=distractors,
                                       baseline=not no_baseline, console=console)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--dataset") from None
    except ModuleNotFoundError as exc:
        # Febrl and the baselines come from the bench extra, not from the base install.
        raise click.ClickException(
            f"bench match needs {exc.name}: pip install -e '.[bench]' (or --no-baseline "
            f"with a synth: data set)") from None
    if as_json:
        click.echo(json.dumps(report, indent=2))


@bench.command("explorer")
@click.option("--identifiers", default=300, show_default=True, type=click.IntRange(10))
@click.option("--runs", default=10, show_default=True, type=click.IntRange(1))
@run
async def bench_explorer(identifiers: int, runs: int) -> None:
    """Load and draw time of a component in the explorer, in headless Chromium."""
    from app.bench.explorer import run_explorer_bench

    report = await run_explorer_bench(identifiers, runs, console=console)
    click.echo(json.dumps(report, indent=2))


@bench.command("search")
@click.option("--events", default=50_000, show_default=True, type=click.IntRange(1))
@click.option("--queries", default=200, show_default=True, type=click.IntRange(1))
@run
async def bench_search(events: int, queries: int) -> None:
    """Search latency and hits for e-mail addresses with and without a typo, next to the
    exact-token search of before (SQLite)."""
    from app.bench.search import run_search_bench

    report = await run_search_bench(events, queries, console)
    click.echo(json.dumps(report, indent=2))


@bench.command("ingest")
@store_option
@click.option("--events", "n", default=100_000, show_default=True, type=click.IntRange(1))
@click.option("--batch-size", default=1000, show_default=True, type=click.IntRange(1))
@run
async def bench_ingest(store_url: str | None, n: int, batch_size: int) -> None:
    """Events per second through the ingest service, next to a raw store baseline."""
    from app.bench.ingest import run_ingest_bench

    settings = settings_for(store_url)
    report = await run_ingest_bench(settings, n, batch_size, console)
    click.echo(json.dumps(report, indent=2))


@bench.command("api")
@store_option
@click.option("--customers", default=100_000, show_default=True, type=click.IntRange(1),
              help="Customers the store must hold; an empty store is filled with synthetic "
              "ones first, a store that holds enough is used as it is.")
@click.option("--requests", default=2000, show_default=True, type=click.IntRange(100),
              help="Requests per concurrency level.")
@click.option("--clients", default="1,16,64", show_default=True,
              help="Concurrency levels, comma-separated.")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1),
              help="API server processes, as `idgraph serve --workers`.")
@run
async def bench_api(store_url: str | None, customers: int, requests: int, clients: str,
                    workers: int) -> None:
    """Latency (p50, p99) and throughput of the frontend profile query over HTTP at several
    concurrency levels, next to the same reads made straight on the store adapter."""
    from app.bench.api import run_api_bench

    try:
        levels = [int(c) for c in clients.split(",")]
    except ValueError:
        raise click.BadParameter("comma-separated numbers, as in 1,16,64",
                                 param_hint="--clients") from None
    report = await run_api_bench(settings_for(store_url), customers, requests, levels, console,
                                 workers=workers)
    click.echo(json.dumps(report, indent=2))


@bench.command("erase")
@store_option
@click.option("--events", default=100_000, show_default=True, type=click.IntRange(1))
@click.option("--erasures", default=20, show_default=True, type=click.IntRange(1))
@run
async def bench_erase(store_url: str | None, events: int, erasures: int) -> None:
    """Time of an erasure, next to the part that rewrites the store's files (purge)."""
    from app.bench.erase import run_erase_bench

    report = await run_erase_bench(settings_for(store_url), events, erasures, console)
    click.echo(json.dumps(report, indent=2))


def _register_commands() -> None:
    from app import (
        cli_loaders,
        cli_readmodel,
        cli_rebuild,
        cli_replay,
        cli_rules,
        cli_segments,
    )

    for module in (cli_loaders, cli_segments, cli_replay, cli_rules, cli_rebuild,
                   cli_readmodel):
        for command in module.COMMANDS:
            main.add_command(command)
        for command in module.BENCH_COMMANDS:
            bench.add_command(command)


_register_commands()
