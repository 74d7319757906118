"""`node(id)` and `nodes(ids)`: any object that implements Node, refetched by its global id
(app/api/node_ids.py), as the field that first gave it out shows it to the caller: masked
for a reader as there, and refused where the caller's role may not read it (audit
entries: stewards). A malformed id or one of nothing (any more) is an error that names the
argument, with `extensions.code`, and the node is null; the other ids of `nodes` answer."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import strawberry
from strawberry.types import Info

from app.api.context import Context
from app.api.errors import ErrorCode, coded
from app.api.node_ids import BadId, Node, parse_global_id, sealer
from app.api.types import (
    AuditEntry,
    Customer,
    Event,
    Identifier,
    IdentifierInfo,
    Link,
    customer_masker,
    masker,
    owner_masker,
)

CUSTOMER_ID_LENGTH = len("c_") + 16
Resolve = Callable[[Info[Context, Any], str], Awaitable[Node | None]]


class Unknown(Exception):
    """A well-formed id of nothing (any more); the message says what."""


class ForbiddenNode(Exception):
    """An id of something the caller's role may not read."""


async def resolve(info: Info[Context, Any], text: str, name: str) -> Node | None:
    """The node of a global id; raises a coded GraphQLError naming the argument `name`."""
    try:
        found = await _node(info, text)
    except BadId:
        raise coded(f"{name}: {text[:60]!r} is not an id this API gave out",
                    ErrorCode.BAD_USER_INPUT) from None
    except Unknown as exc:
        raise coded(f"{name}: {exc}", ErrorCode.NOT_FOUND) from None
    except ForbiddenNode as exc:
        raise coded(f"{name}: {exc}", ErrorCode.FORBIDDEN) from None
    return found


async def _node(info: Info[Context, Any], text: str) -> Node:
    if _is_customer_id(text):
        return await _customer(info, text)
    type_name, key = parse_global_id(text)
    resolver = RESOLVERS.get(type_name)
    if resolver is None:
        raise BadId(type_name)
    found = await resolver(info, key)
    if found is None:
        raise Unknown(f"no {type_name} with this id (it may have been erased or changed)")
    return found


def _is_customer_id(text: str) -> bool:
    digits = text.removeprefix("c_")
    return (len(text) == CUSTOMER_ID_LENGTH and digits != text
            and all(c in "0123456789abcdef" for c in digits))


async def _customer(info: Info[Context, Any], customer_id: str) -> Customer:
    current = await info.context.loaders.current_ids.load(customer_id)
    if current is None:
        raise Unknown(f"no customer {customer_id} (it may have been erased)")
    if current != customer_id:
        # a node answers with the id asked for; customer(id) follows the merge
        raise Unknown(f"customer {customer_id} was merged into {current}: ask for that one, "
                      f"or use customer(id), which follows merges")
    return Customer(id=strawberry.ID(customer_id))


def _opened(info: Info[Context, Any], key: str) -> str:
    return sealer(info).open(key)


async def _identifier(info: Info[Context, Any], key: str) -> Identifier | None:
    record = await info.context.loaders.identifiers.load(_opened(info, key))
    return Identifier.of(record, masker(info)) if record else None


async def _identifier_info(info: Info[Context, Any], key: str) -> IdentifierInfo | None:
    record = await info.context.loaders.identifiers.load(_opened(info, key))
    if record is None:
        return None
    return IdentifierInfo.of(record, await owner_masker(info, record.customer_id))


async def _link(info: Info[Context, Any], key: str) -> Link | None:
    try:
        a, b = json.loads(_opened(info, key))
    except (ValueError, TypeError):
        raise BadId("not a link") from None
    links = await info.context.loaders.links_touching.load(a)
    found = next((r for r in links if (r.a, r.b) == (a, b)), None)
    if found is None:
        return None
    # as identifier(a) { links } shows it
    record = await info.context.loaders.identifiers.load(a)
    return Link.of(found, await owner_masker(info, record.customer_id if record else None))


async def _event(info: Info[Context, Any], key: str) -> Event | None:
    event_id = _opened(info, key)
    record = (await info.context.services.views.events([event_id])).get(event_id)
    if record is None:
        return None
    # as the timeline of the customer it belongs to shows it
    keys = sorted(i.key for i in record.identifiers)
    owners = await info.context.loaders.owners.load_many(keys)
    owner = next((o for o in owners if o), None)
    m = await customer_masker(info, owner) if owner else masker(info)
    return Event.of(record, m)


async def _audit_entry(info: Info[Context, Any], key: str) -> AuditEntry | None:
    if not info.context.principal.can("steward"):
        raise ForbiddenNode("audit entries need the steward role, as auditLog does")
    if not key.isascii() or not key.isdigit() or len(key) > 18:
        raise BadId("not a seq")
    record = await info.context.services.views.audit_entry(int(key))
    return AuditEntry.of(record) if record else None


RESOLVERS: dict[str, Resolve] = {
    "Identifier": _identifier,
    "IdentifierInfo": _identifier_info,
    "Link": _link,
    "Event": _event,
    "AuditEntry": _audit_entry,
}
