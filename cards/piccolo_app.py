"""Registers the PunchGuard tables and their checked-in migrations with piccolo."""

import os

from piccolo.conf.apps import AppConfig, table_finder

CURRENT_DIRECTORY = os.path.dirname(os.path.abspath(__file__))

APP_CONFIG = AppConfig(
    app_name="cards",
    migrations_folder_path=os.path.join(CURRENT_DIRECTORY, "piccolo_migrations"),
    table_classes=table_finder(modules=["cards.tables"], exclude_imported=True),
    migration_dependencies=[],
    commands=[],
)
