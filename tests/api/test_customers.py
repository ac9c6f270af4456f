"""Customer enrollment with Ed25519 and P-256 phone keys, device sessions and cards (T13, T14)."""

import httpx
import pytest

from cards.tables import Customer, Device
from mobile_contract.problems import Problem
from tests.support import FakeClock, Phone, app_client, bearer, challenge, enroll, set_up_cafe


@pytest.mark.parametrize(
    "phone",
    [Phone("Ed25519"), Phone("ES256"), Phone("ES256", der_signatures=True)],
    ids=["ed25519", "p256-raw-signature", "p256-der-signature"],
)
async def test_a_phone_enrolls_with_nothing_but_its_key(client: httpx.AsyncClient, phone: Phone) -> None:
    session = await enroll(client, phone)
    assert session["token_type"] == "Bearer"
    me = await client.get("/v1/me", headers=bearer(session["session_token"]))
    assert me.status_code == 200
    assert me.json() == {
        "id": session["customer_id"],
        "display_name": None,
        "email": None,
        "phone": None,
        "birthday": None,
        "created_at": me.json()["created_at"],
    }
    device = await Device.select(Device.algorithm, Device.counter).where(Device.id == session["device_id"]).first()
    assert device == {"algorithm": phone.algorithm, "counter": 0}


async def test_optional_profile_is_stored(client: httpx.AsyncClient) -> None:
    session = await enroll(
        client, display_name="Ada", email="Ada@Example.com", phone="+14155550123", birthday="1990-12-10"
    )
    me = (await client.get("/v1/me", headers=bearer(session["session_token"]))).json()
    assert (me["display_name"], me["email"], me["phone"], me["birthday"]) == (
        "Ada",
        "ada@example.com",
        "+14155550123",
        "1990-12-10",
    )


async def test_a_challenge_serves_one_proof(client: httpx.AsyncClient) -> None:
    phone, other = Phone(), Phone()
    nonce = await challenge(client)
    first = await client.post(
        "/v1/customers", json={"challenge": nonce, "public_key": phone.jwk, "signature": phone.prove("enroll", nonce)}
    )
    assert first.status_code == 201
    replay = await client.post(
        "/v1/customers", json={"challenge": nonce, "public_key": other.jwk, "signature": other.prove("enroll", nonce)}
    )
    assert replay.status_code == 401 and replay.json()["type"] == Problem.INVALID_CHALLENGE.type
    assert await Customer.count() == 1


async def test_an_expired_challenge_is_refused(client: httpx.AsyncClient, clock: FakeClock) -> None:
    phone = Phone()
    nonce = await challenge(client)
    clock.advance(minutes=3)
    response = await client.post(
        "/v1/customers", json={"challenge": nonce, "public_key": phone.jwk, "signature": phone.prove("enroll", nonce)}
    )
    assert response.status_code == 401 and response.json()["type"] == Problem.INVALID_CHALLENGE.type


async def test_a_signature_by_another_key_proves_nothing(client: httpx.AsyncClient) -> None:
    phone, thief = Phone(), Phone()
    nonce = await challenge(client)
    response = await client.post(
        "/v1/customers", json={"challenge": nonce, "public_key": phone.jwk, "signature": thief.prove("enroll", nonce)}
    )
    assert response.status_code == 401 and response.json()["type"] == Problem.INVALID_PROOF.type
    assert await Customer.count() == 0


async def test_a_key_enrolls_once(client: httpx.AsyncClient) -> None:
    phone = Phone()
    await enroll(client, phone)
    nonce = await challenge(client)
    again = await client.post(
        "/v1/customers", json={"challenge": nonce, "public_key": phone.jwk, "signature": phone.prove("enroll", nonce)}
    )
    assert again.status_code == 409 and again.json()["type"] == Problem.DEVICE_ALREADY_ENROLLED.type
    assert await Customer.count() == 1, "the refused enrollment left nothing behind"


async def test_a_bound_phone_resumes_its_session_by_signing_a_challenge(
    client: httpx.AsyncClient, clock: FakeClock
) -> None:
    phone = Phone("ES256")
    session = await enroll(client, phone)
    clock.advance(hours=2)
    assert (await client.get("/v1/me", headers=bearer(session["session_token"]))).status_code == 401
    nonce = await challenge(client)
    resumed = await client.post(
        "/v1/customers/sessions",
        json={"device_id": session["device_id"], "challenge": nonce, "signature": phone.prove("session", nonce)},
    )
    assert resumed.status_code == 200 and resumed.json()["customer_id"] == session["customer_id"]
    assert (await client.get("/v1/me", headers=bearer(resumed.json()["session_token"]))).status_code == 200


async def test_an_enrollment_proof_cannot_open_a_session(client: httpx.AsyncClient) -> None:
    phone = Phone()
    session = await enroll(client, phone)
    nonce = await challenge(client)
    response = await client.post(
        "/v1/customers/sessions",
        json={"device_id": session["device_id"], "challenge": nonce, "signature": phone.prove("enroll", nonce)},
    )
    assert response.status_code == 401 and response.json()["type"] == Problem.INVALID_PROOF.type


async def test_unknown_and_revoked_devices_read_like_a_bad_signature(client: httpx.AsyncClient) -> None:
    phone = Phone()
    session = await enroll(client, phone)
    nonce = await challenge(client)
    unknown = await client.post(
        "/v1/customers/sessions",
        json={
            "device_id": "00000000-0000-4000-8000-000000000000",
            "challenge": nonce,
            "signature": phone.prove("session", nonce),
        },
    )
    await Device.update({Device.active: False}).where(Device.id == session["device_id"])
    nonce = await challenge(client)
    revoked = await client.post(
        "/v1/customers/sessions",
        json={"device_id": session["device_id"], "challenge": nonce, "signature": phone.prove("session", nonce)},
    )
    assert unknown.status_code == revoked.status_code == 401
    assert unknown.json() == revoked.json()
    assert (await client.get("/v1/me", headers=bearer(session["session_token"]))).status_code == 401, (
        "a revoked device's session ends on its next request"
    )


async def test_joining_a_program_makes_one_card(client: httpx.AsyncClient) -> None:
    cafe = await set_up_cafe(client)
    session = bearer((await enroll(client))["session_token"])
    first = await client.post("/v1/me/cards", headers=session, json={"program_id": cafe.program_id})
    assert first.status_code == 201
    second = await client.post("/v1/me/cards", headers=session, json={"program_id": cafe.program_id})
    assert second.status_code == 409 and second.json()["type"] == Problem.ALREADY_JOINED.type
    assert len((await client.get("/v1/me/cards", headers=session)).json()) == 1


async def test_an_inactive_or_unknown_program_takes_no_members(client: httpx.AsyncClient) -> None:
    cafe = await set_up_cafe(client)
    session = bearer((await enroll(client))["session_token"])
    await client.patch(f"/v1/programs/{cafe.program_id}", headers=cafe.owner, json={"active": False})
    closed = await client.post("/v1/me/cards", headers=session, json={"program_id": cafe.program_id})
    assert closed.status_code == 409 and closed.json()["type"] == Problem.PROGRAM_INACTIVE.type
    unknown = await client.post(
        "/v1/me/cards", headers=session, json={"program_id": "00000000-0000-4000-8000-000000000000"}
    )
    assert unknown.status_code == 404


async def test_the_app_lists_a_business_s_active_programs_without_signing_in(client: httpx.AsyncClient) -> None:
    cafe = await set_up_cafe(client)
    await client.post("/v1/programs", headers=cafe.owner, json={"name": "Old", "reward_name": "Tea", "active": False})
    retired = await client.post("/v1/programs", headers=cafe.owner, json={"name": "Old", "reward_name": "Tea"})
    await client.patch(f"/v1/programs/{retired.json()['id']}", headers=cafe.owner, json={"active": False})
    listed = await client.get(f"/v1/businesses/{cafe.business_id}/programs")
    assert [p["id"] for p in listed.json()] == [cafe.program_id]


async def test_enrollment_is_rate_limited(client: httpx.AsyncClient, settings: object) -> None:
    import dataclasses

    from api.app import create_app
    from api.settings import Settings
    from crypto.keyring import load_or_create_keyring

    assert isinstance(settings, Settings)
    limited = dataclasses.replace(settings, rate_limits={**settings.rate_limits, "enroll": 4})
    app = create_app(limited, keyring=load_or_create_keyring(settings.keyring_path))
    async with app_client(app) as limited_client:
        statuses = [(await limited_client.post("/v1/challenges")).status_code for _ in range(6)]
    assert statuses == [201, 201, 201, 201, 429, 429]
