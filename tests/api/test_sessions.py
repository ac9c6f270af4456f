"""Staff sessions (T9, T19): refresh tokens rotate, a reused one ends its family, logout ends it,
a session lasts its first lifetime at most, and nothing that ended comes back."""

from datetime import datetime, timedelta
from typing import Any

import httpx
import jwt

from cards.tables import AuditLog, StaffSession
from mobile_contract.problems import Problem
from tests.support import OWNER_EMAIL, PASSWORD, FakeClock, bearer, set_up_cafe


def _sid(tokens: dict[str, Any]) -> str:
    """The session an access token names (read without checking: the server checked it)."""
    return str(jwt.decode(tokens["access_token"], options={"verify_signature": False})["sid"])


async def _refresh(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.post("/v1/auth/refresh", json={"refresh_token": token})


async def _me(client: httpx.AsyncClient, access: str) -> int:
    return (await client.get("/v1/staff/me", headers=bearer(access))).status_code


async def test_a_refresh_token_is_good_once_and_gives_the_next(client: httpx.AsyncClient) -> None:
    cafe = await set_up_cafe(client, with_store=False)
    before = await StaffSession.count()
    first = await cafe.log_in(OWNER_EMAIL)
    second = await _refresh(client, first["refresh_token"])
    assert second.status_code == 200, second.text
    assert second.json()["refresh_token"] != first["refresh_token"]
    third = await _refresh(client, second.json()["refresh_token"])
    assert third.status_code == 200, "the newest token of the family trades again"
    assert await StaffSession.count() == before + 1, "one sign-in, one session, however often it is refreshed"


async def test_a_reused_refresh_token_ends_the_whole_family(client: httpx.AsyncClient) -> None:
    """A thief replays a stolen refresh token after its owner traded it: both are signed out."""
    cafe = await set_up_cafe(client, with_store=False)
    stolen = await cafe.log_in(OWNER_EMAIL)
    honest = (await _refresh(client, stolen["refresh_token"])).json()
    replay = await _refresh(client, stolen["refresh_token"])
    assert replay.status_code == 401 and replay.json()["type"] == Problem.INVALID_TOKEN.type
    assert (await _refresh(client, honest["refresh_token"])).status_code == 401, "the honest token ended too"
    assert await _me(client, honest["access_token"]) == 401, "and its access token, at the next request"
    ended = await StaffSession.select(StaffSession.id, StaffSession.end_reason).where(
        StaffSession.ended_at.is_not_null()
    )
    assert [(str(row["id"]), row["end_reason"]) for row in ended] == [(_sid(honest), "refresh token reused")]
    fresh = await cafe.log_in(OWNER_EMAIL)
    assert await _me(client, fresh["access_token"]) == 200, "signing in again opens a new session"


async def test_logout_ends_the_session_and_only_that_one(client: httpx.AsyncClient) -> None:
    cafe = await set_up_cafe(client, with_store=False)
    here = await cafe.log_in(OWNER_EMAIL)
    elsewhere = await cafe.log_in(OWNER_EMAIL)
    out = await client.post("/v1/auth/logout", headers=bearer(here["access_token"]))
    assert out.status_code == 204, out.text
    assert await _me(client, here["access_token"]) == 401
    assert (await _refresh(client, here["refresh_token"])).status_code == 401
    assert await _me(client, elsewhere["access_token"]) == 200, "the other sign-in goes on"
    anonymous = await client.post("/v1/auth/logout")
    assert anonymous.status_code == 401


async def test_refreshing_never_outlives_the_sign_in(client: httpx.AsyncClient, clock: FakeClock) -> None:
    """Each refresh used to give a fresh 12-hour token: a stolen one lived forever. Now the session ends
    twelve hours after sign-in, however often it was refreshed."""
    cafe = await set_up_cafe(client, with_store=False)
    tokens = await cafe.log_in(OWNER_EMAIL)
    signed_in = clock()
    for _ in range(11):
        clock.advance(hours=1)
        renewed = await _refresh(client, tokens["refresh_token"])
        assert renewed.status_code == 200, renewed.text
        tokens = renewed.json()
    assert datetime.fromisoformat(tokens["refresh_expires_at"]) == signed_in + timedelta(hours=12)
    clock.advance(hours=1, seconds=6)
    assert (await _refresh(client, tokens["refresh_token"])).status_code == 401


async def test_re_enabling_a_member_revives_no_earlier_token(client: httpx.AsyncClient) -> None:
    cafe = await set_up_cafe(client)
    member = await cafe.add_staff("cashier", "cashier@cafe.test")
    before = await cafe.log_in("cashier@cafe.test", at_scanner=True)
    for active in (False, True):
        changed = await client.patch(f"/v1/staff/{member['id']}", headers=cafe.owner, json={"active": active})
        assert changed.status_code == 200, changed.text
    assert await _me(client, before["access_token"]) == 401
    assert (await _refresh(client, before["refresh_token"])).status_code == 401
    again = await cafe.log_in("cashier@cafe.test", at_scanner=True)
    assert await _me(client, again["access_token"]) == 200


async def test_an_access_token_from_another_members_session_is_refused(client: httpx.AsyncClient) -> None:
    """The session an access token names must be its own member's and scanner's."""
    cafe = await set_up_cafe(client)
    await cafe.add_staff("manager", "manager@cafe.test")
    owner = await cafe.log_in(OWNER_EMAIL)
    manager = await cafe.log_in("manager@cafe.test")
    assert await _me(client, owner["access_token"]) == await _me(client, manager["access_token"]) == 200
    # Tokens are signed, so the mix-up can only come from the server itself; the check holds anyway.
    from cards.staff import current_identity
    from cards.tables import Staff

    owner_row = await Staff.select(Staff.id).where(Staff.email == OWNER_EMAIL).first()
    assert owner_row is not None
    manager_session = await StaffSession.select(StaffSession.id).where(StaffSession.staff != owner_row["id"]).first()
    assert manager_session is not None
    assert await current_identity(owner_row["id"], None, manager_session["id"]) is None


async def test_a_cashier_sign_in_reads_the_same_for_a_wrong_password_and_a_bad_scanner(
    client: httpx.AsyncClient,
) -> None:
    """T13: a right password at a wrong, revoked or closed scanner must not tell the guesser it was right."""
    cafe = await set_up_cafe(client)
    await cafe.add_staff("cashier", "cashier@cafe.test")
    base = {"email": "cashier@cafe.test", "scanner_id": cafe.scanner_id}
    wrong_password = await client.post(
        "/v1/auth/login", json=base | {"password": "wrong password!", "scanner_secret": cafe.scanner_secret}
    )
    wrong_secret = await client.post("/v1/auth/login", json=base | {"password": PASSWORD, "scanner_secret": "nope"})
    no_scanner = await client.post("/v1/auth/login", json={"email": "cashier@cafe.test", "password": PASSWORD})
    answers = {r.status_code for r in (wrong_password, wrong_secret, no_scanner)}
    assert answers == {401}
    assert wrong_password.json() == wrong_secret.json() == no_scanner.json()


async def test_the_audit_log_names_the_session_that_acted(client: httpx.AsyncClient) -> None:
    """T16: who, when and from which sign-in."""
    cafe = await set_up_cafe(client, with_store=False)
    tokens = await cafe.log_in(OWNER_EMAIL)
    store = await client.post(
        "/v1/stores",
        headers=bearer(tokens["access_token"]),
        json={"name": "Pier", "time_zone": "UTC", "latitude": 0, "longitude": 0},
    )
    assert store.status_code == 201, store.text
    row = await AuditLog.select(AuditLog.session).where(AuditLog.action == "store.create").first()
    assert row is not None and row["session"] == _sid(tokens)
