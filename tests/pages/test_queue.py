"""The review queue: open flags in the order to decide them, with their evidence in words, and
approving or rejecting them through the same `cards/flag_review.py` as the API."""

import re
from typing import Any
from uuid import UUID

import httpx

from api.pages.flags import QUEUE_LENGTH
from cards.flags import raise_flag
from cards.tables import AuditLog, Flag
from tests.pages.console import csrf_token, post_form, sign_in
from tests.support import OWNER_EMAIL, Cafe, Customer, FakeClock, bearer, cashier_at_till, new_customer, set_up_cafe

Client = httpx.AsyncClient


async def punch(client: Client, cashier: dict[str, str], customer: Customer, clock: FakeClock, receipt: str) -> str:
    response = await client.post(
        "/v1/scans",
        headers=cashier,
        json={"stamp": await customer.stamp(), "receipt": {"reference": receipt, "amount_cents": 450, "items": 1}},
    )
    assert response.status_code == 201, response.text
    clock.advance(seconds=61)
    return str(response.json()["punch_id"])


async def over_the_daily_cap(
    client: Client, cafe: Cafe, cashier: dict[str, str], customer: Customer, clock: FakeClock
) -> tuple[list[str], dict[str, Any]]:
    """Four punches in one day: the program allows three, so the fourth is flagged `daily_cap`."""
    punches = [await punch(client, cashier, customer, clock, f"R-{n}") for n in range(1, 5)]
    flags = await client.get("/v1/flags", headers=cafe.owner, params={"card_id": customer.card_id, "rule": "daily_cap"})
    [flag] = flags.json()["flags"]
    return punches, flag


async def balance(client: Client, cafe: Cafe, card_id: str) -> tuple[int, int]:
    response = await client.get(f"/v1/cards/{card_id}/timeline", headers=cafe.owner)
    card = response.json()["card"]
    return card["balance"], card["under_review"]


def order_of(page: str, flag_ids: list[str]) -> list[str]:
    found = re.findall(r'id="flag-([0-9a-f-]+)"', page)
    return [f for f in found if f in flag_ids]


async def flagged_cafe(client: Client, clock: FakeClock) -> tuple[Cafe, Customer, list[str], dict[str, Any]]:
    cafe = await set_up_cafe(client)
    cashier = await cashier_at_till(cafe)
    customer = await new_customer(client, cafe)
    punches, flag = await over_the_daily_cap(client, cafe, cashier, customer, clock)
    return cafe, customer, punches, flag


async def test_the_queue_lists_a_held_reward_first_then_by_severity_and_age(client: Client, clock: FakeClock) -> None:
    cafe, customer, _, cap = await flagged_cafe(client, clock)
    business = UUID(cafe.business_id)
    old_high = await raise_flag(
        business_id=business,
        rule="scanner_burst",
        severity="high",
        explanation="Till 1 punched 40 cards in 5 minutes.",
        evidence={},
        now=clock.now,
        store_id=UUID(cafe.store_id),
    )
    clock.advance(minutes=5)
    new_high = await raise_flag(
        business_id=business,
        rule="scanner_burst",
        severity="high",
        explanation="Till 1 punched 50 cards in 5 minutes.",
        evidence={},
        now=clock.now,
        store_id=UUID(cafe.store_id),
    )
    clock.advance(minutes=5)
    held = await raise_flag(  # the newest and not the most severe, but a customer waits at the till
        business_id=business,
        rule="reward_held",
        severity="medium",
        explanation="The free item was held: the phone that asked is no longer bound.",
        evidence={},
        now=clock.now,
        card_id=UUID(customer.card_id),
    )
    await sign_in(client, OWNER_EMAIL)
    page = await client.get("/console/flags")
    assert page.status_code == 200
    ids = [str(held), str(old_high), str(new_high), cap["id"]]
    assert cap["severity"] != "high"
    assert order_of(page.text, ids) == ids
    assert "4 open flags." in page.text
    assert "Free item held at the till" in page.text


async def test_a_flag_shows_its_explanation_evidence_and_what_a_decision_does(client: Client, clock: FakeClock) -> None:
    _, _, _, cap = await flagged_cafe(client, clock)
    await sign_in(client, OWNER_EMAIL)
    page = (await client.get("/console/flags")).text
    assert cap["explanation"].replace("'", "&#39;") in page
    # The punch in the store's time (America/Los_Angeles: 10:03 on the 23rd), where, by whom, the receipt.
    assert "2026-11-23 10:03 PST" in page
    assert "<bdi>Market St</bdi>" in page and "<bdi>Till 1</bdi>" in page and "<bdi>R-4</bdi>" in page
    assert "4.50" in page
    assert "Approving says the suspicion was unfounded: its punch counts toward the reward again." in page
    assert "Rejecting says the suspicion was right: its punch is voided for good (the card loses it)." in page


async def test_approving_a_flag_gives_its_punch_back_and_is_in_the_audit_log(client: Client, clock: FakeClock) -> None:
    cafe, customer, _, cap = await flagged_cafe(client, clock)
    assert await balance(client, cafe, customer.card_id) == (3, 1)
    await sign_in(client, OWNER_EMAIL)
    response = await post_form(
        client,
        "/console/flags",
        f"/console/flags/{cap['id']}/decide",
        decision="approved",
        reason="Four coffees for the office",
        back="/console/flags?rule=daily_cap",
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/console/flags?rule=daily_cap"
    assert await balance(client, cafe, customer.card_id) == (4, 0)
    [entry] = await AuditLog.select(AuditLog.action, AuditLog.reason, AuditLog.subject_id).where(
        AuditLog.action == "flag.approve"
    )
    assert entry["reason"] == "Four coffees for the office"
    assert str(entry["subject_id"]) == cap["id"]
    assert cap["id"] not in (await client.get("/console/flags")).text, "decided: out of the queue"


async def test_rejecting_a_flag_with_htmx_voids_its_punch_and_answers_the_row(client: Client, clock: FakeClock) -> None:
    cafe, customer, punches, cap = await flagged_cafe(client, clock)
    await sign_in(client, OWNER_EMAIL)
    token = csrf_token((await client.get("/console/flags")).text)
    response = await client.post(
        f"/console/flags/{cap['id']}/decide",
        data={"decision": "rejected", "reason": "Same receipt pattern as last week"},
        headers={"x-csrftoken": token, "hx-request": "true"},
    )
    assert response.status_code == 200
    assert f'id="flag-{cap["id"]}"' in response.text
    assert "Rejected by <bdi>Olive Owner</bdi>" in response.text
    assert "<html" not in response.text, "only the row, for htmx to swap in"
    assert await balance(client, cafe, customer.card_id) == (3, 0)
    timeline = (await client.get(f"/v1/cards/{customer.card_id}/timeline", headers=cafe.owner)).json()
    assert [e["voided"] for e in timeline["entries"] if e["id"] == punches[3]] == [True]
    assert await AuditLog.count().where(AuditLog.action == "flag.reject") == 1


async def test_a_decision_needs_a_reason_and_says_so(client: Client, clock: FakeClock) -> None:
    _, _, _, cap = await flagged_cafe(client, clock)
    await sign_in(client, OWNER_EMAIL)
    response = await post_form(
        client, "/console/flags", f"/console/flags/{cap['id']}/decide", decision="approved", reason="   "
    )
    assert response.status_code == 400
    assert "Give a reason" in response.text
    assert (await Flag.select(Flag.status).where(Flag.id == UUID(cap["id"])).first()) == {"status": "open"}


async def test_a_manager_may_not_decide_a_flag_about_their_own_punches(client: Client, clock: FakeClock) -> None:
    cafe = await set_up_cafe(client)
    await cafe.add_staff("manager", "manager@cafe.test")
    at_till = await cafe.log_in("manager@cafe.test", at_scanner=True)
    customer = await new_customer(client, cafe)
    _, cap = await over_the_daily_cap(client, cafe, bearer(at_till["access_token"]), customer, clock)
    await sign_in(client, "manager@cafe.test")
    response = await post_form(
        client, "/console/flags", f"/console/flags/{cap['id']}/decide", decision="approved", reason="Fine"
    )
    assert response.status_code == 403
    assert "Someone else must review a flag about your own punches" in response.text
    token = csrf_token((await client.get("/console/flags")).text)
    htmx = await client.post(
        f"/console/flags/{cap['id']}/decide",
        data={"decision": "approved", "reason": "Fine"},
        headers={"x-csrftoken": token, "hx-request": "true"},
    )
    assert htmx.status_code == 200, "htmx swaps the row with the refusal in it"
    assert "Someone else must review a flag about your own punches" in htmx.text
    assert (await Flag.select(Flag.status).where(Flag.id == UUID(cap["id"])).first()) == {"status": "open"}
    assert await balance(client, cafe, customer.card_id) == (3, 1)


async def test_all_of_a_cards_open_flags_are_decided_with_one_reason(client: Client, clock: FakeClock) -> None:
    cafe, customer, punches, cap = await flagged_cafe(client, clock)
    second = await raise_flag(
        business_id=UUID(cafe.business_id),
        rule="outside_opening_hours",
        severity="low",
        explanation="Punched while the store was closed.",
        evidence={},
        now=clock.now,
        card_id=UUID(customer.card_id),
        punch_ids=[UUID(punches[2])],
    )
    await sign_in(client, OWNER_EMAIL)
    page = (await client.get("/console/flags")).text
    assert page.count("Decide all 2 open flags of card") == 1, "offered once, at the first of them"
    response = await post_form(
        client,
        "/console/flags",
        f"/console/cards/{customer.card_id}/flags/decide",
        decision="rejected",
        reason="A reseller's card",
    )
    assert response.status_code == 303
    statuses = await Flag.select(Flag.status).where(Flag.id.is_in([UUID(cap["id"]), second]))
    assert {s["status"] for s in statuses} == {"rejected"}
    assert (
        await AuditLog.count().where((AuditLog.action == "flag.reject") & (AuditLog.reason == "A reseller's card")) == 2
    )
    assert await balance(client, cafe, customer.card_id) == (2, 0)


async def test_the_filters_narrow_the_queue(client: Client, clock: FakeClock) -> None:
    cafe, customer, _, cap = await flagged_cafe(client, clock)
    other = await raise_flag(
        business_id=UUID(cafe.business_id),
        rule="scanner_burst",
        severity="high",
        explanation="Till 1 punched 40 cards in 5 minutes.",
        evidence={},
        now=clock.now,
        scanner_id=UUID(cafe.scanner_id),
    )
    await sign_in(client, OWNER_EMAIL)
    both = [cap["id"], str(other)]

    async def listed(**params: str) -> list[str]:
        response = await client.get("/console/flags", params=params)
        assert response.status_code == 200
        return order_of(response.text, both)

    assert await listed() == [str(other), cap["id"]]
    assert await listed(rule="daily_cap") == [cap["id"]]
    assert await listed(card=customer.card_id) == [cap["id"]]
    assert await listed(scanner=cafe.scanner_id) == [str(other), cap["id"]]
    assert await listed(since="2026-11-24") == []
    assert await listed(until="2026-11-23") == [str(other), cap["id"]]
    response = await client.get("/console/flags", params={"card": "not-a-card"})
    assert "is not an id this console knows" in response.text


async def test_a_long_queue_is_read_a_page_at_a_time_with_its_filters_kept(client: Client, clock: FakeClock) -> None:
    cafe = await set_up_cafe(client)
    made = []
    n_flags = 4 * QUEUE_LENGTH + 5
    for n in range(n_flags):
        clock.advance(seconds=1)
        made.append(
            str(
                await raise_flag(
                    business_id=UUID(cafe.business_id),
                    rule="scanner_burst",
                    severity="high",
                    explanation=f"Burst {n}.",
                    evidence={},
                    now=clock.now,
                    store_id=UUID(cafe.store_id),
                )
            )
        )
    await sign_in(client, OWNER_EMAIL)
    first = (await client.get("/console/flags", params={"rule": "scanner_burst"})).text
    assert f"{n_flags} open flags, the first {QUEUE_LENGTH} shown." in first
    assert order_of(first, made) == made[:QUEUE_LENGTH], "oldest first"
    nxt = f'<a href="/console/flags?rule=scanner_burst&amp;offset={QUEUE_LENGTH}">The next {QUEUE_LENGTH}</a>'
    assert nxt in first
    assert "Earlier in the queue" not in first
    last_offset = 4 * QUEUE_LENGTH
    last = (await client.get("/console/flags", params={"rule": "scanner_burst", "offset": str(last_offset)})).text
    assert f"{n_flags} open flags, numbers {last_offset + 1} to {n_flags} shown." in last
    assert order_of(last, made) == made[last_offset:]
    back = last_offset - QUEUE_LENGTH
    earlier = f'<a href="/console/flags?rule=scanner_burst&amp;offset={back}">Earlier in the queue</a>'
    assert earlier in last
    assert "The next" not in last
    for nonsense in ("-5", "abc", "9" * 12):
        page = await client.get("/console/flags", params={"offset": nonsense})
        assert page.status_code == 200 and f"the first {QUEUE_LENGTH} shown" in page.text, nonsense


async def test_deciding_all_of_a_card_that_is_not_this_businesss_reads_as_missing(
    client: Client, clock: FakeClock
) -> None:
    await flagged_cafe(client, clock)
    await sign_in(client, OWNER_EMAIL)
    for card_id in ("00000000-0000-4000-8000-000000000000",):
        answer = await post_form(
            client, "/console/flags", f"/console/cards/{card_id}/flags/decide", decision="approved", reason="Checked"
        )
        assert answer.status_code == 404 and "No such card" in answer.text
    assert await Flag.count().where(Flag.status == "open") == 1, "nothing was decided"
