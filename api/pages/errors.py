"""Errors on the console are pages in words, never problem+json and never a bare 500."""

import logging
from typing import Any
from urllib.parse import urlsplit

from litestar import Request, Response
from litestar.exceptions import HTTPException, NotFoundException, PermissionDeniedException
from litestar.plugins.problem_details import ProblemDetailsException
from litestar.response import Redirect, Template

from api.pages.session import NotSignedIn
from api.problems import http_problem
from cards.errors import DomainError

log = logging.getLogger("punchguard")
SIGN_IN = "/console/sign-in"


def is_htmx(request: Request[Any, Any, Any]) -> bool:
    return request.headers.get("hx-request") == "true"


def error_page(request: Request[Any, Any, Any], status: int, message: str) -> Response[Any]:
    return Template(
        template_name="error.html",
        context={"status": status, "message": message, "actor": _signed_in(request), "came_from": _came_from(request)},
        status_code=status,
    )


def _came_from(request: Request[Any, Any, Any]) -> str | None:
    """The console page the request came from (its Referer, sent for this origin only), to go back
    to; None when there is none, or it is another site's, or this very address."""
    referer = urlsplit(request.headers.get("referer", ""))
    if referer.netloc and referer.netloc != request.url.netloc:
        return None
    path = referer.path + (f"?{referer.query}" if referer.query else "")
    if (
        not referer.path.startswith("/console/")
        or referer.path.startswith("/console//")
        or referer.path == request.url.path
    ):
        return None
    return path


def _signed_in(request: Request[Any, Any, Any]) -> Any:
    return request.scope.get("user")


def _not_signed_in(request: Request[Any, Any, Any], exc: NotSignedIn) -> Response[Any]:
    if is_htmx(request):  # htmx follows this header with a full page load
        return Response(None, status_code=200, headers={"HX-Redirect": SIGN_IN})
    return Redirect(SIGN_IN, status_code=303)


def _domain(request: Request[Any, Any, Any], exc: DomainError) -> Response[Any]:
    return error_page(request, exc.problem.status, exc.detail)


def _http(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    if exc.status_code >= 500:
        log.error("server error %s on the console: %s", exc.status_code, exc.detail, exc_info=exc)
        return error_page(request, 500, "Something went wrong on our side. Reload the page to see what was saved.")
    if isinstance(exc, NotFoundException):
        return error_page(request, 404, "There is no such page.")
    if isinstance(exc, PermissionDeniedException) and "CSRF" in str(exc.detail):
        return error_page(
            request,
            403,
            "This form was not sent from a page of this console (its CSRF token is missing or stale). "
            "Go back, reload the page and try again.",
        )
    return error_page(request, exc.status_code, str(exc.detail))


def _internal(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_page(request, 500, "Something went wrong on our side. Reload the page to see what was saved.")


def unrouted(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    """No route took the request (an unknown path, an id that is not one, a method the page does
    not take): under /console the console's page in words, elsewhere the API's problem+json."""
    path = request.url.path
    if path != "/console" and not path.startswith("/console/"):
        return http_problem(exc).to_response(request)
    if isinstance(exc, NotFoundException):
        return error_page(request, 404, "There is no such page.")
    return error_page(request, exc.status_code, "This page cannot be used that way. Go back and use its links.")


console_exception_handlers: Any = {
    NotSignedIn: _not_signed_in,
    DomainError: _domain,
    ProblemDetailsException: _http,
    HTTPException: _http,
    Exception: _internal,
}
