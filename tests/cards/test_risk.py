"""The risk rules, through the API: each raises its flag when it should, with its evidence in
plain words, and stays quiet for the honest neighbour case (threat-model rows T4, T5, T6, T14).

Every test runs on a Monday morning in San Francisco, when Market St is open, so that only
the rule under test has anything to say.
"""

import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest

from api.settings import DEFAULT_RATE_LIMITS, Settings
from cards.flags import card_code
from cards.risk import haversine_km, is_open
from cards.tables import Flag, FlagPunch
from mobile_contract.problems import Problem
from mobile_contract.stores import OpeningPeriod
from tests.support import (
    PASSWORD,
    Cafe,
    Customer,
    FakeClock,
    Phone,
    bearer,
    challenge,
    enroll,
    new_customer,
    set_up_cafe,
)

# Monday 23 November 2026, 10:00 in San Francisco (UTC-8).
MONDAY_10AM = datetime(2026, 11, 23, 18, 0, tzinfo=UTC)
SFO = (37.6213, -122.3790)
EVERY_DAY = [{"day": d, "opens": "05:00", "closes": "23:00"} for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(MONDAY_10AM)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    # Sessions outlive the hours these tests move the clock through.
    return Settings(
        data_dir=tmp_path,
        keyring_path=tmp_path / "keyring.json",
        access_ttl=timedelta(days=10),
        refresh_ttl=timedelta(days=11),
        session_ttl=timedelta(days=10),
        rate_limits=dict.fromkeys(DEFAULT_RATE_LIMITS, 1000),
        log_requests=False,
    )


@pytest.fixture
async def cafe(client: httpx.AsyncClient) -> Cafe:
    return await set_up_cafe(client)


class Till:
    """A cashier signed in at a scanner, punching cards with receipts of their own."""

    def __init__(self, client: httpx.AsyncClient, clock: FakeClock, headers: dict[str, str], prefix: str) -> None:
        self.client, self.clock, self.headers, self.prefix = client, clock, headers, prefix
        self.receipts = 0

    async def punch(self, customer: Customer) -> dict[str, Any]:
        self.receipts += 1
        response = await self.client.post(
            "/v1/scans",
            headers=self.headers,
            json={"stamp": await customer.stamp(), "receipt": {"reference": f"{self.prefix}-{self.receipts}"}},
        )
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body


async def hire(cafe: Cafe, name: str, email: str, store_id: str) -> str:
    response = await cafe.client.post(
        "/v1/staff",
        headers=cafe.owner,
        json={"name": name, "email": email, "password": PASSWORD, "role": "cashier", "store_id": store_id},
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def till(
    cafe: Cafe, clock: FakeClock, name: str, email: str, *, store_id: str = "", scanner: tuple[str, str] = ("", "")
) -> Till:
    """A new cashier signed in at a scanner (by default Market St's Till 1)."""
    store_id = store_id or cafe.store_id
    scanner_id, secret = scanner if scanner[0] else (cafe.scanner_id, cafe.scanner_secret)
    await hire(cafe, name, email, store_id)
    login = await cafe.client.post(
        "/v1/auth/login",
        json={"email": email, "password": PASSWORD, "scanner_id": scanner_id, "scanner_secret": secret},
    )
    assert login.status_code == 200, login.text
    return Till(cafe.client, clock, bearer(login.json()["access_token"]), email.split("@")[0])


async def open_store(cafe: Cafe, name: str, lat: float, lon: float) -> tuple[str, tuple[str, str]]:
    """A second store, open every day, with its own scanner: (store id, (scanner id, secret))."""
    store = await cafe.client.post(
        "/v1/stores",
        headers=cafe.owner,
        json={
            "name": name,
            "time_zone": "America/Los_Angeles",
            "latitude": lat,
            "longitude": lon,
            "opening_hours": EVERY_DAY,
        },
    )
    assert store.status_code == 201, store.text
    store_id = store.json()["id"]
    scanner = await cafe.client.post(f"/v1/stores/{store_id}/scanners", headers=cafe.owner, json={"name": "Gate"})
    assert scanner.status_code == 201, scanner.text
    return store_id, (scanner.json()["scanner"]["id"], scanner.json()["scanner_secret"])


async def set_risk(cafe: Cafe, **thresholds: object) -> None:
    response = await cafe.client.patch(f"/v1/programs/{cafe.program_id}", headers=cafe.owner, json=thresholds)
    assert response.status_code == 200, response.text


async def flags(rule: str | None = None) -> list[dict[str, Any]]:
    query = Flag.select().output(load_json=True).order_by(Flag.created_at)
    if rule is not None:
        query = query.where(Flag.rule == rule)
    return list(await query)


async def held(flag: dict[str, Any]) -> set[str]:
    """The punches a flag holds for review (they do not count toward a reward meanwhile)."""
    return {str(row["punch"]) for row in await FlagPunch.select(FlagPunch.punch).where(FlagPunch.flag == flag["id"])}


async def customer_with(client: httpx.AsyncClient, cafe: Cafe, **profile: Any) -> Customer:
    """A customer enrolled with a profile (a phone number, say) and a card in the café's program."""
    phone = Phone()
    session = await enroll(client, phone, **profile)
    card = await client.post(
        "/v1/me/cards", headers=bearer(session["session_token"]), json={"program_id": cafe.program_id}
    )
    assert card.status_code == 201, card.text
    return Customer(client, phone, session, card.json()["id"])


def code(customer: Customer) -> str:
    """The card's short name, as explanations write it."""
    return card_code(UUID(customer.card_id))


def ids(values: Sequence[object]) -> list[str | None]:
    return [None if v is None else str(v) for v in values]


# --- Pure rules --------------------------------------------------------------------------------


def test_haversine_measures_the_great_circle() -> None:
    assert haversine_km(37.7749, -122.4194, 37.7749, -122.4194) == 0
    assert haversine_km(48.8566, 2.3522, 51.5074, -0.1278) == pytest.approx(343.6, abs=0.5)  # Paris-London
    assert haversine_km(37.7749, -122.4194, *SFO) == pytest.approx(17.4, abs=0.2)


def _hours(*periods: tuple[str, str, str]) -> list[OpeningPeriod]:
    return [OpeningPeriod(day=d, opens=o, closes=c) for d, o, c in periods]  # type: ignore[arg-type]


def test_opening_hours_with_grace_and_periods_past_midnight() -> None:
    grace = timedelta(minutes=15)
    monday = _hours(("mon", "07:00", "18:00"))
    assert is_open(monday, datetime(2026, 11, 23, 12, 0), grace)
    assert is_open(monday, datetime(2026, 11, 23, 6, 45), grace)
    assert not is_open(monday, datetime(2026, 11, 23, 6, 44), grace)
    assert is_open(monday, datetime(2026, 11, 23, 18, 15), grace)
    assert not is_open(monday, datetime(2026, 11, 23, 18, 16), grace)
    assert not is_open(monday, datetime(2026, 11, 24, 12, 0), grace), "closed on Tuesdays"
    late = _hours(("fri", "18:00", "02:00"), ("sun", "00:00", "06:00"))
    assert is_open(late, datetime(2026, 11, 28, 1, 30), grace), "Friday night runs into Saturday"
    assert not is_open(late, datetime(2026, 11, 28, 3, 0), grace)
    assert is_open(late, datetime(2026, 11, 28, 23, 50), grace), "Sunday opens at midnight, 15 min grace"
    assert is_open([], datetime(2026, 11, 24, 3, 0), grace), "no hours listed: never outside them"


# --- impossible_travel (T4) ---------------------------------------------------------------------


async def test_a_card_punched_at_two_stores_too_far_apart_in_the_time_is_flagged(
    client: httpx.AsyncClient, clock: FakeClock, cafe: Cafe
) -> None:
    airport, gate = await open_store(cafe, "Airport", *SFO)
    market = await till(cafe, clock, "Ana Ruiz", "ana@cafe.test")
    at_gate = await till(cafe, clock, "Ben Ode", "ben@cafe.test", store_id=airport, scanner=gate)
    customer = await new_customer(client, cafe)
    first = await market.punch(customer)
    clock.advance(minutes=3)
    second = await at_gate.punch(customer)

    assert (first["flagged"], second["flagged"]) == (False, True)
    [flag] = await flags()
    km = haversine_km(37.7749, -122.4194, *SFO)
    assert flag["rule"] == "impossible_travel" and flag["severity"] == "medium"
    assert flag["explanation"] == (
        f"Card {code(customer)} was punched at Market St at 10:00 and at Airport at 10:03, "
        f"{km:.0f} km apart: {km * 20:.0f} km/h"
    )
    assert ids([flag["card"], flag["store"], flag["scanner"]]) == [customer.card_id, airport, gate[0]]
    assert await held(flag) == {first["punch_id"], second["punch_id"]}
    assert flag["evidence"]["punch_ids"] == [first["punch_id"], second["punch_id"]]


async def test_a_card_punched_at_two_stores_at_the_same_moment_is_flagged(
    client: httpx.AsyncClient, clock: FakeClock, cafe: Cafe
) -> None:
    airport, gate = await open_store(cafe, "Airport", *SFO)
    market = await till(cafe, clock, "Ana Ruiz", "ana@cafe.test")
    at_gate = await till(cafe, clock, "Ben Ode", "ben@cafe.test", store_id=airport, scanner=gate)
    customer = await new_customer(client, cafe)
    await market.punch(customer)
    await at_gate.punch(customer)
    [flag] = await flags("impossible_travel")
    assert flag["explanation"] == (
        f"Card {code(customer)} was punched at Market St at 10:00 and at Airport at 10:00, "
        "17 km apart with no time in between"
    )


async def test_a_card_punched_at_two_neighbouring_stores_an_hour_apart_is_not_flagged(
    client: httpx.AsyncClient, clock: FakeClock, cafe: Cafe
) -> None:
    mission, till_2 = await open_store(cafe, "Mission", 37.7500, -122.4194)  # 2.8 km south
    market = await till(cafe, clock, "Ana Ruiz", "ana@cafe.test")
    at_mission = await till(cafe, clock, "Ben Ode", "ben@cafe.test", store_id=mission, scanner=till_2)
    customer = await new_customer(client, cafe)
    await market.punch(customer)
    clock.advance(hours=1)
    assert (await at_mission.punch(customer))["flagged"] is False
    assert await flags() == []


async def test_a_refunded_punch_is_not_where_the_card_was(
    client: httpx.AsyncClient, clock: FakeClock, cafe: Cafe
) -> None:
    airport, gate = await open_store(cafe, "Airport", *SFO)
    market = await till(cafe, clock, "Ana Ruiz", "ana@cafe.test")
    at_gate = await till(cafe, clock, "Ben Ode", "ben@cafe.test", store_id=airport, scanner=gate)
    customer = await new_customer(client, cafe)
    await market.punch(customer)
    void = await client.post(
        "/v1/punches/void", headers=cafe.owner, json={"receipt": "ana-1", "store_id": cafe.store_id}
    )
    assert void.status_code == 200, void.text
    clock.advance(minutes=3)
    assert (await at_gate.punch(customer))["flagged"] is False


async def test_the_owner_sets_how_fast_is_too_fast(client: httpx.AsyncClient, clock: FakeClock, cafe: Cafe) -> None:
    """Per-program thresholds: at 400 km/h allowed, 3 minutes from Market St to the airport is fine."""
    await set_risk(cafe, risk={"travel_max_kmh": 400})
    airport, gate = await open_store(cafe, "Airport", *SFO)
    market = await till(cafe, clock, "Ana Ruiz", "ana@cafe.test")
    at_gate = await till(cafe, clock, "Ben Ode", "ben@cafe.test", store_id=airport, scanner=gate)
    customer = await new_customer(client, cafe)
    await market.punch(customer)
    clock.advance(minutes=3)
    assert (await at_gate.punch(customer))["flagged"] is False
    assert await flags("impossible_travel") == []


# --- cooldown and daily_cap (T5) ----------------------------------------------------------------


async def test_a_punch_too_soon_is_flagged_against_the_cashier_and_scanner_and_held(
    client: httpx.AsyncClient, clock: FakeClock, cafe: Cafe
) -> None:
    market = await till(cafe, clock, "Ana Ruiz", "ana@cafe.test")
    customer = await new_customer(client, cafe)
    await market.punch(customer)
    clock.advance(seconds=20)
    again = await market.punch(customer)
    assert again["flagged"] is True
    [flag] = await flags()
    assert (flag["rule"], flag["severity"]) == ("cooldown", "low")
    assert flag["explanation"] == (
        f"Card {code(customer)} was punched again 20 s after its last punch; "
        "the program asks for at least 60 s between punches."
    )
    assert ids([flag["card"], flag["store"], flag["scanner"]]) == [customer.card_id, cafe.store_id, cafe.scanner_id]
    assert flag["staff"] is not None
    assert await held(flag) == {again["punch_id"]}


async def test_the_fourth_punch_of_a_day_is_flagged_daily_cap_and_the_third_is_not(
    client: httpx.AsyncClient, clock: FakeClock, cafe: Cafe
) -> None:
    """The default policy flags the excess rather than refusing it: the punch stands, under review."""
    market = await till(cafe, clock, "Ana Ruiz", "ana@cafe.test")
    customer = await new_customer(client, cafe)
    results = []
    for _ in range(4):
        results.append(await market.punch(customer))
        clock.advance(seconds=61)
    assert [r["flagged"] for r in results] == [False, False, False, True]
    [flag] = await flags()
    assert flag["rule"] == "daily_cap"
    assert flag["explanation"] == f"Card {code(customer)} got punch number 4 today; the program allows 3 a day."
    assert await held(flag) == {results[3]["punch_id"]}
    assert (results[3]["balance"], results[3]["under_review"]) == (3, 1), "flagged, not refused: the punch stands"


# --- cashier_concentration (T6) -----------------------------------------------------------------


async def test_a_cashier_punching_mostly_three_cards_is_flagged_once_they_made_enough_punches(
    client: httpx.AsyncClient, clock: FakeClock, cafe: Cafe
) -> None:
    sam = await till(cafe, clock, "Sam Lee", "sam@cafe.test")
    strangers = [await new_customer(client, cafe) for _ in range(11)]
    friends = [await new_customer(client, cafe) for _ in range(3)]
    friend_punches: list[str] = []
    for customer in strangers:
        await sam.punch(customer)
        clock.advance(seconds=61)
    for _ in range(3):
        for friend in friends:
            result = await sam.punch(friend)
            friend_punches.append(result["punch_id"])
            clock.advance(seconds=61)
            if len(friend_punches) == 8:
                # 19 punches, 8 on three cards (42 %): not judged before 20 punches.
                assert result["flagged"] is False and await flags() == []
    assert result["flagged"] is True
    [flag] = await flags()
    assert (flag["rule"], flag["severity"]) == ("cashier_concentration", "medium")
    codes = sorted(code(f) for f in friends)
    match = re.fullmatch(
        r"Cashier Sam Lee made 9 of their 20 punches in the last 30 days \(45 %\) "
        r"on 3 cards: (\w{4}), (\w{4}), (\w{4})",
        flag["explanation"],
    )
    assert match is not None, flag["explanation"]
    assert sorted(match.groups()) == codes
    assert flag["card"] is None and flag["staff"] is not None and str(flag["store"]) == cafe.store_id
    assert await held(flag) == set(friend_punches)

    # One open flag per cashier: the next punch keeps the pattern but raises nothing new.
    await sam.punch(await new_customer(client, cafe))
    assert len(await flags("cashier_concentration")) == 1


async def test_a_cashier_serving_many_customers_is_not_flagged(
    client: httpx.AsyncClient, clock: FakeClock, cafe: Cafe
) -> None:
    sam = await till(cafe, clock, "Sam Lee", "sam@cafe.test")
    for _ in range(20):
        assert (await sam.punch(await new_customer(client, cafe)))["flagged"] is False
        clock.advance(seconds=61)
    assert await flags() == []


async def test_the_owner_sets_when_concentration_is_judged(
    client: httpx.AsyncClient, clock: FakeClock, cafe: Cafe
) -> None:
    await set_risk(cafe, risk={"concentration_min_punches": 4, "concentration_cards": 1, "concentration_share": 0.5})
    sam = await till(cafe, clock, "Sam Lee", "sam@cafe.test")
    friend, stranger = await new_customer(client, cafe), await new_customer(client, cafe)
    for customer in (friend, stranger, friend, stranger):
        await sam.punch(customer)
        clock.advance(seconds=61)
    assert await flags() == [], "2 of 4 on one card is not over half"
    assert (await sam.punch(friend))["flagged"] is True
    [flag] = await flags("cashier_concentration")
    assert flag["explanation"] == (
        f"Cashier Sam Lee made 3 of their 5 punches in the last 30 days (60 %) on 1 card: {code(friend)}"
    )


async def test_a_flagged_cashier_punching_the_same_cards_again_puts_those_punches_under_review(
    client: httpx.AsyncClient, clock: FakeClock, cafe: Cafe
) -> None:
    await set_risk(cafe, risk={"concentration_min_punches": 4, "concentration_cards": 1, "concentration_share": 0.5})
    sam = await till(cafe, clock, "Sam Lee", "sam@cafe.test")
    friend, stranger = await new_customer(client, cafe), await new_customer(client, cafe)
    for customer in (friend, stranger, friend, stranger):
        await sam.punch(customer)
        clock.advance(seconds=61)
    assert (await sam.punch(friend))["flagged"] is True
    [flag] = await flags("cashier_concentration")
    before = await held(flag)
    clock.advance(seconds=61)

    # The flag stays open: the cashier's next punches on the card it names wait with it ...
    later = []
    for _ in range(3):
        result = await sam.punch(friend)
        assert result["flagged"] is True
        later.append(result["punch_id"])
        clock.advance(seconds=61)
    # ... and a punch on a card it does not name counts as usual.
    other = await sam.punch(stranger)
    assert other["flagged"] is False

    assert len(await flags("cashier_concentration")) == 1
    assert await held(flag) == before | set(later)
    assert other["punch_id"] not in await held(flag)


# --- staff_card (T6) ------------------------------------------------------------------------------


async def test_a_colleague_punching_a_staff_members_card_is_flagged(
    client: httpx.AsyncClient, clock: FakeClock, cafe: Cafe
) -> None:
    await hire(cafe, "Sam Lee", "sam@cafe.test", cafe.store_id)
    kim = await till(cafe, clock, "Kim Park", "kim@cafe.test")
    sams_card = await new_customer(client, cafe, email="Sam@Cafe.test")
    neighbour = await new_customer(client, cafe, email="neighbour@example.com")
    assert (await kim.punch(neighbour))["flagged"] is False
    punched = await kim.punch(sams_card)
    assert punched["flagged"] is True
    [flag] = await flags()
    assert (flag["rule"], flag["severity"]) == ("staff_card", "low")
    assert flag["explanation"] == (
        f"Card {code(sams_card)} belongs to staff member Sam Lee (same e-mail address) "
        "and was punched by their colleague Kim Park."
    )
    assert ids([flag["card"], flag["store"], flag["scanner"]]) == [sams_card.card_id, cafe.store_id, cafe.scanner_id]
    assert await held(flag) == {punched["punch_id"]}


# --- outside_opening_hours ------------------------------------------------------------------------


async def test_a_punch_while_the_store_is_closed_is_flagged(
    client: httpx.AsyncClient, clock: FakeClock, cafe: Cafe
) -> None:
    """Market St opens Mondays 07:00-18:00; the program allows 15 minutes either side."""
    monday_only = {"opening_hours": [{"day": "mon", "opens": "07:00", "closes": "18:00"}]}
    response = await client.patch(f"/v1/stores/{cafe.store_id}", headers=cafe.owner, json=monday_only)
    assert response.status_code == 200, response.text
    market = await till(cafe, clock, "Ana Ruiz", "ana@cafe.test")
    customer = await new_customer(client, cafe)
    clock.now = MONDAY_10AM + timedelta(hours=8, minutes=15)  # 18:15
    assert (await market.punch(customer))["flagged"] is False
    clock.now = MONDAY_10AM + timedelta(hours=8, minutes=20)  # 18:20
    late = await market.punch(customer)
    assert late["flagged"] is True
    clock.now = MONDAY_10AM + timedelta(days=1)  # Tuesday 10:00
    tuesday = await market.punch(customer)
    clock.now = MONDAY_10AM + timedelta(days=7, hours=-3, minutes=-10)  # next Monday 06:50
    assert (await market.punch(customer))["flagged"] is False

    late_flag, tuesday_flag = await flags("outside_opening_hours")
    assert late_flag["explanation"] == (
        f"Card {code(customer)} was punched at Market St on Monday at 18:20; the store opens Monday 07:00-18:00."
    )
    assert tuesday_flag["explanation"] == (
        f"Card {code(customer)} was punched at Market St on Tuesday at 10:00; the store is closed on Tuesdays."
    )
    assert late_flag["severity"] == "low"
    assert ids([late_flag["card"], late_flag["store"], late_flag["scanner"]]) == [
        customer.card_id,
        cafe.store_id,
        cafe.scanner_id,
    ]
    assert late_flag["staff"] is not None
    assert await held(late_flag) == {late["punch_id"]} and await held(tuesday_flag) == {tuesday["punch_id"]}


async def test_a_store_without_opening_hours_is_never_outside_them(
    client: httpx.AsyncClient, clock: FakeClock, cafe: Cafe
) -> None:
    response = await client.patch(f"/v1/stores/{cafe.store_id}", headers=cafe.owner, json={"opening_hours": []})
    assert response.status_code == 200, response.text
    market = await till(cafe, clock, "Ana Ruiz", "ana@cafe.test")
    clock.now = MONDAY_10AM + timedelta(hours=17)  # Tuesday 03:00
    assert (await market.punch(await new_customer(client, cafe)))["flagged"] is False


# --- scanner_burst ----------------------------------------------------------------------------------


async def test_a_scanner_punching_faster_than_a_till_serves_is_flagged_once(
    client: httpx.AsyncClient, clock: FakeClock, cafe: Cafe
) -> None:
    market = await till(cafe, clock, "Ana Ruiz", "ana@cafe.test")
    customers = [await new_customer(client, cafe) for _ in range(12)]
    punches = []
    for customer in customers[:10]:
        result = await market.punch(customer)
        assert result["flagged"] is False, "10 punches in 2 minutes are a busy till, not a burst"
        punches.append(result["punch_id"])
        clock.advance(seconds=10)
    eleventh = await market.punch(customers[10])
    assert eleventh["flagged"] is True
    [flag] = await flags()
    assert (flag["rule"], flag["severity"]) == ("scanner_burst", "medium")
    assert flag["explanation"] == (
        "Scanner Till 1 at Market St recorded 11 punches in 2 minutes; the program expects at most 10."
    )
    assert ids([flag["scanner"], flag["store"]]) == [cafe.scanner_id, cafe.store_id]
    assert await held(flag) == {*punches, eleventh["punch_id"]}
    clock.advance(seconds=1)
    # The open flag already reports this burst: the next punch joins it rather than raising another.
    twelfth = await market.punch(customers[11])
    assert twelfth["flagged"] is True
    [flag] = await flags()
    assert await held(flag) == {*punches, eleventh["punch_id"], twelfth["punch_id"]}
    # Once the burst's window has passed, a punch is not part of it.
    clock.advance(seconds=121)
    assert (await market.punch(await new_customer(client, cafe)))["flagged"] is False
    assert len(await flags()) == 1


async def test_the_owner_sets_what_counts_as_a_burst(client: httpx.AsyncClient, clock: FakeClock, cafe: Cafe) -> None:
    await set_risk(cafe, risk={"burst_punches": 2, "burst_window_s": 60})
    market = await till(cafe, clock, "Ana Ruiz", "ana@cafe.test")
    results = []
    for _ in range(3):
        results.append((await market.punch(await new_customer(client, cafe)))["flagged"])
        clock.advance(seconds=25)
    assert results == [False, False, True]
    [flag] = await flags("scanner_burst")
    assert "3 punches in 1 minute" in flag["explanation"]


async def test_a_rule_counts_only_punches_up_to_the_one_it_judges(
    client: httpx.AsyncClient, clock: FakeClock, cafe: Cafe
) -> None:
    """A rule's window ends at the punch it judges: punches recorded at a later reading of the clock
    (another worker's, a till's retry that waited) are not "recent" for an earlier punch."""
    await set_risk(cafe, risk={"burst_punches": 3, "burst_window_s": 60})
    market = await till(cafe, clock, "Ana Ruiz", "ana@cafe.test")
    customers = [await new_customer(client, cafe) for _ in range(4)]
    start = clock.now
    clock.advance(seconds=600)
    for customer in customers[:3]:
        assert (await market.punch(customer))["flagged"] is False
    clock.now = start + timedelta(seconds=30)
    assert (await market.punch(customers[3]))["flagged"] is False
    assert await flags() == []


# --- shared_contact (T14) ----------------------------------------------------------------------------


async def test_a_second_card_for_one_email_address_is_flagged(client: httpx.AsyncClient, cafe: Cafe) -> None:
    first = await new_customer(client, cafe, email="farmer@example.com")
    assert await flags() == []
    second = await new_customer(client, cafe, email="Farmer@Example.com")
    [flag] = await flags()
    assert (flag["rule"], flag["severity"]) == ("shared_contact", "medium")
    assert flag["explanation"] == (
        f"Card {code(second)} joined Coffee card with the same e-mail address as 1 other card: "
        f"{code(first)}; the program allows 1 card per e-mail address or phone number."
    )
    assert str(flag["card"]) == second.card_id and str(flag["business"]) == cafe.business_id
    assert flag["evidence"]["card_ids"] == [first.card_id]


async def test_cards_sharing_a_phone_number_are_flagged_past_the_programs_allowance(
    client: httpx.AsyncClient, cafe: Cafe
) -> None:
    await set_risk(cafe, risk={"cards_per_contact": 2})
    first = await customer_with(client, cafe, phone="+14155550100")
    second = await customer_with(client, cafe, phone="+14155550100", email="other@example.com")
    assert await flags() == [], "the owner allows two cards per contact (a couple sharing a phone)"
    third = await customer_with(client, cafe, phone="+14155550100")
    [flag] = await flags("shared_contact")
    assert str(flag["card"]) == third.card_id
    assert flag["explanation"] == (
        f"Card {code(third)} joined Coffee card with the same phone number as 2 other cards: "
        f"{code(first)}, {code(second)}; the program allows 2 cards per "
        "e-mail address or phone number."
    )


async def test_customers_without_contact_or_with_their_own_are_never_matched(
    client: httpx.AsyncClient, cafe: Cafe
) -> None:
    for _ in range(3):
        await new_customer(client, cafe)
    await customer_with(client, cafe, email="a@example.com", phone="+14155550100")
    await customer_with(client, cafe, email="b@example.com", phone="+14155550101")
    assert await flags() == []


async def test_one_phone_key_enrolls_once(client: httpx.AsyncClient) -> None:
    """T14: cards cannot share a device key, because a key already enrolled is refused."""
    phone = Phone()
    for attempt in range(2):
        nonce = await challenge(client)
        response = await client.post(
            "/v1/customers",
            json={"challenge": nonce, "public_key": phone.jwk, "signature": phone.prove("enroll", nonce)},
        )
        if attempt == 0:
            assert response.status_code == 201, response.text
    assert response.status_code == 409 and response.json()["type"] == Problem.DEVICE_ALREADY_ENROLLED.type
