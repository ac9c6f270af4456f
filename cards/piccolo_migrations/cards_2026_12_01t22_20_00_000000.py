from datetime import UTC, datetime

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-12-01T22:20:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "quarantine phones enrolled with keys anyone can sign for: unbind, freeze their cards, flag why"


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="cards", description=DESCRIPTION)

    async def quarantine() -> None:
        # The domain's own check, so the migration refuses exactly what enrollment now refuses (T15).
        from cards.devices import quarantine_refused_keys

        await quarantine_refused_keys(datetime.now(UTC))

    manager.add_raw(quarantine)
    return manager
