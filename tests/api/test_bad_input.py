"""Bad input always gets a 4xx RFC 9457 answer, never a 500, and writes nothing.

Every refusal must be `application/problem+json` with a `type` from
`mobile_contract.problems.Problem`, a `status` equal to the HTTP status and a `title`.
"""

import base64
import json
import random
import secrets
import string
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from uuid import uuid4

import httpx
import jwt
import pytest
from argon2 import PasswordHasher
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from piccolo.engine.postgres import PostgresEngine
from piccolo.table import Table

from api.auth import ACCESS_TYP, CUSTOMER_AUDIENCE, REFRESH_TYP, SESSION_TYP, STAFF_AUDIENCE
from api.settings import Settings
from cards import staff, tables
from cards.database import current_engine
from cards.tables import Customer, Device, RateLimitCounter
from crypto import passwords
from crypto.encoding import b64u_encode
from crypto.keyring import Keyring
from crypto.tokens import TokenService
from mobile_contract.customers import ProofPurpose
from mobile_contract.problems import Problem
from tests.support import OWNER_EMAIL, PASSWORD, Cafe, FakeClock, Phone, bearer, challenge, enroll, set_up_cafe

Client = httpx.AsyncClient
Body = dict[str, Any]

ON_POSTGRES = isinstance(current_engine(), PostgresEngine)
PROBLEMS_BY_TYPE = {kind.type: kind for kind in Problem}
# Every table, found rather than listed, so a table added later is covered too.
TABLES = [
    table
    for table in vars(tables).values()
    if isinstance(table, type) and issubclass(table, Table) and table.__module__ == tables.__name__
]
JSON = {"content-type": "application/json"}


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Argon2 at its RFC 9106 cost takes ~0.2 s a hash; hundreds of set-ups here don't need it."""
    hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    monkeypatch.setattr(passwords, "_hasher", hasher)
    monkeypatch.setattr(passwords, "_DUMMY_HASH", hasher.hash("punchguard-dummy-password"))


# --- what every refusal looks like -----------------------------------------------------


def assert_problem(response: httpx.Response, kind: Problem | None = None) -> Body:
    """A 4xx problem+json answer whose `type` is one of the contract's, with a matching `status`."""
    if kind is not None:
        assert response.status_code == kind.status, response.text
    assert 400 <= response.status_code < 500, response.text
    assert response.headers["content-type"].split(";")[0].strip() == "application/problem+json", response.headers
    body = response.json()
    assert isinstance(body, dict), body
    assert body.get("type") in PROBLEMS_BY_TYPE, body
    assert body.get("status") == response.status_code, body
    assert body.get("title") == PROBLEMS_BY_TYPE[body["type"]].title, body
    if kind is not None:
        assert body["type"] == kind.type, body
    return body


async def snapshot() -> dict[str, list[dict[str, Any]]]:
    """Every row of every table, to show a refused request wrote nothing. The rate-limit counters
    are left out: a refused request still counts against its sender's limit, on purpose."""
    rows: dict[str, list[dict[str, Any]]] = {}
    for table in TABLES:
        if table is RateLimitCounter:
            continue
        rows[table._meta.tablename] = await table.select().order_by(table._meta.primary_key)
    return rows


async def count(table: type[Table]) -> int:
    rows: int = await table.count()
    return rows


# --- the JSON endpoints, each with a valid request to spoil ------------------------------


@dataclass
class Call:
    method: str
    path: str
    body: Body
    headers: dict[str, str] = field(default_factory=dict)

    async def send(self, client: Client, content: bytes | None = None, **headers: str) -> httpx.Response:
        payload = json.dumps(self.body).encode() if content is None else content
        return await client.request(
            self.method, self.path, content=payload, headers={**self.headers, **JSON, **headers}
        )

    def spoiled(self, **changes: Any) -> "Call":
        return Call(self.method, self.path, {**self.body, **changes}, self.headers)


async def _setup(client: Client) -> Call:
    code = await staff.new_setup_code()
    assert code is not None
    body = {
        "setup_code": code,
        "business_name": "Bean There",
        "name": "Olive Owner",
        "email": OWNER_EMAIL,
        "password": PASSWORD,
    }
    return Call("POST", "/v1/setup", body)


async def _login(client: Client) -> Call:
    await set_up_cafe(client, with_store=False)
    return Call("POST", "/v1/auth/login", {"email": OWNER_EMAIL, "password": PASSWORD})


async def _refresh(client: Client) -> Call:
    cafe = await set_up_cafe(client, with_store=False)
    tokens = await cafe.log_in(OWNER_EMAIL)
    return Call("POST", "/v1/auth/refresh", {"refresh_token": tokens["refresh_token"]})


async def _staff(client: Client) -> Call:
    cafe = await set_up_cafe(client)
    body = {"name": "Mia", "email": "mia@cafe.test", "password": PASSWORD, "role": "cashier", "store_id": cafe.store_id}
    return Call("POST", "/v1/staff", body, cafe.owner)


async def _stores(client: Client) -> Call:
    cafe = await set_up_cafe(client, with_store=False)
    body = {
        "name": "Mission St",
        "time_zone": "America/Los_Angeles",
        "latitude": 37.76,
        "longitude": -122.42,
        "opening_hours": [{"day": "tue", "opens": "07:00", "closes": "18:00"}],
    }
    return Call("POST", "/v1/stores", body, cafe.owner)


async def _scanners(client: Client) -> Call:
    cafe = await set_up_cafe(client)
    return Call("POST", f"/v1/stores/{cafe.store_id}/scanners", {"name": "Till 2"}, cafe.owner)


async def _programs(client: Client) -> Call:
    cafe = await set_up_cafe(client, with_store=False)
    body = {
        "name": "Tea card",
        "reward_name": "Free tea",
        "punches_per_reward": 8,
        "stamp_lifetime_s": 30,
        "cooldown_s": 60,
        "daily_cap": 3,
        "excess_policy": "refuse",
    }
    return Call("POST", "/v1/programs", body, cafe.owner)


async def _program_update(client: Client) -> Call:
    cafe = await set_up_cafe(client)
    body = {"name": "Coffee card+", "punches_per_reward": 9, "stamp_lifetime_s": 60, "active": True}
    return Call("PATCH", f"/v1/programs/{cafe.program_id}", body, cafe.owner)


async def _customers(client: Client) -> Call:
    phone = Phone()
    nonce = await challenge(client)
    body = {
        "challenge": nonce,
        "public_key": phone.jwk,
        "signature": phone.prove("enroll", nonce),
        "display_name": "Ada",
        "email": "ada@example.test",
        "phone": "+14155550123",
        "birthday": "1990-05-17",
    }
    return Call("POST", "/v1/customers", body)


async def _sessions(client: Client) -> Call:
    phone = Phone()
    session = await enroll(client, phone)
    nonce = await challenge(client)
    body = {"device_id": session["device_id"], "challenge": nonce, "signature": phone.prove("session", nonce)}
    return Call("POST", "/v1/customers/sessions", body)


async def _cards(client: Client) -> Call:
    cafe = await set_up_cafe(client)
    session = await enroll(client)
    return Call("POST", "/v1/me/cards", {"program_id": cafe.program_id}, bearer(session["session_token"]))


Arrange = Callable[[Client], Awaitable[Call]]
ENDPOINTS: dict[str, Arrange] = {
    "setup": _setup,
    "login": _login,
    "refresh": _refresh,
    "staff": _staff,
    "stores": _stores,
    "scanners": _scanners,
    "programs": _programs,
    "program-update": _program_update,
    "customers": _customers,
    "sessions": _sessions,
    "cards": _cards,
}
ALL_ENDPOINTS = pytest.mark.parametrize("endpoint", list(ENDPOINTS))


async def refused_without_a_write(
    client: Client, call: Call, kind: Problem | None, content: bytes | None = None, **headers: str
) -> Body:
    before = await snapshot()
    response = await call.send(client, content, **headers)
    body = assert_problem(response, kind)
    assert await snapshot() == before, "a refused request changed the database"
    return body


@ALL_ENDPOINTS
async def test_the_valid_request_each_test_spoils_is_accepted(client: Client, endpoint: str) -> None:
    call = await ENDPOINTS[endpoint](client)
    response = await call.send(client)
    assert response.status_code in (200, 201), response.text
    assert response.headers["content-type"] == "application/json"


# --- bodies that are not a JSON object ---------------------------------------------------

NOT_JSON = {
    "truncated": b'{"a":',
    "not-json-at-all": b"not json",
    "trailing-garbage": b"{} x",
    "utf-16": '{"a": 1}'.encode("utf-16"),
}
NOT_AN_OBJECT = {"array": b"[]", "string": b'"x"', "null": b"null"}


@ALL_ENDPOINTS
@pytest.mark.parametrize("content", NOT_JSON.values(), ids=NOT_JSON.keys())
async def test_malformed_json_is_a_400_problem_and_writes_nothing(
    client: Client, endpoint: str, content: bytes
) -> None:
    call = await ENDPOINTS[endpoint](client)
    body = await refused_without_a_write(client, call, None, content)
    assert body["status"] == 400
    assert body["type"] in (Problem.MALFORMED_BODY.type, Problem.INVALID_REQUEST.type)


@pytest.mark.parametrize("endpoint", ["login", "customers"])
@pytest.mark.parametrize("content", NOT_JSON.values(), ids=NOT_JSON.keys())
async def test_malformed_json_is_typed_malformed_body(client: Client, endpoint: str, content: bytes) -> None:
    call = await ENDPOINTS[endpoint](client)
    await refused_without_a_write(client, call, Problem.MALFORMED_BODY, content)


@ALL_ENDPOINTS
@pytest.mark.parametrize("content", NOT_AN_OBJECT.values(), ids=NOT_AN_OBJECT.keys())
async def test_json_that_is_not_an_object_is_an_invalid_request(client: Client, endpoint: str, content: bytes) -> None:
    call = await ENDPOINTS[endpoint](client)
    body = await refused_without_a_write(client, call, Problem.INVALID_REQUEST, content)
    assert body["errors"][0]["key"] == "data"


@ALL_ENDPOINTS
async def test_an_empty_body_is_an_invalid_request(client: Client, endpoint: str) -> None:
    """Pinned: Litestar reads an empty body as a missing `data` parameter, not as malformed JSON."""
    call = await ENDPOINTS[endpoint](client)
    await refused_without_a_write(client, call, Problem.INVALID_REQUEST, b"")


@pytest.mark.parametrize("endpoint", ["login", "stores", "customers"])
async def test_invalid_utf8_inside_a_json_string_is_a_400(client: Client, endpoint: str) -> None:
    call = await ENDPOINTS[endpoint](client)
    body = await refused_without_a_write(client, call, None, b'{"name": "caf\xff\xfe"}')
    assert body["status"] == 400


@pytest.mark.parametrize("endpoint", ["login", "stores", "customers"])
@pytest.mark.parametrize("where", ["top-level", "in-a-field"])
async def test_deeply_nested_json_is_a_400(client: Client, endpoint: str, where: str) -> None:
    call = await ENDPOINTS[endpoint](client)
    nested = b"[" * 2000 + b"]" * 2000
    content = nested if where == "top-level" else b'{"name": ' + nested + b"}"
    body = await refused_without_a_write(client, call, None, content)
    assert body["status"] == 400


# --- unknown fields and wrong values ------------------------------------------------------


@ALL_ENDPOINTS
async def test_unknown_fields_are_refused(client: Client, endpoint: str) -> None:
    call = await ENDPOINTS[endpoint](client)
    body = await refused_without_a_write(client, call.spoiled(is_admin=True), Problem.INVALID_REQUEST)
    assert "is_admin" in body["errors"][0]["message"]


@dataclass(frozen=True)
class Spoil:
    endpoint: str
    changes: Mapping[str, Any]


PERIOD = {"day": "tue", "opens": "07:00", "closes": "18:00"}
WRONG_VALUES = {
    # setup
    "setup-password-shorter-than-12": Spoil("setup", {"password": "elevenchars"}),
    "setup-bad-email": Spoil("setup", {"email": "owner-at-cafe.test"}),
    "setup-int-for-a-string": Spoil("setup", {"business_name": 42}),
    "setup-empty-name": Spoil("setup", {"name": ""}),
    "setup-name-over-120": Spoil("setup", {"name": "x" * 121}),
    "setup-code-over-64": Spoil("setup", {"setup_code": "X" * 65}),
    "setup-missing-code": Spoil("setup", {"setup_code": None}),
    # login
    "login-bad-email": Spoil("login", {"email": "not-an-email"}),
    "login-email-with-space": Spoil("login", {"email": "owner @cafe.test"}),
    "login-int-for-a-string": Spoil("login", {"email": 5}),
    "login-null-password": Spoil("login", {"password": None}),
    "login-password-over-256": Spoil("login", {"password": "x" * 257}),
    "login-bad-uuid": Spoil("login", {"scanner_id": "till-1", "scanner_secret": "s"}),
    "login-int-for-a-uuid": Spoil("login", {"scanner_id": 12345}),
    # refresh
    "refresh-int-for-a-string": Spoil("refresh", {"refresh_token": 12}),
    "refresh-null": Spoil("refresh", {"refresh_token": None}),
    "refresh-token-over-4096": Spoil("refresh", {"refresh_token": "x" * 4097}),
    # staff
    "staff-password-shorter-than-12": Spoil("staff", {"password": "short"}),
    "staff-bad-email": Spoil("staff", {"email": "mia@cafe"}),
    "staff-unknown-role": Spoil("staff", {"role": "barista"}),
    "staff-role-wrong-case": Spoil("staff", {"role": "OWNER"}),
    "staff-bad-uuid": Spoil("staff", {"store_id": "market-st"}),
    "staff-int-for-a-string": Spoil("staff", {"name": 7}),
    # stores
    "stores-latitude-over-90": Spoil("stores", {"latitude": 90.5}),
    "stores-latitude-under-minus-90": Spoil("stores", {"latitude": -91}),
    "stores-longitude-over-180": Spoil("stores", {"longitude": 180.01}),
    "stores-bool-for-a-float": Spoil("stores", {"latitude": True}),
    "stores-int-for-a-string": Spoil("stores", {"name": 5}),
    "stores-empty-time-zone": Spoil("stores", {"time_zone": ""}),
    "stores-bad-weekday": Spoil("stores", {"opening_hours": [{**PERIOD, "day": "funday"}]}),
    "stores-weekday-wrong-case": Spoil("stores", {"opening_hours": [{**PERIOD, "day": "Tue"}]}),
    "stores-opens-25-00": Spoil("stores", {"opening_hours": [{**PERIOD, "opens": "25:00"}]}),
    "stores-closes-7-00-unpadded": Spoil("stores", {"opening_hours": [{**PERIOD, "closes": "7:00"}]}),
    "stores-opens-07-60": Spoil("stores", {"opening_hours": [{**PERIOD, "opens": "07:60"}]}),
    "stores-int-for-a-time": Spoil("stores", {"opening_hours": [{**PERIOD, "opens": 700}]}),
    "stores-period-missing-closes": Spoil("stores", {"opening_hours": [{"day": "tue", "opens": "07:00"}]}),
    "stores-unknown-field-in-a-period": Spoil("stores", {"opening_hours": [{**PERIOD, "note": "x"}]}),
    "stores-string-for-a-list": Spoil("stores", {"opening_hours": "tue 7-18"}),
    "stores-29-periods": Spoil("stores", {"opening_hours": [PERIOD] * 29}),
    # scanners
    "scanners-empty-name": Spoil("scanners", {"name": ""}),
    "scanners-int-for-a-string": Spoil("scanners", {"name": 1}),
    "scanners-name-over-120": Spoil("scanners", {"name": "x" * 121}),
    # programs
    "programs-punches-per-reward-0": Spoil("programs", {"punches_per_reward": 0}),
    "programs-punches-per-reward-101": Spoil("programs", {"punches_per_reward": 101}),
    "programs-stamp-lifetime-121": Spoil("programs", {"stamp_lifetime_s": 121}),
    "programs-stamp-lifetime-9": Spoil("programs", {"stamp_lifetime_s": 9}),
    "programs-cooldown-negative": Spoil("programs", {"cooldown_s": -1}),
    "programs-daily-cap-0": Spoil("programs", {"daily_cap": 0}),
    "programs-unknown-excess-policy": Spoil("programs", {"excess_policy": "ignore"}),
    "programs-fraction-for-an-int": Spoil("programs", {"punches_per_reward": 2.5}),
    "programs-huge-int": Spoil("programs", {"punches_per_reward": 10**30}),
    "programs-null-name": Spoil("programs", {"name": None}),
    # program-update
    "program-update-punches-per-reward-0": Spoil("program-update", {"punches_per_reward": 0}),
    "program-update-stamp-lifetime-121": Spoil("program-update", {"stamp_lifetime_s": 121}),
    "program-update-word-for-a-bool": Spoil("program-update", {"active": "yes"}),
    "program-update-2-for-a-bool": Spoil("program-update", {"active": 2}),
    "program-update-empty-name": Spoil("program-update", {"name": ""}),
    # customers
    "customers-bad-date": Spoil("customers", {"birthday": "2024-02-30"}),
    "customers-date-not-iso": Spoil("customers", {"birthday": "17/05/1990"}),
    "customers-datetime-for-a-date": Spoil("customers", {"birthday": "1990-05-17T00:00:00Z"}),
    "customers-int-for-a-date": Spoil("customers", {"birthday": 19900517}),
    "customers-phone-not-e164": Spoil("customers", {"phone": "0612345678"}),
    "customers-phone-with-spaces": Spoil("customers", {"phone": "+1 415 555 0123"}),
    "customers-phone-too-long": Spoil("customers", {"phone": "+1234567890123456"}),
    "customers-bad-email": Spoil("customers", {"email": "ada"}),
    "customers-int-for-a-string": Spoil("customers", {"display_name": 12}),
    "customers-challenge-not-base64url": Spoil("customers", {"challenge": "not a challenge"}),
    "customers-string-for-a-key": Spoil("customers", {"public_key": "MCowBQYDK2VwAyEA"}),
    "customers-list-for-a-key": Spoil("customers", {"public_key": []}),
    "customers-int-for-a-signature": Spoil("customers", {"signature": 12}),
    # sessions
    "sessions-bad-uuid": Spoil("sessions", {"device_id": "my-phone"}),
    "sessions-int-for-a-uuid": Spoil("sessions", {"device_id": 1}),
    "sessions-empty-challenge": Spoil("sessions", {"challenge": ""}),
    "sessions-signature-over-512": Spoil("sessions", {"signature": "A" * 513}),
    # cards
    "cards-bad-uuid": Spoil("cards", {"program_id": "coffee-card"}),
    "cards-int-for-a-uuid": Spoil("cards", {"program_id": 12}),
    "cards-null-uuid": Spoil("cards", {"program_id": None}),
}
LENIENT_VALUES = {
    "stores-string-for-a-float": Spoil("stores", {"latitude": "37.76"}),
    "programs-string-for-an-int": Spoil("programs", {"punches_per_reward": "10"}),
    "programs-string-for-an-int-stamp-lifetime": Spoil("programs", {"stamp_lifetime_s": "30"}),
    "program-update-string-for-a-bool": Spoil("program-update", {"active": "true"}),
    "program-update-1-for-a-bool": Spoil("program-update", {"active": 1}),
}


@pytest.mark.parametrize(
    "spoil",
    [pytest.param(spoil, id=name) for name, spoil in WRONG_VALUES.items()],
)
async def test_wrong_types_and_values_are_invalid_requests(client: Client, spoil: Spoil) -> None:
    call = await ENDPOINTS[spoil.endpoint](client)
    body = await refused_without_a_write(client, call.spoiled(**spoil.changes), Problem.INVALID_REQUEST)
    assert body["detail"]


@pytest.mark.parametrize("spoil", [pytest.param(spoil, id=name) for name, spoil in LENIENT_VALUES.items()])
async def test_numbers_and_booleans_sent_as_strings_are_read_leniently(client: Client, spoil: Spoil) -> None:
    """Pinned choice: Litestar converts bodies with msgspec's lax rules, so "10" reads as 10 and
    "true" or 1 as true; the value still has to be valid, and nothing else is coerced."""
    call = await ENDPOINTS[spoil.endpoint](client)
    response = await call.spoiled(**spoil.changes).send(client)
    assert response.status_code < 300, response.text


@pytest.mark.parametrize("time_zone", ["Mars/Olympus_Mons", "../../etc/passwd", "Europe/Paris/", "UTC\u0000"])
async def test_an_unknown_time_zone_is_refused(client: Client, time_zone: str) -> None:
    call = await _stores(client)
    await refused_without_a_write(client, call.spoiled(time_zone=time_zone), Problem.INVALID_TIME_ZONE)


@pytest.mark.parametrize("method", ["POST", "PATCH"])
async def test_a_time_zone_naming_a_directory_is_refused(client: Client, method: str) -> None:
    cafe = await set_up_cafe(client)
    path = "/v1/stores" if method == "POST" else f"/v1/stores/{cafe.store_id}"
    body: Body = {"name": "Annex", "time_zone": "America", "latitude": 0, "longitude": 0}
    call = Call(method, path, body if method == "POST" else {"time_zone": "America"}, cafe.owner)
    await refused_without_a_write(client, call, Problem.INVALID_TIME_ZONE)


NUL_TEXT = {
    "setup-business-name": Spoil("setup", {"business_name": "Bean\u0000There"}),
    "staff-name": Spoil("staff", {"name": "Mia\u0000"}),
    "staff-email": Spoil("staff", {"email": "mia\u0000@cafe.test"}),
    "stores-name": Spoil("stores", {"name": "Mission\u0000St"}),
    "scanners-name": Spoil("scanners", {"name": "Till\u00002"}),
    "programs-name": Spoil("programs", {"name": "Tea\u0000card"}),
    "program-update-name": Spoil("program-update", {"name": "Coffee\u0000card"}),
    "customers-display-name": Spoil("customers", {"display_name": "Ada\u0000"}),
    "customers-email": Spoil("customers", {"email": "ada\u0000@example.test"}),
}


@pytest.mark.parametrize("spoil", [pytest.param(s, id=name) for name, s in NUL_TEXT.items()])
async def test_a_nul_character_in_stored_text_is_an_invalid_request(client: Client, spoil: Spoil) -> None:
    call = await ENDPOINTS[spoil.endpoint](client)
    await refused_without_a_write(client, call.spoiled(**spoil.changes), Problem.INVALID_REQUEST)


async def test_a_nul_character_in_a_login_email_is_a_4xx(client: Client) -> None:
    call = await _login(client)
    await refused_without_a_write(client, call.spoiled(email="owner\u0000@cafe.test"), None)


@pytest.mark.parametrize("endpoint", ["setup", "staff", "customers"])
async def test_an_email_that_grows_when_lower_cased_is_not_a_500(client: Client, endpoint: str) -> None:
    email = "\u0130" * 240 + "@b.co"
    call = (await ENDPOINTS[endpoint](client)).spoiled(email=email)
    response = await call.send(client)
    if response.status_code >= 400:
        assert_problem(response)
    else:
        assert response.json().get("email", email.lower()) == email.lower()


# --- oversized bodies ----------------------------------------------------------------------


def padded(body: Body, size: int) -> bytes:
    """The body's JSON, padded with insignificant whitespace to exactly `size` bytes."""
    content = json.dumps(body).encode()
    assert len(content) < size
    return content[:-1] + b" " * (size - len(content)) + b"}"


@ALL_ENDPOINTS
async def test_a_body_over_the_limit_is_refused_with_413(client: Client, settings: Settings, endpoint: str) -> None:
    assert settings.max_body_bytes == 64 * 1024
    call = await ENDPOINTS[endpoint](client)
    await refused_without_a_write(client, call, Problem.BODY_TOO_LARGE, padded(call.body, settings.max_body_bytes + 1))


@pytest.mark.parametrize("endpoint", ["login", "customers"])
async def test_a_body_of_exactly_the_limit_is_read(client: Client, settings: Settings, endpoint: str) -> None:
    call = await ENDPOINTS[endpoint](client)
    response = await call.send(client, padded(call.body, settings.max_body_bytes))
    assert response.status_code in (200, 201), response.text


@pytest.mark.parametrize("endpoint", ["login", "stores", "customers"])
async def test_a_streamed_body_over_the_limit_is_refused_with_413(
    client: Client, settings: Settings, endpoint: str
) -> None:
    """No Content-Length: the limit still holds while the body streams in."""
    call = await ENDPOINTS[endpoint](client)
    content = padded(call.body, settings.max_body_bytes * 2)

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(content), 4096):
            yield content[start : start + 4096]

    before = await snapshot()
    response = await client.request(call.method, call.path, content=chunks(), headers={**call.headers, **JSON})
    assert "content-length" not in response.request.headers
    assert_problem(response, Problem.BODY_TOO_LARGE)
    assert await snapshot() == before


# --- public keys at enrollment ---------------------------------------------------------------

B64URL = string.ascii_uppercase + string.ascii_lowercase + string.digits + "-_"


def _non_canonical(text: str) -> str:
    """The same bytes spelled with non-zero unused trailing bits: valid characters, refused decoding."""
    assert len(text) % 4 in (2, 3)
    return text[:-1] + B64URL[B64URL.index(text[-1]) | 1]


def _zeros(n: int) -> str:
    return b64u_encode(bytes(n))


def _ed25519(**changes: str | None) -> dict[str, str]:
    """A fresh phone's Ed25519 JWK with some members changed (None drops one)."""
    jwk: dict[str, str | None] = {**Phone("Ed25519").jwk, **changes}
    return {key: value for key, value in jwk.items() if value is not None}


def _p256(**changes: str | None) -> dict[str, str]:
    jwk: dict[str, str | None] = {**Phone("ES256").jwk, **changes}
    return {key: value for key, value in jwk.items() if value is not None}


def _ed25519_non_canonical_x() -> dict[str, str]:
    jwk = _ed25519()
    return {**jwk, "x": _non_canonical(jwk["x"])}


def _p256_off_the_curve() -> dict[str, str]:
    jwk = _p256()
    y = bytearray(base64.urlsafe_b64decode(jwk["y"] + "="))
    y[-1] ^= 1
    return {**jwk, "y": b64u_encode(bytes(y))}


def _padded_x() -> dict[str, str]:
    jwk = _ed25519()
    return {**jwk, "x": jwk["x"] + "="}


# Where the wire struct already refuses the JWK (an unknown kty or crv, a stray member such as
# "d", a missing one, padding), the answer is invalid-request: the body breaks the contract
# before any key is parsed. invalid-public-key is for well-formed JWKs that are not usable keys.
# Each id ends with the problem type expected.
BAD_KEYS: dict[str, tuple[Callable[[], dict[str, str]], Problem]] = {
    "ed25519-x-31-bytes": (lambda: _ed25519(x=_zeros(31)), Problem.INVALID_PUBLIC_KEY),
    "ed25519-x-33-bytes": (lambda: _ed25519(x=_zeros(33)), Problem.INVALID_PUBLIC_KEY),
    "ed25519-x-non-canonical-base64url": (_ed25519_non_canonical_x, Problem.INVALID_PUBLIC_KEY),
    "p256-x-31-bytes": (lambda: _p256(x=_zeros(31)), Problem.INVALID_PUBLIC_KEY),
    "p256-point-not-on-the-curve": (_p256_off_the_curve, Problem.INVALID_PUBLIC_KEY),
    "p256-point-at-zero": (lambda: _p256(x=_zeros(32), y=_zeros(32)), Problem.INVALID_PUBLIC_KEY),
    "kty-rsa": (lambda: {"kty": "RSA", "n": _zeros(256), "e": "AQAB"}, Problem.INVALID_REQUEST),
    "crv-x25519": (lambda: _ed25519(crv="X25519"), Problem.INVALID_REQUEST),
    "crv-p384": (lambda: _p256(crv="P-384"), Problem.INVALID_REQUEST),
    "ec-key-labelled-okp": (lambda: _p256(kty="OKP"), Problem.INVALID_REQUEST),
    "private-d-included": (lambda: _ed25519(d=_zeros(32)), Problem.INVALID_REQUEST),
    "p256-without-y": (lambda: _p256(y=None), Problem.INVALID_REQUEST),
    "no-kty": (lambda: _ed25519(kty=None), Problem.INVALID_REQUEST),
    "x-with-base64-padding": (_padded_x, Problem.INVALID_REQUEST),
}


def cases_by_problem(cases: Mapping[str, tuple[Any, Problem]]) -> list[Any]:
    """Parameters whose ids end with the problem type each case expects."""
    return [pytest.param(case, id=f"{name}-{case[1].value.slug}") for name, case in cases.items()]


@pytest.mark.parametrize("case", cases_by_problem(BAD_KEYS))
async def test_an_unusable_public_key_is_refused_and_spends_nothing(
    client: Client, case: tuple[Callable[[], dict[str, str]], Problem]
) -> None:
    make_key, kind = case
    nonce = await challenge(client)
    phone = Phone()
    call = Call(
        "POST",
        "/v1/customers",
        {"challenge": nonce, "public_key": make_key(), "signature": phone.prove("enroll", nonce)},
    )
    await refused_without_a_write(client, call, kind)
    # The refused key spent nothing: the same challenge still enrolls a usable key.
    valid = call.spoiled(public_key=phone.jwk)
    assert (await valid.send(client)).status_code == 201
    assert await count(Customer) == 1


# --- proofs of possession -------------------------------------------------------------------

BadProof = Callable[[Phone, ProofPurpose, str], str]
OTHER: dict[ProofPurpose, ProofPurpose] = {"enroll": "session", "session": "enroll"}

# As with keys, a signature the wire refuses (not base64url, empty) is an invalid-request;
# one that decodes but does not verify, or does not decode canonically, is an invalid-proof.
PROOF_CASES: dict[str, tuple[BadProof, Problem]] = {
    "signed-by-another-key": (lambda p, purpose, n: Phone(p.algorithm).prove(purpose, n), Problem.INVALID_PROOF),
    "signed-for-the-other-purpose": (lambda p, purpose, n: p.prove(OTHER[purpose], n), Problem.INVALID_PROOF),
    "signed-over-another-challenge": (lambda p, purpose, n: p.prove(purpose, n[::-1]), Problem.INVALID_PROOF),
    "truncated": (lambda p, purpose, n: p.prove(purpose, n)[:-4], Problem.INVALID_PROOF),
    "one-character": (lambda p, purpose, n: "A", Problem.INVALID_PROOF),
    "non-canonical-base64url": (lambda p, purpose, n: _non_canonical(p.prove(purpose, n)), Problem.INVALID_PROOF),
    "all-zero-bytes": (lambda p, purpose, n: b64u_encode(bytes(64)), Problem.INVALID_PROOF),
    "not-base64url": (lambda p, purpose, n: "sig+/sig=", Problem.INVALID_REQUEST),
    "empty": (lambda p, purpose, n: "", Problem.INVALID_REQUEST),
}
ALGORITHMS = pytest.mark.parametrize("algorithm", ["Ed25519", "ES256"])


@ALGORITHMS
@pytest.mark.parametrize("case", cases_by_problem(PROOF_CASES))
async def test_a_bad_enrollment_proof_creates_no_customer_and_leaves_the_challenge_usable(
    client: Client, algorithm: str, case: tuple[BadProof, Problem]
) -> None:
    bad_proof, kind = case
    phone = Phone("Ed25519" if algorithm == "Ed25519" else "ES256")
    nonce = await challenge(client)
    call = Call("POST", "/v1/customers", {"challenge": nonce, "public_key": phone.jwk, "signature": ""})
    await refused_without_a_write(client, call.spoiled(signature=bad_proof(phone, "enroll", nonce)), kind)
    assert await count(Customer) == 0
    # Pinned: the signature is checked before the challenge is spent, so the same phone can
    # retry with the same challenge and the same key is still free to enroll.
    response = await call.spoiled(signature=phone.prove("enroll", nonce)).send(client)
    assert response.status_code == 201, response.text
    assert await count(Customer) == 1 and await count(Device) == 1


@ALGORITHMS
@pytest.mark.parametrize("case", cases_by_problem(PROOF_CASES))
async def test_a_bad_session_proof_is_refused_and_leaves_the_challenge_usable(
    client: Client, algorithm: str, case: tuple[BadProof, Problem]
) -> None:
    bad_proof, kind = case
    phone = Phone("Ed25519" if algorithm == "Ed25519" else "ES256")
    session = await enroll(client, phone)
    nonce = await challenge(client)
    call = Call(
        "POST", "/v1/customers/sessions", {"device_id": session["device_id"], "challenge": nonce, "signature": ""}
    )
    await refused_without_a_write(client, call.spoiled(signature=bad_proof(phone, "session", nonce)), kind)
    response = await call.spoiled(signature=phone.prove("session", nonce)).send(client)
    assert response.status_code == 200, response.text


async def test_a_session_for_an_unknown_device_reads_like_a_bad_proof(client: Client) -> None:
    phone = Phone()
    await enroll(client, phone)
    nonce = await challenge(client)
    body = {"device_id": str(uuid4()), "challenge": nonce, "signature": phone.prove("session", nonce)}
    await refused_without_a_write(client, Call("POST", "/v1/customers/sessions", body), Problem.INVALID_PROOF)


# --- challenges --------------------------------------------------------------------------


async def enroll_with(client: Client, phone: Phone, nonce: str) -> httpx.Response:
    body = {"challenge": nonce, "public_key": phone.jwk, "signature": phone.prove("enroll", nonce)}
    return await client.post("/v1/customers", json=body)


async def spend(client: Client, purpose: ProofPurpose, nonce: str) -> None:
    """Use a challenge successfully, by enrolling a new phone or by resuming a session."""
    phone = Phone()
    if purpose == "enroll":
        assert (await enroll_with(client, phone, nonce)).status_code == 201
        return
    device_id = (await enroll(client, phone))["device_id"]
    body = {"device_id": device_id, "challenge": nonce, "signature": phone.prove("session", nonce)}
    assert (await client.post("/v1/customers/sessions", json=body)).status_code == 200


@pytest.mark.parametrize("flow", ["enroll", "session"])
@pytest.mark.parametrize("how", ["unknown", "reused", "used-by-the-other-flow", "expired"])
async def test_an_unknown_used_or_expired_challenge_is_refused(
    client: Client, clock: FakeClock, flow: ProofPurpose, how: str
) -> None:
    phone = Phone()
    device_id = str((await enroll(client, phone))["device_id"]) if flow == "session" else ""
    if how == "unknown":
        nonce = secrets.token_urlsafe(32)
    elif how == "expired":
        nonce = await challenge(client)
        clock.advance(minutes=2, seconds=1)
    else:
        nonce = await challenge(client)
        await spend(client, flow if how == "reused" else OTHER[flow], nonce)
    customers = await count(Customer)
    if flow == "enroll":
        other = Phone()
        body = {"challenge": nonce, "public_key": other.jwk, "signature": other.prove("enroll", nonce)}
        call = Call("POST", "/v1/customers", body)
    else:
        body = {"device_id": device_id, "challenge": nonce, "signature": phone.prove("session", nonce)}
        call = Call("POST", "/v1/customers/sessions", body)
    await refused_without_a_write(client, call, Problem.INVALID_CHALLENGE)
    assert await count(Customer) == customers


async def test_a_challenge_is_still_good_at_the_last_second(client: Client, clock: FakeClock) -> None:
    nonce = await challenge(client)
    clock.advance(minutes=2)
    assert (await enroll_with(client, Phone(), nonce)).status_code == 201


# --- the Authorization header ------------------------------------------------------------------


@dataclass
class AuthWorld:
    cafe: Cafe
    owner_id: str
    tokens: TokenService
    keyring: Keyring
    settings: Settings
    clock: FakeClock


def _b64json(value: object) -> str:
    return b64u_encode(json.dumps(value).encode())


def _claims(world: AuthWorld, audience: str = STAFF_AUDIENCE, **extra: Any) -> dict[str, Any]:
    now = int(world.clock().timestamp())
    return {
        "iss": world.settings.issuer,
        "aud": audience,
        "sub": world.owner_id,
        "iat": now,
        "exp": now + 600,
        "jti": secrets.token_urlsafe(8),
        **extra,
    }


def _unsigned(world: AuthWorld, typ: str = ACCESS_TYP) -> str:
    header = {"alg": "none", "typ": typ, "kid": world.keyring.active.kid}
    return f"{_b64json(header)}.{_b64json(_claims(world))}."


def _hs256_with_our_public_key(world: AuthWorld) -> str:
    public = world.keyring.active.public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    headers = {"typ": ACCESS_TYP, "kid": world.keyring.active.kid}
    return jwt.encode(_claims(world), public, algorithm="HS256", headers=headers)


def _foreign_key(world: AuthWorld, kid: str | None = None) -> str:
    headers = {"typ": ACCESS_TYP, "kid": kid or world.keyring.active.kid}
    return jwt.encode(_claims(world), Ed25519PrivateKey.generate(), algorithm="EdDSA", headers=headers)


def _tampered(world: AuthWorld) -> str:
    """Our owner's real token with its payload swapped for another: the signature no longer matches."""
    header, _, signature = world.cafe.owner_token.split(".")
    return f"{header}.{_b64json(_claims(world, sub=str(uuid4())))}.{signature}"


def _issued(world: AuthWorld, typ: str, audience: str, subject: str, **claims: Any) -> str:
    ttl = claims.pop("ttl", timedelta(minutes=5))
    return world.tokens.issue(typ=typ, audience=audience, subject=subject, ttl=ttl, claims=claims).token


AuthCase = Callable[[AuthWorld], str | None]
AUTH_CASES: dict[str, tuple[AuthCase, Problem]] = {
    "missing": (lambda w: None, Problem.UNAUTHENTICATED),
    "basic-scheme": (lambda w: "Basic b3duZXI6c2VjcmV0", Problem.UNAUTHENTICATED),
    "bearer-without-a-token": (lambda w: "Bearer", Problem.UNAUTHENTICATED),
    "token-without-a-scheme": (lambda w: w.cafe.owner_token, Problem.UNAUTHENTICATED),
    "bearer-not-a-jwt": (lambda w: "Bearer not-a-jwt", Problem.INVALID_TOKEN),
    "bearer-three-garbage-segments": (lambda w: "Bearer a.b.c", Problem.INVALID_TOKEN),
    "jwt-header-not-an-object": (lambda w: f"Bearer {_b64json([1])}.{_b64json({})}.", Problem.INVALID_TOKEN),
    "non-ascii-token": (lambda w: "Bearer \xff\xfe.\xe9.\xe9", Problem.INVALID_TOKEN),
    "huge-token": (lambda w: "Bearer " + "A" * 8000, Problem.INVALID_TOKEN),
    "alg-none-access-token": (lambda w: "Bearer " + _unsigned(w), Problem.INVALID_TOKEN),
    "alg-none-session-token": (lambda w: "Bearer " + _unsigned(w, SESSION_TYP), Problem.INVALID_TOKEN),
    "hs256-keyed-with-our-public-key": (lambda w: "Bearer " + _hs256_with_our_public_key(w), Problem.INVALID_TOKEN),
    "signed-by-a-foreign-key-under-our-kid": (lambda w: "Bearer " + _foreign_key(w), Problem.INVALID_TOKEN),
    "signed-by-a-foreign-key-unknown-kid": (lambda w: "Bearer " + _foreign_key(w, "nope"), Problem.INVALID_TOKEN),
    "tampered-payload": (lambda w: "Bearer " + _tampered(w), Problem.INVALID_TOKEN),
    "expired": (
        lambda w: "Bearer " + _issued(w, ACCESS_TYP, STAFF_AUDIENCE, w.owner_id, ttl=timedelta(minutes=-1)),
        Problem.INVALID_TOKEN,
    ),
    "refresh-token-as-access-token": (
        lambda w: "Bearer " + _issued(w, REFRESH_TYP, STAFF_AUDIENCE, w.owner_id),
        Problem.INVALID_TOKEN,
    ),
    "access-token-for-the-customer-audience": (
        lambda w: "Bearer " + _issued(w, ACCESS_TYP, CUSTOMER_AUDIENCE, w.owner_id),
        Problem.INVALID_TOKEN,
    ),
    "subject-not-a-uuid": (
        lambda w: "Bearer " + _issued(w, ACCESS_TYP, STAFF_AUDIENCE, "owner"),
        Problem.INVALID_TOKEN,
    ),
    "unknown-staff-member": (
        lambda w: "Bearer " + _issued(w, ACCESS_TYP, STAFF_AUDIENCE, str(uuid4())),
        Problem.INVALID_TOKEN,
    ),
    "scanner-claim-not-a-uuid": (
        lambda w: "Bearer " + _issued(w, ACCESS_TYP, STAFF_AUDIENCE, w.owner_id, scanner="till-1"),
        Problem.INVALID_TOKEN,
    ),
    "session-without-a-device": (
        lambda w: "Bearer " + _issued(w, SESSION_TYP, CUSTOMER_AUDIENCE, str(uuid4())),
        Problem.INVALID_TOKEN,
    ),
}


@pytest.fixture
async def auth_world(client: Client, keyring: Keyring, settings: Settings, clock: FakeClock) -> AuthWorld:
    cafe = await set_up_cafe(client)
    owner_id = (await client.get("/v1/staff/me", headers=cafe.owner)).json()["id"]
    return AuthWorld(cafe, owner_id, TokenService(keyring, settings.issuer, clock), keyring, settings, clock)


def _auth_target(world: AuthWorld, target: str) -> Call:
    cafe = world.cafe
    if target == "create-store":
        return Call("POST", "/v1/stores", {"name": "X", "time_zone": "UTC", "latitude": 0, "longitude": 0})
    return Call("POST", "/v1/me/cards", {"program_id": cafe.program_id})


@pytest.mark.parametrize("target", ["create-store", "join-program"])
@pytest.mark.parametrize("case", cases_by_problem(AUTH_CASES))
async def test_a_bad_authorization_header_is_a_401(
    client: Client, auth_world: AuthWorld, target: str, case: tuple[AuthCase, Problem]
) -> None:
    make_header, kind = case
    call = _auth_target(auth_world, target)
    header = make_header(auth_world)
    headers = {b"content-type": b"application/json"}
    if header is not None:
        headers[b"authorization"] = header.encode("latin-1")
    before = await snapshot()
    response = await client.request(call.method, call.path, content=json.dumps(call.body).encode(), headers=headers)
    assert_problem(response, kind)
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert await snapshot() == before


async def test_a_token_of_the_wrong_kind_of_user_is_forbidden(client: Client) -> None:
    cafe = await set_up_cafe(client)
    session = await enroll(client)
    before = await snapshot()
    response = await client.post("/v1/me/cards", headers=cafe.owner, json={"program_id": cafe.program_id})
    assert_problem(response, Problem.FORBIDDEN)
    response = await client.patch(
        f"/v1/programs/{cafe.program_id}", headers=bearer(session["session_token"]), json={"name": "Mine now"}
    )
    assert_problem(response, Problem.FORBIDDEN)
    assert await snapshot() == before


# --- routes, methods and content types -----------------------------------------------------------


@pytest.mark.parametrize("signed_in", [False, True], ids=["anonymous", "owner"])
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/nope"),
        ("GET", "/v1"),
        ("POST", "/v1/nope"),
        ("GET", "/v1/stores/not-a-uuid"),
        ("PATCH", "/v1/programs/not-a-uuid"),
        ("POST", "/v1/stores/not-a-uuid/scanners"),
        ("GET", "/v1/customers/sessions/extra"),
        ("GET", "/problems/no-such-problem"),
        ("GET", "/v1/../etc/passwd"),
    ],
)
async def test_an_unknown_route_is_a_404(client: Client, method: str, path: str, signed_in: bool) -> None:
    headers = (await set_up_cafe(client, with_store=False)).owner if signed_in else {}
    response = await client.request(method, path, headers={**headers, **JSON}, content=b"{}")
    assert_problem(response, Problem.NOT_FOUND)


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("GET", "/v1/customers", "POST"),
        ("DELETE", "/v1/customers", "POST"),
        ("PUT", "/v1/stores", "POST"),
        ("DELETE", "/v1/programs/00000000-0000-4000-8000-000000000000", "PATCH"),
        ("GET", "/v1/auth/login", "POST"),
        ("PATCH", "/v1/setup", "POST"),
        ("TRACE", "/v1/auth/refresh", "POST"),
        ("BREW", "/v1/challenges", "POST"),
    ],
)
async def test_a_wrong_method_is_a_405(client: Client, method: str, path: str, allowed: str) -> None:
    before = await snapshot()
    response = await client.request(method, path, headers=JSON, content=b"{}")
    assert_problem(response, Problem.METHOD_NOT_ALLOWED)
    assert allowed in response.headers["allow"]
    assert await snapshot() == before


async def test_head_on_a_post_only_route_is_a_405_without_a_body(client: Client) -> None:
    response = await client.head("/v1/auth/login")
    assert response.status_code == 405
    assert "POST" in response.headers["allow"]
    assert response.content == b""


@pytest.mark.parametrize("endpoint", ["login", "stores", "customers"])
@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/xml", "application/x-www-form-urlencoded", "application/msgpack", None],
    ids=["text", "xml", "form", "msgpack", "none"],
)
async def test_a_json_body_under_another_content_type_is_a_415(
    client: Client, endpoint: str, content_type: str | None
) -> None:
    """The contract says `application/json`; a valid JSON body labelled otherwise (or not at all) is
    refused, not guessed at, and nothing is written."""
    call = await ENDPOINTS[endpoint](client)
    headers = {**call.headers, **({"content-type": content_type} if content_type else {})}
    before = await snapshot()
    response = await client.request(call.method, call.path, content=json.dumps(call.body).encode(), headers=headers)
    assert assert_problem(response, Problem.UNSUPPORTED_MEDIA_TYPE)["status"] == 415
    assert await snapshot() == before, "a refused request changed the database"


@pytest.mark.parametrize(
    "content_type", ["application/json; charset=utf-8", "Application/JSON", "application/merge-patch+json"]
)
async def test_json_media_types_with_parameters_or_suffixes_are_read(client: Client, content_type: str) -> None:
    call = await _login(client)
    response = await client.post(
        call.path, content=json.dumps(call.body).encode(), headers={"content-type": content_type}
    )
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("endpoint", ["login", "stores", "customers"])
@pytest.mark.parametrize(
    ("content_type", "content"),
    [
        ("application/x-www-form-urlencoded", b"email=owner%40cafe.test&password=x"),
        ("multipart/form-data; boundary=b", b'--b\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--b--\r\n'),
        ("application/x-msgpack", b"\x82\xa5email\xa6a@b.co\xa8password\xa1x"),
        ("application/octet-stream", bytes(range(256))),
    ],
    ids=["form", "multipart", "msgpack", "binary"],
)
async def test_a_non_json_body_is_a_415_problem(
    client: Client, endpoint: str, content_type: str, content: bytes
) -> None:
    call = await ENDPOINTS[endpoint](client)
    body = await refused_without_a_write(
        client, call, Problem.UNSUPPORTED_MEDIA_TYPE, content, **{"content-type": content_type}
    )
    assert body["status"] == 415


# --- random input ---------------------------------------------------------------------------------

FIELDS = {
    "/v1/customers": [
        "challenge",
        "public_key",
        "signature",
        "display_name",
        "email",
        "phone",
        "birthday",
        "kty",
        "crv",
        "x",
        "y",
    ],
    "/v1/auth/login": ["email", "password", "scanner_id", "scanner_secret"],
}
TEXT = (
    string.ascii_letters
    + string.digits
    + " @@..-_+:/\\\"'{}[],\t\n"
    + "\x00\x7f\u00e9\u0130\u20ac\U0001f600\u202e\ufeff"
)


def random_text(rng: random.Random) -> str:
    return "".join(rng.choice(TEXT) for _ in range(rng.choice([0, 1, 3, 8, 20, 60])))


def random_json(rng: random.Random, keys: list[str], depth: int = 0) -> object:
    """A random JSON value; mostly an object using the endpoint's field names, to get past the first check."""
    kinds = ["null", "bool", "int", "float", "text", "list", "object", "object"]
    kind = "object" if depth == 0 and rng.random() < 0.8 else rng.choice(kinds if depth < 3 else ["text", "int"])
    if kind == "null":
        return None
    if kind == "bool":
        return rng.random() < 0.5
    if kind == "int":
        return rng.choice([0, -1, 1, 2**31, -(2**63), 2**64, rng.randint(-1000, 1000)])
    if kind == "float":
        return rng.choice([0.5, -0.0, 1e308, -1e-308, rng.uniform(-200, 200)])
    if kind == "text":
        return random_text(rng)
    if kind == "list":
        return [random_json(rng, keys, depth + 1) for _ in range(rng.randint(0, 4))]
    names = [*keys, random_text(rng)]
    return {rng.choice(names): random_json(rng, keys, depth + 1) for _ in range(rng.randint(0, len(keys) + 1))}


def random_inputs(rng: random.Random, keys: list[str], n: int) -> list[bytes]:
    inputs: list[bytes] = []
    for i in range(n):
        if i % 2:
            inputs.append(json.dumps(random_json(rng, keys), ensure_ascii=rng.random() < 0.5).encode())
        elif i % 4:
            inputs.append(rng.randbytes(rng.randint(0, 300)))
        else:  # bytes from JSON's own alphabet get further into the parser
            inputs.append(bytes(rng.choice(b'{}[]":,0123456789.eE+-truefalsn \\u') for _ in range(rng.randint(1, 80))))
    return inputs


@pytest.mark.parametrize("path", list(FIELDS))
async def test_random_bodies_get_a_4xx_problem(client: Client, path: str) -> None:
    rng = random.Random(1234)
    inputs = random_inputs(rng, FIELDS[path], 200)
    before = await snapshot()
    failures = []
    for content in inputs:
        response = await client.post(path, content=content, headers=JSON)
        try:
            assert_problem(response)
        except AssertionError:
            failures.append((content[:120], response.status_code, response.text[:200]))
    assert not failures, failures
    assert await snapshot() == before
