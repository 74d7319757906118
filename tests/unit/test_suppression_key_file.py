"""Where the suppression key comes from (app/stores/keys.py), and the pure rules around it
(app/domain/privacy.py)."""

from __future__ import annotations

import stat
from concurrent.futures import ThreadPoolExecutor

import pytest

from app.config import Settings
from app.domain.privacy import SuppressionKey, SuppressionKeyError, brings_back, upgrades
from app.stores.keys import default_key_file, load_key_file, resolve_key


def test_without_a_key_a_key_file_is_made_beside_the_database_readable_by_its_owner(tmp_path):
    url = f"sqlite:///{tmp_path}/shop.db"
    first = resolve_key(url)
    path = tmp_path / "shop.db.suppression-key"
    assert default_key_file(url) == path
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert resolve_key(url) == first  # the file is read again, not replaced


def test_a_neo4j_store_keeps_its_key_file_in_the_configuration_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert default_key_file("neo4j://neo4j:pw@db:7687") == (
        tmp_path / "idgraph" / "suppression.key")


def test_processes_making_the_key_file_at_once_all_use_the_same_key(tmp_path):
    path = tmp_path / "keys" / "suppression.key"
    with ThreadPoolExecutor(8) as pool:
        keys = set(pool.map(lambda _: load_key_file(path), range(16)))
    assert len(keys) == 1
    assert [p.name for p in path.parent.iterdir()] == ["suppression.key"]


def test_the_key_from_the_settings_comes_first_and_must_be_long_enough(tmp_path):
    settings = Settings(store=f"sqlite:///{tmp_path}/a.db", suppression_key="k" * 32)
    assert settings.suppression() == SuppressionKey(b"k" * 32)
    assert not (tmp_path / "a.db.suppression-key").exists()
    with pytest.raises(SuppressionKeyError, match="at least 16 characters"):
        Settings(store=f"sqlite:///{tmp_path}/a.db", suppression_key="short").suppression()
    assert "k" * 32 not in repr(settings) and "k" * 32 not in repr(settings.suppression())


def test_a_key_file_that_holds_no_key_is_refused_with_its_name(tmp_path):
    path = tmp_path / "bad.key"
    path.write_text("not hexadecimal\n")
    with pytest.raises(SuppressionKeyError, match="bad.key: not a suppression key"):
        load_key_file(path)


def test_legacy_hashes_are_upgraded_and_another_keys_hashes_refused():
    key, other = SuppressionKey(b"a" * 32), SuppressionKey(b"b" * 32)
    assert upgrades(["abc", key.hash("email:x@y.z")], key) == {"abc": key.upgrade("abc")}
    with pytest.raises(SuppressionKeyError, match=f"1 with key {other.fingerprint}"):
        upgrades([other.hash("email:x@y.z")], key)


@pytest.mark.parametrize(("consent", "at", "back"), [
    ({"email_marketing": True}, "2024-02-01T00:00:00.000000Z", True),
    ({"email_marketing": True}, "2023-12-31T00:00:00.000000Z", False),  # replayed history
    ({"email_marketing": False}, "2024-02-01T00:00:00.000000Z", False),  # a refusal
    ({}, "2024-02-01T00:00:00.000000Z", False),
])
def test_only_an_explicit_consent_given_after_the_erasure_brings_an_identifier_back(
        consent, at, back):
    assert brings_back(consent, at, "2024-01-15T00:00:00.000000Z", ["email*"]) is back
