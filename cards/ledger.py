"""A card's ledger: append-only entries, each signed by the server and chained by hash (T10).

An entry's hash covers its canonical encoding and the previous entry's hash; the server
signs the hash with a key that lives outside the database. Editing, inserting, removing
or reordering rows therefore breaks a signature or the chain, which `verify_chain` names.
"""

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec
from cryptography.exceptions import InvalidSignature

from cards.database import stored_time, stored_uuid
from cards.tables import LedgerEntry
from crypto.encoding import EncodingError, b64u_decode, b64u_encode
from crypto.keyring import Keyring

GENESIS_HASH = "0" * 64
_CONTEXT = b"punchguard-ledger-v1\n"


class EntryBody(msgspec.Struct, frozen=True, array_like=True):
    """What an entry's hash covers, in a fixed order; times as integer microseconds.

    A field added later goes last and is left out of the hashed array while it is empty
    (see `Entry.digest`), so entries written before the field existed keep their hash.
    """

    card: str
    seq: int
    kind: str
    stamp_id: str | None
    device: str | None
    store: str | None
    scanner: str | None
    staff: str | None
    receipt: str | None
    amount_cents: int | None
    items: int | None
    voids: str | None
    stamp_issued_at_us: int | None
    recorded_at_us: int
    prev_hash: str
    consumes: str | None = None


_encoder = msgspec.json.Encoder()


def _us(moment: datetime | None) -> int | None:
    return None if moment is None else round(moment.timestamp() * 1_000_000)


def _str(value: UUID | None) -> str | None:
    return None if value is None else str(value)


@dataclass(frozen=True, slots=True)
class Entry:
    """A ledger entry as stored; `body()` rebuilds exactly what was hashed."""

    card: UUID
    seq: int
    kind: str
    recorded_at: datetime
    prev_hash: str
    stamp_id: str | None = None
    device: UUID | None = None
    store: UUID | None = None
    scanner: UUID | None = None
    staff: UUID | None = None
    receipt: str | None = None
    amount_cents: int | None = None
    items: int | None = None
    voids: UUID | None = None
    stamp_issued_at: datetime | None = None
    consumes: str | None = None

    def body(self) -> EntryBody:
        recorded = _us(self.recorded_at)
        assert recorded is not None
        return EntryBody(
            str(self.card),
            self.seq,
            self.kind,
            self.stamp_id,
            _str(self.device),
            _str(self.store),
            _str(self.scanner),
            _str(self.staff),
            self.receipt,
            self.amount_cents,
            self.items,
            _str(self.voids),
            _us(self.stamp_issued_at),
            recorded,
            self.prev_hash,
            self.consumes,
        )

    def digest(self) -> str:
        fields = msgspec.structs.astuple(self.body())
        if fields[-1] is None:  # `consumes`, added later: absent from entries that have none
            fields = fields[:-1]
        return hashlib.sha256(_CONTEXT + _encoder.encode(fields)).hexdigest()


@dataclass(frozen=True, slots=True)
class Sealed:
    entry_hash: str
    kid: str
    signature: str


def seal(entry: Entry, keyring: Keyring) -> Sealed:
    """Hash and sign an entry with the active server key."""
    digest = entry.digest()
    return Sealed(digest, keyring.active.kid, b64u_encode(keyring.sign(bytes.fromhex(digest))))


@dataclass(frozen=True, slots=True)
class StoredEntry:
    id: UUID
    entry: Entry
    entry_hash: str
    kid: str
    signature: str


def verify_chain(entries: list[StoredEntry], keyring: Keyring) -> list[str]:
    """Check one card's entries in `seq` order; return what is wrong, in plain words (empty if intact)."""
    problems: list[str] = []
    expected_prev = GENESIS_HASH
    for position, stored in enumerate(entries, start=1):
        entry = stored.entry
        label = f"entry #{entry.seq}"
        if entry.seq != position:
            problems.append(f"{label} is out of place: expected #{position} (an entry was removed or inserted)")
        if entry.prev_hash != expected_prev:
            problems.append(f"{label} does not follow the entry before it (chain broken)")
        if entry.digest() != stored.entry_hash:
            problems.append(f"{label} was altered after it was written (hash mismatch)")
        key = keyring.public_key(stored.kid)
        try:
            if key is None:
                raise InvalidSignature
            key.verify(b64u_decode(stored.signature), bytes.fromhex(stored.entry_hash))
        except (ValueError, EncodingError, InvalidSignature):
            problems.append(f"{label} carries no valid server signature")
        expected_prev = stored.entry_hash
    return problems


def stored_entry(row: dict[str, Any]) -> StoredEntry:
    """A `ledger_entry` row (from `LedgerEntry.select()`) as `verify_chain` takes it."""
    card, recorded_at, entry_id = stored_uuid(row["card"]), stored_time(row["recorded_at"]), stored_uuid(row["id"])
    assert card is not None and recorded_at is not None and entry_id is not None
    entry = Entry(
        card=card,
        seq=row["seq"],
        kind=row["kind"],
        recorded_at=recorded_at,
        prev_hash=row["prev_hash"],
        stamp_id=row["stamp_id"],
        device=stored_uuid(row["device"]),
        store=stored_uuid(row["store"]),
        scanner=stored_uuid(row["scanner"]),
        staff=stored_uuid(row["staff"]),
        receipt=row["receipt"],
        amount_cents=row["amount_cents"],
        items=row["items"],
        voids=stored_uuid(row["voids"]),
        stamp_issued_at=stored_time(row["stamp_issued_at"]),
        consumes=row["consumes"],
    )
    return StoredEntry(entry_id, entry, row["entry_hash"], row["kid"], row["signature"])


async def load_chain(card_id: UUID) -> list[StoredEntry]:
    """A card's ledger rows, in `seq` order, as `verify_chain` takes them."""
    rows: list[dict[str, Any]] = await LedgerEntry.select().where(LedgerEntry.card == card_id).order_by(LedgerEntry.seq)
    return [stored_entry(row) for row in rows]
