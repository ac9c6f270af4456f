"""Who is calling: staff and customer bearer tokens, checked by Litestar's auth middleware, and guards.

Tokens are verified by `crypto.tokens`; the middleware then re-reads the staff member,
scanner or device from the database, so a revocation takes effect on the next request.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult
from litestar.types import ASGIApp

from api.problems import problem
from cards import customers, sessions, staff
from cards.identity import MANAGING_ROLES, StaffIdentity
from crypto.tokens import TokenError, TokenService, token_type
from mobile_contract import auth as wire_auth
from mobile_contract import customers as wire_customers
from mobile_contract.problems import Problem

STAFF_AUDIENCE = "punchguard:staff"
CUSTOMER_AUDIENCE = "punchguard:customer"
ACCESS_TYP = "at+jwt"  # RFC 9068
REFRESH_TYP = "pg-refresh+jwt"
SESSION_TYP = "pg-session+jwt"


@dataclass(frozen=True, slots=True)
class CustomerIdentity:
    customer_id: UUID
    device_id: UUID


Identity = StaffIdentity | CustomerIdentity


def _bearer(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    scheme, _, token = connection.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise problem(Problem.UNAUTHENTICATED, headers={"WWW-Authenticate": "Bearer"})
    return token.strip()


def _invalid() -> Exception:
    return problem(Problem.INVALID_TOKEN, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})


def _uuid(value: Any) -> UUID:
    try:
        return UUID(str(value))
    except ValueError as exc:
        raise _invalid() from exc


class BearerAuthMiddleware(AbstractAuthenticationMiddleware):
    """Accepts a staff access token or a customer session token; handlers opt out with
    `opt={"exclude_from_auth": True}`."""

    def __init__(self, app: ASGIApp, tokens: TokenService, **options: Any) -> None:
        super().__init__(app, **options)
        self.tokens = tokens

    async def authenticate_request(self, connection: ASGIConnection[Any, Any, Any, Any]) -> AuthenticationResult:
        token = _bearer(connection)
        try:
            typ = token_type(token)
            if typ == ACCESS_TYP:
                claims = self.tokens.verify(token, typ=ACCESS_TYP, audience=STAFF_AUDIENCE)
                scanner = claims.get("scanner")
                identity = await staff.current_identity(
                    _uuid(claims["sub"]), _uuid(scanner) if scanner is not None else None, _uuid(claims.get("sid"))
                )
                if identity is None:
                    raise _invalid()
                return AuthenticationResult(user=identity, auth=claims)
            if typ == SESSION_TYP:
                claims = self.tokens.verify(token, typ=SESSION_TYP, audience=CUSTOMER_AUDIENCE)
                customer = CustomerIdentity(_uuid(claims["sub"]), _uuid(claims.get("device")))
                if not await customers.device_is_active(customer.customer_id, customer.device_id):
                    raise _invalid()
                return AuthenticationResult(user=customer, auth=claims)
        except TokenError as exc:
            raise _invalid() from exc
        raise _invalid()


# --- guards --------------------------------------------------------------------------
# Guards are coroutines: Litestar runs a plain function guard in a worker thread. An OPTIONS
# request (a browser's CORS preflight) carries no token and is not authenticated: Litestar's
# own OPTIONS handler answers it with the allowed methods, and no guard stands in its way.


def _preflight(connection: ASGIConnection[Any, Any, Any, Any]) -> bool:
    return connection.scope.get("method") == "OPTIONS"


def _staff(connection: ASGIConnection[Any, Any, Any, Any]) -> StaffIdentity:
    user = connection.user
    if not isinstance(user, StaffIdentity):
        raise problem(Problem.FORBIDDEN, "Staff only")
    return user


async def staff_only(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    if not _preflight(connection):
        _staff(connection)


async def managers_only(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Owners and managers manage stores, staff, scanners and programs."""
    if not _preflight(connection) and _staff(connection).role not in MANAGING_ROLES:
        raise problem(Problem.FORBIDDEN, "Owners and managers only")


async def customers_only(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    if not _preflight(connection) and not isinstance(connection.user, CustomerIdentity):
        raise problem(Problem.FORBIDDEN, "Customers only")


# --- issuing -------------------------------------------------------------------------


def staff_tokens(
    tokens: TokenService, identity: StaffIdentity, session: sessions.Session, access_ttl: timedelta, now: datetime
) -> wire_auth.StaffTokens:
    """An access and a refresh token of `session`, both bound to the scanner the member signed in at.

    The refresh token carries the session's one acceptable token id and expires with the
    session, however often it is traded (see `cards/sessions.py`)."""
    claims = {"sid": str(session.id), **({"scanner": str(identity.scanner_id)} if identity.scanner_id else {})}
    access = tokens.issue(
        typ=ACCESS_TYP,
        audience=STAFF_AUDIENCE,
        subject=str(identity.staff_id),
        ttl=min(access_ttl, session.expires_at - now),
        claims=claims,
    )
    refresh = tokens.issue(
        typ=REFRESH_TYP,
        audience=STAFF_AUDIENCE,
        subject=str(identity.staff_id),
        ttl=session.expires_at - now,
        claims=claims,
        jti=session.refresh_jti,
    )
    return wire_auth.StaffTokens(
        access_token=access.token,
        access_expires_at=access.expires_at,
        refresh_token=refresh.token,
        refresh_expires_at=refresh.expires_at,
        staff_id=identity.staff_id,
        business_id=identity.business_id,
        role=identity.role,  # type: ignore[arg-type]
        store_id=identity.store_id,
        scanner_id=identity.scanner_id,
    )


async def sign_in(
    tokens: TokenService, identity: StaffIdentity, access_ttl: timedelta, refresh_ttl: timedelta, now: datetime
) -> wire_auth.StaffTokens:
    """Open a session for a member who just proved who they are, and its first tokens."""
    session = await sessions.open_session(identity, now, refresh_ttl)
    return staff_tokens(tokens, identity, session, access_ttl, now)


async def refresh_staff_tokens(
    tokens: TokenService, refresh_token: str, access_ttl: timedelta, now: datetime
) -> wire_auth.StaffTokens:
    """The session's next tokens for its current refresh token, while the member and scanner stay active.

    A refresh token already traded ends its whole session (T19): whoever else holds the family
    is signed out with the thief."""
    try:
        claims = tokens.verify(refresh_token, typ=REFRESH_TYP, audience=STAFF_AUDIENCE)
    except TokenError as exc:
        raise _invalid() from exc
    session_id, staff_id = _uuid(claims.get("sid")), _uuid(claims["sub"])
    try:
        rotated = await sessions.rotate(session_id, staff_id, str(claims["jti"]), now)
    except sessions.SessionRefused as exc:
        raise _invalid() from exc
    identity = await staff.current_identity(staff_id, rotated.scanner_id, session_id)
    if identity is None:
        raise _invalid()
    return staff_tokens(tokens, identity, rotated.session, access_ttl, now)


def device_session(tokens: TokenService, device: customers.BoundDevice, ttl: timedelta) -> wire_customers.DeviceSession:
    issued = tokens.issue(
        typ=SESSION_TYP,
        audience=CUSTOMER_AUDIENCE,
        subject=str(device.customer_id),
        ttl=ttl,
        claims={"device": str(device.device_id)},
    )
    return wire_customers.DeviceSession(
        customer_id=device.customer_id,
        device_id=device.device_id,
        session_token=issued.token,
        expires_at=issued.expires_at,
    )


# --- dependencies --------------------------------------------------------------------


async def provide_staff(request: Request[Any, Any, Any]) -> StaffIdentity:
    return _staff(request)


async def provide_customer(request: Request[Any, Any, Any]) -> CustomerIdentity:
    user = request.user
    if not isinstance(user, CustomerIdentity):
        raise problem(Problem.FORBIDDEN, "Customers only")
    return user
