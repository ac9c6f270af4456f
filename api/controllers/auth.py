"""Staff sign-in: first-owner setup, login (at a scanner for cashiers) and refresh."""

from litestar import Controller, post
from litestar.di import NamedDependency
from litestar.params import JSONBody

from api.auth import refresh_staff_tokens, staff_tokens
from api.settings import Settings
from cards import staff
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
    async def set_up(self, data: JSONBody[wire.OwnerSetup]) -> wire_stores.StaffMember:
        return await staff.set_up_first_owner(data)

    @post(
        "/auth/login",
        operation_id="logIn",
        opt={"rate_limit": "login"},
        status_code=200,
        summary="Sign in; cashiers sign in at a registered scanner",
    )
    async def log_in(
        self, data: JSONBody[wire.Login], tokens: NamedDependency[TokenService], settings: NamedDependency[Settings]
    ) -> wire.StaffTokens:
        identity = await staff.authenticate(data)
        return staff_tokens(tokens, identity, settings.access_ttl, settings.refresh_ttl)

    @post(
        "/auth/refresh",
        operation_id="refreshTokens",
        opt={"rate_limit": "login"},
        status_code=200,
        summary="Trade a refresh token for new tokens while the member and scanner stay active",
    )
    async def refresh(
        self, data: JSONBody[wire.Refresh], tokens: NamedDependency[TokenService], settings: NamedDependency[Settings]
    ) -> wire.StaffTokens:
        return await refresh_staff_tokens(tokens, data.refresh_token, settings.access_ttl, settings.refresh_ttl)
