"""Signing in to the owner's console: the same sign-in as the API, a cookie naming a staff
session, CSRF on every form, and the session ending exactly as an API sign-in does."""

import hashlib
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from uuid import UUID

import httpx
import pytest

from api.app import create_app
from api.settings import Settings
from cards import staff
from cards.tables import StaffSession
from crypto.keyring import Keyring
from tests.pages.console import csrf_token, sign_in, sign_in_page
from tests.support import OWNER_EMAIL, PASSWORD, FakeClock, app_client, bearer, cashier_at_till, set_up_cafe

Client = httpx.AsyncClient
HOSTILE = "<script>alert(1)</script>"


def set_cookie(response: httpx.Response, name: str) -> str:
    [header] = [h for h in response.headers.get_list("set-cookie") if h.startswith(f"{name}=")]
    return header


async def test_an_owner_signs_in_with_a_cookie_only_the_console_gets(client: Client) -> None:
    await set_up_cafe(client)
    response = await sign_in(client, OWNER_EMAIL)
    assert response.status_code == 303
    assert response.headers["location"] == "/console/flags"
    cookie = set_cookie(response, "punchguard_console")
    flags = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "path=/console", "samesite=strict"} <= flags
    assert "secure" not in flags, "plain HTTP here (127.0.0.1): a Secure cookie would never come back"
    token = cookie.split(";")[0].split("=", 1)[1]
    [session] = await StaffSession.select().where(StaffSession.console_token_hash.is_not_null())
    assert session["console_token_hash"] == hashlib.sha256(token.encode()).hexdigest()
    assert token not in str(session), "the database holds only the token's hash"
    page = await client.get("/console/flags")
    assert page.status_code == 200
    assert "Review queue" in page.text


async def test_over_https_the_cookie_is_secure(client: Client) -> None:
    await set_up_cafe(client)
    secure = httpx.AsyncClient(transport=client._transport, base_url="https://testserver")
    async with secure:
        response = await sign_in(secure, OWNER_EMAIL)
    assert response.status_code == 303
    assert "secure" in set_cookie(response, "punchguard_console").lower().split("; ")


async def test_a_wrong_password_is_refused_in_words(client: Client) -> None:
    await set_up_cafe(client)
    response = await sign_in(client, OWNER_EMAIL, "not the password")
    assert response.status_code == 401
    assert "do not open an owner&#39;s or a manager&#39;s account" in response.text
    assert "punchguard_console" not in response.headers.get("set-cookie", "")
    assert await StaffSession.count().where(StaffSession.console_token_hash.is_not_null()) == 0


async def test_a_cashier_is_refused_the_console_and_told_why(client: Client) -> None:
    cafe = await set_up_cafe(client)
    await cashier_at_till(cafe, "cashier@cafe.test")
    response = await sign_in(client, "cashier@cafe.test")
    assert response.status_code == 401
    assert "Cashiers cannot use the console: they sign in at a till." in response.text
    assert await StaffSession.count().where(StaffSession.console_token_hash.is_not_null()) == 0


async def test_a_manager_signs_in_too(client: Client) -> None:
    cafe = await set_up_cafe(client)
    await cafe.add_staff("manager", "manager@cafe.test")
    assert (await sign_in(client, "manager@cafe.test")).status_code == 303
    assert (await client.get("/console/flags")).status_code == 200


async def test_a_form_without_its_csrf_token_is_refused(client: Client) -> None:
    await set_up_cafe(client)
    await sign_in_page(client)  # the browser holds the CSRF cookie, but the form below lacks the token
    response = await client.post("/console/sign-in", data={"email": OWNER_EMAIL, "password": PASSWORD})
    assert response.status_code == 403
    assert "CSRF token is missing or stale" in response.text
    assert await StaffSession.count() == 1, "only set_up_cafe's API sign-in"
    # A token from another browser's page is no better.
    other = app_client(client._transport.app)  # type: ignore[attr-defined]
    async with other:
        foreign = csrf_token(await sign_in_page(other))
    response = await client.post(
        "/console/sign-in", data={"email": OWNER_EMAIL, "password": PASSWORD, "_csrf_token": foreign}
    )
    assert response.status_code == 403


async def test_signed_in_forms_need_the_token_too_but_the_json_api_does_not(client: Client) -> None:
    cafe = await set_up_cafe(client)
    await sign_in(client, OWNER_EMAIL)
    response = await client.post("/console/sign-out")
    assert response.status_code == 403
    assert (await client.get("/console/flags")).status_code == 200, "still signed in"
    # The API takes bearer tokens and no CSRF token, cookies or not.
    api = await client.post("/v1/stores/" + cafe.store_id + "/scanners", headers=cafe.owner, json={"name": "Till 2"})
    assert api.status_code == 201, api.text


async def test_htmx_requests_carry_the_token_in_a_header(client: Client) -> None:
    await set_up_cafe(client)
    await sign_in(client, OWNER_EMAIL)
    page = await client.get("/console/flags")
    token = csrf_token(page.text)
    assert f'hx-headers=\'{{"x-csrftoken": "{token}"}}\'' in page.text
    response = await client.post("/console/sign-out", headers={"x-csrftoken": token, "hx-request": "true"})
    assert response.status_code == 303


async def test_without_a_session_the_console_sends_you_to_sign_in(client: Client) -> None:
    await set_up_cafe(client)
    response = await client.get("/console/flags")
    assert response.status_code == 303
    assert response.headers["location"] == "/console/sign-in"
    htmx = await client.get("/console/flags", headers={"hx-request": "true"})
    assert htmx.headers["hx-redirect"] == "/console/sign-in"
    client.cookies.set("punchguard_console", "made-up", path="/console")
    assert (await client.get("/console/flags")).status_code == 303


async def test_an_idle_session_ends(client: Client, clock: FakeClock) -> None:
    await set_up_cafe(client)
    await sign_in(client, OWNER_EMAIL)
    for _ in range(3):  # used every 29 minutes: still signed in after more than 30 in all
        clock.advance(minutes=29)
        assert (await client.get("/console/flags")).status_code == 200
    clock.advance(minutes=31)
    response = await client.get("/console/flags")
    assert response.status_code == 303
    assert response.headers["location"] == "/console/sign-in"
    [ended] = await StaffSession.select(StaffSession.end_reason).where(StaffSession.console_token_hash.is_not_null())
    assert ended["end_reason"] == "idle"
    clock.advance(minutes=1)
    assert (await client.get("/console/flags")).status_code == 303, "an idle session stays ended"


async def test_a_session_ends_at_the_sign_ins_lifetime_however_busy(client: Client, clock: FakeClock) -> None:
    await set_up_cafe(client)
    await sign_in(client, OWNER_EMAIL)
    for _ in range(12 * 3 - 1):  # every 20 minutes for 11 h 40 min
        clock.advance(minutes=20)
        assert (await client.get("/console/flags")).status_code == 200
    clock.advance(minutes=21)
    assert (await client.get("/console/flags")).status_code == 303


async def test_disabling_a_member_ends_their_console_session(client: Client) -> None:
    cafe = await set_up_cafe(client)
    manager = await cafe.add_staff("manager", "manager@cafe.test")
    await sign_in(client, "manager@cafe.test")
    assert (await client.get("/console/flags")).status_code == 200
    disabled = await client.patch(f"/v1/staff/{manager['id']}", headers=cafe.owner, json={"active": False})
    assert disabled.status_code == 200, disabled.text
    assert (await client.get("/console/flags")).status_code == 303
    enabled = await client.patch(f"/v1/staff/{manager['id']}", headers=cafe.owner, json={"active": True})
    assert enabled.status_code == 200, enabled.text
    assert (await client.get("/console/flags")).status_code == 303, "re-enabling revives no session"


async def test_signing_out_ends_the_session_for_good(client: Client) -> None:
    await set_up_cafe(client)
    await sign_in(client, OWNER_EMAIL)
    cookie = client.cookies.get("punchguard_console", path="/console")
    assert cookie
    page = await client.get("/console/flags")
    response = await client.post("/console/sign-out", data={"_csrf_token": csrf_token(page.text)})
    assert response.status_code == 303
    assert response.headers["location"] == "/console/sign-in?ended=signed-out"
    [session] = await StaffSession.select(StaffSession.end_reason, StaffSession.id).where(
        StaffSession.console_token_hash.is_not_null()
    )
    assert session["end_reason"] == "signed out"
    client.cookies.set("punchguard_console", cookie, path="/console")  # a copy kept from before
    assert (await client.get("/console/flags")).status_code == 303
    # The API's own tokens of the member are another sign-in: untouched.
    assert UUID(str(session["id"]))


async def test_the_api_sign_out_and_the_console_are_separate_sign_ins(client: Client) -> None:
    cafe = await set_up_cafe(client)
    await sign_in(client, OWNER_EMAIL)
    assert (await client.post("/v1/auth/logout", headers=cafe.owner)).status_code == 204
    assert (await client.get("/console/flags")).status_code == 200
    assert (await client.get("/v1/stores", headers=bearer(cafe.owner_token))).status_code == 401


async def test_console_sign_ins_count_against_the_apis_login_limits(
    settings: Settings, clock: FakeClock, keyring: Keyring, client: Client
) -> None:
    await set_up_cafe(client)
    clock.advance(minutes=2)  # set_up_cafe's own API sign-in is in an earlier window
    limited = create_app(
        replace(settings, rate_limits={**settings.rate_limits, "login": 2}), clock=clock, keyring=keyring
    )
    async with app_client(limited) as browser:
        api = await browser.post("/v1/auth/login", json={"email": OWNER_EMAIL, "password": PASSWORD})
        assert api.status_code == 200, api.text
        assert (await sign_in(browser, OWNER_EMAIL, "wrong")).status_code == 401
        refused = await sign_in(browser, OWNER_EMAIL)
        assert refused.status_code == 429
        assert "Too many requests; try again in" in refused.text
        assert "punchguard_console" not in refused.headers.get("set-cookie", "")
    per_account = create_app(
        replace(settings, rate_limits={**settings.rate_limits, "login_account": 1}), clock=clock, keyring=keyring
    )
    clock.advance(minutes=2)
    async with app_client(per_account) as browser:
        assert (await sign_in(browser, OWNER_EMAIL, "wrong")).status_code == 401
        refused = await sign_in(browser, OWNER_EMAIL)
        assert refused.status_code == 429
        assert "Too many sign-ins for this account." in refused.text


def test_the_idle_timeout_is_the_documented_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    assert "`PUNCHGUARD_CONSOLE_IDLE_S` (1800" in readme
    assert Settings().console_idle == timedelta(seconds=1800)
    monkeypatch.setenv("PUNCHGUARD_CONSOLE_IDLE_S", "60")
    assert Settings.from_env().console_idle == timedelta(seconds=60)


async def test_one_password_for_two_businesses_asks_which(client: Client) -> None:
    await set_up_cafe(client)
    code = await staff.new_business_code()
    second = await client.post(
        "/v1/setup",
        json={
            "setup_code": code,
            "business_name": f"Second {HOSTILE}",
            "name": "Olive",
            "email": OWNER_EMAIL,
            "password": PASSWORD,
        },
    )
    assert second.status_code == 201, second.text
    asked = await sign_in(client, OWNER_EMAIL)
    assert asked.status_code == 409
    assert "open accounts at several businesses: choose one" in asked.text
    assert f'<option value="{second.json()["business_id"]}">' in asked.text
    assert HOSTILE not in asked.text and "&lt;script&gt;" in asked.text
    chosen = await sign_in(client, OWNER_EMAIL, business_id=second.json()["business_id"])
    assert chosen.status_code == 303
    [session] = await StaffSession.select(StaffSession.business).where(StaffSession.console_token_hash.is_not_null())
    assert str(session["business"]) == second.json()["business_id"]


async def test_a_role_change_ends_the_members_console_session(client: Client) -> None:
    """A sign-in carries what its role allowed then: demoted and promoted back, the old cookie is dead."""
    cafe = await set_up_cafe(client)
    member = await cafe.add_staff("manager", "manager@cafe.test")
    assert (await sign_in(client, "manager@cafe.test")).status_code == 303
    assert (await client.get("/console/flags")).status_code == 200
    for role, store in (("cashier", cafe.store_id), ("manager", None)):
        changed = await client.patch(
            f"/v1/staff/{member['id']}", headers=cafe.owner, json={"role": role, "store_id": store}
        )
        assert changed.status_code == 200, changed.text
    again = await client.get("/console/flags")
    assert again.status_code == 303 and again.headers["location"] == "/console/sign-in"
