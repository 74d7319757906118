"""Who is calling: API keys from the settings, each with a role, sent as a bearer token.

Roles are ordered: a steward can do what a reader can, an admin what a steward can.
With no keys configured the API runs in local development mode and grants every role.
A caller without an accepted key is ANONYMOUS: it has no role, and RequireCaller refuses
every operation it sends, whatever route or protocol brought the operation in.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator
from dataclasses import dataclass

from strawberry.extensions import SchemaExtension

from app.api.errors import ErrorCode, coded
from app.config import ROLES, Settings

DEV_ACTOR = "local-dev"
RANK = {role: n for n, role in enumerate(ROLES)}


class AuthError(Exception):
    """A request whose credentials idgraph does not accept; the message says what to send."""


@dataclass(frozen=True, slots=True)
class Principal:
    role: str
    actor: str  # a stable label for the audit log; never the key itself

    @property
    def authenticated(self) -> bool:
        return self.role in RANK

    def can(self, role: str) -> bool:
        return self.authenticated and RANK[self.role] >= RANK[role]

    @property
    def sees_pii(self) -> bool:
        return self.can("steward")


DEV_PRINCIPAL = Principal("admin", DEV_ACTOR)
# The GraphiQL page and a WebSocket before its connection_init: they may load, not query.
ANONYMOUS = Principal("anonymous", "anonymous")
SEND_A_KEY = "send an API key: Authorization: Bearer <key>"


def key_label(key: str, role: str) -> str:
    """The audit name of a key: its role and a short fingerprint, enough to tell keys apart."""
    return f"{role}-key-{hashlib.sha256(key.encode()).hexdigest()[:10]}"


class Authenticator:
    def __init__(self, settings: Settings) -> None:
        self.keys = settings.api_key_roles()

    @property
    def dev_mode(self) -> bool:
        return not self.keys

    def principal(self, authorization: str | None) -> Principal:
        """The caller named by an Authorization header value; raises AuthError."""
        if self.dev_mode:
            return DEV_PRINCIPAL
        if not authorization:
            raise AuthError(SEND_A_KEY)
        scheme, _, key = authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            raise AuthError("the Authorization header must be 'Bearer <key>'")
        key = key.strip()
        for known, role in self.keys.items():
            # Compare every key in constant time, so timing does not reveal a prefix.
            if hmac.compare_digest(known.encode(), key.encode()):
                return Principal(role, key_label(key, role))
        raise AuthError("unknown API key; ask an administrator for one (IDGRAPH_API_KEYS)")


class RequireCaller(SchemaExtension):
    """Refuse every operation of an ANONYMOUS caller before it executes. The HTTP layer
    answers 401 already; this holds whatever lets a request through to the schema."""

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context.context
        principal = getattr(context, "principal", ANONYMOUS)
        if not principal.authenticated:
            # Raised, not set as the result: subscriptions ignore a result set here.
            raise coded(SEND_A_KEY, ErrorCode.UNAUTHENTICATED)
        yield
