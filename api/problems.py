"""Every error leaves as RFC 9457 problem+json with a stable `type` from mobile_contract.problems.

Litestar's ProblemDetailsPlugin does the rendering; this module only says which
exception becomes which problem.
"""

import logging
from typing import Any

from litestar import Request, Response
from litestar.exceptions import (
    ClientException,
    HTTPException,
    InternalServerException,
    MethodNotAllowedException,
    NotAuthorizedException,
    NotFoundException,
    PermissionDeniedException,
    SerializationException,
    TooManyRequestsException,
    ValidationException,
)
from litestar.plugins.problem_details import (
    ProblemDetailsConfig,
    ProblemDetailsException,
    ProblemDetailsPlugin,
)

from cards.errors import DomainError
from mobile_contract.problems import Problem

log = logging.getLogger("punchguard")


def problem(
    kind: Problem,
    detail: str | None = None,
    *,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> ProblemDetailsException:
    return ProblemDetailsException(
        type_=kind.type,
        title=kind.title,
        status_code=kind.status,
        detail=detail or kind.title,
        headers=headers,
        extra=extra,
    )


def _from_domain(exc: DomainError) -> ProblemDetailsException:
    return problem(exc.problem, exc.detail, extra=exc.extra)


class MalformedBody(ClientException):
    """A body msgspec could not decode as JSON at all (bad UTF-8, nesting too deep)."""


class UnsupportedMediaType(ClientException):
    """A body sent as something other than JSON."""

    status_code = 415


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


class ClientDisconnected(ClientException):
    """The client went away before it sent its whole body: nobody is left to answer, and it is no
    server error. 499 is the status web servers log for it ("client closed request")."""

    status_code = 499


class ProblemRequest(Request[Any, Any, Any]):
    """Reads JSON bodies strictly: a body that is not `application/json` is a 415, and the decoding
    errors Litestar lets through are a 400 instead of a 500."""

    async def body(self) -> bytes:
        try:
            return await super().body()
        except InternalServerException as exc:
            # Litestar reports a disconnect while reading the body as a 500.
            if "disconnected" not in str(exc.detail):
                raise
            raise ClientDisconnected(detail="The client closed the connection before its body arrived") from exc

    async def json(self) -> Any:
        if await self.body() and not _is_json(self.headers.get("content-type", "")):
            raise UnsupportedMediaType(detail="Send the body as application/json")
        try:
            return await super().json()
        except (UnicodeDecodeError, RecursionError) as exc:
            raise MalformedBody(detail="The body is not valid JSON") from exc


def http_problem(exc: HTTPException) -> ProblemDetailsException:
    if exc.status_code >= 500 and exc.status_code != 503:
        # Litestar's own 500s (a misconfiguration, say) carry internal text: log it, answer nothing of it.
        log.error("server error %s: %s", exc.status_code, exc.detail, exc_info=exc)
        return problem(Problem.INTERNAL)
    detail = exc.detail
    if isinstance(exc, MalformedBody) or isinstance(exc.__cause__, SerializationException):
        return problem(Problem.MALFORMED_BODY, detail)
    if isinstance(exc, ValidationException):
        kind = Problem.INVALID_REQUEST
        errors = exc.extra if isinstance(exc.extra, list) else None
        return problem(kind, detail, extra={"errors": errors} if errors else None)
    by_status = {
        400: Problem.INVALID_REQUEST,
        401: Problem.UNAUTHENTICATED,
        403: Problem.FORBIDDEN,
        404: Problem.NOT_FOUND,
        405: Problem.METHOD_NOT_ALLOWED,
        413: Problem.BODY_TOO_LARGE,
        415: Problem.UNSUPPORTED_MEDIA_TYPE,
        429: Problem.RATE_LIMITED,
        503: Problem.UNAVAILABLE,
    }
    if isinstance(exc, NotAuthorizedException):
        kind = Problem.UNAUTHENTICATED
    elif isinstance(exc, PermissionDeniedException):
        kind = Problem.FORBIDDEN
    elif isinstance(exc, NotFoundException):
        kind = Problem.NOT_FOUND
        detail = Problem.NOT_FOUND.title
    elif isinstance(exc, MethodNotAllowedException):
        kind = Problem.METHOD_NOT_ALLOWED
    elif isinstance(exc, TooManyRequestsException):
        kind = Problem.RATE_LIMITED
    else:
        kind = by_status.get(exc.status_code, Problem.INTERNAL if exc.status_code >= 500 else Problem.INVALID_REQUEST)
    return ProblemDetailsException(
        type_=kind.type,
        title=kind.title,
        status_code=exc.status_code,
        detail=detail,
        headers=exc.headers,
    )


def _internal_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem(Problem.INTERNAL).to_response(request)


def problem_details_plugin() -> ProblemDetailsPlugin:
    return ProblemDetailsPlugin(
        ProblemDetailsConfig(
            exception_to_problem_detail_map={DomainError: _from_domain, HTTPException: http_problem},
        )
    )


exception_handlers = {Exception: _internal_error}
