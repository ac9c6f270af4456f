from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.postgres import PostgresEngine
from piccolo.table import Table

ID = "2026-12-01T22:10:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "staff e-mails unique per business; one pending redemption per card; indexes for the sweeps"


class _Staff(Table, tablename="staff"):
    pass


_INDEXES = {
    "staff_business_email": "UNIQUE INDEX staff_business_email ON staff (business, email)",
    "staff_email": "INDEX staff_email ON staff (email)",
    # A new code request supersedes the card's pending one (cards/redemptions.py): at most one waits.
    "redemption_one_pending": "UNIQUE INDEX redemption_one_pending ON redemption (card) WHERE status = 'pending'",
    "redemption_status_expires": "INDEX redemption_status_expires ON redemption (status, expires_at)",
    "rate_limit_window": "INDEX rate_limit_window ON rate_limit_counter (window_start)",
    "staff_session_expires": "INDEX staff_session_expires ON staff_session (expires_at)",
    "device_block_unique": "UNIQUE INDEX device_block_unique ON device_block (device, business)",
}

# Older pending codes of a card that also has a newer one: superseded, so they go before the index.
_SUPERSEDED = """
DELETE FROM redemption WHERE status = 'pending' AND EXISTS (
    SELECT 1 FROM redemption newer WHERE newer.card = redemption.card AND newer.status = 'pending'
      AND (newer.requested_at > redemption.requested_at
           OR (newer.requested_at = redemption.requested_at AND newer.id > redemption.id)))
"""


def _rebuild_sqlite_staff(path: str) -> None:
    """SQLite cannot drop a column's UNIQUE: rebuild the table as its documentation says
    (https://www.sqlite.org/lang_altertable.html, "making other kinds of table schema changes").

    Foreign keys must be off, or dropping the old table would cascade into every ledger entry,
    flag and audit row that names a staff member; the legacy rename keeps the other tables'
    references pointing at "staff". Its own connection, outside piccolo's: PRAGMA foreign_keys
    has no effect inside a transaction.
    """
    import sqlite3

    connection = sqlite3.connect(path, isolation_level=None)
    try:
        connection.execute("PRAGMA foreign_keys = OFF")
        connection.execute("PRAGMA legacy_alter_table = ON")
        connection.execute("BEGIN IMMEDIATE")
        (sql,) = connection.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'staff'").fetchone()
        unique = '"email" VARCHAR(254) UNIQUE NOT NULL'
        if unique not in sql:
            raise RuntimeError(f"unexpected staff table: {sql}")
        rebuilt = sql.replace(unique, '"email" VARCHAR(254) NOT NULL').replace('"staff"', '"staff_rebuilt"', 1)
        connection.execute(rebuilt)
        connection.execute("INSERT INTO staff_rebuilt SELECT * FROM staff")
        connection.execute("DROP TABLE staff")
        connection.execute("ALTER TABLE staff_rebuilt RENAME TO staff")
        if connection.execute("PRAGMA foreign_key_check").fetchall():
            raise RuntimeError("the staff table rebuild broke a foreign key")
        connection.execute("COMMIT")
    except BaseException:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise
    finally:
        connection.close()


async def forwards() -> MigrationManager:
    # Not wrapped: the SQLite rebuild manages its own transaction on its own connection.
    manager = MigrationManager(
        migration_id=ID, app_name="cards", description=DESCRIPTION, wrap_in_transaction=False
    )

    async def apply() -> None:
        engine = _Staff._meta.db
        if isinstance(engine, PostgresEngine):
            await _Staff.raw("ALTER TABLE staff DROP CONSTRAINT staff_email_key")
        else:
            import asyncio

            await asyncio.to_thread(_rebuild_sqlite_staff, engine.path)
        await _Staff.raw(_SUPERSEDED)
        for statement in _INDEXES.values():
            await _Staff.raw(f"CREATE {statement}")

    async def revert() -> None:
        for name in _INDEXES:
            await _Staff.raw(f"DROP INDEX {name}")

    manager.add_raw(apply)
    manager.add_raw_backwards(revert)
    return manager
