"""`whyNot` over HTTP, on every store: two customers or two identifiers, the trained model's
pairs with their weights, the merge preview for stewards, masking and typed failures for
everyone else."""

from __future__ import annotations

from tests.contract.test_matching_contract import dataset
from tests.helpers import ingest_trained, raw_event

HOME = {"last_name": "jansen", "street": "damrak", "house_number": "12",
        "postcode": "1012 LG", "city": "amsterdam"}
MOTHER = raw_event("h1", "2024-01-01T01:00:00Z", "crm_ref:m1", "email:anna.jansen@example.com",
                   type_="crm_record", source="crm",
                   traits={**HOME, "first_name": "anna", "birth_date": "1970-03-02"})
FATHER = raw_event("h2", "2024-01-01T01:01:00Z", "crm_ref:f1", "email:piet.jansen@example.com",
                   type_="crm_record", source="crm",
                   traits={**HOME, "first_name": "piet", "birth_date": "1968-11-20"})

WHY_NOT = """query($customers: [ID!], $identifiers: [IdentifierInput!]) {
  whyNot(customers: $customers, identifiers: $identifiers) {
    __typename
    ... on WhyNot {
      a { id } b { id } reasons compared auditScanned
      thresholds { review link merge }
      pairs { a b score probability decision guard basis
              comparisons { comparison level weight } }
      stoppedLinks { a b status reason }
      conflicts { type limit count message }
      decisions { action target }
      merge { __typename ... on GraphDiff { merges customersBefore customersAfter } }
    }
    ... on CustomerNotFound { code customerId }
    ... on IdentifierNotFound { code message }
  }
}"""

MOTHER_AND_FATHER = [{"type": "email", "value": "Anna.Jansen@example.com"},
                     {"type": "email", "value": "piet.jansen@example.com"}]


async def household(api) -> None:
    _, events = dataset()
    events += [MOTHER, FATHER]
    services = api.services
    await ingest_trained(services, events)


async def test_a_steward_sees_the_guarded_pair_its_weights_and_what_a_merge_would_do(api):
    await household(api)
    data = (await api.run("steward", WHY_NOT, identifiers=MOTHER_AND_FATHER))["whyNot"]
    assert data["__typename"] == "WhyNot"
    assert data["reasons"] == ["GUARD"]
    [pair] = data["pairs"]
    assert (pair["a"], pair["b"], pair["guard"]) == (
        "email:anna.jansen@example.com", "email:piet.jansen@example.com", "HOUSEHOLD")
    weights = {c["comparison"]: c["weight"] for c in pair["comparisons"]}
    assert weights["first_name"] < 0
    assert 0 < data["thresholds"]["review"] <= data["thresholds"]["link"]
    assert data["decisions"] == []
    assert data["merge"]["__typename"] == "GraphDiff" and data["merge"]["merges"] == 1
    by_ids = (await api.run("steward", WHY_NOT, customers=[data["a"]["id"], data["b"]["id"]])
              )["whyNot"]
    assert by_ids["pairs"] == data["pairs"]


async def test_a_reader_sees_contacts_masked_no_audit_and_no_merge_preview(api):
    await household(api)
    data = (await api.run("reader", WHY_NOT, identifiers=MOTHER_AND_FATHER))["whyNot"]
    [pair] = data["pairs"]
    assert (pair["a"], pair["b"]) == ("email:a***@example.com", "email:p***@example.com")
    assert data["decisions"] is None
    assert data["merge"]["__typename"] == "Forbidden"


async def test_unknown_sides_are_typed_results_and_bad_arguments_coded_errors(api):
    await household(api)
    data = (await api.run("steward", WHY_NOT, customers=["nobody", "nobody-else"]))["whyNot"]
    assert data == {"__typename": "CustomerNotFound", "code": "UNKNOWN_CUSTOMER",
                    "customerId": "nobody"}
    data = (await api.run("steward", WHY_NOT, identifiers=[
        MOTHER_AND_FATHER[0], {"type": "email", "value": "nobody@example.com"}]))["whyNot"]
    assert data["__typename"] == "IdentifierNotFound"
    assert data["message"].startswith("identifiers[1]")
    for variables, field in (({"customers": ["a"]}, "customers"),
                             ({"customers": ["a", "b"], "identifiers": MOTHER_AND_FATHER},
                              "customers"),
                             ({"identifiers": [MOTHER_AND_FATHER[0],
                                               {"type": "email", "value": "no"}]},
                              "identifiers[1]")):
        failed = await api.fails("steward", WHY_NOT, **variables)
        assert failed.errors[0]["extensions"]["code"] == "BAD_USER_INPUT"
        assert failed.errors[0]["message"].startswith(field + ":")
