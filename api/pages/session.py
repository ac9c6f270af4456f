"""How a browser proves who it is to the console: a cookie naming one staff session.

The cookie holds a random token; the database holds its hash (`cards/sessions.py`). Each
request re-reads the member and the session through `cards.staff.current_identity`, exactly
as a bearer token is re-read, so disabling the member, signing out or the sign-in's end bites
on the next page. A session unused for `console_idle` ends for good.
"""

from typing import Any

from litestar import Request, Response
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult
from litestar.types import ASGIApp

from api.settings import Settings
from cards import sessions, staff
from cards.clock import Clock

COOKIE = "punchguard_console"
COOKIE_PATH = "/console"


class NotSignedIn(NotAuthorizedException):
    """No cookie, or one whose session ended, expired, lay idle, or whose member was disabled."""


class ConsoleAuthMiddleware(AbstractAuthenticationMiddleware):
    """Litestar's auth middleware, reading the console's cookie instead of a bearer token."""

    def __init__(self, app: ASGIApp, settings: Settings, clock: Clock, **options: Any) -> None:
        super().__init__(app, exclude_from_auth_key="console_public", **options)
        self.settings = settings
        self.clock = clock

    async def authenticate_request(self, connection: ASGIConnection[Any, Any, Any, Any]) -> AuthenticationResult:
        token = connection.cookies.get(COOKIE)
        if not token:
            raise NotSignedIn("Sign in to use the console")
        found = await sessions.console_session(token, self.clock(), self.settings.console_idle)
        if found is None:
            raise NotSignedIn("Your sign-in has ended: sign in again")
        identity = await staff.current_identity(found.staff_id, None, found.id)
        if identity is None:
            raise NotSignedIn("Your sign-in has ended: sign in again")
        return AuthenticationResult(user=identity, auth=found)


def set_session_cookie(response: Response[Any], request: Request[Any, Any, Any], token: str) -> None:
    """The cookie for a new sign-in: unreadable by scripts, never sent from another site, only over
    HTTPS when the console is served over HTTPS, and only to the console's own paths."""
    response.set_cookie(
        COOKIE,
        token,
        path=COOKIE_PATH,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def clear_session_cookie(response: Response[Any]) -> None:
    response.set_cookie(COOKIE, "", path=COOKIE_PATH, max_age=0, httponly=True, samesite="strict")
