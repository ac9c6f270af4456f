"""The punch loop through the API: stamps, scans and refunds, against threat-model rows
T1 (forged), T2 (replayed), T3 (cloned), T5 (bursts), T6 (own card), T7 (no customer), T8 (refund)."""

import base64
from uuid import UUID

import httpx
import pytest

from cards.flags import card_code
from cards.tables import Card, Flag, LedgerEntry
from mobile_contract.problems import Problem
from mobile_contract.stamps import TEXT_LENGTH, decode_stamp
from tests.support import Cafe, FakeClock, cashier_at_till, new_customer, set_up_cafe

Till = tuple[Cafe, dict[str, str]]


@pytest.fixture
async def till(client: httpx.AsyncClient) -> Till:
    cafe = await set_up_cafe(client)
    return cafe, await cashier_at_till(cafe)


async def test_a_scanned_stamp_adds_one_punch(client: httpx.AsyncClient, till: Till) -> None:
    cafe, cashier = till
    customer = await new_customer(client, cafe)
    stamp = await customer.stamp()
    assert len(stamp) == TEXT_LENGTH
    response = await client.post(
        "/v1/scans",
        headers=cashier,
        json={"stamp": stamp, "receipt": {"reference": "R-1", "amount_cents": 450, "items": 1}},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["balance"], body["punches_per_reward"], body["reward_available"]) == (1, 10, False)
    card = await customer.card()
    assert card["balance"] == 1
    assert [(h["kind"], h["store_name"]) for h in card["history"]] == [("punch", "Market St")]


async def test_retrying_a_scan_returns_the_first_answer(client: httpx.AsyncClient, till: Till) -> None:
    cafe, cashier = till
    customer = await new_customer(client, cafe)
    scan = {"stamp": await customer.stamp(), "receipt": {"reference": "R-1"}}
    first = await client.post("/v1/scans", headers=cashier, json=scan)
    again = await client.post("/v1/scans", headers=cashier, json=scan)
    assert again.status_code == 201
    assert again.content == first.content, "the very same answer"
    assert again.headers["idempotent-replayed"] == "true" and "idempotent-replayed" not in first.headers
    assert again.json()["balance"] == 1
    assert await LedgerEntry.count() == 1


async def test_a_retry_after_the_stamp_expired_still_gets_the_first_answer(
    client: httpx.AsyncClient, clock: FakeClock, till: Till
) -> None:
    cafe, cashier = till
    customer = await new_customer(client, cafe)
    scan = {"stamp": await customer.stamp(), "receipt": {"reference": "R-1"}}
    clock.advance(seconds=33)  # a late scan, inside the leeway; its answer is lost on the way back
    first = await client.post("/v1/scans", headers=cashier, json=scan)
    assert first.status_code == 201, first.text
    clock.advance(seconds=20)  # the till re-sends once the stamp has expired
    again = await client.post("/v1/scans", headers=cashier, json=scan)
    assert again.status_code == 201, again.text
    assert again.content == first.content and again.headers["idempotent-replayed"] == "true"
    other = await client.post("/v1/scans", headers=cashier, json={**scan, "receipt": {"reference": "R-2"}})
    assert other.status_code == 409 and other.json()["type"] == Problem.STAMP_ALREADY_USED.type
    assert await LedgerEntry.count() == 1


async def test_a_replayed_stamp_punches_nothing(client: httpx.AsyncClient, till: Till) -> None:
    cafe, cashier = till
    customer = await new_customer(client, cafe)
    stamp = await customer.stamp()
    await client.post("/v1/scans", headers=cashier, json={"stamp": stamp, "receipt": {"reference": "R-1"}})
    replay = await client.post("/v1/scans", headers=cashier, json={"stamp": stamp, "receipt": {"reference": "R-2"}})
    assert replay.status_code == 409 and replay.json()["type"] == Problem.STAMP_ALREADY_USED.type
    assert await LedgerEntry.count() == 1


async def test_an_expired_stamp_punches_nothing(client: httpx.AsyncClient, clock: FakeClock, till: Till) -> None:
    cafe, cashier = till
    customer = await new_customer(client, cafe)
    stamp = await customer.stamp()
    clock.advance(seconds=30 + 5)  # lifetime plus the 5 s leeway: still accepted
    edge = await client.post("/v1/scans", headers=cashier, json={"stamp": stamp, "receipt": {"reference": "R-1"}})
    assert edge.status_code == 201
    late_stamp = await customer.stamp()
    clock.advance(seconds=36)
    late = await client.post("/v1/scans", headers=cashier, json={"stamp": late_stamp, "receipt": {"reference": "R-2"}})
    assert late.status_code == 409 and late.json()["type"] == Problem.STAMP_EXPIRED.type


def _tamper(stamp: str, byte: int) -> str:
    raw = bytearray(base64.b32decode(stamp + "==="))
    raw[byte] ^= 0x01
    return base64.b32encode(bytes(raw)).decode().rstrip("=")


@pytest.mark.parametrize(
    ("mutate", "problem"),
    [
        (lambda s: _tamper(s, 10), Problem.STAMP_FORGED),  # another card id
        (lambda s: _tamper(s, 40), Problem.STAMP_FORGED),  # a later issue time
        (lambda s: _tamper(s, 43), Problem.STAMP_FORGED),  # a longer lifetime
        (lambda s: _tamper(s, 100), Problem.STAMP_FORGED),  # the signature
        (lambda s: _tamper(s, 2), Problem.STAMP_FORGED),  # an unknown kid
        (lambda s: s[:-1], Problem.STAMP_MALFORMED),  # truncated
        (lambda s: s + "A", Problem.STAMP_MALFORMED),  # padded
        (lambda s: s + "====", Problem.STAMP_MALFORMED),
        (lambda s: s.lower(), Problem.STAMP_MALFORMED),
        (lambda s: _tamper(s, 0), Problem.STAMP_MALFORMED),  # unknown format version
        (lambda s: "eyJhbGciOiJub25lIn0.eyJjYXJkIjoxfQ.", Problem.STAMP_MALFORMED),  # alg: none JWT
    ],
)
async def test_a_forged_stamp_is_refused_before_any_write(
    client: httpx.AsyncClient, till: Till, mutate: object, problem: Problem
) -> None:
    cafe, cashier = till
    customer = await new_customer(client, cafe)
    stamp = await customer.stamp()
    assert callable(mutate)
    response = await client.post(
        "/v1/scans", headers=cashier, json={"stamp": mutate(stamp), "receipt": {"reference": "R-1"}}
    )
    assert response.status_code == problem.status and response.json()["type"] == problem.type
    assert await LedgerEntry.count() == 0


async def test_a_stamp_of_a_key_from_another_server_is_refused(client: httpx.AsyncClient, till: Till) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from mobile_contract.stamps import encode_stamp

    cafe, cashier = till
    customer = await new_customer(client, cafe)
    genuine, _, _ = decode_stamp(await customer.stamp())
    forged = encode_stamp(genuine, Ed25519PrivateKey.generate())  # right kid, wrong key
    response = await client.post("/v1/scans", headers=cashier, json={"stamp": forged, "receipt": {"reference": "R"}})
    assert response.json()["type"] == Problem.STAMP_FORGED.type


async def test_a_phone_without_the_key_gets_no_stamp(client: httpx.AsyncClient, till: Till) -> None:
    """T3/T7: a copied session on a second phone cannot sign stamp requests."""
    from tests.support import Phone

    cafe, _ = till
    customer = await new_customer(client, cafe)
    other = Phone()
    response = await client.post(
        f"/v1/me/cards/{customer.card_id}/stamps", headers=customer.headers, json=other.stamp_request(customer.card_id)
    )
    assert response.status_code == 401 and response.json()["type"] == Problem.INVALID_PROOF.type


async def test_a_repeated_counter_freezes_the_card_and_raises_a_flag(client: httpx.AsyncClient, till: Till) -> None:
    """T3: a cloned key shows as a counter that repeats or goes back."""
    cafe, _ = till
    customer = await new_customer(client, cafe)
    for _ in range(3):
        await customer.stamp()
    clone = await client.post(
        f"/v1/me/cards/{customer.card_id}/stamps",
        headers=customer.headers,
        json=customer.phone.stamp_request(customer.card_id, counter=2),
    )
    assert clone.status_code == 409 and clone.json()["type"] == Problem.COUNTER_REGRESSED.type
    assert (await customer.card())["status"] == "frozen"
    flag = await Flag.select(Flag.rule, Flag.severity, Flag.explanation).first()
    assert flag is not None and flag["rule"] == "counter_regression" and flag["severity"] == "high"
    assert "counter 2" in flag["explanation"] and "frozen" in flag["explanation"]
    refused = await client.post(
        f"/v1/me/cards/{customer.card_id}/stamps",
        headers=customer.headers,
        json=customer.phone.stamp_request(customer.card_id),
    )
    assert refused.json()["type"] == Problem.CARD_FROZEN.type


async def test_a_clone_signal_freezes_every_card_of_the_phone(client: httpx.AsyncClient, till: Till) -> None:
    """T3: the counter is the phone's, so a copy of its key could use any of the holder's cards."""
    cafe, _ = till
    customer = await new_customer(client, cafe)
    tea = await client.post("/v1/programs", headers=cafe.owner, json={"name": "Tea card", "reward_name": "Free tea"})
    assert tea.status_code == 201, tea.text
    joined = await client.post("/v1/me/cards", headers=customer.headers, json={"program_id": tea.json()["id"]})
    assert joined.status_code == 201, joined.text
    tea_card = joined.json()["id"]
    for _ in range(3):
        await customer.stamp()
    clone = await client.post(
        f"/v1/me/cards/{customer.card_id}/stamps",
        headers=customer.headers,
        json=customer.phone.stamp_request(customer.card_id, counter=2),
    )
    assert clone.json()["type"] == Problem.COUNTER_REGRESSED.type
    refused = await client.post(
        f"/v1/me/cards/{tea_card}/stamps", headers=customer.headers, json=customer.phone.stamp_request(tea_card)
    )
    assert refused.status_code == 409 and refused.json()["type"] == Problem.CARD_FROZEN.type
    flags = await Flag.select(Flag.card, Flag.rule, Flag.explanation).where(Flag.rule == "counter_regression")
    assert {str(f["card"]) for f in flags} == {customer.card_id, tea_card}
    other = next(f for f in flags if str(f["card"]) == tea_card)
    assert "belongs to a phone" in other["explanation"] and card_code(UUID(customer.card_id)) in other["explanation"]


async def test_resending_the_same_stamp_request_returns_the_same_stamp(client: httpx.AsyncClient, till: Till) -> None:
    cafe, _ = till
    customer = await new_customer(client, cafe)
    request = customer.phone.stamp_request(customer.card_id)
    url = f"/v1/me/cards/{customer.card_id}/stamps"
    first = await client.post(url, headers=customer.headers, json=request)
    again = await client.post(url, headers=customer.headers, json=request)
    assert again.status_code == 201 and again.json()["stamp"] == first.json()["stamp"]
    assert (await customer.card())["status"] == "active"


async def test_a_frozen_card_is_not_punched(client: httpx.AsyncClient, till: Till) -> None:
    cafe, cashier = till
    customer = await new_customer(client, cafe)
    stamp = await customer.stamp()
    await Card.update({Card.status: "frozen"}).where(Card.id == customer.card_id)
    response = await client.post("/v1/scans", headers=cashier, json={"stamp": stamp, "receipt": {"reference": "R"}})
    assert response.json()["type"] == Problem.CARD_FROZEN.type


async def test_a_cashier_cannot_punch_their_own_card(client: httpx.AsyncClient) -> None:
    """T6: the card of a customer with the cashier's e-mail is the cashier's own."""
    cafe = await set_up_cafe(client)
    cashier = await cashier_at_till(cafe, "sam@cafe.test")
    own = await new_customer(client, cafe, email="Sam@cafe.test")
    response = await client.post(
        "/v1/scans", headers=cashier, json={"stamp": await own.stamp(), "receipt": {"reference": "R"}}
    )
    assert response.status_code == 403 and response.json()["type"] == Problem.OWN_CARD.type


async def test_scans_need_a_scanner_bound_token(client: httpx.AsyncClient) -> None:
    cafe = await set_up_cafe(client)
    customer = await new_customer(client, cafe)
    response = await client.post(
        "/v1/scans", headers=cafe.owner, json={"stamp": await customer.stamp(), "receipt": {"reference": "R"}}
    )
    assert response.status_code == 403 and response.json()["type"] == Problem.SCANNER_REQUIRED.type
    by_customer = await client.post(
        "/v1/scans", headers=customer.headers, json={"stamp": await customer.stamp(), "receipt": {"reference": "R"}}
    )
    assert by_customer.status_code == 403


async def test_a_receipt_earns_one_punch(client: httpx.AsyncClient, till: Till) -> None:
    """T5: one purchase cannot be split across several cards."""
    cafe, cashier = till
    first, second = await new_customer(client, cafe), await new_customer(client, cafe)
    await client.post("/v1/scans", headers=cashier, json={"stamp": await first.stamp(), "receipt": {"reference": "R"}})
    split = await client.post(
        "/v1/scans", headers=cashier, json={"stamp": await second.stamp(), "receipt": {"reference": "R"}}
    )
    assert split.status_code == 409 and split.json()["type"] == Problem.RECEIPT_ALREADY_PUNCHED.type


async def _program(client: httpx.AsyncClient, cafe: Cafe, **rules: object) -> None:
    response = await client.patch(f"/v1/programs/{cafe.program_id}", headers=cafe.owner, json=rules)
    assert response.status_code == 200, response.text


async def test_cooldown_and_daily_cap_refuse_when_the_owner_says_so(
    client: httpx.AsyncClient, clock: FakeClock, till: Till
) -> None:
    cafe, cashier = till
    await _program(client, cafe, excess_policy="refuse", cooldown_s=60, daily_cap=2)
    customer = await new_customer(client, cafe)

    async def punch(ref: str) -> httpx.Response:
        return await client.post(
            "/v1/scans", headers=cashier, json={"stamp": await customer.stamp(), "receipt": {"reference": ref}}
        )

    assert (await punch("R-1")).status_code == 201
    clock.advance(seconds=59)
    too_soon = await punch("R-2")
    assert too_soon.status_code == 409 and too_soon.json()["type"] == Problem.COOLDOWN.type
    clock.advance(seconds=2)
    assert (await punch("R-3")).status_code == 201
    clock.advance(minutes=5)
    capped = await punch("R-4")
    assert capped.status_code == 409 and capped.json()["type"] == Problem.DAILY_CAP.type
    assert (await customer.card())["balance"] == 2
    assert await Flag.count() == 0


async def test_excess_is_punched_and_flagged_by_default(
    client: httpx.AsyncClient, clock: FakeClock, till: Till
) -> None:
    cafe, cashier = till
    customer = await new_customer(client, cafe)
    statuses = []
    for ref in ("R-1", "R-2"):
        response = await client.post(
            "/v1/scans", headers=cashier, json={"stamp": await customer.stamp(), "receipt": {"reference": ref}}
        )
        statuses.append((response.status_code, response.json()["flagged"]))
        clock.advance(seconds=10)
    assert statuses == [(201, False), (201, True)]
    flag = await Flag.select(Flag.rule, Flag.evidence, Flag.explanation).first()
    assert flag is not None and flag["rule"] == "cooldown"
    assert "10 s after its last punch" in flag["explanation"]


async def test_a_refund_voids_the_punch_and_the_ledger_keeps_both(client: httpx.AsyncClient, till: Till) -> None:
    """T8."""
    cafe, cashier = till
    customer = await new_customer(client, cafe)
    await client.post(
        "/v1/scans", headers=cashier, json={"stamp": await customer.stamp(), "receipt": {"reference": "R-9"}}
    )
    void = await client.post(
        "/v1/punches/void",
        headers=cafe.owner,
        json={
            "receipt": "R-9",
            "store_id": cafe.store_id,
        },
    )
    assert void.status_code == 200 and void.json()["balance"] == 0
    again = await client.post(
        "/v1/punches/void",
        headers=cafe.owner,
        json={
            "receipt": "R-9",
            "store_id": cafe.store_id,
        },
    )
    assert again.json()["void_id"] == void.json()["void_id"]
    card = await customer.card()
    assert card["balance"] == 0
    assert [(h["kind"], h["voided"]) for h in card["history"]] == [("void", False), ("punch", True)]
    assert await LedgerEntry.count() == 2
    by_cashier = await client.post("/v1/punches/void", headers=cashier, json={"receipt": "R-9"})
    assert by_cashier.status_code == 403, "cashiers cannot void"
    unknown = await client.post(
        "/v1/punches/void",
        headers=cafe.owner,
        json={
            "receipt": "nope",
            "store_id": cafe.store_id,
        },
    )
    assert unknown.status_code == 404 and unknown.json()["type"] == Problem.PUNCH_NOT_FOUND.type


async def test_stamps_come_as_qr_images(client: httpx.AsyncClient, till: Till) -> None:
    cafe, _ = till
    customer = await new_customer(client, cafe)
    url = f"/v1/me/cards/{customer.card_id}/stamps"
    svg = await client.post(f"{url}.svg", headers=customer.headers, json=customer.phone.stamp_request(customer.card_id))
    assert svg.status_code == 201 and svg.headers["content-type"].startswith("image/svg+xml")
    assert svg.content.startswith(b"<svg") and "x-stamp-expires-at" in svg.headers
    png = await client.post(f"{url}.png", headers=customer.headers, json=customer.phone.stamp_request(customer.card_id))
    assert png.status_code == 201 and png.content.startswith(b"\x89PNG")


async def test_a_cashier_with_no_customer_present_can_neither_ask_for_a_stamp_nor_punch_a_card_id(
    client: httpx.AsyncClient, till: Till
) -> None:
    """T7, T22: a cashier's token is no phone, and a card's id (printed, or in a wallet pass) is no stamp."""
    cafe, cashier = till
    customer = await new_customer(client, cafe)
    asked = await client.post(
        f"/v1/me/cards/{customer.card_id}/stamps", headers=cashier, json=customer.phone.stamp_request(customer.card_id)
    )
    assert asked.status_code == 403 and asked.json()["type"] == Problem.FORBIDDEN.type
    for text in (customer.card_id, customer.card_id.replace("-", "").upper()):
        scan = await client.post("/v1/scans", headers=cashier, json={"stamp": text, "receipt": {"reference": "R-0"}})
        assert scan.status_code == 400 and scan.json()["type"] == Problem.STAMP_MALFORMED.type
    assert await LedgerEntry.count() == 0
