"""One more business on a running server: a setup code from `python -m api new-business`.

The first business's code is for an empty database only; later ones come from
`staff.new_business_code`. Every code is stored hashed, good once and for a day, and each
owner it makes sees their own business and nothing of the others.
"""

import hashlib
from typing import Any

import httpx

from cards import staff, sweep
from cards.tables import SetupCode
from mobile_contract.problems import Problem
from tests.support import PASSWORD, FakeClock, bearer, set_up_cafe


def _setup(code: str, business: str, email: str) -> dict[str, Any]:
    return {"setup_code": code, "business_name": business, "name": "Sam", "email": email, "password": PASSWORD}


async def _owner(client: httpx.AsyncClient, email: str) -> dict[str, str]:
    login = await client.post("/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert login.status_code == 200, login.text
    return bearer(login.json()["access_token"])


async def test_a_second_business_is_set_up_beside_the_first_and_each_owner_sees_only_their_own(
    client: httpx.AsyncClient,
) -> None:
    first = await set_up_cafe(client)
    assert await staff.new_setup_code() is None, "the first owner's kind of code is for an empty database"
    code = await staff.new_business_code()
    made = await client.post("/v1/setup", json=_setup(code, "Second Cup", "sam@second.test"))
    assert made.status_code == 201, made.text
    assert made.json()["role"] == "owner" and made.json()["business_id"] != first.business_id
    second = await _owner(client, "sam@second.test")
    store = await client.post(
        "/v1/stores",
        headers=second,
        json={"name": "Harbour", "time_zone": "Europe/Lisbon", "latitude": 38.7, "longitude": -9.1},
    )
    assert store.status_code == 201, store.text

    for headers, business_id, store_names, emails in (
        (first.owner, first.business_id, ["Market St"], {"owner@cafe.test"}),
        (second, made.json()["business_id"], ["Harbour"], {"sam@second.test"}),
    ):
        assert [s["name"] for s in (await client.get("/v1/stores", headers=headers)).json()] == store_names
        assert {m["email"] for m in (await client.get("/v1/staff", headers=headers)).json()} == emails
        assert {p["business_id"] for p in (await client.get("/v1/programs", headers=headers)).json()} <= {business_id}
    across = await client.get(f"/v1/stores/{store.json()['id']}", headers=first.owner)
    assert across.status_code == 404, "another business's store reads as missing"
    assert (await client.get("/v1/programs", headers=second)).json() == []


async def test_a_business_code_is_good_once_and_stored_only_as_a_hash(client: httpx.AsyncClient) -> None:
    await set_up_cafe(client)
    code = await staff.new_business_code()
    other = await staff.new_business_code()
    hashes = {row["code_hash"] for row in await SetupCode.select(SetupCode.code_hash)}
    assert hashes == {hashlib.sha256(c.encode()).hexdigest() for c in (code, other)}, "two codes may be pending"
    assert (await client.post("/v1/setup", json=_setup(code, "Second Cup", "sam@second.test"))).status_code == 201
    again = await client.post("/v1/setup", json=_setup(code, "Third", "eve@third.test"))
    assert again.status_code == 403 and again.json()["type"] == Problem.INVALID_SETUP_CODE.type
    assert (await client.post("/v1/setup", json=_setup(other, "Third", "tom@third.test"))).status_code == 201


async def test_a_setup_code_expires_after_a_day_and_is_swept(client: httpx.AsyncClient, clock: FakeClock) -> None:
    await set_up_cafe(client)
    code = await staff.new_business_code()
    clock.advance(seconds=staff.SETUP_CODE_LIFETIME.total_seconds() - 60)
    assert (await sweep.sweep(clock()))["setup_codes"] == 0, "a code within its day is kept"
    clock.advance(minutes=2)
    late = await client.post("/v1/setup", json=_setup(code, "Second Cup", "sam@second.test"))
    assert late.status_code == 403 and late.json()["type"] == Problem.INVALID_SETUP_CODE.type
    assert (await sweep.sweep(clock()))["setup_codes"] == 1
    assert await SetupCode.count() == 0


async def test_a_code_used_within_its_day_sets_up_the_business(client: httpx.AsyncClient, clock: FakeClock) -> None:
    code = await staff.new_business_code()  # on an empty database too: it is just one more business
    clock.advance(seconds=staff.SETUP_CODE_LIFETIME.total_seconds() - 60)
    made = await client.post("/v1/setup", json=_setup(code, "Second Cup", "sam@second.test"))
    assert made.status_code == 201, made.text
