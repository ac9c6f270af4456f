"""SQLite's long-lived connections (cards/sqlite_engine.py): correct under concurrent writers,
reads beside an open write, a failed transaction leaves nothing behind, and no query opens the file.

Each test runs its own engine on its own file, so it holds on either suite engine.
"""

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from piccolo.engine.sqlite import TransactionType

from cards.sqlite_engine import READERS, SQLiteDatabase


class _Strict(SQLiteDatabase):
    """Fails any query that would open a connection of its own once the pool is started."""

    __slots__ = ()

    async def _run_in_new_connection(self, *args: Any, **kwargs: Any) -> Any:
        assert self.pool is None, "a query opened its own connection while the pool was started"
        return await super()._run_in_new_connection(*args, **kwargs)

    async def get_connection(self) -> Any:
        assert self.pool is None, "a transaction opened its own connection while the pool was started"
        return await super().get_connection()


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[SQLiteDatabase]:
    db = _Strict(path=str(tmp_path / "pool.sqlite3"), timeout=30)
    await db.run_ddl("PRAGMA journal_mode=WAL")
    await db.run_ddl("CREATE TABLE tally (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)")
    await db.run_ddl("INSERT INTO tally (id, n) VALUES (1, 0)")
    await db.start_connection_pool()
    try:
        yield db
    finally:
        await db.close_connection_pool()


async def _tally(db: SQLiteDatabase) -> int:
    rows = await db.run_ddl("SELECT n FROM tally WHERE id = 1")
    return int(rows[0]["n"])


async def test_concurrent_read_modify_write_transactions_lose_no_update(engine: SQLiteDatabase) -> None:
    async def increment() -> None:
        async with engine.transaction(transaction_type=TransactionType.immediate):
            n = (await engine.run_ddl("SELECT n FROM tally WHERE id = 1"))[0]["n"]
            await asyncio.sleep(0)  # let every other task try to get in between the read and the write
            await engine.run_ddl(f"UPDATE tally SET n = {int(n) + 1} WHERE id = 1")  # noqa: S608 - an int we read

    await asyncio.gather(*(increment() for _ in range(200)))
    assert await _tally(engine) == 200
    assert engine.pool is not None and len(engine.pool.all) == 1 + READERS


async def test_a_read_goes_on_while_a_write_transaction_is_open(engine: SQLiteDatabase) -> None:
    written, read = asyncio.Event(), asyncio.Event()

    async def writer() -> None:
        async with engine.transaction(transaction_type=TransactionType.immediate):
            await engine.run_ddl("UPDATE tally SET n = 7 WHERE id = 1")
            written.set()
            await read.wait()  # holds the writer until the read below has answered

    async def reader() -> int:
        await written.wait()
        n = await _tally(engine)
        read.set()
        return n

    # A read queued behind the writer would wait for it forever: the timeout turns that into a failure.
    _, seen = await asyncio.wait_for(asyncio.gather(writer(), reader()), timeout=60)
    assert seen == 0, "the read sees the last commit, not the open transaction"
    assert await _tally(engine) == 7


async def test_a_failed_transaction_rolls_back_and_its_connection_serves_again(engine: SQLiteDatabase) -> None:
    with pytest.raises(RuntimeError):
        async with engine.transaction(transaction_type=TransactionType.immediate):
            await engine.run_ddl("UPDATE tally SET n = 99 WHERE id = 1")
            raise RuntimeError("the work failed")
    assert await _tally(engine) == 0
    assert engine.pool is not None
    assert not any(connection.in_transaction for connection in engine.pool.all)
    async with engine.transaction(transaction_type=TransactionType.immediate):
        await engine.run_ddl("UPDATE tally SET n = 1 WHERE id = 1")
    assert await _tally(engine) == 1


async def test_single_writes_outside_a_transaction_commit_at_once(engine: SQLiteDatabase, tmp_path: Path) -> None:
    await asyncio.gather(*(engine.run_ddl("UPDATE tally SET n = n + 1 WHERE id = 1") for _ in range(50)))
    other = SQLiteDatabase(path=str(tmp_path / "pool.sqlite3"), timeout=30)  # another worker on the same file
    assert int((await other.run_ddl("SELECT n FROM tally WHERE id = 1"))[0]["n"]) == 50
