"""Device keys that prove possession (T15), end to end: enrollment refuses keys anyone can sign for,
a stored one is refused wherever it is loaded, and the migration quarantines the phones stored before."""

from datetime import UTC, datetime

import httpx
import msgspec

from cards.devices import quarantine_refused_keys
from cards.tables import Card, Device, Flag
from crypto.encoding import b64u_encode
from mobile_contract.problems import Problem
from tests.support import Customer, Phone, new_customer, set_up_cafe

IDENTITY = (1).to_bytes(32, "little")  # the neutral point: order 1
# R = the neutral point and S = 0 verify for every message under a cofactorless check of the neutral key.
CONSTANT_SIGNATURE = b64u_encode(IDENTITY + bytes(32))
SPELLINGS = {
    "y=1": IDENTITY,
    "y=1, sign bit set": IDENTITY[:31] + b"\x80",
    "y=p+1": (2**255 - 19 + 1).to_bytes(32, "little"),
}


async def test_keys_anyone_can_sign_for_are_refused_at_enrollment(client: httpx.AsyncClient) -> None:
    """Five clients without any secret each got a session for one such card; now none does."""
    for spelling in SPELLINGS.values():
        challenge = (await client.post("/v1/challenges")).json()["challenge"]
        response = await client.post(
            "/v1/customers",
            json={
                "challenge": challenge,
                "public_key": {"kty": "OKP", "crv": "Ed25519", "x": b64u_encode(spelling)},
                "signature": CONSTANT_SIGNATURE,
            },
        )
        assert response.status_code == 400 and response.json()["type"] == Problem.INVALID_PUBLIC_KEY.type
    assert await Device.count() == 0


async def _plant_weak_phone(client: httpx.AsyncClient) -> Customer:
    """A phone stored before the check existed: a genuine customer whose key an insider (or an
    older server) replaced with the neutral point."""
    cafe = await set_up_cafe(client)
    customer = await new_customer(client, cafe)
    weak = {"kty": "OKP", "crv": "Ed25519", "x": b64u_encode(IDENTITY)}
    await Device.update({Device.public_key: msgspec.json.encode(weak).decode()}).where(
        Device.id == customer.session["device_id"]
    )
    return customer


async def test_a_stored_key_anyone_can_sign_for_proves_nothing(client: httpx.AsyncClient) -> None:
    """Wherever the key is loaded, a refused key reads as a bad signature: no session, no stamp, no 500."""
    customer = await _plant_weak_phone(client)
    challenge = (await client.post("/v1/challenges")).json()["challenge"]
    session = await client.post(
        "/v1/customers/sessions",
        json={"device_id": customer.session["device_id"], "challenge": challenge, "signature": CONSTANT_SIGNATURE},
    )
    assert session.status_code == 401 and session.json()["type"] == Problem.INVALID_PROOF.type
    stamp = await client.post(
        f"/v1/me/cards/{customer.card_id}/stamps",
        headers=customer.headers,
        json={"counter": 99, "signature": CONSTANT_SIGNATURE},
    )
    assert stamp.status_code == 401 and stamp.json()["type"] == Problem.INVALID_PROOF.type


async def test_the_migration_quarantines_phones_with_refused_keys(client: httpx.AsyncClient) -> None:
    customer = await _plant_weak_phone(client)
    card_id, device_id = customer.card_id, customer.session["device_id"]
    quarantined = await quarantine_refused_keys(datetime.now(UTC))
    assert [str(d) for d in quarantined] == [device_id]
    device = await Device.select(Device.active).where(Device.id == device_id).first()
    card = await Card.select(Card.status).where(Card.id == card_id).first()
    assert device == {"active": False} and card == {"status": "frozen"}
    [flag] = await Flag.select(Flag.rule, Flag.severity, Flag.explanation).where(Flag.card == card_id)
    assert (flag["rule"], flag["severity"]) == ("device_key_refused", "high")
    assert "small-order" in flag["explanation"] or "anyone" in flag["explanation"], flag["explanation"]
    assert await quarantine_refused_keys(datetime.now(UTC)) == [], "running it again changes nothing"
    assert await Flag.count() == 1


async def test_honest_phones_are_not_quarantined(client: httpx.AsyncClient) -> None:
    cafe = await set_up_cafe(client)
    for algorithm in ("Ed25519", "ES256"):
        await new_customer(client, cafe, Phone(algorithm=algorithm))
    assert await quarantine_refused_keys(datetime.now(UTC)) == []
    assert await Card.count().where(Card.status == "frozen") == 0
