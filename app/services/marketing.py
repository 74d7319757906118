"""Marketing use cases: the next-best-action model (train, recommend) and campaign
performance (attribution and funnels) over the unified customers."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from app.domain.attribution import Attribution, FunnelStep, campaign_performance, funnel
from app.domain.bounds import OutOfBounds, utc
from app.domain.events import format_ts, parse_ts
from app.domain.nba import NextBestActionModel, Recommendation, recommend, train
from app.domain.traits import CustomerFacts, EventLike, TraitsConfig, normal_ts, shift
from app.services.ingest import Clock, utc_now
from app.services.segments import MAX_EVENTS, all_customers, customer_facts
from app.stores.base import IdentityStore

NBA_MODEL = "next_best_action"
LOOKBACK_DAYS = 30  # touches considered before a conversion


class NoModel(LookupError):
    """No next-best-action model was trained into this store: run `idgraph train`."""


class MarketingService:
    def __init__(self, store: IdentityStore, *, traits: TraitsConfig | None = None,
                 clock: Clock = utc_now) -> None:
        self.store = store
        self.traits = traits or TraitsConfig.default()
        self.clock = clock
        self._model: tuple[str, NextBestActionModel] | None = None  # (trained_at, model)

    async def train(self, now: str | None = None) -> NextBestActionModel:
        """Fit the model on every customer's timeline, store it, and return it with its
        quality on the held-out time split."""
        now = normal_ts(now) if now else format_ts(self.clock())
        customers: list[CustomerFacts] = []
        async for ids in all_customers(self.store):
            customers += (await customer_facts(self.store, ids)).values()
        model = train(customers, now, traits=self.traits)
        await self.store.save_model(NBA_MODEL, model.to_json(), now)
        self._model = (model.trained_at, model)
        return model

    async def model(self) -> NextBestActionModel:
        """The stored model (read once, then again only when it was retrained)."""
        body = await self.store.load_model(NBA_MODEL)
        if body is None:
            raise NoModel("no next-best-action model yet: run `idgraph train`")
        if self._model is None or self._model[0] != body.get("trained_at"):
            model = NextBestActionModel.from_json(body)
            self._model = (model.trained_at, model)
        return self._model[1]

    async def next_best_actions(self, customer_ids: Sequence[str]
                                ) -> dict[str, Recommendation | None]:
        model = await self.model()
        now = format_ts(self.clock())
        facts = await customer_facts(self.store, customer_ids)
        return {cid: recommend(model, f, now, traits=self.traits) for cid, f in facts.items()}

    async def journeys(self, since: str, until: str,
                       lookback_days: int = LOOKBACK_DAYS) -> list[list[EventLike]]:
        """Each customer's events in [since - lookback, until): what attribution reads."""
        start = shift(normal_ts(since), -timedelta(days=lookback_days))
        found: list[list[EventLike]] = []
        async for ids in all_customers(self.store):
            timelines = await self.store.timelines(ids, MAX_EVENTS, since=start,
                                                   until=normal_ts(until))
            found += [list(reversed(events)) for events in timelines.values()]
        return found

    async def campaign_performance(self, since: str, until: str,
                                   funnel_steps: Sequence[str] = (),
                                   funnel_within_days: int | None = None
                                   ) -> tuple[Attribution, tuple[FunnelStep, ...]]:
        """Raises ValueError (a bad time) naming the argument."""
        since, until = _time("since", since), _time("until", until)
        if since >= until:
            raise ValueError("until: must be after since")
        journeys = await self.journeys(since, until)
        attribution = campaign_performance(journeys, since, until,
                                           lookback_days=LOOKBACK_DAYS)
        within = timedelta(days=funnel_within_days) if funnel_within_days else None
        return attribution, funnel(journeys, funnel_steps, since, until, within=within)


def _time(name: str, text: str) -> str:
    """A report time, within the times events may have (a report reads a lookback before
    `since` and a funnel after `until`: a time far outside cannot be shifted)."""
    try:
        moment = parse_ts(text)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise ValueError(f"{name}: {text[:40]!r} is not an RFC 3339 time with an offset, "
                         "such as 2024-03-01T00:00:00Z")
    try:
        return format_ts(utc(moment))
    except OutOfBounds as exc:
        raise ValueError(f"{name}: {exc.reason}") from None
