"""The ledger as written through the API verifies when read back, and every kind of tampering is named (T10).

Each test punches a card three times at the till and refunds one purchase, then edits the
`ledger_entry` rows directly, as an insider with database access could, reads the card's
rows back and checks what `verify_chain` reports. Reading back also checks that the engine
returns exactly what was hashed: a time that came back rounded would break the chain.
"""

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest

from cards.ledger import Entry, load_chain, seal, verify_chain
from cards.tables import LedgerEntry
from crypto.encoding import b64u_encode
from crypto.keyring import Keyring, load_or_create_keyring
from tests.support import FakeClock, cashier_at_till, new_customer, set_up_cafe


@dataclass(frozen=True)
class Ledger:
    """A card with three punches (R-1, R-2, R-3) and the refund of R-1: four entries."""

    card_id: UUID
    punched_at: list[datetime]
    voided_at: datetime

    async def entry_id(self, seq: int) -> UUID:
        return next(stored.id for stored in await load_chain(self.card_id) if stored.entry.seq == seq)


@pytest.fixture
async def ledger(client: httpx.AsyncClient, clock: FakeClock) -> Ledger:
    # A real clock has microseconds; the test clock starts on a whole second.
    clock.advance(microseconds=123_457)
    cafe = await set_up_cafe(client)
    cashier = await cashier_at_till(cafe)
    customer = await new_customer(client, cafe)
    punched_at = []
    for receipt in ("R-1", "R-2", "R-3"):
        stamp = await customer.stamp()
        scan = await client.post(
            "/v1/scans", headers=cashier, json={"stamp": stamp, "receipt": {"reference": receipt, "amount_cents": 450}}
        )
        assert scan.status_code == 201 and not scan.json()["flagged"], scan.text
        punched_at.append(clock.now)
        clock.advance(minutes=2, microseconds=1)
    void = await client.post("/v1/punches/void", headers=cafe.owner, json={"receipt": "R-1", "store_id": cafe.store_id})
    assert void.status_code == 200, void.text
    return Ledger(UUID(customer.card_id), punched_at, clock.now)


async def _set(entry_id: UUID, values: dict[Any, Any]) -> None:
    await LedgerEntry.update(values).where(LedgerEntry.id == entry_id)


def _rogue_keyring(tmp_path: Path) -> Keyring:
    """A key an insider made: well-formed, but not in the server's keyring."""
    return load_or_create_keyring(tmp_path / "rogue-keyring.json")


async def test_a_chain_written_through_the_api_reads_back_intact(ledger: Ledger, keyring: Keyring) -> None:
    chain = await load_chain(ledger.card_id)
    assert [(stored.entry.seq, stored.entry.kind, stored.entry.receipt) for stored in chain] == [
        (1, "punch", "R-1"),
        (2, "punch", "R-2"),
        (3, "punch", "R-3"),
        (4, "void", None),
    ]
    assert [stored.entry.recorded_at for stored in chain] == [*ledger.punched_at, ledger.voided_at]
    assert chain[3].entry.voids == chain[0].id
    assert all(stored.kid == keyring.active.kid for stored in chain)
    assert verify_chain(chain, keyring) == []


async def test_every_time_reads_back_exactly_as_it_was_hashed(ledger: Ledger) -> None:
    for stored in await load_chain(ledger.card_id):
        assert stored.entry.digest() == stored.entry_hash, f"entry #{stored.entry.seq}: {stored.entry}"
        for moment in (stored.entry.recorded_at, stored.entry.stamp_issued_at):
            assert moment is None or moment.utcoffset() is not None


async def test_an_edited_receipt_is_a_hash_mismatch(ledger: Ledger, keyring: Keyring) -> None:
    await _set(await ledger.entry_id(2), {LedgerEntry.receipt: "R-2-EDITED"})
    problems = verify_chain(await load_chain(ledger.card_id), keyring)
    assert problems == ["entry #2 was altered after it was written (hash mismatch)"]


async def test_a_deleted_middle_entry_leaves_the_next_out_of_place_and_the_chain_broken(
    ledger: Ledger, keyring: Keyring
) -> None:
    await LedgerEntry.delete().where(LedgerEntry.id == await ledger.entry_id(2))
    problems = verify_chain(await load_chain(ledger.card_id), keyring)
    assert problems == [
        "entry #3 is out of place: expected #2 (an entry was removed or inserted)",
        "entry #3 does not follow the entry before it (chain broken)",
        "entry #4 is out of place: expected #3 (an entry was removed or inserted)",
    ]


async def test_two_entries_with_swapped_seq_break_the_chain_and_their_hashes(ledger: Ledger, keyring: Keyring) -> None:
    second, third = await ledger.entry_id(2), await ledger.entry_id(3)
    await _set(second, {LedgerEntry.seq: 0})  # (card, seq) is unique: swap through a free number
    await _set(third, {LedgerEntry.seq: 2})
    await _set(second, {LedgerEntry.seq: 3})
    chain = await load_chain(ledger.card_id)
    assert [stored.id for stored in chain[1:3]] == [third, second]
    assert verify_chain(chain, keyring) == [
        "entry #2 does not follow the entry before it (chain broken)",
        "entry #2 was altered after it was written (hash mismatch)",
        "entry #3 does not follow the entry before it (chain broken)",
        "entry #3 was altered after it was written (hash mismatch)",
        "entry #4 does not follow the entry before it (chain broken)",
    ]


async def test_a_signature_by_another_key_is_not_a_server_signature(
    ledger: Ledger, keyring: Keyring, tmp_path: Path
) -> None:
    chain = await load_chain(ledger.card_id)
    third = chain[2]
    forged = b64u_encode(_rogue_keyring(tmp_path).sign(bytes.fromhex(third.entry_hash)))
    await _set(third.id, {LedgerEntry.signature: forged})  # the kid still names the server's key
    problems = verify_chain(await load_chain(ledger.card_id), keyring)
    assert problems == ["entry #3 carries no valid server signature"]


async def test_an_appended_entry_signed_by_a_key_outside_the_keyring_is_named(
    ledger: Ledger, keyring: Keyring, tmp_path: Path
) -> None:
    head = (await load_chain(ledger.card_id))[-1]
    rogue = _rogue_keyring(tmp_path)
    assert keyring.public_key(rogue.active.kid) is None
    entry = Entry(
        card=ledger.card_id,
        seq=head.entry.seq + 1,
        kind="punch",
        recorded_at=ledger.voided_at,
        prev_hash=head.entry_hash,  # correctly chained: only the signature gives it away
        store=head.entry.store,
        receipt="R-FORGED",
    )
    sealed = seal(entry, rogue)
    own = await LedgerEntry.select(LedgerEntry.business).where(LedgerEntry.card == ledger.card_id).first()
    assert own is not None
    await LedgerEntry.insert(
        LedgerEntry(
            id=uuid4(),
            card=entry.card,
            business=own["business"],
            seq=entry.seq,
            kind=entry.kind,
            store=entry.store,
            receipt=entry.receipt,
            recorded_at=entry.recorded_at,
            prev_hash=entry.prev_hash,
            entry_hash=sealed.entry_hash,
            kid=sealed.kid,
            signature=sealed.signature,
        )
    )
    chain = await load_chain(ledger.card_id)
    assert len(chain) == 5 and chain[-1].entry == entry
    assert verify_chain(chain, keyring) == ["entry #5 carries no valid server signature"]
