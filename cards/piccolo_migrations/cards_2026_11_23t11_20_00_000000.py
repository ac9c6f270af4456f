from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.table import Table

ID = "2026-11-23T11:20:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "ledger invariants: one chain per card, one punch per receipt and store"


class _Ledger(Table, tablename="ledger_entry"):
    pass


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="cards", description=DESCRIPTION)

    async def ledger_indexes() -> None:
        # A card's entries form one chain: two writers racing for the same position lose
        # one to this index and retry, so the chain never forks (Piccolo has no composite
        # unique constraint). A receipt earns one punch per store, which also stops one
        # purchase from being split across cards. Voids carry no receipt (NULLs differ).
        await _Ledger.raw("CREATE UNIQUE INDEX ledger_card_seq ON ledger_entry (card, seq)")
        await _Ledger.raw("CREATE UNIQUE INDEX ledger_store_receipt ON ledger_entry (store, receipt)")
        await _Ledger.raw("CREATE UNIQUE INDEX ledger_voids ON ledger_entry (voids)")  # a punch is voided once
        await _Ledger.raw("CREATE INDEX flag_business_status ON flag (business, status)")

    async def drop_ledger_indexes() -> None:
        for name in ("ledger_card_seq", "ledger_store_receipt", "ledger_voids", "flag_business_status"):
            await _Ledger.raw(f"DROP INDEX {name}")

    manager.add_raw(ledger_indexes)
    manager.add_raw_backwards(drop_ledger_indexes)
    return manager
