from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Timestamptz, Varchar
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-02T02:40:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "console sign-ins: a staff session may be held by a browser cookie (its hash) and expire when idle"


def _params(default: object, index: bool, **more: object) -> dict[str, object]:
    return {
        "default": default,
        "null": True,
        "primary_key": False,
        "unique": False,
        "index": index,
        "index_method": IndexMethod.btree,
        "choices": None,
        "db_column_name": None,
        "secret": False,
        **more,
    }


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="cards", description=DESCRIPTION)
    manager.add_column(
        table_class_name="StaffSession",
        tablename="staff_session",
        column_name="console_token_hash",
        db_column_name="console_token_hash",
        column_class_name="Varchar",
        column_class=Varchar,
        params=_params(None, True, length=64),
        schema=None,
    )
    manager.add_column(
        table_class_name="StaffSession",
        tablename="staff_session",
        column_name="seen_at",
        db_column_name="seen_at",
        column_class_name="Timestamptz",
        column_class=Timestamptz,
        params=_params(None, False),
        schema=None,
    )
    return manager
