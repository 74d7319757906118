"""Every refusal of the domain carries its code, suggestion and fields, so that the API and
the CLI read them instead of the message text."""

from __future__ import annotations

from datetime import datetime

import pytest

from app.domain.asof import AsOfError, AsOfErrorCode, moment_of, parse_moment
from app.domain.errors import DomainError
from app.domain.rules import Rules, RulesError, RulesErrorCode
from app.domain.segments import (
    SegmentError,
    SegmentErrorCode,
    Vocabulary,
    define_segment,
    delete_segment,
    parse_segment,
)
from app.domain.segments.evaluate import DefinitionLimits
from app.domain.steward import StewardError, StewardErrorCode


def refusal(error: type[DomainError], call, *args, **kwargs) -> DomainError:
    with pytest.raises(error) as raised:
        call(*args, **kwargs)
    assert raised.value.suggestion or isinstance(raised.value, AsOfError)
    return raised.value


@pytest.mark.parametrize(("toml", "setting"), [
    ("[hubs]\nmax_link = 3", "hubs.max_link"),
    ("[limits]\nEmail = 2", "limits.Email"),
    ("[matching]\nlink = 2", "matching.link"),
    ("[colours]\n", "colours"),
    # what brings an erased identifier back (docs/privacy.md)
    ('[consent.returns]\nemail = "email*"', "consent.returns.email"),
    ("[consent.returns]\nemail = [1]", "consent.returns.email"),
    ('[consent.returns]\nemail = [""]', "consent.returns.email"),
    ('[consent.returns]\nEmail = ["email*"]', "consent.returns.Email"),
    ('[consent.returns]\n"e-mail" = ["email*"]', "consent.returns.e-mail"),
    ("[consent]\nreturn = {}", "consent.return"),
    ('[consent]\nreturns = ["email*"]', "consent.returns"),
    ("consent = 1", "consent"),
])
def test_a_rules_error_names_its_setting(toml, setting):
    error = refusal(RulesError, Rules.from_toml, toml)
    assert (error.code, error.setting, error.field) == (RulesErrorCode.INVALID_RULES, setting,
                                                        setting)
    assert error.message.startswith(f"{setting}: ") and (error.line, error.column) == (0, 0)


def test_a_rules_syntax_error_has_its_place_and_no_setting():
    error = refusal(RulesError, Rules.from_toml, "[limits]\ncrm_id = 2 2")
    assert (error.setting, error.line, error.column) == ("", 2, 12)
    assert error.message.startswith("not valid TOML")


def test_segment_refusals_carry_their_code():
    vocabulary = Vocabulary()
    catalogue = define_segment({}, "base", "has(email)", vocabulary)
    catalogue = define_segment(catalogue, "reader", "in_segment(base)", vocabulary)
    cases = [
        (define_segment, (catalogue, "base", "has(email", vocabulary), {},
         SegmentErrorCode.SEGMENT_EXISTS),
        (define_segment, (catalogue, "nobody", "has(email)", vocabulary), {"update": True},
         SegmentErrorCode.UNKNOWN_SEGMENT),
        (delete_segment, (catalogue, "nobody"), {}, SegmentErrorCode.UNKNOWN_SEGMENT),
        (delete_segment, (catalogue, "base"), {}, SegmentErrorCode.SEGMENT_IN_USE),
        (define_segment, (catalogue, "new", "has(email", vocabulary), {},
         SegmentErrorCode.INVALID_DEFINITION),
        (define_segment, (catalogue, "new", "has(email) AND has(phone)", vocabulary),
         {"limits": DefinitionLimits(conditions=1, nesting=5)},
         SegmentErrorCode.INVALID_DEFINITION),
    ]
    for call, args, kwargs, code in cases:
        assert refusal(SegmentError, call, *args, **kwargs).code is code, (args, code)


def test_a_segment_error_for_another_segment_keeps_its_code():
    error = SegmentError("no", code=SegmentErrorCode.SEGMENT_IN_USE).for_segment("x")
    assert (error.code, error.segment) == (SegmentErrorCode.SEGMENT_IN_USE, "x")
    with pytest.raises(SegmentError) as raised:
        parse_segment("s", "has(")
    assert raised.value.code is SegmentErrorCode.INVALID_DEFINITION


def test_an_as_of_error_names_its_argument_apart_from_the_reason():
    error = refusal(AsOfError, parse_moment, "1 March", "--as-of")
    assert (error.code, error.field, error.reason) == (
        AsOfErrorCode.NOT_A_TIME, "--as-of", "'1 March' is not a time; give one such as "
        "2024-03-01T00:00:00Z")
    error = refusal(AsOfError, moment_of, datetime(2024, 3, 1), "asOf")
    assert (error.code, error.field) == (AsOfErrorCode.NO_OFFSET, "asOf")


def test_a_steward_error_takes_its_suggestion_and_field_from_its_code():
    error = StewardError(StewardErrorCode.REASON_REQUIRED, "reason: say why")
    assert isinstance(error, DomainError)
    assert (error.field, error.message) == ("reason", "reason: say why")
    assert "audit log" in error.suggestion
