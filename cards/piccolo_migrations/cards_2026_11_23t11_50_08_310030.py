from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import ForeignKey

ID = "2026-11-23T11:50:08:310030"
VERSION = "1.38.0"
DESCRIPTION = "index devices and cards by customer"


async def forwards():
    manager = MigrationManager(
        migration_id=ID, app_name="cards", description=DESCRIPTION
    )

    manager.alter_column(
        table_class_name="Card",
        tablename="card",
        column_name="customer",
        db_column_name="customer",
        params={"index": True},
        old_params={"index": False},
        column_class=ForeignKey,
        old_column_class=ForeignKey,
        schema=None,
    )

    manager.alter_column(
        table_class_name="Device",
        tablename="device",
        column_name="customer",
        db_column_name="customer",
        params={"index": True},
        old_params={"index": False},
        column_class=ForeignKey,
        old_column_class=ForeignKey,
        schema=None,
    )

    return manager
