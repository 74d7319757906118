"""Training the matcher: `idgraph matcher train FILE...`."""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass

from app.clock import utc_now
from app.domain.events import EventError, format_ts, parse_event
from app.domain.matching.em import EmReport
from app.domain.matching.stream import pending_records
from app.domain.matching.training import Matcher, train_matcher
from app.domain.rules import Rules
from app.services.ingest import MATCHER_MODEL
from app.stores.base import IdentityStore


@dataclass(frozen=True, slots=True)
class TrainingReport:
    records: int
    skipped_events: int
    em: EmReport


async def train_from_events(store: IdentityStore, raws: Iterable[object], rules: Rules, *,
                            seed: int = 7, default_region: str = "NL"
                            ) -> tuple[Matcher, TrainingReport]:
    """Estimate the matcher without labels from the trait-bearing events given (a CRM
    export, say), in their order, and store it for every loader to use."""
    events, skipped = [], 0
    for raw in raws:
        try:
            events.append(parse_event(raw, default_region=default_region).event)
        except EventError:
            skipped += 1
    records = [p.record for p in pending_records(events, rules) if p.blocks]
    if len(records) < 2:
        raise ValueError("training needs at least two events with traits")
    matcher, em = train_matcher(records, random.Random(seed))
    await store.save_model(MATCHER_MODEL, matcher.to_json(), format_ts(utc_now()))
    return matcher, TrainingReport(len(records), skipped, em)
