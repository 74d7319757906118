"""Driver errors of reaching the server, as the one clear StoreUnavailable line."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar

from neo4j.exceptions import (
    AuthError,
    ClientError,
    DatabaseUnavailable,
    DriverError,
    Neo4jError,
    ServiceUnavailable,
    SessionExpired,
)

from app.stores.errors import StoreBusy, StoreUnavailable

DATABASE_NOT_FOUND = "Neo.ClientError.Database.DatabaseNotFound"

P = ParamSpec("P")
R = TypeVar("R")


class Reaching(Protocol):
    """What a store that reaches a Neo4j server says about it."""

    database: str
    redacted_url: str

    def _unavailable(self, exc: BaseException) -> StoreUnavailable: ...


S = TypeVar("S", bound=Reaching)


def translated(
    method: Callable[Concatenate[S, P], Awaitable[R]],
) -> Callable[Concatenate[S, P], Coroutine[Any, Any, R]]:
    """Turn "cannot reach / cannot log in to the server" into StoreUnavailable, so callers
    get one clear line instead of a driver stack trace, and the other errors the driver
    calls retryable (a deadlock, a transient conflict) into StoreBusy."""

    @functools.wraps(method)
    async def wrapper(self: S, *args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await method(self, *args, **kwargs)
        except (ServiceUnavailable, SessionExpired, DatabaseUnavailable, AuthError,
                OSError) as exc:
            raise self._unavailable(exc) from None
        except ClientError as exc:
            if exc.code != DATABASE_NOT_FOUND:
                raise
            raise StoreUnavailable(
                f"Neo4j at {self.redacted_url} has no database {self.database!r}; "
                f"create it or choose another") from None
        except (Neo4jError, DriverError) as exc:
            if not exc.is_retryable():
                raise
            raise StoreBusy(f"Neo4j at {self.redacted_url}: {exc}") from exc

    return wrapper
