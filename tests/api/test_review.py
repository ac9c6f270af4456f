"""The owner's review through the API: flags approved or rejected, a card's timeline, freezes,
phone, cashier and scanner revocations, the audit log and CSV exports; all scoped to one business."""

import asyncio
import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import httpx
import pytest
from argon2 import PasswordHasher

from cards.flags import raise_flag
from cards.tables import AuditLog, Business, Flag, Program
from crypto import passwords
from mobile_contract.problems import Problem
from tests.support import PASSWORD, Cafe, Customer, FakeClock, bearer, cashier_at_till, new_customer, set_up_cafe

Client = httpx.AsyncClient
Till = tuple[Cafe, dict[str, str]]
MISSING = "00000000-0000-4000-8000-000000000000"


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Argon2 at its real cost takes ~0.2 s a hash; these tests sign in many staff members."""
    hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    monkeypatch.setattr(passwords, "_hasher", hasher)
    monkeypatch.setattr(passwords, "_DUMMY_HASH", hasher.hash("punchguard-dummy-password"))


@pytest.fixture(autouse=True)
def mid_morning(clock: FakeClock) -> None:
    """Monday 10:00 at the store (open 07:00-18:00 on Mondays): a test's punches fall within one
    day and within opening hours, so only the rules a test means to trip raise flags."""
    clock.now = datetime(2026, 11, 23, 18, 0, tzinfo=UTC)


@pytest.fixture
async def till(client: Client) -> Till:
    cafe = await set_up_cafe(client)
    return cafe, await cashier_at_till(cafe)


async def punch(client: Client, cashier: dict[str, str], customer: Customer, clock: FakeClock, receipt: str) -> str:
    """One honest purchase at the till; the clock then moves past the program's 60 s cooldown."""
    response = await client.post(
        "/v1/scans",
        headers=cashier,
        json={"stamp": await customer.stamp(), "receipt": {"reference": receipt, "amount_cents": 450, "items": 1}},
    )
    assert response.status_code == 201, response.text
    clock.advance(seconds=61)
    return str(response.json()["punch_id"])


async def over_the_daily_cap(
    client: Client, cafe: Cafe, cashier: dict[str, str], customer: Customer, clock: FakeClock, prefix: str = "R"
) -> tuple[list[str], dict[str, Any]]:
    """Four punches in one day: the program allows three, so the fourth is flagged `daily_cap`."""
    punches = [await punch(client, cashier, customer, clock, f"{prefix}-{n}") for n in range(1, 5)]
    flags = await client.get("/v1/flags", headers=cafe.owner, params={"card_id": customer.card_id, "rule": "daily_cap"})
    assert flags.status_code == 200, flags.text
    [flag] = flags.json()["flags"]
    return punches, flag


async def timeline(client: Client, cafe: Cafe, card_id: str) -> dict[str, Any]:
    response = await client.get(f"/v1/cards/{card_id}/timeline", headers=cafe.owner)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def audit(client: Client, cafe: Cafe, **params: str) -> list[dict[str, Any]]:
    response = await client.get("/v1/audit-log", headers=cafe.owner, params=params)
    assert response.status_code == 200, response.text
    entries: list[dict[str, Any]] = response.json()["entries"]
    return entries


# The audit rows of the decisions these tests make (setting up the café is logged too).
DECISIONS = ("flag.approve", "flag.reject", "card.freeze", "card.unfreeze", "device.revoke", "scanner.revoke")


async def decisions() -> int:
    rows: int = await AuditLog.count().where(AuditLog.action.is_in(list(DECISIONS)))
    return rows


def assert_problem(response: httpx.Response, kind: Problem) -> None:
    assert response.status_code == kind.status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["type"] == kind.type


def moment(text: str) -> datetime:
    return datetime.fromisoformat(text)


def parse_csv(response: httpx.Response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"].startswith("attachment; filename=")
    return list(csv.DictReader(io.StringIO(response.text)))


# --- flags ---------------------------------------------------------------------------------


async def test_a_flag_reads_with_its_punch_card_store_and_cashier(client: Client, till: Till, clock: FakeClock) -> None:
    cafe, cashier = till
    customer = await new_customer(client, cafe)
    punches, flag = await over_the_daily_cap(client, cafe, cashier, customer, clock)
    assert flag["rule"] == "daily_cap" and flag["status"] == "open" and flag["severity"] == "low"
    assert flag["punch_ids"] == [punches[3]]
    assert flag["evidence"]["punch_ids"] == [punches[3]]
    assert flag["card_id"] == customer.card_id and flag["card_code"] in flag["explanation"]
    assert (flag["store_id"], flag["store_name"]) == (cafe.store_id, "Market St")
    assert flag["staff_name"] == "Cashier" and flag["scanner_id"] == cafe.scanner_id
    assert flag["reviewed_by"] is None and flag["reviewed_at"] is None
    one = await client.get(f"/v1/flags/{flag['id']}", headers=cafe.owner)
    assert one.status_code == 200 and one.json() == flag


async def test_every_filter_narrows_the_flag_list(client: Client, till: Till, clock: FakeClock) -> None:
    cafe, cashier = till
    start = clock()
    # A real daily-cap flag at Market St by the first cashier.
    regular = await new_customer(client, cafe)
    _, cap_flag = await over_the_daily_cap(client, cafe, cashier, regular, clock)
    # A real clone signal: the phone re-sends a counter it already used.
    cloned = await new_customer(client, cafe)
    await cloned.stamp()
    await cloned.stamp()
    regressed = await client.post(
        f"/v1/me/cards/{cloned.card_id}/stamps",
        headers=cloned.headers,
        json=cloned.phone.stamp_request(cloned.card_id, 1),
    )
    assert_problem(regressed, Problem.COUNTER_REGRESSED)
    # A concentration flag at a second store, about its cashier, raised yesterday.
    second_store = await client.post(
        "/v1/stores",
        headers=cafe.owner,
        json={"name": "Dock Rd", "time_zone": "America/Los_Angeles", "latitude": 37.8, "longitude": -122.3},
    )
    dock = second_store.json()["id"]
    dock_cashier = await cafe.add_staff("cashier", "dock@cafe.test", store_id=dock)
    yesterday = start - timedelta(days=1)
    concentration = await raise_flag(
        business_id=UUID(cafe.business_id),
        rule="cashier_concentration",
        severity="medium",
        explanation="Dock cashier's punches concentrate on 2 cards.",
        evidence={"share": 0.5},
        now=yesterday,
        store_id=UUID(dock),
        staff_id=UUID(dock_cashier["id"]),
    )

    async def ids(**params: str) -> list[str]:
        response = await client.get("/v1/flags", headers=cafe.owner, params=params)
        assert response.status_code == 200, response.text
        return [f["id"] for f in response.json()["flags"]]

    everything = await ids()
    assert len(everything) == 3 and everything[-1] == str(concentration), "newest first"
    [regression_flag] = await ids(rule="counter_regression")
    assert await ids(card_id=cloned.card_id) == [regression_flag]
    assert await ids(rule="daily_cap") == [cap_flag["id"]]
    assert await ids(store_id=dock) == [str(concentration)]
    assert await ids(store_id=cafe.store_id) == [cap_flag["id"]]
    me = await client.get("/v1/staff", headers=cafe.owner)
    first_cashier = next(s["id"] for s in me.json() if s["email"] == "cashier@cafe.test")
    assert await ids(staff_id=first_cashier) == [cap_flag["id"]], "the cashier who made the flagged punch"
    assert await ids(staff_id=dock_cashier["id"]) == [str(concentration)]
    assert await ids(until=start.isoformat()) == [str(concentration)]
    assert set(await ids(since=start.isoformat())) == {cap_flag["id"], regression_flag}
    assert await ids(since=yesterday.isoformat(), until=(yesterday + timedelta(seconds=1)).isoformat()) == [
        str(concentration)
    ]
    assert len(await ids(status="open")) == 3 and await ids(status="approved") == []
    await client.post(f"/v1/flags/{regression_flag}/approve", headers=cafe.owner, json={"reason": "Phone restored"})
    assert await ids(status="approved") == [regression_flag]
    assert await ids(rule="daily_cap", store_id=dock) == []

    first = await client.get("/v1/flags", headers=cafe.owner, params={"limit": "2"})
    assert [f["id"] for f in first.json()["flags"]] == everything[:2] and first.json()["next_offset"] == 2
    rest = await client.get("/v1/flags", headers=cafe.owner, params={"limit": "2", "offset": "2"})
    assert [f["id"] for f in rest.json()["flags"]] == everything[2:] and rest.json()["next_offset"] is None


async def test_approving_a_flag_makes_its_punch_count(client: Client, till: Till, clock: FakeClock) -> None:
    cafe, cashier = till
    customer = await new_customer(client, cafe)
    punches, flag = await over_the_daily_cap(client, cafe, cashier, customer, clock)
    before = await timeline(client, cafe, customer.card_id)
    assert (before["card"]["balance"], before["card"]["under_review"]) == (3, 1)
    assert [e["under_review"] for e in before["entries"]] == [False, False, False, True]

    approved = await client.post(
        f"/v1/flags/{flag['id']}/approve", headers=cafe.owner, json={"reason": "Office order, four coffees"}
    )
    assert approved.status_code == 200, approved.text
    body = approved.json()
    assert body["voided"] == []
    assert body["flag"]["status"] == "approved" and body["flag"]["review_reason"] == "Office order, four coffees"
    assert body["flag"]["reviewed_by_name"] == "Olive Owner" and moment(body["flag"]["reviewed_at"]) == clock()
    after = await timeline(client, cafe, customer.card_id)
    assert (after["card"]["balance"], after["card"]["under_review"]) == (4, 0)
    assert after["entries"][3]["id"] == punches[3] and after["entries"][3]["flag_ids"] == [flag["id"]]
    first = after["entries"][0]
    assert (first["seq"], first["kind"], first["receipt"], first["amount_cents"], first["items"]) == (
        1,
        "punch",
        "R-1",
        450,
        1,
    )
    assert (first["store_name"], first["cashier_name"], first["scanner_name"]) == ("Market St", "Cashier", "Till 1")
    assert after["flags"][0]["id"] == flag["id"] and after["flags"][0]["status"] == "approved"
    assert [d["active"] for d in after["devices"]] == [True] and after["redemptions"] == []
    assert (await customer.card())["balance"] == 4
    [entry] = await audit(client, cafe, action="flag.approve")
    assert entry["subject_id"] == flag["id"] and entry["reason"] == "Office order, four coffees"


async def test_rejecting_a_flag_voids_its_punches(client: Client, till: Till, clock: FakeClock) -> None:
    cafe, cashier = till
    customer = await new_customer(client, cafe)
    punches, flag = await over_the_daily_cap(client, cafe, cashier, customer, clock)
    rejected = await client.post(
        f"/v1/flags/{flag['id']}/reject", headers=cafe.owner, json={"reason": "No purchase on the till roll"}
    )
    assert rejected.status_code == 200, rejected.text
    body = rejected.json()
    assert body["flag"]["status"] == "rejected"
    [voided] = body["voided"]
    assert voided["punch_id"] == punches[3]

    card = await customer.card()
    assert card["balance"] == 3
    assert [h["voided"] for h in card["history"] if h["kind"] == "punch"].count(True) == 1
    story = await timeline(client, cafe, customer.card_id)
    assert (story["card"]["balance"], story["card"]["under_review"]) == (3, 0)
    void = story["entries"][-1]
    assert void["kind"] == "void" and void["voids"] == punches[3] and void["id"] == voided["void_id"]
    assert void["cashier_name"] == "Olive Owner" and void["store_name"] == "Market St"
    assert story["entries"][3]["voided"] is True and story["entries"][3]["voided_by"] == voided["void_id"]
    [entry] = await audit(client, cafe, action="flag.reject")
    assert entry["details"] == {"punch_ids": [punches[3]]} and entry["reason"] == "No purchase on the till roll"


async def test_a_flag_is_reviewed_once(client: Client, till: Till, clock: FakeClock) -> None:
    cafe, cashier = till
    customer = await new_customer(client, cafe)
    _, flag = await over_the_daily_cap(client, cafe, cashier, customer, clock)
    path = f"/v1/flags/{flag['id']}"
    assert (await client.post(f"{path}/approve", headers=cafe.owner, json={"reason": "fine"})).status_code == 200
    assert_problem(
        await client.post(f"{path}/approve", headers=cafe.owner, json={"reason": "again"}),
        Problem.FLAG_ALREADY_REVIEWED,
    )
    assert_problem(
        await client.post(f"{path}/reject", headers=cafe.owner, json={"reason": "no"}), Problem.FLAG_ALREADY_REVIEWED
    )
    after = await client.get(path, headers=cafe.owner)
    assert after.json()["status"] == "approved" and after.json()["review_reason"] == "fine"
    assert (await customer.card())["balance"] == 4, "the refused rejection voided nothing"
    assert len(await audit(client, cafe, subject_id=flag["id"])) == 1


async def test_two_owners_deciding_at_once_act_once(client: Client, till: Till, clock: FakeClock) -> None:
    cafe, cashier = till
    await cafe.add_staff("manager", "manager@cafe.test")
    manager = bearer((await cafe.log_in("manager@cafe.test"))["access_token"])
    customer = await new_customer(client, cafe)
    _, flag = await over_the_daily_cap(client, cafe, cashier, customer, clock)
    approve, reject = await asyncio.gather(
        client.post(f"/v1/flags/{flag['id']}/approve", headers=cafe.owner, json={"reason": "ok"}),
        client.post(f"/v1/flags/{flag['id']}/reject", headers=manager, json={"reason": "not ok"}),
    )
    assert sorted([approve.status_code, reject.status_code]) == [200, 409]
    final = (await client.get(f"/v1/flags/{flag['id']}", headers=cafe.owner)).json()["status"]
    assert final == ("approved" if approve.status_code == 200 else "rejected")
    assert (await customer.card())["balance"] == (4 if final == "approved" else 3)
    assert len(await audit(client, cafe, subject_id=flag["id"])) == 1


async def test_a_flag_naming_no_card_shows_on_the_card_of_its_punches(
    client: Client, till: Till, clock: FakeClock
) -> None:
    cafe, cashier = till
    customer = await new_customer(client, cafe)
    bystander = await new_customer(client, cafe)
    punches = [await punch(client, cashier, customer, clock, f"R-{n}") for n in (1, 2)]
    await punch(client, cashier, bystander, clock, "R-3")
    burst = await raise_flag(
        business_id=UUID(cafe.business_id),
        rule="scanner_burst",
        severity="medium",
        explanation="Till 1 punched in a burst.",
        evidence={},
        now=clock(),
        scanner_id=UUID(cafe.scanner_id),
        punch_ids=[UUID(punches[1])],
    )
    # Another business's flag naming this card's punch is none of this business's concern.
    rival = Business(name="Rival Roasters")
    await rival.save()
    await raise_flag(
        business_id=rival.id,
        rule="scanner_burst",
        severity="medium",
        explanation="Rival's flag",
        evidence={},
        now=clock(),
        punch_ids=[UUID(punches[0])],
    )

    story = await timeline(client, cafe, customer.card_id)
    assert [f["id"] for f in story["flags"]] == [str(burst)] and story["flags"][0]["card_id"] is None
    assert [(e["flag_ids"], e["under_review"]) for e in story["entries"]] == [([], False), ([str(burst)], True)]
    assert (story["card"]["balance"], story["card"]["under_review"]) == (1, 1)
    assert [a["subject_id"] for a in story["audit"]] == []

    async def listed(card_id: str) -> list[str]:
        response = await client.get("/v1/flags", headers=cafe.owner, params={"card_id": card_id})
        assert response.status_code == 200, response.text
        return [f["id"] for f in response.json()["flags"]]

    assert await listed(customer.card_id) == [str(burst)]
    assert await listed(bystander.card_id) == []
    exported = parse_csv(
        await client.get("/v1/exports/flags.csv", headers=cafe.owner, params={"card_id": customer.card_id})
    )
    assert [r["flag_id"] for r in exported] == [str(burst)]
    assert (
        parse_csv(await client.get("/v1/exports/flags.csv", headers=cafe.owner, params={"card_id": bystander.card_id}))
        == []
    )

    approved = await client.post(f"/v1/flags/{burst}/approve", headers=cafe.owner, json={"reason": "Rush hour"})
    assert approved.status_code == 200, approved.text
    after = await timeline(client, cafe, customer.card_id)
    assert (after["card"]["balance"], after["card"]["under_review"]) == (2, 0)
    assert [(a["action"], a["subject_id"]) for a in after["audit"]] == [("flag.approve", str(burst))]


# --- nobody clears suspicion of themselves -------------------------------------------------

OWN_PUNCHES = "Someone else must review a flag about your own punches"


async def test_a_manager_cannot_review_a_flag_about_their_own_punches(
    client: Client, till: Till, clock: FakeClock
) -> None:
    cafe, _ = till
    member = await cafe.add_staff("manager", "manager@cafe.test")
    manager = bearer((await cafe.log_in("manager@cafe.test"))["access_token"])
    manager_at_till = bearer((await cafe.log_in("manager@cafe.test", at_scanner=True))["access_token"])
    customer = await new_customer(client, cafe)
    _, flag = await over_the_daily_cap(client, cafe, manager_at_till, customer, clock)
    named = await raise_flag(
        business_id=UUID(cafe.business_id),
        rule="cashier_concentration",
        severity="medium",
        explanation="The manager's punches concentrate on 2 cards.",
        evidence={},
        now=clock(),
        staff_id=UUID(member["id"]),
    )
    for flag_id in (flag["id"], str(named)):
        for decision in ("approve", "reject"):
            response = await client.post(f"/v1/flags/{flag_id}/{decision}", headers=manager, json={"reason": "Mine"})
            assert_problem(response, Problem.FORBIDDEN)
            assert response.json()["detail"] == OWN_PUNCHES
    assert {f["status"] for f in (await client.get("/v1/flags", headers=cafe.owner)).json()["flags"]} == {"open"}
    card = await customer.card()
    assert card["balance"] + card["under_review"] == 4, "nothing was voided"
    assert await decisions() == 0
    approved = await client.post(f"/v1/flags/{flag['id']}/approve", headers=cafe.owner, json={"reason": "Checked"})
    assert approved.status_code == 200, approved.text


async def test_an_owner_reviews_their_own_punches_only_when_no_other_owner_can(
    client: Client, till: Till, clock: FakeClock
) -> None:
    cafe, _ = till
    owner_at_till = bearer((await cafe.log_in("owner@cafe.test", at_scanner=True))["access_token"])
    alone = await new_customer(client, cafe)
    _, first = await over_the_daily_cap(client, cafe, owner_at_till, alone, clock)
    sole = await client.post(f"/v1/flags/{first['id']}/approve", headers=cafe.owner, json={"reason": "Office order"})
    assert sole.status_code == 200, "a sole owner has nobody else to ask"

    partner = await cafe.add_staff("owner", "partner@cafe.test")
    partner_headers = bearer((await cafe.log_in("partner@cafe.test"))["access_token"])
    other = await new_customer(client, cafe)
    _, second = await over_the_daily_cap(client, cafe, owner_at_till, other, clock, prefix="S")
    refused = await client.post(f"/v1/flags/{second['id']}/reject", headers=cafe.owner, json={"reason": "Mine"})
    assert_problem(refused, Problem.FORBIDDEN)
    assert refused.json()["detail"] == OWN_PUNCHES
    decided = await client.post(f"/v1/flags/{second['id']}/approve", headers=partner_headers, json={"reason": "Fine"})
    assert decided.status_code == 200, decided.text

    disabled = await client.patch(
        f"/v1/staff/{partner['id']}", headers=cafe.owner, json={"active": False, "reason": "Sold their share"}
    )
    assert disabled.status_code == 200, disabled.text
    third_customer = await new_customer(client, cafe)
    _, third = await over_the_daily_cap(client, cafe, owner_at_till, third_customer, clock, prefix="T")
    again = await client.post(f"/v1/flags/{third['id']}/approve", headers=cafe.owner, json={"reason": "Alone again"})
    assert again.status_code == 200, "a disabled owner cannot review, so the remaining owner may"


async def test_a_manager_cannot_clear_or_unfreeze_their_own_card(client: Client, till: Till, clock: FakeClock) -> None:
    cafe, cashier = till
    await cafe.add_staff("manager", "manager@cafe.test")
    manager = bearer((await cafe.log_in("manager@cafe.test"))["access_token"])
    own = await new_customer(client, cafe, email="Manager@Cafe.test")
    punches, flag = await over_the_daily_cap(client, cafe, cashier, own, clock)
    # A flag naming no card, only a punch on the manager's card, is about their card all the same.
    burst = await raise_flag(
        business_id=UUID(cafe.business_id),
        rule="scanner_burst",
        severity="medium",
        explanation="Till 1 punched in a burst.",
        evidence={},
        now=clock(),
        scanner_id=UUID(cafe.scanner_id),
        punch_ids=[UUID(punches[0])],
    )
    for flag_id in (flag["id"], str(burst)):
        response = await client.post(f"/v1/flags/{flag_id}/approve", headers=manager, json={"reason": "Mine"})
        assert_problem(response, Problem.FORBIDDEN)
        assert response.json()["detail"] == "Someone else must review a flag about a card you punched or hold"

    frozen = await client.post(f"/v1/cards/{own.card_id}/freeze", headers=manager, json={"reason": "Lost my phone"})
    assert frozen.status_code == 200 and frozen.json()["status"] == "frozen", "freezing one's own card is safe"
    unfrozen = await client.post(f"/v1/cards/{own.card_id}/unfreeze", headers=manager, json={"reason": "Found it"})
    assert_problem(unfrozen, Problem.FORBIDDEN)
    assert unfrozen.json()["detail"] == "Someone else must unfreeze a card you punched or hold"
    assert (await own.card())["status"] == "frozen"
    assert [e["action"] for e in await audit(client, cafe, subject_id=own.card_id)] == ["card.freeze"]

    # Someone else's card is the manager's to decide, and the owner may decide the manager's.
    stranger = await new_customer(client, cafe)
    await client.post(f"/v1/cards/{stranger.card_id}/freeze", headers=cafe.owner, json={"reason": "Check"})
    theirs = await client.post(f"/v1/cards/{stranger.card_id}/unfreeze", headers=manager, json={"reason": "Fine"})
    assert theirs.status_code == 200 and theirs.json()["status"] == "active"
    by_owner = await client.post(f"/v1/cards/{own.card_id}/unfreeze", headers=cafe.owner, json={"reason": "Found"})
    assert by_owner.status_code == 200 and by_owner.json()["status"] == "active"


# --- cards and phones ----------------------------------------------------------------------


async def test_a_frozen_card_gets_no_stamps_until_unfrozen(client: Client, till: Till, clock: FakeClock) -> None:
    cafe, cashier = till
    customer = await new_customer(client, cafe, email="ada@example.com", display_name="Ada")
    shown = await customer.stamp()
    frozen = await client.post(
        f"/v1/cards/{customer.card_id}/freeze", headers=cafe.owner, json={"reason": "Card offered for sale online"}
    )
    assert frozen.status_code == 200, frozen.text
    assert frozen.json()["status"] == "frozen"
    refused = await client.post(
        f"/v1/me/cards/{customer.card_id}/stamps",
        headers=customer.headers,
        json=customer.phone.stamp_request(customer.card_id),
    )
    assert_problem(refused, Problem.CARD_FROZEN)
    at_till = await client.post("/v1/scans", headers=cashier, json={"stamp": shown, "receipt": {"reference": "R-1"}})
    assert_problem(at_till, Problem.CARD_FROZEN)

    clock.advance(seconds=10)
    unfrozen = await client.post(
        f"/v1/cards/{customer.card_id}/unfreeze", headers=cafe.owner, json={"reason": "Checked"}
    )
    assert unfrozen.status_code == 200 and unfrozen.json()["status"] == "active"
    await punch(client, cashier, customer, clock, "R-2")
    story = await timeline(client, cafe, customer.card_id)
    assert story["customer"]["email"] == "ada@example.com" and story["customer"]["display_name"] == "Ada"
    assert [(a["action"], a["reason"]) for a in story["audit"]] == [
        ("card.freeze", "Card offered for sale online"),
        ("card.unfreeze", "Checked"),
    ]
    assert story["card"]["balance"] == 1 and story["entries"][0]["receipt"] == "R-2"


async def test_a_revoked_phone_gets_no_stamps_and_its_shown_stamp_is_refused(
    client: Client, till: Till, clock: FakeClock
) -> None:
    cafe, cashier = till
    customer = await new_customer(client, cafe)
    shown = await customer.stamp()
    device_id = customer.session["device_id"]
    revoked = await client.post(f"/v1/devices/{device_id}/revoke", headers=cafe.owner, json={"reason": "Lost phone"})
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["active"] is False and revoked.json()["id"] == device_id
    at_till = await client.post("/v1/scans", headers=cashier, json={"stamp": shown, "receipt": {"reference": "R-1"}})
    assert_problem(at_till, Problem.DEVICE_NOT_BOUND)
    stamp = await client.post(
        f"/v1/me/cards/{customer.card_id}/stamps",
        headers=customer.headers,
        json=customer.phone.stamp_request(customer.card_id),
    )
    assert_problem(stamp, Problem.INVALID_PROOF)  # no stamp for this business's card
    story = await timeline(client, cafe, customer.card_id)
    assert [(d["id"], d["active"]) for d in story["devices"]] == [(device_id, False)]
    assert [(a["action"], a["reason"]) for a in story["audit"]] == [("device.revoke", "Lost phone")]


async def test_revoking_a_phone_here_leaves_it_working_at_another_business(
    client: Client, till: Till, clock: FakeClock
) -> None:
    """A phone is revoked for this business only (T20): the answer says nothing of the rival, and the
    phone keeps its stamps at the rival's while this business's tills refuse it."""
    cafe, cashier = till
    customer = await new_customer(client, cafe)
    rival = Business(name="Rival Roasters")
    await rival.save()
    rival_program = Program(business=rival.id, name="Rival card", reward_name="Free tea")
    await rival_program.save()
    joined = await client.post("/v1/me/cards", headers=customer.headers, json={"program_id": str(rival_program.id)})
    assert joined.status_code == 201, joined.text
    rival_card = joined.json()["id"]
    device_id = customer.session["device_id"]
    shown = await customer.stamp()

    revoked = await client.post(f"/v1/devices/{device_id}/revoke", headers=cafe.owner, json={"reason": "Lost phone"})
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["active"] is False
    assert rival_card not in revoked.text and str(rival.id) not in revoked.text
    at_till = await client.post("/v1/scans", headers=cashier, json={"stamp": shown, "receipt": {"reference": "R-1"}})
    assert_problem(at_till, Problem.DEVICE_NOT_BOUND)
    here = await client.post(
        f"/v1/me/cards/{customer.card_id}/stamps",
        headers=customer.headers,
        json=customer.phone.stamp_request(customer.card_id),
    )
    assert_problem(here, Problem.INVALID_PROOF)
    there = await client.post(
        f"/v1/me/cards/{rival_card}/stamps", headers=customer.headers, json=customer.phone.stamp_request(rival_card)
    )
    assert there.status_code == 201, "the rival still accepts the phone"
    story = await timeline(client, cafe, customer.card_id)
    assert [(d["id"], d["active"]) for d in story["devices"]] == [(device_id, False)]
    assert rival_card not in str(story) and str(rival.id) not in str(story)
    again = await client.post(f"/v1/devices/{device_id}/revoke", headers=cafe.owner, json={"reason": "Twice"})
    assert again.status_code == 200
    assert await decisions() == 1, "revoking it again changes nothing"


async def test_disabling_a_cashier_and_revoking_a_scanner_are_logged(
    client: Client, till: Till, clock: FakeClock
) -> None:
    cafe, _ = till
    clock.advance(seconds=1)  # after the café's set-up, and each step after the one before: newest first is exact
    cashier = await cafe.add_staff("cashier", "leaver@cafe.test")
    clock.advance(seconds=1)
    disabled = await client.patch(
        f"/v1/staff/{cashier['id']}", headers=cafe.owner, json={"active": False, "reason": "Left the company"}
    )
    assert disabled.status_code == 200 and disabled.json()["active"] is False
    clock.advance(seconds=1)
    enabled = await client.patch(f"/v1/staff/{cashier['id']}", headers=cafe.owner, json={"active": True})
    assert enabled.status_code == 200 and enabled.json()["active"] is True
    clock.advance(seconds=1)
    renamed = await client.patch(f"/v1/staff/{cashier['id']}", headers=cafe.owner, json={"name": "Sam"})
    assert renamed.status_code == 200
    unchanged = await client.patch(f"/v1/staff/{cashier['id']}", headers=cafe.owner, json={"name": "Sam"})
    assert unchanged.status_code == 200
    clock.advance(seconds=1)
    revoked = await client.post(
        f"/v1/scanners/{cafe.scanner_id}/revoke", headers=cafe.owner, json={"reason": "Stolen from the counter"}
    )
    assert revoked.status_code == 200 and revoked.json()["active"] is False
    clock.advance(seconds=1)
    spare = await client.post(f"/v1/stores/{cafe.store_id}/scanners", headers=cafe.owner, json={"name": "Till 2"})
    spare_id = spare.json()["scanner"]["id"]
    clock.advance(seconds=1)
    bodyless = await client.post(f"/v1/scanners/{spare_id}/revoke", headers=cafe.owner)
    assert bodyless.status_code == 200 and bodyless.json()["active"] is False
    again = await client.post(f"/v1/scanners/{spare_id}/revoke", headers=cafe.owner)
    assert again.status_code == 200

    subjects = {cashier["id"], cafe.scanner_id, spare_id}
    entries = [e for e in await audit(client, cafe) if e["subject_id"] in subjects]
    assert [(e["action"], e["subject_id"], e["reason"]) for e in entries] == [
        ("scanner.revoke", spare_id, None),
        ("scanner.register", spare_id, None),
        ("scanner.revoke", cafe.scanner_id, "Stolen from the counter"),
        ("staff.update", cashier["id"], None),
        ("staff.enable", cashier["id"], None),
        ("staff.disable", cashier["id"], "Left the company"),
        ("staff.hire", cashier["id"], None),
        ("scanner.register", cafe.scanner_id, None),
    ], "newest first; an unchanged rename and a second revocation change nothing worth logging"
    assert entries[3]["details"] == {"before": {"name": "Cashier"}, "after": {"name": "Sam"}}
    assert entries[5]["details"] == {"before": {"active": True}, "after": {"active": False}}
    assert all(e["actor_name"] == "Olive Owner" and e["session"] for e in entries)


async def test_the_audit_log_filters_by_action_subject_actor_and_time(
    client: Client, till: Till, clock: FakeClock
) -> None:
    cafe, _ = till
    await cafe.add_staff("manager", "manager@cafe.test")
    manager_tokens = await cafe.log_in("manager@cafe.test")
    manager = bearer(manager_tokens["access_token"])
    customer = await new_customer(client, cafe)
    start = clock()
    await client.post(f"/v1/cards/{customer.card_id}/freeze", headers=cafe.owner, json={"reason": "one"})
    clock.advance(seconds=30)
    await client.post(f"/v1/cards/{customer.card_id}/unfreeze", headers=manager, json={"reason": "two"})
    clock.advance(seconds=30)
    await client.post(f"/v1/scanners/{cafe.scanner_id}/revoke", headers=manager, json={"reason": "three"})

    everything = [e for e in await audit(client, cafe) if e["action"] in DECISIONS]
    assert [e["reason"] for e in everything] == ["three", "two", "one"]
    assert moment(everything[2]["at"]) == start and everything[2]["subject_kind"] == "card"
    assert [e["reason"] for e in await audit(client, cafe, action="card.unfreeze")] == ["two"]
    assert [e["reason"] for e in await audit(client, cafe, subject_id=customer.card_id)] == ["two", "one"]
    assert [e["reason"] for e in await audit(client, cafe, actor=manager_tokens["staff_id"])] == ["three", "two"]
    window = {
        "since": (start + timedelta(seconds=30)).isoformat(),
        "until": (start + timedelta(seconds=60)).isoformat(),
    }
    assert [e["reason"] for e in await audit(client, cafe, **window)] == ["two"]
    assert [e["reason"] for e in await audit(client, cafe, limit="1")] == ["three"]
    assert await decisions() == 3


# --- exports -------------------------------------------------------------------------------


async def test_the_flag_export_is_csv_with_the_list_filters(client: Client, till: Till, clock: FakeClock) -> None:
    cafe, cashier = till
    customer = await new_customer(client, cafe)
    _, flag = await over_the_daily_cap(client, cafe, cashier, customer, clock)
    await raise_flag(
        business_id=UUID(cafe.business_id),
        rule="shared_contact",
        severity="medium",
        explanation='=HYPERLINK("http://evil.test","click") shares a contact',
        evidence={},
        now=clock(),
    )
    response = await client.get("/v1/exports/flags.csv", headers=cafe.owner)
    rows = parse_csv(response)
    assert 'filename="punchguard-flags.csv"' in response.headers["content-disposition"]
    assert [r["rule"] for r in rows] == ["shared_contact", "daily_cap"]
    assert rows[0]["explanation"].startswith("'=HYPERLINK"), "a formula is neutralised"
    assert rows[1]["flag_id"] == flag["id"] and rows[1]["punch_ids"] == flag["punch_ids"][0]
    assert (rows[1]["store"], rows[1]["cashier"], rows[1]["status"]) == ("Market St", "Cashier", "open")
    only_cap = parse_csv(await client.get("/v1/exports/flags.csv", headers=cafe.owner, params={"rule": "daily_cap"}))
    assert [r["flag_id"] for r in only_cap] == [flag["id"]]
    none = parse_csv(await client.get("/v1/exports/flags.csv", headers=cafe.owner, params={"status": "rejected"}))
    assert none == []


async def test_the_punch_export_shows_voids_open_flags_and_guards_formulas(
    client: Client, till: Till, clock: FakeClock
) -> None:
    cafe, _ = till
    member = await client.post(
        "/v1/staff",
        headers=cafe.owner,
        json={
            "name": "=SUM(A1:A9)",
            "email": "sneaky@cafe.test",
            "password": PASSWORD,
            "role": "cashier",
            "store_id": cafe.store_id,
        },
    )
    assert member.status_code == 201, member.text
    sneaky = bearer((await cafe.log_in("sneaky@cafe.test", at_scanner=True))["access_token"])
    customer = await new_customer(client, cafe)
    start = clock()
    punches = [await punch(client, sneaky, customer, clock, receipt) for receipt in ("-2+3", "@R2", "R-3", "R-4")]
    refund = await client.post(
        "/v1/punches/void", headers=cafe.owner, json={"receipt": "R-3", "store_id": cafe.store_id}
    )
    assert refund.status_code == 200, refund.text

    response = await client.get("/v1/exports/punches.csv", headers=cafe.owner)
    rows = parse_csv(response)
    assert 'filename="punchguard-punches.csv"' in response.headers["content-disposition"]
    assert [r["punch_id"] for r in rows] == punches, "oldest first, one row per punch"
    assert [r["receipt"] for r in rows] == ["'-2+3", "'@R2", "R-3", "R-4"]
    assert {r["cashier"] for r in rows} == {"'=SUM(A1:A9)"}
    assert (rows[0]["store"], rows[0]["scanner"], rows[0]["amount_cents"], rows[0]["items"]) == (
        "Market St",
        "Till 1",
        "450",
        "1",
    )
    assert rows[0]["recorded_at"] == start.isoformat() and rows[0]["card_id"] == customer.card_id
    assert [r["voided"] for r in rows] == ["no", "no", "yes", "no"]
    assert [r["open_flag_rules"] for r in rows] == ["", "", "", "daily_cap"]
    assert {r["redeemed"] for r in rows} == {"no"}

    def export(**params: str) -> Any:
        return client.get("/v1/exports/punches.csv", headers=cafe.owner, params=params)

    since = (start + timedelta(seconds=61)).isoformat()
    assert [r["punch_id"] for r in parse_csv(await export(since=since))] == punches[1:]
    assert [r["punch_id"] for r in parse_csv(await export(until=since))] == punches[:1]
    assert len(parse_csv(await export(staff_id=member.json()["id"]))) == 4
    assert len(parse_csv(await export(store_id=cafe.store_id, card_id=customer.card_id))) == 4
    assert parse_csv(await export(card_id=MISSING)) == []


async def test_a_long_export_lists_every_flag(client: Client, till: Till, clock: FakeClock) -> None:
    cafe, _ = till
    await Flag.insert(
        *(
            Flag(
                business=UUID(cafe.business_id),
                rule="scanner_burst",
                severity="low",
                explanation=f"Burst {n}",
                evidence={},
                created_at=clock() - timedelta(minutes=n),
            )
            for n in range(1200)
        )
    )
    rows = parse_csv(await client.get("/v1/exports/flags.csv", headers=cafe.owner))
    assert len(rows) == 1200 and rows[0]["explanation"] == "Burst 0" and rows[-1]["explanation"] == "Burst 1199"
    page = await client.get("/v1/flags", headers=cafe.owner, params={"limit": "1000", "offset": "1000"})
    assert len(page.json()["flags"]) == 200 and page.json()["next_offset"] is None


# --- who may look --------------------------------------------------------------------------


async def test_a_cashier_cannot_review(client: Client, till: Till, clock: FakeClock) -> None:
    cafe, cashier = till
    customer = await new_customer(client, cafe)
    _, flag = await over_the_daily_cap(client, cafe, cashier, customer, clock)
    reason = {"reason": "I want to"}
    attempts = [
        client.get("/v1/flags", headers=cashier),
        client.get(f"/v1/flags/{flag['id']}", headers=cashier),
        client.post(f"/v1/flags/{flag['id']}/approve", headers=cashier, json=reason),
        client.post(f"/v1/flags/{flag['id']}/reject", headers=cashier, json=reason),
        client.get(f"/v1/cards/{customer.card_id}/timeline", headers=cashier),
        client.post(f"/v1/cards/{customer.card_id}/freeze", headers=cashier, json=reason),
        client.post(f"/v1/cards/{customer.card_id}/unfreeze", headers=cashier, json=reason),
        client.post(f"/v1/devices/{customer.session['device_id']}/revoke", headers=cashier, json=reason),
        client.get("/v1/audit-log", headers=cashier),
        client.get("/v1/exports/flags.csv", headers=cashier),
        client.get("/v1/exports/punches.csv", headers=cashier),
        client.get("/v1/flags", headers=customer.headers),
    ]
    for attempt in attempts:
        assert_problem(await attempt, Problem.FORBIDDEN)
    assert (await client.get(f"/v1/flags/{flag['id']}", headers=cafe.owner)).json()["status"] == "open"
    assert await decisions() == 0


async def test_another_business_reads_as_missing(client: Client, till: Till, clock: FakeClock) -> None:
    cafe, _ = till
    rival = Business(name="Rival Roasters")
    await rival.save()
    rival_program = Program(business=rival.id, name="Rival card", reward_name="Free tea")
    await rival_program.save()
    rival_customer = await new_customer(client, Cafe(client, "", str(rival.id), program_id=str(rival_program.id)))
    rival_flag = await raise_flag(
        business_id=rival.id,
        rule="daily_cap",
        severity="low",
        explanation="Rival's flag",
        evidence={},
        now=clock(),
        card_id=UUID(rival_customer.card_id),
    )
    reason = {"reason": "Nosy"}
    pairs = [
        ("GET", f"/v1/flags/{rival_flag}", f"/v1/flags/{MISSING}", None),
        ("POST", f"/v1/flags/{rival_flag}/approve", f"/v1/flags/{MISSING}/approve", reason),
        ("POST", f"/v1/flags/{rival_flag}/reject", f"/v1/flags/{MISSING}/reject", reason),
        ("GET", f"/v1/cards/{rival_customer.card_id}/timeline", f"/v1/cards/{MISSING}/timeline", None),
        ("POST", f"/v1/cards/{rival_customer.card_id}/freeze", f"/v1/cards/{MISSING}/freeze", reason),
        ("POST", f"/v1/cards/{rival_customer.card_id}/unfreeze", f"/v1/cards/{MISSING}/unfreeze", reason),
        (
            "POST",
            f"/v1/devices/{rival_customer.session['device_id']}/revoke",
            f"/v1/devices/{MISSING}/revoke",
            reason,
        ),
    ]
    for method, theirs, missing, body in pairs:
        response = await client.request(method, theirs, headers=cafe.owner, json=body)
        nothing = await client.request(method, missing, headers=cafe.owner, json=body)
        assert_problem(response, Problem.NOT_FOUND)
        assert response.json() == nothing.json(), f"{theirs} reads exactly like a missing id"
    listed = await client.get("/v1/flags", headers=cafe.owner)
    assert listed.json()["flags"] == []
    assert parse_csv(await client.get("/v1/exports/flags.csv", headers=cafe.owner)) == []
    assert (
        parse_csv(
            await client.get("/v1/exports/punches.csv", headers=cafe.owner, params={"card_id": rival_customer.card_id})
        )
        == []
    )
    assert (await rival_customer.card())["status"] == "active"
    assert await decisions() == 0


# --- bad input -----------------------------------------------------------------------------

BAD_FILTERS = [
    ("/v1/flags", {"status": "pending"}),
    ("/v1/flags", {"since": "yesterday"}),
    ("/v1/flags", {"until": "2026-13-45T00:00:00Z"}),
    ("/v1/flags", {"since": "2026-11-24T00:00:00Z", "until": "2026-11-23T00:00:00Z"}),
    ("/v1/flags", {"since": "0001-01-01T00:00:00+05:00"}),
    ("/v1/flags", {"store_id": "not-a-uuid"}),
    ("/v1/flags", {"card_id": "1234"}),
    ("/v1/flags", {"staff_id": ""}),
    ("/v1/flags", {"rule": "daily cap\x00"}),
    ("/v1/flags", {"rule": "x" * 33}),
    ("/v1/flags", {"limit": "0"}),
    ("/v1/flags", {"limit": "1001"}),
    ("/v1/flags", {"limit": "ten"}),
    ("/v1/flags", {"offset": "-1"}),
    ("/v1/flags", {"offset": "99999999999999999999999"}),
    ("/v1/audit-log", {"actor": "me"}),
    ("/v1/audit-log", {"since": "2026-11-23T25:00:00"}),
    ("/v1/audit-log", {"action": "DROP TABLE"}),
    ("/v1/audit-log", {"subject_id": "1"}),
    ("/v1/exports/flags.csv", {"status": "closed"}),
    ("/v1/exports/punches.csv", {"until": "soon"}),
    ("/v1/exports/punches.csv", {"staff_id": "x"}),
]


async def test_bad_filters_are_invalid_requests(client: Client, till: Till) -> None:
    cafe, _ = till
    for path, params in BAD_FILTERS:
        response = await client.get(path, headers=cafe.owner, params=params)
        assert response.status_code == 400, (path, params, response.text)
        assert_problem(response, Problem.INVALID_REQUEST)


async def test_a_time_without_an_offset_is_read_as_utc(client: Client, till: Till, clock: FakeClock) -> None:
    cafe, _ = till
    customer = await new_customer(client, cafe)
    await client.post(f"/v1/cards/{customer.card_id}/freeze", headers=cafe.owner, json={"reason": "x"})
    naive = clock().replace(tzinfo=None)
    assert len(await audit(client, cafe, action="card.freeze", since=naive.isoformat())) == 1
    assert await audit(client, cafe, action="card.freeze", until=naive.isoformat()) == []


BAD_REASONS: list[Any] = [
    None,
    {},
    {"reason": ""},
    {"reason": "   "},
    {"reason": "x" * 501},
    {"reason": "a\x00b"},
    {"reason": 5},
    {"reason": "ok", "extra": 1},
    ["ok"],
]


async def test_a_review_needs_a_reason(client: Client, till: Till, clock: FakeClock) -> None:
    cafe, cashier = till
    customer = await new_customer(client, cafe)
    _, flag = await over_the_daily_cap(client, cafe, cashier, customer, clock)
    for body in BAD_REASONS:
        for path in (
            f"/v1/flags/{flag['id']}/approve",
            f"/v1/flags/{flag['id']}/reject",
            f"/v1/cards/{customer.card_id}/freeze",
            f"/v1/cards/{customer.card_id}/unfreeze",
            f"/v1/devices/{customer.session['device_id']}/revoke",
        ):
            response = await client.post(path, headers=cafe.owner, json=body)
            assert response.status_code == 400, (path, body, response.text)
            assert_problem(response, Problem.INVALID_REQUEST)
    assert (await client.get(f"/v1/flags/{flag['id']}", headers=cafe.owner)).json()["status"] == "open"
    assert (await customer.card())["status"] == "active"
    assert await decisions() == 0


async def test_a_bad_id_in_the_path_is_a_4xx_problem(client: Client, till: Till) -> None:
    cafe, _ = till
    for method, path in [
        ("GET", "/v1/flags/not-a-uuid"),
        ("POST", "/v1/flags/1234/approve"),
        ("GET", "/v1/cards/zzz/timeline"),
        ("POST", "/v1/cards/00000000-0000-4000-8000-00000000000g/freeze"),
        ("POST", "/v1/devices/%00/revoke"),
    ]:
        response = await client.request(method, path, headers=cafe.owner, json={"reason": "x"})
        assert 400 <= response.status_code < 500, (path, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")


async def test_a_bad_scanner_revoke_reason_is_refused_and_the_scanner_stays(client: Client, till: Till) -> None:
    cafe, _ = till
    for body in ({"reason": ""}, {"reason": "x", "why": "y"}, {"reason": None, "extra": 1}):
        response = await client.post(f"/v1/scanners/{cafe.scanner_id}/revoke", headers=cafe.owner, json=body)
        assert_problem(response, Problem.INVALID_REQUEST)
    scanner = await client.get(f"/v1/scanners/{cafe.scanner_id}", headers=cafe.owner)
    assert scanner.json()["active"] is True
    assert await decisions() == 0
