from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.postgres import PostgresEngine
from piccolo.table import Table

ID = "2026-12-02T19:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "the metrics' marks written by the database itself, and their indexes"

# What marks a card for the metrics' refresh (cards/metric_refresh.py): the database writes the
# mark in the same transaction as the change, whichever code path makes it.
_ALL_CARDS_OF = "SELECT c.id FROM card c JOIN program p ON p.id = c.program WHERE p.business = NEW.business"
_MARKS = {
    # A ledger entry: a punch, a void (refund or rejection), a free item.
    "metric_mark_entry": ("AFTER INSERT ON ledger_entry", "INSERT INTO metric_dirty (card) VALUES (NEW.card)"),
    # A punch put under review by a flag, new or joined.
    "metric_mark_flag_punch": (
        "AFTER INSERT ON flag_punch",
        "INSERT INTO metric_dirty (card) SELECT card FROM ledger_entry WHERE id = NEW.punch",
    ),
    # A free item held at the till.
    "metric_mark_flag": (
        "AFTER INSERT ON flag",
        "INSERT INTO metric_dirty (card) SELECT NEW.card WHERE NEW.card IS NOT NULL",
    ),
    # A flag approved, rejected or settled: its punches count again, or no more.
    "metric_mark_flag_status": (
        "AFTER UPDATE OF status ON flag",
        "INSERT INTO metric_dirty (card) SELECT e.card FROM flag_punch fp JOIN ledger_entry e ON e.id = fp.punch "
        "WHERE fp.flag = NEW.id UNION SELECT NEW.card WHERE NEW.card IS NOT NULL",
    ),
    # A store's time zone decides the local day of everything done there.
    "metric_mark_store_zone": ("AFTER UPDATE OF time_zone ON store", f"INSERT INTO metric_dirty (card) {_ALL_CARDS_OF}"),
    # A free item's price and size decide what a rejected punch was worth.
    "metric_mark_program_value": (
        "AFTER UPDATE OF reward_value_cents, punches_per_reward ON program",
        "INSERT INTO metric_dirty (card) SELECT id FROM card WHERE program = NEW.id",
    ),
}
_INDEXES = {
    "store_sales_store_day": "UNIQUE INDEX store_sales_store_day ON store_sales (store, day)",
    # The report reads one business's scope and kind over a range of buckets.
    "metric_cell_range": "INDEX metric_cell_range ON metric_cell (business, scope, kind, bucket)",
    # A card's refresh reads its flags; a free item held is raised on the card.
    "flag_card": "INDEX flag_card ON flag (card)",
}


class _Any(Table, tablename="metric_dirty"):
    pass


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="cards", description=DESCRIPTION)

    async def create() -> None:
        for statement in _INDEXES.values():
            await _Any.raw(f"CREATE {statement}")
        postgres = isinstance(_Any._meta.db, PostgresEngine)
        for name, (when, action) in _MARKS.items():
            if postgres:
                await _Any.raw(
                    f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS "
                    f"$$ BEGIN {action}; RETURN NULL; END $$"
                )
                await _Any.raw(f"CREATE TRIGGER {name} {when} FOR EACH ROW EXECUTE FUNCTION {name}()")
            else:
                await _Any.raw(f"CREATE TRIGGER {name} {when} BEGIN {action}; END")

    async def drop() -> None:
        postgres = isinstance(_Any._meta.db, PostgresEngine)
        for name, (when, _) in _MARKS.items():
            table = when.split(" ON ")[1]
            await _Any.raw(f"DROP TRIGGER IF EXISTS {name} ON {table}" if postgres else f"DROP TRIGGER IF EXISTS {name}")
            if postgres:
                await _Any.raw(f"DROP FUNCTION IF EXISTS {name}()")
        for name in _INDEXES:
            await _Any.raw(f"DROP INDEX IF EXISTS {name}")

    manager.add_raw(create)
    manager.add_raw_backwards(drop)
    return manager
