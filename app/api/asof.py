"""`asOf` on `customer` and `customerByIdentifier`: the customer as the evidence up to a
moment made it (app/services/asof.py). The Customer returned carries a view of the
rebuild, which every field under it reads from."""

from __future__ import annotations

import weakref
from datetime import datetime
from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from app.api.context import Context
from app.api.dataloaders import make_loaders
from app.api.types import Customer, InputError
from app.api.views import View
from app.domain.asof import AsOfError, moment_of
from app.domain.identifiers import IdentifierError
from app.services.asof import AsOf, AsOfService
from app.stores.base import IdentityStore

AsOfArgument = Annotated[datetime | None, strawberry.argument(
    description="Event time, RFC 3339 with an offset (2024-03-01T00:00:00Z): the customer "
    "as the events up to then and the steward actions made by then made it, with the id "
    "it had then; every field under it answers as of then. Null before its first event.")]

# One per store, for the process: it keeps the audit log read until a new entry comes.
_services: weakref.WeakKeyDictionary[IdentityStore, AsOfService] = weakref.WeakKeyDictionary()


def as_of_service(info: Info[Context, Any]) -> AsOfService:
    live = info.context.services
    found = _services.get(live.store)
    if found is None or found.live is not live:
        found = _services[live.store] = AsOfService(live)
    return found


def moment(when: datetime) -> str:
    try:
        return moment_of(when)
    except AsOfError as exc:
        raise InputError(str(exc)) from None


async def customer_as_of(info: Info[Context, Any], customer_id: str, when: datetime
                         ) -> Customer | None:
    at = moment(when)
    try:
        return _customer(await as_of_service(info).customer(customer_id, at))
    except AsOfError as exc:
        raise InputError(str(exc)) from None


async def customer_by_identifier_as_of(info: Info[Context, Any], type_: str, value: str,
                                       when: datetime) -> Customer | None:
    at = moment(when)
    try:
        return _customer(await as_of_service(info).by_identifier(type_, value, at))
    except IdentifierError as exc:
        raise InputError(f"value: {exc}") from None
    except AsOfError as exc:
        raise InputError(str(exc)) from None


def _customer(found: AsOf | None) -> Customer | None:
    if found is None:
        return None
    view = View(found.at, found.services, make_loaders(found.services))
    return Customer(id=strawberry.ID(found.customer_id), view=view)
