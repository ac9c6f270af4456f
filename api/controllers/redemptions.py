"""Free items: the phone asks for a redemption code, the cashier's scanner redeems it."""

from uuid import UUID

from litestar import Controller, Response, post
from litestar.datastructures import ResponseHeader
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from api.auth import CustomerIdentity, customers_only, staff_only
from api.controllers.punches import REPLAYED_HEADER
from cards import redemptions
from cards.clock import Clock
from cards.identity import StaffIdentity
from crypto.keyring import Keyring
from mobile_contract import redemptions as wire


class RedemptionCodeController(Controller):
    """The customer's side: a short-lived, single-use code for the card's reward."""

    path = "/v1/me/cards/{card_id:uuid}/redemptions"
    tags = ["redemptions"]
    guards = [customers_only]

    @post(
        operation_id="requestRedemptionCode",
        status_code=201,
        summary="A single-use code for the card's free item, on a request signed by the bound device",
    )
    async def request_code(
        self,
        card_id: FromPath[UUID],
        data: JSONBody[wire.RedemptionRequest],
        customer: NamedDependency[CustomerIdentity],
        clock: NamedDependency[Clock],
        keyring: NamedDependency[Keyring],
    ) -> wire.RedemptionCode:
        return await redemptions.request_code(
            customer_id=customer.customer_id,
            device_id=customer.device_id,
            card_id=card_id,
            request=data,
            now=clock(),
            keyring=keyring,
        )


class RedeemController(Controller):
    """The cashier's side: the card is audited, then the free item is granted once or held for the owner."""

    path = "/v1/redemptions"
    tags = ["redemptions"]
    guards = [staff_only]

    @post(
        operation_id="redeemReward",
        status_code=201,
        summary="Give the free item for a scanned redemption code (retrying returns the first answer)",
        response_headers=[
            ResponseHeader(
                name=REPLAYED_HEADER,
                description="`true` when this is the first answer given again to a retry of the same code",
                documentation_only=True,
            )
        ],
    )
    async def redeem(
        self,
        data: JSONBody[wire.Redeem],
        actor: NamedDependency[StaffIdentity],
        clock: NamedDependency[Clock],
        keyring: NamedDependency[Keyring],
    ) -> Response[wire.RedemptionResult]:
        result, replayed = await redemptions.redeem(actor, data, clock(), keyring)
        return Response(result, status_code=201, headers={REPLAYED_HEADER: "true"} if replayed else None)
