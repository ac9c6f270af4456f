from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Integer
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-02T05:10:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "a program may say what its free item costs the café (the console's value of what the guard held)"


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="cards", description=DESCRIPTION)
    manager.add_column(
        table_class_name="Program",
        tablename="program",
        column_name="reward_value_cents",
        db_column_name="reward_value_cents",
        column_class_name="Integer",
        column_class=Integer,
        params={
            "default": None,
            "null": True,
            "primary_key": False,
            "unique": False,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )
    return manager
