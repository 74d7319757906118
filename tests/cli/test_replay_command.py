"""`idgraph export --as-of` and `idgraph replay`, on the embedded store."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from click.testing import CliRunner

from app.bootstrap import build_services
from app.config import Settings
from app.domain.steward import Action
from app.stores import open_store
from app.stores.keys import load_key_file
from tests.helpers import event
from tests.histories import at

EVENTS = [
    event("e1", "2024-03-01T10:00:00Z", "email:anna@x.com", "cookie:c1"),
    event("e2", "2024-03-02T10:00:00Z", "cookie:c1", "email:bert@x.com"),
    event("e3", "2024-03-03T10:00:00Z", "email:carla@x.com", "cookie:c9"),
]


async def a_store(url: str, *, forget: str | None = None) -> dict[str, str]:
    """EVENTS, Bert split off Anna on the 4th, and (`forget`) that identifier's customer
    erased on the 5th. The customer ids by e-mail address."""
    store = open_store(url)
    await store.migrate()
    try:
        services = build_services(Settings(store=url), store)
        await services.ingest.ingest(EVENTS)
        services.steward.clock = lambda: at("2024-03-04T00:00:00Z")
        await services.steward.act(Action("split", "sam", "two people", ("email:bert@x.com",)))
        if forget:
            owner = (await store.owners([forget]))[forget]
            services.privacy.clock = lambda: at("2024-03-05T00:00:00Z")
            await services.privacy.forget(owner, "ann", "on request")
        owners = await store.owners(["email:anna@x.com", "email:bert@x.com",
                                     "email:carla@x.com"])
        return {k.partition(":")[2].partition("@")[0]: c for k, c in owners.items()}
    finally:
        await store.close()


def exported(path: Path) -> dict[str, list[str]]:
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    return {r["customer_id"]: sorted(f"{i['type']}:{i['value']}" for i in r["identifiers"])
            for r in rows}


def test_export_as_of_writes_the_customers_as_they_were(tmp_path):
    url = f"sqlite:///{tmp_path}/live.db"
    ids = asyncio.run(a_store(url))
    out = tmp_path / "then.jsonl"
    done = CliRunner().invoke(main(), ["export", "--store", url, "--as-of",
                                       "2024-03-03T00:00:00+01:00", "--out", str(out)])
    assert done.exit_code == 0, done.output
    assert "exported 1 customers as of 2024-03-02T23:00:00.000000Z" in done.output
    assert exported(out) == {ids["anna"]: ["cookie:c1", "email:anna@x.com",
                                           "email:bert@x.com"]}
    later = CliRunner().invoke(main(), ["export", "--store", url, "--as-of",
                                        "2024-03-04T00:00:00Z", "--out", str(out)])
    assert later.exit_code == 0, later.output
    assert set(exported(out)) == {ids["anna"], ids["bert"], ids["carla"]}


def test_export_as_of_a_time_without_an_offset_is_refused(tmp_path):
    done = CliRunner().invoke(main(), ["export", "--store", f"sqlite:///{tmp_path}/x.db",
                                       "--as-of", "2024-03-03"])
    assert done.exit_code == 2
    assert "Invalid value for --as-of: 2024-03-03 has no offset; give one" in done.output


def test_replay_rebuilds_the_same_customers_and_carries_the_suppressions(tmp_path):
    source = f"sqlite:///{tmp_path}/old.db"
    asyncio.run(a_store(source, forget="email:carla@x.com"))
    target = f"sqlite:///{tmp_path}/new.db"
    done = CliRunner().invoke(main(), ["replay", "--from", source, "--to", target])
    assert done.exit_code == 0, done.output
    assert "the rebuilt store exports the same 2 customers with the same ids" in done.output
    assert "#2 forget" in done.output  # an erasure is not carried out again, and says why
    # the new store's key is the old one's, so its suppression list recognises Carla
    assert load_key_file(Path(f"{tmp_path}/new.db.suppression-key")).fingerprint == \
        load_key_file(Path(f"{tmp_path}/old.db.suppression-key")).fingerprint
    again = CliRunner().invoke(main(), ["replay", "--from", source, "--to", target])
    assert again.exit_code == 2
    assert "already holds 2 events and 2 customers; replay into an empty store" in again.output


def test_replay_refuses_a_target_whose_key_is_another(tmp_path):
    source = f"sqlite:///{tmp_path}/old.db"
    asyncio.run(a_store(source, forget="email:carla@x.com"))
    asyncio.run(open_store(f"sqlite:///{tmp_path}/new.db").close())  # made with its own key
    done = CliRunner().invoke(main(), ["replay", "--from", source, "--to",
                                       f"sqlite:///{tmp_path}/new.db"])
    assert done.exit_code == 2
    assert "new.db.suppression-key holds suppression key" in done.output
    assert "cannot go over with another key" in done.output


def test_replay_from_files_leaves_the_erased_out_and_says_where_it_differs(tmp_path):
    source = f"sqlite:///{tmp_path}/old.db"
    asyncio.run(a_store(source, forget="email:bert@x.com"))
    files = tmp_path / "events.jsonl"
    files.write_text("".join(json.dumps(e.to_json()) + "\n" for e in EVENTS))
    rejects = tmp_path / "left-out.jsonl"
    done = CliRunner().invoke(main(), ["replay", "--from", str(files), "--actions-from", source,
                                       "--to", f"sqlite:///{tmp_path}/new.db",
                                       "--rejects", str(rejects)])
    # Bert's erasure deleted e2 (his and Anna's cookie's): the replay leaves it out of the
    # files as well, and Anna's cookie still has e1: the same customers come back.
    assert done.exit_code == 0, done.output
    [left_out] = [json.loads(line) for line in rejects.read_text().splitlines()]
    assert left_out["event_id"] == "e2" and "bert" not in json.dumps(left_out)
    assert "erased on request after this event" in left_out["reason"]


def test_replay_says_so_when_an_erasure_took_what_a_customer_was_built_from(tmp_path):
    source = f"sqlite:///{tmp_path}/old.db"

    async def shared() -> None:
        store = open_store(source)
        await store.migrate()
        services = build_services(Settings(store=source), store)
        await services.ingest.ingest([event("e1", "2024-03-01T10:00:00Z", "cookie:k",
                                            "email:b@x.com")])
        services.steward.clock = lambda: at("2024-03-02T00:00:00Z")
        await services.steward.act(Action("split", "sam", "two people", ("email:b@x.com",)))
        services.privacy.clock = lambda: at("2024-03-03T00:00:00Z")
        owner = (await store.owners(["email:b@x.com"]))["email:b@x.com"]
        await services.privacy.forget(owner, "ann", "on request")
        await store.close()

    asyncio.run(shared())
    done = CliRunner().invoke(main(), ["replay", "--from", source, "--to",
                                       f"sqlite:///{tmp_path}/new.db"])
    # the cookie's only event was shared with the erased person: no replay can hold it
    assert done.exit_code == 1
    assert "the rebuilt store differs: 0 customers the same" in done.output
    assert "1 only in the source" in done.output


def main():
    from app.cli import main as idgraph

    return idgraph
