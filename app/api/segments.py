"""Segment types: a stored definition with its size and its members (docs/segments.md).

Definitions and the `why` of memberships are shown to every role: conditions and the
values that satisfied them. A reader sees the values masked (app/api/masking.py): an
e-mail address or phone number anywhere, a personal trait's value (`trait(last_name)
exists (value: "v.")`), and the member's own names and address wherever they appear.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import strawberry
from strawberry.types import Info

from app.api.connections import Counted, known
from app.api.context import Context
from app.api.described import UTC_TIME, After, First
from app.api.masking import Shown
from app.api.times import time_field
from app.api.types import (
    DEFAULT_PAGE,
    Customer,
    InputError,
    PageInfo,
    customer_maskers,
    page_size,
)
from app.services.segments import SegmentInfo

CURSOR_KIND = "member"


def member_cursor(customer_id: str) -> str:
    return base64.urlsafe_b64encode(f"{CURSOR_KIND}:{customer_id}".encode()).decode()


def decode_member_cursor(after: str | None) -> str | None:
    if not after:
        return None
    try:
        kind, _, cid = base64.urlsafe_b64decode(after.encode()).decode().partition(":")
        if kind == CURSOR_KIND and cid:
            return cid
    except (binascii.Error, ValueError, UnicodeDecodeError):
        pass
    raise InputError(f"after: {after[:40]!r} is not a cursor this API returned")


@strawberry.type(description="A member of a segment: the customer, since when and why.")
class SegmentMemberEdge:
    cursor: str = strawberry.field(description="Pass it as `after` for the members after this "
                                   "one")
    node: Customer = strawberry.field(description="The member")
    since: str = time_field(description=f"When the customer entered, {UTC_TIME}")
    why: list[str] = strawberry.field(description="The conditions that held when the "
                                      "customer entered, each with the value it saw; "
                                      "personal values masked for readers")


@strawberry.type(description="A page of a segment's current members, by customer id.")
class SegmentMemberConnection(Counted):
    edges: list[SegmentMemberEdge] = strawberry.field(description="The members of the page, "
                                                      "by customer id")
    page_info: PageInfo = strawberry.field(description="Whether more members follow, and the "
                                           "cursors to page on")


@strawberry.type(description="A segment: a named definition in the segment language "
                 "(docs/segments.md) and its current members.")
class Segment:
    id: strawberry.ID = strawberry.field(description="The segment's name, lower_snake_case")
    definition: str = strawberry.field(description="The text in the segment language; values "
                                       "compared with personal traits masked for readers")
    created_at: str = time_field(description=f"When it was defined, {UTC_TIME}")
    updated_at: str = time_field(description="When its definition last changed, "
                                 f"{UTC_TIME}")
    size: int = strawberry.field(description="Current members")

    @strawberry.field(description="The current members, by customer id; page with `after: "
                      "pageInfo.endCursor`.")
    async def members(self, info: Info[Context, Any], first: First = DEFAULT_PAGE,
                      after: After = None) -> SegmentMemberConnection:
        page_size(first)
        rows = await info.context.services.views.segment_members(
            str(self.id), first + 1, decode_member_cursor(after))
        shown = await customer_maskers(info, [cid for cid, _ in rows[:first]])
        edges = [SegmentMemberEdge(cursor=member_cursor(cid), node=Customer(id=strawberry.ID(cid)),
                                   since=m.since, why=[shown[cid].why(w) for w in m.why])
                 for cid, m in rows[:first]]
        return SegmentMemberConnection(edges=edges, page_info=PageInfo.of(
            [e.cursor for e in edges], len(rows) > first, after), count=known(self.size))

    @classmethod
    def of(cls, found: SegmentInfo, m: Shown) -> Segment:
        r = found.record
        return cls(id=strawberry.ID(r.name), definition=m.definition(r.text),
                   created_at=r.created_at, updated_at=r.updated_at, size=found.size)
