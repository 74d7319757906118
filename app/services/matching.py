"""Training the matcher: `idgraph matcher train FILE...`."""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass

from app.clock import utc_now
from app.domain.events import EventError, format_ts, parse_event
from app.domain.matching.decisions import Basis
from app.domain.matching.stream import pending_records
from app.domain.matching.training import Matcher, TrainingReport, settings_of, train_matcher
from app.domain.rules import MatchThresholds, Rules
from app.services.ingest import MATCHER_MODEL
from app.stores.base import IdentityStore

KIN_PAIRS = {Basis.HOUSEMATES: "at one address",
             Basis.TWINS: "with one surname and birth date"}


@dataclass(frozen=True, slots=True)
class TrainingResult:
    events: int
    skipped_events: int  # not valid v1 events
    training: TrainingReport
    thresholds: MatchThresholds

    def lines(self) -> list[str]:
        """What a steward should know before loading with this matcher."""
        t, e, th = self.training, self.training.expectation, self.thresholds
        lines = [f"trained on {t.records:,} records from {self.events:,} events "
                 f"({self.skipped_events:,} skipped as invalid); "
                 f"EM {'converged' if t.em_converged else 'stopped'} after "
                 f"{t.em_iterations} iterations"]
        if t.health.usable:
            lines.append(f"prior: {t.prior:.3g}, one pair of random records in "
                         f"{1 / t.prior:,.0f} is one person")
            if t.kind_priors:
                lines.append("prior by the kinds of the two records: " + ", ".join(
                    f"{kinds.replace('|', ' and ')} {p:.3g}"
                    for kinds, p in sorted(t.kind_priors.items(), key=lambda kv: -kv[1])))
        for basis, n in t.kin_pairs.items():
            if n:
                lines.append(f"{KIN_PAIRS[basis]}: {t.kin.priors[basis]:.0%} of pairs are one "
                             f"person, the others {basis}")
        lines.append(f"thresholds: link at p >= {th.link}, review at p >= {th.review}, "
                     f"join a second customer at p >= {th.merge}")
        if not t.health.usable:
            lines.append("this matcher cannot tell people apart and will link or queue "
                         "nothing:")
            lines += [f"  - {reason}" for reason in t.health.reasons]
            return lines
        lines.append(f"expected on these records: {e.links:,} links with precision "
                     f"{e.precision:.3f} and recall {e.recall:.3f} of "
                     f"{e.matching_pairs:,.0f} expected matching pairs among "
                     f"{t.candidate_pairs:,} compared")
        lines.append(f"expected review load: {e.review_items:,} items, "
                     f"{e.review_per_100:.1f} per 100 records")
        lines += [f"note: {reason}" for reason in t.health.reasons]
        return lines


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
        len(events), skipped, report, rules.matching)
