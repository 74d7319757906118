"""Erasure (GDPR right to be forgotten): the suppression list, and what brings an
erased identifier back.

An erased identifier is remembered only as a keyed hash (HMAC-SHA256 under a secret the
store does not hold, `SuppressionKey`), so that later events do not re-create it and
nobody with the store alone can tell which identifiers were erased: without the key, a
hash cannot be tested against guessed phone numbers or addresses. A stored hash names
the fingerprint of its key (`v2:<fingerprint>:<hex>`), so that a process with another
key is refused rather than let erased identifiers back unnoticed.

Hashes made before keys (`legacy_hash`, a fixed public salt) are upgraded in place: the
keyed hash is the HMAC of the legacy hash, which the store already holds.

An erased identifier comes back only with an explicit new consent: an event dated after
the erasure that grants (`true`) a purpose about the identifier's channel (the rules'
`[consent.returns]`: agreeing to analytics cookies does not bring an erased e-mail
back). Replayed or late history, dated before it, never brings it back, whatever consent
it carried.
"""

from __future__ import annotations

import fnmatch
import hashlib
import hmac
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

LEGACY_SALT = b"idgraph-suppression-v1"
SCHEME = "v2"
ERASED_MARK = "[erased]"
# Why an identifier, or a whole event, was dropped: on the suppression list.
SUPPRESSED = ("erased on request and suppressed; it returns only with an explicit new "
              "consent (docs/privacy.md)")
ALL_SUPPRESSED = "every identifier was erased on request and is suppressed"
MIN_KEY_BYTES = 16


class SuppressionKeyError(ValueError):
    """The suppression key is missing, too short, or not the one the store's
    suppressions were made with; the message says what to set."""


def legacy_hash(key: str) -> str:
    return hashlib.sha256(LEGACY_SALT + key.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class SuppressionKey:
    secret: bytes
    # every identifier of every batch is hashed: the prefix is made once, not per hash
    prefix: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.secret) < MIN_KEY_BYTES:
            raise SuppressionKeyError(f"a suppression key needs at least {MIN_KEY_BYTES} "
                                      f"bytes, not {len(self.secret)}")
        object.__setattr__(self, "prefix", f"{SCHEME}:{self.fingerprint}:")

    def __repr__(self) -> str:  # never the secret, in logs or tracebacks
        return f"SuppressionKey(fingerprint={self.fingerprint!r})"

    @property
    def fingerprint(self) -> str:
        """Tells keys apart without telling anything about them."""
        return hmac.new(self.secret, b"idgraph suppression key fingerprint",
                        hashlib.sha256).hexdigest()[:12]

    def hash(self, key: str) -> str:
        """The stored form of an erased identifier key ("type:value")."""
        return self.upgrade(legacy_hash(key))

    def upgrade(self, legacy: str) -> str:
        """The keyed hash of an identifier whose legacy hash the store holds."""
        digest = hmac.new(self.secret, legacy.encode(), hashlib.sha256).hexdigest()
        return self.prefix + digest

    def hashes(self, keys: Iterable[str]) -> dict[str, str]:
        """hash -> key, for looking keys up on the list."""
        return {self.hash(k): k for k in keys}


def upgrades(stored: Iterable[str], key: SuppressionKey) -> dict[str, str]:
    """legacy hash -> keyed hash, for the store's suppression list as it is. Refuses a key
    other than the one the keyed hashes on the list were made with: with another key no
    erased identifier would be recognised, and the next event would bring it back."""
    legacy: dict[str, str] = {}
    others: Counter[str] = Counter()
    for h in stored:
        if ":" not in h:
            legacy[h] = key.upgrade(h)
        elif not h.startswith(key.prefix):
            others[h.split(":")[1] if h.startswith(SCHEME + ":") else "?"] += 1
    if others:
        found = ", ".join(f"{n} with key {f}" for f, n in sorted(others.items()))
        raise SuppressionKeyError(
            f"the store holds suppressions of erased identifiers made with another "
            f"suppression key ({found}; this process has key {key.fingerprint}): set "
            f"IDGRAPH_SUPPRESSION_KEY, or IDGRAPH_SUPPRESSION_KEY_FILE, to the key they "
            f"were made with (docs/privacy.md)")
    return legacy


def brings_back(consent: Mapping[str, bool], event_at: str, erased_at: str,
                purposes: Iterable[str]) -> bool:
    """Whether an event brings an erased identifier back: an explicit new consent, that
    is a grant of one of `purposes` (the patterns the rules give for the identifier's
    type, Rules.returning_purposes), given after the erasure."""
    if event_at <= erased_at:
        return False
    granted = [p.casefold() for p, answer in consent.items() if answer is True]
    return any(fnmatch.fnmatchcase(p, pattern.casefold())
               for pattern in purposes for p in granted)
