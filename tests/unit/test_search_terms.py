"""What the embedded store's substring index is asked for."""

from app.domain.search import substring_terms


def test_a_token_its_words_and_the_halves_of_long_words_are_asked_for():
    assert substring_terms("Anna.DeVries@x.com  an") == [
        "anna.devries@x.com", "anna", "devries", "dev", "ries", "com"]


def test_one_typo_leaves_a_half_that_matches():
    for typo, intact in [("vandjik", "van"), ("maartej", "maa"), ("exampel", "exa")]:
        assert intact in substring_terms(typo)
