"""A steward's refusal carries what a client needs: a stable code, what to do about it, the
input at fault, and the customer it names that is not held."""

from __future__ import annotations

import pytest

from app.domain.plan import Snapshot
from app.domain.rules import Rules
from app.domain.steward import Action, StewardError, StewardErrorCode, plan_action

# Refusals a caller cannot act on differently: the message says it all.
WITHOUT_SUGGESTION = {StewardErrorCode.UNKNOWN_ACTION, StewardErrorCode.NOT_REPLAYABLE}


@pytest.mark.parametrize("code", sorted(set(StewardErrorCode) - WITHOUT_SUGGESTION))
def test_every_refusal_says_what_to_do(code: StewardErrorCode) -> None:
    assert StewardError(code, "refused").suggestion


def test_a_missing_reason_names_the_field_and_its_code() -> None:
    with pytest.raises(StewardError) as refused:
        plan_action(Action("link", "ann", " ", keys=("email:a@x.org", "email:b@x.org")),
                    Snapshot(), Rules.default(), "2024-01-01T00:00:00Z")
    error = refused.value
    assert (error.code, error.field) == (StewardErrorCode.REASON_REQUIRED, "reason")
    assert error.code == "REASON_REQUIRED"  # what API clients have always matched on


def test_a_refusal_names_the_customer_it_could_not_find() -> None:
    error = StewardError(StewardErrorCode.UNKNOWN_CUSTOMER, "no customer c9", customer_id="c9")
    assert (error.customer_id, error.field) == ("c9", "")
