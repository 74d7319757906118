"""Global object ids (Relay's Node): the GraphQL type's name and the object's own key,
as strawberry's relay.GlobalID writes them (base64 of "Type:key").

A key that can hold personal values (an identifier's "email:..." key, a link's two, an
event id its source made up) is sealed first: encrypted, deterministically, under a key
derived from the store's suppression key, so that an id says nothing to whoever holds it
(a reader sees only masked values) yet stays the same for the same object in every
process of the store, and `node(id)` can open it. Sealing is SIV (RFC 5297's
construction, with HMAC-SHA256 as the pseudo-random function): the tag is the MAC of the
key and seeds the key stream, so a forged or altered id fails to open."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import strawberry
from strawberry.relay import GlobalID
from strawberry.relay.types import GlobalIDValueError
from strawberry.types import Info

from app.api.context import Context

TAG_BYTES = 16
BLOCK = hashlib.sha256().digest_size


class BadId(ValueError):
    """Not an id this API gave out (or one sealed under another store's key)."""


@dataclass(frozen=True, slots=True)
class Sealer:
    secret: bytes
    _mac: bytes = field(init=False, repr=False)
    _stream: bytes = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_mac", _derive(self.secret, b"idgraph node id mac"))
        object.__setattr__(self, "_stream", _derive(self.secret, b"idgraph node id stream"))

    def seal(self, text: str) -> str:
        plain = text.encode()
        tag = hmac.new(self._mac, plain, hashlib.sha256).digest()[:TAG_BYTES]
        sealed = tag + _xor(plain, self._keystream(tag, len(plain)))
        return base64.urlsafe_b64encode(sealed).decode().rstrip("=")

    def open(self, token: str) -> str:
        try:
            sealed = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        except (binascii.Error, ValueError):
            raise BadId("not sealed") from None
        tag, body = sealed[:TAG_BYTES], sealed[TAG_BYTES:]
        plain = _xor(body, self._keystream(tag, len(body)))
        expected = hmac.new(self._mac, plain, hashlib.sha256).digest()[:TAG_BYTES]
        if len(tag) != TAG_BYTES or not hmac.compare_digest(tag, expected):
            raise BadId("not sealed under this store's key")
        try:
            return plain.decode()
        except UnicodeDecodeError:
            raise BadId("not text") from None

    def _keystream(self, tag: bytes, length: int) -> bytes:
        blocks = (hmac.new(self._stream, tag + n.to_bytes(4, "big"), hashlib.sha256).digest()
                  for n in range(-(-length // BLOCK)))
        return b"".join(blocks)[:length]


def _derive(secret: bytes, label: bytes) -> bytes:
    return hmac.new(secret, label, hashlib.sha256).digest()


def _xor(a: bytes, b: bytes) -> bytes:
    return bytes(x ^ y for x, y in zip(a, b, strict=True))


def global_id(type_name: str, key: str) -> str:
    return str(GlobalID(type_name, key))


def parse_global_id(text: str) -> tuple[str, str]:
    """(type name, key) of a global id; raises BadId."""
    try:
        found = GlobalID.from_id(text)
    except GlobalIDValueError:
        raise BadId("not a global id") from None
    return found.type_name, found.node_id


@lru_cache(maxsize=8)
def sealer_for(secret: bytes) -> Sealer:
    return Sealer(secret)


def sealer(info: Info[Context, Any]) -> Sealer:
    return sealer_for(info.context.services.views.node_secret())


def sealed_id(info: Info[Context, Any], type_name: str, key: str) -> strawberry.ID:
    """The global id of an object whose key may hold personal values."""
    return strawberry.ID(global_id(type_name, sealer(info).seal(key)))


@strawberry.interface(name="Node", description="An object a client can refetch by its id "
                      "with `node(id)` (Relay's global object identification): the id is "
                      "unique across every type and the same every time it is read.")
class Node:
    @strawberry.field(description="The object's global id; pass it to `node(id)` or "
                      "`nodes(ids)`")
    def id(self, info: Info[Context, Any]) -> strawberry.ID:
        raise NotImplementedError  # every type that implements Node answers it
