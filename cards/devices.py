"""Customers' phones as a business may act on them, and phones whose keys cannot be trusted.

A phone is the customer's, for every café whose card it holds. So a business revokes a
phone for itself only (a DeviceBlock): the phone gets no stamps or codes for that business's
cards and its stamps are refused at that business's tills, while other cafés and the
customer's other phones go on as before; and nothing in the answer tells the business where
else the phone is used (T20).

A phone enrolled with a key that anyone can sign for (a small-order or non-canonical Ed25519
point, T15) is refused at enrollment since issue 8; a phone stored before that is quarantined
by `quarantine_refused_keys`, which a migration runs: unbound, its holder's cards frozen, and
each card flagged with the reason in words.
"""

from datetime import datetime
from typing import Any
from uuid import UUID

from cards.audit_log import record_action
from cards.customers import stored_device_key
from cards.database import stored_uuid, write_transaction
from cards.errors import DomainError
from cards.flags import card_code, raise_flag
from cards.identity import StaffIdentity
from cards.tables import Card, Device, DeviceBlock, Flag
from crypto.jwk import InvalidKey
from mobile_contract import review as wire
from mobile_contract.problems import Problem

DEVICE_COLUMNS = (Device.id, Device.customer, Device.algorithm, Device.active, Device.created_at)
KEY_REFUSED_RULE = "device_key_refused"


async def blocked_devices(business_id: UUID, device_ids: list[UUID]) -> set[UUID]:
    """Which of these phones the business revoked for itself."""
    if not device_ids:
        return set()
    rows = await DeviceBlock.select(DeviceBlock.device).where(
        (DeviceBlock.business == business_id) & DeviceBlock.device.is_in(device_ids)
    )
    return {stored_uuid(row["device"]) for row in rows}


def device_view(row: dict[str, Any], blocked: set[UUID]) -> wire.DeviceView:
    """A phone as one business sees it: bound unless unbound everywhere or revoked by this business.
    Its counter is left out: it rises with the phone's use at every café (T20)."""
    device_id = stored_uuid(row["id"])
    return wire.DeviceView(
        id=device_id,
        customer_id=row["customer"],
        algorithm=row["algorithm"],
        active=bool(row["active"]) and device_id not in blocked,
        created_at=row["created_at"],
    )


async def revoke_device(actor: StaffIdentity, device_id: UUID, reason: str, now: datetime) -> wire.DeviceView:
    """Stop accepting a customer's phone at this business: no more stamps or redemption codes for its
    cards here, and stamps it already showed are refused at this business's tills.

    A phone is this business's to revoke if its customer holds one of the business's cards; any
    other phone reads as missing. Revoking it again changes nothing and logs nothing.
    """
    row = await Device.select(*DEVICE_COLUMNS).where(Device.id == device_id).first()
    if row is None or not await Card.exists().where(
        (Card.customer == row["customer"]) & (Card.program._.business == actor.business_id)
    ):
        raise DomainError(Problem.NOT_FOUND, "No such device")
    async with write_transaction():
        if not await DeviceBlock.exists().where(
            (DeviceBlock.device == device_id) & (DeviceBlock.business == actor.business_id)
        ):
            await DeviceBlock.insert(DeviceBlock(device=device_id, business=actor.business_id, reason=reason, at=now))
            await record_action(
                actor=actor,
                action="device.revoke",
                subject_kind="device",
                subject_id=device_id,
                reason=reason,
                now=now,
            )
    return device_view(row, {device_id})


async def quarantine_refused_keys(now: datetime) -> list[UUID]:
    """Unbind every stored phone whose key `load_device_key` now refuses; freeze its holder's cards
    and flag each with the reason. Returns the phones unbound. Safe to run again: a phone already
    unbound is skipped, and a card keeps one open flag of this rule."""
    quarantined = []
    for row in await Device.select(Device.id, Device.customer, Device.public_key).where(Device.active.eq(True)):
        try:
            stored_device_key(row["public_key"])
        except InvalidKey as exc:
            quarantined.append(stored_uuid(row["id"]))
            await _quarantine(stored_uuid(row["id"]), stored_uuid(row["customer"]), str(exc), now)
    return quarantined


async def _quarantine(device_id: UUID, customer_id: UUID, why: str, now: datetime) -> None:
    cards = await Card.select(Card.id, Card.program._.business.as_alias("business")).where(Card.customer == customer_id)
    async with write_transaction():
        await Device.update({Device.active: False}).where(Device.id == device_id)
        await Card.update({Card.status: "frozen"}).where((Card.customer == customer_id) & (Card.status == "active"))
        for card in cards:
            card_id = stored_uuid(card["id"])
            if await Flag.exists().where(
                (Flag.card == card_id) & (Flag.rule == KEY_REFUSED_RULE) & (Flag.status == "open")
            ):
                continue
            await raise_flag(
                business_id=stored_uuid(card["business"]),
                card_id=card_id,
                rule=KEY_REFUSED_RULE,
                severity="high",
                now=now,
                explanation=(
                    f"Card {card_code(card_id)}'s phone was enrolled with a key PunchGuard no longer accepts: "
                    f"{why.rstrip('.')}. Its punches may not have needed the customer's phone at all, so the "
                    "phone is unbound and the card frozen until you review it; the customer can enroll a "
                    "new phone, and you can move the balance over once you have checked the punches."
                ),
                evidence={"device_id": str(device_id), "why": why},
            )
