"""`idgraph readmodel build`: write the profile documents of a store written before the
read model existed, or after a rebuild's switch (docs/api.md, "The profile read model").

app.cli imports this module at its end."""

from __future__ import annotations

import time

import click

from app.bootstrap import start
from app.cli_common import console, run, settings_for, store_option
from app.services.readmodel import build_documents


@click.group()
def readmodel() -> None:
    """The profile read model: one document per customer, kept by every write."""


@readmodel.command("build")
@store_option
@run
async def readmodel_build(store_url: str | None) -> None:
    """Write every current customer's profile document from the graph. Safe while
    loaders and stewards write; until it ends, a customer without one is read from the
    graph."""
    services = await start(settings_for(store_url))
    started = time.perf_counter()
    try:
        written = await build_documents(
            services.store, lambda n: console.print(f"  {n:,} documents", end="\r"))
    finally:
        await services.close()
    console.print(f"wrote {written:,} profile documents in "
                  f"{time.perf_counter() - started:,.1f} s")


COMMANDS = [readmodel]
BENCH_COMMANDS: list[click.Command] = []
