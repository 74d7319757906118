"""Store adapters behind the IdentityStore port, chosen by URL."""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

from app.domain.privacy import SuppressionKey
from app.stores.base import IdentityStore
from app.stores.bulk import BulkStore
from app.stores.errors import StoreError, StoreUnavailable, StoreURLError

NEO4J_SCHEMES = ("neo4j", "neo4j+s", "neo4j+ssc", "bolt", "bolt+s", "bolt+ssc")


def open_store(url: str, *, neo4j_database: str = "neo4j",
               suppression: SuppressionKey | None = None) -> IdentityStore:
    """Open the store a URL names. Raises StoreURLError for a URL of no known kind.
    `suppression`: the key of its suppression list; the default key file's otherwise
    (app/stores/keys.py)."""
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        path = url.removeprefix("sqlite://")
        path = path[1:] if path.startswith("/") else path
        if not path:
            raise StoreURLError(f"{url!r}: give a file, as in sqlite:///idgraph.db")
        from app.stores.sqlite.store import SQLiteStore

        return SQLiteStore(path, url, suppression=suppression)
    if parts.scheme in NEO4J_SCHEMES:
        from app.stores.neo4j.store import Neo4jStore

        address = f"{parts.scheme}://{parts.hostname or 'localhost'}:{parts.port or 7687}"
        auth = (unquote(parts.username or "neo4j"), unquote(parts.password or ""))
        return Neo4jStore(address, auth, database=neo4j_database, url=url,
                          suppression=suppression)
    raise StoreURLError(
        f"{url!r}: the store URL must start with sqlite:/// or neo4j:// (or bolt://)"
    )



def bulk_of(store: IdentityStore) -> BulkStore:
    """The bulk writer (a rebuild's staging and switch) of the adapter behind `store`."""
    from app.stores.neo4j.store import Neo4jStore
    from app.stores.sqlite.store import SQLiteStore

    if isinstance(store, SQLiteStore):
        from app.stores.sqlite.bulk import SQLiteBulk

        return SQLiteBulk(store)
    if isinstance(store, Neo4jStore):
        from app.stores.neo4j.bulk import Neo4jBulk

        return Neo4jBulk(store)
    raise StoreError(f"{type(store).__name__} has no bulk writer")


__all__ = ["IdentityStore", "StoreUnavailable", "StoreURLError", "bulk_of", "open_store"]
