"""Staff sign-in: first-owner setup, login (at a scanner for cashiers), refresh and logout."""

from litestar import Controller, post
from litestar.di import NamedDependency
from litestar.params import JSONBody

from api.auth import refresh_staff_tokens, sign_in, staff_only
from api.rate_limits import enforce
from api.settings import Settings
from cards import sessions, staff
from cards.clock import Clock
from cards.identity import StaffIdentity
from crypto.tokens import TokenService
from mobile_contract import auth as wire
from mobile_contract import stores as wire_stores


class AuthController(Controller):
    path = "/v1"
    tags = ["staff sign-in"]
    opt = {"exclude_from_auth": True}

    @post(
        "/setup",
        operation_id="setUpFirstOwner",
        opt={"rate_limit": "setup"},
        summary="Create the business and its first owner with the one-time setup code",
    )
    async def set_up(self, data: JSONBody[wire.OwnerSetup], clock: NamedDependency[Clock]) -> wire_stores.StaffMember:
        return await staff.set_up_first_owner(data, clock())

    @post(
        "/auth/login",
        operation_id="logIn",
        opt={"rate_limit": "login"},
        status_code=200,
        summary="Sign in; cashiers sign in at a registered scanner",
    )
    async def log_in(
        self,
        data: JSONBody[wire.Login],
        tokens: NamedDependency[TokenService],
        settings: NamedDependency[Settings],
        clock: NamedDependency[Clock],
    ) -> wire.StaffTokens:
        # Per account as well as per address: guesses spread over many addresses still meet a limit.
        await enforce(f"login_account:{data.email.lower()}", settings.rate_limits["login_account"], clock)
        identity = await staff.authenticate(data)
        return await sign_in(tokens, identity, settings.access_ttl, settings.refresh_ttl, clock())

    @post(
        "/auth/refresh",
        operation_id="refreshTokens",
        opt={"rate_limit": "refresh"},
        status_code=200,
        summary="Trade the refresh token for the next ones (each is good once; a reused one ends the session)",
    )
    async def refresh(
        self,
        data: JSONBody[wire.Refresh],
        tokens: NamedDependency[TokenService],
        settings: NamedDependency[Settings],
        clock: NamedDependency[Clock],
    ) -> wire.StaffTokens:
        return await refresh_staff_tokens(tokens, data.refresh_token, settings.access_ttl, clock())

    @post(
        "/auth/logout",
        operation_id="logOut",
        status_code=204,
        guards=[staff_only],
        opt={"exclude_from_auth": False},
        summary="End this sign-in: its access and refresh tokens stop working at once",
    )
    async def log_out(self, actor: NamedDependency[StaffIdentity], clock: NamedDependency[Clock]) -> None:
        if actor.session_id is not None:
            await sessions.end_session(actor.session_id, clock(), "logged out")
