"""Health, readiness, the JWKS, problem types and the committed OpenAPI document."""

import json
from pathlib import Path

import httpx

import mobile_contract
from crypto.keyring import Keyring
from mobile_contract.problems import Problem

OPENAPI_SNAPSHOT = Path(mobile_contract.__file__).parent / "openapi.json"


async def test_health_and_ready(client: httpx.AsyncClient) -> None:
    assert (await client.get("/health")).json() == {"status": "ok"}
    assert (await client.get("/ready")).json() == {"status": "ready"}


async def test_jwks_serves_the_keyring_public_keys(client: httpx.AsyncClient, keyring: Keyring) -> None:
    response = await client.get("/.well-known/jwks.json")
    assert response.status_code == 200
    keys = response.json()["keys"]
    assert keys[0]["kid"] == keyring.active.kid
    assert all(k.keys() == {"kty", "crv", "x", "kid", "alg", "use"} for k in keys)
    assert not any("d" in k for k in keys), "never a private key"


async def test_served_openapi_matches_the_committed_snapshot(client: httpx.AsyncClient) -> None:
    served = (await client.get("/schema/openapi.json")).json()
    committed = json.loads(OPENAPI_SNAPSHOT.read_text())
    assert served == committed, "the API changed: run `make openapi` and commit mobile_contract/openapi.json"


async def test_every_problem_type_is_documented_at_its_uri(client: httpx.AsyncClient) -> None:
    for kind in Problem:
        response = await client.get(kind.type)
        assert response.json() == {"type": kind.type, "status": kind.status, "title": kind.title}
    assert len({kind.type for kind in Problem}) == len(Problem), "problem types are unique"


async def test_every_response_carries_a_request_id(client: httpx.AsyncClient) -> None:
    echoed = await client.get("/health", headers={"X-Request-ID": "till-7-0042"})
    assert echoed.headers["x-request-id"] == "till-7-0042"
    assert len((await client.get("/health")).headers["x-request-id"]) == 16
