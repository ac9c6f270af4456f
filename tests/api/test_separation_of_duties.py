"""Separation of duties that rests on what the server saw, never on what a customer typed (T6, T17).

A cashier's anonymous own card, punched at their own till while colleagues serve the queue,
has its free item held; a regular whom one cashier always serves because they work that shift
alone, or whom whoever is free serves, is not troubled; nobody decides a flag about a card
they punched.
"""

from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest

from api.settings import Settings
from cards.tables import Flag, FlagPunch, LedgerEntry, Staff
from mobile_contract.problems import Problem
from mobile_contract.redemptions import redemption_request_message
from tests.support import PASSWORD, Cafe, Customer, FakeClock, bearer, new_customer, set_up_cafe

PER_REWARD = 10


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Sign-ins that last the days a card takes to fill: the tests move the clock a day at a time."""
    days = timedelta(days=30)
    return replace(settings, access_ttl=days, refresh_ttl=days, session_ttl=days)


@dataclass
class Store:
    """A café whose tills several cashiers work, each signed in at one of two scanners."""

    client: httpx.AsyncClient
    clock: FakeClock
    cafe: Cafe
    tills: dict[str, dict[str, str]]

    async def punch(self, cashier: str, customer: Customer) -> dict[str, Any]:
        scan = await self.client.post(
            "/v1/scans",
            headers=self.tills[cashier],
            json={"stamp": await customer.stamp(), "receipt": {"reference": f"R-{uuid4().hex[:12]}"}},
        )
        assert scan.status_code == 201, scan.text
        body: dict[str, Any] = scan.json()
        return body

    async def redeem(self, cashier: str, customer: Customer) -> httpx.Response:
        customer.phone.counter += 1
        counter = customer.phone.counter
        signature = customer.phone.sign(redemption_request_message(UUID(customer.card_id), counter))
        asked = await self.client.post(
            f"/v1/me/cards/{customer.card_id}/redemptions",
            headers=customer.headers,
            json={"counter": counter, "signature": signature},
        )
        assert asked.status_code == 201, asked.text
        return await self.client.post(
            "/v1/redemptions", headers=self.tills[cashier], json={"code": asked.json()["code"]}
        )


async def open_store(client: httpx.AsyncClient, clock: FakeClock, cashiers: list[str]) -> Store:
    cafe = await set_up_cafe(client)
    # Only the rule under test: the concentration rule would judge these few cards on its own.
    program = await client.patch(
        f"/v1/programs/{cafe.program_id}", headers=cafe.owner, json={"risk": {"concentration_min_punches": 10_000}}
    )
    assert program.status_code == 200, program.text
    second = await client.post(f"/v1/stores/{cafe.store_id}/scanners", headers=cafe.owner, json={"name": "Till 2"})
    assert second.status_code == 201, second.text
    scanners = [
        (cafe.scanner_id, cafe.scanner_secret),
        (second.json()["scanner"]["id"], second.json()["scanner_secret"]),
    ]
    tills = {}
    for n, name in enumerate(cashiers):
        email = f"{name}@cafe.test"
        await cafe.add_staff("cashier", email)
        scanner_id, secret = scanners[n % 2]
        login = await client.post(
            "/v1/auth/login",
            json={"email": email, "password": PASSWORD, "scanner_id": scanner_id, "scanner_secret": secret},
        )
        assert login.status_code == 200, login.text
        tills[name] = bearer(login.json()["access_token"])
    return Store(client, clock, cafe, tills)


async def test_an_anonymous_card_punched_at_its_holders_till_among_colleagues_is_held(
    client: httpx.AsyncClient, clock: FakeClock
) -> None:
    """T17: Ivan enrolled his own phone with no e-mail and punched it at his till every day, while
    Cass and Dee served the queue. Punch by punch it looks honest; who served it does not."""
    store = await open_store(client, clock, ["ivan", "cass", "dee"])
    own = await new_customer(client, store.cafe)  # no e-mail, no name: nothing to match on
    queue = [await new_customer(client, store.cafe) for _ in range(4)]
    for _ in range(PER_REWARD):
        for n, customer in enumerate(queue):
            await store.punch("cass" if n % 2 else "dee", customer)
            clock.advance(minutes=4)
        scan = await store.punch("ivan", own)
        assert not scan["flagged"], "each punch alone is unremarkable"
        clock.advance(days=1)

    held = await store.redeem("ivan", own)
    assert held.status_code == 409 and held.json()["type"] == Problem.REWARD_HELD.type, held.text
    assert any("10 of the 10 punches behind this free item were made by cashier" in r for r in held.json()["reasons"])
    [flag] = await Flag.select(Flag.id, Flag.staff, Flag.severity).where(Flag.rule == "one_cashier_card")
    named = {str(row["punch"]) for row in await FlagPunch.select(FlagPunch.punch).where(FlagPunch.flag == flag["id"])}
    ivans = {
        str(row["id"]) for row in await LedgerEntry.select(LedgerEntry.id).where(LedgerEntry.card == UUID(own.card_id))
    }
    ivan = await Staff.select(Staff.id).where(Staff.email == "ivan@cafe.test").first()
    assert ivan is not None and flag["staff"] == ivan["id"]
    assert named == ivans and flag["severity"] == "high"

    # The owner, who did not punch the card, may decide; once approved, the punches count again.
    approved = await client.post(
        f"/v1/flags/{flag['id']}/approve", headers=store.cafe.owner, json={"reason": "Ivan paid for every coffee"}
    )
    assert approved.status_code == 200, approved.text
    for row in await Flag.select(Flag.id).where((Flag.rule == "reward_held") & (Flag.status == "open")):
        await client.post(f"/v1/flags/{row['id']}/approve", headers=store.cafe.owner, json={"reason": "Checked"})
    granted = await store.redeem("cass", own)
    assert granted.status_code == 201, granted.text


async def test_a_regular_served_by_the_cashier_working_alone_is_not_held(
    client: httpx.AsyncClient, clock: FakeClock
) -> None:
    """Fixed shifts: Amy opens alone, Ben closes alone. The 8 o'clock regular only ever meets Amy."""
    store = await open_store(client, clock, ["amy", "ben"])
    regular = await new_customer(client, store.cafe)
    others = [await new_customer(client, store.cafe) for _ in range(3)]
    for _ in range(PER_REWARD):
        await store.punch("amy", regular)
        for customer in others[:2]:
            clock.advance(minutes=10)
            await store.punch("amy", customer)
        clock.advance(hours=8)  # the afternoon shift
        await store.punch("ben", others[2])
        clock.advance(hours=16)
    granted = await store.redeem("amy", regular)
    assert granted.status_code == 201, granted.text
    assert await Flag.count().where(Flag.rule == "one_cashier_card") == 0


async def test_a_regular_served_by_whoever_is_free_is_not_held(client: httpx.AsyncClient, clock: FakeClock) -> None:
    """Two cashiers on the same shift: the regular meets either, as the queue falls."""
    store = await open_store(client, clock, ["amy", "ben"])
    regular = await new_customer(client, store.cafe)
    other = await new_customer(client, store.cafe)
    for day in range(PER_REWARD):
        first, second = ("amy", "ben") if day % 3 else ("ben", "amy")
        await store.punch(first, regular)
        clock.advance(minutes=5)
        await store.punch(second, other)
        clock.advance(days=1)
    granted = await store.redeem("amy", regular)
    assert granted.status_code == 201, granted.text


async def test_nobody_decides_a_flag_on_a_card_they_punched(client: httpx.AsyncClient, clock: FakeClock) -> None:
    """T17: a manager punched their own e-mail-less card over the daily cap at the till; they may not
    clear the flag, nor unfreeze the card; the owner may."""
    cafe = await set_up_cafe(client)
    await cafe.add_staff("manager", "manager@cafe.test")
    manager = bearer((await cafe.log_in("manager@cafe.test"))["access_token"])
    at_till = bearer((await cafe.log_in("manager@cafe.test", at_scanner=True))["access_token"])
    own = await new_customer(client, cafe)
    for n in range(4):
        scan = await client.post(
            "/v1/scans", headers=at_till, json={"stamp": await own.stamp(), "receipt": {"reference": f"M-{n}"}}
        )
        assert scan.status_code == 201, scan.text
        clock.advance(minutes=5)
    [flag] = await Flag.select(Flag.id).where(Flag.rule == "daily_cap")
    # The flag is about the punch, which the manager made; a flag about the card as a whole too.
    card_flag = await client.post(f"/v1/cards/{own.card_id}/freeze", headers=cafe.owner, json={"reason": "Check"})
    assert card_flag.status_code == 200
    for path in (f"/v1/flags/{flag['id']}/approve", f"/v1/flags/{flag['id']}/reject"):
        refused = await client.post(path, headers=manager, json={"reason": "Mine, all fine"})
        assert refused.status_code == 403 and refused.json()["type"] == Problem.FORBIDDEN.type, refused.text
    unfreeze = await client.post(f"/v1/cards/{own.card_id}/unfreeze", headers=manager, json={"reason": "Fine"})
    assert unfreeze.status_code == 403, unfreeze.text
    owner = await client.post(f"/v1/flags/{flag['id']}/approve", headers=cafe.owner, json={"reason": "Checked"})
    assert owner.status_code == 200, owner.text


async def test_a_manager_may_decide_a_flag_on_a_card_they_never_punched(
    client: httpx.AsyncClient, clock: FakeClock
) -> None:
    """The honest neighbour: the rule is about the reviewer's own punches, not about managers."""
    cafe = await set_up_cafe(client)
    await cafe.add_staff("manager", "manager@cafe.test")
    manager = bearer((await cafe.log_in("manager@cafe.test"))["access_token"])
    await cafe.add_staff("cashier", "cashier@cafe.test")
    cashier = bearer((await cafe.log_in("cashier@cafe.test", at_scanner=True))["access_token"])
    customer = await new_customer(client, cafe)
    for n in range(4):
        scan = await client.post(
            "/v1/scans", headers=cashier, json={"stamp": await customer.stamp(), "receipt": {"reference": f"C-{n}"}}
        )
        assert scan.status_code == 201, scan.text
        clock.advance(minutes=5)
    [flag] = await Flag.select(Flag.id).where(Flag.rule == "daily_cap")
    approved = await client.post(f"/v1/flags/{flag['id']}/approve", headers=manager, json={"reason": "Big order"})
    assert approved.status_code == 200, approved.text
