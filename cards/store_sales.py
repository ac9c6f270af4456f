"""A store's daily count of all its transactions, loyalty or not, as the owner enters it or imports
it from the till's end-of-day reports (CSV): adoption's denominator (cards/metrics.py). A day
entered again replaces what was entered before; every change is in the audit log."""

import csv
import io
from datetime import date, datetime
from uuid import UUID, uuid4

from cards.audit_log import record_action
from cards.database import stored_uuid, write_transaction
from cards.errors import DomainError
from cards.identity import StaffIdentity
from cards.tables import Store, StoreSales
from mobile_contract import metrics as wire
from mobile_contract.problems import Problem

MAX_ROWS = 20_000
MAX_TRANSACTIONS = 1_000_000
EARLIEST, LATEST = date(2000, 1, 1), date(2999, 12, 31)
CSV_COLUMNS = ("store", "day", "transactions")


async def enter_sales(actor: StaffIdentity, days: list[wire.StoreSalesDay], now: datetime, how: str) -> int:
    """Record these store-days (replacing what was entered for them); returns how many."""
    stores = {stored_uuid(r["id"]) for r in await Store.select(Store.id).where(Store.business == actor.business_id)}
    for i, d in enumerate(days, start=1):
        if d.store_id not in stores:
            raise DomainError(Problem.NOT_FOUND, f"Row {i}: no such store")
        _check(i, d.day, d.transactions)
    latest = {(d.store_id, d.day): d for d in days}
    async with write_transaction():
        for (store_id, day), d in latest.items():
            updated = await (
                StoreSales.update({StoreSales.transactions: d.transactions, StoreSales.entered_at: now})
                .where((StoreSales.store == store_id) & (StoreSales.day == day))
                .returning(StoreSales.id)
            )
            if not updated:
                await StoreSales.insert(
                    StoreSales(id=uuid4(), store=store_id, day=day, transactions=d.transactions, entered_at=now)
                )
        for store_id in sorted({d.store_id for d in latest.values()}, key=str):
            entered = sorted((d for d in latest.values() if d.store_id == store_id), key=lambda d: d.day)
            await record_action(
                actor=actor,
                action="store.sales",
                subject_kind="store",
                subject_id=store_id,
                reason=None,
                now=now,
                details={"how": how, "days": len(entered), "first": str(entered[0].day), "last": str(entered[-1].day)},
            )
    return len(latest)


def _check(row: int, day: date, transactions: int) -> None:
    if not EARLIEST <= day <= LATEST:
        raise DomainError(Problem.SALES_INVALID, f"Row {row}: the day must fall between {EARLIEST} and {LATEST}")
    if not 0 <= transactions <= MAX_TRANSACTIONS:
        raise DomainError(Problem.SALES_INVALID, f"Row {row}: transactions must be 0 to {MAX_TRANSACTIONS:,}")


async def import_sales_csv(actor: StaffIdentity, text: str, now: datetime) -> int:
    """Read `store,day,transactions` rows (the store by name or id, the day as YYYY-MM-DD) and
    enter them all, or none if any row is wrong; returns how many store-days."""
    named: dict[str, UUID] = {}
    for r in await Store.select(Store.id, Store.name).where(Store.business == actor.business_id):
        named[str(r["name"]).strip().casefold()] = stored_uuid(r["id"])
        named[str(stored_uuid(r["id"]))] = stored_uuid(r["id"])
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    header = [c.strip().casefold() for c in next(reader, [])]
    if tuple(header) != CSV_COLUMNS:
        raise DomainError(Problem.SALES_INVALID, f"The first row must be the header: {','.join(CSV_COLUMNS)}")
    days: list[wire.StoreSalesDay] = []
    for number, cells in enumerate(reader, start=2):
        if not any(c.strip() for c in cells):
            continue
        if len(days) >= MAX_ROWS:
            raise DomainError(Problem.SALES_INVALID, f"At most {MAX_ROWS:,} rows at once")
        if len(cells) != len(CSV_COLUMNS):
            raise DomainError(Problem.SALES_INVALID, f"Line {number}: expected 3 cells, found {len(cells)}")
        store, day, count = (c.strip() for c in cells)
        store_id = named.get(store.casefold())
        if store_id is None:
            raise DomainError(Problem.SALES_INVALID, f"Line {number}: no store named {store[:60]!r}")
        try:
            parsed_day = date.fromisoformat(day)
            transactions = int(count)
        except ValueError as exc:
            raise DomainError(
                Problem.SALES_INVALID, f"Line {number}: the day must be YYYY-MM-DD and transactions a whole number"
            ) from exc
        _check(number, parsed_day, transactions)
        days.append(wire.StoreSalesDay(store_id=store_id, day=parsed_day, transactions=transactions))
    if not days:
        raise DomainError(Problem.SALES_INVALID, "No rows after the header")
    return await enter_sales(actor, days, now, how="csv")


async def list_sales(business_id: UUID, since: date, until: date) -> list[wire.StoreSalesDay]:
    rows = await (
        StoreSales.select(StoreSales.store, StoreSales.day, StoreSales.transactions)
        .where((StoreSales.store._.business == business_id) & (StoreSales.day >= since) & (StoreSales.day < until))
        .order_by(StoreSales.day)
    )
    return [
        wire.StoreSalesDay(
            store_id=stored_uuid(r["store"]),
            day=r["day"] if isinstance(r["day"], date) else date.fromisoformat(str(r["day"])),
            transactions=int(r["transactions"]),
        )
        for r in rows
    ]
