"""Search texts: the pieces that survive a typo, and what tells namesakes apart."""

from __future__ import annotations

import pytest

from app.domain.search import (
    DEFAULT_BOUNDS,
    MIN_PIECE,
    Disambiguator,
    disambiguator,
    search_text,
    typo_pieces,
)
from app.services.customers import CLOSE_ENOUGH, rank, search_customers
from app.stores.ports import SearchPort


def one_typo_variants(word: str) -> list[str]:
    deletions = [word[:i] + word[i + 1:] for i in range(len(word))]
    swaps = [word[:i] + word[i + 1] + word[i] + word[i + 2:] for i in range(len(word) - 1)]
    substitutions = [word[:i] + "x" + word[i + 1:] for i in range(len(word))]
    return deletions + swaps + substitutions


@pytest.mark.parametrize("term", ["anna.devries@example.com", "+31612345678", "vanderlinden"])
def test_after_any_one_typo_a_piece_of_the_text_is_still_in_the_term(term):
    for typo in one_typo_variants(term.partition("@")[0]):
        text = typo + term[len(term.partition("@")[0]):]
        assert any(piece in term for piece in [text, *typo_pieces(text)]), text


def test_pieces_skip_the_domain_and_short_words_and_stay_few():
    assert typo_pieces("anna") == []
    assert typo_pieces("ana.devries@example.com") == ["ana.devries", "ana.", "vries"]
    assert all(len(p) >= MIN_PIECE for p in typo_pieces("ana.devries@example.com")[1:])
    longest = search_text("x" * 19 + " y" * 9 + "z" * 150, DEFAULT_BOUNDS)
    assert sum(len(typo_pieces(t)) for t in longest.split()) <= 3 * len(longest.split())


def test_namesakes_show_their_city_else_their_first_e_mail_else_their_first_phone():
    assert disambiguator(" Utrecht ", ["email:a@x.nl"]) == Disambiguator("city", "Utrecht")
    assert disambiguator(None, ["phone:+316", "email:b@x.nl", "email:a@x.nl"]) == \
        Disambiguator("email", "a@x.nl")
    assert disambiguator("", ["cookie:c", "phone:+316"]) == Disambiguator("phone", "+316")
    assert disambiguator(None, ["cookie:c"]) is None


def test_ranking_keeps_the_best_term_per_customer_at_or_above_the_minimum():
    candidates = [("email:anna@x.nl", "c1", "anna@x.nl"), ("crm:1", "c1", "anna de vries"),
                  ("crm:2", "c2", "bob bakker"), ("crm:3", "c3", "anna bakker")]
    assert [h.customer_id for h in rank("anna de vries", candidates, 10)] == ["c1", "c3", "c2"]
    kept = rank("anna de vries", candidates, 10, min_score=80)
    assert [h.customer_id for h in kept] == ["c1"] and kept[0].matched == "anna de vries"


class Terms(SearchPort):
    """Terms in memory: with typos, every term; without, those holding a token."""

    def __init__(self, terms: list[tuple[str, str, str]]) -> None:
        self.terms = terms
        self.asked: list[bool] = []

    async def search(self, text: str, limit: int, typos: bool = False
                     ) -> list[tuple[str, str, str]]:
        self.asked.append(typos)
        if typos:
            return self.terms[:limit]
        return [t for t in self.terms if any(w in t[2] for w in text.split())][:limit]


TERMS = [("email:anna.devries@example.com", "c1", "anna.devries@example.com"),
         ("email:bob@example.org", "c2", "bob@example.org")]


async def test_the_pieces_are_searched_only_when_nothing_close_was_found():
    exact = Terms(TERMS)
    hits = await search_customers(exact, "anna.devries@example.com", 10)
    assert (hits[0].customer_id, exact.asked) == ("c1", [False])
    typo = Terms(TERMS)
    hits = await search_customers(typo, "anna.devires@example.com", 10)
    assert (hits[0].customer_id, typo.asked) == ("c1", [False, True])
    # a steward's close spelling found by the first search is not searched for again
    close = Terms([("crm:1", "c3", "anna de vries")])
    assert [h.score >= CLOSE_ENOUGH for h in await search_customers(close, "anna de vries", 10)
            ] == [True]
    assert close.asked == [False]
