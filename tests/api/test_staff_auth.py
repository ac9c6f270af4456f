"""First owner, sign-in, token lifetimes, role guards and revocation (T9, T13)."""

import httpx
import pytest

from api.settings import Settings
from cards import staff
from mobile_contract.problems import Problem
from tests.support import OWNER_EMAIL, PASSWORD, FakeClock, app_client, bearer, set_up_cafe


async def test_setup_code_creates_the_first_owner_once(client: httpx.AsyncClient) -> None:
    code = await staff.new_setup_code()
    assert code is not None
    body = {"setup_code": code, "business_name": "Bean", "name": "O", "email": OWNER_EMAIL, "password": PASSWORD}
    first = await client.post("/v1/setup", json=body)
    assert first.status_code == 201 and first.json()["role"] == "owner"
    again = await client.post("/v1/setup", json=body | {"email": "thief@cafe.test"})
    assert again.status_code == 403
    assert again.json()["type"] == Problem.INVALID_SETUP_CODE.type
    assert await staff.new_setup_code() is None, "no setup code once an owner exists"


async def test_a_wrong_setup_code_is_refused(client: httpx.AsyncClient) -> None:
    assert await staff.new_setup_code() is not None
    response = await client.post(
        "/v1/setup",
        json={
            "setup_code": "0000-0000-0000-0000",
            "business_name": "B",
            "name": "O",
            "email": OWNER_EMAIL,
            "password": PASSWORD,
        },
    )
    assert response.status_code == 403 and response.json()["type"] == Problem.INVALID_SETUP_CODE.type


async def test_a_new_setup_code_replaces_the_old_one(client: httpx.AsyncClient) -> None:
    old = await staff.new_setup_code()
    new = await staff.new_setup_code()
    assert old and new and old != new
    body = {"business_name": "B", "name": "O", "email": OWNER_EMAIL, "password": PASSWORD}
    assert (await client.post("/v1/setup", json=body | {"setup_code": old})).status_code == 403
    assert (await client.post("/v1/setup", json=body | {"setup_code": new})).status_code == 201


async def test_wrong_password_and_unknown_email_read_the_same(client: httpx.AsyncClient) -> None:
    await set_up_cafe(client, with_store=False)
    wrong = await client.post("/v1/auth/login", json={"email": OWNER_EMAIL, "password": "not the password"})
    unknown = await client.post("/v1/auth/login", json={"email": "nobody@cafe.test", "password": PASSWORD})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    assert wrong.json()["type"] == Problem.INVALID_CREDENTIALS.type


async def test_cashier_must_sign_in_at_a_scanner_of_their_store(client: httpx.AsyncClient) -> None:
    cafe = await set_up_cafe(client)
    await cafe.add_staff("cashier", "cashier@cafe.test")
    bare = await client.post("/v1/auth/login", json={"email": "cashier@cafe.test", "password": PASSWORD})
    wrong = await client.post("/v1/auth/login", json={"email": "cashier@cafe.test", "password": "not the password"})
    # A right password without a scanner reads exactly like a wrong one (T13): no oracle for passwords.
    assert bare.status_code == 401 and bare.json() == wrong.json()
    assert bare.json()["type"] == Problem.INVALID_CREDENTIALS.type
    bad_secret = await client.post(
        "/v1/auth/login",
        json={
            "email": "cashier@cafe.test",
            "password": PASSWORD,
            "scanner_id": cafe.scanner_id,
            "scanner_secret": "x",
        },
    )
    assert bad_secret.status_code == 401 and bad_secret.json()["type"] == Problem.INVALID_CREDENTIALS.type

    other_store = await client.post(
        "/v1/stores",
        headers=cafe.owner,
        json={
            "name": "Airport",
            "time_zone": "America/Los_Angeles",
            "latitude": 37.6,
            "longitude": -122.4,
        },
    )
    other = await client.post(
        f"/v1/stores/{other_store.json()['id']}/scanners", headers=cafe.owner, json={"name": "Airport till"}
    )
    elsewhere = await client.post(
        "/v1/auth/login",
        json={
            "email": "cashier@cafe.test",
            "password": PASSWORD,
            "scanner_id": other.json()["scanner"]["id"],
            "scanner_secret": other.json()["scanner_secret"],
        },
    )
    assert elsewhere.status_code == 401, "a cashier acts only in their own store"
    tokens = await cafe.log_in("cashier@cafe.test", at_scanner=True)
    me = await client.get("/v1/staff/me", headers=bearer(tokens["access_token"]))
    assert me.status_code == 200 and me.json()["role"] == "cashier"


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/v1/stores"), ("POST", "/v1/programs"), ("GET", "/v1/staff"), ("POST", "/v1/staff")],
)
async def test_cashiers_cannot_manage(client: httpx.AsyncClient, method: str, path: str) -> None:
    cafe = await set_up_cafe(client)
    await cafe.add_staff("cashier", "cashier@cafe.test")
    tokens = await cafe.log_in("cashier@cafe.test", at_scanner=True)
    response = await client.request(method, path, headers=bearer(tokens["access_token"]), json={})
    assert response.status_code == 403 and response.json()["type"] == Problem.FORBIDDEN.type


async def test_managers_manage_but_only_owners_make_managers(client: httpx.AsyncClient) -> None:
    cafe = await set_up_cafe(client)
    await cafe.add_staff("manager", "manager@cafe.test")
    manager = (await cafe.log_in("manager@cafe.test"))["access_token"]
    store = await client.post(
        "/v1/stores",
        headers=bearer(manager),
        json={
            "name": "Dock",
            "time_zone": "Europe/London",
            "latitude": 51.5,
            "longitude": -0.1,
        },
    )
    assert store.status_code == 201
    cashier = await cafe.add_staff("cashier", "c2@cafe.test", token=manager)
    assert cashier["role"] == "cashier"
    for role in ("manager", "owner"):
        response = await client.post(
            "/v1/staff",
            headers=bearer(manager),
            json={
                "name": "X",
                "email": f"{role}2@cafe.test",
                "password": PASSWORD,
                "role": role,
            },
        )
        assert response.status_code == 403, role
    promote = await client.patch(f"/v1/staff/{cashier['id']}", headers=bearer(manager), json={"role": "owner"})
    assert promote.status_code == 403


async def test_an_owner_cannot_disable_themselves(client: httpx.AsyncClient) -> None:
    cafe = await set_up_cafe(client, with_store=False)
    me = await client.get("/v1/staff/me", headers=cafe.owner)
    response = await client.patch(f"/v1/staff/{me.json()['id']}", headers=cafe.owner, json={"active": False})
    assert response.status_code == 403


async def test_disabling_a_member_ends_their_session_on_the_next_request(client: httpx.AsyncClient) -> None:
    cafe = await set_up_cafe(client)
    member = await cafe.add_staff("cashier", "cashier@cafe.test")
    tokens = await cafe.log_in("cashier@cafe.test", at_scanner=True)
    assert (await client.get("/v1/staff/me", headers=bearer(tokens["access_token"]))).status_code == 200
    disabled = await client.patch(f"/v1/staff/{member['id']}", headers=cafe.owner, json={"active": False})
    assert disabled.json()["active"] is False
    after = await client.get("/v1/staff/me", headers=bearer(tokens["access_token"]))
    assert after.status_code == 401 and after.json()["type"] == Problem.INVALID_TOKEN.type
    refresh = await client.post("/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert refresh.status_code == 401
    login = await client.post(
        "/v1/auth/login",
        json={
            "email": "cashier@cafe.test",
            "password": PASSWORD,
            "scanner_id": cafe.scanner_id,
            "scanner_secret": cafe.scanner_secret,
        },
    )
    assert login.status_code == 401


async def test_revoking_a_scanner_ends_its_sessions_on_the_next_request(client: httpx.AsyncClient) -> None:
    cafe = await set_up_cafe(client)
    await cafe.add_staff("cashier", "cashier@cafe.test")
    tokens = await cafe.log_in("cashier@cafe.test", at_scanner=True)
    revoked = await client.post(f"/v1/scanners/{cafe.scanner_id}/revoke", headers=cafe.owner)
    assert revoked.status_code == 200 and revoked.json()["active"] is False
    after = await client.get("/v1/staff/me", headers=bearer(tokens["access_token"]))
    assert after.status_code == 401
    assert (await client.post("/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})).status_code == 401


async def test_access_tokens_expire_and_refresh_tokens_renew_them(
    client: httpx.AsyncClient, clock: FakeClock, settings: Settings
) -> None:
    cafe = await set_up_cafe(client, with_store=False)
    tokens = await cafe.log_in(OWNER_EMAIL)
    clock.advance(seconds=settings.access_ttl.total_seconds() + 10)
    expired = await client.get("/v1/staff/me", headers=bearer(tokens["access_token"]))
    assert expired.status_code == 401 and expired.json()["type"] == Problem.INVALID_TOKEN.type
    renewed = await client.post("/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert renewed.status_code == 200
    assert (await client.get("/v1/staff/me", headers=bearer(renewed.json()["access_token"]))).status_code == 200
    wrong_kind = await client.get("/v1/staff/me", headers=bearer(tokens["refresh_token"]))
    assert wrong_kind.status_code == 401, "a refresh token is not an access token"
    clock.advance(seconds=settings.refresh_ttl.total_seconds() + 10)
    late = await client.post("/v1/auth/refresh", json={"refresh_token": renewed.json()["refresh_token"]})
    assert late.status_code == 401


async def test_a_customer_session_is_not_a_staff_token(client: httpx.AsyncClient) -> None:
    from tests.support import enroll

    cafe = await set_up_cafe(client)
    session = await enroll(client)
    response = await client.get("/v1/stores", headers=bearer(session["session_token"]))
    assert response.status_code == 403
    staff_on_customer_route = await client.get("/v1/me", headers=cafe.owner)
    assert staff_on_customer_route.status_code == 403


async def test_another_business_is_invisible(client: httpx.AsyncClient) -> None:
    from cards.tables import Business, Store

    cafe = await set_up_cafe(client)
    rival = Business(name="Rival")
    await rival.save()
    rival_store = Store(business=rival.id, name="Rival St", time_zone="UTC", latitude=0.0, longitude=0.0)
    await rival_store.save()
    response = await client.get(f"/v1/stores/{rival_store.id}", headers=cafe.owner)
    missing = await client.get("/v1/stores/00000000-0000-4000-8000-000000000000", headers=cafe.owner)
    assert response.status_code == missing.status_code == 404
    assert response.json() == missing.json(), "another business's store reads exactly like a missing one"
    scanner = await client.post(f"/v1/stores/{rival_store.id}/scanners", headers=cafe.owner, json={"name": "x"})
    assert scanner.status_code == 404


async def test_logins_are_rate_limited(client: httpx.AsyncClient, settings: Settings, clock: FakeClock) -> None:
    import dataclasses

    from api.app import create_app
    from crypto.keyring import load_or_create_keyring

    limited = dataclasses.replace(settings, rate_limits={**settings.rate_limits, "login": 3})
    app = create_app(limited, clock=clock, keyring=load_or_create_keyring(settings.keyring_path))
    async with app_client(app) as limited_client:
        statuses = [
            (await limited_client.post("/v1/auth/login", json={"email": "a@b.cd", "password": "x"})).status_code
            for _ in range(5)
        ]
        last = await limited_client.post("/v1/auth/login", json={"email": "a@b.cd", "password": "x"})
    assert statuses == [401, 401, 401, 429, 429]
    assert last.json()["type"] == Problem.RATE_LIMITED.type
    # Other routes are not counted against the login limit.
    async with app_client(app) as other:
        assert (await other.get("/health")).status_code == 200
