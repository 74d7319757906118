"""The pure part of as-of answers and replay (app/domain/asof.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from app.domain.asof import (
    AsOfError,
    Evidence,
    Region,
    RegionTooLarge,
    StepKind,
    hub_since,
    is_hub,
    link_pair,
    links_made,
    moment_of,
    parse_moment,
    recover,
    released_keys,
    scrubbed_keys,
    steps_of,
    steps_touching,
    with_recovered,
)
from app.domain.rules import Rules

RULES = Rules.default()


@dataclass
class Entry:
    seq: int
    action: str
    at: str
    details: dict[str, Any] = field(default_factory=dict)
    undo: dict[str, Any] = field(default_factory=dict)
    undone_by: int | None = None
    actor: str = "sam"
    reason: str = "why"


def test_a_moment_needs_an_offset():
    with pytest.raises(AsOfError, match=r"asOf: 2024-03-01T10:00:00 has no offset; give one"):
        moment_of(datetime(2024, 3, 1, 10))
    amsterdam = timezone(timedelta(hours=1))
    assert moment_of(datetime(2024, 3, 1, 11, tzinfo=amsterdam)) == "2024-03-01T10:00:00.000000Z"


def test_a_moment_from_text():
    assert parse_moment("2024-03-01T10:00:00Z") == "2024-03-01T10:00:00.000000Z"
    assert parse_moment(" 2024-03-01T11:00:00+01:00 ") == "2024-03-01T10:00:00.000000Z"
    with pytest.raises(AsOfError, match="--as-of: '1 March' is not a time"):
        parse_moment("1 March")
    with pytest.raises(AsOfError, match="no offset"):
        parse_moment("2024-03-01")


def test_the_audit_log_as_steps_in_moment_order():
    entries = [
        Entry(1, "split", "2024-03-05T00:00:00Z", {"keys": ["email:b@x.com"]},
              {"kind": "relink", "pairs": [["cookie:c", "email:b@x.com"]]}, undone_by=3),
        Entry(2, "merge", "2024-03-04T00:00:00Z", {"keys": [], "customers": ["c_1", "c_2"]},
              {"kind": "unlink", "keys": ["cookie:a", "email:z@x.com"]}),
        Entry(3, "relink", "2024-03-06T00:00:00Z", {"keys": []}),
        Entry(4, "forget", "2024-03-07T00:00:00Z", {"identifiers": 3}),
        Entry(5, "review", "2024-03-08T00:00:00Z", {"keys": ["email:p@x.com", "email:q@x.com"]}),
    ]
    steps = steps_of(entries)
    assert [s.seq for s in steps] == [2, 1, 3, 4, 5]
    merge, split, undo, forget, review = steps
    assert merge.kind is StepKind.ACTION and merge.customers == ("c_1", "c_2")
    assert link_pair(merge) == ("cookie:a", "email:z@x.com")
    assert split.touches == {"email:b@x.com", "cookie:c"}
    assert (undo.kind, undo.undoes, undo.touches) == (StepKind.UNDO, 1, split.touches)
    assert forget.kind is StepKind.ERASURE
    assert not review.accept  # a rejected review: its undo is empty
    assert steps_touching(steps, {"cookie:c"}, "2024-03-05T12:00:00Z") == [split]
    assert steps_touching(steps, {"cookie:c"}, "2024-03-06T00:00:00Z") == [split, undo]


def test_an_undo_of_an_entry_that_cannot_be_replayed_cannot_be_either():
    entries = [Entry(1, "quarantine", "2024-03-05T00:00:00Z", {"keys": []}, {}, undone_by=2),
               Entry(2, "release", "2024-03-06T00:00:00Z", {"keys": []})]
    assert [s.kind for s in steps_of(entries)] == [StepKind.NOT_REPLAYABLE] * 2


def test_released_identifiers_link_whatever_their_degree():
    steps = steps_of([Entry(1, "release", "2024-03-05T00:00:00Z", {"keys": ["device_id:d"]},
                            {"kind": "quarantine", "keys": ["device_id:d"]})])
    assert released_keys(steps, "2024-03-05T00:00:00Z") == {"device_id:d"}
    assert released_keys(steps, "2024-03-04T00:00:00Z") == set()


def test_a_scrubbed_identifier_is_found_again_when_one_fits():
    steps = steps_of([Entry(1, "quarantine", "2024-03-05T00:00:00Z",
                            {"keys": ["email:[erased].smith@x.com"]},
                            {"kind": "release", "keys": ["email:[erased].smith@x.com"]})])
    assert steps[0].scrubbed
    assert scrubbed_keys(steps) == {"email:[erased].smith@x.com"}
    known = ["email:jo.smith@x.com", "email:smith@x.com", "email:jo.smith@y.com"]
    found = recover(scrubbed_keys(steps), known)
    assert found == {"email:[erased].smith@x.com": "email:jo.smith@x.com"}
    [again] = with_recovered(steps, found)
    assert again.keys == ("email:jo.smith@x.com",) and not again.scrubbed
    # two that fit: neither is guessed
    assert recover({"email:[erased].smith@x.com"},
                   [*known, "email:al.smith@x.com"]) == {}


def test_the_region_follows_links_first_seen_by_the_moment():
    region = Region("2024-03-02T00:00:00Z", keys={"email:a@x.com"})
    region.add_links([Evidence("cookie:c", "email:a@x.com", "2024-03-01T00:00:00Z"),
                      Evidence("email:a@x.com", "phone:+31612345678", "2024-03-03T00:00:00Z")])
    assert region.expand({"email:a@x.com"}, RULES, set()) == {"cookie:c"}
    assert region.keys == {"email:a@x.com", "cookie:c"}


def test_a_hub_stops_the_region_only_from_when_it_became_one():
    links = [Evidence("device_id:d", f"email:p{n}@x.com", f"2024-03-{1 + n // 8:02}T00:00:00Z")
             for n in range(17)]
    near = {link.b: link.first_seen for link in links}
    # the 16th distinct e-mail (limit 15) came on 2024-03-02
    assert hub_since("device_id:d", near, RULES) == "2024-03-02T00:00:00Z"
    assert not is_hub("device_id:d", near, RULES, "2024-03-01T12:00:00Z")
    assert is_hub("device_id:d", near, RULES, "2024-03-03T00:00:00Z")
    later = Region("2024-03-05T00:00:00Z", keys={"device_id:d"})
    later.add_links(links)
    assert later.expand({"device_id:d"}, RULES, set()) == set()
    assert later.hubs == {"device_id:d"} and later.own_keys == set()
    # a steward action replayed on 2024-03-01 saw it before it was a hub
    early = Region("2024-03-05T00:00:00Z", "2024-03-01T12:00:00Z", keys={"device_id:d"})
    early.add_links(links)
    assert len(early.expand({"device_id:d"}, RULES, set())) == 17
    released = Region("2024-03-05T00:00:00Z", keys={"device_id:d"})
    released.add_links(links)
    assert len(released.expand({"device_id:d"}, RULES, {"device_id:d"})) == 17


def test_a_link_an_action_made_at_its_moment_does_not_make_a_hub_before_it():
    moment = "2024-03-05T10:00:00.000000Z"
    # 15 e-mails by events up to the moment (limit 15): not a hub yet ...
    links = [Evidence("device_id:d", f"email:p{n}@x.com", f"2024-03-0{1 + n // 5}T10:00:00"
                      ".000000Z") for n in range(15)]
    # ... and the steward's merge at that moment links a 16th, dated that moment too
    links.append(Evidence("device_id:d", "email:q@x.com", moment))
    [merge] = steps_of([Entry(1, "merge", moment, {"customers": ["c_1", "c_2"]},
                              {"kind": "unlink", "keys": ["device_id:d", "email:q@x.com"]})])
    acted = links_made([merge], moment)
    assert acted == {("device_id:d", "email:q@x.com")}
    assert links_made([merge], "2024-03-05T10:00:00.000001Z") == frozenset()
    # the merge comes after that moment's events: it found no hub, and the gathering
    # goes through to the customer it merged with
    before = Region(moment, moment, acted, keys={"device_id:d"})
    before.add_links(links)
    assert len(before.expand({"device_id:d"}, RULES, set())) == 16
    # counted with the merge's own link, it was one
    counted = Region(moment, moment, keys={"device_id:d"})
    counted.add_links(links)
    assert counted.expand({"device_id:d"}, RULES, set()) == set()
    assert counted.hubs == {"device_id:d"}


def test_a_region_past_its_bound_is_refused(monkeypatch):
    monkeypatch.setattr("app.domain.asof.MAX_REGION_IDENTIFIERS", 3)
    region = Region("2024-03-05T00:00:00Z", keys={"cookie:c0"})
    region.add_links([Evidence("cookie:c0", f"cookie:c{n}", "2024-03-01T00:00:00Z")
                      for n in range(1, 5)])
    with pytest.raises(RegionTooLarge, match="more than 3 identifiers"):
        region.expand({"cookie:c0"}, RULES, set())
