"""End to end through the reference client: what a café owner, a cashier and a customer would notice.

Everything goes over HTTP to the in-process app with `mobile_contract.client`, the way the
apps do; time moves on the injected clock, never by sleeping.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

import httpx
import pytest

from cards import staff
from mobile_contract import auth, programs, stores
from mobile_contract.client import OwnerClient, PhoneClient, ProblemError, ScannerClient
from mobile_contract.problems import Problem
from tests.support import FakeClock

PASSWORD = "correct horse battery"
OWNER = "olive@beanthere.test"
# 10:00 in San Francisco on a Monday: the café is open.
MORNING = datetime(2025, 6, 2, 17, 0, tzinfo=UTC)
EVERY_DAY = [
    stores.OpeningPeriod(day=day, opens="07:00", closes="19:00")
    for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
]


@dataclass
class Cafe:
    owner: OwnerClient
    store: stores.Store
    program: programs.Program
    till: ScannerClient
    manager_till: ScannerClient


async def open_cafe(http: httpx.AsyncClient, clock: FakeClock) -> Cafe:
    """The README walk-through through the client: first owner, a store, a scanner, staff and a program."""
    code = await staff.new_setup_code()
    assert code is not None
    await OwnerClient.set_up(
        http,
        auth.OwnerSetup(setup_code=code, business_name="Bean There", name="Olive", email=OWNER, password=PASSWORD),
    )
    owner = OwnerClient(http, email=OWNER, password=PASSWORD, clock=clock)
    await owner.login()
    store = await owner.create_store(
        stores.StoreCreate(
            name="Market St",
            time_zone="America/Los_Angeles",
            latitude=37.7936,
            longitude=-122.3950,
            opening_hours=EVERY_DAY,
        )
    )
    scanner = await owner.register_scanner(store.id, "Till 1")
    for role, email in (("cashier", "cat@beanthere.test"), ("manager", "max@beanthere.test")):
        await owner.create_staff(
            stores.StaffCreate(name=role.title(), email=email, password=PASSWORD, role=role, store_id=store.id)  # type: ignore[arg-type]
        )
    program = await owner.create_program(programs.ProgramCreate(name="Coffee card", reward_name="Free coffee"))

    def at_till(email: str) -> ScannerClient:
        return ScannerClient(
            http,
            email=email,
            password=PASSWORD,
            scanner_id=scanner.scanner.id,
            scanner_secret=scanner.scanner_secret,
            clock=clock,
        )

    return Cafe(owner, store, program, at_till("cat@beanthere.test"), at_till("max@beanthere.test"))


async def new_customer(http: httpx.AsyncClient, cafe: Cafe, clock: FakeClock, **kwargs: str) -> PhoneClient:
    phone = PhoneClient(http, clock=clock, **kwargs)  # type: ignore[arg-type]
    await phone.enroll()
    await phone.join(cafe.program.id)
    return phone


@pytest.fixture
async def cafe(client: httpx.AsyncClient, clock: FakeClock) -> Cafe:
    clock.now = MORNING
    return await open_cafe(client, clock)


async def buy(cafe: Cafe, phone: PhoneClient, clock: FakeClock, receipt: str) -> int:
    """One purchase: the phone shows a stamp, the cashier scans it a few seconds later; the new balance."""
    stamp = await phone.stamp()
    clock.advance(seconds=8)
    result = await cafe.till.scan(stamp, receipt, amount_cents=450)
    assert not result.flagged and result.reward_status != "pending_review"
    return result.balance


async def test_ten_purchases_over_ten_days_earn_exactly_one_free_coffee(
    client: httpx.AsyncClient, cafe: Cafe, clock: FakeClock
) -> None:
    phone = await new_customer(client, cafe, clock, algorithm="ES256")
    first_session = phone.session_token
    for day in range(10):
        clock.now = MORNING + timedelta(days=day, minutes=7 * day)
        assert await buy(cafe, phone, clock, f"R-{day}") == day + 1
    # A day apart, the phone's one-hour session and the cashier's 15-minute token were renewed on the way.
    assert phone.session_token != first_session
    card = await phone.card()
    assert card.balance == 10 and card.reward_available

    clock.advance(seconds=20)
    code = await phone.redemption_code()
    clock.advance(seconds=10)
    granted = await cafe.till.redeem(code.code)
    assert granted.granted and granted.reward_name == "Free coffee" and len(granted.punches_used) == 10
    assert (await phone.card()).balance == 0

    # The till retrying after a lost answer hears the same answer; another till, or a second
    # code for the emptied card, gets nothing more.
    again = await cafe.till.redeem(code.code)
    assert again.redemption_id == granted.redemption_id and again.balance == 0
    with pytest.raises(ProblemError) as used:
        await cafe.manager_till.redeem(code.code)
    assert used.value.problem is Problem.REDEMPTION_CODE_USED
    with pytest.raises(ProblemError) as empty:
        await cafe.till.redeem((await phone.redemption_code()).code)
    assert empty.value.problem is Problem.NOT_ENOUGH_PUNCHES


async def test_a_scan_retried_after_a_lost_answer_gets_the_first_answer_not_a_second_punch(
    client: httpx.AsyncClient, cafe: Cafe, clock: FakeClock
) -> None:
    phone = await new_customer(client, cafe, clock)
    stamp = await phone.stamp()
    clock.advance(seconds=5)
    first = await cafe.till.scan(stamp, "R-100", amount_cents=320)
    clock.advance(seconds=6)  # the scanner timed out waiting and sends the same scan again
    again = await cafe.till.scan(stamp, "R-100", amount_cents=320)
    assert again == first and first.balance == 1
    assert (await phone.card()).balance == 1


async def test_a_stamp_shown_twice_punches_once(client: httpx.AsyncClient, cafe: Cafe, clock: FakeClock) -> None:
    phone = await new_customer(client, cafe, clock)
    stamp = await phone.stamp()
    await cafe.till.scan(stamp, "R-200")
    clock.advance(seconds=3)
    with pytest.raises(ProblemError) as replay:
        await cafe.till.scan(stamp, "R-201")  # a screenshot shown for a second purchase
    assert replay.value.problem is Problem.STAMP_ALREADY_USED and replay.value.status == 409
    assert (await phone.card()).balance == 1


async def test_a_stamp_request_repeated_after_a_timeout_returns_the_same_stamp(
    client: httpx.AsyncClient, cafe: Cafe, clock: FakeClock
) -> None:
    phone = await new_customer(client, cafe, clock)
    stamp = await phone.stamp()
    assert await phone.resend(phone.counter) == stamp
    clock.advance(seconds=2)
    assert await phone.stamp() != stamp


async def test_a_refund_takes_the_purchase_punch_back(client: httpx.AsyncClient, cafe: Cafe, clock: FakeClock) -> None:
    phone = await new_customer(client, cafe, clock)
    assert await buy(cafe, phone, clock, "R-300") == 1
    clock.advance(minutes=5)
    assert await buy(cafe, phone, clock, "R-301") == 2
    clock.advance(minutes=10)
    refund = await cafe.manager_till.void("R-301", reason="Customer returned the muffin")
    assert refund.balance == 1
    card = await phone.card()
    assert card.balance == 1
    assert [item.voided for item in card.history if item.kind == "punch"] == [True, False]
    # The owner, away from any till, refunds by naming the store.
    refund = await cafe.owner.void("R-300", cafe.store.id)
    assert refund.balance == 0


async def test_a_stamp_scanned_after_it_expired_is_refused(
    client: httpx.AsyncClient, cafe: Cafe, clock: FakeClock
) -> None:
    phone = await new_customer(client, cafe, clock)
    stamp = await phone.stamp()
    clock.advance(seconds=cafe.program.stamp_lifetime_s + 10)
    with pytest.raises(ProblemError) as late:
        await cafe.till.scan(stamp, "R-400")
    assert late.value.problem is Problem.STAMP_EXPIRED
    # A fresh code from the phone works at once.
    assert (await cafe.till.scan(await phone.stamp(), "R-400")).balance == 1


async def test_a_copied_login_gets_no_stamp_and_a_cloned_key_freezes_the_card(
    client: httpx.AsyncClient, cafe: Cafe, clock: FakeClock
) -> None:
    phone = await new_customer(client, cafe, clock)
    await buy(cafe, phone, clock, "R-500")

    thief = phone.copy_login()
    with pytest.raises(ProblemError) as no_key:
        await thief.stamp()
    assert no_key.value.problem is Problem.INVALID_PROOF

    twin = phone.clone()
    clock.advance(minutes=2)
    # The genuine phone moves on. (Repeating only its very last request would read as a retry,
    # and get the very same single-use stamp back.)
    await phone.stamp()
    await phone.stamp()
    with pytest.raises(ProblemError) as cloned:
        await twin.stamp()  # the copy sends a counter the genuine phone already passed
    assert cloned.value.problem is Problem.COUNTER_REGRESSED
    card = await phone.card()
    assert card.status == "frozen"
    flags = await cafe.owner.flags(card_id=card.id)
    assert "counter_regression" in {flag.rule for flag in flags}


async def test_staff_tokens_and_phone_sessions_renew_without_the_user_noticing(
    client: httpx.AsyncClient, cafe: Cafe, clock: FakeClock
) -> None:
    # Without a clock, the clients learn of expiry from the server's 401 and renew then.
    phone = PhoneClient(client)
    await phone.enroll()
    await phone.join(cafe.program.id)
    till = ScannerClient(
        client,
        email="cat@beanthere.test",
        password=PASSWORD,
        scanner_id=cafe.till.scanner_id or UUID(int=0),
        scanner_secret=cafe.till.scanner_secret or "",
    )
    await till.scan(await phone.stamp(), "R-600")
    clock.advance(hours=3)
    result = await till.scan(await phone.stamp(), "R-601")
    assert result.balance == 2
