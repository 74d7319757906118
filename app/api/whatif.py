"""`previewRules`: what a new rules file would do (app/services/whatif.py), for admins."""

from __future__ import annotations

import re
from typing import Any

import strawberry
from strawberry.types import Info

from app.api.context import Context
from app.api.results import Failure, Forbidden, forbidden, union_of
from app.domain.rules import RulesError
from app.services.whatif import RulesPreview, RulesService

_PLACE = re.compile(r"\(at line (\d+), column (\d+)\)")


@strawberry.type(description="A customer a rules change (or a steward action) changes: "
                 "`change` is merged, split, changed, new or emptied; `gained` and `lost` "
                 "the identifier keys it gains and loses, `fromCustomers` where the gains "
                 "come from and `toCustomers` where the losses go; `rules` the settings "
                 "that cause it.")
class CustomerDiff:
    customer_id: strawberry.ID
    change: str
    gained: list[str]
    lost: list[str]
    from_customers: list[strawberry.ID]
    to_customers: list[strawberry.ID]
    rules: list[str]


@strawberry.type(description="What a rules change would do, planned under the new rules "
                 "and rolled back: nothing is written (docs/resolution.md). Segment "
                 "entries and exits are those evaluating the changed customers would make.")
class RulesDiff:
    settings_changed: list[str]
    customers_before: int
    customers_after: int
    merges: int
    splits: int
    identifiers_moved: int
    identifiers_deactivated: int
    identifiers_activated: int
    customers_reevaluated: int = strawberry.field(
        description="Customers re-partitioned: only those a changed setting can touch.")
    segment_entries: int
    segment_exits: int
    customers: list[CustomerDiff]

    @classmethod
    def of(cls, preview: RulesPreview) -> RulesDiff:
        counts = preview.as_json()
        return cls(
            settings_changed=preview.settings,
            **{name: counts[name] for name in (
                "customers_before", "customers_after", "merges", "splits",
                "identifiers_moved", "identifiers_deactivated", "identifiers_activated",
                "segment_entries", "segment_exits")},
            customers_reevaluated=preview.reevaluated,
            customers=[CustomerDiff(
                customer_id=strawberry.ID(c.customer_id), change=c.kind.value,
                gained=c.gained, lost=c.lost,
                from_customers=[strawberry.ID(x) for x in c.from_customers],
                to_customers=[strawberry.ID(x) for x in c.to_customers], rules=c.rules)
                for c in preview.diff.customers])


@strawberry.type(description="A rules file idgraph cannot use: `setting` names the setting "
                 "at fault (empty for text that is not TOML), `line` and `column` (from 1) "
                 "point at a TOML syntax error. Nothing was changed.")
class InvalidRules(Failure):
    setting: str
    line: int | None
    column: int | None


PreviewRulesResult = union_of("PreviewRulesResult", RulesDiff, InvalidRules, Forbidden)


def invalid_rules(exc: RulesError) -> InvalidRules:
    message = str(exc)
    place = _PLACE.search(message)
    syntax = message.startswith("not valid TOML")
    return InvalidRules(
        code="INVALID_RULES", message=message,
        suggestion="fix the rules file where the message says (docs/resolution.md lists "
        "every setting)",
        setting="" if syntax else message.partition(":")[0],
        line=int(place.group(1)) if place else None,
        column=int(place.group(2)) if place else None)


async def preview_rules(info: Info[Context, Any], rules: str) -> Any:
    if denied := forbidden(info, "admin"):
        return denied
    try:
        preview = await RulesService(info.context.services).preview(rules)
    except RulesError as exc:
        return invalid_rules(exc)
    return RulesDiff.of(preview)
