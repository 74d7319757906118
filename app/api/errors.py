"""Every GraphQL error a client can receive carries `extensions.code`, one of ErrorCode,
so that clients match on the code, not on the message text.

Errors idgraph raises name their code where they are made (`coded`); errors graphql-core
makes (syntax, validation, variable coercion) get theirs from what they are (`code_of`).
Request errors, raised before execution began, have no `data` entry; over HTTP their
status follows the code (`http_status`) when the client accepts
application/graphql-response+json, and is 200 for application/json, as the
GraphQL-over-HTTP specification asks."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from cross_web import HTTPException
from graphql import GraphQLError, GraphQLSyntaxError


class ErrorCode(StrEnum):
    # The request, before any GraphQL is read.
    BAD_REQUEST = "BAD_REQUEST"
    UNAUTHENTICATED = "UNAUTHENTICATED"
    NOT_FOUND = "NOT_FOUND"
    METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
    NOT_ACCEPTABLE = "NOT_ACCEPTABLE"
    PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
    UNSUPPORTED_MEDIA_TYPE = "UNSUPPORTED_MEDIA_TYPE"
    PERSISTED_QUERY_NOT_FOUND = "PERSISTED_QUERY_NOT_FOUND"
    PERSISTED_QUERY_NOT_SUPPORTED = "PERSISTED_QUERY_NOT_SUPPORTED"
    # The document.
    GRAPHQL_PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
    GRAPHQL_VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
    QUERY_TOO_LARGE = "QUERY_TOO_LARGE"
    QUERY_TOO_COMPLEX = "QUERY_TOO_COMPLEX"
    QUERY_TOO_COSTLY = "QUERY_TOO_COSTLY"
    # Its arguments and variables.
    BAD_USER_INPUT = "BAD_USER_INPUT"
    # What it asks for.
    FORBIDDEN = "FORBIDDEN"
    # Running it.
    QUERY_TIMEOUT = "QUERY_TIMEOUT"
    STORE_UNAVAILABLE = "STORE_UNAVAILABLE"
    INTERNAL_SERVER_ERROR = "INTERNAL_SERVER_ERROR"


# graphql-core's message when a document is over the parser's token limit.
TOO_MANY_TOKENS = "Syntax Error: Document contains more than"

HTTP_STATUS = {
    ErrorCode.UNAUTHENTICATED: 401,
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.METHOD_NOT_ALLOWED: 405,
    ErrorCode.NOT_ACCEPTABLE: 406,
    ErrorCode.PAYLOAD_TOO_LARGE: 413,
    ErrorCode.UNSUPPORTED_MEDIA_TYPE: 415,
    # A client's persisted-query link reads these from the body and sends the document:
    # 200 keeps any error handling on the way from masking it (as Apollo's servers do).
    ErrorCode.PERSISTED_QUERY_NOT_FOUND: 200,
    ErrorCode.PERSISTED_QUERY_NOT_SUPPORTED: 200,
    ErrorCode.QUERY_TIMEOUT: 504,
    ErrorCode.STORE_UNAVAILABLE: 503,
    ErrorCode.INTERNAL_SERVER_ERROR: 500,
}

STATUS_CODE = {status: code for code, status in HTTP_STATUS.items() if status != 200}


class InputError(Exception):
    """A query argument idgraph cannot use; the message names the argument and the reason."""


class Refused(HTTPException):
    """A request refused before GraphQL ran, with the code its answer carries."""

    def __init__(self, reason: str, code: ErrorCode) -> None:
        super().__init__(http_status(code), reason)
        self.code = code


def http_status(code: ErrorCode) -> int:
    return HTTP_STATUS.get(code, 400)


def code_for_status(status: int) -> ErrorCode:
    """The code of an HTTP refusal that never reached GraphQL."""
    return STATUS_CODE.get(status, ErrorCode.BAD_REQUEST)


def coded(message: str, code: ErrorCode, **kwargs: Any) -> GraphQLError:
    """A GraphQLError with its code, for the errors idgraph raises itself."""
    return GraphQLError(message, extensions={"code": str(code)}, **kwargs)


def code_of(error: GraphQLError) -> ErrorCode:
    """The code of an error: the one it was made with, else what graphql-core's errors
    are (a syntax error; a variable that could not be coerced; any other error without a
    path, raised before execution: validation), else a resolver's bad argument."""
    given = (error.extensions or {}).get("code")
    if isinstance(given, str) and given in ErrorCode.__members__:
        return ErrorCode(given)
    if error.message.startswith(TOO_MANY_TOKENS):
        return ErrorCode.QUERY_TOO_LARGE
    if isinstance(error, GraphQLSyntaxError):
        return ErrorCode.GRAPHQL_PARSE_FAILED
    if error.message.startswith("Variable '$") or isinstance(error.original_error, InputError):
        return ErrorCode.BAD_USER_INPUT
    if error.path is None and error.original_error is None:
        return ErrorCode.GRAPHQL_VALIDATION_FAILED
    return ErrorCode.INTERNAL_SERVER_ERROR


def with_code(error: GraphQLError, code: ErrorCode | None = None) -> GraphQLError:
    """The error with `extensions.code` set (in place: errors are the request's own)."""
    error.extensions = {**(error.extensions or {}), "code": str(code or code_of(error))}
    return error


def is_request_error(data: object, errors: list[GraphQLError] | None) -> bool:
    """Whether a result is a request error: no data, and errors raised before execution
    (none of them at a field's path)."""
    return data is None and bool(errors) and all(e.path is None for e in errors or ())


def error_body(message: str, code: ErrorCode) -> dict[str, Any]:
    return {"errors": [{"message": message, "extensions": {"code": str(code)}}]}
