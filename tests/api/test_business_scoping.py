"""Nothing of one business reaches another's staff, and nothing of one customer another customer (T13, T20).

Each test is a guard that, deleted from the code, once left the whole suite green.
"""

from typing import Any

import httpx

from cards.tables import Business, LedgerEntry, Staff
from crypto.passwords import hash_password
from mobile_contract.problems import Problem
from tests.support import PASSWORD, Cafe, cashier_at_till, new_customer, set_up_cafe


async def _second_cafe(client: httpx.AsyncClient) -> Cafe:
    """Another business on the same server. The setup code serves an empty database only, so its
    owner is written directly; everything after goes through the API, as the first café's."""
    business = Business(name="Rival Roasters")
    await business.save()
    await Staff.insert(
        Staff(
            business=business.id,
            name="Rex",
            email="rex@rival.test",
            password_hash=hash_password(PASSWORD),
            role="owner",
        )
    )
    login = await client.post("/v1/auth/login", json={"email": "rex@rival.test", "password": PASSWORD})
    rival = Cafe(client, login.json()["access_token"], str(business.id))
    store = await client.post(
        "/v1/stores", headers=rival.owner, json={"name": "Rival St", "time_zone": "UTC", "latitude": 1, "longitude": 1}
    )
    rival.store_id = store.json()["id"]
    registered = await client.post(f"/v1/stores/{rival.store_id}/scanners", headers=rival.owner, json={"name": "R1"})
    rival.scanner_id = registered.json()["scanner"]["id"]
    rival.scanner_secret = registered.json()["scanner_secret"]
    program = await client.post("/v1/programs", headers=rival.owner, json={"name": "Rival card", "reward_name": "Tea"})
    rival.program_id = program.json()["id"]
    return rival


def assert_problem(response: httpx.Response, kind: Problem) -> dict[str, Any]:
    assert response.status_code == kind.status, response.text
    body: dict[str, Any] = response.json()
    assert body["type"] == kind.type, body
    return body


async def test_a_cashier_cannot_punch_another_businesss_card(client: httpx.AsyncClient) -> None:
    cafe = await set_up_cafe(client)
    rival = await _second_cafe(client)
    rival_till = await cashier_at_till(rival, "rival.cashier@rival.test")
    ours = await new_customer(client, cafe)
    stamp = await ours.stamp()
    refused = await client.post("/v1/scans", headers=rival_till, json={"stamp": stamp, "receipt": {"reference": "X1"}})
    assert_problem(refused, Problem.CARD_NOT_VALID_HERE)
    assert await LedgerEntry.count() == 0
    our_till = await cashier_at_till(cafe)
    punched = await client.post("/v1/scans", headers=our_till, json={"stamp": stamp, "receipt": {"reference": "X1"}})
    assert punched.status_code == 201, "the stamp was never used: at its own café it punches"


async def test_a_manager_cannot_void_another_businesss_receipt(client: httpx.AsyncClient) -> None:
    cafe = await set_up_cafe(client)
    rival = await _second_cafe(client)
    our_till = await cashier_at_till(cafe)
    ours = await new_customer(client, cafe)
    await client.post(
        "/v1/scans", headers=our_till, json={"stamp": await ours.stamp(), "receipt": {"reference": "R-7"}}
    )
    refused = await client.post(
        "/v1/punches/void", headers=rival.owner, json={"receipt": "R-7", "store_id": cafe.store_id}
    )
    assert_problem(refused, Problem.PUNCH_NOT_FOUND)
    assert (await ours.card())["balance"] == 1
    assert await LedgerEntry.count().where(LedgerEntry.kind == "void") == 0


async def test_an_owner_reads_only_their_own_audit_log(client: httpx.AsyncClient) -> None:
    cafe = await set_up_cafe(client)
    rival = await _second_cafe(client)
    ours = (await client.get("/v1/audit-log", headers=cafe.owner, params={"limit": 1000})).json()["entries"]
    theirs = (await client.get("/v1/audit-log", headers=rival.owner, params={"limit": 1000})).json()["entries"]
    assert ours and theirs
    assert not {e["id"] for e in ours} & {e["id"] for e in theirs}
    assert "rival" not in str(ours).lower()


async def test_a_customer_cannot_ask_for_a_stamp_on_someone_elses_card(client: httpx.AsyncClient) -> None:
    cafe = await set_up_cafe(client)
    victim = await new_customer(client, cafe)
    thief = await new_customer(client, cafe)
    url = f"/v1/me/cards/{victim.card_id}/stamps"
    # Signed by the thief's own phone with a fresh counter: a perfectly valid request, for a card not theirs.
    refused = await client.post(url, headers=thief.headers, json=thief.phone.stamp_request(victim.card_id))
    missing = await client.post(
        "/v1/me/cards/00000000-0000-4000-8000-000000000000/stamps",
        headers=thief.headers,
        json=thief.phone.stamp_request("00000000-0000-4000-8000-000000000000"),
    )
    assert_problem(refused, Problem.NOT_FOUND)
    assert refused.json() == missing.json(), "someone else's card reads exactly like no card"
    assert (await client.get(f"/v1/me/cards/{victim.card_id}", headers=thief.headers)).status_code == 404
