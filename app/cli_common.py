"""What every `idgraph` command shares: the console, the --store option, settings, and
running an async command with one clear line for a store or configuration error."""

from __future__ import annotations

import asyncio
import functools
import sys
from collections.abc import Callable, Coroutine
from typing import Any, NoReturn

import click
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape

from app.config import Settings
from app.domain.privacy import SuppressionKeyError
from app.domain.rules import RulesError
from app.domain.traits import TraitsError
from app.stores.errors import StoreError

CONFIG_ERRORS = (StoreError, RulesError, TraitsError, SuppressionKeyError)
console = Console(stderr=True)


def fail(problem: object, code: int = 2, label: str = "error") -> NoReturn:
    """One clear line (and the lines of a multi-line message, unwrapped), then exit."""
    console.print(f"[red]{label}:[/red] {escape(str(problem))}", soft_wrap=True,
                  highlight=False)
    sys.exit(code)


def run(coro_fn: Callable[..., Coroutine[Any, Any, Any]]) -> Callable[..., Any]:
    """Run an async command; turn store and settings errors into one clear line and exit 2."""

    @functools.wraps(coro_fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return asyncio.run(coro_fn(*args, **kwargs))
        except CONFIG_ERRORS as exc:
            fail(exc)

    return wrapper


def store_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--store",
        "store_url",
        envvar="IDGRAPH_STORE",
        default=None,
        help="Store URL: sqlite:///file.db (default sqlite:///idgraph.db) or "
        "neo4j://user:password@host:7687. Also IDGRAPH_STORE.",
    )(fn)


def settings_for(store_url: str | None) -> Settings:
    try:
        settings = Settings()
    except ValidationError as exc:
        raise click.UsageError(f"invalid settings: {exc}") from None
    if store_url:
        settings = settings.model_copy(update={"store": store_url})
    return settings


def matcher_notice(ingest: Any) -> None:
    """Say when the store's matcher is unused or decides nothing (a load and a rebuild
    apply it alike)."""
    if ingest.matcher_problem:
        console.print(f"fuzzy matching is off: {ingest.matcher_problem}", markup=False)
    elif ingest.matcher and not ingest.matcher.model.health.usable:
        console.print("fuzzy matching decides nothing: the stored matcher cannot tell "
                      f"people apart ({'; '.join(ingest.matcher.model.health.reasons)})",
                      markup=False)
