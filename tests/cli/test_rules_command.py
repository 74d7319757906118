"""`idgraph rules preview|apply`, on the embedded store: a preview writes nothing and
says what apply then does; the applied rules are the store's from then on."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from click.testing import CliRunner

from app.bootstrap import build_services, start
from app.cli import main
from app.config import Settings
from app.domain.rules import DEFAULT_RULES_TOML
from app.stores import open_store
from tests.helpers import event

EVENTS = [
    event("e1", "2024-03-01T10:00:00Z", "email:anna@x.com", "phone:+31201234567"),
    event("e2", "2024-03-02T10:00:00Z", "email:bert@x.com", "phone:+31201234567"),
    event("e3", "2024-03-03T10:00:00Z", "email:carla@x.com", "cookie:c9"),
]
BLOCKING = DEFAULT_RULES_TOML.replace('phone = ["+*0000000"', 'phone = ["+31201234567", '
                                      '"+*0000000"', 1)


async def loaded(url: str) -> None:
    store = open_store(url)
    await store.migrate()
    try:
        await build_services(Settings(store=url), store).ingest.ingest(EVENTS)
    finally:
        await store.close()


def export(url: str, tmp_path: Path) -> str:
    out = tmp_path / "export.jsonl"
    result = CliRunner().invoke(main, ["export", "--store", url, "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out.read_text()


def test_preview_writes_nothing_and_apply_does_what_it_said(tmp_path):
    url = f"sqlite:///{tmp_path}/s.db"
    asyncio.run(loaded(url))
    rules = tmp_path / "new.toml"
    rules.write_text(BLOCKING)
    before = export(url, tmp_path)
    runner = CliRunner()
    diff = tmp_path / "diff.jsonl"
    result = runner.invoke(main, ["rules", "preview", "--store", url, "--rules", str(rules),
                                  "--json", "--out", str(diff)])
    assert result.exit_code == 0, result.output
    preview = json.loads(result.output)
    assert (preview["customers_before"], preview["customers_after"], preview["splits"],
            preview["customers_reevaluated"]) == (2, 3, 1, 1)
    lines = [json.loads(line) for line in diff.read_text().splitlines()]
    assert any("phone:+31201234567" in c["lost"] and c["rules"] for c in lines)
    assert export(url, tmp_path) == before

    result = runner.invoke(main, ["rules", "apply", "--store", url, "--rules", str(rules),
                                  "--reason", "a call centre's number", "--json"])
    assert result.exit_code == 0, result.output
    applied = json.loads(result.output)
    assert applied | {"applied": False, "audit_seq": None} == preview
    assert len(export(url, tmp_path).splitlines()) == 3

    async def rules_in_effect() -> str:
        services = await start(Settings(store=url))
        try:
            return str(services.ingest.rules.blocked)
        finally:
            await services.close()

    assert "+31201234567" in asyncio.run(rules_in_effect())


def test_a_bad_rules_file_is_refused_with_its_place(tmp_path):
    url = f"sqlite:///{tmp_path}/s.db"
    asyncio.run(loaded(url))
    rules = tmp_path / "bad.toml"
    rules.write_text("[limits]\ncrm_id = 2 2\n")
    for command in (["preview"], ["apply", "--reason", "why"]):
        result = CliRunner().invoke(main, ["rules", *command, "--store", url, "--rules",
                                           str(rules)])
        assert result.exit_code == 2
        assert "bad.toml" in result.output and "line 2, column" in result.output
    rules.write_text("[hubs]\nmax_link = 3\n")
    result = CliRunner().invoke(main, ["rules", "preview", "--store", url, "--rules",
                                       str(rules)])
    assert result.exit_code == 2 and "hubs.max_link: unknown setting" in result.output
