"""Sealed global ids: the same text seals to the same id under one key, opens back only
under that key, and an id altered anywhere fails to open."""

from __future__ import annotations

import pytest

from app.api.node_ids import BadId, Sealer, global_id, parse_global_id

KEY = b"k" * 32
TEXTS = ["email:anna.devries@example.com", "", "phone:+31612345678", "é\u2028\x00" * 40]


@pytest.mark.parametrize("text", TEXTS)
def test_a_sealed_key_opens_to_itself_and_hides_it(text):
    sealer = Sealer(KEY)
    token = sealer.seal(text)
    assert sealer.open(token) == text
    assert sealer.seal(text) == token  # deterministic: a stable id
    assert "anna" not in token and "31612345678" not in token
    assert global_id("Identifier", token) != global_id("IdentifierInfo", token)
    assert parse_global_id(global_id("Identifier", token)) == ("Identifier", token)


def test_another_key_or_any_altered_character_does_not_open():
    token = Sealer(KEY).seal("email:anna.devries@example.com")
    with pytest.raises(BadId):
        Sealer(b"x" * 32).open(token)
    for n in range(len(token)):
        altered = token[:n] + ("A" if token[n] != "A" else "B") + token[n + 1:]
        with pytest.raises(BadId):
            Sealer(KEY).open(altered)


@pytest.mark.parametrize("junk", ["", "!!!", "abc", "Zm9v"])
def test_junk_is_not_an_id(junk):
    with pytest.raises(BadId):
        Sealer(KEY).open(junk)
