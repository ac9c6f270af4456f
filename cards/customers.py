"""Customers and their bound phones: enrollment with a proof of possession, and cards.

A phone is bound by its public key. It proves it holds the private half by signing a
fresh, single-use challenge; only then does it get a customer id and a session.
"""

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import msgspec
from piccolo.custom_types import Combinable

from cards import risk
from cards.database import write_transaction
from cards.errors import DomainError
from cards.programs import program_open
from cards.tables import Card, Challenge, Customer, Device, Program
from crypto.encoding import EncodingError, b64u_decode
from crypto.jwk import DevicePublicKey, InvalidKey, InvalidSignature, load_device_key
from mobile_contract import customers as wire
from mobile_contract.problems import Problem

CHALLENGE_TTL = timedelta(minutes=2)


@dataclass(frozen=True, slots=True)
class BoundDevice:
    customer_id: UUID
    device_id: UUID


async def new_challenge(now: datetime) -> wire.Challenge:
    """A random single-use nonce for a phone to sign; expired ones are swept as new ones are made."""
    nonce = secrets.token_urlsafe(32)
    expires_at = now + CHALLENGE_TTL
    await Challenge.delete().where(Challenge.expires_at < now)
    await Challenge.insert(Challenge(nonce=nonce, expires_at=expires_at))
    return wire.Challenge(challenge=nonce, expires_at=expires_at)


async def _consume_challenge(nonce: str, now: datetime) -> None:
    # Deleting is the claim: a challenge serves one proof, however many requests race for it.
    used = (
        await Challenge.delete()
        .where((Challenge.nonce == nonce) & (Challenge.expires_at >= now))
        .returning(Challenge.id)
    )
    if not used:
        raise DomainError(Problem.INVALID_CHALLENGE)


def _verify_proof(key: DevicePublicKey, purpose: wire.ProofPurpose, challenge: str, signature: str) -> None:
    try:
        key.verify(b64u_decode(signature), wire.proof_message(purpose, challenge))
    except (EncodingError, InvalidSignature) as exc:
        raise DomainError(Problem.INVALID_PROOF) from exc


async def enroll(request: wire.Enrollment, now: datetime) -> BoundDevice:
    """Create a customer bound to the phone key that signed the challenge."""
    try:
        key = load_device_key(msgspec.to_builtins(request.public_key))
    except InvalidKey as exc:
        raise DomainError(Problem.INVALID_PUBLIC_KEY, str(exc)) from exc
    # The signature is checked before the challenge is spent, so a bad proof costs no write.
    _verify_proof(key, "enroll", request.challenge, request.signature)
    async with write_transaction():
        await _consume_challenge(request.challenge, now)
        if await Device.exists().where(Device.thumbprint == key.thumbprint):
            raise DomainError(Problem.DEVICE_ALREADY_ENROLLED)
        customer = Customer(
            display_name=request.display_name,
            email=request.email.lower() if request.email else None,
            phone=request.phone,
            birthday=request.birthday,
        )
        await customer.save()
        device = Device(
            customer=customer.id,
            thumbprint=key.thumbprint,
            algorithm=key.algorithm,
            public_key=msgspec.json.encode(key.jwk).decode(),
            counter=0,
        )
        await device.save()
    return BoundDevice(customer.id, device.id)


async def resume_session(request: wire.DeviceSessionRequest, now: datetime) -> BoundDevice:
    """A bound phone signs a fresh challenge to get a new session; unknown and revoked devices
    fail exactly like a bad signature, so ids cannot be probed (T13)."""
    row = (
        await Device.select(Device.customer, Device.public_key, Device.active)
        .where(Device.id == request.device_id)
        .first()
    )
    if row is None or not row["active"]:
        raise DomainError(Problem.INVALID_PROOF)
    key = proven_key(row["public_key"])
    _verify_proof(key, "session", request.challenge, request.signature)
    await _consume_challenge(request.challenge, now)
    return BoundDevice(row["customer"], request.device_id)


def stored_device_key(stored: Any) -> DevicePublicKey:
    """A device's public key as read back from its JSON column (text on SQLite, decoded on PostgreSQL).

    The key is checked again as it is loaded (T15): a key stored before a check existed, or
    written by an insider, raises InvalidKey like a bad one at enrollment."""
    return load_device_key(msgspec.json.decode(stored) if isinstance(stored, str | bytes) else stored)


def proven_key(stored: Any) -> DevicePublicKey:
    """`stored_device_key`, where a refused key proves nothing: INVALID_PROOF, as a bad signature."""
    try:
        return stored_device_key(stored)
    except InvalidKey as exc:
        raise DomainError(Problem.INVALID_PROOF) from exc


async def device_is_active(customer_id: UUID, device_id: UUID) -> bool:
    return await Device.exists().where(
        (Device.id == device_id) & (Device.customer == customer_id) & Device.active.eq(True)
    )


async def get_customer(customer_id: UUID) -> wire.Customer:
    row = await Customer.select().where(Customer.id == customer_id).first()
    if row is None:
        raise DomainError(Problem.NOT_FOUND, "No such customer")
    return wire.Customer(
        id=row["id"],
        display_name=row["display_name"],
        email=row["email"],
        phone=row["phone"],
        birthday=row["birthday"],
        created_at=row["created_at"],
    )


_CARD_COLUMNS = (
    Card.id,
    Card.program,
    Card.program.name.as_alias("program_name"),
    Card.program.reward_name.as_alias("reward_name"),
    Card.program.punches_per_reward.as_alias("punches_per_reward"),
    Card.status,
    Card.created_at,
)


def _card(row: dict[str, Any]) -> wire.Card:
    return wire.Card(
        id=row["id"],
        program_id=row["program"],
        program_name=row["program_name"],
        reward_name=row["reward_name"],
        punches_per_reward=row["punches_per_reward"],
        status=row["status"],
        created_at=row["created_at"],
    )


async def join_program(customer_id: UUID, program_id: UUID, now: datetime) -> wire.Card:
    """Give the customer a card in an active program; one card per program.

    A card sharing its customer's e-mail or phone with other cards of the program is flagged (T14)."""
    program = await Program.select(Program.active, Program.ends_at).where(Program.id == program_id).first()
    if program is None:
        raise DomainError(Problem.NOT_FOUND, "No such program")
    if not program_open(program["active"], program["ends_at"], now):
        raise DomainError(Problem.PROGRAM_INACTIVE)
    if await Card.exists().where((Card.customer == customer_id) & (Card.program == program_id)):
        raise DomainError(Problem.ALREADY_JOINED)
    card = Card(customer=customer_id, program=program_id)
    try:
        await card.save()
    except Exception as exc:  # the unique index caught a racing join
        if await Card.exists().where((Card.customer == customer_id) & (Card.program == program_id)):
            raise DomainError(Problem.ALREADY_JOINED) from exc
        raise
    await risk.assess_new_card(card.id, customer_id, program_id, now)
    return (await list_cards(customer_id, card_id=card.id))[0]


async def list_cards(customer_id: UUID, card_id: UUID | None = None) -> list[wire.Card]:
    where: Combinable = Card.customer == customer_id
    if card_id is not None:
        where &= Card.id == card_id
    rows = await Card.select(*_CARD_COLUMNS).where(where).order_by(Card.created_at)
    return [_card(row) for row in rows]
