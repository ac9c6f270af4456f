"""What the guard is worth: free items held and rejected in a period, valued at the program's
reward price; flags by rule; the cashiers and scanners behind the most flags (cards/guard_worth.py
through /console/worth), and the reward's price on the program's form and in the API."""

from datetime import timedelta
from uuid import UUID

import httpx

from cards.flags import raise_flag
from cards.guard_worth import guard_worth
from tests.pages.console import post_form, sign_in
from tests.pages.test_queue import over_the_daily_cap
from tests.support import OWNER_EMAIL, Cafe, FakeClock, cashier_at_till, new_customer, set_up_cafe

Client = httpx.AsyncClient


async def price(client: Client, cafe: Cafe, cents: int | None) -> None:
    response = await client.patch(
        f"/v1/programs/{cafe.program_id}", headers=cafe.owner, json={"reward_value_cents": cents}
    )
    assert response.status_code == 200, response.text
    assert response.json()["reward_value_cents"] == cents


async def reject(client: Client, cafe: Cafe, flag_id: str | UUID) -> None:
    response = await client.post(f"/v1/flags/{flag_id}/reject", headers=cafe.owner, json={"reason": "No receipt."})
    assert response.status_code == 200, response.text


async def test_held_and_rejected_free_items_are_valued_at_the_reward_price(client: Client, clock: FakeClock) -> None:
    cafe = await set_up_cafe(client)
    await price(client, cafe, 450)
    cashier = await cashier_at_till(cafe)
    customer = await new_customer(client, cafe)
    punches, cap = await over_the_daily_cap(client, cafe, cashier, customer, clock)
    business, card = UUID(cafe.business_id), UUID(customer.card_id)
    # Two flags sharing a punch, both rejected: the shared punch is one punch rejected, not two.
    first = await raise_flag(
        business_id=business, rule="cooldown", severity="low", explanation="x", evidence={}, now=clock.now,
        card_id=card, punch_ids=[UUID(punches[0])],
    )  # fmt: skip
    second = await raise_flag(
        business_id=business, rule="impossible_travel", severity="high", explanation="y", evidence={}, now=clock.now,
        card_id=card, punch_ids=[UUID(punches[0]), UUID(punches[1])],
    )  # fmt: skip
    for flag in (first, second, cap["id"]):
        await reject(client, cafe, str(flag))
    # A refund at the till is not the guard's work.
    refund = await client.post(
        "/v1/punches/void", headers=cafe.owner, json={"receipt": "R-3", "store_id": cafe.store_id}
    )
    assert refund.status_code == 200, refund.text
    # Two held free items in the period, one still waiting.
    for status in ("open", "decided"):
        held = await raise_flag(
            business_id=business, rule="reward_held", severity="medium", explanation="held", evidence={},
            now=clock.now, card_id=card,
        )  # fmt: skip
        if status == "decided":
            await reject(client, cafe, str(held))

    worth = await guard_worth(business, clock.now - timedelta(days=1), clock.now + timedelta(days=1))
    [program] = worth.programs
    assert (program.held, program.still_held, program.held_refused) == (2, 1, 1)
    # Punches 1, 2 and 4; the refused held item names none (the card had no free item's worth left).
    assert program.rejected_punches == 3
    assert program.rejected_free_items == 0.3
    assert (program.waiting_value_cents, program.rejected_value_cents) == (450, 135)
    assert worth.value_cents == 135 and worth.waiting_value_cents == 450 and worth.unpriced == []
    rules = {r.rule: (r.raised, r.by_status) for r in worth.rules}
    assert rules["reward_held"] == (2, {"open": 1, "rejected": 1})
    assert rules["daily_cap"] == (1, {"rejected": 1})
    # Every flag naming a punch the cashier made counts for the cashier and the till, once each.
    assert [(c.name, c.flags) for c in worth.cashiers] == [("Cashier", 3)]
    assert [(s.name, s.flags) for s in worth.scanners] == [("Till 1", 3)]

    # Before the flags: nothing; a program without a price is named rather than counted as 0.
    before = await guard_worth(business, None, clock.now - timedelta(hours=1))
    assert before.held == 0 and before.rules == [] and before.cashiers == []
    await price(client, cafe, None)
    unpriced = await guard_worth(business, None, None)
    assert unpriced.value_cents == 0 and unpriced.unpriced == ["Coffee card"]


async def test_a_punch_refunded_before_its_flag_was_rejected_is_a_refund_not_a_rejection(
    client: Client, clock: FakeClock
) -> None:
    """Only the rejection's own voids count: a punch the till refunded while its flag waited was
    not kept from anyone by the guard, even once the owner rejects the flag (as the metrics count it)."""
    cafe = await set_up_cafe(client)
    await price(client, cafe, 450)
    cashier = await cashier_at_till(cafe)
    customer = await new_customer(client, cafe)
    punches, _ = await over_the_daily_cap(client, cafe, cashier, customer, clock)
    flag = await raise_flag(
        business_id=UUID(cafe.business_id), rule="cooldown", severity="low", explanation="x", evidence={},
        now=clock.now, card_id=UUID(customer.card_id), punch_ids=[UUID(punches[0]), UUID(punches[3])],
    )  # fmt: skip
    refund = await client.post(
        "/v1/punches/void", headers=cafe.owner, json={"receipt": "R-4", "store_id": cafe.store_id}
    )
    assert refund.status_code == 200, refund.text
    clock.advance(minutes=1)
    await reject(client, cafe, str(flag))  # voids punch 1, which still stood
    worth = await guard_worth(UUID(cafe.business_id), clock.now - timedelta(days=1), clock.now + timedelta(days=1))
    [program] = worth.programs
    assert program.rejected_punches == 1


async def test_the_page_shows_the_period_in_words_and_numbers(client: Client, clock: FakeClock) -> None:
    cafe = await set_up_cafe(client)
    await price(client, cafe, 450)
    cashier = await cashier_at_till(cafe)
    customer = await new_customer(client, cafe)
    _, cap = await over_the_daily_cap(client, cafe, cashier, customer, clock)
    await reject(client, cafe, cap["id"])
    old = clock.now - timedelta(days=45)  # outside the default 30 days
    await raise_flag(
        business_id=UUID(cafe.business_id), rule="scanner_burst", severity="high", explanation="old", evidence={},
        now=old, card_id=UUID(customer.card_id),
    )  # fmt: skip
    await sign_in(client, OWNER_EMAIL)
    page = " ".join((await client.get("/console/worth")).text.split())
    assert "From 2026-10-25 through 2026-11-23" in page
    assert "0.1</strong> free items\u2019 worth of punches rejected: <strong>0.45</strong> not given away" in page
    assert "More punches in a day than the program allows" in page
    assert "A till punching unusually fast" not in page  # 45 days ago
    assert '<a href="/console/flags?cashier=' in page and "<bdi>Cashier</bdi></a>: 1 flag" in page

    wider = (await client.get("/console/worth", params={"since": old.date().isoformat()})).text
    assert "A till punching unusually fast" in wider
    swapped = (await client.get("/console/worth", params={"since": "2026-11-20", "until": "2026-11-01"})).text
    assert "The period started after it ended; the two dates were swapped." in swapped
    assert "From 2026-11-01 through 2026-11-20" in swapped
    nonsense = await client.get("/console/worth", params={"since": "yesterday", "until": "9999-99-99"})
    assert nonsense.status_code == 200
    assert "“yesterday” is not a date (year-month-day, from 2000 to 2999); it was left out." in nonsense.text
    assert "From 2026-10-25 through 2026-11-23" in " ".join(nonsense.text.split()), "the last 30 days"


async def test_a_manager_sees_the_panel_and_a_stranger_is_sent_to_sign_in(client: Client, clock: FakeClock) -> None:
    cafe = await set_up_cafe(client)
    await cafe.add_staff("manager", "manager@cafe.test")
    assert (await client.get("/console/worth")).status_code in (302, 303)
    await sign_in(client, "manager@cafe.test")
    assert (await client.get("/console/worth")).status_code == 200


async def test_the_program_form_takes_the_rewards_price_in_money(client: Client, clock: FakeClock) -> None:
    cafe = await set_up_cafe(client)
    await sign_in(client, OWNER_EMAIL)
    page = f"/console/programs/{cafe.program_id}"
    form = {
        "name": "Coffee card",
        "reward_name": "Free coffee",
        "punches_per_reward": "10",
        "stamp_lifetime_s": "30",
        "cooldown_s": "60",
        "daily_cap": "3",
        "excess_policy": "flag",
    }
    form |= {
        f"risk_{k}": str(v)
        for k, v in (await client.get(f"/v1/programs/{cafe.program_id}", headers=cafe.owner)).json()["risk"].items()
    }
    for typed, cents in (("4.50", 450), ("4,5", 450), ("3", 300), ("0.99", 99), ("", None)):
        response = await post_form(client, page, page, **form, reward_value=typed)
        assert response.status_code == 303, response.text
        program = (await client.get(f"/v1/programs/{cafe.program_id}", headers=cafe.owner)).json()
        assert program["reward_value_cents"] == cents, typed
    for typed in ("four fifty", "4.505", "-1", "1000.01"):
        response = await post_form(client, page, page, **form, reward_value=typed)
        assert response.status_code == 400, typed
        assert "what the free item costs you, from 0.00 to 1000.00" in response.text
    await price(client, cafe, 450)
    assert 'value="4.50"' in (await client.get(page)).text
    assert "(worth 4.50)" in (await client.get("/console/programs")).text


async def test_the_api_refuses_a_price_out_of_range(client: Client, clock: FakeClock) -> None:
    cafe = await set_up_cafe(client)
    for bad in (-1, 100_001, 4.5, "4.50"):
        response = await client.patch(
            f"/v1/programs/{cafe.program_id}", headers=cafe.owner, json={"reward_value_cents": bad}
        )
        assert response.status_code == 400, (bad, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
    created = await client.post(
        "/v1/programs", headers=cafe.owner, json={"name": "Tea", "reward_name": "Free tea", "reward_value_cents": 300}
    )
    assert created.status_code == 201 and created.json()["reward_value_cents"] == 300
    # The price is what the owner's report counts in: a manager may not change it, either way.
    await cafe.add_staff("manager", "manager@cafe.test")
    token = (await cafe.log_in("manager@cafe.test"))["access_token"]
    for cents in (500, 100, 0):
        response = await client.patch(
            f"/v1/programs/{cafe.program_id}",
            headers={"Authorization": f"Bearer {token}"},
            json={"reward_value_cents": cents},
        )
        assert response.status_code == 403, response.text
        assert response.json()["type"] == "/problems/owner-required"
        assert "Only an owner may change the reward's price" in response.json()["detail"]
    owner_change = await client.patch(
        f"/v1/programs/{cafe.program_id}", headers=cafe.owner, json={"reward_value_cents": 500}
    )
    assert owner_change.status_code == 200
    log = await client.get("/v1/audit-log", headers=cafe.owner, params={"action": "program.update"})
    [entry] = log.json()["entries"]
    assert entry["details"]["after"] == {"reward_value_cents": 500}
    assert entry["details"]["relaxed"] == ["reward_value_cents"]
