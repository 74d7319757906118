"""The GraphQL schema: types in types.py and results.py, resolvers in query.py,
mutation.py and subscription.py. The SDL is committed as app/api/schema.graphql."""

from __future__ import annotations

import strawberry
from strawberry.schema.config import StrawberryConfig

from app.api.limits import limit_extensions
from app.api.mutation import Mutation
from app.api.query import Query
from app.api.subscription import Subscription
from app.api.times import SCALARS
from app.config import Settings


def build_schema(settings: Settings | None = None) -> strawberry.Schema:
    """The schema with the limits of `settings` (no limits without settings)."""
    extensions = limit_extensions(settings) if settings is not None else []
    return strawberry.Schema(query=Query, mutation=Mutation, subscription=Subscription,
                             extensions=extensions,
                             config=StrawberryConfig(scalar_map=SCALARS,
                                                    enable_experimental_incremental_execution=True))


schema = build_schema()
