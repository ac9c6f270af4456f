"""The published vectors (`mobile_contract/stamp_vectors.json`) through the HTTP API, as a phone and a till send them.

A phone holding a vector key enrolls and signs in with the vector `proofs` signatures, asks
for stamps and redemption codes with the vector request signatures, and the till scans and
redeems: every signature of the file is taken by the server, in each of its spellings
(Ed25519, P-256 r||s, P-256 DER). The server issues the `well_formed` codes from their random
bytes and reads them back; every refused signature, key and code is refused with its problem.
"""

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from uuid import UUID

import httpx
import pytest

import cards.customers
import cards.redemptions
import mobile_contract
from cards.tables import Card, Device
from mobile_contract.problems import Problem
from mobile_contract.redemptions import redemption_request_message
from tests.support import Cafe, Phone, bearer, cashier_at_till, challenge, new_customer, set_up_cafe

VECTORS: dict[str, Any] = json.loads((Path(mobile_contract.__file__).parent / "stamp_vectors.json").read_text())
PROOFS = {proof["purpose"]: proof for proof in VECTORS["proofs"]}
# A signature spelling: the vector key that made it and the field of each signed message that holds it.
SPELLINGS = {
    "ed25519": ("device_key", "signature_b64u"),
    "p256-raw": ("p256_device_key", "p256_signature_b64u"),
    "p256-der": ("p256_device_key", "p256_signature_der_b64u"),
}
CARD_IDS = [request["card_id"] for request in VECTORS["stamp_requests"]]


def _answer(response: httpx.Response, status: int, problem: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    if problem is not None:
        assert body["type"] == problem, body
    return body


def _serve(values: list[str] | list[bytes]) -> Iterator[Any]:
    yield from values


@dataclass
class VectorPhone:
    """A phone whose key is a vector key: it sends the file's signatures, never its own."""

    client: httpx.AsyncClient
    key: str
    field: str
    session: dict[str, Any]

    @property
    def headers(self) -> dict[str, str]:
        return bearer(self.session["session_token"])


async def _cafe(client: httpx.AsyncClient) -> tuple[Cafe, list[str], dict[str, str]]:
    """A café with one program per vector card, each giving a free item for one punch, and a till.

    The risk rules are not this suite's subject: the store opens every day, and one cashier
    serving one regular is not judged as farming."""
    cafe = await set_up_cafe(client)
    _answer(await client.patch(f"/v1/stores/{cafe.store_id}", headers=cafe.owner, json={"opening_hours": []}), 200)
    programs = []
    for n in range(len(CARD_IDS)):
        program = {"name": f"Card {n}", "reward_name": "Free coffee", "punches_per_reward": 1}
        program_id = _answer(await client.post("/v1/programs", headers=cafe.owner, json=program), 201)["id"]
        risk = {"risk": {"concentration_min_punches": 10_000}}
        _answer(await client.patch(f"/v1/programs/{program_id}", headers=cafe.owner, json=risk), 200)
        programs.append(program_id)
    return cafe, programs, await cashier_at_till(cafe)


async def _enroll(client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch, spelling: str) -> VectorPhone:
    """Enroll and sign in with the vector proofs: the server issues the vectors' challenges."""
    key, field = SPELLINGS[spelling]
    challenges = _serve([PROOFS["enroll"]["challenge"], PROOFS["session"]["challenge"]])
    monkeypatch.setattr(cards.customers, "secrets", SimpleNamespace(token_urlsafe=lambda _: next(challenges)))
    nonce = await challenge(client)
    assert nonce == PROOFS["enroll"]["challenge"]
    enrollment = {"challenge": nonce, "public_key": VECTORS[key]["public_jwk"], "signature": PROOFS["enroll"][field]}
    enrolled = _answer(await client.post("/v1/customers", json=enrollment), 201)
    device = await Device.select(Device.thumbprint).where(Device.id == enrolled["device_id"]).first()
    assert device is not None and device["thumbprint"] == VECTORS[key]["thumbprint"]
    nonce = await challenge(client)
    assert nonce == PROOFS["session"]["challenge"]
    resume = {"device_id": enrolled["device_id"], "challenge": nonce, "signature": PROOFS["session"][field]}
    session = _answer(await client.post("/v1/customers/sessions", json=resume), 200)
    assert session["device_id"] == enrolled["device_id"]
    return VectorPhone(client, key, field, session)


async def _vector_card(phone: VectorPhone, program_id: str, card_id: str) -> None:
    """Join the program, and give the card the id the vectors sign for (ids are the server's to pick)."""
    joined = _answer(
        await phone.client.post("/v1/me/cards", headers=phone.headers, json={"program_id": program_id}), 201
    )
    await Card.update({Card.id: UUID(card_id)}).where(Card.id == UUID(joined["id"]))


def _issue_codes(monkeypatch: pytest.MonkeyPatch, examples: list[dict[str, str]]) -> None:
    """The server's next codes are drawn from these examples' random bytes."""
    randoms = _serve([bytes.fromhex(example["random_hex"]) for example in examples])
    monkeypatch.setattr(cards.redemptions, "secrets", SimpleNamespace(token_bytes=lambda _: next(randoms)))


@pytest.mark.parametrize("spelling", SPELLINGS)
async def test_a_phone_with_a_vector_key_gets_through_with_the_vector_signatures(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch, spelling: str
) -> None:
    """Enrollment, a session, a stamp and a free item on each card, each signed by the file."""
    _, programs, till = await _cafe(client)
    phone = await _enroll(client, monkeypatch, spelling)
    for program_id, card_id in zip(programs, CARD_IDS, strict=True):
        await _vector_card(phone, program_id, card_id)
    codes = VECTORS["redemption_codes"]["well_formed"]
    _issue_codes(monkeypatch, codes)
    requests = zip(VECTORS["stamp_requests"], VECTORS["redemption_requests"], codes, strict=False)
    for stamp_request, redemption_request, code in requests:
        card_id = stamp_request["card_id"]
        assert redemption_request["card_id"] == card_id
        asked = {"counter": stamp_request["counter"], "signature": stamp_request[phone.field]}
        stamp = _answer(await client.post(f"/v1/me/cards/{card_id}/stamps", headers=phone.headers, json=asked), 201)
        scan = {"stamp": stamp["stamp"], "receipt": {"reference": f"R-{stamp_request['counter']}"}}
        punched = _answer(await client.post("/v1/scans", headers=till, json=scan), 201)
        assert punched["card_id"] == card_id and not punched["flagged"]

        asked = {"counter": redemption_request["counter"], "signature": redemption_request[phone.field]}
        url = f"/v1/me/cards/{card_id}/redemptions"
        issued = _answer(await client.post(url, headers=phone.headers, json=asked), 201)
        assert issued["code"] == code["code"], "the code is R1 and the base32 of its 16 random bytes"
        redeemed = _answer(await client.post("/v1/redemptions", headers=till, json={"code": issued["code"]}), 201)
        assert redeemed["granted"] is True and redeemed["card_id"] == card_id


async def test_each_p256_signature_spelling_is_accepted_or_refused_as_the_file_says(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, programs, _ = await _cafe(client)
    phone = await _enroll(client, monkeypatch, "p256-raw")
    await _vector_card(phone, programs[0], CARD_IDS[0])
    request = VECTORS["stamp_requests"][0]
    assert request["message_hex"] == VECTORS["p256_signatures"]["message_hex"]
    stamps = set()
    for case in VECTORS["p256_signatures"]["cases"]:
        response = await client.post(
            f"/v1/me/cards/{request['card_id']}/stamps",
            headers=phone.headers,
            json={"counter": request["counter"], "signature": case["signature_b64u"]},
        )
        if case["outcome"] == "accepted":
            stamps.add(_answer(response, 201)["stamp"])
        else:
            _answer(response, Problem.INVALID_PROOF.status, case["problem"])
    assert len(stamps) == 1, "every accepted spelling is the same request: a retry, answered with the same stamp"
    assert (await client.get(f"/v1/me/cards/{request['card_id']}", headers=phone.headers)).json()["status"] == "active"


@pytest.mark.parametrize("case", VECTORS["refused_public_jwks"], ids=lambda c: str(c["description"]))
async def test_each_refused_jwk_is_refused_at_enrollment(client: httpx.AsyncClient, case: dict[str, Any]) -> None:
    enrollment = {"challenge": await challenge(client), "public_key": case["jwk"], "signature": "AAAA"}
    _answer(await client.post("/v1/customers", json=enrollment), 400, case["problem"])
    assert await Device.count() == 0


async def test_the_server_makes_each_well_formed_code_and_reads_it_back(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Codes come from 16 random bytes as documented; a code sent unchanged is granted, and each
    tolerated spelling of it reads as the same code (the same till answers the same grant)."""
    cafe, programs, till = await _cafe(client)
    cafe.program_id = programs[0]
    examples = VECTORS["redemption_codes"]["well_formed"]
    _issue_codes(monkeypatch, examples)
    for n, example in enumerate(examples):
        customer = await new_customer(client, cafe, Phone())
        punched = {"stamp": await customer.stamp(), "receipt": {"reference": f"R-code-{n}"}}
        _answer(await client.post("/v1/scans", headers=till, json=punched), 201)
        customer.phone.counter += 1
        signature = customer.phone.sign(redemption_request_message(UUID(customer.card_id), customer.phone.counter))
        url = f"/v1/me/cards/{customer.card_id}/redemptions"
        asked = {"counter": customer.phone.counter, "signature": signature}
        issued = _answer(await client.post(url, headers=customer.headers, json=asked), 201)
        assert issued["code"] == example["code"]
        granted = _answer(await client.post("/v1/redemptions", headers=till, json={"code": example["code"]}), 201)
        assert granted["granted"] is True
        if n == 0:
            for spelling in VECTORS["redemption_codes"]["read_as_the_same_code"]:
                again = await client.post("/v1/redemptions", headers=till, json={"code": spelling["code"]})
                assert again.status_code == 201, (spelling["description"], again.text)
                assert again.json()["redemption_id"] == granted["redemption_id"], spelling["description"]


@pytest.mark.parametrize("case", VECTORS["redemption_codes"]["malformed"], ids=lambda c: str(c["description"]))
async def test_each_malformed_code_is_refused_at_the_till(client: httpx.AsyncClient, case: dict[str, Any]) -> None:
    cafe = await set_up_cafe(client)
    till = await cashier_at_till(cafe)
    _answer(
        await client.post("/v1/redemptions", headers=till, json={"code": case["code"]}), case["status"], case["problem"]
    )
