"""Test vectors for the stamp format and the phone's signed messages: `stamp_vectors.json`.

Every input is fixed and Ed25519 signatures are deterministic (RFC 8032), so the output
never changes unless the format does. Regenerate with

    python -m mobile_contract.vectors > mobile_contract/stamp_vectors.json

`tests/mobile_contract/test_stamp_vectors.py` fails if the committed file drifts from
this module. See `VECTORS.md` for how a mobile team uses the file.
"""

import json
from typing import Any, Literal
from uuid import UUID

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from crypto.encoding import b64u_encode
from crypto.jwk import jwk_thumbprint
from crypto.keyring import KID_LENGTH
from mobile_contract.customers import ProofPurpose, proof_message
from mobile_contract.stamps import (
    FORMAT_VERSION,
    QR_VERSION,
    SIGNING_CONTEXT,
    TEXT_LENGTH,
    Stamp,
    decode_stamp,
    device_ref,
    encode_stamp,
    stamp_request_message,
)

# Test keys only: published here, so never use them for anything else.
SERVER_PRIVATE_KEY = bytes(range(0x00, 0x20))
DEVICE_SEED = bytes(range(0x20, 0x40))

# (card id, device id, stamp id, issued at, lifetime); the last issued_at is above 2**31,
# to catch a signed 32-bit integer on the phone.
STAMPS: list[tuple[str, str, str, int, int]] = [
    (
        "5f0c9a3e-2b7d-4c61-9e84-1a2b3c4d5e6f",
        "d1e2f3a4-b5c6-4d7e-8f90-a1b2c3d4e5f6",
        "0001020304050607",
        1795435200,
        10,
    ),
    (
        "c0ffee00-1234-4abc-8def-0123456789ab",
        "7a8b9c0d-1e2f-4a3b-9c4d-5e6f7a8b9c0d",
        "a1b2c3d4e5f60718",
        1795435230,
        30,
    ),
    (
        "ffffffff-ffff-4fff-bfff-ffffffffffff",
        "00000000-0000-4000-8000-000000000001",
        "ffffffffffffffff",
        4102444800,
        120,
    ),
]
STAMP_REQUESTS: list[tuple[str, int]] = [
    ("5f0c9a3e-2b7d-4c61-9e84-1a2b3c4d5e6f", 1),
    ("c0ffee00-1234-4abc-8def-0123456789ab", 4294967296),
]
# Challenges look like the server's: 32 bytes as unpadded base64url (43 characters).
PROOFS: list[tuple[ProofPurpose, str]] = [
    ("enroll", b64u_encode(bytes(range(0x40, 0x60)))),
    ("session", b64u_encode(bytes(range(0x60, 0x80)))),
]
_BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_FLIPPED_AT = 100  # a character inside the signature (bytes 44..107)

Outcome = Literal["forged", "malformed"]


def _raw_public(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _flip(text: str, at: int) -> str:
    """Replace one character with the next one of the base32 alphabet."""
    return text[:at] + _BASE32[(_BASE32.index(text[at]) + 1) % 32] + text[at + 1 :]


def invalid_stamps(text: str) -> list[dict[str, str]]:
    """Broken copies of a valid stamp and the outcome the server gives each."""
    cases: list[tuple[str, str, Outcome]] = [
        (f"character {_FLIPPED_AT} replaced by the next base32 letter", _flip(text, _FLIPPED_AT), "forged"),
        ("last character removed", text[:-1], "malformed"),
        ("lower-cased", text.lower(), "malformed"),
    ]
    return [{"description": description, "stamp": stamp, "outcome": outcome} for description, stamp, outcome in cases]


def build() -> dict[str, Any]:
    server = Ed25519PrivateKey.from_private_bytes(SERVER_PRIVATE_KEY)
    server_public = b64u_encode(_raw_public(server))
    server_jwk = {"kty": "OKP", "crv": "Ed25519", "x": server_public}
    kid = jwk_thumbprint(server_jwk)[:KID_LENGTH]

    stamps: list[dict[str, Any]] = []
    for card_id, device_id, stamp_id, issued_at, lifetime_s in STAMPS:
        stamp = Stamp(kid, UUID(card_id), device_ref(UUID(device_id)), bytes.fromhex(stamp_id), issued_at, lifetime_s)
        text = encode_stamp(stamp, server)
        _, signed, signature = decode_stamp(text)
        stamps.append(
            {
                "card_id": card_id,
                "device_id": device_id,
                "device_ref_hex": stamp.device_ref.hex(),
                "stamp_id_hex": stamp_id,
                "issued_at": issued_at,
                "lifetime_s": lifetime_s,
                "expires_at": stamp.expires_at,
                "body_hex": stamp.body().hex(),
                "signed_message_hex": signed.hex(),
                "signature_hex": signature.hex(),
                "stamp": text,
            }
        )

    device = Ed25519PrivateKey.from_private_bytes(DEVICE_SEED)
    device_jwk = {"kty": "OKP", "crv": "Ed25519", "x": b64u_encode(_raw_public(device))}

    def signed_message(message: bytes) -> dict[str, str]:
        return {
            "message_text": message.decode(),
            "message_hex": message.hex(),
            "signature_b64u": b64u_encode(device.sign(message)),
        }

    return {
        "description": "PunchGuard stamp format and phone signature test vectors; see mobile_contract/VECTORS.md",
        "format_version": FORMAT_VERSION,
        "stamp_text_length": TEXT_LENGTH,
        "qr": {"version": QR_VERSION, "error_correction": "M", "mode": "alphanumeric"},
        "signing_context_hex": SIGNING_CONTEXT.hex(),
        "server_key": {
            "private_key_hex": SERVER_PRIVATE_KEY.hex(),
            "public_key_b64u": server_public,
            "public_jwk": server_jwk,
            "thumbprint": jwk_thumbprint(server_jwk),
            "kid": kid,
        },
        "stamps": stamps,
        "invalid_stamps": invalid_stamps(stamps[0]["stamp"]),
        "device_key": {
            "seed_hex": DEVICE_SEED.hex(),
            "public_jwk": device_jwk,
            "thumbprint": jwk_thumbprint(device_jwk),
        },
        "stamp_requests": [
            {"card_id": card_id, "counter": counter, **signed_message(stamp_request_message(UUID(card_id), counter))}
            for card_id, counter in STAMP_REQUESTS
        ],
        "proofs": [
            {"purpose": purpose, "challenge": challenge, **signed_message(proof_message(purpose, challenge))}
            for purpose, challenge in PROOFS
        ],
    }


def render() -> str:
    """The JSON file's exact text."""
    return json.dumps(build(), indent=2, ensure_ascii=True) + "\n"


if __name__ == "__main__":
    print(render(), end="")
