"""Composition root: settings -> store -> services. Entry points build through here."""

from __future__ import annotations

import gc

from app.config import Settings
from app.services.container import Services
from app.services.customers import CustomerService
from app.services.ingest import IngestService
from app.services.marketing import MarketingService
from app.services.privacy import PrivacyService
from app.services.segments import SegmentService
from app.services.steward import StewardService
from app.services.views import Views
from app.services.whatif import RulesService, use_stored_rules
from app.stores import IdentityStore, open_store


def build_services(settings: Settings, store: IdentityStore | None = None) -> Services:
    rules = settings.rules()
    traits = settings.traits()
    store = store or open_store(settings.store, neo4j_database=settings.neo4j_database,
                                suppression=settings.suppression())
    region = settings.default_region
    # every write keeps segment memberships right
    segments = SegmentService(store, traits=traits)
    services = Services(
        settings=settings,
        store=store,
        ingest=IngestService(store, default_region=region, rules=rules, segments=segments),
        customers=CustomerService(store, default_region=region),
        steward=StewardService(store, default_region=region, rules=rules, segments=segments),
        privacy=PrivacyService(store, default_region=region),
        segments=segments,
        marketing=MarketingService(store, traits=traits),
        views=Views(store, read_model=settings.api_read_model),
    )
    # The one dependency set after construction: a rules change is built on the services
    # whose rules it changes, and undoing one is the steward's to do.
    services.steward.rules_undo = RulesService(services).undo
    return services


# Young collections every 10,000 container allocations instead of 700. A process that
# ingests keeps hundreds of thousands of objects alive (the identifier cache, a batch's
# plan), and at Python's default the full collections that walk them all took about 17%
# of the ingest's CPU (docs/benchmarks.md); cycles are still collected, just in larger
# steps.
YOUNG_COLLECTION_THRESHOLD = 10_000


def tune_collector() -> None:
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_COLLECTION_THRESHOLD, middle, old)


async def start(settings: Settings, store: IdentityStore | None = None) -> Services:
    """Open the store, check it answers and bring its schema up to date."""
    tune_collector()
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


__all__ = ["Services", "build_services", "start"]
