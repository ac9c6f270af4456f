"""Free items through the API: the phone asks for a code, the cashier redeems it, the card is audited first.

Threat-model rows: T3 (a cloned phone's counter), T8 (refunds), T10 (insider edits),
T11 (double redemption), T12 (stale or copied codes), and "Before any free item".
"""

import asyncio
import re
import threading
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest

import cards.redemptions
from api.settings import Settings
from cards.audit import EARLIER_HOLD, audit_card
from cards.identity import StaffIdentity
from cards.ledger import Entry
from cards.punches import card_head, insert_entry
from cards.redemptions import _hold
from cards.tables import Business, Card, Device, Flag, FlagPunch, LedgerEntry, Program, RedeemedPunch, Redemption
from crypto.keyring import Keyring, load_or_create_keyring
from mobile_contract.problems import Problem
from mobile_contract.redemptions import REDEMPTION_CODE_PATTERN, redemption_request_message
from tests.support import Cafe, Customer, FakeClock, cashier_at_till, new_customer, set_up_cafe
from tests.test_concurrency import servers  # noqa: F401  (the uvicorn processes fixture)

PER_REWARD = 10


@dataclass
class Till:
    """The café, its cashier at the scanner, and a customer whose card the test fills."""

    client: httpx.AsyncClient
    clock: FakeClock
    cafe: Cafe
    cashier: dict[str, str]
    customer: Customer

    async def punch(self, count: int = 1) -> list[str]:
        """`count` honest visits, one a day: each a fresh stamp scanned with its own receipt."""
        punch_ids = []
        for _ in range(count):
            scan = await self.client.post(
                "/v1/scans",
                headers=self.cashier,
                json={"stamp": await self.customer.stamp(), "receipt": {"reference": f"R-{uuid4().hex[:12]}"}},
            )
            assert scan.status_code == 201 and not scan.json()["flagged"], scan.text
            punch_ids.append(scan.json()["punch_id"])
            self.clock.advance(days=1)
        return punch_ids

    async def ask(self, counter: int | None = None, customer: Customer | None = None) -> httpx.Response:
        """The phone asks for a redemption code, signing the next counter (or the one given)."""
        customer = customer or self.customer
        if counter is None:
            customer.phone.counter += 1
            counter = customer.phone.counter
        signature = customer.phone.sign(redemption_request_message(UUID(customer.card_id), counter))
        return await self.client.post(
            f"/v1/me/cards/{customer.card_id}/redemptions",
            headers=customer.headers,
            json={"counter": counter, "signature": signature},
        )

    async def code(self) -> str:
        response = await self.ask()
        assert response.status_code == 201, response.text
        return str(response.json()["code"])

    async def redeem(self, code: str, cashier: dict[str, str] | None = None) -> httpx.Response:
        return await self.client.post("/v1/redemptions", headers=cashier or self.cashier, json={"code": code})


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Sign-ins that last the weeks a card takes to fill: the tests move the clock a day per visit."""
    month = timedelta(days=30)
    return replace(settings, access_ttl=month, refresh_ttl=month, session_ttl=month)


@pytest.fixture
async def till(client: httpx.AsyncClient, clock: FakeClock) -> Till:
    cafe = await set_up_cafe(client)
    # The risk rules are not this suite's subject: the store opens every day (no hours listed),
    # and one cashier serving one regular is not judged as farming until far more punches.
    store = await client.patch(f"/v1/stores/{cafe.store_id}", headers=cafe.owner, json={"opening_hours": []})
    assert store.status_code == 200, store.text
    program = await client.patch(
        f"/v1/programs/{cafe.program_id}", headers=cafe.owner, json={"risk": {"concentration_min_punches": 10_000}}
    )
    assert program.status_code == 200, program.text
    cashier = await cashier_at_till(cafe)
    return Till(client, clock, cafe, cashier, await new_customer(client, cafe))


def _problem(response: httpx.Response, kind: Problem) -> dict[str, Any]:
    assert response.status_code == kind.status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["type"] == kind.type, body
    return body


async def _approve_every_open_flag() -> None:
    """The owner's review, done directly: the review API is not this suite's subject."""
    await Flag.update({Flag.status: "approved"}).where(Flag.status == "open")


# --- the honest path ----------------------------------------------------------------------------


async def test_a_full_card_gets_exactly_one_free_item(till: Till) -> None:
    punches = await till.punch(PER_REWARD + 2)
    asked = await till.ask()
    assert asked.status_code == 201, asked.text
    code = asked.json()
    assert re.fullmatch(REDEMPTION_CODE_PATTERN, code["code"])
    assert (code["card_id"], code["reward_name"]) == (till.customer.card_id, "Free coffee")
    assert datetime.fromisoformat(code["expires_at"]) == till.clock.now + timedelta(seconds=60)

    redeemed = await till.redeem(code["code"])
    assert redeemed.status_code == 201, redeemed.text
    result = redeemed.json()
    assert result["granted"] is True and result["redemption_id"] == code["redemption_id"]
    assert result["message"].startswith("Free coffee for card ") and result["message"].endswith(": granted")
    assert result["punches_used"] == punches[:PER_REWARD], "the oldest punches are used up first"
    assert result["balance"] == 2

    card = await till.customer.card()
    assert (card["balance"], card["reward_available"]) == (2, False)
    assert (card["history"][0]["kind"], card["history"][0]["store_name"]) == ("redeem", "Market St")
    assert [item["kind"] for item in card["history"]].count("punch") == PER_REWARD + 2
    assert await RedeemedPunch.count() == PER_REWARD
    assert await Flag.count() == 0


async def test_the_next_reward_needs_ten_new_punches(till: Till) -> None:
    await till.punch(PER_REWARD)
    assert (await till.redeem(await till.code())).status_code == 201
    _problem(await till.ask(), Problem.NOT_ENOUGH_PUNCHES)
    await till.punch(PER_REWARD)
    again = await till.redeem(await till.code())
    assert again.status_code == 201 and again.json()["balance"] == 0, again.text
    assert await LedgerEntry.count().where(LedgerEntry.kind == "redeem") == 2


async def test_a_card_without_enough_punches_gets_no_code(till: Till) -> None:
    await till.punch(PER_REWARD - 1)
    body = _problem(await till.ask(), Problem.NOT_ENOUGH_PUNCHES)
    assert "9 of the 10 punches" in body["detail"]
    assert await Redemption.count() == 0
    # The refusal did not use the counter up: sending the same request again is not a clone.
    _problem(await till.ask(counter=till.customer.phone.counter), Problem.NOT_ENOUGH_PUNCHES)
    assert (await till.customer.card())["status"] == "active"


# --- T12: single use, short-lived, bound to card and phone ----------------------------------------


async def test_a_used_code_is_refused_to_anyone_else(client: httpx.AsyncClient, till: Till) -> None:
    await till.punch(PER_REWARD)
    code = await till.code()
    assert (await till.redeem(code)).status_code == 201
    other_cashier = await cashier_at_till(till.cafe, "second@cafe.test")
    _problem(await till.redeem(code, other_cashier), Problem.REDEMPTION_CODE_USED)
    assert await RedeemedPunch.count() == PER_REWARD


async def test_retrying_a_code_at_the_same_till_returns_the_first_answer(till: Till) -> None:
    await till.punch(PER_REWARD + 1)
    code = await till.code()
    first = await till.redeem(code)
    till.clock.advance(minutes=5)  # even once the code has expired: it was used in time
    again = await till.redeem(code)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    # Said in a header, as for scans: a till tells its own resend from a second scan of a used code.
    assert again.headers["idempotent-replayed"] == "true" and "idempotent-replayed" not in first.headers
    assert await LedgerEntry.count().where(LedgerEntry.kind == "redeem") == 1


async def test_an_expired_code_is_refused(till: Till) -> None:
    await till.punch(PER_REWARD)
    code = await till.code()
    till.clock.advance(seconds=61)
    _problem(await till.redeem(code), Problem.REDEMPTION_CODE_EXPIRED)
    assert (await till.customer.card())["balance"] == PER_REWARD
    assert (await till.redeem(await till.code())).status_code == 201


async def test_resending_the_same_request_gives_a_fresh_code_and_the_old_one_stops_working(till: Till) -> None:
    await till.punch(PER_REWARD)
    first = await till.ask()
    again = await till.ask(counter=till.customer.phone.counter)
    assert again.status_code == 201, again.text
    assert again.json()["redemption_id"] == first.json()["redemption_id"]
    assert again.json()["code"] != first.json()["code"]
    _problem(await till.redeem(first.json()["code"]), Problem.REDEMPTION_CODE_INVALID)
    assert (await till.redeem(again.json()["code"])).status_code == 201
    assert (await till.customer.card())["status"] == "active"
    assert await Redemption.count() == 1


async def test_a_request_resent_after_its_codes_lifetime_is_a_replay_not_a_retry(till: Till) -> None:
    """A retry follows its request within seconds; the same signed request a minute later is someone
    who copied it (T3, T12): the counter did not move, so the card is frozen."""
    await till.punch(PER_REWARD)
    first = await till.ask()
    assert first.status_code == 201
    till.clock.advance(seconds=61)
    replayed = await till.ask(counter=till.customer.phone.counter)
    _problem(replayed, Problem.COUNTER_REGRESSED)
    assert (await till.customer.card())["status"] == "frozen"


async def test_a_grant_takes_a_pending_redemption_once_even_with_a_second_rewards_worth(
    till: Till, keyring: Keyring
) -> None:
    """Two tills granting one code at once, on a card holding two rewards' worth of punches: the
    second grant, with a fresh audit of the remaining punches, must find the code already taken."""
    await till.punch(2 * PER_REWARD)
    code = await till.code()
    row = await Redemption.select().first()
    assert row is not None
    identity = StaffIdentity(
        staff_id=UUID(str((await LedgerEntry.select(LedgerEntry.staff).first() or {})["staff"])),
        business_id=UUID(till.cafe.business_id),
        role="cashier",
        store_id=UUID(till.cafe.store_id),
        scanner_id=UUID(till.cafe.scanner_id),
    )
    first_audit = await audit_card(row["card"], keyring, till.clock.now, device_id=row["device"])
    await cards.redemptions._grant(row["id"], row["device"], first_audit, identity, till.clock.now, keyring)
    second_audit = await audit_card(row["card"], keyring, till.clock.now, device_id=row["device"])
    assert second_audit.passed, "ten more punches: the card would pass for a second free item"
    with pytest.raises(cards.redemptions._Taken):
        await cards.redemptions._grant(row["id"], row["device"], second_audit, identity, till.clock.now, keyring)
    assert await LedgerEntry.count().where(LedgerEntry.kind == "redeem") == 1
    assert code


async def test_a_made_up_code_or_another_business_code_is_invalid(till: Till) -> None:
    await till.punch(PER_REWARD)
    _problem(await till.redeem("R1" + "A" * 26), Problem.REDEMPTION_CODE_INVALID)
    code = await till.code()
    # The card's program now belongs to another business: its code reads exactly like a made-up one (T13).
    other = Business(name="Elsewhere")
    await other.save()
    await Program.update({Program.business: other.id}).where(Program.id == till.cafe.program_id)
    unknown = _problem(await till.redeem(code), Problem.REDEMPTION_CODE_INVALID)
    made_up = _problem(await till.redeem("R1" + "B" * 26), Problem.REDEMPTION_CODE_INVALID)
    assert unknown == made_up
    assert await RedeemedPunch.count() == 0


async def test_a_code_from_a_phone_no_longer_bound_is_held(till: Till) -> None:
    await till.punch(PER_REWARD)
    code = await till.code()
    await Device.update({Device.active: False}).where(Device.customer == till.customer.session["customer_id"])
    held = _problem(await till.redeem(code), Problem.REWARD_HELD)
    assert held["reasons"] == ["The phone that asked for this free item is no longer bound to the card."]
    # One line for the till; the reasons are for the owner.
    assert held["detail"].endswith("is pending the owner's review (1 reason): no free item now.")
    assert held["reward_status"] == "pending_review"
    assert await RedeemedPunch.count() == 0
    flag = await Flag.select(Flag.rule, Flag.severity).first()
    assert flag == {"rule": "reward_held", "severity": "medium"}
    # The same till retrying gets the same answer; anyone else is told the code was used.
    assert _problem(await till.redeem(code), Problem.REWARD_HELD) == held
    other_cashier = await cashier_at_till(till.cafe, "second@cafe.test")
    _problem(await till.redeem(code, other_cashier), Problem.REDEMPTION_CODE_USED)
    assert await Flag.count() == 1


async def test_a_frozen_card_is_refused_at_the_till(till: Till) -> None:
    await till.punch(PER_REWARD)
    code = await till.code()
    await Card.update({Card.status: "frozen"}).where(Card.id == till.customer.card_id)
    _problem(await till.redeem(code), Problem.CARD_FROZEN)
    _problem(await till.ask(), Problem.CARD_FROZEN)
    assert await RedeemedPunch.count() == 0


# --- T3: the counter is the stamps' counter -------------------------------------------------------


async def test_a_repeated_counter_on_a_redemption_request_freezes_the_card(till: Till) -> None:
    await till.punch(PER_REWARD)
    cloned = await till.ask(counter=3)  # stamps already used counters 1 to 10
    _problem(cloned, Problem.COUNTER_REGRESSED)
    card = await till.customer.card()
    assert card["status"] == "frozen"
    flag = await Flag.select(Flag.rule, Flag.severity, Flag.explanation).first()
    assert flag is not None and (flag["rule"], flag["severity"]) == ("counter_regression", "high")
    assert "a free item with counter 3" in flag["explanation"]
    _problem(await till.ask(), Problem.CARD_FROZEN)


async def test_a_stamp_request_cannot_reuse_a_redemption_counter(till: Till) -> None:
    await till.punch(PER_REWARD)
    await till.code()
    phone = till.customer.phone
    reused = await till.client.post(
        f"/v1/me/cards/{till.customer.card_id}/stamps",
        headers=till.customer.headers,
        json=phone.stamp_request(till.customer.card_id, counter=phone.counter),
    )
    _problem(reused, Problem.COUNTER_REGRESSED)
    assert (await till.customer.card())["status"] == "frozen"


# --- T11: exactly one free item -------------------------------------------------------------------


async def test_two_cashiers_redeeming_one_code_at_once_give_one_free_item(till: Till) -> None:
    await till.punch(PER_REWARD)
    second = await cashier_at_till(till.cafe, "second@cafe.test")
    code = await till.code()
    responses = await asyncio.gather(till.redeem(code), till.redeem(code, second))
    assert sorted(r.status_code for r in responses) == [201, 409], [r.text for r in responses]
    refused = next(r for r in responses if r.status_code == 409)
    assert refused.json()["type"] == Problem.REDEMPTION_CODE_USED.type
    assert await RedeemedPunch.count() == PER_REWARD
    assert (await till.customer.card())["balance"] == 0


async def test_a_new_code_supersedes_the_cards_pending_one(till: Till) -> None:
    """A card has one code at a time (T21): asking again makes the earlier code invalid, and the
    two racing at two tills still give one free item."""
    await till.punch(PER_REWARD)
    second = await cashier_at_till(till.cafe, "second@cafe.test")
    codes = [await till.code(), await till.code()]
    assert await Redemption.count().where(Redemption.status == "pending") == 1
    responses = await asyncio.gather(till.redeem(codes[0]), till.redeem(codes[1], second))
    assert [r.status_code for r in responses] == [400, 201], [r.text for r in responses]
    assert responses[0].json()["type"] == Problem.REDEMPTION_CODE_INVALID.type
    assert await LedgerEntry.count().where(LedgerEntry.kind == "redeem") == 1
    assert await RedeemedPunch.count() == PER_REWARD


async def test_requesting_codes_again_and_again_keeps_one_row(till: Till) -> None:
    """2,000 code requests used to leave 2,000 pending rows; now each supersedes the last."""
    await till.punch(PER_REWARD)
    for _ in range(25):
        await till.code()
    assert await Redemption.count() == 1


# --- T8: refunds ----------------------------------------------------------------------------------


async def test_a_refunded_punch_does_not_count(till: Till) -> None:
    await till.punch(PER_REWARD)
    refunded = await LedgerEntry.select(LedgerEntry.id, LedgerEntry.receipt).order_by(LedgerEntry.seq).first()
    assert refunded is not None
    void = await till.client.post(
        "/v1/punches/void",
        headers=till.cafe.owner,
        json={"receipt": refunded["receipt"], "store_id": till.cafe.store_id},
    )
    assert void.status_code == 200, void.text
    _problem(await till.ask(), Problem.NOT_ENOUGH_PUNCHES)
    await till.punch()
    granted = await till.redeem(await till.code())
    assert granted.status_code == 201, granted.text
    assert str(refunded["id"]) not in granted.json()["punches_used"]
    assert len(granted.json()["punches_used"]) == PER_REWARD


async def test_a_refund_after_the_free_item_is_flagged_and_holds_the_next_reward(till: Till) -> None:
    punches = await till.punch(PER_REWARD)
    granted = await till.redeem(await till.code())
    assert granted.status_code == 201, granted.text
    refunded = await LedgerEntry.select(LedgerEntry.receipt).where(LedgerEntry.id == punches[0]).first()
    assert refunded is not None
    for _ in range(2):  # the same refund twice is one refund, and one flag
        void = await till.client.post(
            "/v1/punches/void",
            headers=till.cafe.owner,
            json={"receipt": refunded["receipt"], "store_id": till.cafe.store_id},
        )
        assert void.status_code == 200, void.text
    flags = await Flag.select(Flag.rule, Flag.explanation, Flag.card)
    assert [f["rule"] for f in flags] == ["refund_after_reward"]
    assert refunded["receipt"] in flags[0]["explanation"]
    assert "already earned a free item" in flags[0]["explanation"]

    await till.punch(PER_REWARD)
    held = _problem(await till.redeem(await till.code()), Problem.REWARD_HELD)
    assert any("already earned a free item" in reason for reason in held["reasons"])


async def test_a_refund_of_a_punch_no_free_item_used_raises_no_flag(till: Till) -> None:
    punches = await till.punch(2)
    refunded = await LedgerEntry.select(LedgerEntry.receipt).where(LedgerEntry.id == punches[1]).first()
    assert refunded is not None
    void = await till.client.post(
        "/v1/punches/void",
        headers=till.cafe.owner,
        json={"receipt": refunded["receipt"], "store_id": till.cafe.store_id},
    )
    assert void.status_code == 200, void.text
    assert await Flag.count() == 0


# --- punches under review -------------------------------------------------------------------------


async def test_a_punch_under_review_holds_the_reward_until_the_owner_approves(till: Till) -> None:
    # Four visits in one day: the program allows three, so the fourth punch is flagged (T5).
    for visit in range(4):
        scan = await till.client.post(
            "/v1/scans",
            headers=till.cashier,
            json={"stamp": await till.customer.stamp(), "receipt": {"reference": f"SAME-DAY-{visit}"}},
        )
        assert scan.status_code == 201, scan.text
        till.clock.advance(minutes=2)
    till.clock.advance(days=1)
    await till.punch(PER_REWARD - 4)

    held = _problem(await till.redeem(await till.code()), Problem.REWARD_HELD)
    assert len(held["reasons"]) == 1
    assert held["reasons"][0].startswith("1 punch under review: ")
    assert "got punch number 4 today" in held["reasons"][0]
    assert UUID(held["redemption_id"])
    assert await RedeemedPunch.count() == 0
    card = await till.customer.card()
    assert (card["balance"], card["under_review"], card["reward_status"]) == (PER_REWARD - 1, 1, "pending_review")
    assert card["reward_available"] is False
    rules = {row["rule"] for row in await Flag.select(Flag.rule).where(Flag.status == "open")}
    assert rules == {"daily_cap", "reward_held"}

    # While the reward waits for the owner, trying again is held again, without a second flag.
    again = _problem(await till.redeem(await till.code()), Problem.REWARD_HELD)
    # The earlier hold is named, not quoted: its reasons do not nest inside the new ones.
    assert again["reasons"] == [EARLIER_HOLD, held["reasons"][0]]
    assert await Flag.count().where(Flag.rule == "reward_held") == 1
    third = _problem(await till.redeem(await till.code()), Problem.REWARD_HELD)
    assert third["reasons"] == again["reasons"]

    await _approve_every_open_flag()
    granted = await till.redeem(await till.code())
    assert granted.status_code == 201, granted.text
    assert granted.json()["balance"] == 0


# --- T10: insider edits ---------------------------------------------------------------------------


async def test_a_ledger_row_added_by_an_insider_holds_the_reward(till: Till, tmp_path: Path) -> None:
    await till.punch(PER_REWARD - 1)
    # An insider copies the last punch into a new row: well-formed, but signed by a key not the server's.
    model = await LedgerEntry.select().order_by(LedgerEntry.seq, ascending=False).first()
    assert model is not None
    seq, prev_hash = await card_head(UUID(till.customer.card_id))
    forged = Entry(
        card=UUID(till.customer.card_id),
        seq=seq + 1,
        kind="punch",
        recorded_at=till.clock.now,
        prev_hash=prev_hash,
        stamp_id=uuid4().hex[:16],
        device=model["device"],
        store=model["store"],
        scanner=model["scanner"],
        staff=model["staff"],
        receipt="INSIDE-JOB",
        stamp_issued_at=till.clock.now,
    )
    await insert_entry(forged, uuid4(), _rogue_keyring(tmp_path), business_id=model["business"])

    held = _problem(await till.redeem(await till.code()), Problem.REWARD_HELD)
    assert held["reasons"] == ["The card's ledger failed its check: entry #10 carries no valid server signature."]
    assert await RedeemedPunch.count() == 0
    flags = {row["rule"]: row for row in await Flag.select(Flag.rule, Flag.severity, Flag.explanation)}
    assert set(flags) == {"ledger_tampered", "reward_held"}
    assert flags["ledger_tampered"]["severity"] == "high"
    assert "entry #10 carries no valid server signature" in flags["ledger_tampered"]["explanation"]


async def test_an_altered_ledger_row_holds_the_reward(till: Till) -> None:
    punches = await till.punch(PER_REWARD)
    await LedgerEntry.update({LedgerEntry.receipt: "EDITED"}).where(LedgerEntry.id == punches[2])
    held = _problem(await till.redeem(await till.code()), Problem.REWARD_HELD)
    assert held["reasons"] == [
        "The card's ledger failed its check: entry #3 was altered after it was written (hash mismatch)."
    ]
    assert await Flag.count().where(Flag.rule == "ledger_tampered") == 1


async def test_used_up_punches_made_to_count_again_hold_the_reward(till: Till) -> None:
    await till.punch(PER_REWARD)
    assert (await till.redeem(await till.code())).status_code == 201
    # The insider deletes the record of which punches the free item used; the signed ledger still says so.
    await RedeemedPunch.delete(force=True)
    held = _problem(await till.redeem(await till.code()), Problem.REWARD_HELD)
    assert len(held["reasons"]) == PER_REWARD
    assert all("no longer records it as used" in reason for reason in held["reasons"])
    assert await LedgerEntry.count().where(LedgerEntry.kind == "redeem") == 1


async def test_a_free_item_deleted_from_the_ledger_holds_the_next_reward(till: Till) -> None:
    await till.punch(PER_REWARD)
    code = await till.code()
    granted_on = till.clock.now
    first = await till.redeem(code)
    assert first.status_code == 201, first.text
    # The insider deletes the redeem entry, the card's last, so the chain still links up ...
    await LedgerEntry.delete().where(LedgerEntry.kind == "redeem")
    # ... the till retrying the code is still told it was granted, not a server error ...
    again = await till.redeem(code)
    assert again.status_code == 201, again.text
    assert (again.json()["granted"], again.json()["punches_used"]) == (True, first.json()["punches_used"])
    # ... and once the record of the punches used goes too, they would count again: the audit says why not.
    await RedeemedPunch.delete(force=True)
    held = _problem(await till.redeem(await till.code()), Problem.REWARD_HELD)
    assert held["reasons"] == [
        f"The card's ledger failed its check: the free item granted on {granted_on:%Y-%m-%d} "
        "is missing from the card's ledger."
    ]
    assert await Flag.count().where(Flag.rule == "ledger_tampered") == 1
    assert await RedeemedPunch.count() == 0


@pytest.mark.parametrize("change", ["card_flag", "punch_flag", "frozen"])
async def test_a_card_that_changes_between_its_audit_and_the_grant_is_audited_again(
    till: Till, monkeypatch: pytest.MonkeyPatch, change: str
) -> None:
    """A flag raised, or a freeze, just after the till's audit: the grant sees it and audits again."""
    await till.punch(PER_REWARD)
    code = await till.code()
    real_audit = audit_card
    audits = 0

    async def audit_then_change(*args: Any, **kwargs: Any) -> Any:
        nonlocal audits
        audit = await real_audit(*args, **kwargs)
        audits += 1
        if audits == 1:
            assert audit.passed
            if change == "frozen":
                await Card.update({Card.status: "frozen"}).where(Card.id == audit.card_id)
            else:
                flag = Flag(
                    business=audit.business_id,
                    card=audit.card_id,
                    rule="staff_card",
                    severity="low",
                    explanation="Looked wrong.",
                    evidence={},
                    created_at=till.clock.now,
                )
                await flag.save()
                if change == "punch_flag":
                    await FlagPunch.insert(FlagPunch(flag=flag.id, punch=audit.punches[0]))
        return audit

    monkeypatch.setattr(cards.redemptions, "audit_card", audit_then_change)
    held = _problem(await till.redeem(code), Problem.REWARD_HELD)
    assert audits == 2
    expected = {
        "card_flag": "The card is under review: Looked wrong.",
        "punch_flag": "1 punch under review: Looked wrong.",
        "frozen": "is frozen until the owner reviews it.",
    }[change]
    assert any(expected in reason for reason in held["reasons"]), held["reasons"]
    assert await RedeemedPunch.count() == 0
    assert await LedgerEntry.count().where(LedgerEntry.kind == "redeem") == 0


async def test_a_hold_that_loses_to_the_same_tills_grant_answers_the_grant(till: Till, keyring: Keyring) -> None:
    """This request's audit found a reason to hold, but the same till's retry granted the code first:
    the till is answered with that grant, not refused with this request's reasons."""
    await till.punch(PER_REWARD)
    granted = await till.redeem(await till.code())
    assert granted.status_code == 201, granted.text
    row = await Redemption.select().first()
    assert row is not None
    identity = StaffIdentity(
        staff_id=row["staff"],
        business_id=UUID(till.cafe.business_id),
        role="cashier",
        store_id=row["store"],
        scanner_id=row["scanner"],
    )
    audit = replace(await audit_card(row["card"], keyring, till.clock.now), reasons=["Something looked wrong."])
    result = await _hold(row["id"], audit, identity, till.clock.now, keyring)
    assert result.granted is True
    assert [str(punch) for punch in result.punches_used] == granted.json()["punches_used"]
    assert await Flag.count() == 0


def _rogue_keyring(tmp_path: Path) -> Keyring:
    return load_or_create_keyring(tmp_path / "rogue-keyring.json")


# --- who may redeem, and bad input ----------------------------------------------------------------


async def test_only_a_cashier_at_a_scanner_redeems(till: Till) -> None:
    await till.punch(PER_REWARD)
    code = await till.code()
    _problem(await till.redeem(code, till.cafe.owner), Problem.SCANNER_REQUIRED)
    by_customer = await till.redeem(code, till.customer.headers)
    assert by_customer.status_code == 403
    assert (await till.client.post("/v1/redemptions", json={"code": code})).status_code == 401
    assert (await till.redeem(code)).status_code == 201


async def test_bad_redemption_input_is_a_problem(till: Till) -> None:
    client, url = till.client, "/v1/redemptions"
    _problem(await till.redeem("not a code"), Problem.REDEMPTION_CODE_INVALID)
    _problem(await till.redeem("R1" + "0" * 26), Problem.REDEMPTION_CODE_INVALID)  # 0 is not base32
    _problem(await client.post(url, headers=till.cashier, json={"code": 12345}), Problem.INVALID_REQUEST)
    _problem(await client.post(url, headers=till.cashier, json={"code": "R" * 65}), Problem.INVALID_REQUEST)
    _problem(await client.post(url, headers=till.cashier, json={"code": "x", "extra": 1}), Problem.INVALID_REQUEST)
    _problem(await client.post(url, headers=till.cashier), Problem.INVALID_REQUEST)
    _problem(
        await client.post(url, headers={**till.cashier, "content-type": "application/json"}, content=b"{"),
        Problem.MALFORMED_BODY,
    )


async def test_bad_code_requests_are_problems(till: Till) -> None:
    await till.punch(PER_REWARD)
    customer = till.customer
    url = f"/v1/me/cards/{customer.card_id}/redemptions"
    post = till.client.post
    # Signed for another counter than the one sent: not the phone's signature over this request.
    signature = customer.phone.sign(redemption_request_message(UUID(customer.card_id), 99))
    _problem(
        await post(url, headers=customer.headers, json={"counter": 98, "signature": signature}), Problem.INVALID_PROOF
    )
    _problem(await post(url, headers=customer.headers, json={"counter": 0, "signature": "AA"}), Problem.INVALID_REQUEST)
    _problem(await post(url, headers=customer.headers, json={"counter": "1"}), Problem.INVALID_REQUEST)
    _problem(await post(url, headers=customer.headers), Problem.INVALID_REQUEST)
    # Someone else's card looks like no card at all.
    other = await new_customer(till.client, till.cafe)
    signed = other.phone.sign(redemption_request_message(UUID(customer.card_id), 1))
    _problem(await post(url, headers=other.headers, json={"counter": 1, "signature": signed}), Problem.NOT_FOUND)
    assert await Redemption.count() == 0
    assert (await till.customer.card())["status"] == "active"


# --- T11 across server processes ------------------------------------------------------------------


def _race(bases: list[str], requests: list[tuple[dict[str, str], str]]) -> list[httpx.Response]:
    """POST each (cashier, code) to /v1/redemptions, spread over the servers, all released at once."""
    barrier = threading.Barrier(len(requests))
    responses: list[httpx.Response | None] = [None] * len(requests)

    def send(i: int) -> None:
        headers, code = requests[i]
        with httpx.Client(base_url=bases[i % len(bases)], timeout=60) as http:
            barrier.wait()
            responses[i] = http.post("/v1/redemptions", headers=headers, json={"code": code})

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(requests))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [r for r in responses if r is not None]


async def test_two_codes_redeemed_by_three_cashiers_through_three_servers_give_one_free_item(
    till: Till,
    servers: list[str],  # noqa: F811  (the fixture imported above)
) -> None:
    # The servers run on the real clock: punch without moving the test's clock forward.
    rules = {"cooldown_s": 0, "daily_cap": 100, "risk": {"concentration_min_punches": 10_000, "burst_punches": 1000}}
    program = await till.client.patch(f"/v1/programs/{till.cafe.program_id}", headers=till.cafe.owner, json=rules)
    assert program.status_code == 200, program.text
    for visit in range(PER_REWARD):
        scan = await till.client.post(
            "/v1/scans",
            headers=till.cashier,
            json={"stamp": await till.customer.stamp(), "receipt": {"reference": f"RACE-{visit}"}},
        )
        assert scan.status_code == 201 and not scan.json()["flagged"], scan.text
    till.clock.now = datetime.now(UTC)
    cashiers = [till.cashier] + [await cashier_at_till(till.cafe, f"cashier{i}@cafe.test") for i in (2, 3)]
    codes = [await till.code(), await till.code()]

    responses = _race(servers, [(cashier, code) for cashier in cashiers for code in codes])
    statuses = sorted(r.status_code for r in responses)
    # The first code was superseded by the second (400 invalid at every till); the second gives one item.
    assert statuses == [201] + [400] * 3 + [409] * 2, [r.text for r in responses]
    refusals = {r.json()["type"] for r in responses if r.status_code == 409}
    assert refusals <= {Problem.REDEMPTION_CODE_USED.type, Problem.NOT_ENOUGH_PUNCHES.type}, refusals
    assert await LedgerEntry.count().where(LedgerEntry.kind == "redeem") == 1
    assert await RedeemedPunch.count() == PER_REWARD
    assert (await till.customer.card())["balance"] == 0


async def test_flags_that_say_the_same_thing_are_one_reason_with_their_punches_counted(till: Till) -> None:
    """Three flags with one explanation (a rule crossed the same way on three punches) hold the free
    item with one line for the till and the owner, not the same sentence three times."""
    await till.punch(PER_REWARD + 3)
    card = await Card.select(Card.id, Card.program._.business.as_alias("business")).first()
    assert card is not None
    punches = await LedgerEntry.select(LedgerEntry.id).where(LedgerEntry.kind == "punch").order_by(LedgerEntry.seq)
    for row in punches[:3]:
        flag = Flag(
            business=card["business"],
            card=card["id"],
            rule="cooldown",
            severity="low",
            explanation="Punched again within a minute.",
            evidence={},
            created_at=till.clock.now,
        )
        await flag.save()
        await FlagPunch.insert(FlagPunch(flag=flag.id, punch=row["id"]))
    # Only PER_REWARD punches are clean of the 3 flagged: a free item's worth is still there.
    granted = await till.redeem(await till.code())
    assert granted.status_code == 201, granted.text
    await till.punch(PER_REWARD - 1)
    held = _problem(await till.redeem(await till.code()), Problem.REWARD_HELD)
    assert held["reasons"] == ["3 punches under review: Punched again within a minute."]


async def test_rejecting_a_held_free_item_refuses_it_and_approving_lets_it_through(till: Till) -> None:
    """The owner's decision on a held free item is the free item's: rejecting it voids the punches
    it would use (one reward's worth, oldest first), so the next try is not granted; approving it
    lets the next try through."""
    owner = till.cafe.owner

    async def hold() -> str:
        """A suspicion about the card as a whole holds the free item; the owner then clears it."""
        card = await Card.select(Card.id, Card.program._.business.as_alias("business")).first()
        assert card is not None
        await Flag(
            business=card["business"], card=card["id"], rule="staff_card", severity="low",
            explanation="Looked wrong.", evidence={}, created_at=till.clock.now,
        ).save()  # fmt: skip
        _problem(await till.redeem(await till.code()), Problem.REWARD_HELD)
        await Flag.update({Flag.status: "approved"}).where(Flag.rule == "staff_card")
        [held] = await Flag.select(Flag.id).where((Flag.rule == "reward_held") & (Flag.status == "open"))
        return str(held["id"])

    punches = await till.punch(PER_REWARD + 2)
    held = await hold()
    rejected = await till.client.post(f"/v1/flags/{held}/reject", headers=owner, json={"reason": "A copied card"})
    assert rejected.status_code == 200, rejected.text
    assert [v["punch_id"] for v in rejected.json()["voided"]] == punches[:PER_REWARD]
    assert rejected.json()["flag"]["punch_ids"] == punches[:PER_REWARD], "the flag names what it refused"
    card = await till.customer.card()
    assert (card["balance"], card["reward_status"]) == (2, "collecting")
    _problem(await till.ask(), Problem.NOT_ENOUGH_PUNCHES)

    # Full again, held again, and approved this time: the next try gives the free item.
    more = await till.punch(PER_REWARD - 2)
    again = await hold()
    approved = await till.client.post(f"/v1/flags/{again}/approve", headers=owner, json={"reason": "Checked"})
    assert approved.status_code == 200 and approved.json()["voided"] == []
    granted = await till.redeem(await till.code())
    assert granted.status_code == 201, granted.text
    assert granted.json()["punches_used"] == punches[PER_REWARD:] + more
