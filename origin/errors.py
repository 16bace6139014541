"""Every error the origin answers with, and the one place they become HTTP responses.

    OriginError                        (abstract: status + public message)
    ├── BadRequestError                400
    │   ├── InvalidPathError           400 invalid path
    │   ├── ParameterError             400 invalid parameters (names every failing one)
    │   ├── OutputTooLargeError        400 output too large
    │   └── InvalidBodyError           400 invalid body (not JSON, not an object, not a form)
    ├── UnauthorizedError              401 with WWW-Authenticate: Bearer (admin token, studio session)
    ├── AuthError                      403, X-Auth-Result: <reason>
    ├── CsrfError                      403 csrf (studio: missing or wrong X-CSRF-Token)
    ├── NotFoundError                  404
    ├── BodyTooLargeError              413
    ├── UrlTooLongError                414
    ├── UnprocessableSourceError       422 (corrupt, unsupported, too many bytes/pixels/frames)
    ├── TooManyAttemptsError           429 with Retry-After (wrong admin tokens from one client)
    └── OverloadedError                503 with Retry-After

``transforms.TransformError`` subclasses are mapped here too (``_TRANSFORM_ERRORS``), so neither
routes nor transforms build a response or pick a status code.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from transforms import errors as transform_errors

log = logging.getLogger("origin")


class OriginError(Exception):
    """Root of the origin's errors; each subclass fixes a status and a public message."""

    status_code = 500
    public_message = "internal error"

    def __init__(self, detail: str | None = None) -> None:
        if type(self) is OriginError:
            raise TypeError("OriginError is abstract; raise one of its subclasses")
        super().__init__(detail or self.public_message)
        self.detail = detail

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": self.public_message}
        if self.detail and self.detail != self.public_message:
            body["detail"] = self.detail
        return body

    def headers(self) -> dict[str, str]:
        return {}


class BadRequestError(OriginError):
    status_code = 400
    public_message = "bad request"


class InvalidPathError(BadRequestError):
    public_message = "invalid path"


class ParameterError(BadRequestError):
    """One or more parameters failed; ``problems`` maps each parameter name to why."""

    public_message = "invalid parameters"

    def __init__(self, problems: Mapping[str, str]) -> None:
        super().__init__(None)
        self.problems = dict(problems)

    def body(self) -> dict[str, Any]:
        return {"error": self.public_message, "parameters": self.problems}


class OutputTooLargeError(BadRequestError):
    public_message = "output too large"


class InvalidBodyError(BadRequestError):
    public_message = "invalid body"


class UnauthorizedError(OriginError):
    """No admin token, a wrong one, or no studio session."""

    status_code = 401
    public_message = "unauthorized"

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": 'Bearer realm="origin"'}


class CsrfError(OriginError):
    """A studio request that changes something without the session's ``X-CSRF-Token``."""

    status_code = 403
    public_message = "csrf"


class BodyTooLargeError(OriginError):
    status_code = 413
    public_message = "body too large"


class TooManyAttemptsError(OriginError):
    status_code = 429
    public_message = "too many attempts"

    def __init__(self, retry_after: int) -> None:
        super().__init__(None)
        self.retry_after = retry_after

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class AuthError(OriginError):
    """A token problem; ``reason`` is one of the words of SPEC §3, sent as ``X-Auth-Result``."""

    status_code = 403
    public_message = "forbidden"

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason

    def body(self) -> dict[str, Any]:
        return {"error": self.public_message, "reason": self.reason}

    def headers(self) -> dict[str, str]:
        return {"X-Auth-Result": self.reason}


class NotFoundError(OriginError):
    status_code = 404
    public_message = "not found"


class UrlTooLongError(OriginError):
    status_code = 414
    public_message = "url too long"


class UnprocessableSourceError(OriginError):
    status_code = 422
    public_message = "source cannot be processed"


class UpstreamError(OriginError):
    """A remote store (HTTP upstream, S3) failed or answered something unusable: 502."""

    status_code = 502
    public_message = "upstream error"


class UpstreamTimeoutError(UpstreamError):
    """A remote store did not answer within its timeout: 504."""

    status_code = 504
    public_message = "upstream timeout"


class OverloadedError(OriginError):
    status_code = 503
    public_message = "busy, retry later"

    def __init__(self, detail: str, retry_after: int = 1) -> None:
        super().__init__(detail)
        self.retry_after = retry_after

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


_TRANSFORM_ERRORS: dict[type[transform_errors.TransformError], type[OriginError]] = {
    transform_errors.UnsupportedImageError: UnprocessableSourceError,
    transform_errors.CorruptImageError: UnprocessableSourceError,
    transform_errors.ImageTooLargeError: UnprocessableSourceError,
    transform_errors.TooManyFramesError: UnprocessableSourceError,
    transform_errors.OutputTooLargeError: OutputTooLargeError,
    transform_errors.RenderTimeoutError: OverloadedError,
}


def from_transform_error(exc: transform_errors.TransformError) -> OriginError:
    """The origin error that a transform error stands for (resolved through the MRO)."""
    for cls in type(exc).__mro__:
        if cls in _TRANSFORM_ERRORS:
            return _TRANSFORM_ERRORS[cls](exc.message)
    return UnprocessableSourceError(exc.message)


class _ErrorBody(JSONResponse):
    """JSON with non-ASCII escaped: a body naming what the client sent (which may hold a lone
    surrogate from a JSON token or profile) always encodes."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=True, separators=(",", ":")).encode("ascii")


def error_response(exc: OriginError) -> Response:
    headers = {"Cache-Control": "no-store", **exc.headers()}
    return _ErrorBody(exc.body(), status_code=exc.status_code, headers=headers)


async def handle_origin_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, OriginError)
    return error_response(exc)


async def handle_transform_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, transform_errors.TransformError)
    return error_response(from_transform_error(exc))


async def handle_http_exception(request: Request, exc: Exception) -> Response:
    """Starlette's own 404/405 (unrouted paths, other methods) as JSON, like every other error."""
    assert isinstance(exc, HTTPException)
    headers = {"Cache-Control": "no-store", **(exc.headers or {})}
    return _ErrorBody({"error": exc.detail.lower()}, status_code=exc.status_code, headers=headers)


async def handle_unexpected(request: Request, exc: Exception) -> Response:
    """Last resort: log the detail, tell the client nothing about it."""
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return _ErrorBody({"error": "internal error"}, status_code=500, headers={"Cache-Control": "no-store"})


EXCEPTION_HANDLERS = {
    OriginError: handle_origin_error,
    transform_errors.TransformError: handle_transform_error,
    HTTPException: handle_http_exception,
    Exception: handle_unexpected,
}
