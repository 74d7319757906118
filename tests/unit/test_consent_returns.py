"""Which consent brings an erased identifier back: a grant of a purpose about its channel,
as the rules' `[consent.returns]` say (docs/privacy.md)."""

from __future__ import annotations

import pytest

from app.domain.plan import Plan, Snapshot
from app.domain.privacy import SUPPRESSED, brings_back
from app.domain.resolution.batch import drop_suppressed
from app.domain.rules import CONSENT_RETURNS, DEFAULT_RULES_TOML, Rules
from app.domain.rules_change import rule_delta
from tests.helpers import event

ERASED_AT = "2024-01-15T00:00:00.000000Z"
LATER = "2024-02-01T00:00:00.000000Z"
DEFAULTS = Rules.default()


@pytest.mark.parametrize(("type_", "consent", "back"), [
    ("email", {"email_marketing": True}, True),
    ("email", {"Newsletter_weekly": True}, True),  # patterns ignore case
    ("email", {"marketing": True}, True),
    ("email", {"cookie_analytics": True}, False),  # not about e-mail
    ("email", {"sms_marketing": True}, False),
    ("email", {"email_marketing": False, "cookie_analytics": True}, False),  # a refusal
    ("phone", {"sms_offers": True}, True),
    ("phone", {"WhatsApp": True}, True),
    ("phone", {"email_marketing": True}, False),
    ("cookie", {"cookie_analytics": True}, True),  # "*": any explicit grant
    ("crm_id", {"email_marketing": True}, True),
    ("cookie", {"cookie_analytics": False}, False),
    ("cookie", {}, False),
])
def test_only_a_grant_about_the_identifiers_channel_brings_it_back(type_, consent, back):
    assert brings_back(consent, LATER, ERASED_AT, DEFAULTS.returning_purposes(type_)) is back


def test_no_grant_given_before_the_erasure_brings_anything_back():
    assert not brings_back({"email_marketing": True}, "2024-01-01T00:00:00.000000Z",
                           ERASED_AT, DEFAULTS.returning_purposes("email"))


def test_an_erased_email_stays_dropped_after_a_grant_of_another_purpose():
    erased = {"email:anna@x.com": ERASED_AT, "cookie:k1": ERASED_AT}
    analytics = event("w1", LATER, "email:anna@x.com", "cookie:k1", "cookie:k2",
                      consent={"cookie_analytics": True})
    plan = Plan()
    [kept] = drop_suppressed([analytics], Snapshot(suppressed=erased), plan, DEFAULTS)
    assert [i.key for i in kept.identifiers] == ["cookie:k1", "cookie:k2"]
    assert plan.unsuppress == ["cookie:k1"]
    assert plan.dropped == [("w1", "email:[erased]", SUPPRESSED)]  # its type, no value
    marketing = event("w2", LATER, "email:anna@x.com", consent={"email_marketing": True})
    plan = Plan()
    drop_suppressed([marketing], Snapshot(suppressed=erased), plan, DEFAULTS)
    assert (plan.unsuppress, plan.dropped) == (["email:anna@x.com"], [])


def test_the_default_rules_hold_the_default_purposes_and_a_file_can_set_its_own():
    assert DEFAULTS.consent_returns == CONSENT_RETURNS
    assert Rules.from_toml("[limits]\ncrm_id = 1\n").consent_returns == CONSENT_RETURNS
    own = Rules.from_toml('[consent.returns]\nemail = ["newsletter"]\n')
    assert own.returning_purposes("email") == ("newsletter",)
    assert own.returning_purposes("cookie") == ()  # no "*": no consent brings it back
    assert not brings_back({"cookie_analytics": True}, LATER, ERASED_AT,
                           own.returning_purposes("cookie"))


def test_a_change_of_the_purposes_is_listed_as_a_setting_and_re_decides_nothing():
    text = DEFAULT_RULES_TOML.replace('email = ["email*", "newsletter*", "marketing"]',
                                      'email = ["email*"]')
    new = Rules.from_toml(text.replace('phone = ["sms*"', 'sms = ["sms*"'))
    delta = rule_delta(DEFAULTS, new)
    assert delta.settings == [
        "consent.returns.email ['email*', 'newsletter*', 'marketing'] -> ['email*']",
        "consent.returns.phone ['sms*', 'phone*', 'call*', 'whatsapp*', 'marketing'] "
        "-> none",
        "consent.returns.sms none -> ['sms*', 'phone*', 'call*', 'whatsapp*', 'marketing']"]
    assert (delta.blocked, delta.limits, delta.priority, delta.hubs) == (False, {}, [], [])
    assert rule_delta(DEFAULTS, Rules.default()).settings == []
