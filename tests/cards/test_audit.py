"""The audit before a free item looks past the signature: even a row signed with the server's key
must be a two-sided punch, from a distinct stamp of the holder's phone, at a consistent time.

A card gets nine punches at the till; the tenth is appended with the server's own keyring
(as a bug or a stolen key would), with one thing wrong, and the audit must name it.
"""

from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest

from cards.audit import audit_card
from cards.ledger import Entry
from cards.punches import card_head, insert_entry
from cards.tables import Customer, Device, LedgerEntry, Redemption
from crypto.keyring import Keyring
from tests.support import FakeClock, cashier_at_till, new_customer, set_up_cafe


@pytest.fixture
async def card(client: httpx.AsyncClient, clock: FakeClock) -> UUID:
    """A card with nine honest punches, a minute apart (the cooldown), within a sign-in."""
    cafe = await set_up_cafe(client)
    await client.patch(f"/v1/stores/{cafe.store_id}", headers=cafe.owner, json={"opening_hours": []})
    await client.patch(f"/v1/programs/{cafe.program_id}", headers=cafe.owner, json={"daily_cap": 100})
    cashier = await cashier_at_till(cafe)
    customer = await new_customer(client, cafe)
    for visit in range(9):
        scan = await client.post(
            "/v1/scans",
            headers=cashier,
            json={"stamp": await customer.stamp(), "receipt": {"reference": f"R-{visit}"}},
        )
        assert scan.status_code == 201 and not scan.json()["flagged"], scan.text
        clock.advance(seconds=61)
    return UUID(customer.card_id)


async def _append(card_id: UUID, keyring: Keyring, clock: FakeClock, **changes: Any) -> None:
    """Append a tenth punch like the ninth, signed with the server's key, with `changes`."""
    model = await LedgerEntry.select().where(LedgerEntry.card == card_id).order_by(LedgerEntry.seq, ascending=False)
    seq, prev_hash = await card_head(card_id)
    fields: dict[str, Any] = {
        "card": card_id,
        "seq": seq + 1,
        "kind": "punch",
        "recorded_at": clock.now,
        "prev_hash": prev_hash,
        "stamp_id": uuid4().hex[:16],
        "device": model[0]["device"],
        "store": model[0]["store"],
        "scanner": model[0]["scanner"],
        "staff": model[0]["staff"],
        "receipt": "R-10",
        "stamp_issued_at": clock.now - timedelta(seconds=3),
    }
    await insert_entry(Entry(**(fields | changes)), uuid4(), keyring, business_id=model[0]["business"])


async def test_nine_honest_punches_and_a_tenth_alike_pass(card: UUID, keyring: Keyring, clock: FakeClock) -> None:
    await _append(card, keyring, clock)
    audit = await audit_card(card, keyring, clock.now)
    assert audit.reasons == [] and audit.passed
    assert len(audit.punches) == 10


async def test_nine_punches_are_not_enough(card: UUID, keyring: Keyring, clock: FakeClock) -> None:
    audit = await audit_card(card, keyring, clock.now)
    assert audit.reasons == [] and not audit.passed and not audit.enough_punches


async def test_a_punch_with_a_stale_stamp_is_named(card: UUID, keyring: Keyring, clock: FakeClock) -> None:
    await _append(card, keyring, clock, stamp_issued_at=clock.now - timedelta(minutes=10))
    audit = await audit_card(card, keyring, clock.now)
    assert audit.reasons == [
        "Punch #10 was recorded 600 s after its stamp was issued; "
        "a stamp lives at most 120 s, plus 5 s of clock leeway."
    ]
    assert not audit.passed


async def test_a_punch_stamped_after_it_was_recorded_is_named(card: UUID, keyring: Keyring, clock: FakeClock) -> None:
    await _append(card, keyring, clock, stamp_issued_at=clock.now + timedelta(seconds=30))
    assert (await audit_card(card, keyring, clock.now)).reasons == [
        "Punch #10 was recorded before its stamp was issued."
    ]


async def test_a_punch_without_a_cashier_or_from_a_stranger_phone_is_named(
    card: UUID, keyring: Keyring, clock: FakeClock
) -> None:
    stranger = Customer()
    await stranger.save()
    phone = Device(customer=stranger.id, thumbprint="x" * 43, algorithm="Ed25519", public_key={})
    await phone.save()
    await _append(card, keyring, clock, staff=None, device=phone.id, stamp_id=None)
    assert (await audit_card(card, keyring, clock.now)).reasons == [
        "Punch #10 has no stamp: no phone asked for it.",
        "Punch #10 did not come from a phone of the card's holder.",
        "Punch #10 has no store, scanner or cashier on record: a punch needs both sides.",
    ]


async def test_a_granted_free_item_missing_from_the_ledger_is_named(
    card: UUID, keyring: Keyring, clock: FakeClock
) -> None:
    """An insider deleted a free item's redeem entry (the card's last, so the chain still links up)."""
    model = await LedgerEntry.select(LedgerEntry.device).where(LedgerEntry.card == card).first()
    assert model is not None
    await Redemption.insert(
        Redemption(
            card=card,
            device=model["device"],
            code_hash="0" * 64,
            counter=99,
            status="granted",
            requested_at=clock.now,
            expires_at=clock.now + timedelta(seconds=60),
            decided_at=clock.now,
            entry=uuid4(),
        )
    )
    await _append(card, keyring, clock)
    audit = await audit_card(card, keyring, clock.now)
    missing = (
        f"The card's ledger failed its check: the free item granted on {clock.now:%Y-%m-%d} "
        "is missing from the card's ledger."
    )
    assert audit.reasons == audit.ledger_problems == [missing]
    assert not audit.passed


async def test_a_redeem_entry_with_unreadable_used_punches_is_a_ledger_problem(
    card: UUID, keyring: Keyring, clock: FakeClock
) -> None:
    await _append(
        card, keyring, clock, kind="redeem", consumes="not-a-punch", stamp_id=None, receipt=None, stamp_issued_at=None
    )
    audit = await audit_card(card, keyring, clock.now)
    assert (
        audit.reasons
        == audit.ledger_problems
        == [
            "The card's ledger failed its check: entry #10 names the punches its free item used up "
            "in a form that cannot be read."
        ]
    )
