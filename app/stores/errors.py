"""The store errors. Callers decide on `retriable` (as aiokafka's errors carry it), never on a
driver's own error types:

    StoreError                  retriable = False
    +-- StoreUnavailable        retriable = True: the store cannot be reached
    +-- StoreBusy               retriable = True: held by other writers, or a transient conflict
    +-- StoreURLError           the store URL is not one idgraph understands
    +-- ComponentTooLarge       a decision asked for more than one transaction may hold
"""

from __future__ import annotations


class StoreError(Exception):
    """Base of the store errors. `retriable`: the same call may succeed if made again later,
    so a caller decides on the flag, never on a driver's own error types."""

    retriable = False


class StoreUnavailable(StoreError):
    """The store cannot be reached. Check the store URL, and that the server is running."""

    retriable = True


class StoreBusy(StoreError):
    """The store is held by other writers (a lock that outlasted the wait, a deadlock or
    another transient conflict that the adapter's own retries did not get past)."""

    retriable = True


class StoreURLError(StoreError):
    """The store URL is not one idgraph understands."""


class ComponentTooLarge(StoreError):
    """A decision asked for more of the graph than one transaction may hold."""
