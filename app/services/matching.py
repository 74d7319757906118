"""Training the matcher: `idgraph matcher train FILE...`."""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass

from app.domain.events import EventError, format_ts, parse_event
from app.domain.matching.stream import pending_records
from app.domain.matching.training import Matcher, TrainingReport, settings_of, train_matcher
from app.domain.rules import Rules
from app.services.ingest import MATCHER_MODEL, utc_now
from app.stores.base import IdentityStore


@dataclass(frozen=True, slots=True)
class TrainingResult:
    events: int
    skipped_events: int  # not valid v1 events
    training: TrainingReport


async def train_from_events(store: IdentityStore, raws: Iterable[object], rules: Rules, *,
                            seed: int = 7, default_region: str = "NL"
                            ) -> tuple[Matcher, TrainingResult]:
    """Estimate the matcher without labels from the trait-bearing events given (a CRM
    export, say), in their order, and store it for every loader to use. A data set whose
    traits cannot tell people apart gives a matcher that says so and decides nothing."""
    events, skipped = [], 0
    for raw in raws:
        try:
            events.append(parse_event(raw, default_region=default_region).event)
        except EventError:
            skipped += 1
    records = [p.record for p in pending_records(events, rules) if p.blocks]
    matcher, report = train_matcher(records, random.Random(seed), settings=settings_of(rules))
    await store.save_model(MATCHER_MODEL, matcher.to_json(), format_ts(utc_now()))
    return matcher.configured(settings_of(rules), rules.limits), TrainingResult(
        len(events), skipped, report)
