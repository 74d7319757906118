"""The roles an API key can have, weakest first: each can do what the ones before it can."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    READER = "reader"
    STEWARD = "steward"
    ADMIN = "admin"
