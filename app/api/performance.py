"""Campaign performance types: conversions attributed to sources and campaigns by three
models, and a funnel (docs/segments.md, Campaign performance)."""

from __future__ import annotations

import strawberry

from app.api.described import UTC_TIME
from app.api.masking import UNMASKED, Shown
from app.api.times import time_field
from app.domain.attribution import Attribution, Credit
from app.domain.attribution import FunnelStep as FunnelCount


@strawberry.type(description="What a model credits to one source or campaign.")
class AttributionCredit:
    key: str = strawberry.field(description="The source or campaign; (direct) for "
                                "conversions without touches")
    conversions: float = strawberry.field(description="Conversions credited (a share for "
                                          "linear and markov)")
    value: float = strawberry.field(description="Value credited, in EUR")

    @classmethod
    def of(cls, c: Credit, m: Shown) -> AttributionCredit:
        return cls(key=m.text(c.key), conversions=c.conversions, value=c.value)


@strawberry.type(description="One attribution model's credits, most conversions first.")
class AttributionModel:
    by_source: list[AttributionCredit] = strawberry.field(description="Credits per source: "
                                                          "utm_source, else the ad network, "
                                                          "else the event's source")
    by_campaign: list[AttributionCredit] = strawberry.field(description="Credits per campaign: "
                                                            "utm_campaign or the campaign "
                                                            "property")

    @classmethod
    def of(cls, attribution: Attribution, model: str, m: Shown) -> AttributionModel:
        return cls(
            by_source=[AttributionCredit.of(c, m) for c in attribution.table(model, "source")],
            by_campaign=[AttributionCredit.of(c, m)
                         for c in attribution.table(model, "campaign")])


@strawberry.type(description="Customers who reached a funnel step, after the steps before it.")
class FunnelStep:
    step: str = strawberry.field(description="An event type, or type@source")
    customers: int = strawberry.field(description="Customers who reached it after the steps "
                                      "before it")
    from_previous: float | None = strawberry.field(description="Share of those who reached "
                                                   "the previous step")
    from_start: float | None = strawberry.field(description="Share of those who reached the "
                                                "first step")

    @classmethod
    def of(cls, s: FunnelCount) -> FunnelStep:
        return cls(step=s.step, customers=s.customers, from_previous=s.from_previous,
                   from_start=s.from_start)


@strawberry.type(description="The conversions (purchases) in [since, until), attributed to "
                 "the marketing touches in the 30 days before each: last touch, linear, and "
                 "Markov removal effect. Every model shares out exactly `conversions` and "
                 "`value`.")
class CampaignPerformance:
    since: str = time_field(description=f"The period's start (inclusive), {UTC_TIME}")
    until: str = time_field(description=f"The period's end (exclusive), {UTC_TIME}")
    conversions: int = strawberry.field(description="Conversions (purchases) in the period")
    value: float = strawberry.field(description="Value of the conversions, in EUR")
    paths: int = strawberry.field(description="Journeys considered, converting or not")
    last_touch: AttributionModel = strawberry.field(description="Each conversion credited to "
                                                    "its last touch")
    linear: AttributionModel = strawberry.field(description="Each conversion shared equally "
                                                "among its touches")
    markov: AttributionModel = strawberry.field(description="Shared by the removal effect of "
                                                "a first-order Markov chain over the paths")
    funnel: list[FunnelStep] = strawberry.field(description="The funnel asked for, one entry "
                                                "per step; empty without one")

    @classmethod
    def of(cls, attribution: Attribution, steps: tuple[FunnelCount, ...],
           m: Shown = UNMASKED) -> CampaignPerformance:
        """`m`: campaign names are free text from events, masked for readers."""
        return cls(since=attribution.since, until=attribution.until,
                   conversions=attribution.conversions, value=attribution.value,
                   paths=attribution.paths,
                   last_touch=AttributionModel.of(attribution, "last_touch", m),
                   linear=AttributionModel.of(attribution, "linear", m),
                   markov=AttributionModel.of(attribution, "markov", m),
                   funnel=[FunnelStep.of(s) for s in steps])
