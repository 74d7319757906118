"""Who is calling: API keys from the settings, each with a role, sent as a bearer token.

Roles are ordered: a steward can do what a reader can, an admin what a steward can.
With no keys configured the API runs in local development mode and grants every role.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from app.config import ROLES, Settings

DEV_ACTOR = "local-dev"
RANK = {role: n for n, role in enumerate(ROLES)}


class AuthError(Exception):
    """A request whose credentials idgraph does not accept; the message says what to send."""


@dataclass(frozen=True, slots=True)
class Principal:
    role: str
    actor: str  # a stable label for the audit log; never the key itself

    def can(self, role: str) -> bool:
        return RANK[self.role] >= RANK[role]

    @property
    def sees_pii(self) -> bool:
        return self.can("steward")


DEV_PRINCIPAL = Principal("admin", DEV_ACTOR)


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
            raise AuthError("send an API key: Authorization: Bearer <key>")
        scheme, _, key = authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            raise AuthError("the Authorization header must be 'Bearer <key>'")
        key = key.strip()
        for known, role in self.keys.items():
            # Compare every key in constant time, so timing does not reveal a prefix.
            if hmac.compare_digest(known.encode(), key.encode()):
                return Principal(role, key_label(key, role))
        raise AuthError("unknown API key; ask an administrator for one (IDGRAPH_API_KEYS)")
