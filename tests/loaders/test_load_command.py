"""`idgraph load` end to end on the embedded store: CSV with a mapping, Segment messages,
a resumed load, and the errors that stop it before anything loads."""

from __future__ import annotations

import json
import os
import stat
import threading

from click.testing import CliRunner

from app.cli import main

MAPPING = """[event]
type = "crm_record"
source = "crm"
timestamp_column = "Updated"
[identifiers]
email = "E-mail"
crm_id = "CustomerNo"
[traits]
first_name = "First name"
"""
CSV = ("CustomerNo,E-mail,First name,Updated\n"
       "1,ann@x.com,Ann,2024-01-01T00:00:00Z\n"
       "2,bob@x.com,Bob,yesterday\n"
       "3,cee@x.com,Cee,2024-01-03T00:00:00Z\n")


def load(tmp_path, *args: str):
    return CliRunner().invoke(main, ["load", "--store", f"sqlite:///{tmp_path}/t.db",
                                     "--rejects", str(tmp_path / "rejects.jsonl"), *args])


def rejects(tmp_path) -> list[dict]:
    return [json.loads(line) for line in (tmp_path / "rejects.jsonl").read_text().splitlines()]


def test_a_csv_loads_through_its_mapping_and_a_bad_row_is_rejected_by_column(tmp_path):
    (tmp_path / "m.toml").write_text(MAPPING)
    (tmp_path / "c.csv").write_text(CSV)
    done = load(tmp_path, "--mapping", str(tmp_path / "m.toml"), str(tmp_path / "c.csv"))
    assert done.exit_code == 0, done.output
    assert "events stored" in done.output and "│ 2 " in done.output
    [bad] = rejects(tmp_path)
    assert (bad["position"], bad["field"]) == (f"{tmp_path}/c.csv:3", "Updated")


def test_a_resumed_load_skips_what_is_stored_and_appends_to_the_rejects(tmp_path):
    (tmp_path / "m.toml").write_text(MAPPING)
    (tmp_path / "c.csv").write_text(CSV)
    args = ["--mapping", str(tmp_path / "m.toml"), "--checkpoint", str(tmp_path / "ck"),
            str(tmp_path / "c.csv")]
    assert load(tmp_path, *args).exit_code == 0
    again = load(tmp_path, *args)
    assert again.exit_code == 0
    assert "│ 0 " in again.output.split("events stored")[1].splitlines()[0]
    assert len(rejects(tmp_path)) == 1  # kept, not truncated


def test_segment_messages_use_the_user_id_type(tmp_path):
    message = {"type": "track", "event": "Order Completed", "userId": "u-1",
               "anonymousId": "a-1", "messageId": "m-1",
               "timestamp": "2024-01-01T00:00:00Z", "properties": {"total": 10}}
    (tmp_path / "s.jsonl").write_text(json.dumps(message) + "\n")
    done = load(tmp_path, "--format", "segment", "--user-id-type", "crm_id",
                str(tmp_path / "s.jsonl"))
    assert done.exit_code == 0, done.output
    exported = CliRunner().invoke(main, ["export", "--store", f"sqlite:///{tmp_path}/t.db"])
    [customer] = [json.loads(line) for line in exported.stdout.splitlines() if line.strip()]
    assert {"type": "crm_id", "value": "u-1"} in customer["identifiers"]


def test_a_csv_without_mapping_or_a_bad_mapping_stops_with_one_line(tmp_path):
    (tmp_path / "c.csv").write_text(CSV)
    done = load(tmp_path, str(tmp_path / "c.csv"))
    assert done.exit_code == 2 and "needs a mapping file (--mapping)" in done.output
    (tmp_path / "m.toml").write_text("[event\n")
    done = load(tmp_path, "--mapping", str(tmp_path / "m.toml"), str(tmp_path / "c.csv"))
    assert done.exit_code == 2 and "m.toml: not valid TOML" in done.output


def test_a_rejects_path_that_is_not_a_regular_file_is_left_in_place(tmp_path):
    """`--rejects /dev/null` run as root deleted the device when nothing was rejected (and
    the next load made a regular file of that name). A pipe stands in for the device."""
    pipe = tmp_path / "rejects.pipe"
    os.mkfifo(pipe)
    drained: list[bytes] = []
    reader = threading.Thread(target=lambda: drained.append(pipe.read_bytes()))
    reader.start()
    line = {"event_id": "e1", "type": "page_view", "timestamp": "2024-01-01T00:00:00Z",
            "source": "web", "identifiers": [{"type": "cookie", "value": "c1"}]}
    (tmp_path / "e.jsonl").write_text(json.dumps(line) + "\n")
    done = CliRunner().invoke(main, ["load", "--store", f"sqlite:///{tmp_path}/t.db",
                                     "--rejects", str(pipe), str(tmp_path / "e.jsonl")])
    reader.join(timeout=60)
    assert done.exit_code == 0, done.output
    assert stat.S_ISFIFO(os.lstat(pipe).st_mode)
    assert drained == [b""]


def test_a_bad_suppression_key_stops_with_one_line_that_says_what_to_set(tmp_path,
                                                                          monkeypatch):
    monkeypatch.setenv("IDGRAPH_SUPPRESSION_KEY", "short")
    (tmp_path / "e.jsonl").write_text("")
    done = load(tmp_path, str(tmp_path / "e.jsonl"))
    assert done.exit_code == 2, done.exception
    assert "IDGRAPH_SUPPRESSION_KEY: give at least 16 characters" in done.output
    assert "Traceback" not in done.output
