"""One shape for every error body, so clients (and people) see what was wrong and where.

Body: ``{"error": {"status": 404, "code": "not_found", "message": "...", "field": ..., "value":
...}}`` plus, for validation failures, ``details``: one entry per bad field.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from inventory.clock import ClockUnavailable
from tools.context import ToolError

log = logging.getLogger(__name__)

_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid_input",
    429: "too_many_requests",
    500: "internal_error",
    503: "unavailable",
}


class ErrorDetail(BaseModel):
    field: str | None = None
    value: Any = None
    message: str


class ErrorBody(BaseModel):
    status: int
    code: str
    message: str
    field: str | None = None
    value: Any = None
    details: list[ErrorDetail] = []


class ErrorResponse(BaseModel):
    """What every non-2xx answer of the API looks like."""

    error: ErrorBody


class ApiError(Exception):
    """Raised by routes and services; turned into an ``ErrorResponse`` with ``status``."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        field: str | None = None,
        value: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field
        self.value = value
        self.headers = headers


def not_found(kind: str, key: str, field: str = "id") -> ApiError:
    return ApiError(404, f"no {kind} with {field} {key!r}", field=field, value=key)


def conflict(message: str, *, field: str | None = None, value: Any = None) -> ApiError:
    return ApiError(409, message, field=field, value=value)


def error_response(
    status: int,
    message: str,
    *,
    field: str | None = None,
    value: Any = None,
    details: list[ErrorDetail] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = ErrorBody(
        status=status,
        code=_CODES.get(status, "error"),
        message=message,
        field=field,
        value=_safe_value(value),
        details=details or [],
    )
    return JSONResponse(
        ErrorResponse(error=body).model_dump(mode="json"), status_code=status, headers=headers
    )


def _safe_value(value: Any) -> Any:
    """Echo the offending value back, but never a huge or unserialisable one."""
    try:
        encoded = jsonable_encoder(value)
    except Exception:
        encoded = repr(value)
    if isinstance(encoded, str):  # a lone surrogate would break the error body itself
        encoded = encoded.encode("utf-8", "backslashreplace").decode("utf-8")
    elif isinstance(encoded, dict | list):
        try:
            repr(encoded).encode("utf-8")
        except UnicodeEncodeError:
            encoded = repr(encoded).encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(encoded, str) and len(encoded) > 200:
        return encoded[:200] + "…"
    if isinstance(encoded, dict | list) and len(repr(encoded)) > 500:
        return repr(encoded)[:200] + "…"
    return encoded


def _location(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in {"body", "query", "path", "header", "cookie"}:
        where, rest = parts[0], parts[1:]
        return f"{where}.{'.'.join(rest)}" if rest else where
    return ".".join(parts)


async def _on_validation(_: Request, exc: RequestValidationError) -> JSONResponse:
    details = [
        ErrorDetail(field=_location(err.get("loc", ())), value=err.get("input"), message=err["msg"])
        for err in exc.errors()
    ]
    details = [d.model_copy(update={"value": _safe_value(d.value)}) for d in details]
    first = details[0] if details else ErrorDetail(message="invalid request")
    message = f"{first.field}: {first.message}" if first.field else first.message
    if len(details) > 1:
        message += f" (and {len(details) - 1} more)"
    return error_response(422, message, field=first.field, value=first.value, details=details)


async def _on_api_error(_: Request, exc: ApiError) -> JSONResponse:
    return error_response(
        exc.status, exc.message, field=exc.field, value=exc.value, headers=exc.headers
    )


async def _on_http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
    message = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
    if exc.status_code == 404 and message == "Not Found":
        message = "no such endpoint; see /docs for the API"
    return error_response(exc.status_code, message, headers=getattr(exc, "headers", None))


async def _on_tool_error(_: Request, exc: ToolError) -> JSONResponse:
    return error_response(422, str(exc), field=exc.field, value=exc.value)


async def _on_no_clock(_: Request, exc: ClockUnavailable) -> JSONResponse:
    """The service runs on the world's clock but the pool has none: a setup problem, said so."""
    return error_response(503, str(exc), field="clock")


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return error_response(500, f"internal error ({type(exc).__name__}); it has been logged")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(ApiError, _on_api_error)
    app.add_exception_handler(StarletteHTTPException, _on_http)
    app.add_exception_handler(ToolError, _on_tool_error)
    app.add_exception_handler(ClockUnavailable, _on_no_clock)
    app.add_exception_handler(Exception, _on_unexpected)


#: For ``responses=`` in route decorators, so OpenAPI documents the error shape.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse} for code in (400, 401, 403, 404, 409, 422)
}
