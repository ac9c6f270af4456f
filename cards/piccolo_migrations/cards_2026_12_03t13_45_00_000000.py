from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.table import Table

ID = "2026-12-03T13:45:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "indexes that keep scans and free items as fast at a million punches as on day one"

# Each one was a whole-table walk at 1,000,000 punches (bench/flat_cost.py found them).
_INDEXES = {
    # Granting a free item reads the punches its redemption used up.
    "redeemed_punch_redemption": "INDEX redeemed_punch_redemption ON redeemed_punch (redemption)",
    # The audit reads a card's granted free items; with (status, expires_at) alone SQLite walked
    # every granted redemption of the database.
    "redemption_card_status": "INDEX redemption_card_status ON redemption (card, status)",
    # Every scan's rules look for the open burst flag of its scanner and the open concentration
    # flag of its cashier.
    "flag_open_scanner": "INDEX flag_open_scanner ON flag (scanner, rule, created_at) WHERE status = 'open'",
    "flag_open_staff": "INDEX flag_open_staff ON flag (staff, rule, created_at) WHERE status = 'open'",
}


class _Any(Table, tablename="flag"):
    pass


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="cards", description=DESCRIPTION)

    async def create() -> None:
        for statement in _INDEXES.values():
            await _Any.raw(f"CREATE {statement}")

    async def drop() -> None:
        for name in _INDEXES:
            await _Any.raw(f"DROP INDEX IF EXISTS {name}")

    manager.add_raw(create)
    manager.add_raw_backwards(drop)
    return manager
