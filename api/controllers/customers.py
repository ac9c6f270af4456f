"""Customers: challenges, enrollment with a phone key, device sessions, and their cards."""

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody

from api.auth import CustomerIdentity, customers_only, device_session
from api.settings import Settings
from cards import customers
from cards.clock import Clock
from crypto.tokens import TokenService
from mobile_contract import customers as wire

RATE_LIMITED_PUBLIC = {"exclude_from_auth": True, "rate_limit": "enroll"}


class EnrollmentController(Controller):
    path = "/v1"
    tags = ["customers"]

    @post(
        "/challenges",
        operation_id="createChallenge",
        opt=RATE_LIMITED_PUBLIC,
        summary="A single-use challenge for the phone to sign (valid 2 minutes)",
    )
    async def challenge(self, clock: NamedDependency[Clock]) -> wire.Challenge:
        return await customers.new_challenge(clock())

    @post(
        "/customers",
        operation_id="enroll",
        opt=RATE_LIMITED_PUBLIC,
        summary="Enroll with the phone's public key and a signature over a challenge",
    )
    async def enroll(
        self,
        data: JSONBody[wire.Enrollment],
        clock: NamedDependency[Clock],
        tokens: NamedDependency[TokenService],
        settings: NamedDependency[Settings],
    ) -> wire.DeviceSession:
        device = await customers.enroll(data, clock())
        return device_session(tokens, device, settings.session_ttl)

    @post(
        "/customers/sessions",
        operation_id="resumeSession",
        opt=RATE_LIMITED_PUBLIC,
        status_code=200,
        summary="A bound phone signs a fresh challenge to get a new session",
    )
    async def resume(
        self,
        data: JSONBody[wire.DeviceSessionRequest],
        clock: NamedDependency[Clock],
        tokens: NamedDependency[TokenService],
        settings: NamedDependency[Settings],
    ) -> wire.DeviceSession:
        device = await customers.resume_session(data, clock())
        return device_session(tokens, device, settings.session_ttl)


class MeController(Controller):
    path = "/v1/me"
    tags = ["customers"]
    guards = [customers_only]

    @get(operation_id="getCustomer", summary="The customer this phone's session belongs to")
    async def me(self, customer: NamedDependency[CustomerIdentity]) -> wire.Customer:
        return await customers.get_customer(customer.customer_id)

    @get("/cards", operation_id="listCards", summary="This customer's cards")
    async def cards(self, customer: NamedDependency[CustomerIdentity]) -> list[wire.Card]:
        return await customers.list_cards(customer.customer_id)

    @post("/cards", operation_id="joinProgram", summary="Join a program: a new card")
    async def join(
        self,
        data: JSONBody[wire.JoinProgram],
        customer: NamedDependency[CustomerIdentity],
        clock: NamedDependency[Clock],
    ) -> wire.Card:
        return await customers.join_program(customer.customer_id, data.program_id, clock())
