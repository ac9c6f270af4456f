"""Closing a store and closing a program (T9, T16): what stops, what goes on, and nothing honest lost."""

from dataclasses import replace
from datetime import timedelta

import httpx
import pytest

from api.settings import Settings
from mobile_contract.problems import Problem
from tests.support import PASSWORD, Cafe, Customer, FakeClock, bearer, cashier_at_till, new_customer, set_up_cafe


@pytest.fixture
def settings(settings: Settings) -> Settings:
    days = timedelta(days=30)
    return replace(settings, access_ttl=days, refresh_ttl=days, session_ttl=days)


def assert_problem(response: httpx.Response, kind: Problem) -> None:
    assert response.status_code == kind.status, response.text
    assert response.json()["type"] == kind.type, response.text


async def _scan(client: httpx.AsyncClient, till: dict[str, str], customer: Customer, receipt: str) -> httpx.Response:
    return await client.post(
        "/v1/scans", headers=till, json={"stamp": await customer.stamp(), "receipt": {"reference": receipt}}
    )


async def _fill(client: httpx.AsyncClient, clock: FakeClock, till: dict[str, str], customer: Customer, n: int) -> None:
    for i in range(n):
        scan = await _scan(client, till, customer, f"F-{customer.card_id[:6]}-{i}")
        assert scan.status_code == 201, scan.text
        clock.advance(days=1)


async def _code(client: httpx.AsyncClient, customer: Customer) -> str:
    from uuid import UUID

    from mobile_contract.redemptions import redemption_request_message

    customer.phone.counter += 1
    counter = customer.phone.counter
    body = {
        "counter": counter,
        "signature": customer.phone.sign(redemption_request_message(UUID(customer.card_id), counter)),
    }
    response = await client.post(f"/v1/me/cards/{customer.card_id}/redemptions", headers=customer.headers, json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["code"])


async def _close_store(cafe: Cafe) -> None:
    closed = await cafe.client.patch(f"/v1/stores/{cafe.store_id}", headers=cafe.owner, json={"active": False})
    assert closed.status_code == 200 and closed.json()["active"] is False, closed.text


# --- a closed store ------------------------------------------------------------------------


async def test_a_closed_stores_tills_stop_at_the_next_request(client: httpx.AsyncClient, clock: FakeClock) -> None:
    cafe = await set_up_cafe(client)
    till = await cashier_at_till(cafe)
    customer = await new_customer(client, cafe)
    await _fill(client, clock, till, customer, 10)
    code = await _code(client, customer)
    shown = await customer.stamp()
    await _close_store(cafe)

    assert_problem(
        await client.post("/v1/scans", headers=till, json={"stamp": shown, "receipt": {"reference": "X"}}),
        Problem.STORE_INACTIVE,
    )
    assert_problem(await client.post("/v1/redemptions", headers=till, json={"code": code}), Problem.STORE_INACTIVE)
    assert_problem(await client.get("/v1/staff/me", headers=till), Problem.STORE_INACTIVE)


async def test_a_closed_stores_cashier_cannot_sign_in_and_is_told_nothing_more(client: httpx.AsyncClient) -> None:
    cafe = await set_up_cafe(client)
    await cafe.add_staff("cashier", "cashier@cafe.test")
    await _close_store(cafe)
    right = await client.post(
        "/v1/auth/login",
        json={
            "email": "cashier@cafe.test",
            "password": PASSWORD,
            "scanner_id": cafe.scanner_id,
            "scanner_secret": cafe.scanner_secret,
        },
    )
    wrong = await client.post(
        "/v1/auth/login",
        json={
            "email": "cashier@cafe.test",
            "password": "not the password",
            "scanner_id": cafe.scanner_id,
            "scanner_secret": cafe.scanner_secret,
        },
    )
    assert right.status_code == 401 and right.json() == wrong.json(), "a right password reads like a wrong one"
    # An owner signing in at its till is refused the same way; signing in to the back office still works.
    owner_at_till = await client.post(
        "/v1/auth/login",
        json={
            "email": "owner@cafe.test",
            "password": PASSWORD,
            "scanner_id": cafe.scanner_id,
            "scanner_secret": cafe.scanner_secret,
        },
    )
    assert owner_at_till.status_code == 401
    assert (
        await client.post("/v1/auth/login", json={"email": "owner@cafe.test", "password": PASSWORD})
    ).status_code == 200


async def test_reopening_a_store_revives_no_till_session(client: httpx.AsyncClient, clock: FakeClock) -> None:
    cafe = await set_up_cafe(client)
    till = await cashier_at_till(cafe)
    await _close_store(cafe)
    reopened = await client.patch(f"/v1/stores/{cafe.store_id}", headers=cafe.owner, json={"active": True})
    assert reopened.status_code == 200
    assert (await client.get("/v1/staff/me", headers=till)).status_code == 401, "the closing ended it for good"
    again = await cafe.log_in("cashier@cafe.test", at_scanner=True)
    customer = await new_customer(client, cafe)
    assert (await _scan(client, bearer(again["access_token"]), customer, "R-1")).status_code == 201


async def test_a_closed_store_still_refunds_and_takes_no_new_scanners_or_staff(
    client: httpx.AsyncClient, clock: FakeClock
) -> None:
    cafe = await set_up_cafe(client)
    till = await cashier_at_till(cafe)
    customer = await new_customer(client, cafe)
    assert (await _scan(client, till, customer, "R-9")).status_code == 201
    await _close_store(cafe)
    refund = await client.post(
        "/v1/punches/void", headers=cafe.owner, json={"receipt": "R-9", "store_id": cafe.store_id, "reason": "Returned"}
    )
    assert refund.status_code == 200 and refund.json()["balance"] == 0, refund.text
    scanner = await client.post(f"/v1/stores/{cafe.store_id}/scanners", headers=cafe.owner, json={"name": "Till 9"})
    assert_problem(scanner, Problem.STORE_INACTIVE)
    hire = await client.post(
        "/v1/staff",
        headers=cafe.owner,
        json={
            "name": "New",
            "email": "new@cafe.test",
            "password": PASSWORD,
            "role": "cashier",
            "store_id": cafe.store_id,
        },
    )
    assert_problem(hire, Problem.STORE_INACTIVE)


async def test_closing_one_store_leaves_the_others_open(client: httpx.AsyncClient, clock: FakeClock) -> None:
    cafe = await set_up_cafe(client)
    other = await client.post(
        "/v1/stores",
        headers=cafe.owner,
        json={"name": "Pier", "time_zone": "UTC", "latitude": 37.8, "longitude": -122.4},
    )
    assert other.status_code == 201
    scanner = await client.post(f"/v1/stores/{other.json()['id']}/scanners", headers=cafe.owner, json={"name": "P1"})
    await cafe.add_staff("cashier", "pier@cafe.test", store_id=other.json()["id"])
    login = await client.post(
        "/v1/auth/login",
        json={
            "email": "pier@cafe.test",
            "password": PASSWORD,
            "scanner_id": scanner.json()["scanner"]["id"],
            "scanner_secret": scanner.json()["scanner_secret"],
        },
    )
    pier = bearer(login.json()["access_token"])
    await _close_store(cafe)
    customer = await new_customer(client, cafe)
    assert (await _scan(client, pier, customer, "P-1")).status_code == 201


# --- a closed program ----------------------------------------------------------------------


async def test_a_closed_program_takes_no_members_stamps_or_punches_but_pays_what_was_earned(
    client: httpx.AsyncClient, clock: FakeClock
) -> None:
    cafe = await set_up_cafe(client)
    till = await cashier_at_till(cafe)
    earned = await new_customer(client, cafe)
    await _fill(client, clock, till, earned, 10)
    started = await new_customer(client, cafe)
    shown = await started.stamp()
    closed = await client.patch(f"/v1/programs/{cafe.program_id}", headers=cafe.owner, json={"active": False})
    assert closed.status_code == 200 and closed.json()["active"] is False

    late = await client.post("/v1/scans", headers=till, json={"stamp": shown, "receipt": {"reference": "L-1"}})
    assert_problem(late, Problem.PROGRAM_INACTIVE)
    stamp = await client.post(
        f"/v1/me/cards/{started.card_id}/stamps",
        headers=started.headers,
        json=started.phone.stamp_request(started.card_id),
    )
    assert_problem(stamp, Problem.PROGRAM_INACTIVE)
    from tests.support import enroll

    newcomer = await enroll(client)
    join = await client.post(
        "/v1/me/cards", headers=bearer(newcomer["session_token"]), json={"program_id": cafe.program_id}
    )
    assert_problem(join, Problem.PROGRAM_INACTIVE)
    listed = await client.get(f"/v1/businesses/{cafe.business_id}/programs")
    assert listed.json() == []

    granted = await client.post("/v1/redemptions", headers=till, json={"code": await _code(client, earned)})
    assert granted.status_code == 201, "a free item earned before the program closed is still given"


async def test_a_program_closes_itself_at_its_end(client: httpx.AsyncClient, clock: FakeClock) -> None:
    cafe = await set_up_cafe(client)
    till = await cashier_at_till(cafe)
    customer = await new_customer(client, cafe)
    ends = clock() + timedelta(days=2)
    set_end = await client.patch(
        f"/v1/programs/{cafe.program_id}", headers=cafe.owner, json={"ends_at": ends.isoformat()}
    )
    assert set_end.status_code == 200, set_end.text
    assert (await _scan(client, till, customer, "E-1")).status_code == 201
    clock.advance(days=2, seconds=1)
    stamp = await client.post(
        f"/v1/me/cards/{customer.card_id}/stamps",
        headers=customer.headers,
        json=customer.phone.stamp_request(customer.card_id),
    )
    assert_problem(stamp, Problem.PROGRAM_INACTIVE)
    public = await client.get(f"/v1/businesses/{cafe.business_id}/programs")
    assert public.json() == []
    cleared = await client.patch(f"/v1/programs/{cafe.program_id}", headers=cafe.owner, json={"ends_at": None})
    assert cleared.status_code == 200 and cleared.json()["ends_at"] is None
    assert (await _scan(client, till, customer, "E-2")).status_code == 201


async def test_an_end_without_an_offset_is_refused(client: httpx.AsyncClient) -> None:
    cafe = await set_up_cafe(client)
    naive = await client.patch(
        f"/v1/programs/{cafe.program_id}", headers=cafe.owner, json={"ends_at": "2030-01-01T00:00:00"}
    )
    assert_problem(naive, Problem.INVALID_REQUEST)
