"""`previewRules` over HTTP, on every store: the diff a rules change would make, for admins
only, with bad rules named; nothing is written."""

from __future__ import annotations

from app.domain.rules import DEFAULT_RULES_TOML
from tests.api.data import seed
from tests.histories import export

PREVIEW = """query($rules: String!) {
  previewRules(rules: $rules) {
    __typename
    ... on GraphDiff {
      settingsChanged customersBefore customersAfter merges splits identifiersMoved
      customersReevaluated segmentEntries
      customers { customerId change gained lost fromCustomers toCustomers rules }
    }
    ... on InvalidRules { code message setting line column }
    ... on Forbidden { code requiredRole }
  }
}"""


async def test_preview_rules_gives_the_diff_and_writes_nothing(api):
    await seed(api.services)
    exported = await export(api.services.store)
    owners, _ = await api.services.store.membership()
    [phone] = [k for k in owners if k.startswith("phone:") and owners[k]][:1]
    rules = DEFAULT_RULES_TOML.replace(
        'phone = ["+*0000000"', f'phone = ["{phone.partition(":")[2]}", "+*0000000"', 1)
    data = (await api.run("admin", PREVIEW, rules=rules))["previewRules"]
    assert data["__typename"] == "GraphDiff"
    assert data["settingsChanged"] == ["blocked"]
    assert data["customersReevaluated"] >= 1
    assert data["segmentEntries"] >= 0
    [change] = [c for c in data["customers"] if phone in c["lost"]]
    assert change["customerId"] == owners[phone]
    assert any(phone in r for r in change["rules"])
    assert await export(api.services.store) == exported


async def test_preview_rules_is_for_admins(api):
    data = (await api.run("steward", PREVIEW, rules=DEFAULT_RULES_TOML))["previewRules"]
    assert data == {"__typename": "Forbidden", "code": "FORBIDDEN", "requiredRole": "ADMIN"}


async def test_bad_rules_name_the_setting_or_the_place(api):
    data = (await api.run("admin", PREVIEW, rules="[hubs]\nmax_link = 3"))["previewRules"]
    assert (data["__typename"], data["setting"]) == ("InvalidRules", "hubs.max_link")
    data = (await api.run("admin", PREVIEW, rules="[limits]\ncrm_id = 2 2"))["previewRules"]
    assert (data["setting"], data["line"], data["column"]) == ("", 2, 12)


ACTION = """query($action: ActionInput!) {
  previewAction(action: $action) {
    __typename
    ... on GraphDiff { customersBefore customersAfter merges splits identifiersMoved
                       customers { customerId change gained lost rules } }
    ... on InvalidInput { field message }
    ... on IdentifierNotFound { code }
    ... on Forbidden { code }
  }
}"""


async def test_preview_action_says_what_a_split_would_do_and_writes_nothing(api):
    await seed(api.services)
    exported = await export(api.services.store)
    owners, _ = await api.services.store.membership()
    cid = next(c for c in owners.values() if c and sum(
        1 for o in owners.values() if o == c) >= 2)
    key = sorted(k for k, c in owners.items() if c == cid)[0]
    type_, _, value = key.partition(":")
    action = {"kind": "SPLIT", "identifiers": [{"type": type_, "value": value}],
              "reason": "someone else"}
    data = (await api.run("steward", ACTION, action=action))["previewAction"]
    assert data["__typename"] == "GraphDiff"
    assert (data["splits"], data["customersAfter"] - data["customersBefore"]) == (1, 1)
    [parent] = [c for c in data["customers"] if c["customerId"] == cid]
    assert parent["lost"] == [key] and parent["rules"] == [
        "split by " + parent["rules"][0].split("by ", 1)[1]]
    assert await export(api.services.store) == exported
    assert (await api.run("reader", ACTION, action=action))["previewAction"]["__typename"] \
        == "Forbidden"


async def test_preview_action_names_what_is_wrong(api):
    await seed(api.services)
    one = [{"type": "email", "value": "nobody@example.com"}]
    data = (await api.run("steward", ACTION, action={"kind": "LINK", "identifiers": one})
            )["previewAction"]
    assert data == {"__typename": "InvalidInput", "field": "identifiers",
                    "message": "identifiers: link takes 2, not 1"}
    data = (await api.run("steward", ACTION, action={"kind": "QUARANTINE",
                                                     "identifiers": one}))["previewAction"]
    assert data == {"__typename": "IdentifierNotFound", "code": "UNKNOWN_IDENTIFIER"}


SEGMENT_CHANGES = """query($action: ActionInput!) {
  previewAction(action: $action) {
    ... on GraphDiff { segmentEntries segmentExits
                       segmentChanges { customerId segmentId change why } }
  }
}"""


async def test_preview_action_names_each_segment_entry_and_exit_that_applying_makes(api):
    ids = await seed(api.services)
    defined = await api.run("admin", 'mutation { defineSegment(id: "buyers", definition: '
                            '"count(purchase) >= 1") { __typename } }')
    assert defined == {"defineSegment": {"__typename": "SegmentDefined"}}
    # the purchase carries only the CRM id: splitting it off takes the purchase along
    action = {"kind": "SPLIT", "identifiers": [{"type": "crm_id", "value": "C-1"}]}
    data = (await api.run("steward", SEGMENT_CHANGES, action=action))["previewAction"]
    changes = {(c["customerId"] == ids["anna"], c["segmentId"], c["change"])
               for c in data["segmentChanges"]}
    assert changes == {(True, "buyers", "LEFT"), (False, "buyers", "ENTERED")}
    assert (data["segmentEntries"], data["segmentExits"]) == (1, 1)
    before = await api.run("steward", HISTORY, id=ids["anna"])
    assert before["customer"]["segments"] == [{"segmentId": "buyers"}]

    await api.run("steward", """mutation { splitCustomer(identifiers: [{type: "crm_id",
        value: "C-1"}], reason: "a colleague's purchase") { __typename } }""")
    after = await api.run("steward", HISTORY, id=ids["anna"])
    assert after["customer"]["segments"] == []
    assert {(e["segmentId"], e["change"]) for e in after["customer"]["segmentHistory"]} \
        >= {("buyers", "LEFT")}


HISTORY = """query($id: ID!) { customer(id: $id) {
  segments { segmentId } segmentHistory { segmentId change } } }"""
