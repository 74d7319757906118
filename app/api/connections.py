"""What every Relay connection of the schema has besides its edges: `totalCount`, how many
edges all pages together hold with the same arguments. It is counted by a read of its own,
made only when a query asks for the field (a page alone never pays for it)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import strawberry

Count = Callable[[], Awaitable[int]]


def known(total: int) -> Count:
    """A count already in hand."""

    async def count() -> int:
        return total

    return count


@strawberry.type(description="A Relay connection with its total.")
class Counted:
    count: strawberry.Private[Count]

    @strawberry.field(description="How many edges all pages together hold, with the same "
                      "arguments (filters included); read only when asked for")
    async def total_count(self) -> int:
        return await self.count()
