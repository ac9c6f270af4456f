"""Moving a lost card to the customer's new phone (cards/phone_moves.py): what it changes, every
refusal, and finding a card by its code or its holder's e-mail or phone number."""

import base64
from dataclasses import replace
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest

from api.settings import Settings
from cards import phone_moves
from cards.errors import DomainError
from cards.flags import card_code
from cards.identity import StaffIdentity
from cards.tables import AuditLog, Card, Device, DeviceBlock, LedgerEntry, Staff
from mobile_contract.problems import Problem
from tests.support import (
    OWNER_EMAIL,
    PASSWORD,
    Cafe,
    Customer,
    FakeClock,
    Phone,
    bearer,
    cashier_at_till,
    challenge,
    enroll,
    new_customer,
    set_up_cafe,
)

Client = httpx.AsyncClient
REASON = "Lost her browser's data; checked the punches with her"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Sign-ins that last the days these tests' punches take (one a day)."""
    month = timedelta(days=30)
    return replace(settings, access_ttl=month, refresh_ttl=month, session_ttl=month)


async def honest_cafe(client: Client) -> Cafe:
    """A café whose risk rules leave a regular's daily punches alone."""
    cafe = await set_up_cafe(client)
    program = await client.patch(
        f"/v1/programs/{cafe.program_id}", headers=cafe.owner, json={"risk": {"concentration_min_punches": 10_000}}
    )
    assert program.status_code == 200, program.text
    return cafe


async def punch(client: Client, cashier: dict[str, str], customer: Customer, clock: FakeClock, count: int) -> None:
    """`count` honest visits, one a day."""
    for _ in range(count):
        scan = await client.post(
            "/v1/scans",
            headers=cashier,
            json={"stamp": await customer.stamp(), "receipt": {"reference": f"R-{uuid4().hex[:12]}"}},
        )
        assert scan.status_code == 201 and not scan.json()["flagged"], scan.text
        clock.advance(days=1)


async def resume(client: Client, customer: Customer) -> dict[str, Any]:
    """The phone signs a fresh challenge for a new session, as the app does when it opens."""
    nonce = await challenge(client)
    response = await client.post(
        "/v1/customers/sessions",
        json={
            "device_id": customer.session["device_id"],
            "challenge": nonce,
            "signature": customer.phone.prove("session", nonce),
        },
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def elsewhere(client: Client) -> dict[str, str]:
    """A second business with a program; returns its owner's headers and the program id."""
    from cards import staff

    code = await staff.new_business_code()
    setup = await client.post(
        "/v1/setup",
        json={
            "setup_code": code,
            "business_name": "Elsewhere",
            "name": "Eve",
            "email": "eve@else.test",
            "password": PASSWORD,
        },
    )
    assert setup.status_code == 201, setup.text
    login = await client.post("/v1/auth/login", json={"email": "eve@else.test", "password": PASSWORD})
    assert login.status_code == 200, login.text
    owner = bearer(login.json()["access_token"])
    program = await client.post(
        "/v1/programs", headers=owner, json={"name": "Tea card", "reward_name": "Free tea", "punches_per_reward": 8}
    )
    assert program.status_code == 201, program.text
    return {**owner, "program_id": program.json()["id"]}


async def join(client: Client, customer: Customer, program_id: str) -> str:
    card = await client.post("/v1/me/cards", headers=customer.headers, json={"program_id": program_id})
    assert card.status_code == 201, card.text
    return str(card.json()["id"])


async def identity(email: str = OWNER_EMAIL) -> StaffIdentity:
    row = await Staff.select(Staff.id, Staff.business, Staff.role).where(Staff.email == email).first()
    assert row is not None
    return StaffIdentity(staff_id=row["id"], business_id=row["business"], role=row["role"], store_id=None)


async def lost_and_new(client: Client, clock: FakeClock, punches: int = 3) -> tuple[Cafe, Customer, Customer]:
    """A customer whose card holds punches, and the new card they started on a new phone."""
    cafe = await honest_cafe(client)
    cashier = await cashier_at_till(cafe)
    device = Phone()
    # Enrolled by hand: `new_customer` takes its `phone` argument for the Phone itself.
    session = await enroll(client, device, display_name="Ada", email="ada@example.test", phone="+15551234567")
    old = Customer(client, device, session, "")
    old.card_id = await join(client, old, cafe.program_id)
    await punch(client, cashier, old, clock, punches)
    new = await new_customer(client, cafe, Phone())
    return cafe, old, new


async def _refusal(old: str, new: str, kind: Problem = Problem.PHONE_MOVE_REFUSED) -> str:
    before = await Device.select(Device.id, Device.customer).order_by(Device.id)
    with pytest.raises(DomainError) as refused:
        await phone_moves.move_to_new_phone(await identity(), UUID(old), UUID(new), REASON, FakeClock().now)
    assert refused.value.problem is kind
    assert await Device.select(Device.id, Device.customer).order_by(Device.id) == before, "nothing was moved"
    assert await DeviceBlock.count() == 0 and await AuditLog.count().where(AuditLog.action.like("card.%")) == 0
    return refused.value.detail


# --- the move ---------------------------------------------------------------------------------


async def test_the_move_hands_the_new_phone_the_old_card_and_logs_why(client: Client, clock: FakeClock) -> None:
    _, old, new = await lost_and_new(client, clock)
    actor = await identity()
    moved = await phone_moves.move_to_new_phone(actor, UUID(old.card_id), UUID(new.card_id), REASON, clock.now)

    old_device, new_device = UUID(old.session["device_id"]), UUID(new.session["device_id"])
    assert moved.device_id == new_device and moved.revoked_devices == [old_device]
    assert moved.closed_cards == [UUID(new.card_id)]
    device = await Device.select(Device.customer).where(Device.id == new_device).first()
    assert device == {"customer": UUID(old.session["customer_id"])}
    assert await Card.select(Card.status).where(Card.id == new.card_id).first() == {"status": "closed"}
    assert await DeviceBlock.select(DeviceBlock.device, DeviceBlock.reason) == [
        {"device": old_device, "reason": REASON}
    ]
    assert await LedgerEntry.count().where(LedgerEntry.card == old.card_id) == 3, "the ledger is untouched"
    log = {
        row["action"]: row
        for row in await AuditLog.select(AuditLog.action, AuditLog.subject_id, AuditLog.reason, AuditLog.actor).where(
            AuditLog.action.is_in(["card.move_to_new_phone", "card.close", "device.revoke"])
        )
    }
    assert set(log) == {"card.move_to_new_phone", "card.close", "device.revoke"}
    assert log["card.move_to_new_phone"]["subject_id"] == UUID(old.card_id)
    assert log["card.close"]["subject_id"] == UUID(new.card_id)
    assert {row["reason"] for row in log.values()} == {REASON}
    assert {row["actor"] for row in log.values()} == {actor.staff_id}

    # The new phone's next session is the old card's holder's: it lists the card with its punches.
    session = await resume(client, new)
    assert session["customer_id"] == old.session["customer_id"]
    cards = await client.get("/v1/me/cards", headers=bearer(session["session_token"]))
    assert [card["id"] for card in cards.json()] == [old.card_id]
    card = await client.get(f"/v1/me/cards/{old.card_id}", headers=bearer(session["session_token"]))
    assert card.json()["balance"] == 3
    # The new phone's session from before the move named the customer it no longer belongs to.
    assert (await client.get("/v1/me/cards", headers=new.headers)).status_code == 401


async def test_a_move_refuses_a_missing_or_blank_reason(client: Client, clock: FakeClock) -> None:
    _, old, new = await lost_and_new(client, clock, punches=1)
    with pytest.raises(DomainError) as refused:
        await phone_moves.move_to_new_phone(await identity(), UUID(old.card_id), UUID(new.card_id), "  ", clock.now)
    assert refused.value.problem is Problem.INVALID_REQUEST


async def test_a_move_to_the_same_card_or_customer_is_refused(client: Client, clock: FakeClock) -> None:
    cafe, old, _ = await lost_and_new(client, clock, punches=1)
    assert "cannot move to itself" in await _refusal(old.card_id, old.card_id)
    second = await client.post(
        "/v1/programs", headers=cafe.owner, json={"name": "Cake card", "reward_name": "Free cake"}
    )
    same_holder = await join(client, old, second.json()["id"])
    assert "already on the same phones" in await _refusal(old.card_id, same_holder)


async def test_another_business_card_reads_as_missing(client: Client, clock: FakeClock) -> None:
    _, old, _ = await lost_and_new(client, clock, punches=1)
    other = await elsewhere(client)
    stranger = await new_customer(client, other_cafe(client, other))
    await _refusal(old.card_id, stranger.card_id, Problem.NOT_FOUND)


def other_cafe(client: Client, other: dict[str, str]) -> Cafe:
    return Cafe(client, other["Authorization"].removeprefix("Bearer "), "", program_id=other["program_id"])


async def test_a_new_card_with_punches_is_refused(client: Client, clock: FakeClock) -> None:
    cafe, old, new = await lost_and_new(client, clock, punches=1)
    cashier = await cashier_at_till(cafe, "second@cafe.test")
    await punch(client, cashier, new, clock, 1)
    assert "not a fresh card" in await _refusal(old.card_id, new.card_id)


async def test_a_new_phone_holding_a_card_at_another_business_is_refused_without_saying_where(
    client: Client, clock: FakeClock
) -> None:
    _, old, new = await lost_and_new(client, clock, punches=1)
    other = await elsewhere(client)
    await join(client, new, other["program_id"])
    detail = await _refusal(old.card_id, new.card_id)
    assert "not a fresh card" in detail and "Elsewhere" not in detail


async def test_an_old_holder_with_cards_at_another_business_is_sent_to_the_operator(
    client: Client, clock: FakeClock
) -> None:
    _, old, new = await lost_and_new(client, clock, punches=1)
    other = await elsewhere(client)
    await join(client, old, other["program_id"])
    assert "ask PunchGuard's operator" in await _refusal(old.card_id, new.card_id)


async def test_a_new_customer_with_two_phones_is_refused(client: Client, clock: FakeClock) -> None:
    _, old, new = await lost_and_new(client, clock, punches=1)
    template = await Device.select().where(Device.id == new.session["device_id"]).first()
    assert template is not None
    await Device.insert(
        Device(
            customer=template["customer"],
            thumbprint="x" * 43,
            algorithm=template["algorithm"],
            public_key=template["public_key"],
        )
    )
    assert "has 2 phones" in await _refusal(old.card_id, new.card_id)


async def test_a_closed_old_card_is_refused(client: Client, clock: FakeClock) -> None:
    _, old, new = await lost_and_new(client, clock, punches=1)
    await Card.update({Card.status: "closed"}).where(Card.id == old.card_id)
    assert "is closed" in await _refusal(old.card_id, new.card_id)


async def test_a_frozen_old_card_may_move(client: Client, clock: FakeClock) -> None:
    """A card frozen while its punches are checked (the quarantine's advice) can still move."""
    _, old, new = await lost_and_new(client, clock, punches=1)
    await Card.update({Card.status: "frozen"}).where(Card.id == old.card_id)
    moved = await phone_moves.move_to_new_phone(
        await identity(), UUID(old.card_id), UUID(new.card_id), REASON, clock.now
    )
    assert moved.customer_id == UUID(old.session["customer_id"])


# --- finding cards ----------------------------------------------------------------------------


def test_a_code_prefix_is_one_range_of_ids() -> None:
    for _ in range(200):
        card_id = uuid4()
        spelled = base64.b32encode(card_id.bytes).decode().rstrip("=")
        for length in (4, 7, 13, 26):
            low, high = phone_moves._id_range(spelled[:length])
            assert low <= card_id <= high, (card_id, length)
        assert phone_moves._id_range(spelled) == (card_id, card_id)
    assert phone_moves.code_prefix(" 7f-3k ") == "7F3K"
    assert phone_moves.code_prefix("7F3") is None and phone_moves.code_prefix("7F3K1") is None


async def test_cards_are_found_by_code_email_or_phone_and_only_this_business(client: Client, clock: FakeClock) -> None:
    cafe, old, new = await lost_and_new(client, clock, punches=1)
    other = await elsewhere(client)
    stranger = await new_customer(client, other_cafe(client, other), email="ada@example.test")
    business = UUID(cafe.business_id)

    code = card_code(UUID(old.card_id))
    by_code = await phone_moves.find_cards(business, f"{code[:2].lower()}-{code[2:]}")
    assert UUID(old.card_id) in {m.card_id for m in by_code}
    longer = base64.b32encode(UUID(old.card_id).bytes).decode()[:9]
    assert [m.card_id for m in await phone_moves.find_cards(business, longer)] == [UUID(old.card_id)]
    [by_email] = await phone_moves.find_cards(business, "  ADA@example.test ")
    assert (by_email.card_id, by_email.holder_name, by_email.program_name) == (UUID(old.card_id), "Ada", "Coffee card")
    assert [m.card_id for m in await phone_moves.find_cards(business, "+1 555 123-4567")] == [UUID(old.card_id)]
    stranger_code = card_code(UUID(stranger.card_id))
    assert UUID(stranger.card_id) not in {m.card_id for m in await phone_moves.find_cards(business, stranger_code)}
    assert await phone_moves.find_cards(business, "nobody@example.test") == []

    fresh = await phone_moves.fresh_cards(business, UUID(old.card_id), clock.now)
    assert [m.card_id for m in fresh] == [UUID(new.card_id)], "the new, unpunched card; not the old one itself"
