"""One business learns nothing about another, and the public learns no fraud thresholds (T20)."""

import httpx

from cards.tables import Business, Flag, Program, Staff
from crypto.passwords import hash_password
from mobile_contract.problems import Problem
from tests.support import PASSWORD, bearer, new_customer, set_up_cafe


async def test_the_public_program_list_carries_no_thresholds(client: httpx.AsyncClient) -> None:
    cafe = await set_up_cafe(client)
    listed = await client.get(f"/v1/businesses/{cafe.business_id}/programs")
    assert listed.status_code == 200
    [program] = listed.json()
    assert set(program) == {"id", "business_id", "name", "reward_name", "punches_per_reward", "ends_at"}
    for secret in ("risk", "cooldown", "daily_cap", "excess", "burst", "travel", "lifetime"):
        assert secret not in listed.text


async def _rival_with_staff(email: str, password: str = PASSWORD) -> Business:
    rival = Business(name="Rival Roasters")
    await rival.save()
    await Staff.insert(
        Staff(business=rival.id, name="Rival", email=email, password_hash=hash_password(password), role="owner")
    )
    return rival


async def test_hiring_an_email_another_business_uses_tells_nothing(client: httpx.AsyncClient) -> None:
    cafe = await set_up_cafe(client)
    await _rival_with_staff("taken@rival.test")
    body = {"name": "Sam", "password": PASSWORD, "role": "manager"}
    theirs = await client.post("/v1/staff", headers=cafe.owner, json=body | {"email": "taken@rival.test"})
    fresh = await client.post("/v1/staff", headers=cafe.owner, json=body | {"email": "fresh@cafe.test"})
    assert theirs.status_code == fresh.status_code == 201, (theirs.text, fresh.text)
    again = await client.post("/v1/staff", headers=cafe.owner, json=body | {"email": "Taken@Rival.test"})
    assert again.status_code == 409 and again.json()["type"] == Problem.EMAIL_TAKEN.type, "within a business: taken"


async def test_one_email_at_two_businesses_signs_in_to_the_one_its_password_opens(client: httpx.AsyncClient) -> None:
    cafe = await set_up_cafe(client)
    rival = await _rival_with_staff("sam@both.test", password="the rival's password")
    body = {"name": "Sam", "email": "sam@both.test", "password": PASSWORD, "role": "manager"}
    assert (await client.post("/v1/staff", headers=cafe.owner, json=body)).status_code == 201
    here = await client.post("/v1/auth/login", json={"email": "sam@both.test", "password": PASSWORD})
    there = await client.post("/v1/auth/login", json={"email": "sam@both.test", "password": "the rival's password"})
    assert (here.status_code, there.status_code) == (200, 200)
    assert here.json()["business_id"] == cafe.business_id and there.json()["business_id"] == str(rival.id)


async def test_one_password_opening_two_accounts_asks_which_business(client: httpx.AsyncClient) -> None:
    cafe = await set_up_cafe(client)
    rival = await _rival_with_staff("sam@both.test")
    body = {"name": "Sam", "email": "sam@both.test", "password": PASSWORD, "role": "manager"}
    assert (await client.post("/v1/staff", headers=cafe.owner, json=body)).status_code == 201
    ask = await client.post("/v1/auth/login", json={"email": "sam@both.test", "password": PASSWORD})
    assert ask.status_code == 409 and ask.json()["type"] == Problem.BUSINESS_REQUIRED.type
    assert {b["id"] for b in ask.json()["businesses"]} == {cafe.business_id, str(rival.id)}
    chosen = await client.post(
        "/v1/auth/login", json={"email": "sam@both.test", "password": PASSWORD, "business_id": str(rival.id)}
    )
    assert chosen.status_code == 200 and chosen.json()["business_id"] == str(rival.id)
    wrong = await client.post("/v1/auth/login", json={"email": "sam@both.test", "password": "not it at all"})
    assert wrong.status_code == 401, "a wrong password learns nothing of how many accounts the e-mail has"


async def test_a_phones_counter_and_its_other_cafes_stay_hidden(client: httpx.AsyncClient) -> None:
    """The counter rises with the phone's use at every café; a clone signal at one café names no card of another."""
    cafe = await set_up_cafe(client)
    customer = await new_customer(client, cafe)
    rival = Business(name="Rival Roasters")
    await rival.save()
    rival_program = Program(business=rival.id, name="Rival card", reward_name="Free tea")
    await rival_program.save()
    joined = await client.post("/v1/me/cards", headers=customer.headers, json={"program_id": str(rival_program.id)})
    rival_card = joined.json()["id"]
    for _ in range(5):
        stamp = await client.post(
            f"/v1/me/cards/{rival_card}/stamps", headers=customer.headers, json=customer.phone.stamp_request(rival_card)
        )
        assert stamp.status_code == 201
    timeline = await client.get(f"/v1/cards/{customer.card_id}/timeline", headers=cafe.owner)
    assert "counter" not in timeline.json()["devices"][0]

    clone = await client.post(
        f"/v1/me/cards/{rival_card}/stamps", headers=customer.headers, json=customer.phone.stamp_request(rival_card, 2)
    )
    assert clone.json()["type"] == Problem.COUNTER_REGRESSED.type
    ours = await client.get("/v1/flags", headers=cafe.owner, params={"rule": "counter_regression"})
    [flag] = ours.json()["flags"]
    assert "another business" in flag["explanation"]
    from uuid import UUID

    from cards.flags import card_code

    assert card_code(UUID(rival_card)) not in flag["explanation"] and "last_counter" not in flag["evidence"]
    again = await client.post(
        f"/v1/me/cards/{rival_card}/stamps", headers=customer.headers, json=customer.phone.stamp_request(rival_card, 3)
    )
    assert again.status_code == 409
    assert await Flag.count().where(Flag.rule == "counter_regression") == 2, "one open flag per card, not one per try"


async def test_staff_of_another_business_cannot_sign_in_at_this_ones_till(client: httpx.AsyncClient) -> None:
    cafe = await set_up_cafe(client)
    await _rival_with_staff("rival@rival.test")
    login = await client.post(
        "/v1/auth/login",
        json={
            "email": "rival@rival.test",
            "password": PASSWORD,
            "scanner_id": cafe.scanner_id,
            "scanner_secret": cafe.scanner_secret,
        },
    )
    assert login.status_code == 401
    owner = await client.post("/v1/auth/login", json={"email": "rival@rival.test", "password": PASSWORD})
    assert owner.status_code == 200
    stores = await client.get("/v1/stores", headers=bearer(owner.json()["access_token"]))
    assert stores.json() == []
