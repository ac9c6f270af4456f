"""The published test vectors (`mobile_contract/stamp_vectors.json`) are right, and stay right.

Each vector is checked against the server's own code (decode, verify, encode) and against
the layout documented in `mobile_contract/stamps.py`, so the file a mobile team tests
against is the format the server speaks.
"""

import base64
import json
import subprocess
import sys
from pathlib import Path
from typing import Any
from uuid import UUID

import jwt
import pytest
import qrcode
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from qrcode.constants import ERROR_CORRECT_M
from qrcode.util import MODE_8BIT_BYTE, MODE_ALPHA_NUM, QRData, optimal_mode

import mobile_contract
from crypto.encoding import b64u_decode, b64u_encode
from crypto.jwk import jwk_thumbprint, load_device_key
from crypto.keyring import _kid
from mobile_contract.customers import proof_message
from mobile_contract.stamps import (
    QR_VERSION,
    SIGNING_CONTEXT,
    TEXT_LENGTH,
    Stamp,
    StampError,
    decode_stamp,
    encode_stamp,
    stamp_request_message,
    verify_stamp_signature,
)

ROOT = Path(__file__).resolve().parents[2]
VECTORS_PATH = Path(mobile_contract.__file__).parent / "stamp_vectors.json"
VECTORS: dict[str, Any] = json.loads(VECTORS_PATH.read_text())
SERVER: dict[str, Any] = VECTORS["server_key"]
STAMPS: list[dict[str, Any]] = VECTORS["stamps"]
STAMP_IDS = [f"lifetime-{vector['lifetime_s']}" for vector in STAMPS]


def _server_private_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(bytes.fromhex(SERVER["private_key_hex"]))


def _server_public_key() -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(b64u_decode(SERVER["public_key_b64u"]))


def _raw(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _qr_version(data: QRData | str) -> int:
    """The smallest QR version that holds `data` at error correction M, as `qrcode` picks it."""
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M)
    code.add_data(data)
    code.make(fit=True)
    version: int = code.version
    return version


# --- the file --------------------------------------------------------------------------


def test_the_committed_vectors_are_exactly_what_the_generator_prints() -> None:
    printed = subprocess.run(
        [sys.executable, "-m", "mobile_contract.vectors"], cwd=ROOT, capture_output=True, check=True
    ).stdout
    assert printed == VECTORS_PATH.read_bytes(), (
        "stamp_vectors.json is stale: python -m mobile_contract.vectors > mobile_contract/stamp_vectors.json"
    )


def test_the_generator_imports_nothing_but_crypto_and_the_mobile_contract() -> None:
    code = (
        "import sys, mobile_contract.vectors; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'api', 'cards', 'tests'}))"
    )
    printed = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, check=True, text=True)
    assert printed.stdout.strip() == "[]"


def test_the_vectors_cover_three_lifetimes_two_stamp_requests_and_both_proof_purposes() -> None:
    assert [vector["lifetime_s"] for vector in STAMPS] == [10, 30, 120]
    assert len(VECTORS["stamp_requests"]) == 2
    assert sorted(proof["purpose"] for proof in VECTORS["proofs"]) == ["enroll", "session"]
    assert sorted(case["outcome"] for case in VECTORS["invalid_stamps"]) == ["forged", "malformed", "malformed"]
    assert bytes.fromhex(VECTORS["signing_context_hex"]) == SIGNING_CONTEXT


# --- the server key ----------------------------------------------------------------------


def test_the_server_public_key_and_kid_follow_from_the_private_key_as_the_keyring_computes_them() -> None:
    public = _server_private_key().public_key()
    assert b64u_encode(_raw(public)) == SERVER["public_key_b64u"]
    assert SERVER["public_jwk"] == {"kty": "OKP", "crv": "Ed25519", "x": SERVER["public_key_b64u"]}
    assert jwk_thumbprint(SERVER["public_jwk"]) == SERVER["thumbprint"]
    assert _kid(public) == SERVER["kid"] == SERVER["thumbprint"][:8]


# --- the stamps ----------------------------------------------------------------------------


@pytest.mark.parametrize("vector", STAMPS, ids=STAMP_IDS)
def test_each_stamp_decodes_to_its_inputs(vector: dict[str, Any]) -> None:
    stamp, signed, signature = decode_stamp(vector["stamp"])
    assert stamp == Stamp(
        kid=SERVER["kid"],
        card_id=UUID(vector["card_id"]),
        device_ref=UUID(vector["device_id"]).bytes[:8],
        stamp_id=bytes.fromhex(vector["stamp_id_hex"]),
        issued_at=vector["issued_at"],
        lifetime_s=vector["lifetime_s"],
    )
    assert stamp.device_ref.hex() == vector["device_ref_hex"]
    assert stamp.expires_at == vector["expires_at"]
    assert signed.hex() == vector["signed_message_hex"]
    assert signature.hex() == vector["signature_hex"]


@pytest.mark.parametrize("vector", STAMPS, ids=STAMP_IDS)
def test_each_stamp_body_follows_the_documented_layout(vector: dict[str, Any]) -> None:
    body = (
        bytes([1])
        + b64u_decode(SERVER["kid"])
        + UUID(vector["card_id"]).bytes
        + bytes.fromhex(vector["device_ref_hex"])
        + bytes.fromhex(vector["stamp_id_hex"])
        + vector["issued_at"].to_bytes(4, "big")
        + vector["lifetime_s"].to_bytes(1, "big")
    )
    assert len(body) == 44 and body.hex() == vector["body_hex"]
    assert vector["signed_message_hex"] == (SIGNING_CONTEXT + body).hex()
    signature = bytes.fromhex(vector["signature_hex"])
    assert len(signature) == 64
    assert base64.b32encode(body + signature).decode().rstrip("=") == vector["stamp"]
    assert len(vector["stamp"]) == TEXT_LENGTH


@pytest.mark.parametrize("vector", STAMPS, ids=STAMP_IDS)
def test_each_stamp_verifies_with_the_vectors_public_key(vector: dict[str, Any]) -> None:
    _, signed, signature = decode_stamp(vector["stamp"])
    verify_stamp_signature(_server_public_key(), signed, signature)


@pytest.mark.parametrize("vector", STAMPS, ids=STAMP_IDS)
def test_each_stamp_re_encodes_to_the_exact_text(vector: dict[str, Any]) -> None:
    stamp, _, _ = decode_stamp(vector["stamp"])
    assert encode_stamp(stamp, _server_private_key()) == vector["stamp"]


@pytest.mark.parametrize("case", VECTORS["invalid_stamps"], ids=[c["description"] for c in VECTORS["invalid_stamps"]])
def test_each_invalid_stamp_is_refused_with_its_expected_outcome(case: dict[str, str]) -> None:
    if case["outcome"] == "malformed":
        with pytest.raises(StampError):
            decode_stamp(case["stamp"])
    else:
        assert case["outcome"] == "forged"
        _, signed, signature = decode_stamp(case["stamp"])  # well-formed: refused only by its signature
        with pytest.raises(StampError, match="signature"):
            verify_stamp_signature(_server_public_key(), signed, signature)


# --- the phone's signed messages -----------------------------------------------------------


def _device_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(bytes.fromhex(VECTORS["device_key"]["seed_hex"]))


def test_the_device_jwk_and_thumbprint_follow_from_the_seed() -> None:
    device = VECTORS["device_key"]
    assert device["public_jwk"] == {"kty": "OKP", "crv": "Ed25519", "x": b64u_encode(_raw(_device_key().public_key()))}
    assert load_device_key(device["public_jwk"]).thumbprint == device["thumbprint"]


def _check_signed_message(vector: dict[str, Any], message: bytes) -> None:
    assert message.hex() == vector["message_hex"]
    assert message.decode() == vector["message_text"]
    assert b64u_encode(_device_key().sign(message)) == vector["signature_b64u"]
    # ...and the server accepts it, through the same check enrollment and stamp requests use.
    load_device_key(VECTORS["device_key"]["public_jwk"]).verify(b64u_decode(vector["signature_b64u"]), message)


@pytest.mark.parametrize("vector", VECTORS["stamp_requests"], ids=lambda v: f"counter-{v['counter']}")
def test_each_stamp_request_message_and_signature_is_exact(vector: dict[str, Any]) -> None:
    _check_signed_message(vector, stamp_request_message(UUID(vector["card_id"]), vector["counter"]))


@pytest.mark.parametrize("vector", VECTORS["proofs"], ids=lambda v: str(v["purpose"]))
def test_each_proof_message_and_signature_is_exact(vector: dict[str, Any]) -> None:
    _check_signed_message(vector, proof_message(vector["purpose"], vector["challenge"]))


# --- why the compact format exists ---------------------------------------------------------


@pytest.mark.parametrize("vector", STAMPS, ids=STAMP_IDS)
def test_each_stamp_fits_qr_version_7_at_level_m_in_alphanumeric_mode(vector: dict[str, Any]) -> None:
    text: str = vector["stamp"]
    assert optimal_mode(text.encode()) == MODE_ALPHA_NUM
    assert _qr_version(QRData(text.encode(), mode=MODE_ALPHA_NUM)) <= 7 == QR_VERSION
    assert _qr_version(text) <= 7, "a QR library left to choose the mode picks alphanumeric too"
    assert _qr_version(QRData(text.encode(), mode=MODE_8BIT_BYTE)) > 7, "byte mode would not fit"


@pytest.mark.parametrize("vector", STAMPS, ids=STAMP_IDS)
def test_a_jwt_carrying_the_same_fields_needs_qr_version_10_or_more(vector: dict[str, Any]) -> None:
    claims = {
        "sub": vector["card_id"],
        "dev": vector["device_ref_hex"],
        "jti": vector["stamp_id_hex"],
        "iat": vector["issued_at"],
        "exp": vector["expires_at"],
    }
    token = jwt.encode(claims, _server_private_key(), algorithm="EdDSA", headers={"kid": SERVER["kid"]})
    assert (
        jwt.decode(
            token, _server_public_key(), algorithms=["EdDSA"], options={"verify_exp": False, "verify_iat": False}
        )
        == claims
    )
    assert _qr_version(token) >= 10
