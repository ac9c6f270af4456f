"""The floor: what a scan cannot avoid, and nothing more, to measure PunchGuard's scans against.

POST /v1/scans takes the same body as a scan (`mobile_contract.scans.Scan`) and:

1. parses it with the same msgspec struct;
2. decodes the stamp and verifies its Ed25519 signature with the server's keyring
   (`decode_stamp`, `verify_stamp_signature`, `crypto.keyring.load_keyring` on the keyring
   file the bench's PunchGuard made: PUNCHGUARD_KEYRING, else <PUNCHGUARD_DATA_DIR>/keys/keyring.json);
3. signs one ledger entry (`cards.ledger.seal` over an `Entry` chained to the card's head);
4. makes it durable with one INSERT into `floor_entry`, whose stamp id is unique (single use)
   and whose (card, seq) is unique (one entry per chain position).

The card's position: one indexed read of the card's head (its last seq and entry hash, which
the signed entry chains onto), then the INSERT; a unique violation on (card, seq) means another
worker took the position meanwhile, so the head is read again (up to 5 times). A unique
violation on the stamp id is a replay: 409. No token, no card, program, device or risk rule,
no flag, no answer kept for a retry, no stamp expiry (the bench's simulated clock is PunchGuard's
alone): those are what PunchGuard adds.

The database is FLOOR_DATABASE_URL (`postgresql://...` or `sqlite:////abs/path`). On PostgreSQL,
asyncpg directly, one pool per worker (1 to 10 connections, as PunchGuard's), autocommit
(a durable commit: synchronous_commit as the server has it). On SQLite, ONE long-lived
aiosqlite connection per worker, with what PunchGuard sets on its own (cards/migrate.py,
cards/sqlite_engine.py): WAL, `synchronous = FULL`, foreign keys on and a 30 s busy timeout.
The table is created at start-up if missing.
"""

import asyncio
import os
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse
from uuid import uuid4

import aiosqlite
import asyncpg
from litestar import Litestar, post
from litestar.exceptions import HTTPException
from litestar.params import JSONBody

from cards.ledger import GENESIS_HASH, Entry, seal
from crypto.keyring import Keyring, load_keyring
from mobile_contract.scans import Scan
from mobile_contract.stamps import StampError, decode_stamp, verify_stamp_signature

ATTEMPTS = 5
BUSY_TIMEOUT_MS = 30_000
_HEAD = "SELECT seq, entry_hash FROM floor_entry WHERE card = {0} ORDER BY seq DESC LIMIT 1"
_INSERT = (
    "INSERT INTO floor_entry (id, card, seq, stamp_id, receipt, recorded_at, prev_hash, entry_hash, kid, signature) "
    "VALUES ({0}, {1}, {2}, {3}, {4}, {5}, {6}, {7}, {8}, {9})"
)
_TABLE = """
CREATE TABLE IF NOT EXISTS floor_entry (
    id TEXT PRIMARY KEY, card TEXT NOT NULL, seq INTEGER NOT NULL, stamp_id TEXT NOT NULL UNIQUE,
    receipt TEXT NOT NULL, recorded_at TEXT NOT NULL, prev_hash TEXT NOT NULL, entry_hash TEXT NOT NULL,
    kid TEXT NOT NULL, signature TEXT NOT NULL, UNIQUE (card, seq)
)
"""


class Replayed(Exception):
    """The stamp id is taken: the stamp was used already."""


class Store:
    """The one table, on one engine."""

    async def head(self, card: str) -> tuple[int, str]:
        raise NotImplementedError

    async def insert(self, row: tuple[Any, ...]) -> bool:
        """Insert the entry; False if its (card, seq) is taken, Replayed if its stamp id is."""
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError


class PostgresStore(Store):
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        self.head_sql = _HEAD.format("$1")
        self.insert_sql = _INSERT.format(*(f"${i}" for i in range(1, 11)))

    @classmethod
    async def open(cls, url: str) -> "PostgresStore":
        pool = await asyncpg.create_pool(url, min_size=1, max_size=10)
        async with pool.acquire() as conn, conn.transaction():
            # Both workers start at once: one creates the table while the other waits.
            await conn.execute("SELECT pg_advisory_xact_lock(7347)")
            await conn.execute(_TABLE)
        return cls(pool)

    async def head(self, card: str) -> tuple[int, str]:
        row = await self.pool.fetchrow(self.head_sql, card)
        return (0, GENESIS_HASH) if row is None else (row["seq"], row["entry_hash"])

    async def insert(self, row: tuple[Any, ...]) -> bool:
        try:
            await self.pool.execute(self.insert_sql, *row)
        except asyncpg.UniqueViolationError as exc:
            if "stamp_id" in (exc.constraint_name or ""):
                raise Replayed from exc
            return False
        return True

    async def close(self) -> None:
        await self.pool.close()


class SQLiteStore(Store):
    def __init__(self, connection: aiosqlite.Connection) -> None:
        self.connection = connection
        self.head_sql = _HEAD.format("?")
        self.insert_sql = _INSERT.format(*("?" * 10))

    @classmethod
    async def open(cls, path: str) -> "SQLiteStore":
        connection = await aiosqlite.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        for pragma in (
            f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}",
            "PRAGMA journal_mode = WAL",
            "PRAGMA synchronous = FULL",
            "PRAGMA foreign_keys = 1",
        ):
            await connection.execute(pragma)
        await connection.execute(_TABLE)
        return cls(connection)

    async def head(self, card: str) -> tuple[int, str]:
        # Read to the end in one call on the connection's thread: a SELECT left open while another
        # request's INSERT runs on the same connection would hold a read snapshot, and SQLite
        # refuses that INSERT at once ("database is locked", no busy wait) once the other worker wrote.
        rows = list(await self.connection.execute_fetchall(self.head_sql, (card,)))
        return (0, GENESIS_HASH) if not rows else (int(rows[0][0]), str(rows[0][1]))

    async def insert(self, row: tuple[Any, ...]) -> bool:
        try:
            await self.connection.execute_fetchall(self.insert_sql, row)
        except sqlite3.IntegrityError as exc:
            if "stamp_id" in str(exc):
                raise Replayed from exc
            return False
        return True

    async def close(self) -> None:
        await self.connection.close()


async def open_store(url: str) -> Store:
    parsed = urlparse(url)
    if parsed.scheme == "sqlite":
        path = unquote(parsed.path[1:] if parsed.path.startswith("/") else parsed.path)
        return await SQLiteStore.open(path)
    return await PostgresStore.open(url)


def keyring_path() -> Path:
    explicit = os.environ.get("PUNCHGUARD_KEYRING")
    if explicit:
        return Path(explicit)
    return Path(os.environ.get("PUNCHGUARD_DATA_DIR") or "data") / "keys" / "keyring.json"


class Floor:
    def __init__(self) -> None:
        self.keyring: Keyring | None = None
        self.store: Store | None = None


FLOOR = Floor()


@asynccontextmanager
async def lifespan(_: Litestar) -> AsyncIterator[None]:
    FLOOR.keyring = load_keyring(keyring_path())
    FLOOR.store = await open_store(os.environ["FLOOR_DATABASE_URL"])
    try:
        yield
    finally:
        await FLOOR.store.close()


@post("/v1/scans", status_code=201)
async def scan(data: JSONBody[Scan]) -> dict[str, Any]:
    keyring, store = FLOOR.keyring, FLOOR.store
    assert keyring is not None and store is not None, "the lifespan opened them"
    try:
        stamp, signed, signature = decode_stamp(data.stamp)
        key = keyring.public_key(stamp.kid)
        if key is None:
            raise StampError("unknown key")
        verify_stamp_signature(key, signed, signature)
    except StampError as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from exc
    card, stamp_id, now = str(stamp.card_id), stamp.stamp_id.hex(), datetime.now(UTC)
    for _ in range(ATTEMPTS):
        seq, prev_hash = await store.head(card)
        entry_id = uuid4()
        entry = Entry(
            card=stamp.card_id,
            seq=seq + 1,
            kind="punch",
            recorded_at=now,
            prev_hash=prev_hash,
            stamp_id=stamp_id,
            receipt=data.receipt.reference,
            amount_cents=data.receipt.amount_cents,
            stamp_issued_at=stamp.issued_at_datetime,
        )
        sealed = seal(entry, keyring)
        row = (
            str(entry_id),
            card,
            entry.seq,
            stamp_id,
            data.receipt.reference,
            now.isoformat(),
            prev_hash,
            sealed.entry_hash,
            sealed.kid,
            sealed.signature,
        )
        try:
            if await store.insert(row):
                return {"punch_id": str(entry_id), "card_id": card, "seq": entry.seq}
        except Replayed as exc:
            raise HTTPException(status_code=409, detail="stamp already used") from exc
        await asyncio.sleep(0)
    raise HTTPException(status_code=503, detail="card busy")


app = Litestar(route_handlers=[scan], lifespan=[lifespan])
