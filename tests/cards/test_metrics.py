"""The owner's metrics on a world whose every answer is worked by hand (cards/metric_definitions.py).

Members lost after 7 days. Store "Harbour" is in Auckland (UTC+13 in January: its local day
starts the evening before in UTC), "Quay" in UTC. Weeks start on Monday 5, 12 and 19 January 2026.

- A: Harbour, 5 Jan ($4.00), 6 Jan ($6.00), 14 Jan (no amount). Stays: [5, 6] and [14].
- B: Harbour 6 Jan ($5.00), Quay 20 Jan ($3.00). Stays: [6] and [20]; new at Quay on 20 Jan.
- C: Harbour 13 Jan ($2.00) refunded the same day; 15 Jan ($1.00) under an open flag.
- D: Harbour 7 and 8 Jan, rejected by the owner on 9 Jan (2 punches of a $3.00 / 10 program: 60 ¢).
- E: ten punches 1 to 10 Dec 2025 (lost on 18 Dec, after 10 days), a free item on 21 Jan.
- Harbour entered 10 transactions on 5 Jan and 20 on 6 Jan; Quay entered none.
"""

import random
from datetime import UTC, date, datetime, time, timedelta
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest

from cards import metric_refresh
from cards.errors import DomainError
from cards.metrics import metrics
from cards.tables import MetricCell, Store, StoreSales
from crypto.keyring import Keyring
from mobile_contract import metrics as wire
from mobile_contract.problems import Problem
from tests.cards.metric_world import World

AUCKLAND = ZoneInfo("Pacific/Auckland")
NOW = datetime(2026, 3, 1, tzinfo=UTC)


def harbour(day: int, hour: int = 9, month: int = 1, year: int = 2026) -> datetime:
    """A moment at Harbour, in its local time (the ledger keeps it in UTC)."""
    return datetime.combine(date(year, month, day), time(hour), AUCKLAND).astimezone(UTC)


def quay(day: int, hour: int = 12) -> datetime:
    return datetime(2026, 1, day, hour, tzinfo=UTC)


@pytest.fixture
async def world(keyring: Keyring) -> World:
    w = await World.create(keyring, {"Harbour": "Pacific/Auckland", "Quay": "UTC"})
    await metric_refresh.set_lost_after_days(w.owner, 7, NOW)
    a, b, c, d, e = [await w.card() for _ in range(5)]
    # 5 Jan 07:00 in Auckland is 4 Jan in UTC: the store's local day decides.
    await w.punch(a, harbour(5, 7), "Harbour", 400)
    await w.punch(a, harbour(6), "Harbour", 600)
    await w.punch(a, harbour(14), "Harbour")
    await w.punch(b, harbour(6), "Harbour", 500)
    await w.punch(b, quay(20), "Quay", 300)
    refunded = await w.punch(c, harbour(13), "Harbour", 200)
    await w.void(c, refunded, harbour(13, 10))
    await w.flag(c, [await w.punch(c, harbour(15), "Harbour", 100)], harbour(15))
    rejected = [await w.punch(d, harbour(7), "Harbour"), await w.punch(d, harbour(8), "Harbour")]
    flag = await w.flag(d, rejected, harbour(8))
    for punch in rejected:
        await w.void(d, punch, harbour(9))
    await w.decide(flag, "rejected", harbour(9))
    earned = [await w.punch(e, harbour(day, month=12, year=2025), "Harbour") for day in range(1, 11)]
    await w.redeem(e, harbour(21), "Harbour", earned)
    for day, count in ((5, 10), (6, 20)):
        await StoreSales.insert(
            StoreSales(store=w.stores["Harbour"], day=date(2026, 1, day), transactions=count, entered_at=NOW)
        )
    return w


async def _weeks(world: World, store: UUID | None = None, now: datetime = NOW) -> wire.Metrics:
    return await metrics(
        world.business, since=date(2026, 1, 5), until=date(2026, 1, 26), interval="week", store_id=store, now=now
    )


async def test_each_week_of_the_hand_worked_world(world: World) -> None:
    w1, w2, w3 = (await _weeks(world)).series
    assert (w1.start, w1.end, w3.end) == (date(2026, 1, 5), date(2026, 1, 12), date(2026, 1, 26))
    # Week 1: A twice and B once; A and B are new; E was lost in December, so nobody was a customer at the start.
    assert (w1.punches, w1.revenue_cents, w1.priced_orders, w1.average_order_value_cents) == (3, 1500, 3, 500)
    assert (w1.active_members, w1.new_members, w1.purchase_frequency) == (2, 2, 1.5)
    assert (w1.customers_at_start, w1.customers_at_end, w1.churn_count, w1.returned) == (0, 2, 0, 0)
    assert (w1.churn_rate, w1.retention_rate) == (None, None)  # nothing to divide by
    assert (w1.rejected_punches, w1.fraud_value_cents, w1.under_review) == (2, 60, 0)
    assert w1.lifespan_days == 10.0  # E's stay
    assert w1.lifetime_value_cents == round(500 * 1.5 * 10 / 7)
    assert (w1.adoption_rate, w1.adoption_days_entered) == (3 / 30, 2)
    assert w1.redemption_rate == 0.0
    # Week 2: A's third punch has no amount; C's refund never counts and its flagged punch waits.
    assert (w2.punches, w2.revenue_cents, w2.average_order_value_cents, w2.under_review) == (1, 0, None, 1)
    assert (w2.customers_at_start, w2.churn_count, w2.customers_at_end, w2.returned) == (2, 2, 1, 1)
    assert (w2.churn_rate, w2.retention_rate) == (1.0, 0.5)
    assert w2.lifespan_days == pytest.approx(13 / 3)  # E 10 days, A 2, B 1
    assert (w2.lifetime_value_cents, w2.adoption_rate, w2.adoption_days_entered) == (None, None, 0)
    # Week 3: B comes back at Quay (retained by the formula: E − N over S); E's free item spends 10 punches.
    assert (w3.punches, w3.average_order_value_cents, w3.active_members, w3.new_members) == (1, 300, 1, 0)
    assert (w3.customers_at_start, w3.churn_count, w3.customers_at_end, w3.retention_rate) == (1, 1, 1, 1.0)
    assert (w3.free_items_granted, w3.redemption_rate) == (1, 10.0)
    assert w3.lifespan_days == 3.5
    assert w3.lifetime_value_cents == 150


async def test_the_whole_period(world: World) -> None:
    totals = (await _weeks(world)).totals
    assert (totals.punches, totals.revenue_cents, totals.average_order_value_cents) == (5, 1800, 450)
    assert (totals.new_members, totals.customers_at_start, totals.customers_at_end) == (2, 0, 1)
    assert (totals.churn_count, totals.returned, totals.active_members) == (3, 2, None)
    assert totals.purchase_frequency == 5 / 4  # orders per member active in a week
    assert totals.lifetime_value_cents == round(450 * 1.25 * 3.5 / 7)
    assert (totals.redemption_rate, totals.rejected_punches, totals.fraud_value_cents) == (2.0, 2, 60)
    assert (totals.adoption_rate, totals.adoption_days_entered) == (0.1, 2)


async def test_a_store_counts_its_own_members(world: World) -> None:
    quay_weeks = (await _weeks(world, world.stores["Quay"])).series
    assert [(f.punches, f.new_members, f.active_members) for f in quay_weeks] == [(0, 0, 0), (0, 0, 0), (1, 1, 1)]
    assert quay_weeks[2].adoption_rate is None and quay_weeks[2].adoption_days_entered == 0


async def test_weekly_cohorts(world: World) -> None:
    cohorts = (await _weeks(world)).cohorts
    assert [(c.week, c.members, c.retained) for c in cohorts] == [(date(2026, 1, 5), 2, [1.0, 0.5, 0.5])]


async def test_an_interval_not_over_leaves_what_it_cannot_know_empty(world: World) -> None:
    w3 = (await _weeks(world, now=datetime(2026, 1, 22, 12, tzinfo=UTC))).series[2]
    assert not w3.complete
    assert (w3.churn_count, w3.churn_rate, w3.retention_rate, w3.customers_at_end, w3.returned) == (None,) * 5
    assert w3.punches == 1  # what happened so far is shown


async def test_an_empty_period_is_zeros_and_nothing_guessed(world: World) -> None:
    report = await metrics(
        world.business, since=date(2025, 6, 2), until=date(2025, 6, 30), interval="week", store_id=None, now=NOW
    )
    assert len(report.series) == 4 and report.cohorts == []
    for f in [*report.series, report.totals]:
        assert (f.punches, f.new_members, f.customers_at_start, f.churn_count) == (0, 0, 0, 0)
        assert (f.adoption_rate, f.redemption_rate, f.average_order_value_cents, f.lifespan_days) == (None,) * 4


async def test_days_and_months_are_the_stores_local_ones(world: World) -> None:
    days = await metrics(
        world.business, since=date(2026, 1, 5), until=date(2026, 1, 7), interval="day", store_id=None, now=NOW
    )
    # A's punch at 07:00 on 5 Jan in Auckland (18:00 on 4 Jan in UTC) is on the 5th.
    assert [(f.start, f.punches, f.active_members) for f in days.series] == [
        (date(2026, 1, 5), 1, 1),
        (date(2026, 1, 6), 2, 2),
    ]
    months = await metrics(
        world.business, since=date(2025, 12, 1), until=date(2026, 2, 1), interval="month", store_id=None, now=NOW
    )
    assert [(f.punches, f.active_members, f.new_members) for f in months.series] == [(10, 1, 1), (5, 2, 2)]


async def test_approving_a_flag_makes_its_punches_count(world: World) -> None:
    open_flag = await MetricCell.raw("SELECT id FROM flag WHERE status = 'open'")
    await world.decide(UUID(str(open_flag[0]["id"])), "approved", NOW)
    w2 = (await _weeks(world)).series[1]
    assert (w2.punches, w2.under_review, w2.revenue_cents) == (2, 0, 100)


async def test_the_rollup_agrees_with_the_ledger_and_the_check_can_tell(world: World) -> None:
    assert await metric_refresh.mismatches(world.business) == []
    await MetricCell.update({MetricCell.punches: MetricCell.punches + 1}).where(
        (MetricCell.business == world.business) & (MetricCell.kind == "day")
    )
    assert await metric_refresh.mismatches(world.business) != []
    await metric_refresh.rebuild(world.business)
    assert await metric_refresh.mismatches(world.business) == []


async def test_changing_when_a_member_is_lost_recomputes_every_card(world: World) -> None:
    await metric_refresh.set_lost_after_days(world.owner, 60, NOW)
    w2 = (await _weeks(world)).series[1]
    assert (w2.churn_count, w2.customers_at_end) == (0, 3)  # A, B and E (December) all punched within 60 days
    assert await metric_refresh.mismatches(world.business) == []


@pytest.mark.parametrize(
    ("since", "until", "interval"),
    [
        (date(2026, 1, 26), date(2026, 1, 5), "week"),
        (date(2026, 1, 5), date(2026, 1, 5), "day"),
        (date(2020, 1, 1), date(2026, 1, 1), "week"),  # 313 weeks
        (date(2025, 1, 1), date(2026, 3, 1), "day"),  # 424 days
        (date(1999, 12, 31), date(2000, 2, 1), "month"),
    ],
)
async def test_a_bad_period_is_refused_with_its_own_type(world: World, since: date, until: date, interval: str) -> None:
    with pytest.raises(DomainError) as refused:
        await metrics(world.business, since=since, until=until, interval=interval, store_id=None, now=NOW)  # type: ignore[arg-type]
    assert refused.value.problem is Problem.METRICS_PERIOD_INVALID


@pytest.mark.parametrize("seed", range(4))
async def test_the_rollup_kept_step_by_step_equals_one_computed_from_scratch(keyring: Keyring, seed: int) -> None:
    """Punches, refunds, free items, flags raised, approved, rejected and a changed time zone, in a
    random order, with refreshes in between: the cells always equal the sum recomputed from the ledgers."""
    rng = random.Random(seed)
    w = await World.create(keyring, {"Harbour": "Pacific/Auckland", "Quay": "UTC"})
    cards = [await w.card() for _ in range(6)]
    punches: dict[UUID, list[UUID]] = {c: [] for c in cards}
    flags: list[UUID] = []
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    for _ in range(60):
        moment += timedelta(hours=rng.randint(1, 90))
        card, step = rng.choice(cards), rng.random()
        if step < 0.5 or not punches[card]:
            store = rng.choice(["Harbour", "Quay"])
            punches[card].append(await w.punch(card, moment, store, rng.choice([None, 250, 475])))
        elif step < 0.6:
            await w.void(card, punches[card].pop(rng.randrange(len(punches[card]))), moment)
        elif step < 0.7:
            await w.redeem(card, moment, "Quay", punches[card][:2])
        elif step < 0.8:
            flags.append(await w.flag(card, punches[card][-2:], moment))
        elif step < 0.9 and flags:
            await w.decide(flags.pop(0), rng.choice(["approved", "rejected"]), moment)
        elif step < 0.95:
            await w.hold(card, moment, "Harbour")
        else:
            zone = rng.choice(["Pacific/Auckland", "America/Los_Angeles", "UTC"])
            await Store.update({Store.time_zone: zone}).where(Store.id == w.stores["Harbour"])
        if rng.random() < 0.2:
            await metric_refresh.refresh(w.business)
    assert await metric_refresh.mismatches(w.business) == []
