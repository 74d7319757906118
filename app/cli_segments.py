"""`idgraph segments ...`, `idgraph train` and `idgraph campaigns`: segments, the
next-best-action model and campaign performance from the command line (docs/segments.md),
and `idgraph bench segments`.

app.cli imports this module at its end."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import click

from app.bootstrap import Services, start
from app.cli_common import console, fail, run, settings_for, store_option
from app.domain.segments import ENTERED, LEFT, MembershipChange, SegmentError

T = TypeVar("T")


@click.group()
def segments() -> None:
    """Audience segments: define them, list them, refresh memberships."""


def _definition(definition: str | None, file: Path | None) -> str:
    if (definition is None) == (file is None):
        raise click.UsageError("give the definition as an argument or with --file, not both")
    return file.read_text() if file is not None else str(definition)


def _summary(changes: list[MembershipChange]) -> str:
    counts = Counter(c.change for c in changes)
    return f"{counts[ENTERED]:,} entered, {counts[LEFT]:,} left"


async def _using(store_url: str | None, call: Callable[[Services], Awaitable[T]]) -> T:
    """Run one use case on the store; a refused segment definition exits with 1."""
    services = await start(settings_for(store_url))
    try:
        return await call(services)
    except SegmentError as exc:
        fail(exc, 1, "refused")
    finally:
        await services.close()


@segments.command("define")
@store_option
@click.argument("name")
@click.argument("definition", required=False)
@click.option("--file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Read the definition from a file.")
@click.option("--update", is_flag=True, help="Replace an existing definition.")
@run
async def define(store_url: str | None, name: str, definition: str | None,
                 file: Path | None, update: bool) -> None:
    """Define (or with --update, redefine) segment NAME and evaluate every customer."""
    text = _definition(definition, file)
    changes = await _using(store_url, lambda s: s.segments.define(name, text, update=update))
    console.print(f"segment {name} {'updated' if update else 'defined'}: {_summary(changes)}")


@segments.command("delete")
@store_option
@click.argument("name")
@run
async def delete(store_url: str | None, name: str) -> None:
    """Delete segment NAME; its members leave it now."""
    changes = await _using(store_url, lambda s: s.segments.delete(name))
    console.print(f"segment {name} deleted: {len(changes):,} customers left it")


@segments.command("list")
@store_option
@run
async def list_segments(store_url: str | None) -> None:
    """Every segment: name, members, last update and definition, tab-separated."""
    found = await _using(store_url, lambda s: s.segments.segments())
    for info in found:  # one line each: name, members, updated, definition on one line
        text = " ".join(info.record.text.split())
        click.echo(f"{info.record.name}\t{info.size}\t{info.record.updated_at}\t{text}")


@segments.command("refresh")
@store_option
@run
async def refresh(store_url: str | None) -> None:
    """Re-evaluate every customer now: the batch twin of the streaming evaluation, and
    what records the exits of time windows that passed without an event. Run it on a
    schedule (hourly, say)."""
    started = time.perf_counter()
    changes = await _using(store_url, lambda s: s.segments.refresh())
    console.print(f"refreshed in {time.perf_counter() - started:.1f} s: {_summary(changes)}")


@segments.command("members")
@store_option
@click.argument("name")
@click.option("--first", default=20, show_default=True, type=click.IntRange(1, 10_000))
@run
async def members(store_url: str | None, name: str, first: int) -> None:
    """Members of segment NAME with since and why, one JSON line each."""
    page = await _using(store_url, lambda s: s.store.segment_members(name, first, None))
    for cid, membership in page:
        click.echo(json.dumps({"customer_id": cid, "since": membership.since,
                               "why": list(membership.why)}))


@click.command()
@store_option
@click.option("--now", default=None, help="Train as of this time (RFC 3339; default: now).")
@run
async def train(store_url: str | None, now: str | None) -> None:
    """Fit the next-best-action model on every customer's timeline and report its quality
    on a held-out time split."""
    started = time.perf_counter()
    model = await _using(store_url, lambda s: s.marketing.train(now))
    console.print(f"trained in {time.perf_counter() - started:.1f} s at {model.trained_at}")
    click.echo(model.quality.summary())


@click.command()
@store_option
@click.option("--since", required=True, help="Start of the period (RFC 3339, inclusive).")
@click.option("--until", required=True, help="End of the period (RFC 3339, exclusive).")
@click.option("--funnel", default="", help="Comma-separated steps, e.g. "
              "page_view,add_to_cart,purchase (a step is a type or type@source).")
@click.option("--within-days", type=click.IntRange(1), default=None,
              help="Funnel: later steps must follow the first within this many days.")
@run
async def campaigns(store_url: str | None, since: str, until: str, funnel: str,
                    within_days: int | None) -> None:
    """Conversions attributed to sources and campaigns (last touch, linear, Markov removal
    effect) and a funnel, as JSON."""
    steps = [s.strip() for s in funnel.split(",") if s.strip()]
    try:
        attribution, found = await _using(store_url, lambda s: s.marketing.campaign_performance(
            since, until, steps, within_days))
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    click.echo(json.dumps({
        **attribution.to_json(),
        "funnel": [{"step": s.step, "customers": s.customers, "from_previous": s.from_previous,
                    "from_start": s.from_start} for s in found],
    }, indent=2))


@click.command("segments")
@store_option
@click.option("--customers", default=100_000, show_default=True, type=click.IntRange(100))
@click.option("--segments", "count", default=20, show_default=True, type=click.IntRange(1, 20))
@click.option("--events", default=20_000, show_default=True, type=click.IntRange(100),
              help="Streamed events timed with segments on and off.")
@run
async def bench_segments(store_url: str | None, customers: int, count: int,
                         events: int) -> None:
    """Streaming evaluation cost per event (segments on vs off), batch refresh time, and
    the agreement of streaming and batch memberships."""
    from app.bench.segments import run_segments_bench

    report = await run_segments_bench(settings_for(store_url), customers, count, events,
                                      console)
    click.echo(json.dumps(report, indent=2))


COMMANDS: list[click.Command] = [segments, train, campaigns]
BENCH_COMMANDS: list[click.Command] = [bench_segments]
