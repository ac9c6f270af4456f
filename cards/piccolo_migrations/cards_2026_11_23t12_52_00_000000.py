from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.postgres import PostgresEngine
from piccolo.table import Table

ID = "2026-11-23T12:52:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "indexes for the risk rules and checkpoints; the audit log refuses updates and deletes"


class _Ledger(Table, tablename="ledger_entry"):
    pass


_INDEXES = {
    # The risk rules look back over one cashier's, one scanner's or one store's recent punches.
    "ledger_staff_time": "ledger_entry (staff, recorded_at)",
    "ledger_scanner_time": "ledger_entry (scanner, recorded_at)",
    "ledger_store_time": "ledger_entry (store, recorded_at)",
    "flag_punch_unique": "flag_punch (flag, punch)",
    "audit_log_business_at": "audit_log (business, at)",
}


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="cards", description=DESCRIPTION)

    async def create() -> None:
        for name, target in _INDEXES.items():
            unique = "UNIQUE " if name.endswith("_unique") else ""
            await _Ledger.raw(f"CREATE {unique}INDEX {name} ON {target}")
        # Append-only in the database itself, not only in the app: an UPDATE or DELETE fails.
        if isinstance(_Ledger._meta.db, PostgresEngine):
            await _Ledger.raw(
                "CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN RAISE EXCEPTION 'the audit log is append-only'; END $$"
            )
            await _Ledger.raw(
                "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
                "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()"
            )
        else:
            # SQLite: updates only, because the test suite empties tables with DELETE.
            await _Ledger.raw(
                "CREATE TRIGGER audit_log_append_only BEFORE UPDATE ON audit_log "
                "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END"
            )

    async def drop() -> None:
        for name in _INDEXES:
            await _Ledger.raw(f"DROP INDEX {name}")
        if isinstance(_Ledger._meta.db, PostgresEngine):
            await _Ledger.raw("DROP TRIGGER audit_log_append_only ON audit_log")
            await _Ledger.raw("DROP FUNCTION audit_log_append_only()")
        else:
            await _Ledger.raw("DROP TRIGGER audit_log_append_only")

    manager.add_raw(create)
    manager.add_raw_backwards(drop)
    return manager
