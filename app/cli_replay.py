"""`idgraph replay`, what `idgraph export --as-of` writes, and `idgraph bench asof`
(docs/resolution.md, "As of a moment" and "Replay").

app.cli imports this module at its end."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import IO

import click
from rich.table import Table

from app.bootstrap import Services, start
from app.cli_common import console, fail, run, settings_for, store_option
from app.domain.asof import AsOfError, parse_moment
from app.domain.privacy import SuppressionKey
from app.services.asof import AsOfService
from app.services.replay import ReplayError, ReplayReport, ReplayService
from app.stores import IdentityStore, open_store
from app.stores.keys import default_key_file, load_key_file, write_key_file
from loaders.files import Source

STORE_SCHEMES = ("sqlite://", "neo4j://", "neo4j+s://", "neo4j+ssc://", "bolt://", "bolt+s://",
                 "bolt+ssc://")


def as_of_moment(text: str) -> str:
    try:
        return parse_moment(text, "--as-of")
    except AsOfError as exc:
        raise click.BadParameter(exc.reason, param_hint=exc.field) from None


async def exported(services: Services, handle: IO[str], at: str | None) -> int:
    """Write the export (as of `at`, when given); the number of customers written."""
    count = 0

    async def write(customers: Services) -> None:
        nonlocal count
        async for cid, identifiers in customers.customers.export():
            record = {"customer_id": cid,
                      "identifiers": [{"type": i.type, "value": i.value} for i in identifiers]}
            handle.write(json.dumps(record) + "\n")
            count += 1

    if at is None:
        await write(services)
    else:
        async with AsOfService(services).whole(at) as rebuilt:
            await write(rebuilt)
    return count


# -- replay ------------------------------------------------------------------------------
def _is_store(text: str) -> bool:
    return text.startswith(STORE_SCHEMES)


async def _open(url: str, key: SuppressionKey | None = None) -> IdentityStore:
    settings = settings_for(url)
    store = open_store(url, neo4j_database=settings.neo4j_database,
                       suppression=key or settings.suppression())
    try:
        await store.ping()
        await store.migrate()
    except BaseException:
        await store.close()
        raise
    return store


def _target_key(target_url: str, source: IdentityStore | None) -> SuppressionKey | None:
    """The target's suppression key: the one the carried suppression list was made with.
    With IDGRAPH_SUPPRESSION_KEY(_FILE) set, both stores use it. Otherwise a new SQLite
    store's key file is made with the source's key; an existing key file must hold it."""
    settings = settings_for(target_url)
    if source is None or settings.suppression_key.get_secret_value() \
            or settings.suppression_key_file:
        return None
    key: SuppressionKey = source.suppression
    path = default_key_file(target_url)
    if path is None:
        return key
    held = load_key_file(path) if path.exists() else write_key_file(path, key)
    if held.fingerprint != key.fingerprint:
        raise ReplayError(
            f"--to: {path} holds suppression key {held.fingerprint}, not the source's "
            f"({key.fingerprint}): the suppression list of erased identifiers cannot go over "
            "with another key. Set IDGRAPH_SUPPRESSION_KEY_FILE to the source's key file for "
            "both stores, or remove that file if it belongs to no store yet "
            "(docs/privacy.md)")
    return key


@click.command()
@click.option("--from", "sources", multiple=True, required=True, metavar="STORE_OR_FILE",
              help="A store URL (sqlite:///old.db, neo4j://...), or event files (JSONL of "
              "v1 events or Segment messages, CSV with --mapping); repeat for more files.")
@click.option("--to", "target_url", required=True, metavar="STORE",
              help="The store to rebuild; it must be empty.")
@click.option("--actions-from", "actions_url", default=None, metavar="STORE",
              help="With files: the store whose audit log, suppression list, segment "
              "definitions and models go with them (and whose export the result is "
              "compared with).")
@click.option("--batch-size", type=click.IntRange(1, 100_000), default=5000,
              show_default=True, help="Events per store transaction.")
@click.option("--mapping", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="TOML column mapping for CSV files (docs/loaders.md).")
@click.option("--rejects", type=click.Path(dir_okay=False, path_type=Path),
              default=Path("replay-rejects.jsonl"), show_default=True,
              help="Where events left out are written, with reasons.")
@click.option("--keep-changes", is_flag=True,
              help="Keep the rebuild's change events in the outbox, to be published; by "
              "default they are passed over (they restate what the source published).")
@run
async def replay(sources: tuple[str, ...], target_url: str, actions_url: str | None,
                 batch_size: int, mapping: Path | None, rejects: Path,
                 keep_changes: bool) -> None:
    """Rebuild a store from the events and the audit log of another (or from event
    files): steward actions replayed at their moments, erased people kept out. The
    rebuilt store exports the same customers with the same ids; replay compares them and
    exits with 1 when they differ."""
    store_sources = [s for s in sources if _is_store(s)]
    files = [Path(s) for s in sources if not _is_store(s)]
    if store_sources and (files or len(store_sources) > 1 or actions_url):
        raise click.UsageError("--from: give one store, or files (with --actions-from)")
    missing = [str(p) for p in files if not p.is_file()]
    if missing:
        raise click.BadParameter(f"no such file: {missing[0]}", param_hint="--from")
    url = store_sources[0] if store_sources else actions_url
    source = await _open(url) if url else None
    try:
        target_key = _target_key(target_url, source)
        target = await start(settings_for(target_url),
                             open_store(target_url, suppression=target_key) if target_key
                             else None)
        try:
            report = await _replay(ReplayService(target, batch_size=batch_size), source,
                                   files, mapping, keep_changes)
        finally:
            await target.close()
    except ReplayError as exc:
        fail(exc)
    finally:
        if source is not None:
            await source.close()
    _print(report, rejects)


async def _replay(service: ReplayService, source: IdentityStore | None, files: list[Path],
                  mapping: Path | None, keep_changes: bool) -> ReplayReport:
    if not files:
        assert source is not None
        return await service.from_store(source, keep_changes=keep_changes)
    from loaders.csv_mapping import MappingError, load_mapping
    from loaders.staged import StagedEvents

    try:
        where = Source(mapping=load_mapping(mapping) if mapping else None)
    except MappingError as exc:
        fail(exc)
    with tempfile.TemporaryDirectory(prefix="idgraph-replay-") as folder:
        staged = StagedEvents(service.target.ingest, Path(folder))
        try:
            try:
                staged.add(files, where)
            except MappingError as exc:
                fail(exc)
            report = await service.from_events(staged.pages(), source,
                                               keep_changes=keep_changes)
        finally:
            staged.close()
    report.problems = staged.problems + report.problems
    return report


def _print(report: ReplayReport, rejects: Path) -> None:
    rebuild = report.rebuild
    problems = report.problems + rebuild.problems
    table = Table(title="replay summary", show_header=False)
    for name, value in [
        ("events read", f"{rebuild.events:,}"),
        ("events stored", f"{rebuild.stored:,}"),
        ("events left out or trimmed", f"{len(problems):,}"),
        ("steward actions replayed", f"{rebuild.replayed:,}"),
        ("audit entries not replayed", f"{len(rebuild.skipped):,}"),
        ("suppressed identifiers carried", f"{report.suppressions:,}"),
        ("segment definitions", f"{report.segments:,}"),
        ("models", ", ".join(report.models) or "-"),
        ("change events passed over", f"{report.discarded_changes:,}"),
    ]:
        table.add_row(name, value)
    console.print(table)
    for skipped in rebuild.skipped[:50]:
        console.print(f"  #{skipped.seq} {skipped.action} at {skipped.at}: {skipped.why}",
                      markup=False, soft_wrap=True)
    if problems:
        with rejects.open("w") as handle:
            for problem in problems:
                handle.write(json.dumps(problem.to_json()) + "\n")
        console.print(f"events left out or trimmed, with reasons: [bold]{rejects}[/bold]")
    comparison = report.comparison
    if comparison is None:
        return
    if comparison.equal:
        console.print(f"the rebuilt store exports the same {comparison.same:,} customers "
                      "with the same ids")
        return
    console.print(f"[red]the rebuilt store differs[/red]: {comparison.same:,} customers the "
                  f"same, {comparison.changed:,} with other identifiers, "
                  f"{comparison.only_source:,} only in the source, "
                  f"{comparison.only_rebuilt:,} only in the rebuilt store; for instance "
                  f"{', '.join(comparison.examples[:10])}", soft_wrap=True)
    raise SystemExit(1)


# -- bench asof --------------------------------------------------------------------------
@click.command("asof")
@store_option
@click.option("--customers", default=10_000, show_default=True, type=click.IntRange(1),
              help="Customers the store must hold; an empty store is filled with synthetic "
              "ones first, a store that holds enough is used as it is.")
@click.option("--queries", default=200, show_default=True, type=click.IntRange(10))
@run
async def bench_asof(store_url: str | None, customers: int, queries: int) -> None:
    """Latency of a customer query as of a moment, next to the same query without asOf,
    and what the as-of answer's time is spent on."""
    from app.bench.asof import run_asof_bench

    report = await run_asof_bench(settings_for(store_url), customers, queries, console)
    click.echo(json.dumps(report, indent=2))


COMMANDS: list[click.Command] = [replay]
BENCH_COMMANDS: list[click.Command] = [bench_asof]
