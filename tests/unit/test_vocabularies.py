"""The domain's vocabularies are StrEnums whose values are what the stores hold and the API
and the outbound topic show: a value renamed here would strand stored data."""

from __future__ import annotations

from enum import Enum, StrEnum

import pytest

from app.api.subscription import ChangeKind
from app.api.types import MembershipChangeKind
from app.domain.changes import ChangeEventKind
from app.domain.plan import IdentifierStatus, LinkStatus
from app.domain.segments.membership import Transition
from app.domain.steward import StewardActionKind

STORED = [
    (IdentifierStatus, {"active", "blocked", "quarantined"}),
    (LinkStatus, {"active", "rejected", "removed", "banned"}),
    (Transition, {"entered", "left"}),
    (StewardActionKind, {"link", "unlink", "merge", "split", "relink", "quarantine", "release",
                         "review"}),
    (ChangeEventKind, {"customer_created", "customer_merged", "customer_renamed",
                       "customer_split", "customer_erased", "identifiers_added",
                       "profile_changed", "segment_entered", "segment_left"}),
]


@pytest.mark.parametrize(("vocabulary", "values"), STORED, ids=lambda v: getattr(v, "__name__", ""))
def test_a_vocabulary_keeps_the_values_stored_data_holds(vocabulary: type[StrEnum],
                                                          values: set[str]) -> None:
    assert {member.value for member in vocabulary} == values


@pytest.mark.parametrize(("api", "domain"), [(ChangeKind, ChangeEventKind),
                                             (MembershipChangeKind, Transition)])
def test_the_api_enum_names_every_value_of_the_domain_vocabulary(api: type[Enum],
                                                                 domain: type[StrEnum]) -> None:
    # the API may name more (a fallback for kinds it does not know yet)
    assert {member.value for member in domain} <= {member.value for member in api}


def test_a_member_is_its_value_wherever_a_string_is_expected() -> None:
    assert IdentifierStatus.QUARANTINED == "quarantined"
    assert f"{LinkStatus.BANNED}" == "banned"
    assert {IdentifierStatus.ACTIVE: 1}["active"] == 1
