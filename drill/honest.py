"""Honest customers: a month of ordinary visits, with the untidiness of real networks and tills.

Each customer has a home store and visits it one to four times a week during opening
hours; some also drop into a second store later the same day (never faster than a bus).
About a third are regulars: the same weekdays, at the same time of day, give or take ten
minutes. Cashiers work fixed shifts (see `Store.on_shift`): whoever of the shift is free
serves the customer, so a regular of a shift worked alone always meets the same cashier.
Scans come a few seconds after the stamp, a few right at the end of its life (clock skew
inside the server's leeway); about 3 % of answers get lost and the scan is sent again;
about 2 % of purchases are refunded; whoever reaches ten punches asks for the free coffee.
"""

import random
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from uuid import UUID

from drill.world import Actor, Cafe, Store, jitter, local
from mobile_contract.client import Algorithm, PhoneClient, ProblemError, ScannerClient

STORE_WEIGHTS = (0.45, 0.35, 0.20)
VISITS_PER_WEEK = (1, 2, 3, 4)
VISITS_WEIGHTS = (30, 35, 25, 10)
SECOND_STORE_SHARE = 0.12
SECOND_STORE_DAY_SHARE = 0.3
LOST_ANSWER_SHARE = 0.03
REFUND_SHARE = 0.02
LATE_SCAN_SHARE = 0.05
P256_SHARE = 0.45
REACTIVE_SESSION_SHARE = 0.3  # phones that learn of an expired session from the server's 401
REGULAR_SHARE = 0.35


@dataclass
class Visit:
    at: datetime
    store: Store


@dataclass
class HonestCustomer:
    index: int
    rng: random.Random
    visits: list[Visit]
    algorithm: Algorithm
    email: str | None
    phone_number: str | None
    skew_s: int
    reactive: bool
    phone: PhoneClient | None = None
    card_id: UUID | None = None
    balance: int = 0
    troubles: list[str] = field(default_factory=list)


@dataclass
class HonestStats:
    customers: int = 0
    enrolled: int = 0
    visits: int = 0
    stamps: int = 0
    punches: int = 0
    late_scans: int = 0
    lost_answers: int = 0
    lost_answers_first_answer: int = 0
    refunds: int = 0
    redemptions_granted: int = 0
    flagged_scans: int = 0
    troubles: Counter[str] = field(default_factory=Counter)
    cards: dict[UUID, int] = field(default_factory=dict)
    punches_by_id: dict[UUID, int] = field(default_factory=dict)
    customers_with_trouble: set[int] = field(default_factory=set)


def plan_customers(seed: int, cafe: Cafe, count: int, days: int) -> list[HonestCustomer]:
    """Every honest customer's month, decided up front from the seed (one generator each)."""
    planned = []
    for index in range(count):
        rng = random.Random(f"{seed}/honest/{index}")
        home = rng.choices(cafe.stores, weights=STORE_WEIGHTS)[0]
        per_week = rng.choices(VISITS_PER_WEEK, weights=VISITS_WEIGHTS)[0]
        second = rng.choice([s for s in cafe.stores if s is not home]) if rng.random() < SECOND_STORE_SHARE else None
        visits: list[Visit] = []
        regular = rng.random() < REGULAR_SHARE
        # A regular's weekdays and time of day, fixed for the month (well inside 07:00-19:00).
        weekdays = sorted(rng.sample(range(7), per_week))
        usual = jitter(rng, 25 * 60, 11 * 3600)
        for week in range(0, days, 7):
            span = list(range(week, min(days, week + 7)))
            if regular:
                for day in (d for d in span if d % 7 in weekdays):
                    visits.append(Visit(local(day, 7, 15) + usual + jitter(rng, -600, 600), home))
                continue
            # A partial last week gets its share of the week's visits.
            wanted = per_week * len(span) / 7
            count_this_week = min(len(span), int(wanted) + (rng.random() < wanted - int(wanted)))
            for day in sorted(rng.sample(span, count_this_week)):
                # Well inside opening hours (07:00-19:00), so no honest punch needs the grace period.
                at = local(day, 7, 15) + jitter(rng, 0, 11.5 * 3600)
                visits.append(Visit(at, home))
                if second is not None and rng.random() < SECOND_STORE_DAY_SHARE:
                    # 75 min or more later: 20 km to the airport is 16 km/h, far below 250.
                    later = at + jitter(rng, 75 * 60, 180 * 60)
                    if later <= local(day, 18, 45):
                        visits.append(Visit(later, second))
        contact = rng.random()
        planned.append(
            HonestCustomer(
                index=index,
                rng=rng,
                visits=visits,
                algorithm="ES256" if rng.random() < P256_SHARE else "Ed25519",
                email=f"customer{index}@example.com" if contact < 0.55 else None,
                phone_number=f"+1415{index:07d}" if 0.45 < contact < 0.75 else None,
                skew_s=rng.randint(-4, 4),
                reactive=rng.random() < REACTIVE_SESSION_SHARE,
            )
        )
    return planned


class HonestCrowd:
    """Plays the honest customers' visits and keeps what happened to them."""

    def __init__(self, cafe: Cafe, customers: list[HonestCustomer]) -> None:
        self.cafe = cafe
        self.customers = customers
        self.stats = HonestStats(customers=len(customers))

    def actors(self) -> list[tuple[datetime, Actor, str]]:
        return [(c.visits[0].at, self._live(c), f"honest-{c.index}") for c in self.customers if c.visits]

    def _trouble(self, customer: HonestCustomer, what: str) -> None:
        customer.troubles.append(what)
        self.stats.troubles[what.split(":")[0]] += 1
        self.stats.customers_with_trouble.add(customer.index)

    def _till(self, customer: HonestCustomer, store: Store) -> ScannerClient:
        # Whoever of the shift is free serves the customer.
        cashier, till = customer.rng.choice(store.on_shift(self.cafe.clock()))
        return self.cafe.at_till(cashier, till)

    async def _live(self, customer: HonestCustomer) -> Actor:
        for visit in customer.visits:
            if self.cafe.clock() < visit.at:
                yield visit.at
            self.stats.visits += 1
            try:
                async for moment in self._visit(customer, visit.store):
                    yield moment
            except ProblemError as exc:
                self._trouble(customer, f"refused: {exc.type} ({exc.detail[:80]})")

    async def _enroll(self, customer: HonestCustomer) -> PhoneClient:
        clock = self.cafe.clock
        skew = timedelta(seconds=customer.skew_s)
        phone = PhoneClient(
            self.cafe.http,
            algorithm=customer.algorithm,
            clock=None if customer.reactive else (lambda: clock() + skew),
        )
        await phone.enroll(email=customer.email, phone=customer.phone_number)
        card = await phone.join(self.cafe.program.id)
        customer.phone, customer.card_id = phone, card.id
        self.stats.enrolled += 1
        self.stats.cards[card.id] = customer.index
        return phone

    async def _visit(self, customer: HonestCustomer, store: Store) -> AsyncIterator[datetime]:
        rng, clock = customer.rng, self.cafe.clock
        phone = customer.phone or await self._enroll(customer)
        till = self._till(customer, store)
        if customer.balance >= self.cafe.program.punches_per_reward:
            # A refund kept the reward for today's visit: ask for it first.
            async for moment in self._redeem(customer, phone, till):
                yield moment
        issued = await phone.request_stamp()
        self.stats.stamps += 1
        if rng.random() < LATE_SCAN_SHARE:
            # The scan lands up to 4 s after the stamp's end: clocks and queues, inside the 5 s leeway.
            self.stats.late_scans += 1
            yield issued.expires_at + jitter(rng, 0, 4)
        else:
            yield clock() + jitter(rng, 2, 25)
        receipt, amount = store.receipt(), rng.randint(250, 1800)
        result = await till.scan(issued.stamp, receipt, amount_cents=amount)
        self.stats.punches += 1
        self.stats.punches_by_id[result.punch_id] = customer.index
        customer.balance = result.balance
        if result.flagged:
            self.stats.flagged_scans += 1
            self._trouble(customer, "scan flagged")
        if rng.random() < LOST_ANSWER_SHARE:
            # The answer never reached the till: after its timeout it sends the very same scan again.
            self.stats.lost_answers += 1
            yield clock() + jitter(rng, 3, 10)
            try:
                again = await till.scan(issued.stamp, receipt, amount_cents=amount)
            except ProblemError as exc:
                self._trouble(customer, f"retry refused: {exc.type} (the first scan had punched)")
            else:
                if again == result:
                    self.stats.lost_answers_first_answer += 1
                else:
                    self._trouble(customer, "retry: a repeated scan was not answered with the first answer")
        if rng.random() < REFUND_SHARE:
            yield clock() + jitter(rng, 3 * 60, 25 * 60)
            manager = self.cafe.at_till(store.manager, store.tills[0])
            refunded = await manager.void(receipt, reason="Customer returned the purchase")
            self.stats.refunds += 1
            customer.balance = refunded.balance
            return  # a reward, if any, waits for the next visit
        if result.reward_available:
            async for moment in self._redeem(customer, phone, till):
                yield moment

    async def _redeem(
        self, customer: HonestCustomer, phone: PhoneClient, till: ScannerClient
    ) -> AsyncIterator[datetime]:
        rng, clock = customer.rng, self.cafe.clock
        yield clock() + jitter(rng, 5, 20)
        code = await phone.redemption_code()
        yield clock() + jitter(rng, 3, 15)
        try:
            granted = await till.redeem(code.code)
        except ProblemError as exc:
            if exc.type == "/problems/reward-held":
                self._trouble(customer, f"reward held: {' '.join(exc.reasons)[:160]}")
                return
            raise
        self.stats.redemptions_granted += 1
        customer.balance = granted.balance
