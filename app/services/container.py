"""The services of one store, built together (app/bootstrap.py builds them in order). Use
cases that drive the others, such as as-of answers, replay and rules changes, take them
whole from here, so that none of them reaches up into the composition root."""

from __future__ import annotations

from dataclasses import dataclass

from app.config import Settings
from app.services.customers import CustomerService
from app.services.ingest import IngestService
from app.services.marketing import MarketingService
from app.services.privacy import PrivacyService
from app.services.segments import SegmentService
from app.services.steward import StewardService
from app.services.views import Views
from app.stores.base import IdentityStore


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
    views: Views  # the API's reads

    async def close(self) -> None:
        await self.store.close()
