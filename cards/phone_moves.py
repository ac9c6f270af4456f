"""Moving a customer's balance to the new phone they started after losing their card's key.

A web card keeps its phone key in the browser. When the browser loses it (site data cleared,
storage evicted), the customer enrolls again: a new key, so a new customer record with a new,
empty card, while the old card keeps its punches on the server. The punches cannot be copied
over: each is a signed ledger entry whose phone the audit before a free item checks against
the card's holder (cards/audit.py), so rewriting them would read as tampering (T10). Instead
the new phone is moved to the old card's holder: its Device row names the old customer, the
old (lost) phones are revoked for this business, and the new, empty card is closed. The old
card's punches still come from a phone of its holder, and the new phone's next session is the
old customer's, so the card shows up on it with its balance.

It is refused whenever it could hand a phone more than the one card the owner looked at: the
new card must be fresh (no punches, no cards at another business, one phone), and the old
card's holder may hold no card at another business (moving a phone into that customer would
give it another café's cards too; PunchGuard's operator can sort that out).
"""

import base64
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from cards.audit_log import record_action
from cards.database import stored_uuid, write_transaction
from cards.errors import DomainError
from cards.flags import card_code
from cards.identity import StaffIdentity
from cards.tables import Card, Customer, Device, DeviceBlock, LedgerEntry
from mobile_contract.problems import Problem

# The base32 alphabet of a card's code, and the most of it a 16-byte id spells (26 characters, the
# last one carrying 3 bits).
_BASE32 = re.compile(r"^[A-Z2-7]+$")
_CODE_CHARS = 26
# A code shorter than the one the console shows would match too many cards to be useful.
MIN_CODE_CHARS = 4
_PHONE = re.compile(r"^\+[1-9][0-9]{6,14}$")
# How recent a card must be to be offered as the new card in the move form.
FRESH_DAYS = 30


@dataclass(frozen=True, slots=True)
class MovedPhone:
    """What a move did: which phone now holds the old card, and what was revoked and closed."""

    old_card_id: UUID
    customer_id: UUID
    device_id: UUID
    revoked_devices: list[UUID]
    closed_cards: list[UUID]


@dataclass(frozen=True, slots=True)
class CardMatch:
    """One card as the console's search lists it."""

    card_id: UUID
    code: str
    program_id: UUID
    program_name: str
    holder_name: str | None
    status: str
    created_at: datetime


def _refused(detail: str) -> DomainError:
    return DomainError(Problem.PHONE_MOVE_REFUSED, detail)


async def _business_card(business_id: UUID, card_id: UUID) -> dict[str, Any]:
    row = await (
        Card.select(Card.id, Card.customer, Card.program, Card.status)
        .where((Card.id == card_id) & (Card.program._.business == business_id))
        .first()
    )
    if row is None:  # another business's card reads as missing (T13, T20)
        raise DomainError(Problem.NOT_FOUND, f"No card {card_code(card_id)} at this business")
    return row


async def move_to_new_phone(
    actor: StaffIdentity, old_card_id: UUID, new_card_id: UUID, reason: str, now: datetime
) -> MovedPhone:
    """Move the phone holding `new_card_id` (a fresh card the customer started after losing their
    key) to the holder of `old_card_id`: that phone then holds the old card with its punches.

    The customer's other phones are revoked for this business (the lost key must not come back
    to use the balance), and every card of the new phone's customer, all of them empty and at
    this business, is closed. Checked and written in one write transaction, with one audit entry
    per change. Owners and managers only (the caller's guard). Refused in words:
    PHONE_MOVE_REFUSED, or NOT_FOUND for a card that is not this business's.
    """
    why = reason.strip()
    if not why:
        raise DomainError(Problem.INVALID_REQUEST, "Give a reason: it is kept in the audit log.")
    business = actor.business_id
    async with write_transaction():
        old = await _business_card(business, old_card_id)
        new = await _business_card(business, new_card_id)
        old_code, new_code = card_code(old_card_id), card_code(new_card_id)
        old_customer, new_customer = stored_uuid(old["customer"]), stored_uuid(new["customer"])
        if old_card_id == new_card_id:
            raise _refused(f"Card {old_code} cannot move to itself: give the code of the card the new phone started.")
        if old_customer == new_customer:
            raise _refused(f"Cards {old_code} and {new_code} are already on the same phones: there is nothing to move.")
        if old["status"] == "closed":
            raise _refused(f"Card {old_code} is closed: its balance cannot move to a new phone.")
        if new["status"] == "closed":
            raise _refused(f"Card {new_code} is closed: the new phone's card must be an open one.")
        if old["program"] != new["program"]:
            raise _refused(
                f"Cards {old_code} and {new_code} belong to different programs: the new card must be in the same one."
            )

        # The new phone's customer: fresh, one phone, cards only here and all of them empty. The
        # reasons are told together, so the answer says nothing of another business (T20).
        new_cards = await Card.select(Card.id, Card.program._.business.as_alias("business")).where(
            Card.customer == new_customer
        )
        new_card_ids = [stored_uuid(row["id"]) for row in new_cards]
        elsewhere = any(stored_uuid(row["business"]) != business for row in new_cards)
        punched = await LedgerEntry.exists().where(LedgerEntry.card.is_in(new_card_ids))
        if elsewhere or punched:
            raise _refused(
                f"Card {new_code} is not a fresh card: its phone already collected punches or holds other "
                "cards. Only a new card that has never been punched can take over a lost card's balance."
            )
        phones = await Device.select(Device.id).where(Device.customer == new_customer)
        if len(phones) != 1:
            raise _refused(
                f"Card {new_code}'s holder has {len(phones)} phones: a move takes exactly one new phone. "
                "Ask the customer which phone to keep."
            )
        device_id = stored_uuid(phones[0]["id"])

        # The old card's holder: a phone moved into them gets all their cards, so all must be here.
        if await Card.exists().where((Card.customer == old_customer) & (Card.program._.business != business)):
            raise _refused(
                f"Card {old_code}'s holder also uses PunchGuard elsewhere, so moving a phone to them cannot "
                "be done from this console: ask PunchGuard's operator."
            )

        lost = [
            stored_uuid(row["id"])
            for row in await Device.select(Device.id).where(Device.customer == old_customer)
            if stored_uuid(row["id"]) != device_id
        ]
        already = (
            {
                stored_uuid(row["device"])
                for row in await DeviceBlock.select(DeviceBlock.device).where(
                    (DeviceBlock.business == business) & DeviceBlock.device.is_in(lost)
                )
            }
            if lost
            else set()
        )
        revoked = [d for d in lost if d not in already]
        for lost_device in revoked:
            await DeviceBlock.insert(DeviceBlock(device=lost_device, business=business, reason=why, at=now))
            await record_action(
                actor=actor,
                action="device.revoke",
                subject_kind="device",
                subject_id=lost_device,
                reason=why,
                now=now,
                details={"moved_to_new_phone": str(device_id), "card_id": str(old_card_id)},
            )
        closed = (
            await Card.update({Card.status: "closed"})
            .where((Card.customer == new_customer) & (Card.status != "closed"))
            .returning(Card.id)
        )
        closed_ids = [stored_uuid(row["id"]) for row in closed]
        for card_id in closed_ids:
            await record_action(
                actor=actor,
                action="card.close",
                subject_kind="card",
                subject_id=card_id,
                reason=why,
                now=now,
                details={"moved_to_card": str(old_card_id), "device_id": str(device_id)},
            )
        await Device.update({Device.customer: old_customer}).where(Device.id == device_id)
        await record_action(
            actor=actor,
            action="card.move_to_new_phone",
            subject_kind="card",
            subject_id=old_card_id,
            reason=why,
            now=now,
            details={
                "new_card_id": str(new_card_id),
                "device_id": str(device_id),
                "from_customer": str(new_customer),
                "revoked_devices": [str(d) for d in revoked],
                "closed_cards": [str(c) for c in closed_ids],
            },
        )
    return MovedPhone(old_card_id, old_customer, device_id, revoked, closed_ids)


# --- finding cards -----------------------------------------------------------------------------


def code_prefix(query: str) -> str | None:
    """A typed card code as base32 (upper case, spaces and dashes dropped), or None if it is not one."""
    text = re.sub(r"[\s-]+", "", query).upper()
    if len(text) < MIN_CODE_CHARS or len(text) > _CODE_CHARS or not _BASE32.match(text):
        return None
    return text


def _id_range(prefix: str) -> tuple[UUID, UUID]:
    """The ids whose base32 spelling starts with `prefix`: one range, so the database's primary key
    index finds them (both engines order UUIDs by their bytes: text of lower-case hex on SQLite)."""
    bits = 5 * len(prefix)
    padded = prefix + "A" * (-len(prefix) % 8)
    value = int.from_bytes(base64.b32decode(padded), "big") >> (5 * (len(padded) - len(prefix)))
    if bits > 128:
        low = value >> (bits - 128)
        return UUID(int=low), UUID(int=low)
    low = value << (128 - bits)
    return UUID(int=low), UUID(int=low | ((1 << (128 - bits)) - 1))


def _contact(query: str) -> tuple[str | None, str | None]:
    """The query as an e-mail (lower case, as enrollment stores it) or an E.164 phone number."""
    text = query.strip()
    if "@" in text:
        return text.lower(), None
    phone = re.sub(r"[\s().-]+", "", text)
    if phone.startswith("00"):
        phone = "+" + phone[2:]
    return None, phone if _PHONE.match(phone) else None


_MATCH_COLUMNS = (
    Card.id,
    Card.program,
    Card.program.name.as_alias("program_name"),
    Card.customer.display_name.as_alias("holder_name"),
    Card.status,
    Card.created_at,
)


def _match(row: dict[str, Any]) -> CardMatch:
    card_id = stored_uuid(row["id"])
    return CardMatch(
        card_id=card_id,
        code=card_code(card_id),
        program_id=stored_uuid(row["program"]),
        program_name=row["program_name"],
        holder_name=row["holder_name"],
        status=row["status"],
        created_at=row["created_at"],
    )


async def find_cards(business_id: UUID, query: str, limit: int = 50) -> list[CardMatch]:
    """This business's cards whose code starts with the query (base32, any case, spaces and dashes
    ignored, at least 4 characters), or whose holder's e-mail or phone number is the query;
    newest first, at most `limit`. Every condition is one indexed query on its own."""
    found: dict[UUID, CardMatch] = {}
    of_business = Card.program._.business == business_id
    prefix = code_prefix(query)
    if prefix is not None:
        low, high = _id_range(prefix)
        rows = await (
            Card.select(*_MATCH_COLUMNS)
            .where(of_business & (Card.id >= low) & (Card.id <= high))
            .order_by(Card.created_at, ascending=False)
            .limit(limit)
        )
        for row in rows:
            match = _match(row)
            # The range is exact; checking the spelling again costs nothing and guards an engine's ordering.
            if base64.b32encode(match.card_id.bytes).decode().startswith(prefix):
                found[match.card_id] = match
    email, phone = _contact(query)
    if email is not None or phone is not None:
        holders = await Customer.select(Customer.id).where(
            Customer.email == email if email is not None else Customer.phone == phone
        )
        if holders:
            rows = await (
                Card.select(*_MATCH_COLUMNS)
                .where(of_business & Card.customer.is_in([row["id"] for row in holders]))
                .order_by(Card.created_at, ascending=False)
                .limit(limit)
            )
            found.update((m.card_id, m) for m in map(_match, rows))
    return sorted(found.values(), key=lambda m: m.created_at, reverse=True)[:limit]


async def fresh_cards(business_id: UUID, old_card_id: UUID, now: datetime, limit: int = 50) -> list[CardMatch]:
    """The cards the move form offers for `old_card_id`: open cards of its program made in the last
    30 days, not its holder's, that were never punched; newest first."""
    old = await _business_card(business_id, old_card_id)
    rows = await (
        Card.select(*_MATCH_COLUMNS)
        .where(
            (Card.program == old["program"])
            & (Card.customer != old["customer"])
            & (Card.status != "closed")
            & (Card.created_at >= now - timedelta(days=FRESH_DAYS))
        )
        .order_by(Card.created_at, ascending=False)
        .limit(limit * 4)
    )
    ids = [stored_uuid(row["id"]) for row in rows]
    punched = (
        {
            stored_uuid(row["card"])
            for row in await LedgerEntry.select(LedgerEntry.card).where(LedgerEntry.card.is_in(ids))
        }
        if ids
        else set()
    )
    return [m for m in map(_match, rows) if m.card_id not in punched][:limit]
