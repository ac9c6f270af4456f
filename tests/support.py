"""Test helpers that build data through the HTTP API, the way the apps do."""

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, cast
from uuid import UUID

import httpx
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from litestar import Litestar

from cards import staff
from crypto.encoding import b64u_encode
from mobile_contract.customers import ProofPurpose, proof_message
from mobile_contract.stamps import stamp_request_message

OWNER_EMAIL = "owner@cafe.test"
PASSWORD = "correct horse battery"


class FakeClock:
    """An injected clock: tests move time instead of sleeping."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class Phone:
    """A customer's phone holding an Ed25519 or P-256 key, as the mobile app does."""

    algorithm: Literal["Ed25519", "ES256"] = "Ed25519"
    der_signatures: bool = False
    _ed: Ed25519PrivateKey = field(default_factory=Ed25519PrivateKey.generate)
    _ec: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))

    @property
    def jwk(self) -> dict[str, str]:
        if self.algorithm == "Ed25519":
            from cryptography.hazmat.primitives import serialization

            raw = self._ed.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
            return {"kty": "OKP", "crv": "Ed25519", "x": b64u_encode(raw)}
        numbers = self._ec.public_key().public_numbers()
        return {
            "kty": "EC",
            "crv": "P-256",
            "x": b64u_encode(numbers.x.to_bytes(32, "big")),
            "y": b64u_encode(numbers.y.to_bytes(32, "big")),
        }

    def sign(self, message: bytes) -> str:
        if self.algorithm == "Ed25519":
            return b64u_encode(self._ed.sign(message))
        der = self._ec.sign(message, ec.ECDSA(hashes.SHA256()))
        if self.der_signatures:
            return b64u_encode(der)
        r, s = decode_dss_signature(der)
        return b64u_encode(r.to_bytes(32, "big") + s.to_bytes(32, "big"))

    counter: int = 0

    def prove(self, purpose: ProofPurpose, challenge: str) -> str:
        return self.sign(proof_message(purpose, challenge))

    def stamp_request(self, card_id: str, counter: int | None = None) -> dict[str, Any]:
        """A signed stamp request with the next counter (or the one given)."""
        if counter is None:
            self.counter += 1
            counter = self.counter
        return {"counter": counter, "signature": self.sign(stamp_request_message(UUID(card_id), counter))}


def app_client(app: Litestar) -> httpx.AsyncClient:
    """An httpx client calling `app` in the current event loop (no lifespan: see conftest)."""
    transport = httpx.ASGITransport(app=cast("httpx._transports.asgi._ASGIApp", app))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def challenge(client: httpx.AsyncClient) -> str:
    response = await client.post("/v1/challenges")
    assert response.status_code == 201, response.text
    return str(response.json()["challenge"])


async def enroll(client: httpx.AsyncClient, device: Phone | None = None, **profile: Any) -> dict[str, Any]:
    phone = device or Phone()
    nonce = await challenge(client)
    response = await client.post(
        "/v1/customers",
        json={
            "challenge": nonce,
            "public_key": phone.jwk,
            "signature": phone.prove("enroll", nonce),
            **profile,
        },
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


@dataclass
class Cafe:
    """A business set up through the API: its owner's token, a store, a scanner and a program."""

    client: httpx.AsyncClient
    owner_token: str
    business_id: str
    store_id: str = ""
    scanner_id: str = ""
    scanner_secret: str = ""
    program_id: str = ""

    @property
    def owner(self) -> dict[str, str]:
        return bearer(self.owner_token)

    async def add_staff(
        self, role: str, email: str, *, store_id: str | None = None, token: str | None = None
    ) -> dict[str, Any]:
        response = await self.client.post(
            "/v1/staff",
            headers=bearer(token or self.owner_token),
            json={
                "name": role.title(),
                "email": email,
                "password": PASSWORD,
                "role": role,
                "store_id": store_id if store_id is not None else (self.store_id if role == "cashier" else None),
            },
        )
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    async def log_in(self, email: str, *, at_scanner: bool = False) -> dict[str, Any]:
        payload: dict[str, Any] = {"email": email, "password": PASSWORD}
        if at_scanner:
            payload |= {"scanner_id": self.scanner_id, "scanner_secret": self.scanner_secret}
        response = await self.client.post("/v1/auth/login", json=payload)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


async def set_up_cafe(client: httpx.AsyncClient, *, with_store: bool = True) -> Cafe:
    """The README walk-through: first owner, a store, a scanner and a program."""
    code = await staff.new_setup_code()
    assert code is not None
    response = await client.post(
        "/v1/setup",
        json={
            "setup_code": code,
            "business_name": "Bean There",
            "name": "Olive Owner",
            "email": OWNER_EMAIL,
            "password": PASSWORD,
        },
    )
    assert response.status_code == 201, response.text
    business_id = response.json()["business_id"]
    login = await client.post("/v1/auth/login", json={"email": OWNER_EMAIL, "password": PASSWORD})
    assert login.status_code == 200, login.text
    cafe = Cafe(client, login.json()["access_token"], business_id)
    if not with_store:
        return cafe
    store = await client.post(
        "/v1/stores",
        headers=cafe.owner,
        json={
            "name": "Market St",
            "time_zone": "America/Los_Angeles",
            "latitude": 37.7749,
            "longitude": -122.4194,
            # Open round the clock (a closing time not after the opening runs past midnight), so that
            # tests run at any hour; tests of the opening-hours rule set their own hours.
            "opening_hours": [
                {"day": day, "opens": "00:00", "closes": "00:00"}
                for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
            ],
        },
    )
    assert store.status_code == 201, store.text
    cafe.store_id = store.json()["id"]
    scanner = await client.post(f"/v1/stores/{cafe.store_id}/scanners", headers=cafe.owner, json={"name": "Till 1"})
    assert scanner.status_code == 201, scanner.text
    cafe.scanner_id = scanner.json()["scanner"]["id"]
    cafe.scanner_secret = scanner.json()["scanner_secret"]
    program = await client.post(
        "/v1/programs",
        headers=cafe.owner,
        json={
            "name": "Coffee card",
            "reward_name": "Free coffee",
            "punches_per_reward": 10,
        },
    )
    assert program.status_code == 201, program.text
    cafe.program_id = program.json()["id"]
    return cafe


@dataclass
class Customer:
    """An enrolled customer with a card in the café's program."""

    client: httpx.AsyncClient
    phone: Phone
    session: dict[str, Any]
    card_id: str

    @property
    def headers(self) -> dict[str, str]:
        return bearer(self.session["session_token"])

    async def stamp(self) -> str:
        response = await self.client.post(
            f"/v1/me/cards/{self.card_id}/stamps", headers=self.headers, json=self.phone.stamp_request(self.card_id)
        )
        assert response.status_code == 201, response.text
        return str(response.json()["stamp"])

    async def card(self) -> dict[str, Any]:
        response = await self.client.get(f"/v1/me/cards/{self.card_id}", headers=self.headers)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


async def new_customer(client: httpx.AsyncClient, cafe: Cafe, phone: Phone | None = None, **profile: Any) -> Customer:
    phone = phone or Phone()
    session = await enroll(client, phone, **profile)
    card = await client.post(
        "/v1/me/cards", headers=bearer(session["session_token"]), json={"program_id": cafe.program_id}
    )
    assert card.status_code == 201, card.text
    return Customer(client, phone, session, card.json()["id"])


async def cashier_at_till(cafe: Cafe, email: str = "cashier@cafe.test") -> dict[str, str]:
    """A cashier of the café's store, signed in at its scanner: the scanner app's headers."""
    await cafe.add_staff("cashier", email)
    tokens = await cafe.log_in(email, at_scanner=True)
    return bearer(tokens["access_token"])
