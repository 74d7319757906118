"""Segment-spec messages (from Segment, RudderStack or Jitsu) mapped to raw v1 events.

Pure: no I/O. A message's values are bounded (app/domain/bounds.py) before it is mapped,
and problems name the message's own fields. The mapping is documented in docs/loaders.md
("Segment-spec input"); the result is a raw v1 dict that goes through the same validation
as any other event, so a mapped message that breaks the v1 contract is rejected with the
v1 reason.

Identifiers: `anonymousId` -> cookie, `userId` -> `SegmentConfig.user_id_type`,
`traits.email` -> email, `traits.phone` -> phone, `context.device.id` -> device_id, and for
`alias`, `previousId` -> `SegmentConfig.previous_id_type`. A group's `groupId` is kept as a
property and never becomes an identifier: it would merge every member of a company.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from app.domain import bounds
from app.domain.events import EventError

INPUT_FORMATS = ("v1", "segment", "auto")
SEGMENT_TYPES = ("identify", "track", "page", "screen", "alias", "group")
EVENT_TYPES = {"identify": "identify", "page": "page_view", "screen": "screen_view",
               "alias": "alias", "group": "group"}
# Segment's reserved traits and their v1 standard names.
TRAIT_NAMES = {"firstName": "first_name", "lastName": "last_name", "gender": "gender",
               "birthday": "birth_date"}
ADDRESS_NAMES = {"street": "street", "city": "city", "postalCode": "postcode",
                 "state": "state", "country": "country"}
# Traits that become identifiers are not kept a second time as attributes.
IDENTIFIER_TRAITS = {"email": "email", "phone": "phone"}
TIMESTAMP_FIELDS = ("timestamp", "originalTimestamp", "sentAt", "receivedAt")


@dataclass(frozen=True, slots=True)
class SegmentConfig:
    user_id_type: str = "user_id"
    previous_id_type: str = "cookie"  # alias.previousId is most often the anonymous id
    source: str = "segment"


DEFAULT_CONFIG = SegmentConfig()


def is_segment(raw: object) -> bool:
    """Whether a decoded message looks like Segment rather than v1 (for format "auto")."""
    return isinstance(raw, dict) and "event_id" not in raw and (
        "messageId" in raw or raw.get("type") in SEGMENT_TYPES and "identifiers" not in raw)


def as_v1(raw: object, input_format: str, config: SegmentConfig = DEFAULT_CONFIG) -> object:
    """A decoded message in `input_format` (v1, segment or auto) as a raw v1 event. v1 input
    is returned as it is: the ingest service validates it. Raises EventError."""
    if input_format == "segment" or input_format == "auto" and is_segment(raw):
        return to_v1(raw, config)
    return raw


def to_v1(message: object, config: SegmentConfig = DEFAULT_CONFIG) -> dict[str, Any]:
    """The raw v1 event for one Segment message. Raises EventError naming the field."""
    if not isinstance(message, dict):
        raise EventError("", "a Segment message must be a JSON object")
    try:  # before the mapping reads anything: the fields named are the message's own
        bounds.check(message, "message")
    except bounds.OutOfBounds as exc:
        raise EventError(exc.field, exc.reason) from None
    kind = message.get("type")
    if kind not in SEGMENT_TYPES:
        raise EventError("type", f"must be one of {', '.join(SEGMENT_TYPES)} (Segment spec)")
    event: dict[str, Any] = {
        "event_id": _event_id(message),
        "type": _event_type(message, kind),
        "timestamp": _timestamp(message),
        "source": config.source,
        "identifiers": _identifiers(message, kind, config),
    }
    for name, value in (("traits", _traits(message, kind)),
                        ("properties", _properties(message, kind)),
                        ("consent", _consent(message))):
        if value:
            event[name] = value
    return event


def _event_id(message: dict[str, Any]) -> str:
    message_id = message.get("messageId")
    if isinstance(message_id, str) and message_id:
        return message_id
    # No messageId: the id derives from the content, so an exact resend is still a replay.
    canonical = json.dumps(message, sort_keys=True, separators=(",", ":"), default=str)
    return "seg-" + hashlib.blake2b(canonical.encode(), digest_size=12).hexdigest()


def snake_case(name: str) -> str:
    """"Order Completed" -> "order_completed", "addToCart" -> "add_to_cart"."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name)
    return "_".join(re.findall(r"[a-z0-9]+", spaced.lower()))


def _event_type(message: dict[str, Any], kind: str) -> str:
    if kind != "track":
        return EVENT_TYPES[kind]
    name = message.get("event")
    if not isinstance(name, str) or not snake_case(name):
        raise EventError("event", "a track message needs an event name")
    type_ = snake_case(name)
    # v1 types start with a letter: "404 Seen" becomes "track_404_seen".
    return type_ if type_[0].isalpha() else f"track_{type_}"


def _timestamp(message: dict[str, Any]) -> str:
    for name in TIMESTAMP_FIELDS:
        value = message.get(name)
        if isinstance(value, str) and value:
            return value
    raise EventError("timestamp", "is required (or originalTimestamp, sentAt, receivedAt)")


def _context(message: dict[str, Any]) -> dict[str, Any]:
    context = message.get("context")
    return context if isinstance(context, dict) else {}


def _person_traits(message: dict[str, Any], kind: str) -> dict[str, Any]:
    """identify carries the person's traits at the top; other calls in context.traits.
    A group's top-level traits describe the company, not the person."""
    found = message.get("traits") if kind == "identify" else _context(message).get("traits")
    return found if isinstance(found, dict) else {}


def _identifiers(message: dict[str, Any], kind: str, config: SegmentConfig
                 ) -> list[dict[str, str]]:
    pairs: list[tuple[str, object]] = [("cookie", message.get("anonymousId")),
                                       (config.user_id_type, message.get("userId"))]
    if kind == "alias":
        pairs.append((config.previous_id_type, message.get("previousId")))
    traits = _person_traits(message, kind)
    pairs += [(type_, traits.get(name)) for name, type_ in IDENTIFIER_TRAITS.items()]
    device = _context(message).get("device")
    if isinstance(device, dict):
        pairs.append(("device_id", device.get("id")))
    found: dict[tuple[str, str], None] = {}
    for type_, value in pairs:
        # Segment allows numeric user ids; booleans and objects identify nobody.
        if isinstance(value, str | int) and not isinstance(value, bool) and str(value).strip():
            found[(type_, str(value))] = None
    if not found:
        raise EventError("identifiers", "no anonymousId, userId, previousId, traits.email or "
                         "traits.phone to identify the person")
    return [{"type": t, "value": v} for t, v in found]


def _traits(message: dict[str, Any], kind: str) -> dict[str, Any]:
    if kind == "group":
        return {}
    traits: dict[str, Any] = {}
    for name, value in _person_traits(message, kind).items():
        if name in IDENTIFIER_TRAITS:
            continue
        if name == "address" and isinstance(value, dict):
            traits.update({ADDRESS_NAMES.get(str(k), str(k)): v for k, v in value.items()})
        elif name == "birthday" and isinstance(value, str):
            traits["birth_date"] = value[:10]
        else:
            traits[TRAIT_NAMES.get(name, name)] = value
    return traits


def _properties(message: dict[str, Any], kind: str) -> dict[str, Any]:
    props = message.get("properties")
    properties: dict[str, Any] = dict(props) if isinstance(props, dict) else {}
    if kind == "track":
        properties.setdefault("event", message.get("event"))
    if kind in ("page", "screen"):
        for name in ("name", "category"):
            if message.get(name) is not None:
                properties.setdefault(name, message[name])
    if kind == "group":
        properties["group_id"] = message.get("groupId")
        if isinstance(message.get("traits"), dict):
            properties["group_traits"] = message["traits"]
    return {k: v for k, v in properties.items() if v is not None}


def _consent(message: dict[str, Any]) -> dict[str, bool]:
    consent = _context(message).get("consent")
    prefs = consent.get("categoryPreferences") if isinstance(consent, dict) else None
    if not isinstance(prefs, dict):
        return {}
    return {str(k): v for k, v in prefs.items() if isinstance(v, bool)}
