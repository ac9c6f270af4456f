"""A year of a three-store café chain at size, built fast: 100,000 cards and 1,000,000 punches,
with refunds, free items, flags the owner rejected and flags still open, written straight into
the database (not through HTTP), for `bench/metrics_at_size.py`.

Every row is what the server itself would have written: each card's ledger is chained and signed
with the server's keyring (`cards.ledger.seal`), each free item consumes ten counted punches and
has its redemption and redeemed-punch rows, each flag names its punch, and each rejected flag's
punch is voided by a void entry. The same rows go into SQLite and into PostgreSQL.
"""

import dataclasses
import json
import random
import secrets
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

import piccolo.engine.sqlite  # noqa: F401 (registers the adapters that store UUIDs and datetimes as the server does)
from piccolo.columns import JSON, JSONB
from piccolo.table import Table

from cards.ledger import GENESIS_HASH, Entry, seal
from cards.tables import (
    Business,
    Card,
    Customer,
    Device,
    Flag,
    FlagPunch,
    LedgerEntry,
    Program,
    RedeemedPunch,
    Redemption,
    Scanner,
    Staff,
    Store,
)
from crypto.keyring import Keyring
from crypto.passwords import hash_password

CARDS = 100_000
PUNCHES = 1_000_000
DAYS = 365
PUNCHES_PER_REWARD = 10
OWNER_EMAIL = "owner@bench.test"
PASSWORD = "bench password 1234"
# Parents before the rows that reference them.
TABLES: tuple[type[Table], ...] = (
    Business,
    Store,
    Staff,
    Scanner,
    Program,
    Customer,
    Device,
    Card,
    LedgerEntry,
    Redemption,
    RedeemedPunch,
    Flag,
    FlagPunch,
)
STORES = (("Market St", "America/Los_Angeles"), ("Harbour", "Europe/London"), ("Kreuzberg", "Europe/Berlin"))


@dataclass
class Ledger:
    """The rows of every table, by table."""

    today: date
    business_id: UUID
    rows: dict[type[Table], list[dict[str, Any]]] = field(default_factory=dict)

    def add(self, table: type[Table], **row: Any) -> None:
        self.rows.setdefault(table, []).append(row)

    def count(self, table: type[Table]) -> int:
        return len(self.rows.get(table, []))


class Ids:
    """Deterministic version-4 UUIDs from the seed."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def __call__(self) -> UUID:
        return UUID(int=self.rng.getrandbits(128), version=4)


def _punch_counts(rng: random.Random) -> list[int]:
    """How many punches each card gets: mostly a few, some regulars with dozens; exactly PUNCHES in all."""
    counts = [1 + int(rng.expovariate(1 / (PUNCHES / CARDS - 1))) for _ in range(CARDS)]
    while (excess := sum(counts) - PUNCHES) != 0:
        card = rng.randrange(CARDS)
        if excess > 0 and counts[card] > 1:
            counts[card] -= 1
        elif excess < 0:
            counts[card] += 1
    return counts


def build(keyring: Keyring, today: date, seed: int = 20261203) -> Ledger:
    rng = random.Random(seed)
    new_id = Ids(rng)
    start = datetime.combine(today - timedelta(days=DAYS), datetime.min.time(), UTC)
    end = datetime.combine(today, datetime.min.time(), UTC)
    ledger = Ledger(today=today, business_id=new_id())
    ledger.add(Business, id=ledger.business_id, name="Bench Beans", created_at=start)
    owner_id = new_id()
    ledger.add(
        Staff,
        id=owner_id,
        business=ledger.business_id,
        name="Olive",
        email=OWNER_EMAIL,
        password_hash=hash_password(PASSWORD),
        role="owner",
        store=None,
        active=True,
        created_at=start,
    )
    program_id = new_id()
    ledger.add(
        Program,
        id=program_id,
        business=ledger.business_id,
        name="Coffee card",
        reward_name="Free coffee",
        reward_value_cents=450,
        punches_per_reward=PUNCHES_PER_REWARD,
        created_at=start,
    )
    stores = []
    for name, zone in STORES:
        store_id, scanner_id, cashier_id = new_id(), new_id(), new_id()
        ledger.add(
            Store,
            id=store_id,
            business=ledger.business_id,
            name=name,
            time_zone=zone,
            latitude=0.0,
            longitude=0.0,
            opening_hours=[],
            active=True,
            created_at=start,
        )
        ledger.add(Scanner, id=scanner_id, store=store_id, name="Till 1", secret_hash="0" * 64, created_at=start)
        ledger.add(
            Staff,
            id=cashier_id,
            business=ledger.business_id,
            name=f"Cashier at {name}",
            email=f"cashier.{len(stores)}@bench.test",
            password_hash=hash_password(secrets.token_urlsafe()),  # never signs in here
            role="cashier",
            store=store_id,
            active=True,
            created_at=start,
        )
        stores.append((store_id, scanner_id, cashier_id))

    receipt = 0
    for count in _punch_counts(rng):
        customer_id, device_id, card_id = new_id(), new_id(), new_id()
        first = start + timedelta(seconds=rng.randrange(DAYS * 86400))
        # A stay of its own length: some members stop coming (churn), some are still regulars.
        last = min(end - timedelta(minutes=5), first + timedelta(days=rng.expovariate(1 / 150)))
        times = sorted(first + (last - first) * rng.random() for _ in range(count - 1))
        ledger.add(Customer, id=customer_id, display_name=None, created_at=first - timedelta(minutes=1))
        ledger.add(
            Device,
            id=device_id,
            customer=customer_id,
            thumbprint=device_id.hex + "0" * 11,
            algorithm="ES256",
            public_key={"kty": "EC", "crv": "P-256"},
            counter=0,
            active=True,
            created_at=first - timedelta(minutes=1),
        )
        ledger.add(
            Card,
            id=card_id,
            customer=customer_id,
            program=program_id,
            status="active",
            created_at=first - timedelta(minutes=1),
        )
        home = rng.randrange(len(stores))
        chain = _Chain(ledger, keyring, card_id)
        counted: list[UUID] = []
        # What follows a punch a little later (a refund, a rejection, a free item), appended in
        # time order with the card's next punches, as the server would have.
        later: list[tuple[datetime, int, Callable[[datetime], None]]] = []

        def catch_up(until: datetime, later: list[tuple[datetime, int, Callable[[datetime], None]]] = later) -> None:
            later.sort(key=lambda item: item[:2])
            while later and later[0][0] <= until:
                at, _, happen = later.pop(0)
                happen(at)

        for at in [first, *times]:
            catch_up(at)
            store_id, scanner_id, cashier_id = stores[home if rng.random() < 0.8 else rng.randrange(len(stores))]
            receipt += 1
            punch_id = chain.append(
                new_id(),
                "punch",
                at,
                stamp_id=f"{rng.getrandbits(64):016x}",
                device=device_id,
                store=store_id,
                scanner=scanner_id,
                staff=cashier_id,
                receipt=f"R-{receipt}",
                amount_cents=rng.choice((350, 420, 450, 480, 520, 610, 890)),
                items=1,
                stamp_issued_at=at - timedelta(seconds=4),
            )
            at_till = {"store": store_id, "scanner": scanner_id, "staff": cashier_id}
            fate = rng.random()
            if fate < 0.005:  # refunded at the till a few minutes later
                later.append((at + timedelta(minutes=3), receipt, chain.void(new_id(), punch_id, at_till)))
            elif fate < 0.015:  # flagged: punched again too soon; the owner rejects it the next day, or has not yet
                reviewed = at + timedelta(days=1)
                open_ = reviewed >= end or (at > end - timedelta(days=45) and rng.random() < 0.6)
                flag_id = new_id()
                ledger.add(
                    Flag,
                    id=flag_id,
                    business=ledger.business_id,
                    card=card_id,
                    store=store_id,
                    staff=cashier_id,
                    scanner=scanner_id,
                    rule="cooldown",
                    severity="low",
                    status="open" if open_ else "rejected",
                    explanation="Card punched again 20 s after its last punch; the program asks for at least 60 s.",
                    evidence={"punch_ids": [str(punch_id)]},
                    created_at=at,
                    reviewed_by=None if open_ else owner_id,
                    reviewed_at=None if open_ else reviewed,
                    review_reason=None if open_ else "No such receipt at the till",
                )
                ledger.add(FlagPunch, id=new_id(), flag=flag_id, punch=punch_id)
                if not open_:
                    later.append((reviewed, receipt, chain.void(new_id(), punch_id, {})))
            else:
                counted.append(punch_id)
            if len(counted) == PUNCHES_PER_REWARD:
                granted = at + timedelta(minutes=1)
                if granted < end and rng.random() < 0.7:
                    used, ids = counted, (new_id(), new_id(), [new_id() for _ in counted])
                    later.append((granted, receipt, chain.redeem(used, ids, device_id, at_till)))
                counted = []
        catch_up(end)
    return ledger


class _Chain:
    """One card's ledger: each entry takes the next position and the previous entry's hash."""

    def __init__(self, ledger: Ledger, keyring: Keyring, card_id: UUID) -> None:
        self.ledger, self.keyring, self.card_id = ledger, keyring, card_id
        self.seq, self.head = 0, GENESIS_HASH

    def append(self, entry_id: UUID, kind: str, at: datetime, **fields: Any) -> UUID:
        self.seq += 1
        entry = Entry(card=self.card_id, seq=self.seq, kind=kind, recorded_at=at, prev_hash=self.head, **fields)
        sealed = seal(entry, self.keyring)
        row = {f.name: getattr(entry, f.name) for f in dataclasses.fields(entry)}
        # The business is stored beside the entry, not signed with it (see cards.tables.LedgerEntry).
        self.ledger.add(
            LedgerEntry,
            id=entry_id,
            business=self.ledger.business_id,
            **row,
            entry_hash=sealed.entry_hash,
            kid=sealed.kid,
            signature=sealed.signature,
        )
        self.head = sealed.entry_hash
        return entry_id

    def void(self, entry_id: UUID, punch_id: UUID, at_till: dict[str, UUID]) -> Callable[[datetime], None]:
        def happen(at: datetime) -> None:
            self.append(entry_id, "void", at, voids=punch_id, **at_till)

        return happen

    def redeem(
        self,
        punches: list[UUID],
        ids: tuple[UUID, UUID, list[UUID]],
        device_id: UUID,
        at_till: dict[str, UUID],
    ) -> Callable[[datetime], None]:
        """The free item: its redeem entry consuming the punches, its redemption, each punch used once."""
        redemption_id, entry_id, used_ids = ids

        def happen(at: datetime) -> None:
            consumes = ",".join(sorted(str(p) for p in punches))
            self.append(entry_id, "redeem", at, device=device_id, consumes=consumes, **at_till)
            self.ledger.add(
                Redemption,
                id=redemption_id,
                card=self.card_id,
                device=device_id,
                code_hash=redemption_id.hex * 2,
                counter=self.seq,
                status="granted",
                requested_at=at - timedelta(seconds=30),
                expires_at=at + timedelta(minutes=5),
                decided_at=at,
                reasons=[],
                entry=entry_id,
                answer=None,
                **at_till,
            )
            for used_id, punch in zip(used_ids, punches, strict=True):
                self.ledger.add(RedeemedPunch, id=used_id, redemption=redemption_id, card=self.card_id, punch=punch)

        return happen


# --- writing the rows ---------------------------------------------------------------------------


def _columns(table: type[Table]) -> list[tuple[str, bool, Any]]:
    """Each column's name, whether it holds JSON, and its default."""
    return [(c._meta.db_column_name, isinstance(c, JSON | JSONB), c.get_default_value()) for c in table._meta.columns]


def records(table: type[Table], rows: Iterable[dict[str, Any]]) -> tuple[list[str], Iterator[tuple[Any, ...]]]:
    columns = _columns(table)

    def one(row: dict[str, Any]) -> tuple[Any, ...]:
        values = []
        for name, is_json, default in columns:
            value = row.get(name, default)
            values.append(json.dumps(value) if is_json and not isinstance(value, str) else value)
        return tuple(values)

    return [name for name, _, _ in columns], (one(row) for row in rows)


def write_sqlite(path: str, ledger: Ledger) -> None:
    with sqlite3.connect(path) as db:
        for table in TABLES:
            names, values = records(table, ledger.rows.get(table, []))
            marks = ", ".join("?" for _ in names)
            db.executemany(f"INSERT INTO {table._meta.tablename} ({', '.join(names)}) VALUES ({marks})", values)  # noqa: S608


async def write_postgres(url: str, ledger: Ledger) -> None:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        async with conn.transaction():
            for table in TABLES:
                names, values = records(table, ledger.rows.get(table, []))
                await conn.copy_records_to_table(table._meta.tablename, records=list(values), columns=names)
        await conn.execute("ANALYZE")
    finally:
        await conn.close()
