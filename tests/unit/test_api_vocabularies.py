"""Every GraphQL enum that mirrors a domain vocabulary holds exactly its words: a status,
action, rule or kind added in the domain and not in the schema would fail when a record
carrying it is read."""

from __future__ import annotations

from enum import Enum

import pytest

from app.api import vocabularies as api
from app.domain import plan, rules_change, steward
from app.domain.asof import FORGET
from app.domain.matching.decisions import Basis, Decision, Guard
from app.domain.profile import RULES
from app.domain.traits import KINDS
from app.services.whatif import RULES_ACTION


def values(enum: type[Enum]) -> set[str]:
    return {str(member.value) for member in enum}


@pytest.mark.parametrize("schema_enum, domain_words", [
    (api.IdentifierStatus, values(plan.IdentifierStatus)),
    (api.LinkStatus, values(plan.LinkStatus)),
    (api.AuditAction, values(steward.StewardActionKind) | {FORGET, RULES_ACTION}),
    (api.ReviewStatus, values(plan.ReviewStatus)),
    (api.MatchDecision, values(Decision)),
    (api.MatchGuard, values(Guard)),
    (api.MatchBasis, values(Basis)),
    (api.OutcomeKind, values(rules_change.OutcomeKind)),
    (api.SurvivorshipRule, set(RULES)),
    (api.ComputedTraitKind, set(KINDS)),
], ids=lambda x: x.__name__ if isinstance(x, type) else "")
def test_a_schema_enum_holds_the_domain_vocabulary(schema_enum, domain_words):
    assert values(schema_enum) == domain_words


def test_a_member_is_named_after_its_word():
    for schema_enum in (getattr(api, name) for name in dir(api)):
        if isinstance(schema_enum, type) and issubclass(schema_enum, Enum) \
                and schema_enum.__module__ == api.__name__:
            for member in schema_enum:
                assert member.name == str(member.value).upper(), member
