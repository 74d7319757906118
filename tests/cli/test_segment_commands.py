"""The demo, segments, train and campaigns commands on the embedded store."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from app.cli import main
from app.demo import DEMO_SEGMENTS


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('demo')}/demo.db"
    done = CliRunner().invoke(main, ["demo", "--store", url, "--people", "40"])
    assert done.exit_code == 0, done.output
    assert "next-best-action model: held-out split" in done.output
    return url


def idgraph(*args: str):
    return CliRunner().invoke(main, list(args))


def test_the_demo_defines_its_segments_and_keeps_them_while_loading(demo_db):
    listed = idgraph("segments", "list", "--store", demo_db)
    rows = [line.split("\t") for line in listed.stdout.splitlines()]
    assert {r[0] for r in rows} == set(DEMO_SEGMENTS)
    sizes = {r[0]: int(r[1]) for r in rows}
    assert sizes["repeat_buyers"] > 0 and sizes["app_users"] > 0
    members = idgraph("segments", "members", "repeat_buyers", "--store", demo_db, "--first", "3")
    first = json.loads(members.stdout.splitlines()[0])
    assert first["why"][0].startswith("count(purchase) >= 2 (value: ")


def test_define_refresh_and_delete(demo_db):
    done = idgraph("segments", "define", "callers", "count(call) >= 1", "--store", demo_db)
    assert done.exit_code == 0 and "segment callers defined:" in done.output
    refused = idgraph("segments", "define", "broken", "count(call >= 1", "--store", demo_db)
    assert refused.exit_code == 1 and "line 1, column 12" in refused.output
    refreshed = idgraph("segments", "refresh", "--store", demo_db)
    assert refreshed.exit_code == 0 and "refreshed in" in refreshed.output
    deleted = idgraph("segments", "delete", "callers", "--store", demo_db)
    assert deleted.exit_code == 0 and "segment callers deleted" in deleted.output
    in_use = idgraph("segments", "delete", "repeat_buyers", "--store", demo_db)
    assert in_use.exit_code == 1 and "read by lapsed_repeat_buyers" in in_use.output


def test_train_and_campaigns(demo_db):
    trained = idgraph("train", "--store", demo_db, "--now", "2024-03-31T00:00:00Z")
    assert trained.exit_code == 0 and "propensity AUC" in trained.stdout
    report = idgraph("campaigns", "--store", demo_db, "--since", "2024-03-01T00:00:00Z",
                     "--until", "2024-04-01T00:00:00Z", "--funnel", "page_view,purchase")
    assert report.exit_code == 0, report.output
    found = json.loads(report.stdout)
    assert found["conversions"] > 0
    sources = found["credits"]["markov"]["source"]
    credited = sum(c["conversions"] for c in sources)
    # every credit is printed rounded to 4 decimals: the total shares out up to that
    assert abs(credited - found["conversions"]) <= 0.00005 * len(sources) + 1e-9
    assert [s["step"] for s in found["funnel"]] == ["page_view", "purchase"]
    bad = idgraph("campaigns", "--store", demo_db, "--since", "soon", "--until", "later")
    assert bad.exit_code == 2 and "since: 'soon'" in bad.output
    far = idgraph("campaigns", "--store", demo_db, "--since", "0001-01-01T00:00:00Z",
                  "--until", "2024-04-01T00:00:00Z")
    assert far.exit_code == 2 and "since: 0001-01-01T00:00:00+00:00 is outside" in far.output
