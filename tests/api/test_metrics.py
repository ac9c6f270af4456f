"""`GET /v1/metrics` and `/v1/store-sales` through the API: who may read them, what a real scan
adds, and a clear problem for every bad period or count."""

from datetime import timedelta
from typing import Any

import httpx
import pytest

from mobile_contract.problems import Problem
from tests.support import Cafe, FakeClock, cashier_at_till, new_customer, set_up_cafe


@pytest.fixture
async def cafe(client: httpx.AsyncClient) -> Cafe:
    return await set_up_cafe(client)


def _problem(response: httpx.Response, kind: Problem) -> dict[str, Any]:
    assert response.status_code == kind.status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["type"] == kind.type
    return body


async def test_a_scan_at_the_till_shows_in_this_weeks_metrics(
    client: httpx.AsyncClient, cafe: Cafe, clock: FakeClock
) -> None:
    cashier = await cashier_at_till(cafe)
    customer = await new_customer(client, cafe)
    scan = await client.post(
        "/v1/scans",
        headers=cashier,
        json={"stamp": await customer.stamp(), "receipt": {"reference": "R-1", "amount_cents": 450}},
    )
    assert scan.status_code == 201, scan.text
    response = await client.get("/v1/metrics", headers=cafe.owner)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["interval"] == "week" and len(body["series"]) == 12
    this_week = body["series"][-1]
    assert (this_week["punches"], this_week["new_members"], this_week["active_members"]) == (1, 1, 1)
    assert this_week["average_order_value_cents"] == 450
    assert this_week["complete"] is False and this_week["churn_count"] is None
    assert {d["name"] for d in body["definitions"]} >= {"adoption_rate", "lifetime_value_cents", "retention_rate"}
    by_store = await client.get("/v1/metrics", headers=cafe.owner, params={"store_id": cafe.store_id})
    assert by_store.json()["series"][-1]["punches"] == 1


async def test_cashiers_do_not_read_the_metrics(client: httpx.AsyncClient, cafe: Cafe) -> None:
    cashier = await cashier_at_till(cafe)
    _problem(await client.get("/v1/metrics", headers=cashier), Problem.FORBIDDEN)
    _problem(await client.get("/v1/store-sales", headers=cashier), Problem.FORBIDDEN)


@pytest.mark.parametrize(
    ("params", "kind"),
    [
        ({"since": "2026-02-01", "until": "2026-01-01"}, Problem.METRICS_PERIOD_INVALID),
        ({"since": "2026-01-01", "until": "2026-01-01", "interval": "day"}, Problem.METRICS_PERIOD_INVALID),
        ({"since": "2000-01-01", "until": "2026-01-01"}, Problem.METRICS_PERIOD_INVALID),
        ({"since": "1066-10-14", "until": "2026-01-01", "interval": "month"}, Problem.METRICS_PERIOD_INVALID),
        ({"since": "9999-12-31"}, Problem.METRICS_PERIOD_INVALID),
        ({"since": "yesterday"}, Problem.INVALID_REQUEST),
        ({"until": "2026-02-30"}, Problem.INVALID_REQUEST),
        ({"interval": "year"}, Problem.INVALID_REQUEST),
        ({"store_id": "not-a-store"}, Problem.INVALID_REQUEST),
        ({"store_id": "7b0f3c0e-3b1f-4b5e-9d1c-2a2a2a2a2a2a"}, Problem.NOT_FOUND),
    ],
)
async def test_a_bad_period_or_filter_gets_its_problem(
    client: httpx.AsyncClient, cafe: Cafe, params: dict[str, str], kind: Problem
) -> None:
    _problem(await client.get("/v1/metrics", headers=cafe.owner, params=params), kind)


async def test_transaction_counts_are_entered_replaced_and_make_adoption(
    client: httpx.AsyncClient, cafe: Cafe, clock: FakeClock
) -> None:
    today = clock().date()
    days = [{"store_id": cafe.store_id, "day": str(today - timedelta(days=n)), "transactions": 40} for n in range(3)]
    saved = await client.post("/v1/store-sales", headers=cafe.owner, json={"days": days})
    assert saved.status_code == 200 and saved.json() == {"saved": 3}, saved.text
    again = [{**days[0], "transactions": 50}]
    assert (await client.post("/v1/store-sales", headers=cafe.owner, json={"days": again})).json() == {"saved": 1}
    listed = (await client.get("/v1/store-sales", headers=cafe.owner)).json()
    assert sorted(d["transactions"] for d in listed) == [40, 40, 50]
    report = (await client.get("/v1/metrics", headers=cafe.owner, params={"interval": "day"})).json()
    entered = [f for f in report["series"] if f["adoption_days_entered"]]
    assert len(entered) == 3 and all(f["adoption_rate"] == 0.0 for f in entered)


@pytest.mark.parametrize(
    ("day", "kind"),
    [
        ({"transactions": -1}, Problem.INVALID_REQUEST),
        ({"transactions": 10**9}, Problem.INVALID_REQUEST),
        ({"day": "1999-12-31"}, Problem.SALES_INVALID),
        ({"store_id": "7b0f3c0e-3b1f-4b5e-9d1c-2a2a2a2a2a2a"}, Problem.NOT_FOUND),
    ],
)
async def test_a_bad_count_is_refused_and_nothing_is_entered(
    client: httpx.AsyncClient, cafe: Cafe, clock: FakeClock, day: dict[str, Any], kind: Problem
) -> None:
    good = {"store_id": cafe.store_id, "day": str(clock().date()), "transactions": 5}
    body = {"days": [good, {**good, "day": str(clock().date() - timedelta(days=1)), **day}]}
    _problem(await client.post("/v1/store-sales", headers=cafe.owner, json=body), kind)
    assert (await client.get("/v1/store-sales", headers=cafe.owner)).json() == []


async def test_the_owner_sets_when_a_member_is_lost_and_managers_may_only_read_it(
    client: httpx.AsyncClient, cafe: Cafe
) -> None:
    assert (await client.get("/v1/metrics/settings", headers=cafe.owner)).json() == {"lost_after_days": 60}
    await cafe.add_staff("manager", "manager@cafe.test")
    manager = {"authorization": f"Bearer {(await cafe.log_in('manager@cafe.test'))['access_token']}"}
    assert (await client.get("/v1/metrics/settings", headers=manager)).status_code == 200
    _problem(await client.put("/v1/metrics/settings", headers=manager, json={"lost_after_days": 30}), Problem.FORBIDDEN)
    for wrong in (6, 731, "thirty", None):
        _problem(
            await client.put("/v1/metrics/settings", headers=cafe.owner, json={"lost_after_days": wrong}),
            Problem.INVALID_REQUEST,
        )
    changed = await client.put("/v1/metrics/settings", headers=cafe.owner, json={"lost_after_days": 30})
    assert changed.status_code == 200, changed.text
    assert (await client.get("/v1/metrics", headers=manager)).json()["lost_after_days"] == 30
    log = await client.get("/v1/audit-log", headers=cafe.owner, params={"action": "metrics.settings"})
    entries = log.json()["entries"]
    assert [e["details"]["lost_after_days"] for e in entries] == [{"from": 60, "to": 30}]
