"""No table a client can grow grows without end (T21): what the sweep deletes, and what it keeps."""

from dataclasses import replace
from datetime import timedelta
from uuid import UUID

import httpx
import pytest

from api.settings import Settings
from cards import metric_refresh, rate_limits, sweep
from cards.tables import Challenge, MetricDirty, RateLimitCounter, Redemption, StaffSession
from mobile_contract.problems import Problem
from mobile_contract.redemptions import redemption_request_message
from tests.support import OWNER_EMAIL, FakeClock, bearer, cashier_at_till, new_customer, set_up_cafe


@pytest.fixture
def settings(settings: Settings) -> Settings:
    days = timedelta(days=60)
    return replace(settings, access_ttl=days, refresh_ttl=days, session_ttl=days)


async def test_the_sweep_deletes_what_expired_and_keeps_the_rest(client: httpx.AsyncClient, clock: FakeClock) -> None:
    cafe = await set_up_cafe(client)
    await client.post("/v1/challenges")
    await rate_limits.hit("login:192.0.2.1", 10, sweep.RATE_LIMIT_WINDOW, clock())
    ended = await cafe.log_in(OWNER_EMAIL)
    await client.post("/v1/auth/logout", headers=bearer(ended["access_token"]))
    live_sessions = await StaffSession.count() - 1

    clock.advance(days=31)
    fresh_challenge = (await client.post("/v1/challenges")).json()["challenge"]
    await rate_limits.hit("login:192.0.2.2", 10, sweep.RATE_LIMIT_WINDOW, clock())
    await sweep.sweep(clock())

    assert [r["nonce"] for r in await Challenge.select(Challenge.nonce)] == [fresh_challenge]
    assert {r["bucket"] for r in await RateLimitCounter.select(RateLimitCounter.bucket)} == {
        "login:192.0.2.2",
        "enroll:127.0.0.1",  # the fresh challenge, counted after the month
    }
    assert await StaffSession.count() == live_sessions, "a session that ended a month ago is gone; live ones stay"


async def test_a_pending_code_waits_until_the_till_can_no_longer_be_told_it_expired(
    client: httpx.AsyncClient, clock: FakeClock
) -> None:
    cafe = await set_up_cafe(client)
    till = await cashier_at_till(cafe)
    customer = await new_customer(client, cafe)
    for n in range(10):
        scan = await client.post(
            "/v1/scans", headers=till, json={"stamp": await customer.stamp(), "receipt": {"reference": f"S{n}"}}
        )
        assert scan.status_code == 201, scan.text
        clock.advance(days=1)
    customer.phone.counter += 1
    signature = customer.phone.sign(redemption_request_message(UUID(customer.card_id), customer.phone.counter))
    asked = await client.post(
        f"/v1/me/cards/{customer.card_id}/redemptions",
        headers=customer.headers,
        json={"counter": customer.phone.counter, "signature": signature},
    )
    assert asked.status_code == 201, asked.text
    clock.advance(seconds=61)
    assert (await sweep.sweep(clock()))["redemption_codes"] == 0
    expired = await client.post("/v1/redemptions", headers=till, json={"code": asked.json()["code"]})
    assert expired.json()["type"] == Problem.REDEMPTION_CODE_EXPIRED.type
    clock.advance(minutes=10)
    assert (await sweep.sweep(clock()))["redemption_codes"] == 1
    assert await Redemption.count() == 0


async def test_a_rate_limit_bucket_is_swept_as_new_windows_open(clock: FakeClock) -> None:
    await rate_limits.hit("login:192.0.2.1", 10, sweep.RATE_LIMIT_WINDOW, clock())
    clock.advance(minutes=2)
    await rate_limits.hit("login:192.0.2.9", 10, sweep.RATE_LIMIT_WINDOW, clock())
    assert [r["bucket"] for r in await RateLimitCounter.select(RateLimitCounter.bucket)] == ["login:192.0.2.9"]


async def test_the_sweep_brings_the_metrics_up_to_date_so_their_marks_never_pile_up(
    client: httpx.AsyncClient, clock: FakeClock
) -> None:
    cafe = await set_up_cafe(client)
    till = await cashier_at_till(cafe)
    customer = await new_customer(client, cafe)
    scan = await client.post(
        "/v1/scans", headers=till, json={"stamp": await customer.stamp(), "receipt": {"reference": "M1"}}
    )
    assert scan.status_code == 201, scan.text
    assert await MetricDirty.count() > 0, "the punch marked its card"
    assert (await sweep.sweep(clock()))["metric_cards_refreshed"] == 1
    assert await MetricDirty.count() == 0
    assert await metric_refresh.mismatches(UUID(cafe.business_id)) == [], "the rollup is the ledger's"
    assert (await sweep.sweep(clock()))["metric_cards_refreshed"] == 0
