"""Descriptions the schema repeats: how times are written, and the arguments that several
operations take (a page, a steward's reason, an identifier). One wording, so that a client
reads the same words for the same thing (tests/api/test_schema_lint.py wants one on every
field and argument)."""

from __future__ import annotations

from typing import Annotated

import strawberry

from app.services.customers import MAX_PAGE

UTC_TIME = "in UTC, such as 2024-01-02T10:00:00.000000Z"
READER_MASKED = "masked for readers when personal"

First = Annotated[int, strawberry.argument(
    description=f"How many edges the page holds, 0 to {MAX_PAGE}")]
After = Annotated[str | None, strawberry.argument(
    description="Start after this cursor (the previous page's pageInfo.endCursor); null for "
    "the first page")]
Reason = Annotated[str, strawberry.argument(
    description="Why, in the caller's words, for the audit log; a blank reason is refused "
    "(InvalidInput, REASON_REQUIRED)")]
IdentifierType = Annotated[str, strawberry.argument(
    description="The identifier's type, lower_snake_case: email, phone, cookie, device_id, "
    "crm_id or any other type events carry")]
IdentifierValue = Annotated[str, strawberry.argument(
    description="The identifier's value in any spelling: it is normalised by its type first "
    "(phone numbers in the default region)")]
