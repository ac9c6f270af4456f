"""The punch loop: the phone gets a stamp, the cashier's scanner scans it, a manager refunds."""

from typing import Annotated
from uuid import UUID

from litestar import Controller, Response, get, post
from litestar.datastructures import ResponseHeader
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, Parameter

from api import qr
from api.auth import CustomerIdentity, customers_only, managers_only, staff_only
from cards import punches, stamps
from cards.clock import Clock
from cards.identity import StaffIdentity
from crypto.keyring import Keyring
from mobile_contract import scans as wire
from mobile_contract.stamps import QR_VERSION

REPLAYED_HEADER = "Idempotent-Replayed"
ModulePixels = Annotated[int, Parameter(ge=1, le=16, description="Pixels per QR module")]


class StampController(Controller):
    """The customer's side: stamps to show at the till, and the card's progress and history."""

    path = "/v1/me/cards/{card_id:uuid}"
    tags = ["stamps"]
    guards = [customers_only]

    async def _issue(
        self, card_id: UUID, data: wire.StampRequest, customer: CustomerIdentity, clock: Clock, keyring: Keyring
    ) -> stamps.IssuedStamp:
        return await stamps.issue_stamp(
            customer_id=customer.customer_id,
            device_id=customer.device_id,
            card_id=card_id,
            request=data,
            now=clock(),
            keyring=keyring,
        )

    @post(
        "/stamps",
        operation_id="issueStamp",
        status_code=201,
        summary="A fresh stamp for this card, on a request signed by the bound device",
    )
    async def issue(
        self,
        card_id: FromPath[UUID],
        data: JSONBody[wire.StampRequest],
        customer: NamedDependency[CustomerIdentity],
        clock: NamedDependency[Clock],
        keyring: NamedDependency[Keyring],
    ) -> wire.IssuedStamp:
        issued = await self._issue(card_id, data, customer, clock, keyring)
        return wire.IssuedStamp(
            stamp=issued.text,
            card_id=card_id,
            issued_at=issued.stamp.issued_at_datetime,
            expires_at=issued.stamp.expires_at_datetime,
            qr_version=QR_VERSION,
        )

    @post(
        "/stamps.svg",
        operation_id="issueStampSvg",
        status_code=201,
        media_type="image/svg+xml",
        summary="The same as issueStamp, as an SVG QR code",
    )
    async def issue_svg(
        self,
        card_id: FromPath[UUID],
        data: JSONBody[wire.StampRequest],
        customer: NamedDependency[CustomerIdentity],
        clock: NamedDependency[Clock],
        keyring: NamedDependency[Keyring],
        module_px: ModulePixels = 8,
    ) -> Response[bytes]:
        issued = await self._issue(card_id, data, customer, clock, keyring)
        return _image(qr.svg(issued.text, module_px), "image/svg+xml", issued)

    @post(
        "/stamps.png",
        operation_id="issueStampPng",
        status_code=201,
        media_type="image/png",
        summary="The same as issueStamp, as a PNG QR code",
    )
    async def issue_png(
        self,
        card_id: FromPath[UUID],
        data: JSONBody[wire.StampRequest],
        customer: NamedDependency[CustomerIdentity],
        clock: NamedDependency[Clock],
        keyring: NamedDependency[Keyring],
        module_px: ModulePixels = 4,
    ) -> Response[bytes]:
        issued = await self._issue(card_id, data, customer, clock, keyring)
        return _image(qr.png(issued.text, module_px), "image/png", issued)

    @get(operation_id="getCard", summary="The card's balance, progress toward the reward, and history")
    async def card(
        self,
        card_id: FromPath[UUID],
        customer: NamedDependency[CustomerIdentity],
        clock: NamedDependency[Clock],
        keyring: NamedDependency[Keyring],
    ) -> wire.CardDetail:
        return await punches.card_detail(customer.customer_id, card_id, keyring, clock())


def _image(content: bytes, media_type: str, issued: stamps.IssuedStamp) -> Response[bytes]:
    return Response(
        content,
        media_type=media_type,
        status_code=201,
        headers={
            "X-Stamp-Expires-At": issued.stamp.expires_at_datetime.isoformat(),
            "Cache-Control": "no-store",
        },
    )


class ScanController(Controller):
    """The cashier's side: scanning a stamp adds a punch; managers void a refunded purchase's punch."""

    path = "/v1"
    tags = ["scans"]
    guards = [staff_only]

    @post(
        "/scans",
        operation_id="scanStamp",
        status_code=201,
        summary="Record a punch for a purchase from a scanned stamp (retrying returns the first answer)",
        response_headers=[
            ResponseHeader(
                name=REPLAYED_HEADER,
                description="`true` when this is the first answer given again to a retry of the same scan",
                documentation_only=True,
            )
        ],
    )
    async def scan(
        self,
        data: JSONBody[wire.Scan],
        actor: NamedDependency[StaffIdentity],
        clock: NamedDependency[Clock],
        keyring: NamedDependency[Keyring],
    ) -> Response[wire.ScanResult]:
        result, replayed = await punches.scan(actor, data, clock(), keyring)
        return Response(result, status_code=201, headers={REPLAYED_HEADER: "true"} if replayed else None)

    @post(
        "/punches/void",
        operation_id="voidPunch",
        status_code=200,
        guards=[managers_only],
        summary="Refund: the punch of this receipt no longer counts; the ledger keeps the void",
    )
    async def void(
        self,
        data: JSONBody[wire.Void],
        actor: NamedDependency[StaffIdentity],
        clock: NamedDependency[Clock],
        keyring: NamedDependency[Keyring],
    ) -> wire.VoidResult:
        return await punches.void_punch(actor, data, clock(), keyring)
