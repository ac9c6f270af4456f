"""Rate limits that hold (T13, T18): one counter across every process, keyed on the real peer address.

Before, each worker counted alone (two workers admitted twice the limit) and the key came from
X-Forwarded-For, which uvicorn believed from loopback: varying it, 60 of 60 wrong passwords got
a 401 and none a 429.
"""

import dataclasses
import threading

import httpx
import pytest

from api.app import create_app
from api.settings import Settings
from crypto.keyring import Keyring
from mobile_contract.problems import Problem
from tests.support import OWNER_EMAIL, PASSWORD, FakeClock, app_client, set_up_cafe
from tests.test_concurrency import PROCESSES, servers  # noqa: F401  (the uvicorn processes fixture)

LIMIT = 10  # the default login limit the server processes run with


def _wrong_login(n: int) -> dict[str, object]:
    return {"email": f"guess{n}@cafe.test", "password": f"wrong guess {n:04d}"}


def test_a_limit_of_n_admits_exactly_n_across_server_processes(servers: list[str]) -> None:  # noqa: F811
    """Three real processes on one database, 3N guesses released at once, each from a spoofed address:
    exactly N are answered (401), the rest are refused (429 with Retry-After)."""
    total = 3 * LIMIT
    barrier = threading.Barrier(total)
    responses: list[httpx.Response | None] = [None] * total

    def send(i: int) -> None:
        with httpx.Client(base_url=servers[i % PROCESSES], timeout=60) as http:
            barrier.wait()
            responses[i] = http.post(
                "/v1/auth/login", json=_wrong_login(i), headers={"X-Forwarded-For": f"198.51.100.{i}"}
            )

    threads = [threading.Thread(target=send, args=(i,)) for i in range(total)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    answered = [r for r in responses if r is not None]
    statuses = sorted(r.status_code for r in answered)
    assert statuses == [401] * LIMIT + [429] * (total - LIMIT), statuses
    refused = [r for r in answered if r.status_code == 429]
    assert all(r.json()["type"] == Problem.RATE_LIMITED.type for r in refused)
    assert all(1 <= int(r.headers["retry-after"]) <= 60 for r in refused)


@pytest.fixture
def limited(settings: Settings) -> Settings:
    return dataclasses.replace(settings, rate_limits={**settings.rate_limits, "login": 3, "login_account": 5})


async def _client_app(settings: Settings, clock: FakeClock, keyring: Keyring) -> httpx.AsyncClient:
    return app_client(create_app(settings, clock=clock, keyring=keyring))


async def test_forwarded_headers_from_an_untrusted_peer_change_nothing(
    limited: Settings, clock: FakeClock, keyring: Keyring
) -> None:
    async with await _client_app(limited, clock, keyring) as http:
        statuses = [
            (
                await http.post("/v1/auth/login", json=_wrong_login(n), headers={"X-Forwarded-For": f"203.0.113.{n}"})
            ).status_code
            for n in range(6)
        ]
    assert statuses == [401, 401, 401, 429, 429, 429]


async def test_the_window_reopens_after_a_minute(limited: Settings, clock: FakeClock, keyring: Keyring) -> None:
    async with await _client_app(limited, clock, keyring) as http:
        first = [(await http.post("/v1/auth/login", json=_wrong_login(n))).status_code for n in range(4)]
        refused = await http.post("/v1/auth/login", json=_wrong_login(9))
        clock.advance(seconds=30)
        still = await http.post("/v1/auth/login", json=_wrong_login(10))
        clock.advance(seconds=31)
        again = await http.post("/v1/auth/login", json=_wrong_login(11))
    assert first == [401, 401, 401, 429]
    assert refused.headers["retry-after"] == "60"
    assert (still.status_code, still.headers["retry-after"]) == (429, "30")
    assert again.status_code == 401


async def test_a_trusted_proxy_names_the_client_and_nothing_to_its_left_counts(
    limited: Settings, clock: FakeClock, keyring: Keyring
) -> None:
    """Behind a proxy the settings name, each client has its own limit; what a client writes at the
    left of X-Forwarded-For is not believed, only what the proxy appended."""
    trusted = dataclasses.replace(limited, trusted_proxies=("127.0.0.0/8",))
    async with await _client_app(trusted, clock, keyring) as http:

        async def from_client(address: str, n: int, spoof: str = "") -> int:
            forwarded = f"{spoof}, {address}" if spoof else address
            response = await http.post("/v1/auth/login", json=_wrong_login(n), headers={"X-Forwarded-For": forwarded})
            return response.status_code

        alice = [await from_client("192.0.2.1", n, spoof=f"10.9.9.{n}") for n in range(4)]
        bob = [await from_client("192.0.2.2", n) for n in range(10, 13)]
    assert alice == [401, 401, 401, 429], "varying the spoofed left part does not give Alice a new limit"
    assert bob == [401, 401, 401], "Bob, another client behind the same proxy, has his own"


async def test_guesses_on_one_account_from_many_addresses_meet_the_account_limit(
    limited: Settings, clock: FakeClock, keyring: Keyring
) -> None:
    trusted = dataclasses.replace(limited, trusted_proxies=("127.0.0.1/32",))
    async with await _client_app(trusted, clock, keyring) as http:
        await set_up_cafe(http, with_store=False)
        statuses = [
            (
                await http.post(
                    "/v1/auth/login",
                    json={"email": OWNER_EMAIL, "password": f"guess {n:04d} pass"},
                    headers={"X-Forwarded-For": f"198.51.100.{n}"},
                )
            ).status_code
            for n in range(6)
        ]
        other = await http.post("/v1/auth/login", json=_wrong_login(99), headers={"X-Forwarded-For": "198.51.100.200"})
    # set_up_cafe's own sign-in counted once against the owner's account.
    assert statuses == [401, 401, 401, 401, 429, 429]
    assert other.status_code == 401, "another account is not locked by guesses on this one"


async def test_refresh_has_its_own_limit(limited: Settings, clock: FakeClock, keyring: Keyring) -> None:
    """A till that used up the sign-in limit with mistyped passwords can still refresh its tokens."""
    async with await _client_app(limited, clock, keyring) as http:
        cafe = await set_up_cafe(http, with_store=False)
        tokens = await cafe.log_in(OWNER_EMAIL)
        clock.advance(seconds=1)
        for n in range(3):
            await http.post("/v1/auth/login", json=_wrong_login(n))
        assert (await http.post("/v1/auth/login", json={"email": OWNER_EMAIL, "password": PASSWORD})).status_code == 429
        renewed = await http.post("/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert renewed.status_code == 200, renewed.text
