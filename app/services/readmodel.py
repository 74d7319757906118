"""The backfill of the profile read model (app/stores/readmodel.py): a store written
before it holds no documents, and its customers are read from the graph until
`idgraph readmodel build` writes them (a rebuild writes them itself after its switch).
Each page of customers is written in one transaction under their locks, so the backfill
runs while loaders and stewards write: a write to a customer rewrites its document in its
own transaction."""

from __future__ import annotations

from collections.abc import Callable

from app.stores.base import IdentityStore

PAGE = 500


async def build_documents(store: IdentityStore, progress: Callable[[int], None] | None = None
                          ) -> int:
    """Write the document of every current customer; how many were written."""
    written, after = 0, None
    while page := await store.customer_page(after, PAGE):
        written += await store.build_profile_documents(page)
        after = page[-1]
        if progress is not None:
            progress(written)
    return written
