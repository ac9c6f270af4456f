"""The owner's metrics for a period, a store (or all) and an interval, read from the rollup
(cards/metric_rollup.py) after bringing it up to date with the ledger (cards/metric_refresh.py).
Every figure is what cards/metric_definitions.py says; only sums of cells are read, so the cost
does not grow with the number of punches."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID

from cards.database import stored_uuid
from cards.errors import DomainError
from cards.metric_definitions import DEFINITIONS
from cards.metric_refresh import lost_after_days, refresh
from cards.metric_rollup import ALL, FIELDS, month_of, week_of
from cards.tables import MetricCell, Store, StoreSales
from mobile_contract import metrics as wire
from mobile_contract.problems import Problem

MAX_INTERVALS = {"day": 400, "week": 260, "month": 120}
DEFAULT_INTERVALS = {"day": 30, "week": 12, "month": 12}
EARLIEST, LATEST = date(2000, 1, 1), date(2999, 12, 31)
# A day is over in every time zone once it is over at UTC−12.
_LAST_ZONE = timedelta(hours=12)


def start_of(day: date, interval: wire.Interval) -> date:
    ordinal = day.toordinal()
    if interval == "week":
        return date.fromordinal(week_of(ordinal))
    if interval == "month":
        return date.fromordinal(month_of(ordinal))
    return day


def next_start(start: date, interval: wire.Interval) -> date:
    if interval == "day":
        return start + timedelta(days=1)
    if interval == "week":
        return start + timedelta(days=7)
    return (start.replace(day=28) + timedelta(days=4)).replace(day=1)


def intervals(since: date, until: date, interval: wire.Interval) -> list[tuple[date, date]]:
    """The whole intervals that cover [since, until)."""
    out = []
    start = start_of(since, interval)
    while start < until:
        end = next_start(start, interval)
        out.append((start, end))
        start = end
    return out


def _period(since: date | None, until: date | None, interval: wire.Interval, today: date) -> list[tuple[date, date]]:
    if until is None:
        until = today + timedelta(days=1)
    if since is None:
        since = until
        for _ in range(DEFAULT_INTERVALS[interval]):
            since = start_of(since - timedelta(days=1), interval)
    for moment in (since, until):
        if not EARLIEST <= moment <= LATEST:
            raise DomainError(Problem.METRICS_PERIOD_INVALID, f"Dates run from {EARLIEST} to {LATEST}")
    if since >= until:
        raise DomainError(Problem.METRICS_PERIOD_INVALID, "`since` must be before `until`")
    spans = intervals(since, until, interval)
    if len(spans) > MAX_INTERVALS[interval]:
        raise DomainError(
            Problem.METRICS_PERIOD_INVALID,
            f"At most {MAX_INTERVALS[interval]} intervals of a {interval} at once; this period has {len(spans)}",
        )
    return spans


class _Days:
    """The day cells of a scope over [first, last], as running sums, with the sums before `first`."""

    def __init__(self, first: int, last: int, rows: dict[int, list[int]], before: dict[str, int]) -> None:
        self.first, self.last, self.rows, self.before = first, last, rows, before
        width = len(FIELDS)
        running = [[0] * width]
        for day in range(first, last + 1):
            row = rows.get(day)
            previous = running[-1]
            running.append(previous if row is None else [p + v for p, v in zip(previous, row, strict=True)])
        self._running = running

    def total(self, field: str, start: int, end: int) -> int:
        """The sum over the days [start, end), within [first, last]."""
        i = FIELDS.index(field)
        lo = min(max(start, self.first), self.last + 1) - self.first
        hi = min(max(end, self.first), self.last + 1) - self.first
        return self._running[hi][i] - self._running[lo][i] if hi > lo else 0

    def cumulative(self, field: str, through: int) -> int:
        """The sum over every day up to and including `through`."""
        return self.before.get(field, 0) + self.total(field, self.first, through + 1)


async def _day_cells(business_id: UUID, scope: str, first: int, last: int) -> _Days:
    rows = await MetricCell.select(MetricCell.bucket, *(getattr(MetricCell, f) for f in FIELDS)).where(
        (MetricCell.business == business_id)
        & (MetricCell.scope == scope)
        & (MetricCell.kind == "day")
        & (MetricCell.bucket >= first)
        & (MetricCell.bucket <= last)
    )
    before_fields = ("joined", "lost", "lost_days")
    sums = await MetricCell.raw(
        f"SELECT {', '.join(f'COALESCE(SUM({f}), 0) AS {f}' for f in before_fields)} FROM metric_cell "  # noqa: S608
        "WHERE business = {} AND scope = {} AND kind = 'day' AND bucket < {}",
        business_id,
        scope,
        first,
    )
    return _Days(
        first,
        last,
        {int(r["bucket"]): [int(r[f]) for f in FIELDS] for r in rows},
        {f: int(sums[0][f]) for f in before_fields},
    )


async def _active(business_id: UUID, scope: str, kind: str, first: int, end: int) -> dict[int, int]:
    rows = await MetricCell.select(MetricCell.bucket, MetricCell.active).where(
        (MetricCell.business == business_id)
        & (MetricCell.scope == scope)
        & (MetricCell.kind == kind)
        & (MetricCell.bucket >= first)
        & (MetricCell.bucket < end)
    )
    return {int(r["bucket"]): int(r["active"]) for r in rows}


async def _cohorts(business_id: UUID, scope: str, first: int, end: int) -> list[wire.Cohort]:
    rows = await MetricCell.select(MetricCell.bucket, MetricCell.cohort, MetricCell.active).where(
        (MetricCell.business == business_id)
        & (MetricCell.scope == scope)
        & (MetricCell.kind == "cohort")
        & (MetricCell.cohort >= first)
        & (MetricCell.bucket < end)
    )
    cells = {(int(r["cohort"]), int(r["bucket"])): int(r["active"]) for r in rows}
    cohorts = []
    for week in range(first, end, 7):
        members = cells.get((week, week), 0)
        if members:
            retained = [cells.get((week, later), 0) / members for later in range(week, end, 7)]
            cohorts.append(wire.Cohort(week=date.fromordinal(week), members=members, retained=retained))
    return cohorts


@dataclass(frozen=True, slots=True)
class _Adoption:
    """Per local day: the transactions entered, and the orders on those same store-days."""

    transactions: dict[int, int]
    orders: dict[int, int]
    entered: dict[int, int]


async def _adoption(business_id: UUID, store_id: UUID | None, first: date, end: date) -> _Adoption:
    where = (StoreSales.store._.business == business_id) & (StoreSales.day >= first) & (StoreSales.day < end)
    if store_id is not None:
        where &= StoreSales.store == store_id
    sales = await StoreSales.select(StoreSales.store, StoreSales.day, StoreSales.transactions).where(where)
    transactions: dict[int, int] = {}
    entered: dict[int, int] = {}
    stores: set[str] = set()
    for row in sales:
        day = _day(row["day"]).toordinal()
        transactions[day] = transactions.get(day, 0) + int(row["transactions"])
        entered[day] = entered.get(day, 0) + 1
        stores.add(str(stored_uuid(row["store"])))
    orders: dict[int, int] = {}
    if stores:
        entered_pairs = {(str(stored_uuid(r["store"])), _day(r["day"]).toordinal()) for r in sales}
        for row in await MetricCell.select(MetricCell.scope, MetricCell.bucket, MetricCell.punches).where(
            (MetricCell.business == business_id)
            & MetricCell.scope.is_in(sorted(stores))
            & (MetricCell.kind == "day")
            & (MetricCell.bucket >= first.toordinal())
            & (MetricCell.bucket < end.toordinal())
        ):
            if (row["scope"], int(row["bucket"])) in entered_pairs:
                day = int(row["bucket"])
                orders[day] = orders.get(day, 0) + int(row["punches"])
    return _Adoption(transactions=transactions, orders=orders, entered=entered)


def _day(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _ratio(top: float, bottom: float) -> float | None:
    return None if not bottom else top / bottom


def _figures(
    start: date,
    end: date,
    days: _Days,
    adoption: _Adoption,
    safe_today: int,
    *,
    active: int | None,
    frequency: float | None = None,
    interval_days: float | None = None,
) -> wire.Figures:
    """One interval's figures (or the period's, given its frequency and mean interval length)."""
    a, b = start.toordinal(), end.toordinal()
    complete = b <= safe_today

    def within(field: str) -> int:
        return days.total(field, a, b)

    def after_start(field: str) -> int:  # events on the days (a, b]: joining and losing happen at a day's start
        return days.total(field, a + 1, b + 1)

    customers_at_start = days.cumulative("joined", a) - days.cumulative("lost", a)
    punches, revenue, priced = within("punches"), within("revenue_cents"), within("priced_orders")
    new = within("new_members")
    through = min(b, safe_today)
    lost_so_far = days.cumulative("lost", through)
    lifespan = _ratio(days.cumulative("lost_days", through), lost_so_far)
    aov = _ratio(revenue, priced)
    if frequency is None and active is not None:
        frequency = _ratio(punches, active)
    length = interval_days if interval_days is not None else b - a
    clv = None if aov is None or frequency is None or lifespan is None else round(aov * frequency * lifespan / length)
    churn = after_start("lost") if complete else None
    customers_at_end = customers_at_start + after_start("joined") - after_start("lost") if complete else None
    transactions = sum(v for d, v in adoption.transactions.items() if a <= d < b)
    return wire.Figures(
        start=start,
        end=end,
        complete=complete,
        adoption_rate=_ratio(sum(v for d, v in adoption.orders.items() if a <= d < b), transactions),
        adoption_days_entered=sum(v for d, v in adoption.entered.items() if a <= d < b),
        redemption_rate=_ratio(within("spent"), punches),
        churn_count=churn,
        churn_rate=None if churn is None else _ratio(churn, customers_at_start),
        retention_rate=None if customers_at_end is None else _ratio(customers_at_end - new, customers_at_start),
        average_order_value_cents=None if aov is None else round(aov),
        purchase_frequency=frequency,
        lifespan_days=lifespan,
        lifetime_value_cents=clv,
        active_members=active,
        new_members=new,
        returned=after_start("joined") - new if complete else None,
        customers_at_start=customers_at_start,
        customers_at_end=customers_at_end,
        punches=punches,
        revenue_cents=revenue,
        priced_orders=priced,
        under_review=within("under_review"),
        free_items_granted=within("free_items"),
        free_items_held=within("held"),
        rejected_punches=within("rejected"),
        fraud_value_cents=round(within("rejected_value_ucents") / 1_000_000),
    )


async def _check_store(business_id: UUID, store_id: UUID | None) -> None:
    if store_id is None:
        return
    if not await Store.exists().where((Store.id == store_id) & (Store.business == business_id)):
        raise DomainError(Problem.NOT_FOUND, "No such store")


async def metrics(
    business_id: UUID,
    *,
    since: date | None,
    until: date | None,
    interval: wire.Interval,
    store_id: UUID | None,
    now: datetime,
) -> wire.Metrics:
    """The metrics of a business (or one of its stores) over [since, until), widened to whole intervals."""
    spans = _period(since, until, interval, now.date())
    await _check_store(business_id, store_id)
    await refresh(business_id)
    first, end = spans[0][0], spans[-1][1]
    scope = ALL if store_id is None else str(store_id)
    safe_today = (now - _LAST_ZONE).date().toordinal()
    days = await _day_cells(business_id, scope, first.toordinal(), end.toordinal())
    adoption = await _adoption(business_id, store_id, first, end)
    active = (
        {d: row[FIELDS.index("active")] for d, row in days.rows.items()}
        if interval == "day"
        else await _active(business_id, scope, interval, first.toordinal(), end.toordinal())
    )
    series = [_figures(a, b, days, adoption, safe_today, active=active.get(a.toordinal(), 0)) for a, b in spans]
    totals = _figures(
        first,
        end,
        days,
        adoption,
        safe_today,
        active=None,
        frequency=_ratio(sum(f.punches for f in series), sum(f.active_members or 0 for f in series)),
        interval_days=(end - first).days / len(spans),
    )
    cohort_first = week_of(first.toordinal())
    return wire.Metrics(
        since=first,
        until=end,
        interval=interval,
        store_id=store_id,
        lost_after_days=await lost_after_days(business_id),
        totals=totals,
        series=series,
        cohorts=await _cohorts(business_id, scope, cohort_first, end.toordinal()),
        definitions=[
            wire.MetricDefinition(name=d.name, label=d.label, sentence=d.sentence, formula=d.formula)
            for d in DEFINITIONS
        ],
    )


SERIES_CSV_HEADER = (
    "start",
    "end",
    "complete",
    *(f for f in wire.Figures.__struct_fields__ if f not in ("start", "end", "complete")),
)


def series_rows(figures: Sequence[wire.Figures]) -> list[list[Any]]:
    """Each interval as a CSV row, in SERIES_CSV_HEADER's order."""
    return [[getattr(f, name) for name in SERIES_CSV_HEADER] for f in figures]
