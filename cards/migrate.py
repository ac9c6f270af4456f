"""Schema migrations, run by an explicit command and never by several processes at once."""

import asyncio
import contextlib
import fcntl
from collections.abc import AsyncIterator
from pathlib import Path

from piccolo.apps.migrations.commands.forwards import run_forwards
from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine

from cards.database import current_engine

# An arbitrary, fixed key for pg_advisory_lock: every migrating process asks for the same one.
_ADVISORY_LOCK_KEY = 0x50756E6368  # "Punch"


class MigrationError(RuntimeError):
    pass


@contextlib.asynccontextmanager
async def _exclusive() -> AsyncIterator[None]:
    """Hold a lock that only one migrating process, on any machine, can hold at a time."""
    engine = current_engine()
    if isinstance(engine, PostgresEngine):
        import asyncpg

        conn = await asyncpg.connect(**engine.config)
        try:
            await conn.execute("SELECT pg_advisory_lock($1)", _ADVISORY_LOCK_KEY)
            yield
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", _ADVISORY_LOCK_KEY)
            await conn.close()
    elif isinstance(engine, SQLiteEngine):
        lock_path = Path(engine.path).with_suffix(".migrate.lock")
        with lock_path.open("w") as lock:
            await asyncio.to_thread(fcntl.flock, lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
    else:  # pragma: no cover - only the two engines above are configured
        raise MigrationError(f"unsupported engine {engine!r}")


async def migrate() -> None:
    """Apply every migration not yet applied; safe to call from several processes at once."""
    async with _exclusive():
        engine = current_engine()
        if isinstance(engine, SQLiteEngine):
            # WAL lets readers proceed while one writer commits; it persists in the file.
            await engine.run_ddl("PRAGMA journal_mode=WAL")
        result = await run_forwards("all")
        if not result.success:
            raise MigrationError(result.message or "migrations failed")
