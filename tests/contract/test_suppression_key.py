"""The suppression list on every store: keyed hashes under a secret the store does not
hold, legacy hashes keyed in place, and a key other than the list's refused."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from app.domain.privacy import SuppressionKey, SuppressionKeyError, legacy_hash
from app.services.ingest import IngestService
from app.services.privacy import PrivacyService
from app.stores import open_store
from tests.helpers import event

PHONE = "phone:+31622223333"
SECRET = b"a test suppression secret, 32 b."


async def stored_hashes(store) -> list[str]:
    if hasattr(store, "db"):
        return [h for (h,) in store.db.execute("SELECT hash FROM suppressed")]
    async with store.driver.session(database=store.database) as session:
        result = await session.run("MATCH (s:Suppressed) RETURN s.hash AS hash")
        return [r["hash"] async for r in result]


async def add_legacy(store, key: str) -> None:
    """A suppression as idgraph wrote it before keys: SHA-256 with a fixed public salt."""
    at = "2024-01-01T00:00:00.000000Z"
    if hasattr(store, "db"):
        store.db.execute("INSERT INTO suppressed VALUES (?, ?)", (legacy_hash(key), at))
        return
    async with store.driver.session(database=store.database) as session:
        await session.run("CREATE (:Suppressed {hash: $hash, at: $at})",
                          hash=legacy_hash(key), at=at)


async def erase_phone(store) -> None:
    await IngestService(store).ingest([event("e1", "2024-01-01T00:00:00Z", PHONE, "cookie:k1")])
    cid = (await store.owners([PHONE]))[PHONE]
    await PrivacyService(store).forget(cid, "admin", "request")


async def test_an_erased_identifier_is_kept_as_a_hash_keyed_by_a_secret_not_in_the_store(
        store, dump_store):
    await erase_phone(store)
    stored = await stored_hashes(store)
    key = store.suppression
    # the salted hash anyone could recompute for every Dutch mobile number is not stored
    assert legacy_hash(PHONE) not in await dump_store(store)
    digest = hmac.new(key.secret, legacy_hash(PHONE).encode(), hashlib.sha256).hexdigest()
    assert sorted(stored) == sorted([f"v2:{key.fingerprint}:{digest}", key.hash("cookie:k1")])
    assert key.secret.hex() not in await dump_store(store)
    assert key.secret.decode("latin-1") not in await dump_store(store)
    result = await IngestService(store).ingest([event("e2", "2024-02-01T00:00:00Z", PHONE)])
    assert await store.owners([PHONE]) == {} and result.rejected == 1


async def test_legacy_hashes_are_keyed_when_the_store_is_migrated_and_still_suppress(store):
    await add_legacy(store, PHONE)
    await store.migrate()
    assert await stored_hashes(store) == [store.suppression.upgrade(legacy_hash(PHONE))]
    result = await IngestService(store).ingest([event("e1", "2024-02-01T00:00:00Z", PHONE,
                                                      "cookie:k2")])
    assert PHONE not in await store.owners([PHONE, "cookie:k2"])
    assert [p.erased for p in result.problems] == [True]


async def test_a_store_refuses_a_key_other_than_the_one_its_suppressions_were_made_with(
        store):
    await erase_phone(store)
    other = open_store(store.url, suppression=SuppressionKey(SECRET))
    try:
        with pytest.raises(SuppressionKeyError, match=store.suppression.fingerprint):
            await other.migrate()
    finally:
        await other.close()
    same = open_store(store.url, suppression=store.suppression)
    try:
        await same.migrate()
    finally:
        await same.close()
