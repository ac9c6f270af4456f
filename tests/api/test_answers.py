"""Answers that mean one thing: the scan, the customer's card, the owner's timeline, a refund and the
redemption say the same `balance`, `under_review` and reward status; a retry gets the first answer
byte for byte; every limit a punch breaks is flagged; no flag names a settled punch; a refund
settles the flags it leaves nothing to decide."""

from typing import Any
from uuid import UUID, uuid4

import httpx

from cards.flags import raise_flag
from cards.tables import Flag, FlagPunch
from mobile_contract.problems import Problem
from tests.api import test_redemptions
from tests.api.test_redemptions import PER_REWARD, Till, _problem

# The redemption suite's café, cashier and customer, with sign-ins that last the weeks a card takes.
settings = test_redemptions.settings
till = test_redemptions.till


async def _scan(t: Till, receipt: str | None = None) -> httpx.Response:
    response = await t.client.post(
        "/v1/scans",
        headers=t.cashier,
        json={"stamp": await t.customer.stamp(), "receipt": {"reference": receipt or f"R-{uuid4().hex[:12]}"}},
    )
    assert response.status_code == 201, response.text
    return response


async def _standing_everywhere(t: Till) -> dict[str, Any]:
    """Where the card stands as the customer and the owner are told."""
    card = await t.customer.card()
    timeline = await t.client.get(f"/v1/cards/{t.customer.card_id}/timeline", headers=t.cafe.owner)
    assert timeline.status_code == 200, timeline.text
    overview = timeline.json()["card"]
    assert (overview["balance"], overview["under_review"]) == (card["balance"], card["under_review"])
    assert card["reward_available"] is (card["reward_status"] == "available")
    return card


async def _open_flags(t: Till) -> list[dict[str, Any]]:
    response = await t.client.get("/v1/flags?status=open", headers=t.cafe.owner)
    assert response.status_code == 200, response.text
    flags: list[dict[str, Any]] = response.json()["flags"]
    return flags


async def _decide(t: Till, flag_id: str, decision: str = "approve") -> None:
    response = await t.client.post(f"/v1/flags/{flag_id}/{decision}", headers=t.cafe.owner, json={"reason": "Checked"})
    assert response.status_code == 200, response.text


async def test_a_reward_whose_punch_waits_for_review_is_pending_on_the_scan_the_card_and_the_till(till: Till) -> None:
    t = till
    await t.punch(PER_REWARD - 2)
    await _scan(t)
    last = (await _scan(t)).json()  # again at once: under the cooldown, flagged, not refused
    assert last["flagged"] is True
    assert (last["balance"], last["under_review"]) == (PER_REWARD - 1, 1)
    assert (last["reward_status"], last["reward_available"]) == ("pending_review", False)

    card = await _standing_everywhere(t)
    assert (card["balance"], card["under_review"], card["reward_status"]) == (PER_REWARD - 1, 1, "pending_review")
    assert next(item["under_review"] for item in card["history"] if item["kind"] == "punch") is True

    code = await t.ask()
    assert code.status_code == 201 and code.json()["reward_status"] == "pending_review", code.text
    held = _problem(await t.redeem(code.json()["code"]), Problem.REWARD_HELD)
    assert held["reward_status"] == "pending_review"
    assert "\n" not in held["detail"] and len(held["detail"]) < 120, "one line for the till"
    assert held["reasons"] and all("under review" in reason for reason in held["reasons"]), held["reasons"]

    for flag in await _open_flags(t):  # the cooldown flag, and the held reward's
        await _decide(t, flag["id"])
    card = await _standing_everywhere(t)
    assert (card["balance"], card["under_review"], card["reward_status"]) == (PER_REWARD, 0, "available")
    granted = await t.redeem(await t.code())
    assert granted.status_code == 201, granted.text
    assert (granted.json()["balance"], granted.json()["under_review"]) == (0, 0)
    assert (await _standing_everywhere(t))["reward_status"] == "collecting"


async def test_reward_available_is_never_said_when_the_till_would_hold_it(till: Till) -> None:
    """A frozen card has all its punches clean, yet the till would hold its reward."""
    t = till
    await t.punch(PER_REWARD)
    assert (await _standing_everywhere(t))["reward_status"] == "available"
    frozen = await t.client.post(
        f"/v1/cards/{t.customer.card_id}/freeze", headers=t.cafe.owner, json={"reason": "Lost phone reported"}
    )
    assert frozen.status_code == 200, frozen.text
    card = await _standing_everywhere(t)
    assert (card["balance"], card["reward_status"], card["reward_available"]) == (PER_REWARD, "pending_review", False)


async def test_a_retried_scan_gets_the_first_answer_byte_for_byte_after_its_flag_was_decided(till: Till) -> None:
    t = till
    await _scan(t)
    stamp = await t.customer.stamp()
    scan = {"stamp": stamp, "receipt": {"reference": "R-2"}}
    first = await t.client.post("/v1/scans", headers=t.cashier, json=scan)
    assert first.status_code == 201 and first.json()["flagged"] is True, first.text
    (flag,) = await _open_flags(t)
    await _decide(t, flag["id"])
    again = await t.client.post("/v1/scans", headers=t.cashier, json=scan)
    assert again.status_code == 201
    assert again.content == first.content, "the first answer, not one recomputed after the review"
    assert again.headers["idempotent-replayed"] == "true" and "idempotent-replayed" not in first.headers


async def test_a_punch_over_both_limits_is_flagged_for_each(till: Till) -> None:
    t = till
    program = await t.client.patch(
        f"/v1/programs/{t.cafe.program_id}", headers=t.cafe.owner, json={"daily_cap": 1, "cooldown_s": 600}
    )
    assert program.status_code == 200, program.text
    await _scan(t)
    second = (await _scan(t)).json()
    assert second["flagged"] is True
    rows = await FlagPunch.select(FlagPunch.flag._.rule.as_alias("rule")).where(
        FlagPunch.punch == UUID(second["punch_id"])
    )
    assert sorted(row["rule"] for row in rows) == ["cooldown", "daily_cap"]

    strict = await t.client.patch(
        f"/v1/programs/{t.cafe.program_id}", headers=t.cafe.owner, json={"excess_policy": "refuse"}
    )
    assert strict.status_code == 200, strict.text
    refused = await t.client.post(
        "/v1/scans", headers=t.cashier, json={"stamp": await t.customer.stamp(), "receipt": {"reference": "R-3"}}
    )
    body = _problem(refused, Problem.COOLDOWN)
    assert "between punches" in body["detail"] and "a day" in body["detail"], "both limits named"


async def test_a_refund_settles_the_flags_that_named_only_its_punch(till: Till) -> None:
    t = till
    await _scan(t, "R-1")
    await _scan(t, "R-2")  # under the cooldown: flagged
    (cooldown,) = await _open_flags(t)
    # A flag naming the refunded punch and another punch that stands stays open.
    punches = [UUID(e["id"]) for e in (await _timeline_punches(t))]
    both = await raise_flag(
        business_id=UUID(t.cafe.business_id),
        rule="scanner_burst",
        severity="medium",
        explanation="Two punches in a burst.",
        evidence={},
        now=t.clock(),
        punch_ids=punches,
    )
    voided = await t.client.post(
        "/v1/punches/void", headers=t.cafe.owner, json={"receipt": "R-2", "store_id": t.cafe.store_id}
    )
    assert voided.status_code == 200, voided.text
    assert voided.json()["settled_flag_ids"] == [cooldown["id"]]
    assert (voided.json()["balance"], voided.json()["under_review"]) == (0, 1)
    settled = await t.client.get(f"/v1/flags/{cooldown['id']}", headers=t.cafe.owner)
    assert settled.json()["status"] == "settled", settled.text
    assert [
        f["id"] for f in (await t.client.get("/v1/flags?status=settled", headers=t.cafe.owner)).json()["flags"]
    ] == [cooldown["id"]]
    assert [f["id"] for f in await _open_flags(t)] == [str(both)]
    again = await t.client.post(
        "/v1/punches/void", headers=t.cafe.owner, json={"receipt": "R-1", "store_id": t.cafe.store_id}
    )
    assert again.json()["settled_flag_ids"] == [str(both)]
    assert await _open_flags(t) == []


async def test_rejecting_a_flag_settles_the_other_flags_on_its_punches(till: Till) -> None:
    t = till
    await _scan(t)
    second = (await _scan(t)).json()
    (cooldown,) = await _open_flags(t)
    other = await raise_flag(
        business_id=UUID(t.cafe.business_id),
        rule="scanner_burst",
        severity="medium",
        explanation="A burst.",
        evidence={},
        now=t.clock(),
        punch_ids=[UUID(second["punch_id"])],
    )
    await _decide(t, cooldown["id"], "reject")
    row = await Flag.select(Flag.status).where(Flag.id == other).first()
    assert row is not None and row["status"] == "settled"


async def test_no_new_flag_names_a_refunded_a_redeemed_or_an_approved_punch(till: Till) -> None:
    t = till
    redeemed = await t.punch(PER_REWARD)
    granted = await t.redeem(await t.code())
    assert granted.status_code == 201, granted.text
    refunded = (await _scan(t, "R-refunded")).json()["punch_id"]
    voided = await t.client.post(
        "/v1/punches/void", headers=t.cafe.owner, json={"receipt": "R-refunded", "store_id": t.cafe.store_id}
    )
    assert voided.status_code == 200, voided.text
    await _scan(t)
    approved = (await _scan(t)).json()  # under the cooldown (a refunded punch does not start one)
    (cooldown,) = await _open_flags(t)
    await _decide(t, cooldown["id"])
    t.clock.advance(days=1)
    fresh = (await _scan(t)).json()["punch_id"]

    async def named(rule: str, punch_ids: list[str]) -> list[str] | None:
        flag_id = await raise_flag(
            business_id=UUID(t.cafe.business_id),
            rule=rule,
            severity="medium",
            explanation="A pattern.",
            evidence={},
            now=t.clock(),
            punch_ids=[UUID(p) for p in punch_ids],
        )
        if flag_id is None:
            return None
        return [str(r["punch"]) for r in await FlagPunch.select(FlagPunch.punch).where(FlagPunch.flag == flag_id)]

    flags_before = await Flag.count()
    assert await named("cooldown", [redeemed[0], refunded, approved["punch_id"]]) is None
    assert await Flag.count() == flags_before, "nothing left to review: no flag at all"
    assert await named("cooldown", [redeemed[0], refunded, approved["punch_id"], fresh]) == [fresh]
    # Approved under one rule is not vouched for under another.
    assert await named("scanner_burst", [approved["punch_id"]]) == [approved["punch_id"]]


async def _timeline_punches(t: Till) -> list[dict[str, Any]]:
    timeline = await t.client.get(f"/v1/cards/{t.customer.card_id}/timeline", headers=t.cafe.owner)
    return [e for e in timeline.json()["entries"] if e["kind"] == "punch"]
