"""Per-request context: the services, the caller, the event bus (and a way to wake what
feeds it from the outbox), and one set of DataLoaders per request (per subscription event
on a WebSocket)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from app.api.auth import Principal
from app.api.dataloaders import Loaders, make_loaders
from app.api.events import EventBus
from app.bootstrap import Services


@dataclass
class Context:
    services: Services
    principal: Principal
    bus: EventBus
    connection_params: dict[str, Any] | None = None
    # the outbox holds new changes: let subscriptions hear of them now, not at the next poll
    changed: Callable[[], None] | None = None
    # An HTTP request's time budget, armed for queries (app/api/deadline.py)
    time_budget: asyncio.Timeout | None = None
    loaders: Loaders = field(init=False)

    def __post_init__(self) -> None:
        self.loaders = make_loaders(self.services)

    def fresh_loaders(self) -> None:
        """Forget what the loaders cached: a WebSocket context lives as long as the
        connection, and each subscription event must read the store as it is now."""
        self.loaders = make_loaders(self.services)
