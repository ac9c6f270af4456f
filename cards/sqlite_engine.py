"""SQLite as an embedded database: long-lived connections per worker instead of one per query.

piccolo's SQLiteEngine opens the file, reads its schema and closes it again for every query
outside a transaction, and for every transaction. Here each worker keeps, while its pool is
started (the app's lifespan does it, like PostgreSQL's pool):

- one **writer** connection for write transactions (BEGIN IMMEDIATE) and single writing
  statements. Writers in one worker queue for it in asyncio instead of polling SQLite's lock
  with the busy handler's sleeps; writers of other workers on the same file still wait on
  that lock, up to the busy timeout.
- a few **reader** connections for reads and read transactions; in WAL mode they read while
  the writer commits.

The file is in WAL mode (cards/migrate.py sets it once; it persists in the file). Every
connection has foreign keys on, a busy timeout, and `synchronous = FULL`: a punch the till
was told about is on disk, even after a power cut, at the price of one fsync per commit
(NORMAL would only survive a crash of the process).

Without a started pool (the CLI, migrations, tests that call cards/ directly) the engine
behaves as piccolo's: a connection per query.
"""

import asyncio
from typing import Any

import aiosqlite
from piccolo.engine.sqlite import SQLiteEngine, SQLiteTransaction, TransactionType, dict_factory
from piccolo.querystring import QueryString

READERS = 3
SYNCHRONOUS = "FULL"
_READS = ("SELECT", "WITH", "EXPLAIN")


class _Pool:
    def __init__(self, writer: aiosqlite.Connection, readers: list[aiosqlite.Connection]) -> None:
        self.writers: asyncio.Queue[aiosqlite.Connection] = asyncio.Queue()
        self.writers.put_nowait(writer)
        self.readers: asyncio.Queue[aiosqlite.Connection] = asyncio.Queue()
        for reader in readers:
            self.readers.put_nowait(reader)
        self.all = [writer, *readers]

    def queue(self, writes: bool) -> "asyncio.Queue[aiosqlite.Connection]":
        return self.writers if writes else self.readers


class PooledTransaction(SQLiteTransaction):
    """A transaction on a connection borrowed from the pool, handed back (not closed) at the end."""

    __slots__ = ("_queue",)

    async def get_connection(self) -> aiosqlite.Connection:
        engine: SQLiteDatabase = self.engine  # type: ignore[assignment]
        pool = engine.pool
        if pool is None:
            return await engine.get_connection()
        self._queue = pool.queue(self.transaction_type is not TransactionType.deferred)
        return await self._queue.get()

    async def __aexit__(self, exception_type: Any, exception: Any, traceback: Any) -> bool:
        if self._parent:
            return exception is None
        queue = getattr(self, "_queue", None)
        try:
            if exception:
                if not self._rolled_back:
                    await self.rollback()  # type: ignore[no-untyped-call]
            elif not self._committed and not self._rolled_back:
                await self.commit()  # type: ignore[no-untyped-call]
        except BaseException:
            await self._give_back(queue, broken=True)
            raise
        finally:
            self.engine.current_transaction.reset(self.context)
        await self._give_back(queue, broken=False)
        return exception is None

    async def _give_back(self, queue: "asyncio.Queue[aiosqlite.Connection] | None", *, broken: bool) -> None:
        if queue is None:
            await self.connection.close()
            return
        connection = self.connection
        if broken or connection.in_transaction:
            # A COMMIT or ROLLBACK that failed leaves the connection in an unknown state: replace it.
            await connection.close()
            engine: SQLiteDatabase = self.engine  # type: ignore[assignment]
            connection = await engine.open_connection()
            if engine.pool is not None:
                engine.pool.all = [c for c in engine.pool.all if c is not self.connection] + [connection]
        queue.put_nowait(connection)


class SQLiteDatabase(SQLiteEngine):
    """piccolo's SQLiteEngine with a pool of long-lived connections per worker (see the module)."""

    __slots__ = ("pool",)

    def __init__(self, path: str, **connection_kwargs: Any) -> None:
        super().__init__(path=path, **connection_kwargs)
        self.pool: _Pool | None = None

    async def open_connection(self) -> aiosqlite.Connection:
        connection = await aiosqlite.connect(**self.connection_kwargs)
        connection.row_factory = dict_factory  # type: ignore[assignment]
        await connection.execute("PRAGMA foreign_keys = 1")
        await connection.execute(f"PRAGMA synchronous = {SYNCHRONOUS}")
        return connection

    async def get_connection(self) -> aiosqlite.Connection:
        return await self.open_connection()

    async def start_connection_pool(self, readers: int = READERS) -> None:
        if self.pool is None:
            writer = await self.open_connection()
            self.pool = _Pool(writer, [await self.open_connection() for _ in range(readers)])

    async def close_connection_pool(self) -> None:
        pool, self.pool = self.pool, None
        if pool is not None:
            for connection in pool.all:
                await connection.close()

    def transaction(
        self, transaction_type: TransactionType = TransactionType.deferred, allow_nested: bool = True
    ) -> SQLiteTransaction:
        return PooledTransaction(engine=self, transaction_type=transaction_type, allow_nested=allow_nested)

    async def _run_in_existing_connection(
        self,
        connection: Any,
        query: str,
        args: list[Any] | None = None,
        query_type: str = "generic",
        table: Any = None,
    ) -> Any:
        # piccolo sets PRAGMA foreign_keys before every statement; every connection here has it from the start.
        async with connection.execute(query, args or []) as cursor:
            return await cursor.fetchall()

    async def _run_pooled(self, query: str, args: list[Any] | None) -> Any:
        assert self.pool is not None
        queue = self.pool.queue(not query.lstrip().upper().startswith(_READS))
        connection = await queue.get()
        try:
            return await self._run_in_existing_connection(connection, query, args)
        finally:
            queue.put_nowait(connection)

    async def run_querystring(self, querystring: QueryString, in_pool: bool = False) -> Any:
        if self.pool is None or self.current_transaction.get() is not None:
            return await super().run_querystring(querystring, in_pool)
        query_id = self.get_query_id()
        if self.log_queries:
            self.print_query(query_id=query_id, query=str(querystring))
        query, args = querystring.compile_string(engine_type=self.engine_type)
        response = await self._run_pooled(query, args)
        if self.log_responses:
            self.print_response(query_id=query_id, response=response)
        return response

    async def run_ddl(self, ddl: str, in_pool: bool = False) -> Any:
        if self.pool is None or self.current_transaction.get() is not None:
            return await super().run_ddl(ddl, in_pool)
        return await self._run_pooled(ddl, None)
