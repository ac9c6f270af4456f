"""A web app enrolls with the public key exactly as WebCrypto exports it.

`crypto.subtle.exportKey("jwk", publicKey)` adds `ext`, `key_ops` and, for Ed25519 in Node and
recent browsers, `alg`. Those are accepted and ignored: one key, with or without them, is one
device. The shapes come from `stamp_vectors.json`, which tests/node/vectors.test.mjs holds to
what Node's WebCrypto really exports.
"""

import json
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

import mobile_contract
from cards.tables import Device
from mobile_contract.problems import Problem
from tests.support import Phone, challenge

VECTORS: dict[str, Any] = json.loads((Path(mobile_contract.__file__).parent / "stamp_vectors.json").read_text())
KEYS = ["device_key", "p256_device_key"]
EXPORT_MEMBERS = ("ext", "key_ops", "alg")


def _phone(key: str) -> Phone:
    """A phone holding the vector key, signing as WebCrypto does (P-256: raw r||s)."""
    if key == "device_key":
        return Phone("Ed25519", _ed=Ed25519PrivateKey.from_private_bytes(bytes.fromhex(VECTORS[key]["seed_hex"])))
    private = ec.derive_private_key(int(VECTORS[key]["private_key_hex"], 16), ec.SECP256R1())
    return Phone("ES256", _ec=private)


async def _enroll(client: httpx.AsyncClient, phone: Phone, jwk: dict[str, Any]) -> httpx.Response:
    nonce = await challenge(client)
    return await client.post(
        "/v1/customers", json={"challenge": nonce, "public_key": jwk, "signature": phone.prove("enroll", nonce)}
    )


WEBCRYPTO = [(key, jwk) for key in KEYS for jwk in VECTORS[key]["webcrypto_public_jwks"]]


def _ids(case: tuple[str, dict[str, Any]]) -> str:
    _, jwk = case
    return f"{jwk['kty']}-{'+'.join(m for m in EXPORT_MEMBERS if m in jwk)}"


@pytest.mark.parametrize("case", WEBCRYPTO, ids=_ids)
async def test_a_key_as_webcrypto_exports_it_enrolls_and_signs_in(
    client: httpx.AsyncClient, case: tuple[str, dict[str, Any]]
) -> None:
    key, jwk = case
    phone = _phone(key)
    assert phone.jwk == VECTORS[key]["public_jwk"]
    enrolled = await _enroll(client, phone, jwk)
    assert enrolled.status_code == 201, enrolled.text
    device = await Device.select().where(Device.id == enrolled.json()["device_id"]).first()
    assert device is not None and device["thumbprint"] == VECTORS[key]["thumbprint"]
    stored = (
        msgspec.json.decode(device["public_key"]) if isinstance(device["public_key"], str) else device["public_key"]
    )
    assert stored == VECTORS[key]["public_jwk"], "only the members that name the key are kept"
    nonce = await challenge(client)
    session = await client.post(
        "/v1/customers/sessions",
        json={
            "device_id": enrolled.json()["device_id"],
            "challenge": nonce,
            "signature": phone.prove("session", nonce),
        },
    )
    assert session.status_code == 200, session.text


@pytest.mark.parametrize("case", WEBCRYPTO, ids=_ids)
@pytest.mark.parametrize("webcrypto_first", [True, False], ids=["exported-first", "plain-first"])
async def test_the_same_key_with_or_without_the_export_members_is_the_same_device(
    client: httpx.AsyncClient, case: tuple[str, dict[str, Any]], webcrypto_first: bool
) -> None:
    key, jwk = case
    phone = _phone(key)
    spellings = [jwk, VECTORS[key]["public_jwk"]]
    first, second = spellings if webcrypto_first else spellings[::-1]
    assert (await _enroll(client, phone, first)).status_code == 201
    again = await _enroll(client, phone, second)
    assert again.status_code == 409 and again.json()["type"] == Problem.DEVICE_ALREADY_ENROLLED.type, again.text
    assert await Device.count() == 1


@pytest.mark.parametrize("key", KEYS)
@pytest.mark.parametrize(
    "extra",
    [{"use": "sig"}, {"kid": "phone-1"}, {"key_ops": "verify"}, {"key_ops": [1]}, {"alg": 256}, {"ext": [True]}],
    ids=["use", "kid", "key_ops-a-string", "key_ops-of-numbers", "alg-a-number", "ext-a-list"],
)
async def test_other_members_and_mistyped_export_members_are_refused(
    client: httpx.AsyncClient, key: str, extra: dict[str, Any]
) -> None:
    phone = _phone(key)
    exported = VECTORS[key]["webcrypto_public_jwks"][0]
    refused = await _enroll(client, phone, {**exported, **extra})
    assert refused.status_code == 400 and refused.json()["type"] == Problem.INVALID_REQUEST.type, refused.text
    assert await Device.count() == 0
    assert (await _enroll(client, phone, exported)).status_code == 201, "the same key without it enrolls"
