"""Erasure (GDPR right to be forgotten) and the suppression list.

An erased identifier is remembered only as a salted hash, so that it is not re-created
from later events unless it comes back with consent.
"""

from __future__ import annotations

import hashlib

SUPPRESSION_SALT = b"idgraph-suppression-v1"


def suppression_hash(key: str) -> str:
    return hashlib.sha256(SUPPRESSION_SALT + key.encode()).hexdigest()


def gives_consent(consent: dict[str, bool]) -> bool:
    """An event that grants any purpose brings a suppressed identifier back."""
    return any(consent.values())

