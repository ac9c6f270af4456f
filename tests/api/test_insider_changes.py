"""Every change of power or rules leaves a trace, and only an owner makes earning easier (T16).

The attack this answers: a manager set the program to 1 punch per reward, gave a friend a free
item and set it back, and nothing of it was in the audit log.
"""

from dataclasses import replace
from datetime import timedelta
from typing import Any
from uuid import UUID

import httpx
import pytest

from api.settings import Settings
from cards.tables import AuditLog, Business, Program
from mobile_contract.problems import Problem
from mobile_contract.redemptions import redemption_request_message
from tests.support import PASSWORD, Cafe, Customer, FakeClock, bearer, cashier_at_till, new_customer, set_up_cafe


@pytest.fixture
def settings(settings: Settings) -> Settings:
    days = timedelta(days=30)
    return replace(settings, access_ttl=days, refresh_ttl=days, session_ttl=days)


async def _manager(cafe: Cafe) -> dict[str, str]:
    await cafe.add_staff("manager", "manager@cafe.test")
    return bearer((await cafe.log_in("manager@cafe.test"))["access_token"])


async def _log(*actions: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = await (
        AuditLog.select(AuditLog.action, AuditLog.details, AuditLog.actor, AuditLog.reason, AuditLog.session)
        .where(AuditLog.action.is_in(list(actions)))
        .order_by(AuditLog.at)
        .output(load_json=True)
    )
    return rows


# Each way a manager could make the program easier to earn or its guard weaker, from the defaults.
RELAXING: dict[str, dict[str, Any]] = {
    "fewer-punches-per-reward": {"punches_per_reward": 1},
    "longer-stamp-life": {"stamp_lifetime_s": 120},
    "shorter-cooldown": {"cooldown_s": 0},
    "higher-daily-cap": {"daily_cap": 50},
    "another-reward": {"reward_name": "Free lunch"},
    "faster-travel": {"risk": {"travel_max_kmh": 1500}},
    "longer-travel-grace": {"risk": {"travel_min_km": 50}},
    "higher-concentration-share": {"risk": {"concentration_share": 0.9}},
    "fewer-concentration-cards": {"risk": {"concentration_cards": 1}},
    "more-punches-before-judging": {"risk": {"concentration_min_punches": 500}},
    "shorter-concentration-window": {"risk": {"concentration_window_days": 1}},
    "more-opening-hours-grace": {"risk": {"opening_hours_grace_min": 240}},
    "bigger-bursts": {"risk": {"burst_punches": 500}},
    "shorter-burst-window": {"risk": {"burst_window_s": 10}},
    "more-cards-per-contact": {"risk": {"cards_per_contact": 50}},
    "rarer-one-cashier-holds": {"risk": {"one_cashier_chance": 0.000001}},
}


@pytest.mark.parametrize("change", RELAXING.values(), ids=RELAXING.keys())
async def test_a_manager_cannot_relax_a_program(client: httpx.AsyncClient, change: dict[str, Any]) -> None:
    cafe = await set_up_cafe(client)
    manager = await _manager(cafe)
    before = (await client.get(f"/v1/programs/{cafe.program_id}", headers=cafe.owner)).json()
    refused = await client.patch(f"/v1/programs/{cafe.program_id}", headers=manager, json=change)
    assert refused.status_code == 403 and refused.json()["type"] == Problem.OWNER_REQUIRED.type, refused.text
    assert refused.json()["relaxed"], "the answer names what would have been relaxed"
    assert (await client.get(f"/v1/programs/{cafe.program_id}", headers=cafe.owner)).json() == before
    assert await _log("program.update") == []


async def test_a_manager_cannot_reopen_a_program_or_push_its_end_back(
    client: httpx.AsyncClient, clock: FakeClock
) -> None:
    cafe = await set_up_cafe(client)
    manager = await _manager(cafe)
    end = (clock() + timedelta(days=10)).isoformat()
    for change in ({"ends_at": end}, {"active": False}):
        tightened = await client.patch(f"/v1/programs/{cafe.program_id}", headers=manager, json=change)
        assert tightened.status_code == 200, "ending or closing a program is tightening: a manager may"
    later = (clock() + timedelta(days=20)).isoformat()
    relaxing: list[dict[str, Any]] = [{"active": True}, {"ends_at": None}, {"ends_at": later}]
    for change in relaxing:
        refused = await client.patch(f"/v1/programs/{cafe.program_id}", headers=manager, json=change)
        assert refused.status_code == 403, (change, refused.text)


async def test_excess_flagged_instead_of_refused_is_for_an_owner(client: httpx.AsyncClient) -> None:
    cafe = await set_up_cafe(client)
    manager = await _manager(cafe)
    strict = await client.patch(f"/v1/programs/{cafe.program_id}", headers=manager, json={"excess_policy": "refuse"})
    assert strict.status_code == 200
    lax = await client.patch(f"/v1/programs/{cafe.program_id}", headers=manager, json={"excess_policy": "flag"})
    assert lax.status_code == 403 and lax.json()["relaxed"] == ["excess_policy"]


async def test_a_manager_may_tighten_and_it_is_logged_before_and_after(client: httpx.AsyncClient) -> None:
    cafe = await set_up_cafe(client)
    manager = await _manager(cafe)
    change = {"punches_per_reward": 12, "daily_cap": 2, "name": "Coffee club", "risk": {"burst_punches": 5}}
    tightened = await client.patch(f"/v1/programs/{cafe.program_id}", headers=manager, json=change)
    assert tightened.status_code == 200, tightened.text
    [entry] = await _log("program.update")
    assert entry["details"]["before"] == {
        "name": "Coffee card",
        "punches_per_reward": 10,
        "daily_cap": 3,
        "risk.burst_punches": 10,
    }
    assert entry["details"]["after"] == {
        "name": "Coffee club",
        "punches_per_reward": 12,
        "daily_cap": 2,
        "risk.burst_punches": 5,
    }
    assert entry["details"]["relaxed"] == [] and entry["session"]


async def test_only_an_owner_creates_a_program(client: httpx.AsyncClient) -> None:
    cafe = await set_up_cafe(client)
    manager = await _manager(cafe)
    refused = await client.post("/v1/programs", headers=manager, json={"name": "Tea", "reward_name": "Free tea"})
    assert refused.status_code == 403 and refused.json()["type"] == Problem.OWNER_REQUIRED.type
    created = await client.post("/v1/programs", headers=cafe.owner, json={"name": "Tea", "reward_name": "Free tea"})
    assert created.status_code == 201
    assert [e["details"]["after"]["name"] for e in await _log("program.create")] == ["Coffee card", "Tea"]


async def _free_item(client: httpx.AsyncClient, till: dict[str, str], customer: Customer) -> httpx.Response:
    customer.phone.counter += 1
    counter = customer.phone.counter
    body = {
        "counter": counter,
        "signature": customer.phone.sign(redemption_request_message(UUID(customer.card_id), counter)),
    }
    asked = await client.post(f"/v1/me/cards/{customer.card_id}/redemptions", headers=customer.headers, json=body)
    assert asked.status_code == 201, asked.text
    return await client.post("/v1/redemptions", headers=till, json={"code": asked.json()["code"]})


async def test_free_items_given_while_an_owner_relaxed_the_program_are_easy_to_find(
    client: httpx.AsyncClient, clock: FakeClock
) -> None:
    """The owner may relax; the audit entry then leads to every free item granted while it was in force."""
    cafe = await set_up_cafe(client)
    till = await cashier_at_till(cafe)
    friend = await new_customer(client, cafe)
    regular = await new_customer(client, cafe)
    clock.advance(minutes=1)
    relaxed = await client.patch(f"/v1/programs/{cafe.program_id}", headers=cafe.owner, json={"punches_per_reward": 1})
    assert relaxed.status_code == 200
    scan = await client.post(
        "/v1/scans", headers=till, json={"stamp": await friend.stamp(), "receipt": {"reference": "F1"}}
    )
    assert scan.status_code == 201
    given = await _free_item(client, till, friend)
    assert given.status_code == 201, given.text
    clock.advance(minutes=1)
    back = await client.patch(f"/v1/programs/{cafe.program_id}", headers=cafe.owner, json={"punches_per_reward": 10})
    assert back.status_code == 200
    for n in range(10):
        clock.advance(days=1)
        assert (
            await client.post(
                "/v1/scans", headers=till, json={"stamp": await regular.stamp(), "receipt": {"reference": f"G{n}"}}
            )
        ).status_code == 201
    assert (await _free_item(client, till, regular)).status_code == 201

    entries = (await client.get("/v1/audit-log", headers=cafe.owner, params={"action": "program.update"})).json()
    relaxing = next(e for e in entries["entries"] if e["details"]["relaxed"] == ["punches_per_reward"])
    found = await client.get(f"/v1/audit-log/{relaxing['id']}/free-items", headers=cafe.owner)
    assert found.status_code == 200, found.text
    body = found.json()
    assert [item["redemption_id"] for item in body["free_items"]] == [given.json()["redemption_id"]]
    assert body["in_force_until"] is not None, "until the owner set it back"
    not_a_program = next(
        e
        for e in (await client.get("/v1/audit-log", headers=cafe.owner)).json()["entries"]
        if e["action"] == "staff.hire"
    )
    missing = await client.get(f"/v1/audit-log/{not_a_program['id']}/free-items", headers=cafe.owner)
    assert missing.status_code == 404


async def test_hiring_promoting_and_store_edits_are_logged(client: httpx.AsyncClient) -> None:
    cafe = await set_up_cafe(client)
    member = await cafe.add_staff("cashier", "sam@cafe.test")
    promoted = await client.patch(f"/v1/staff/{member['id']}", headers=cafe.owner, json={"role": "owner"})
    assert promoted.status_code == 200
    edited = await client.patch(f"/v1/stores/{cafe.store_id}", headers=cafe.owner, json={"name": "Market Street"})
    assert edited.status_code == 200
    [hire] = [e for e in await _log("staff.hire") if e["details"]["email"] == "sam@cafe.test"]
    assert hire["details"]["role"] == "cashier"
    [promotion] = await _log("staff.update")
    assert promotion["details"] == {"before": {"role": "cashier"}, "after": {"role": "owner"}}
    [store_edit] = await _log("store.update")
    assert store_edit["details"] == {"before": {"name": "Market St"}, "after": {"name": "Market Street"}}
    assert [e["details"]["name"] for e in await _log("scanner.register")] == ["Till 1"]
    assert len(await _log("store.create")) == 1 and len(await _log("business.set_up")) == 1


async def test_a_void_keeps_the_reason_typed(client: httpx.AsyncClient) -> None:
    cafe = await set_up_cafe(client)
    till = await cashier_at_till(cafe)
    customer = await new_customer(client, cafe)
    await client.post("/v1/scans", headers=till, json={"stamp": await customer.stamp(), "receipt": {"reference": "V1"}})
    for _ in range(2):  # a repeated refund is the same refund
        void = await client.post(
            "/v1/punches/void",
            headers=cafe.owner,
            json={"receipt": "V1", "store_id": cafe.store_id, "reason": "Spilled, refunded"},
        )
        assert void.status_code == 200, void.text
    [entry] = await _log("punch.void")
    assert entry["reason"] == "Spilled, refunded" and entry["details"]["receipt"] == "V1"


async def test_a_checkpoint_and_a_key_rotation_are_logged(client: httpx.AsyncClient, clock: FakeClock) -> None:
    from api.cli import _record_rotation

    cafe = await set_up_cafe(client)
    yesterday = (clock() - timedelta(days=2)).date().isoformat()
    checkpoint = await client.get(f"/v1/stores/{cafe.store_id}/checkpoints/{yesterday}", headers=cafe.owner)
    assert checkpoint.status_code == 200, checkpoint.text
    [made] = await _log("checkpoint.make")
    assert made["details"]["date"] == yesterday and made["details"]["root_hash"] == checkpoint.json()["root_hash"]
    rival = Business(name="Rival")
    await rival.save()
    await _record_rotation("oldkid00", "newkid00")
    rotations = (
        await AuditLog.select(AuditLog.business, AuditLog.session, AuditLog.details)
        .where(AuditLog.action == "keys.rotate")
        .output(load_json=True)
    )
    assert {str(r["business"]) for r in rotations} == {cafe.business_id, str(rival.id)}
    assert {r["session"] for r in rotations} == {"command line"}


async def test_a_manager_hires_cashiers_but_only_an_owner_makes_managers(client: httpx.AsyncClient) -> None:
    cafe = await set_up_cafe(client)
    manager = await _manager(cafe)
    body = {"name": "Boss", "email": "boss@cafe.test", "password": PASSWORD, "role": "manager"}
    refused = await client.post("/v1/staff", headers=manager, json=body)
    assert refused.status_code == 403
    assert [e["details"]["email"] for e in await _log("staff.hire")] == ["manager@cafe.test"]
    assert await Program.count() == 1
