"""Where a customer's fields read from: the store as it is, or a rebuild of the graph as
of a moment (app/services/asof.py). A Customer carries its view, and every field under it
reads through the view's services and loaders, so that a customer as of T answers
entirely as of T."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from strawberry.types import Info

from app.api.dataloaders import Loaders

if TYPE_CHECKING:
    from app.api.context import Context
    from app.bootstrap import Services


@dataclass(frozen=True, slots=True)
class View:
    at: str  # the moment, as stored text
    services: Services
    loaders: Loaders


def loaders_of(info: Info[Context, Any], view: View | None) -> Loaders:
    return view.loaders if view is not None else info.context.loaders


def services_of(info: Info[Context, Any], view: View | None) -> Services:
    return view.services if view is not None else info.context.services
