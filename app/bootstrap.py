"""Composition root: settings -> store -> services. Entry points build through here."""

from __future__ import annotations

from dataclasses import dataclass

from app.config import Settings
from app.services.customers import CustomerService
from app.services.ingest import IngestService
from app.services.marketing import MarketingService
from app.services.privacy import PrivacyService
from app.services.segments import SegmentService
from app.services.steward import StewardService
from app.services.whatif import RulesService, use_stored_rules
from app.stores import IdentityStore, open_store


@dataclass
class Services:
    settings: Settings
    store: IdentityStore
    ingest: IngestService
    customers: CustomerService
    steward: StewardService
    privacy: PrivacyService
    segments: SegmentService
    marketing: MarketingService

    async def close(self) -> None:
        await self.store.close()


def build_services(settings: Settings, store: IdentityStore | None = None) -> Services:
    rules = settings.rules()
    traits = settings.traits()
    store = store or open_store(settings.store, neo4j_database=settings.neo4j_database,
                                suppression=settings.suppression())
    region = settings.default_region
    services = Services(
        settings=settings,
        store=store,
        ingest=IngestService(store, default_region=region, rules=rules),
        customers=CustomerService(store, default_region=region),
        steward=StewardService(store, default_region=region, rules=rules),
        privacy=PrivacyService(store, default_region=region),
        segments=SegmentService(store, traits=traits),
        marketing=MarketingService(store, traits=traits),
    )
    # every write keeps segment memberships right
    services.ingest.segments = services.steward.segments = services.segments
    services.steward.rules_undo = RulesService(services).undo
    return services


async def start(settings: Settings, store: IdentityStore | None = None) -> Services:
    """Open the store, check it answers and bring its schema up to date."""
    services = build_services(settings, store)
    try:
        await services.store.ping()
        await services.store.migrate()
        await services.ingest.load_matcher()
        await use_stored_rules(services)
    except BaseException:
        await services.store.close()
        raise
    return services
