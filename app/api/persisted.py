"""Automatic persisted queries (Apollo's APQ protocol): a client sends the SHA-256 of its
document in `extensions.persistedQuery`; the server runs the document it registered under
that hash, or answers PERSISTED_QUERY_NOT_FOUND, and the client sends the document once
more with its hash to register it. Hash-only requests make small bodies, and GET URLs a
cache can key on.

The registry is in memory, per process, and bounded (least recently used documents go
first): a miss costs one round trip, never a wrong answer, since a document is only ever
registered under its own hash."""

from __future__ import annotations

import hashlib
import re
from dataclasses import replace

from strawberry.http import GraphQLRequestData

from app.api.errors import ErrorCode, Refused
from app.api.recent import RecentlyUsed

HASH = re.compile(r"[0-9a-f]{64}")
NOT_FOUND = "PersistedQueryNotFound"  # the message Apollo's clients look for


class PersistedQueries:
    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.documents: RecentlyUsed[str, str] = RecentlyUsed(capacity)

    def resolve(self, request: GraphQLRequestData) -> GraphQLRequestData:
        """The request with its document: as sent, or the one registered under its hash."""
        persisted = (request.extensions or {}).get("persistedQuery")
        if persisted is None:
            return request
        digest = self._digest(persisted)
        if request.query is None:
            query = self.documents.get(digest)
            if query is None:
                raise Refused(NOT_FOUND, ErrorCode.PERSISTED_QUERY_NOT_FOUND)
            return replace(request, query=query)
        if hashlib.sha256(request.query.encode("utf-8")).hexdigest() != digest:
            raise Refused("extensions.persistedQuery.sha256Hash: not the SHA-256 of the query",
                          ErrorCode.BAD_REQUEST)
        self.documents.put(digest, request.query)
        return request

    def _digest(self, persisted: object) -> str:
        if self.capacity == 0:
            raise Refused("extensions.persistedQuery: persisted queries are off on this server "
                          "(IDGRAPH_API_PERSISTED_QUERIES=0)",
                          ErrorCode.PERSISTED_QUERY_NOT_SUPPORTED)
        if not isinstance(persisted, dict) or persisted.get("version") != 1:
            raise Refused("extensions.persistedQuery: expected {\"version\": 1, "
                          "\"sha256Hash\": \"<64 hex digits>\"}", ErrorCode.BAD_REQUEST)
        digest = persisted.get("sha256Hash")
        if not isinstance(digest, str) or not HASH.fullmatch(digest):
            raise Refused("extensions.persistedQuery.sha256Hash: expected 64 lowercase hex "
                          "digits", ErrorCode.BAD_REQUEST)
        return digest
