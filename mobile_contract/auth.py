"""Staff sign-in: first-owner setup, login at a scanner, refresh."""

from typing import Annotated, Literal

import msgspec

from mobile_contract.base import Email, Id, Name, Timestamp, Wire

Password = Annotated[str, msgspec.Meta(min_length=12, max_length=256)]
Role = Literal["owner", "manager", "cashier"]


class OwnerSetup(Wire, frozen=True, kw_only=True):
    """Sent once, on an empty database, with the code `make run` printed."""

    setup_code: Annotated[str, msgspec.Meta(max_length=64)]
    business_name: Name
    name: Name
    email: Email
    password: Password


class Login(Wire, frozen=True, kw_only=True):
    """Owners and managers may sign in anywhere; a cashier signs in at a registered scanner.

    One e-mail may be staff at several businesses. `business_id` is needed only when the
    same password opens more than one of them (the answer is then `business-required`,
    listing them); at a scanner, the scanner's business decides.
    """

    email: Email
    password: Annotated[str, msgspec.Meta(max_length=256)]
    scanner_id: Id | None = None
    scanner_secret: Annotated[str, msgspec.Meta(max_length=128)] | None = None
    business_id: Id | None = None


class Refresh(Wire, frozen=True, kw_only=True):
    refresh_token: Annotated[str, msgspec.Meta(max_length=4096)]


class StaffTokens(Wire, frozen=True, kw_only=True):
    access_token: str
    access_expires_at: Timestamp
    refresh_token: str
    refresh_expires_at: Timestamp
    staff_id: Id
    business_id: Id
    role: Role
    store_id: Id | None = None
    scanner_id: Id | None = None
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105


class Jwk(Wire, frozen=True, kw_only=True):
    kty: str
    crv: str
    x: str
    kid: str
    alg: str
    use: str


class Jwks(Wire, frozen=True, kw_only=True):
    keys: list[Jwk]
