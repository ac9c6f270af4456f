from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.postgres import PostgresEngine
from piccolo.table import Table

ID = "2026-12-03T12:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "every ledger entry carries its business (from its card's program), indexed business first"

# The business of each entry, from its card's program (SQLite's copy; PostgreSQL updates with a join).
_BUSINESS_OF_ENTRY = "SELECT p.business FROM card c JOIN program p ON p.id = c.program WHERE c.id = ledger_entry.card"
_COLUMN = '"business" UUID NOT NULL REFERENCES "business" ("id") ON DELETE CASCADE ON UPDATE CASCADE'
# A card's chain as a table split by business must key it (a unique index there has to hold the
# business, see docs/scaling.md); today it stands beside ledger_card_seq, which it implies.
_INDEX = "CREATE UNIQUE INDEX ledger_business_card_seq ON ledger_entry (business, card, seq)"


class _Ledger(Table, tablename="ledger_entry"):
    pass


def _rebuild_sqlite_ledger(path: str) -> None:
    """SQLite adds no NOT NULL column without a default, nor a REFERENCES one with a default
    other than NULL: rebuild the table as its documentation says
    (https://www.sqlite.org/lang_altertable.html, "making other kinds of table schema changes"),
    with the new column filled by the copy, then its indexes and triggers as they were.

    As in migration 2026-12-01T22:10:00: foreign keys off, the legacy rename (the triggers on
    flag and flag_punch name ledger_entry and must keep doing so), its own connection.
    """
    import sqlite3

    connection = sqlite3.connect(path, isolation_level=None)
    try:
        connection.execute("PRAGMA foreign_keys = OFF")
        connection.execute("PRAGMA legacy_alter_table = ON")
        connection.execute("BEGIN IMMEDIATE")
        (sql,) = connection.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'ledger_entry'"
        ).fetchone()
        if '"business"' in sql or not sql.rstrip().endswith(")"):
            raise RuntimeError(f"unexpected ledger_entry table: {sql}")
        # Indexes and triggers go with the old table; the autoindexes (sql NULL) come back with
        # the new one's UNIQUE columns.
        kept = connection.execute(
            "SELECT sql FROM sqlite_master WHERE tbl_name = 'ledger_entry' AND type IN ('index', 'trigger') "
            "AND sql IS NOT NULL ORDER BY type, name"
        ).fetchall()
        rebuilt = sql.rstrip()[:-1] + f", {_COLUMN})"
        connection.execute(rebuilt.replace('"ledger_entry"', '"ledger_entry_rebuilt"', 1))
        columns = ", ".join(f'"{row[1]}"' for row in connection.execute("PRAGMA table_info(ledger_entry)"))
        # Only the table's own column names are interpolated.
        copy = f"INSERT INTO ledger_entry_rebuilt ({columns}, business) SELECT {columns}, ({_BUSINESS_OF_ENTRY})"
        connection.execute(f"{copy} FROM ledger_entry")
        connection.execute("DROP TABLE ledger_entry")
        connection.execute("ALTER TABLE ledger_entry_rebuilt RENAME TO ledger_entry")
        for (statement,) in kept:
            connection.execute(statement)
        connection.execute(_INDEX)
        if connection.execute("PRAGMA foreign_key_check").fetchall():
            raise RuntimeError("the ledger_entry table rebuild broke a foreign key")
        connection.execute("COMMIT")
    except BaseException:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise
    finally:
        connection.close()


async def forwards() -> MigrationManager:
    postgres = isinstance(_Ledger._meta.db, PostgresEngine)
    # On SQLite not wrapped: the rebuild manages its own transaction on its own connection.
    manager = MigrationManager(migration_id=ID, app_name="cards", description=DESCRIPTION, wrap_in_transaction=postgres)

    async def apply() -> None:
        engine = _Ledger._meta.db
        if isinstance(engine, PostgresEngine):
            # Added nullable, filled, then required: one transaction, so no entry is written between.
            await _Ledger.raw(f"ALTER TABLE ledger_entry ADD COLUMN {_COLUMN.replace(' NOT NULL', '')}")
            await _Ledger.raw(
                "UPDATE ledger_entry e SET business = p.business FROM card c JOIN program p ON p.id = c.program "
                "WHERE c.id = e.card"
            )
            await _Ledger.raw("ALTER TABLE ledger_entry ALTER COLUMN business SET NOT NULL")
            await _Ledger.raw(_INDEX)
        else:
            import asyncio

            await asyncio.to_thread(_rebuild_sqlite_ledger, engine.path)

    async def revert() -> None:
        await _Ledger.raw("DROP INDEX IF EXISTS ledger_business_card_seq")
        await _Ledger.raw("ALTER TABLE ledger_entry DROP COLUMN business")

    manager.add_raw(apply)
    manager.add_raw_backwards(revert)
    return manager
