"""What one request may send before any of it is parsed: its size (body, query string,
WebSocket message) and the shape of its JSON (valid UTF-8, nesting depth, a JSON object
at the top). Each refusal names what was wrong and the setting that bounds it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.errors import ErrorCode, error_body

# WebSocket close code for a message over the size limit (RFC 6455, "message too big").
MESSAGE_TOO_BIG = 1009


class BudgetError(ValueError):
    """A request over its budget; the message names the part and the setting."""


@dataclass(frozen=True, slots=True)
class Budget:
    max_bytes: int
    max_json_depth: int


def decode_json(data: str | bytes, budget: Budget, what: str) -> Any:
    """The JSON value of a body, query parameter or WebSocket message. Raises BudgetError
    for bytes that are not UTF-8 or nesting deeper than the budget, and
    json.JSONDecodeError for text that is not JSON."""
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BudgetError(f"{what}: not valid UTF-8 (byte {exc.start:,} cannot start "
                              f"or continue a character); send JSON encoded as UTF-8") from None
    too_deep = BudgetError(f"{what}: JSON nested deeper than {budget.max_json_depth} levels "
                           f"(IDGRAPH_API_MAX_JSON_DEPTH)")
    try:
        value = json.loads(data)
    except RecursionError:
        raise too_deep from None
    if json_depth(value, budget.max_json_depth) > budget.max_json_depth:
        raise too_deep
    return value


def json_depth(value: Any, limit: int) -> int:
    """How deeply a decoded JSON value nests (a scalar: 0, [] or {}: 1); it stops counting
    past `limit`. Iterative: a value nested thousands deep does not exhaust the stack."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            depth += 1
            deepest = max(deepest, depth)
            if deepest > limit:
                return deepest
            stack.extend((child, depth) for child in _children(item))
    return deepest


def _children(item: dict[str, Any] | list[Any]) -> Iterator[Any]:
    return iter(item.values()) if isinstance(item, dict) else iter(item)


def too_large(what: str, budget: Budget) -> str:
    return (f"{what} larger than {budget.max_bytes:,} bytes; send less per request "
            f"(IDGRAPH_API_MAX_BODY_BYTES)")


class RequestLimit:
    """Answer 413 with a GraphQL error to an HTTP request whose body or query string is
    over the budget, before it is parsed; the body is buffered (GraphQL requests are
    small) and replayed. Close a WebSocket whose client sends a message over the budget
    (code 1009), before the message is decoded."""

    def __init__(self, app: ASGIApp, budget: Budget) -> None:
        self.app = app
        self.budget = budget

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            return await self.app(scope, self._bounded_messages(receive, send), send)
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        if len(scope.get("query_string", b"")) > self.budget.max_bytes:
            return await self._refuse(send, "query string")
        declared = dict(scope.get("headers") or ()).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.budget.max_bytes:
            return await self._refuse(send, "request body")
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.budget.max_bytes:
                return await self._refuse(send, "request body")
            if not message.get("more_body"):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    def _bounded_messages(self, receive: Receive, send: Send) -> Receive:
        async def bounded() -> Message:
            message = await receive()
            if message["type"] != "websocket.receive":
                return message
            if not _over(message, self.budget.max_bytes):
                return message
            await send({"type": "websocket.close", "code": MESSAGE_TOO_BIG,
                        "reason": _reason(too_large("WebSocket message", self.budget))})
            return {"type": "websocket.disconnect", "code": MESSAGE_TOO_BIG}

        return bounded

    async def _refuse(self, send: Send, what: str) -> None:
        body = json.dumps(error_body(too_large(what, self.budget),
                                     ErrorCode.PAYLOAD_TOO_LARGE)).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


def _over(message: Message, limit: int) -> bool:
    """Whether a WebSocket message has more than `limit` bytes; a text is encoded only
    when its length (one to four bytes a character) does not settle it."""
    if message.get("bytes") is not None:
        return len(message["bytes"]) > limit
    text = message.get("text") or ""
    if len(text) > limit or len(text) * 4 <= limit:
        return len(text) > limit
    return len(text.encode("utf-8", "surrogatepass")) > limit


def _reason(text: str) -> str:
    """A close reason fits in 123 bytes (RFC 6455); keep the setting's name in it."""
    encoded = text.encode()
    if len(encoded) <= 123:
        return text
    return "message larger than the limit (IDGRAPH_API_MAX_BODY_BYTES)"


@dataclass(frozen=True, slots=True)
class OperationRequest:
    query: str | None
    variables: dict[str, Any] | None
    operation_name: str | None
    extensions: dict[str, Any] | None


def operation_request(body: Any) -> OperationRequest:
    """The parts of a decoded POST body; raises BudgetError naming the part that is not
    what GraphQL over HTTP expects."""
    if isinstance(body, list):
        raise BudgetError("request body: a list (a batch of operations) is not accepted; "
                          "send one operation per request")
    if not isinstance(body, dict):
        raise BudgetError(f"request body: expected a JSON object such as "
                          f'{{"query": "{{ viewer {{ role }} }}"}}, not {_kind(body)}')
    parts = {"query": str, "variables": dict, "operationName": str, "extensions": dict}
    for name, kind in parts.items():
        if body.get(name) is not None and not isinstance(body[name], kind):
            expected = "a string" if kind is str else "an object"
            raise BudgetError(f"{name}: must be {expected} or null, not {_kind(body[name])}")
    return OperationRequest(body.get("query"), body.get("variables"),
                            body.get("operationName"), body.get("extensions"))


def _kind(value: Any) -> str:
    kinds = {bool: "a boolean", int: "a number", float: "a number", str: "a string",
             list: "a list", dict: "an object"}
    return "null" if value is None else kinds.get(type(value), type(value).__name__)
