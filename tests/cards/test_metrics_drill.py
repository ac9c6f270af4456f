"""The owner's metrics on a real drill month agree with a second, independent computation.

The drill (drill/run.py) plays 30 days of the three-store café and its kiosk over HTTP against
the real server, on this suite's own database: an honest crowd and every attack of the threat
model (refunds void punches, frauds are flagged, free items are given or held). Then, as
would follow it: a customer returns a purchase that an open flag names beside others still
standing (so the flag stays open); the owner decides the flags raised before the last week, each
a day after its last punch (shared contacts approved, the others rejected, the held free items
too; later ones stay open); the Airport store moves to Asia/Tokyo (so that a store's local day
is not the drill's); the stores' daily transactions are entered for some days (Market St's first
week, three days of Mission's, one of them 0, and the Airport's last two days; none for the
kiosk); and members are lost after 7 days (then again after 60, the default).

For every interval (day, week and month) of a period wider than the month, for its totals, for
the whole business and for each store, every figure of `cards.metrics.metrics` (the function
behind GET /v1/metrics), and the weekly cohorts, must equal what this file computes in plain
Python from cards/metric_definitions.py, without the rollup's code:

- from the punches CSV (cards.exports.export_punches): a punch counts unless `voided` or under
  review (`open_flag_rules`; a voided punch is not waiting for a decision, so it is not under
  review); its day is the local day of its store (the stores' time zones: raw `store` rows).
  Hence punches, revenue_cents, priced_orders, average_order_value_cents, active_members,
  new_members, purchase_frequency, under_review, and the members: for each card and scope (the
  whole business, or one store), the local days of its counted punches. A member is a customer
  on day T when it has a counted punch on one of the L days before T, found day by day; its
  stays (runs of customer days) give customers_at_start and _at_end, churn_count (the first
  day of no longer being one), returned (a stay that is not the first), lifespan_days (first
  to last punch of each stay already lost) and the cohorts;
- from the flags CSV (cards.exports.export_flags) and the void rows of the ledger: a punch
  rejected by the owner is one named by a rejected flag whose void was written at that flag's
  review (`reviewed_at`), counted on that day; held free items are the `reward_held` flags, on
  the day raised, at the flag's store; fraud_value_cents prices the rejected punches with the
  raw `program` row of their card (reward_value_cents ÷ punches_per_reward);
- from the raw `redemption` rows (granted, with their store and `decided_at`) and
  `redeemed_punch` rows: free_items_granted, and the punches they used up (redemption_rate);
- from the store-days entered here: adoption_rate and adoption_days_entered.

An interval is complete when its last day is over in every time zone (at UTC−12); until then
churn_count, churn_rate, retention_rate, customers_at_end and returned are empty (they depend on
that day), and lifespan counts only members whose loss is already known. `now` is the drill's
simulated end. Ratios are compared with pytest.approx, cents rounded to a nearest whole cent.
"""

import csv
import io
import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest

from cards.database import stored_time, stored_uuid
from cards.exports import PunchFilter, export_flags, export_punches
from cards.flag_review import FlagFilter, review_flag
from cards.identity import StaffIdentity
from cards.metric_refresh import set_lost_after_days
from cards.metrics import metrics
from cards.punches import void_punch
from cards.store_sales import enter_sales
from cards.tables import Business, Card, Flag, FlagPunch, LedgerEntry, Program, RedeemedPunch, Redemption, Staff, Store
from crypto.keyring import Keyring, load_keyring
from drill.run import Options, migrated_and_empty, run_drill
from drill.world import local
from mobile_contract import metrics as wire
from mobile_contract.scans import Void
from tests.conftest import ENGINE

DAYS = 30
CUSTOMERS = 24
SEED = 20250602
# The drill's last event: the owner fetches the last day's checkpoints at 00:30 on the day after.
END = local(DAYS, 0, 30)
# The period asked for: from before the month's first Monday to a week after its end.
SINCE, UNTIL = date(2025, 5, 28), date(2025, 7, 9)
TOKYO = "Asia/Tokyo"
# Figures that depend on the interval's last day being over everywhere.
NEEDS_COMPLETE = ("churn_count", "churn_rate", "retention_rate", "customers_at_end", "returned")
RATIOS = ("adoption_rate", "redemption_rate", "churn_rate", "retention_rate", "purchase_frequency", "lifespan_days")
ROUNDED = ("average_order_value_cents", "lifetime_value_cents", "fraud_value_cents")


# --- the facts, as exported ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Punch:
    id: UUID
    card: UUID
    store: UUID | None
    at: datetime
    amount_cents: int | None
    voided: bool
    under_open_flag: bool

    @property
    def counts(self) -> bool:
        return not self.voided and not self.under_open_flag

    @property
    def under_review(self) -> bool:
        return not self.voided and self.under_open_flag


@dataclass(frozen=True, slots=True)
class Event:
    """Something that happened at a store (None: no store) at a moment, `weight` times."""

    store: UUID | None
    at: datetime
    weight: Fraction = Fraction(1)


@dataclass
class Facts:
    now: datetime
    zones: dict[UUID, str]
    punches: list[Punch]
    rejected: list[Event]  # weight: what the free item it would have earned is worth per punch
    free_items: list[Event]  # weight: the punches the free item used up
    held: list[Event]
    sales: list[wire.StoreSalesDay]
    flags: list[dict[str, str]] = field(default_factory=list)


def _time(text: str) -> datetime:
    return stored_time(text.lstrip("'"))


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


async def _facts(business: UUID, sales: list[wire.StoreSalesDay], now: datetime) -> Facts:
    stores = await Store.select(Store.id, Store.name, Store.time_zone).where(Store.business == business)
    zones = {stored_uuid(s["id"]): str(s["time_zone"]) for s in stores}
    by_name = {str(s["name"]): stored_uuid(s["id"]) for s in stores}
    punches = [
        Punch(
            id=UUID(r["punch_id"]),
            card=UUID(r["card_id"]),
            store=by_name[r["store"]] if r["store"] else None,
            at=_time(r["recorded_at"]),
            amount_cents=int(r["amount_cents"]) if r["amount_cents"] else None,
            voided=r["voided"] == "yes",
            under_open_flag=bool(r["open_flag_rules"]),
        )
        for r in _rows(await export_punches(business, PunchFilter()))
    ]
    store_of = {p.id: p.store for p in punches}
    card_of = {p.id: p.card for p in punches}
    flags = _rows(await export_flags(business, FlagFilter()))
    # When each punch was voided, from the ledger's void rows.
    voided_at = {
        stored_uuid(v["voids"]): stored_time(v["recorded_at"])
        for v in await LedgerEntry.select(LedgerEntry.voids, LedgerEntry.recorded_at).where(
            (LedgerEntry.kind == "void") & (LedgerEntry.card._.program._.business == business)
        )
        if v["voids"] is not None
    }
    programs = {
        stored_uuid(p["id"]): (p["reward_value_cents"], int(p["punches_per_reward"]))
        for p in await Program.select(Program.id, Program.reward_value_cents, Program.punches_per_reward).where(
            Program.business == business
        )
    }
    program_of = {
        stored_uuid(c["id"]): stored_uuid(c["program"])
        for c in await Card.select(Card.id, Card.program).where(Card.program._.business == business)
    }
    rejected_at: dict[UUID, datetime] = {}
    for f in flags:
        if f["status"] != "rejected":
            continue
        for punch in (UUID(p) for p in f["punch_ids"].split()):
            if voided_at.get(punch) == _time(f["reviewed_at"]):  # voided by this rejection
                rejected_at[punch] = voided_at[punch]
    rejected = []
    for punch, at in rejected_at.items():
        value, per_reward = programs[program_of[card_of[punch]]]
        rejected.append(Event(store_of[punch], at, Fraction(0) if value is None else Fraction(value, per_reward)))
    used: dict[UUID, int] = defaultdict(int)
    for r in await RedeemedPunch.select(RedeemedPunch.redemption).where(
        RedeemedPunch.card._.program._.business == business
    ):
        used[stored_uuid(r["redemption"])] += 1
    free_items = [
        Event(stored_uuid(r["store"]), stored_time(r["decided_at"]), Fraction(used[stored_uuid(r["id"])]))
        for r in await Redemption.select(Redemption.id, Redemption.store, Redemption.decided_at).where(
            (Redemption.status == "granted") & (Redemption.card._.program._.business == business)
        )
    ]
    held = [
        Event(by_name[f["store"]] if f["store"] else None, _time(f["created_at"]))
        for f in flags
        if f["rule"] == "reward_held"
    ]
    return Facts(now, zones, punches, rejected, free_items, held, sales, flags)


# --- the independent computation -------------------------------------------------------------


def _interval_start(day: date, interval: wire.Interval) -> date:
    if interval == "week":
        return day - timedelta(days=day.weekday())
    if interval == "month":
        return day.replace(day=1)
    return day


def _following(start: date, interval: wire.Interval) -> date:
    if interval == "day":
        return start + timedelta(days=1)
    if interval == "week":
        return start + timedelta(days=7)
    return date(start.year + start.month // 12, start.month % 12 + 1, 1)


def spans_of(since: date, until: date, interval: wire.Interval) -> list[tuple[date, date]]:
    spans, start = [], _interval_start(since, interval)
    while start < until:
        spans.append((start, _following(start, interval)))
        start = spans[-1][1]
    return spans


def over_everywhere(day: date, now: datetime) -> bool:
    """Whether `day` has ended in every time zone: at UTC−12 its next midnight is 12:00 UTC."""
    return now >= datetime.combine(day + timedelta(days=1), time(12), UTC)


def _ratio(top: Fraction | int, bottom: Fraction | int) -> Fraction | None:
    return None if bottom == 0 else Fraction(top) / Fraction(bottom)


@dataclass(frozen=True, slots=True)
class Stay:
    began: date  # the first day as a customer (the day after its first punch)
    lost: date  # the first day no longer one
    first_punch: date
    last_punch: date


def stays_of(days: set[date], lost_after: int) -> list[Stay]:
    """Walk the days one by one: a customer on T has a counted punch in [T − L, T)."""
    stays: list[Stay] = []
    began: date | None = None
    day, last = min(days), max(days) + timedelta(days=lost_after + 1)
    while day <= last:
        customer = any(day - timedelta(days=k) in days for k in range(1, lost_after + 1))
        if customer and began is None:
            began = day
        elif not customer and began is not None:
            inside = [d for d in days if began - timedelta(days=1) <= d < day]
            stays.append(Stay(began, day, min(inside), max(inside)))
            began = None
        day += timedelta(days=1)
    return stays


class Expected:
    """The figures of one scope (None: the whole business), computed from the facts."""

    def __init__(self, facts: Facts, scope: UUID | None, lost_after: int) -> None:
        self.facts, self.scope, self.lost_after = facts, scope, lost_after
        self.counted = [(p, self.day(p.store, p.at)) for p in facts.punches if self.here(p.store) and p.counts]
        self.days_of: dict[UUID, set[date]] = defaultdict(set)
        for punch, day in self.counted:
            self.days_of[punch.card].add(day)
        self.stays = {card: stays_of(days, lost_after) for card, days in self.days_of.items()}
        self.reviewing = [self.day(p.store, p.at) for p in facts.punches if self.here(p.store) and p.under_review]

    def here(self, store: UUID | None) -> bool:
        return self.scope is None or store == self.scope

    def day(self, store: UUID | None, moment: datetime) -> date:
        zone = self.facts.zones[store] if store is not None else "UTC"
        return moment.astimezone(ZoneInfo(zone)).date()

    def events(self, events: Iterable[Event], a: date, b: date) -> list[Event]:
        return [e for e in events if self.here(e.store) and a <= self.day(e.store, e.at) < b]

    def punched_in(self, a: date, b: date) -> set[UUID]:
        return {p.card for p, day in self.counted if a <= day < b}

    def lifespan(self, until: date) -> Fraction | None:
        """Over the stays lost by `until` whose loss is known now (the day before it is over everywhere)."""
        known = [
            s
            for stays in self.stays.values()
            for s in stays
            if s.lost <= until and over_everywhere(s.lost - timedelta(days=1), self.facts.now)
        ]
        return _ratio(sum((s.last_punch - s.first_punch).days + 1 for s in known), len(known))

    def figures(self, a: date, b: date, *, spans: list[tuple[date, date]] | None = None) -> dict[str, Any]:
        """One interval [a, b), or with `spans` the whole period made of them."""
        L = timedelta(days=self.lost_after)
        counted = [p for p, day in self.counted if a <= day < b]
        revenue = sum(p.amount_cents or 0 for p in counted)
        priced = sum(p.amount_cents is not None for p in counted)
        first_days = {card: min(days) for card, days in self.days_of.items()}
        new = sum(a <= first < b for first in first_days.values())
        complete = over_everywhere(b - timedelta(days=1), self.facts.now)
        start_customers = len(self.punched_in(a - L, a))
        end_customers = len(self.punched_in(b - L, b))
        lost = sum(a < s.lost <= b for stays in self.stays.values() for s in stays)
        came_back = sum(a < s.began <= b for stays in self.stays.values() for s in stays[1:])
        if spans is None:
            active: int | None = len(self.punched_in(a, b))
            frequency = _ratio(len(counted), active or 0)
            length = Fraction((b - a).days)
        else:
            active = None
            member_intervals = sum(len(self.punched_in(x, y)) for x, y in spans)
            frequency = _ratio(len(counted), member_intervals)
            length = Fraction((b - a).days, len(spans))
        aov = _ratio(revenue, priced)
        lifespan = self.lifespan(b)
        clv = None if aov is None or frequency is None or lifespan is None else aov * frequency * lifespan / length
        spent = sum(e.weight for e in self.events(self.facts.free_items, a, b))
        rejected = self.events(self.facts.rejected, a, b)
        entered = [s for s in self.facts.sales if (self.scope is None or s.store_id == self.scope) and a <= s.day < b]
        orders_on_entered = sum(
            1 for p, day in self.counted if any(s.store_id == p.store and s.day == day for s in entered)
        )
        return {
            "start": a,
            "end": b,
            "complete": complete,
            "adoption_rate": _ratio(orders_on_entered, sum(s.transactions for s in entered)),
            "adoption_days_entered": len(entered),
            "redemption_rate": _ratio(spent, len(counted)),
            "churn_count": lost,
            "churn_rate": _ratio(lost, start_customers),
            "retention_rate": _ratio(end_customers - new, start_customers),
            "average_order_value_cents": aov,
            "purchase_frequency": frequency,
            "lifespan_days": lifespan,
            "lifetime_value_cents": clv,
            "active_members": active,
            "new_members": new,
            "returned": came_back,
            "customers_at_start": start_customers,
            "customers_at_end": end_customers,
            "punches": len(counted),
            "revenue_cents": revenue,
            "priced_orders": priced,
            "under_review": sum(a <= day < b for day in self.reviewing),
            "free_items_granted": len(self.events(self.facts.free_items, a, b)),
            "free_items_held": len(self.events(self.facts.held, a, b)),
            "rejected_punches": len(rejected),
            "fraud_value_cents": sum((e.weight for e in rejected), Fraction(0)),
        } | ({} if complete else dict.fromkeys(NEEDS_COMPLETE))

    def cohorts(self, first: date, end: date) -> list[tuple[date, int, list[Fraction]]]:
        weeks: dict[date, set[UUID]] = defaultdict(set)
        for card, days in self.days_of.items():
            weeks[_interval_start(min(days), "week")].add(card)
        out = []
        week = _interval_start(first, "week")
        while week < end:
            members = weeks.get(week, set())
            if members:
                later = [week + timedelta(days=7 * k) for k in range(math.ceil((end - week).days / 7))]
                share = [
                    Fraction(len(members & self.punched_in(w, w + timedelta(days=7))), len(members)) for w in later
                ]
                out.append((week, len(members), share))
            week += timedelta(days=7)
        return out


def differences(where: str, got: wire.Figures, expected: dict[str, Any]) -> list[str]:
    out = []
    for name, want in expected.items():
        have = getattr(got, name)
        if want is None or have is None:
            same = want is None and have is None
        elif name in ROUNDED:
            same = abs(have - want) <= Fraction(1, 2)  # a nearest whole cent (either one on a tie)
        elif name in RATIOS:
            same = have == pytest.approx(float(want), rel=1e-9, abs=1e-12)
        else:
            same = have == want
        if not same:
            shown = float(want) if isinstance(want, Fraction) else want
            out.append(f"{where} {name}: metrics() says {have!r}, the definition gives {shown!r}")
    return out


# --- the drill month, and what the owner does after it -----------------------------------------


async def _owner(business: UUID) -> StaffIdentity:
    row = await Staff.select(Staff.id).where((Staff.business == business) & (Staff.role == "owner")).first()
    assert row is not None
    return StaffIdentity(staff_id=stored_uuid(row["id"]), business_id=business, role="owner", store_id=None)


async def _review(owner: StaffIdentity, keyring_path: Path) -> None:
    """The flags raised before the last week are decided a day after their last punch (so none
    names a punch made after its decision), in that order: shared contacts approved, the others
    rejected. Those raised later, or decided too late for the month, stay open."""
    keyring = load_keyring(keyring_path)
    flags = await Flag.select(Flag.id, Flag.rule, Flag.created_at).where(
        (Flag.business == owner.business_id) & (Flag.created_at < local(DAYS - 7, 0))
    )
    named = await FlagPunch.select(FlagPunch.flag, FlagPunch.punch)
    made = {
        stored_uuid(e["id"]): stored_time(e["recorded_at"])
        for e in await LedgerEntry.select(LedgerEntry.id, LedgerEntry.recorded_at).where(LedgerEntry.kind == "punch")
    }
    latest = {stored_uuid(f["id"]): stored_time(f["created_at"]) for f in flags}
    for n in named:
        flag = stored_uuid(n["flag"])
        if flag in latest:
            latest[flag] = max(latest[flag], made[stored_uuid(n["punch"])])
    rules = {stored_uuid(f["id"]): str(f["rule"]) for f in flags}
    for flag, last in sorted(latest.items(), key=lambda item: item[1]):
        at = last + timedelta(days=1)
        if at >= END or not await Flag.exists().where((Flag.id == flag) & (Flag.status == "open")):
            continue  # too late for the month, or settled when a rejection voided its punches
        decision: Literal["approved", "rejected"] = "approved" if rules[flag] == "shared_contact" else "rejected"
        await review_flag(owner, flag, decision, "Reviewed after the drill", at, keyring)


def _sales(stores: dict[str, UUID]) -> list[wire.StoreSalesDay]:
    june = [date(2025, 6, d) for d in range(1, 31)]
    entered = [(stores["Market St"], day, 30 + day.day) for day in june[1:8]]
    entered += [(stores["Mission"], june[d], n) for d, n in ((8, 0), (15, 24), (22, 31))]
    entered += [(stores["Airport"], date(2025, 6, 30), 17), (stores["Airport"], date(2025, 7, 1), 9)]
    return [wire.StoreSalesDay(store_id=s, day=d, transactions=n) for s, d, n in entered]


async def _refund_under_review(business: UUID, keyring: Keyring) -> None:
    """A customer returns a purchase named by an open flag that names others still standing (so
    the flag stays open), an hour after the flag's last punch: before the owner rejects the flag."""
    refunded = {stored_uuid(v["voids"]) for v in await LedgerEntry.select(LedgerEntry.voids) if v["voids"] is not None}
    redeemed = {stored_uuid(r["punch"]) for r in await RedeemedPunch.select(RedeemedPunch.punch)}
    punches = {
        stored_uuid(e["id"]): e
        for e in await LedgerEntry.select(
            LedgerEntry.id, LedgerEntry.store, LedgerEntry.receipt, LedgerEntry.recorded_at
        ).where(LedgerEntry.kind == "punch")
    }
    named: dict[UUID, list[UUID]] = defaultdict(list)
    for n in await FlagPunch.select(FlagPunch.flag, FlagPunch.punch):
        named[stored_uuid(n["flag"])].append(stored_uuid(n["punch"]))
    for flag in (
        await Flag.select(Flag.id)
        .where(
            (Flag.business == business)
            & (Flag.status == "open")
            & Flag.rule.not_in(["shared_contact", "reward_held"])
            & (Flag.created_at < local(DAYS - 7, 0))
        )
        .order_by(Flag.created_at)
    ):
        standing = [p for p in named[stored_uuid(flag["id"])] if p not in refunded and punches[p]["receipt"]]
        last = max((stored_time(punches[p]["recorded_at"]) for p in standing), default=END)
        choice = [p for p in standing if p not in redeemed]
        if len(standing) >= 2 and choice and last + timedelta(days=1) < END:
            punch = punches[choice[0]]
            manager = (
                await Staff.select(Staff.id).where((Staff.store == punch["store"]) & (Staff.role == "manager")).first()
            )
            assert manager is not None
            store = stored_uuid(punch["store"])
            cashier = StaffIdentity(stored_uuid(manager["id"]), business, "manager", store)
            refund = Void(receipt=punch["receipt"], store_id=store, reason="Customer returned the purchase")
            result = await void_punch(cashier, refund, last + timedelta(hours=1), keyring)
            assert result.settled_flag_ids == []
            return
    raise AssertionError("no open flag names two standing punches")


async def after_the_drill(business: UUID, keyring_path: Path) -> tuple[dict[str, UUID], list[wire.StoreSalesDay]]:
    """What the owner and the staff do after the month (see the module's docstring)."""
    owner = await _owner(business)
    await _refund_under_review(business, load_keyring(keyring_path))
    await _review(owner, keyring_path)
    stores = {
        str(s["name"]): stored_uuid(s["id"])
        for s in await Store.select(Store.id, Store.name).where(Store.business == business)
    }
    await Store.update({Store.time_zone: TOKYO}).where(Store.id == stores["Airport"])
    sales = _sales(stores)
    await enter_sales(owner, sales, END, how="test")
    return stores, sales


@pytest.fixture
async def drill_month(
    tmp_path: Path,
) -> tuple[UUID, dict[str, UUID], list[wire.StoreSalesDay]]:
    """A real drill month in the suite's (just cleaned) database, then what follows it.

    The drill's server hashes staff passwords with cheap Argon2 parameters, as tests/api/test_review.py
    does: the drill signs staff in hundreds of times, which at the production cost is half its run time."""
    assert await migrated_and_empty()
    options = Options(
        customers=CUSTOMERS, days=DAYS, seed=SEED, scratch=tmp_path, engine=ENGINE, quiet=True, cheap_passwords=True
    )
    results = await run_drill(options)
    assert results["crashes"] == [] and results["server_errors"] == []
    business_row = await Business.select(Business.id).where(Business.name == "Bean There").first()
    assert business_row is not None
    business = stored_uuid(business_row["id"])
    latest = (
        await LedgerEntry.select(LedgerEntry.recorded_at).order_by(LedgerEntry.recorded_at, ascending=False).first()
    )
    assert latest is not None and stored_time(latest["recorded_at"]) < END
    stores, sales = await after_the_drill(business, tmp_path / "keys" / "keyring.json")
    return business, stores, sales


async def test_every_metric_of_a_drill_month_agrees_with_the_definitions(
    drill_month: tuple[UUID, dict[str, UUID], list[wire.StoreSalesDay]],
) -> None:
    business, stores, sales = drill_month
    owner = await _owner(business)
    facts = await _facts(business, sales, END)

    # The month is no toy: every kind of fact the figures read is there.
    assert len(facts.punches) > 200
    assert sum(p.voided for p in facts.punches) >= 5
    assert sum(p.under_review for p in facts.punches) >= 1
    assert len(facts.rejected) >= 1 and len(facts.free_items) >= 3 and len(facts.held) >= 1
    assert {f["status"] for f in facts.flags} >= {"open", "rejected", "approved"}
    assert sum(p.amount_cents is None for p in facts.punches if p.counts) >= 1  # the forged and insider punches
    assert len({p.store for p in facts.punches}) == 4

    scopes: list[tuple[str, UUID | None]] = [("all", None), *stores.items()]
    problems: list[str] = []
    seen_lost = seen_returned = seen_incomplete = seen_complete = 0
    for lost_after in (7, 60):
        await set_lost_after_days(owner, lost_after, END)
        for scope_name, scope in scopes:
            expected = Expected(facts, scope, lost_after)
            for interval in ("day", "week", "month"):
                report = await metrics(business, since=SINCE, until=UNTIL, interval=interval, store_id=scope, now=END)
                spans = spans_of(SINCE, UNTIL, interval)
                assert (report.since, report.until, report.lost_after_days) == (spans[0][0], spans[-1][1], lost_after)
                assert [(f.start, f.end) for f in report.series] == spans
                where = f"L={lost_after} {scope_name} {interval}"
                for got, (a, b) in zip(report.series, spans, strict=True):
                    want = expected.figures(a, b)
                    problems += differences(f"{where} {a}", got, want)
                    seen_lost += bool(want["churn_count"])
                    seen_returned += bool(want["returned"])
                    seen_complete += want["complete"]
                    seen_incomplete += not want["complete"]
                first, end = spans[0][0], spans[-1][1]
                problems += differences(f"{where} totals", report.totals, expected.figures(first, end, spans=spans))
                cohorts = [(c.week, c.members, c.retained) for c in report.cohorts]
                want_cohorts = expected.cohorts(first, end)
                if [(w, m, len(r)) for w, m, r in want_cohorts] != [(w, m, len(r)) for w, m, r in cohorts] or any(
                    r != pytest.approx([float(x) for x in want_r])
                    for (_, _, r), (_, _, want_r) in zip(cohorts, want_cohorts, strict=True)
                ):
                    problems.append(f"{where} cohorts: metrics() says {cohorts}, the definition gives {want_cohorts}")
    assert seen_lost and seen_returned and seen_complete and seen_incomplete
    assert problems == [], "\n".join(problems)
