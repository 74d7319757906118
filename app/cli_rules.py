"""`idgraph rules preview|apply`: what a new rules file would do, and applying it
(docs/resolution.md, "What a rules change would do").

app.cli imports this module at its end."""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.table import Table

from app.bootstrap import start
from app.cli_common import console, fail, run, settings_for, store_option
from app.domain.rules import RulesError
from app.domain.steward import StewardError
from app.services.whatif import RulesPreview, RulesService

SHOWN = 20  # customer changes printed; --out has them all

rules_file = click.option("--rules", "rules_path", required=True,
                          type=click.Path(exists=True, dir_okay=False, path_type=Path),
                          help="The new rules file (TOML, as IDGRAPH_RULES_FILE).")


@click.group("rules")
def rules() -> None:
    """Preview a new rules file's effect on the customers, or apply it."""


@rules.command("preview")
@store_option
@rules_file
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object of the counts.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write one JSON line per customer that changes, with the rules why.")
@run
async def preview(store_url: str | None, rules_path: Path, as_json: bool,
                  out: Path | None) -> None:
    """What the rules in --rules would do to the customers; writes nothing to the store."""
    services = await start(settings_for(store_url))
    try:
        result = await RulesService(services).preview(_read(rules_path))
    except RulesError as exc:
        fail(f"{rules_path}: {exc}")
    finally:
        await services.close()
    _report(result, as_json, out)


@rules.command("apply")
@store_option
@rules_file
@click.option("--reason", required=True, help="Why, for the audit log.")
@click.option("--actor", default="cli", show_default=True, help="Who, for the audit log.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object of the counts.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write one JSON line per customer that changed.")
@run
async def apply(store_url: str | None, rules_path: Path, reason: str, actor: str,
                as_json: bool, out: Path | None) -> None:
    """Apply the rules in --rules as one audited action (undo it as any other)."""
    services = await start(settings_for(store_url))
    try:
        result = await RulesService(services).apply(_read(rules_path), reason, actor)
    except RulesError as exc:
        fail(f"{rules_path}: {exc}")
    except StewardError as exc:
        fail(exc.message)
    finally:
        await services.close()
    _report(result, as_json, out)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"{path}: cannot be read ({exc})")


def _report(result: RulesPreview, as_json: bool, out: Path | None) -> None:
    if out is not None:
        with out.open("w", encoding="utf-8") as handle:
            for change in result.diff.customers:
                handle.write(json.dumps(change.as_json()) + "\n")
    if as_json:
        click.echo(json.dumps(result.as_json()))
        return
    counts = result.as_json()
    verb = "applied" if result.applied else "would change"
    console.print(f"{verb}: {', '.join(result.settings) or 'no setting'}", soft_wrap=True)
    table = Table("", "")
    for name in ("customers_before", "customers_after", "merges", "splits",
                 "identifiers_moved", "identifiers_deactivated", "identifiers_activated",
                 "segment_entries", "segment_exits", "customers_reevaluated"):
        table.add_row(name.replace("_", " "), f"{counts[name]:,}")
    console.print(table)
    for change in result.diff.customers[:SHOWN]:
        moved = ", ".join([*(f"+{k}" for k in change.gained), *(f"-{k}" for k in change.lost)])
        console.print(f"{change.customer_id} {change.kind.value}: {moved} "
                      f"({'; '.join(change.rules)})", soft_wrap=True, highlight=False)
    if len(result.diff.customers) > SHOWN:
        console.print(f"... and {len(result.diff.customers) - SHOWN:,} more"
                      + (f" (all in {out})" if out else " (--out writes them all)"))
    if result.audit_seq is not None:
        console.print(f"audit entry {result.audit_seq}; undoAction(seq: {result.audit_seq}) "
                      "puts the rules back")


# -- bench preview ------------------------------------------------------------------------
@click.command("preview")
@store_option
@click.option("--customers", default=10_000, show_default=True, type=click.IntRange(1),
              help="Customers the store must hold; an empty store is filled with synthetic "
              "ones first, a store that holds enough is used as it is. The store is left "
              "with the measured changes applied.")
@click.option("--runs", default=3, show_default=True, type=click.IntRange(1))
@run
async def bench_preview(store_url: str | None, customers: int, runs: int) -> None:
    """Time of a rules preview next to applying the same change."""
    from app.bench.preview import run_preview_bench

    report = await run_preview_bench(settings_for(store_url), customers, runs, console)
    click.echo(json.dumps(report, indent=2))


COMMANDS: list[click.Command] = [rules]
BENCH_COMMANDS: list[click.Command] = [bench_preview]
