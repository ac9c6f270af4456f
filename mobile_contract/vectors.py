"""Test vectors for the stamp format, the phone's signed messages and redemption codes: `stamp_vectors.json`.

Every input is fixed, Ed25519 signatures are deterministic (RFC 8032) and the P-256 ones are
made deterministic here (RFC 6979), so the output never changes unless the format does.
Regenerate with

    python -m mobile_contract.vectors > mobile_contract/stamp_vectors.json

`tests/mobile_contract/test_stamp_vectors.py` fails if the committed file drifts from
this module. See `VECTORS.md` for how a mobile team uses the file.
"""

import base64
import json
from typing import Any, Literal
from uuid import UUID

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

from crypto.encoding import b64u_encode
from crypto.jwk import P256_N, jwk_thumbprint
from crypto.keyring import KID_LENGTH
from mobile_contract.customers import ProofPurpose, proof_message
from mobile_contract.problems import Problem
from mobile_contract.redemptions import REDEMPTION_CODE_LIFETIME_S, REDEMPTION_CODE_PATTERN, redemption_request_message
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
# The P-256 key of RFC 6979 appendix A.2.5, whose deterministic signatures of "sample" and
# "test" the RFC lists: a phone team can check its RFC 6979 signer, and we ours, against them.
P256_PRIVATE_KEY = 0xC9AFA9D845BA75166B5C215767B1D6934E50C3DB36E89B127B8A622B120F6721
RFC6979_MESSAGES = ("sample", "test")

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
# The same counter sequence as the stamp requests (one per device), in the order a phone would
# send them: card 1's stamp (1), its free item (2), card 2's stamp (2^32), its free item (2^53 - 1,
# the largest counter the server takes and the largest integer a JavaScript number holds exactly).
REDEMPTION_REQUESTS: list[tuple[str, int]] = [
    ("5f0c9a3e-2b7d-4c61-9e84-1a2b3c4d5e6f", 2),
    ("c0ffee00-1234-4abc-8def-0123456789ab", 2**53 - 1),
]
# The 16 random bytes of each example redemption code; the server draws its own for every code.
REDEMPTION_CODE_BYTES = [bytes(range(0x80, 0x90)), bytes(16), b"\xff" * 16]
REDEMPTION_CODE_PREFIX = "R1"
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


def p256_private_key() -> ec.EllipticCurvePrivateKey:
    return ec.derive_private_key(P256_PRIVATE_KEY, ec.SECP256R1())


def p256_sign(message: bytes) -> tuple[int, int]:
    """RFC 6979 deterministic ECDSA P-256 with SHA-256: (r, s), the same every time."""
    der = p256_private_key().sign(message, ec.ECDSA(hashes.SHA256(), deterministic_signing=True))
    r, s = decode_dss_signature(der)
    return r, s


def p256_raw(r: int, s: int) -> bytes:
    """r||s, 32 bytes each, big-endian: IEEE P1363, what WebCrypto's ECDSA sign gives."""
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def redemption_code(random: bytes) -> str:
    """A redemption code as the server makes one from its 16 random bytes."""
    return REDEMPTION_CODE_PREFIX + base64.b32encode(random).decode("ascii").rstrip("=")


def _webcrypto(jwk: dict[str, str], alg: str | None) -> dict[str, Any]:
    """The JWK as `crypto.subtle.exportKey("jwk", publicKey)` gives it: with `ext` and `key_ops`,
    and `alg` where the platform adds one."""
    exported: dict[str, Any] = {**jwk, "ext": True, "key_ops": ["verify"]}
    return exported if alg is None else {**exported, "alg": alg}


def p256_signature_cases(message: bytes) -> list[dict[str, Any]]:
    """Spellings of one P-256 signature of `message` the server accepts, and signatures it refuses."""
    r, s = p256_sign(message)
    raw = p256_raw(r, s)
    der = encode_dss_signature(r, s)
    other_s = P256_N - s
    # BER spellings of the same (r, s): a long-form length, and a trailing byte after the sequence.
    long_form = bytes([0x30, 0x81, der[1]]) + der[2:]
    refused = Problem.INVALID_PROOF.type
    cases: list[tuple[str, bytes, str | None]] = [
        ("raw r||s, 64 bytes, as WebCrypto signs (IEEE P1363)", raw, None),
        ("the same signature in strict DER, as iOS and Android sign", der, None),
        (
            f"the same signature with the other S, (r, n - s): a {'high' if other_s > P256_N // 2 else 'low'} S",
            p256_raw(r, other_s),
            None,
        ),
        ("r = 0", p256_raw(0, s), refused),
        ("s = 0", p256_raw(r, 0), refused),
        ("r = n, the group order", P256_N.to_bytes(32, "big") + s.to_bytes(32, "big"), refused),
        ("s = n, the group order", r.to_bytes(32, "big") + P256_N.to_bytes(32, "big"), refused),
        ("63 bytes: r||s without its last byte", raw[:-1], refused),
        ("65 bytes: r||s after a zero byte", b"\x00" + raw, refused),
        ("DER with a long-form length (BER, a second spelling)", long_form, refused),
        ("DER followed by a stray zero byte", der + b"\x00", refused),
        ("r||s with its last byte changed: does not verify", raw[:-1] + bytes([raw[-1] ^ 1]), refused),
    ]
    return [
        {
            "description": description,
            "signature_b64u": b64u_encode(signature),
            "length": len(signature),
            "outcome": "refused" if problem else "accepted",
            **({"problem": problem} if problem else {}),
        }
        for description, signature, problem in cases
    ]


def redemption_codes(stamp: str) -> dict[str, Any]:
    """The code's format: examples of it, and text the server refuses at the till (`stamp`: a stamp's text)."""
    examples = [{"random_hex": random.hex(), "code": redemption_code(random)} for random in REDEMPTION_CODE_BYTES]
    code = examples[0]["code"]
    invalid, not_a_request = Problem.REDEMPTION_CODE_INVALID, Problem.INVALID_REQUEST
    malformed: list[tuple[str, str, Problem]] = [
        ("empty", "", invalid),
        ("27 characters: the last one removed", code[:-1], invalid),
        ("29 characters: one more base32 letter", code + "A", invalid),
        ("another format version: R2", "R2" + code[2:], invalid),
        (f"the digit 0 in place of {code[10]}: base32 has no 0, 1, 8 or 9", code[:10] + "0" + code[11:], invalid),
        ("with the base32 padding the server leaves off", code + "======", invalid),
        ("a space in the middle", code[:14] + " " + code[14:], invalid),
        ("a stamp posted as a code: over 64 characters", stamp, not_a_request),
    ]
    return {
        "prefix": REDEMPTION_CODE_PREFIX,
        "length": len(code),
        "alphabet": _BASE32,
        "random_bytes": 16,
        "pattern": REDEMPTION_CODE_PATTERN,
        "lifetime_s": REDEMPTION_CODE_LIFETIME_S,
        "qr": {"version": 2, "error_correction": "M", "mode": "alphanumeric"},
        "well_formed": examples,
        "read_as_the_same_code": [
            {"description": "lower-cased", "code": code.lower()},
            {"description": "with the CR LF a keyboard-wedge scanner appends", "code": code + "\r\n"},
        ],
        "malformed": [
            {"description": description, "code": text, "problem": problem.type, "status": problem.status}
            for description, text, problem in malformed
        ],
    }


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
    p256_public = p256_private_key().public_key().public_numbers()
    p256_jwk = {
        "kty": "EC",
        "crv": "P-256",
        "x": b64u_encode(p256_public.x.to_bytes(32, "big")),
        "y": b64u_encode(p256_public.y.to_bytes(32, "big")),
    }

    def signed_message(message: bytes) -> dict[str, str]:
        r, s = p256_sign(message)
        return {
            "message_text": message.decode(),
            "message_hex": message.hex(),
            "signature_b64u": b64u_encode(device.sign(message)),
            "p256_signature_b64u": b64u_encode(p256_raw(r, s)),
            "p256_signature_der_b64u": b64u_encode(encode_dss_signature(r, s)),
        }

    def rfc6979(text: str) -> dict[str, str]:
        r, s = p256_sign(text.encode())
        return {
            "message_text": text,
            "r_hex": f"{r:064x}",
            "s_hex": f"{s:064x}",
            "signature_b64u": b64u_encode(p256_raw(r, s)),
        }

    first_request = stamp_request_message(UUID(STAMP_REQUESTS[0][0]), STAMP_REQUESTS[0][1])

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
            "webcrypto_public_jwks": [_webcrypto(device_jwk, "Ed25519"), _webcrypto(device_jwk, None)],
            "thumbprint": jwk_thumbprint(device_jwk),
        },
        "p256_device_key": {
            "source": "RFC 6979, appendix A.2.5 (a published test key)",
            "private_key_hex": f"{P256_PRIVATE_KEY:064x}",
            "public_jwk": p256_jwk,
            "webcrypto_public_jwks": [_webcrypto(p256_jwk, None), _webcrypto(p256_jwk, "ES256")],
            "thumbprint": jwk_thumbprint(p256_jwk),
            "rfc6979": [rfc6979(text) for text in RFC6979_MESSAGES],
        },
        "refused_public_jwks": [
            {
                "description": "an unknown member (use)",
                "jwk": {**p256_jwk, "use": "sig"},
                "problem": Problem.INVALID_REQUEST.type,
            },
            {
                "description": "key_ops as a string, not a list",
                "jwk": {**_webcrypto(device_jwk, None), "key_ops": "verify"},
                "problem": Problem.INVALID_REQUEST.type,
            },
            {
                "description": "the private key (d) sent with the public key",
                "jwk": {**p256_jwk, "d": b64u_encode(P256_PRIVATE_KEY.to_bytes(32, "big"))},
                "problem": Problem.INVALID_REQUEST.type,
            },
        ],
        "stamp_requests": [
            {"card_id": card_id, "counter": counter, **signed_message(stamp_request_message(UUID(card_id), counter))}
            for card_id, counter in STAMP_REQUESTS
        ],
        "redemption_requests": [
            {
                "card_id": card_id,
                "counter": counter,
                **signed_message(redemption_request_message(UUID(card_id), counter)),
            }
            for card_id, counter in REDEMPTION_REQUESTS
        ],
        "proofs": [
            {"purpose": purpose, "challenge": challenge, **signed_message(proof_message(purpose, challenge))}
            for purpose, challenge in PROOFS
        ],
        "p256_signatures": {
            "message_hex": first_request.hex(),
            "cases": p256_signature_cases(first_request),
        },
        "redemption_codes": redemption_codes(stamps[0]["stamp"]),
    }


def render() -> str:
    """The JSON file's exact text."""
    return json.dumps(build(), indent=2, ensure_ascii=True) + "\n"


if __name__ == "__main__":
    print(render(), end="")
