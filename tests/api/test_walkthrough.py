"""The README walk-through, end to end through the HTTP API."""

import httpx

from tests.support import Phone, bearer, enroll, set_up_cafe


async def test_owner_sets_up_a_cafe_and_a_customer_joins_its_program(client: httpx.AsyncClient) -> None:
    cafe = await set_up_cafe(client)
    cashier = await cafe.add_staff("cashier", "cashier@cafe.test")
    assert cashier["store_id"] == cafe.store_id
    tokens = await cafe.log_in("cashier@cafe.test", at_scanner=True)
    assert tokens["scanner_id"] == cafe.scanner_id and tokens["store_id"] == cafe.store_id

    session = await enroll(client, Phone("ES256"), display_name="Ada")
    headers = bearer(session["session_token"])
    card = await client.post("/v1/me/cards", headers=headers, json={"program_id": cafe.program_id})
    assert card.status_code == 201, card.text
    assert card.json()["status"] == "active" and card.json()["punches_per_reward"] == 10
    cards = await client.get("/v1/me/cards", headers=headers)
    assert [c["id"] for c in cards.json()] == [card.json()["id"]]
    me = await client.get("/v1/me", headers=headers)
    assert me.json()["display_name"] == "Ada" and me.json()["email"] is None
