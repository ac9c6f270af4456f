"""Where a stamp is issued: to the card's bound device, on a signed request with a rising counter.

The counter is the clone detector (T3): a copied key can sign, but the copy and the
original cannot both keep the counter rising. A counter that repeats or goes back
freezes the card and raises a flag; the owner decides.
"""

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NoReturn
from uuid import UUID

from cards.customers import proven_key
from cards.database import stored_uuid, write_transaction
from cards.errors import DomainError
from cards.flags import card_code, raise_flag
from cards.programs import program_open
from cards.tables import Card, Device, Flag
from crypto.encoding import EncodingError, b64u_decode
from crypto.jwk import InvalidSignature
from crypto.keyring import Keyring
from mobile_contract import scans as wire
from mobile_contract.problems import Problem
from mobile_contract.stamps import Stamp, decode_stamp, device_ref, encode_stamp, stamp_request_message

_CONTEXT_SQL = """
SELECT d.public_key AS public_key, d.counter AS counter, d.last_stamp AS last_stamp,
       (d.active AND NOT EXISTS (SELECT 1 FROM device_block b WHERE b.device = d.id AND b.business = p.business))
          AS device_active,
       c.status AS card_status, c.customer AS card_customer, p.stamp_lifetime_s AS lifetime_s,
       p.business AS business, p.active AS program_active, p.ends_at AS program_ends_at
FROM device d, card c JOIN program p ON p.id = c.program
WHERE d.id = {} AND d.customer = {} AND c.id = {}
"""
# Advancing the counter is one conditional write: of two requests with the same counter,
# whichever comes second finds nothing to update.
_ADVANCE_SQL = "UPDATE device SET counter = {}, last_stamp = {} WHERE id = {} AND counter < {} RETURNING id"


@dataclass(frozen=True, slots=True)
class IssuedStamp:
    text: str
    stamp: Stamp


def _issued(text: str) -> IssuedStamp:
    return IssuedStamp(text, decode_stamp(text)[0])


def verify_device_request(row: dict[str, Any], signature: str, message: bytes) -> None:
    """What a stamp request and a redemption request both prove: the bound, active device
    signed `message` (row: `device_active`, `public_key`), for a card that is active
    (`card_status`). A frozen card is refused only after the proof, so that its state is
    no oracle for someone without the key."""
    if not row["device_active"]:
        raise DomainError(Problem.INVALID_PROOF)
    key = proven_key(row["public_key"])
    try:
        key.verify(b64u_decode(signature), message)
    except (EncodingError, InvalidSignature) as exc:
        raise DomainError(Problem.INVALID_PROOF) from exc
    if row["card_status"] == "frozen":
        raise DomainError(Problem.CARD_FROZEN)
    if row["card_status"] != "active":
        raise DomainError(Problem.CARD_INACTIVE)


async def issue_stamp(
    *,
    customer_id: UUID,
    device_id: UUID,
    card_id: UUID,
    request: wire.StampRequest,
    now: datetime,
    keyring: Keyring,
) -> IssuedStamp:
    """Sign a fresh stamp for the card, if the device proves itself with a rising counter."""
    rows = await Device.raw(_CONTEXT_SQL, device_id, customer_id, card_id)
    if not rows or rows[0]["card_customer"] != customer_id:
        raise DomainError(Problem.NOT_FOUND, "No such card")
    row = rows[0]
    verify_device_request(row, request.signature, stamp_request_message(card_id, request.counter))
    if not program_open(row["program_active"], row["program_ends_at"], now):
        raise DomainError(Problem.PROGRAM_INACTIVE)

    stamp = Stamp(
        kid=keyring.active.kid,
        card_id=card_id,
        device_ref=device_ref(device_id),
        stamp_id=secrets.token_bytes(8),
        issued_at=int(now.timestamp()),
        lifetime_s=row["lifetime_s"],
    )
    text = encode_stamp(stamp, keyring.active_private_key)
    current = await advance_counter(device_id, request.counter, last_stamp=text)
    if current is None:
        return IssuedStamp(text, stamp)
    if current.counter == request.counter and current.last_stamp:
        previous = _issued(current.last_stamp)
        if previous.stamp.card_id == card_id:
            return previous  # the same request again (a retry): the same answer, never a second stamp
    await refuse_counter_regression(
        business_id=row["business"],
        card_id=card_id,
        device_id=device_id,
        counter=request.counter,
        now=now,
        asked_for="a stamp",
    )


@dataclass(frozen=True, slots=True)
class DeviceCounter:
    """Where a device's counter stands, and the stamp answered to it (None if it asked for something else)."""

    counter: int
    last_stamp: str | None


async def advance_counter(device_id: UUID, counter: int, *, last_stamp: str | None = None) -> DeviceCounter | None:
    """Move the device's counter up to `counter` in one conditional write; None when it moved.

    Stamps and redemption codes share this one rising counter per device. When the
    counter did not move, the device's current state comes back so the caller can tell a
    retry of the same request (answer it again) from a clone (`refuse_counter_regression`).
    `last_stamp` is the stamp answered to this counter; leave it None for anything else,
    so that a stamp request cannot pass as a retry of that counter.
    """
    if await Device.raw(_ADVANCE_SQL, counter, last_stamp, device_id, counter):
        return None
    current = await Device.select(Device.counter, Device.last_stamp).where(Device.id == device_id).first()
    assert current is not None
    return DeviceCounter(current["counter"], current["last_stamp"])


async def refuse_counter_regression(
    *,
    business_id: UUID,
    card_id: UUID,
    device_id: UUID,
    counter: int,
    now: datetime,
    asked_for: str,
) -> NoReturn:
    """A counter that repeats or goes back (T3): freeze the card, flag it, answer COUNTER_REGRESSED.

    The counter belongs to the phone, not to the card: a copy of the key can use any of
    its holder's cards, in any program. So every card of the phone's holder is frozen and
    flagged (each in its own business), not only the one that showed the signal.
    Call it outside any transaction that will roll back: the freeze and the flag must stay.
    """
    holder = Device.select(Device.customer).where(Device.id == device_id)
    cards = await Card.select(Card.id, Card.program.business.as_alias("business")).where(Card.customer.is_in(holder))
    # Each business reads only what it can see: the counter this request sent, never how far the phone's
    # counter had gone (that counts its use at every café), nor which other café's card showed the signal.
    evidence = {"device_id": str(device_id), "counter": counter}
    already = {
        stored_uuid(row["card"])
        for row in await Flag.select(Flag.card).where(
            Flag.card.is_in([card_id, *(stored_uuid(row["id"]) for row in cards)])
            & (Flag.rule == "counter_regression")
            & (Flag.status == "open")
        )
    }
    async with write_transaction():
        await Card.update({Card.status: "frozen"}).where(
            Card.id.is_in([card_id, *(row["id"] for row in cards)]) & (Card.status == "active")
        )
        for row in cards or [{"id": card_id, "business": business_id}]:
            this = stored_uuid(row["id"])
            if this in already:  # one open flag per card: a clone retrying must not flood the owner's queue
                continue
            same_business = stored_uuid(row["business"]) == business_id
            if this == card_id:
                explanation = (
                    f"Card {card_code(card_id)} asked for {asked_for} with counter {counter}, which its phone had "
                    "already passed: the phone's key may have been copied to another phone. The card is frozen "
                    "until you review it."
                )
            else:
                where = f"card {card_code(card_id)}" if same_business else "a card at another business"
                explanation = (
                    f"Card {card_code(this)} belongs to a phone that asked for {asked_for} on {where} with a "
                    "counter it had already passed: its key may have been copied. Every card of that phone is "
                    "frozen until you review it."
                )
            await raise_flag(
                business_id=stored_uuid(row["business"]),
                card_id=this,
                rule="counter_regression",
                severity="high",
                now=now,
                explanation=explanation,
                evidence=evidence,
            )
    raise DomainError(Problem.COUNTER_REGRESSED)
