"""One card's part of the owner's metrics, computed from its ledger and flags alone (a pure function).

The metrics (cards/metrics.py) read sums of these parts, kept in `metric_cell`; each card's own
part is kept beside them (`metric_card`), so that when the card changes its old part is taken
away and its new part added (cards/metric_refresh.py). Every sum is therefore the sum over the
cards as their ledgers stand, and `rollup_of` computes the same sums from scratch to check it.

A cell's key is (scope, kind, bucket, cohort): the scope is a store's id, or `all` for the whole
business; days are the local days of the store where a thing happened (UTC without a store),
as day ordinals (`date.toordinal()`); kind `day` holds the additive counts, `week` and `month`
the members active in that week or month, and `cohort` the members of the cohort whose first
punch fell in the week `cohort` who punched in the week `bucket`. Definitions:
cards/metric_definitions.py.
"""

import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import lru_cache
from uuid import UUID

ALL = "all"
FIELDS = (
    "active",
    "new_members",
    "punches",
    "revenue_cents",
    "priced_orders",
    "under_review",
    "free_items",
    "spent",
    "rejected",
    "rejected_value_ucents",
    "held",
    "joined",
    "lost",
    "lost_days",
)
INDEX = {name: i for i, name in enumerate(FIELDS)}
Key = tuple[str, str, int, int]  # scope, kind, bucket, cohort
Cells = dict[Key, list[int]]


@dataclass(frozen=True, slots=True)
class Entry:
    id: UUID
    kind: str  # punch, void, redeem
    store: UUID | None
    recorded_at: datetime
    amount_cents: int | None = None
    voids: UUID | None = None
    consumes: int = 0  # how many punches a redemption used up


@dataclass(frozen=True, slots=True)
class FlagOf:
    """A flag as far as one card is concerned: its status, which of the card's punches it names,
    and when it was decided (a rejection voids its punches at that moment)."""

    status: str
    punches: frozenset[UUID]
    reviewed_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class HeldItem:
    """A free item held at the till for the owner (a `reward_held` flag on the card)."""

    store: UUID | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class CardFacts:
    entries: list[Entry]
    flags: list[FlagOf]
    held: list[HeldItem]
    reward_value_cents: int | None
    punches_per_reward: int


@lru_cache(maxsize=512)
def _zone(name: str) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(name)


def local_day(moment: datetime, time_zone: str | None) -> int:
    """The ordinal of the local day of `moment` in `time_zone` (UTC when None)."""
    return moment.astimezone(_zone(time_zone) if time_zone else UTC).date().toordinal()


def week_of(day: int) -> int:
    """The Monday that starts the week of `day` (ordinals; weeks start on Monday)."""
    return day - date.fromordinal(day).weekday()


def month_of(day: int) -> int:
    return date.fromordinal(day).replace(day=1).toordinal()


def _add(cells: Cells, key: Key, field: str, amount: int = 1) -> None:
    row = cells.get(key)
    if row is None:
        row = cells[key] = [0] * len(FIELDS)
    row[INDEX[field]] += amount


def _scopes(store: UUID | None) -> tuple[str, ...]:
    return (ALL,) if store is None else (ALL, str(store))


def card_cells(facts: CardFacts, zones: dict[UUID, str], lost_after_days: int) -> Cells:
    """The card's part of every cell. `zones` gives each store's time zone; a member with no
    counted punch for `lost_after_days` days is lost."""
    cells: Cells = {}

    def day_at(store: UUID | None, moment: datetime) -> int:
        return local_day(moment, zones.get(store) if store is not None else None)

    voided = {e.voids: e for e in facts.entries if e.kind == "void" and e.voids is not None}
    under_review = set().union(*(f.punches for f in facts.flags if f.status == "open"))
    # A punch the owner rejected: voided by a rejected flag's decision, not refunded before it.
    rejected_at: dict[UUID, datetime] = {}
    for f in facts.flags:
        if f.status == "rejected" and f.reviewed_at is not None:
            for punch in f.punches:
                rejected_at[punch] = min(rejected_at.get(punch, f.reviewed_at), f.reviewed_at)
    value_per_punch = (
        None
        if facts.reward_value_cents is None
        else round(facts.reward_value_cents * 1_000_000 / facts.punches_per_reward)
    )
    counted_days: dict[str, list[int]] = {}
    for entry in facts.entries:
        if entry.kind == "punch":
            day = day_at(entry.store, entry.recorded_at)
            void = voided.get(entry.id)
            for scope in _scopes(entry.store):
                if void is not None:
                    if entry.id in rejected_at and void.recorded_at >= rejected_at[entry.id]:
                        rejected_day = day_at(entry.store, void.recorded_at)
                        _add(cells, (scope, "day", rejected_day, 0), "rejected")
                        if value_per_punch is not None:
                            _add(cells, (scope, "day", rejected_day, 0), "rejected_value_ucents", value_per_punch)
                elif entry.id in under_review:
                    _add(cells, (scope, "day", day, 0), "under_review")
                else:
                    key = (scope, "day", day, 0)
                    _add(cells, key, "punches")
                    if entry.amount_cents is not None:
                        _add(cells, key, "revenue_cents", entry.amount_cents)
                        _add(cells, key, "priced_orders")
                    counted_days.setdefault(scope, []).append(day)
        elif entry.kind == "redeem" and entry.id not in voided:
            day = day_at(entry.store, entry.recorded_at)
            for scope in _scopes(entry.store):
                _add(cells, (scope, "day", day, 0), "free_items")
                _add(cells, (scope, "day", day, 0), "spent", entry.consumes)
    for item in facts.held:
        for scope in _scopes(item.store):
            _add(cells, (scope, "day", day_at(item.store, item.created_at), 0), "held")
    for scope, days in counted_days.items():
        _member(cells, scope, sorted(set(days)), lost_after_days)
    return cells


def _member(cells: Cells, scope: str, days: list[int], lost_after_days: int) -> None:
    """A member's activity in one scope, from the sorted days of its counted punches."""
    first = days[0]
    cohort = week_of(first)
    _add(cells, (scope, "day", first, 0), "new_members")
    for day in days:
        _add(cells, (scope, "day", day, 0), "active")
    for week in sorted({week_of(d) for d in days}):
        _add(cells, (scope, "week", week, 0), "active")
        _add(cells, (scope, "cohort", week, cohort), "active")
    for month in sorted({month_of(d) for d in days}):
        _add(cells, (scope, "month", month, 0), "active")
    # A member is a customer on day T when it has a counted punch on one of the L days before T.
    # A run of punches no more than L days apart keeps it one from the day after its first punch
    # to L days after its last; it is lost the day after that.
    runs: list[list[int]] = []
    for day in days:
        if runs and day - runs[-1][1] <= lost_after_days:
            runs[-1][1] = day
        else:
            runs.append([day, day])
    for start, end in runs:
        _add(cells, (scope, "day", start + 1, 0), "joined")
        lost_on = end + lost_after_days + 1
        _add(cells, (scope, "day", lost_on, 0), "lost")
        _add(cells, (scope, "day", lost_on, 0), "lost_days", end - start + 1)


def add_into(total: Cells, part: Cells, sign: int = 1) -> None:
    """`total += sign * part`, cell by cell."""
    for key, values in part.items():
        row = total.get(key)
        if row is None:
            row = total[key] = [0] * len(FIELDS)
        for i, value in enumerate(values):
            row[i] += sign * value


def difference(new: Cells, old: Cells) -> Cells:
    """`new - old`, without the cells that did not change."""
    change: Cells = {}
    add_into(change, new)
    add_into(change, old, -1)
    return {key: values for key, values in change.items() if any(values)}


def rollup_of(parts: Iterable[Cells]) -> Cells:
    """The sum of many cards' parts, without cells that sum to nothing."""
    total: Cells = {}
    for part in parts:
        add_into(total, part)
    return {key: values for key, values in total.items() if any(values)}


def cells_to_json(cells: Cells) -> list[list[object]]:
    return [[*key, *values] for key, values in sorted(cells.items())]


def cells_from_json(rows: list[list[object]]) -> Cells:
    return {(str(r[0]), str(r[1]), int(r[2]), int(r[3])): [int(v) for v in r[4:]] for r in rows}  # type: ignore[call-overload]
