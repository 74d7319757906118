"""What-if on every store: a rules change previewed writes nothing, and applying it gives
exactly the customers the preview announced; its undo gives the customers back."""

from __future__ import annotations

import pytest

from app.domain.plan import Gather, Plan, ReviewItem
from app.domain.rules import DEFAULT_RULES_TOML, RulesError
from app.domain.rules_change import diff
from app.domain.steward import Action
from app.services import whatif
from app.services.whatif import RulesService, preview_action
from tests.helpers import event
from tests.histories import at, export, services_of

CALL_CENTRE = "phone:+31201234567"


def people_sharing(value: str, n: int) -> list:
    """`n` people, each with an e-mail address and a cookie, who all used `value`."""
    events = []
    for i in range(n):
        events.append(event(f"p{i}", f"2024-01-0{i + 1}T00:00:00Z", f"email:p{i}@x.com",
                            f"cookie:c{i}"))
        events.append(event(f"s{i}", f"2024-02-0{i + 1}T00:00:00Z", f"email:p{i}@x.com",
                            value, source="callcenter"))
    return events


TABLET = [
    event("a1", "2024-01-01T00:00:00Z", "crm_id:A", "email:a@x.com", source="crm"),
    event("b1", "2024-01-02T00:00:00Z", "crm_id:B", "email:b@x.com", source="crm"),
    event("a2", "2024-01-03T00:00:00Z", "device_id:tab", "email:a@x.com", source="web"),
    event("b2", "2024-01-04T00:00:00Z", "device_id:tab", "email:b@x.com", source="app"),
]


def rules(extra: str) -> str:
    """The default rules with `extra` appended to the table it names (TOML allows a
    table's keys only once, so the default's table is replaced)."""
    text = DEFAULT_RULES_TOML
    for line in extra.strip().splitlines():
        if line.startswith("["):
            header = line
            continue
        name = line.split("=")[0].strip()
        start = text.index(header + "\n")
        end = text.find("\n[", start + 1)
        end = len(text) if end == -1 else end
        table = text[start:end]
        kept = "\n".join(t for t in table.splitlines() if t.split("=")[0].strip() != name)
        text = text[:start] + kept + "\n" + line + text[end:]
    return text


CHANGES = {
    "a blocked value splits": (
        people_sharing(CALL_CENTRE, 3),
        rules('[blocked]\nphone = ["+*0000000", "+31201234567"]')),
    "a looser limit merges": (TABLET, rules("[limits]\ncrm_id = 2")),
    "a tighter limit splits": (
        [event("e1", "2024-01-01T00:00:00Z", "email:a@x.com", "cookie:k"),
         event("e2", "2024-01-02T00:00:00Z", "email:b@x.com", "cookie:k"),
         event("e3", "2024-01-03T00:00:00Z", "email:c@x.com", "cookie:k")],
        rules("[limits]\nemail = 1")),
    "a priority moves an identifier": (TABLET, rules("[priority.sources]\nweb = 45")),
    "a lower hub limit quarantines": (
        people_sharing("device_id:kiosk", 4) + TABLET,
        rules("[hubs.max_links_by_type]\ndevice_id = 3")),
    "a higher hub limit releases": (
        people_sharing("device_id:kiosk", 4) + people_sharing("device_id:till", 5),
        rules("[hubs]\nmax_links = 4")),  # after a limit of 3 (STRICTER) made both hubs
    "a value no longer blocked joins": (
        people_sharing("phone:+31600000000", 3) + TABLET,
        rules('[blocked]\nphone = ["+*1111111"]')),
}


STRICTER = {"a higher hub limit releases": rules("[hubs]\nmax_links = 3")}
# segments whose members a regrouping changes: by counts of events, and by identifiers
SEGMENTS = {"regulars": "count(page_view) >= 2",
            "two_addresses": "count(page_view where source = \"web\") >= 3"}


async def owners_of(store) -> dict[str, str | None]:
    owners, _ = await store.membership()
    return owners


def held(customers: dict[str, list[str]]) -> dict[str, list[str]]:
    return {c: keys for c, keys in customers.items() if keys}


@pytest.mark.parametrize("part", [1_000, 1])
@pytest.mark.parametrize("name", sorted(CHANGES))
async def test_preview_equals_apply_and_undo_gives_the_customers_back(store, name, part,
                                                                       monkeypatch):
    # part 1: every region in a transaction of its own
    monkeypatch.setattr(whatif, "PART_CUSTOMERS", part)
    events, text = CHANGES[name]
    services = services_of(store)
    for name_, text_ in SEGMENTS.items():
        await services.segments.define(name_, text_)
    service = RulesService(services)
    if name in STRICTER:
        await service.apply(STRICTER[name], "start strict", "steward@example.com")
    await services.ingest.ingest(events)
    before, exported = await owners_of(store), await export(store)
    states = await store.segment_states(list(exported))

    preview = await service.preview(text)
    assert await export(store) == exported, "a preview wrote"
    assert await owners_of(store) == before
    assert await store.segment_states(list(exported)) == states
    assert preview.diff.customers, f"{name}: the change should change a customer"

    applied = await service.apply(text, "try the new rules", "steward@example.com")
    after = await owners_of(store)
    observed = diff(before, after)
    assert observed.counts() == preview.diff.counts()
    assert [c.as_json() | {"rules": []} for c in observed.customers] == \
        [c.as_json() | {"rules": []} for c in preview.diff.customers]
    assert preview.customers_after == len(held(await export(store)))
    assert applied.as_json() | {"applied": False, "audit_seq": None} == preview.as_json()
    assert all(c.rules for c in preview.diff.customers), "every change names its rule"

    await services.steward.undo(applied.audit_seq, "steward@example.com", "back")
    assert held(await export(store)).values().__len__() == len(held(exported))
    assert sorted(held(await export(store)).values()) == sorted(held(exported).values())


async def test_a_preview_counts_only_what_the_change_touches(store):
    services = services_of(store)
    await services.ingest.ingest(people_sharing(CALL_CENTRE, 3) + TABLET)
    preview = await RulesService(services).preview(
        rules('[blocked]\nphone = ["+*0000000", "+31201234567"]'))
    assert preview.reevaluated == 1  # the call centre's customer, not the tablet's two
    assert preview.customers_before == 3
    assert preview.customers_after == 5
    assert preview.diff.splits == 2


async def test_the_same_rules_change_nothing(store):
    services = services_of(store)
    await services.ingest.ingest(TABLET)
    preview = await RulesService(services).preview(DEFAULT_RULES_TOML)
    assert (preview.reevaluated, preview.diff.customers, preview.settings) == (0, [], [])


async def test_a_change_of_what_brings_an_erased_identifier_back_re_decides_nothing(store):
    services = services_of(store)
    await services.ingest.ingest(TABLET)
    exported = await export(store)
    preview = await RulesService(services).apply(
        rules('[consent.returns]\nemail = ["newsletter*"]'), "only newsletters", "steward")
    assert (preview.reevaluated, preview.diff.customers) == (0, [])
    assert preview.settings == ["consent.returns.email ['email*', 'newsletter*', "
                                "'marketing'] -> ['newsletter*']"]
    assert await export(store) == exported
    assert services.ingest.rules.returning_purposes("email") == ("newsletter*",)


@pytest.mark.parametrize(("text", "named"), [
    ("[hubs]\nmax_link = 3", "hubs.max_link"),
    ('[consent.returns]\nemail = "email*"', "consent.returns.email"),
    ("[limits]\nEmail = 2", "limits.Email"),
    ("[limits]\ncrm_id = 0", "limits.crm_id"),
    ("[priority]\ntype = {}", "priority.type"),
    ("[blocked]\nemail = \"x\"", "blocked.email"),
    ("[colours]\nred = 1", "colours"),
    ("[limits]\ncrm_id = 2 2", "line 2, column"),
])
async def test_bad_rules_are_refused_naming_the_setting_and_nothing_is_written(
        store, text, named):
    services = services_of(store)
    await services.ingest.ingest(TABLET)
    exported = await export(store)
    service = RulesService(services)
    for attempt in (lambda: service.preview(text),
                    lambda: service.apply(text, "why", "steward")):
        with pytest.raises(RulesError, match=named.replace(".", r"\.")):
            await attempt()
    assert await export(store) == exported
    assert await services.steward.audit_log(10, None) == []


# -- steward actions ----------------------------------------------------------------------
STEWARD = [
    event("w1", "2024-01-01T00:00:00Z", "email:anna@x.com", "cookie:ca"),
    event("w2", "2024-01-02T00:00:00Z", "cookie:ca", "email:bert@x.com"),
    event("w3", "2024-01-03T00:00:00Z", "email:bert@x.com", "phone:+31612345678"),
    event("w4", "2024-01-04T00:00:00Z", "email:carla@x.com", "cookie:cc"),
    event("w5", "2024-01-05T00:00:00Z", "email:carla@x.com", "cookie:cc"),
]


async def review_of(store, a: str, b: str) -> int:
    def propose(_snapshot):
        plan = Plan()
        plan.reviews = [ReviewItem(a, b, 3.2, {"last_name": 2.0}, "t")]
        return plan

    await store.transact(Gather(), propose)
    [item] = await store.reviews(10, None)
    return item.id


ACTIONS = {
    "link": lambda ids, review: Action("link", "sam", "same", ("email:anna@x.com",
                                                                "email:carla@x.com")),
    "unlink": lambda ids, review: Action("unlink", "sam", "shared", ("cookie:ca",
                                                                    "email:bert@x.com")),
    "merge": lambda ids, review: Action("merge", "sam", "same",
                                        customers=(ids["email:anna@x.com"],
                                                   ids["email:carla@x.com"])),
    "split": lambda ids, review: Action("split", "sam", "two", ("email:bert@x.com",
                                                               "phone:+31612345678")),
    "quarantine": lambda ids, review: Action("quarantine", "sam", "shared", ("cookie:ca",)),
    "accept a review": lambda ids, review: Action(
        "review", "sam", "same", ("email:anna@x.com", "email:carla@x.com"),
        data={"review_id": review, "accept": True}),
}


@pytest.mark.parametrize("kind", sorted(ACTIONS))
async def test_an_action_previewed_is_what_it_does(store, kind):
    services = services_of(store)
    # a part a steward splits off is named after the action's moment: the same one here
    services.steward.clock = lambda: at("2024-06-01T00:00:00Z")
    for name_, text_ in SEGMENTS.items():
        await services.segments.define(name_, text_)
    await services.ingest.ingest(STEWARD)
    review = await review_of(store, "email:anna@x.com", "email:carla@x.com")
    before, exported = await owners_of(store), await export(store)
    action = ACTIONS[kind]({k: c for k, c in before.items() if c}, review)

    preview = await preview_action(services, action)
    assert await export(store) == exported, "a preview wrote"
    assert preview.diff.customers

    done = await services.steward.act(action)
    observed = diff(before, await owners_of(store))
    assert observed.counts() == preview.diff.counts()
    assert [c.as_json() | {"rules": []} for c in observed.customers] == \
        [c.as_json() | {"rules": []} for c in preview.diff.customers]
    assert preview.customers_after == (await store.stats()).customers
    entries = sum(1 for c in done.segment_changes if c.kind == "segment_entered")
    assert (preview.segment_entries, preview.segment_exits) == (
        entries, len(done.segment_changes) - entries)
