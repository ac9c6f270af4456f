"""The published test vectors (`mobile_contract/stamp_vectors.json`) are right, and stay right.

Each vector is checked against the server's own code (decode, verify, encode, the device-key
check) and against the layout documented in `mobile_contract/stamps.py` and `VECTORS.md`, so
the file a mobile team tests against is the format the server speaks. The same vectors go
through the HTTP API in tests/api/test_contract_vectors.py and through WebCrypto in
tests/node/vectors.test.mjs.
"""

import base64
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any
from uuid import UUID

import jwt
import msgspec
import pytest
import qrcode
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature
from qrcode.constants import ERROR_CORRECT_M
from qrcode.util import MODE_8BIT_BYTE, MODE_ALPHA_NUM, QRData, optimal_mode

import mobile_contract
from crypto.encoding import b64u_decode, b64u_encode
from crypto.jwk import P256_N, InvalidSignature, jwk_thumbprint, load_device_key
from crypto.keyring import _kid
from mobile_contract.customers import PublicKey, proof_message
from mobile_contract.redemptions import REDEMPTION_CODE_PATTERN, redemption_request_message
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


def test_the_vectors_cover_p256_redemptions_and_webcrypto_keys() -> None:
    assert len(VECTORS["redemption_requests"]) == 2
    # One rising counter per device, in the order the phone sends them, up to the largest the server takes.
    counters = sorted(v["counter"] for v in [*VECTORS["stamp_requests"], *VECTORS["redemption_requests"]])
    assert counters == [1, 2, 2**32, 2**53 - 1]
    for vector in SIGNED:
        assert {"signature_b64u", "p256_signature_b64u", "p256_signature_der_b64u"} <= set(vector)
    cases = VECTORS["p256_signatures"]["cases"]
    assert [case["outcome"] for case in cases].count("accepted") == 3
    assert [case["outcome"] for case in cases].count("refused") >= 3
    assert {case["length"] for case in cases if case["outcome"] == "refused"} >= {63, 64, 65}
    for key in (VECTORS["device_key"], VECTORS["p256_device_key"]):
        assert all({"ext", "key_ops"} <= set(jwk) for jwk in key["webcrypto_public_jwks"])
        assert any("alg" in jwk for jwk in key["webcrypto_public_jwks"])
    codes = VECTORS["redemption_codes"]
    assert len(codes["well_formed"]) == 3 and len(codes["malformed"]) >= 5


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


# --- P-256: the key, RFC 6979, and each signature -------------------------------------------

P256: dict[str, Any] = VECTORS["p256_device_key"]
SIGNED: list[dict[str, Any]] = [*VECTORS["stamp_requests"], *VECTORS["redemption_requests"], *VECTORS["proofs"]]
# RFC 6979 appendix A.2.5, "With SHA-256": copied from the RFC, not from the generator.
RFC6979_A25_PRIVATE_KEY = 0xC9AFA9D845BA75166B5C215767B1D6934E50C3DB36E89B127B8A622B120F6721
RFC6979_A25_PUBLIC_KEY = (
    0x60FED4BA255A9D31C961EB74C6356D68C049B8923B61FA6CE669622E60F29FB6,
    0x7903FE1008B8BC99A41AE9E95628BC64F2F1B20C2D7E9F5177A3C294D4462299,
)
RFC6979_A25_SHA256 = {
    "sample": (
        0xEFD48B2AACB6A8FD1140DD9CD45E81D69D2C877B56AAF991C34D0EA84EAF3716,
        0xF7CB1C942D657C41D436C7A1B6E29F65F3E900DBB9AFF4064DC4AB2F843ACDA8,
    ),
    "test": (
        0xF1ABB023518351CD71D881567B1EA663ED3EFCF6C5132B354F28D3B0B7D38367,
        0x019F4113742A2B14BD25926B49C649155F267E60D3814B4C0CC84250E46F0083,
    ),
}


def _p256_private_key() -> ec.EllipticCurvePrivateKey:
    return ec.derive_private_key(int(P256["private_key_hex"], 16), ec.SECP256R1())


def _rfc6979_raw(message: bytes) -> bytes:
    der = _p256_private_key().sign(message, ec.ECDSA(hashes.SHA256(), deterministic_signing=True))
    r, s = decode_dss_signature(der)
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def test_the_p256_key_is_rfc_6979s_and_its_jwk_and_thumbprint_follow_from_it() -> None:
    assert int(P256["private_key_hex"], 16) == RFC6979_A25_PRIVATE_KEY
    numbers = _p256_private_key().public_key().public_numbers()
    assert (numbers.x, numbers.y) == RFC6979_A25_PUBLIC_KEY
    assert P256["public_jwk"] == {
        "kty": "EC",
        "crv": "P-256",
        "x": b64u_encode(numbers.x.to_bytes(32, "big")),
        "y": b64u_encode(numbers.y.to_bytes(32, "big")),
    }
    key = load_device_key(P256["public_jwk"])
    assert key.algorithm == "ES256" and key.thumbprint == P256["thumbprint"] == jwk_thumbprint(P256["public_jwk"])


@pytest.mark.parametrize("entry", P256["rfc6979"], ids=lambda e: str(e["message_text"]))
def test_the_p256_signer_is_rfc_6979s(entry: dict[str, str]) -> None:
    """The file's P-256 signatures are RFC 6979's deterministic ones: the RFC's own vectors come out."""
    r, s = RFC6979_A25_SHA256[entry["message_text"]]
    assert (int(entry["r_hex"], 16), int(entry["s_hex"], 16)) == (r, s)
    raw = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    assert b64u_decode(entry["signature_b64u"]) == raw == _rfc6979_raw(entry["message_text"].encode())
    load_device_key(P256["public_jwk"]).verify(raw, entry["message_text"].encode())


@pytest.mark.parametrize("key", ["device_key", "p256_device_key"])
def test_each_webcrypto_spelling_of_a_key_is_the_same_key(key: str) -> None:
    """The JWK as WebCrypto exports it passes the wire struct and names the same device."""
    for jwk in VECTORS[key]["webcrypto_public_jwks"]:
        wire = msgspec.convert(jwk, PublicKey)  # what enrollment decodes the body into
        loaded = load_device_key(msgspec.to_builtins(wire))  # what enrollment then loads
        assert loaded.thumbprint == VECTORS[key]["thumbprint"]
        assert dict(loaded.jwk) == VECTORS[key]["public_jwk"]
        assert {k: v for k, v in jwk.items() if k not in ("ext", "key_ops", "alg")} == VECTORS[key]["public_jwk"]


@pytest.mark.parametrize("case", VECTORS["refused_public_jwks"], ids=lambda c: str(c["description"]))
def test_each_refused_jwk_is_refused_by_the_wire_struct(case: dict[str, Any]) -> None:
    assert case["problem"] == "/problems/invalid-request"
    with pytest.raises(msgspec.ValidationError):
        # Not strict, as Litestar decodes request bodies (it would read "true" as a boolean).
        msgspec.convert(case["jwk"], PublicKey, strict=False)


def _signed_message_ids(vector: dict[str, Any]) -> str:
    return str(vector["message_text"].split("\n")[0] + "-" + str(vector.get("counter", vector.get("purpose"))))


@pytest.mark.parametrize("vector", SIGNED, ids=_signed_message_ids)
def test_each_p256_signature_is_rfc_6979s_and_verifies_in_both_encodings(vector: dict[str, Any]) -> None:
    message = bytes.fromhex(vector["message_hex"])
    raw = b64u_decode(vector["p256_signature_b64u"])
    assert raw == _rfc6979_raw(message)
    r, s = int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")
    der = b64u_decode(vector["p256_signature_der_b64u"])
    assert der == encode_dss_signature(r, s)
    key = load_device_key(P256["public_jwk"])
    key.verify(raw, message)
    key.verify(der, message)


def test_the_p256_signature_cases_are_spellings_of_one_signature() -> None:
    cases = {case["description"]: b64u_decode(case["signature_b64u"]) for case in VECTORS["p256_signatures"]["cases"]}
    raw, der, other = list(cases.values())[:3]
    r, s = int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")
    assert raw == b64u_decode(VECTORS["stamp_requests"][0]["p256_signature_b64u"])
    assert der == encode_dss_signature(r, s)
    assert other == raw[:32] + (P256_N - s).to_bytes(32, "big")
    assert {s > P256_N // 2, P256_N - s > P256_N // 2} == {True, False}, "one of them is high S"
    assert bytes.fromhex(VECTORS["p256_signatures"]["message_hex"]) == stamp_request_message(
        UUID(VECTORS["stamp_requests"][0]["card_id"]), VECTORS["stamp_requests"][0]["counter"]
    )


@pytest.mark.parametrize("case", VECTORS["p256_signatures"]["cases"], ids=lambda c: str(c["description"]))
def test_each_p256_signature_case_meets_its_outcome(case: dict[str, Any]) -> None:
    signature = b64u_decode(case["signature_b64u"])
    assert len(signature) == case["length"]
    key = load_device_key(P256["public_jwk"])
    message = bytes.fromhex(VECTORS["p256_signatures"]["message_hex"])
    if case["outcome"] == "accepted":
        key.verify(signature, message)
    else:
        assert case["outcome"] == "refused" and case["problem"] == "/problems/invalid-proof"
        with pytest.raises(InvalidSignature):
            key.verify(signature, message)


@pytest.mark.parametrize("vector", VECTORS["redemption_requests"], ids=lambda v: f"counter-{v['counter']}")
def test_each_redemption_request_message_and_signature_is_exact(vector: dict[str, Any]) -> None:
    message = redemption_request_message(UUID(vector["card_id"]), vector["counter"])
    assert message == f"punchguard-redemption-request-v1\n{vector['card_id']}\n{vector['counter']}".encode()
    _check_signed_message(vector, message)


# --- redemption codes ------------------------------------------------------------------------

CODES: dict[str, Any] = VECTORS["redemption_codes"]


@pytest.mark.parametrize("example", CODES["well_formed"], ids=lambda e: str(e["random_hex"][:8]))
def test_each_well_formed_code_follows_the_documented_layout(example: dict[str, str]) -> None:
    code = example["code"]
    assert len(code) == CODES["length"] == 28
    assert code.startswith(CODES["prefix"]) and set(code[2:]) <= set(CODES["alphabet"])
    assert CODES["pattern"] == REDEMPTION_CODE_PATTERN
    assert re.fullmatch(REDEMPTION_CODE_PATTERN, code)
    assert base64.b32decode(code[2:] + "======") == bytes.fromhex(example["random_hex"])
    assert len(bytes.fromhex(example["random_hex"])) == CODES["random_bytes"]
    assert optimal_mode(code.encode()) == MODE_ALPHA_NUM
    assert _qr_version(QRData(code.encode(), mode=MODE_ALPHA_NUM)) == CODES["qr"]["version"] == 2


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
