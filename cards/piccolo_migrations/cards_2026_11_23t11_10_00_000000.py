from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.table import Table

ID = "2026-11-23T11:10:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "one card per customer per program"


class _Card(Table, tablename="card"):
    pass


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="cards", description=DESCRIPTION)

    async def card_unique_per_program() -> None:
        # Piccolo has no composite unique constraint; one card per customer per program
        # must hold even when two joins race, so the database enforces it.
        await _Card.raw("CREATE UNIQUE INDEX card_customer_program ON card (customer, program)")

    async def drop_card_unique_per_program() -> None:
        await _Card.raw("DROP INDEX card_customer_program")

    manager.add_raw(card_unique_per_program)
    manager.add_raw_backwards(drop_card_unique_per_program)
    return manager
