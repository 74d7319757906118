"""The store port, one narrow interface per concern (as graphiti's driver/operations/ has
them); `app.stores.base.IdentityStore` combines them, and each adapter implements it.
The outbox's interface is app/stores/outbox.py."""

from app.stores.ports.audit import AuditPort
from app.stores.ports.customers import CustomerPort
from app.stores.ports.graph import GraphPort
from app.stores.ports.history import HistoryPort
from app.stores.ports.lifecycle import LifecyclePort
from app.stores.ports.models import ModelPort
from app.stores.ports.readmodel import ReadModelPort
from app.stores.ports.reviews import ReviewPort
from app.stores.ports.search import SearchPort
from app.stores.ports.segments import SegmentPort
from app.stores.ports.timelines import TimelinePort

__all__ = ["AuditPort", "CustomerPort", "GraphPort", "HistoryPort", "LifecyclePort", "ModelPort",
           "ReadModelPort", "ReviewPort", "SearchPort", "SegmentPort", "TimelinePort"]
