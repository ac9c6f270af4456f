"""Customer enrollment with a phone key, device sessions and cards.

A phone proves it holds its private key by signing `proof_message(purpose, challenge)`
with it, where the challenge is a fresh single-use value from `POST /v1/challenges`.

Keys and signatures are checked strictly (`crypto/jwk.py` has the reasons): an Ed25519 key
must be the canonical encoding of a point of the prime-order subgroup (a key generated the
usual way always is; small-order and non-canonical keys are `invalid-public-key`); an
Ed25519 signature must have S below the group order and a canonical R. A P-256 key's x and y
are 32 bytes each, below the field prime, on the curve; a P-256 signature is raw r||s (64
bytes, as WebCrypto gives it) or strict DER (as iOS and Android give it), with r and s in
[1, n-1]; high S is accepted.

A key may be sent exactly as WebCrypto's `crypto.subtle.exportKey("jwk", publicKey)` gives it:
its `ext`, `key_ops` and (on some platforms) `alg` members are accepted and ignored. They say
how the exporting app may use its own copy of the key, nothing about which key it is, so they
change neither the device's identity (the RFC 7638 thumbprint covers only `kty`, `crv`, `x` and
`y`) nor which algorithm verifies it (`kty` and `crv` decide that, whatever `alg` says). Any
other member is refused as an unknown field, a private `d` included.
"""

import datetime as dt
from typing import Annotated, Literal

import msgspec
from msgspec import UNSET, UnsetType

from mobile_contract.base import Email, Id, Name, Phone, Timestamp, Wire

ProofPurpose = Literal["enroll", "session"]
B64Url = Annotated[str, msgspec.Meta(min_length=1, max_length=512, pattern=r"^[A-Za-z0-9_-]+$")]
# WebCrypto's export members (RFC 7517 section 4): bounded, typed, and otherwise ignored.
_IGNORED = (
    "; accepted and ignored: it changes neither the device's identity (its RFC 7638 thumbprint) "
    "nor how its signatures are checked"
)
Extractable = Annotated[bool, msgspec.Meta(description="WebCrypto's `ext`" + _IGNORED)]
KeyOperations = Annotated[
    list[Annotated[str, msgspec.Meta(min_length=1, max_length=32)]],
    msgspec.Meta(max_length=8, description="WebCrypto's `key_ops`" + _IGNORED),
]
JwkAlgorithm = Annotated[str, msgspec.Meta(min_length=1, max_length=32, description="`alg`" + _IGNORED)]


def proof_message(purpose: ProofPurpose, challenge: str) -> bytes:
    """The exact bytes a phone signs: a purpose label keeps a proof for one use from serving another."""
    return f"punchguard-proof-v1\n{purpose}\n{challenge}".encode()


class Challenge(Wire, frozen=True, kw_only=True):
    challenge: str
    expires_at: Timestamp


class OkpKey(Wire, frozen=True, kw_only=True, tag_field="kty", tag="OKP"):
    """An Ed25519 public key as a JWK (RFC 8037).

    Send it as WebCrypto exports it if you like: `ext`, `key_ops` and `alg` (e.g. `"Ed25519"`)
    are accepted and ignored; they change neither the device's identity (its RFC 7638
    thumbprint) nor how its signatures are checked. Any other member is refused."""

    crv: Literal["Ed25519"]
    x: B64Url
    ext: Extractable | UnsetType = UNSET
    key_ops: KeyOperations | UnsetType = UNSET
    alg: JwkAlgorithm | UnsetType = UNSET


class EcKey(Wire, frozen=True, kw_only=True, tag_field="kty", tag="EC"):
    """A P-256 public key as a JWK (RFC 7518), e.g. from an iPhone's Secure Enclave or WebCrypto.

    Send it as WebCrypto exports it if you like: `ext`, `key_ops` and `alg` (e.g. `"ES256"`)
    are accepted and ignored; they change neither the device's identity (its RFC 7638
    thumbprint) nor how its signatures are checked. Any other member is refused."""

    crv: Literal["P-256"]
    x: B64Url
    y: B64Url
    ext: Extractable | UnsetType = UNSET
    key_ops: KeyOperations | UnsetType = UNSET
    alg: JwkAlgorithm | UnsetType = UNSET


PublicKey = OkpKey | EcKey
# What enrollment sends, and what the OpenAPI document says of it (it shows no struct docstrings).
EnrolledKey = Annotated[
    PublicKey,
    msgspec.Meta(
        description=(
            "The device's public key as a JWK: Ed25519 (`OKP`) or P-256 (`EC`). It may be sent as WebCrypto's "
            '`exportKey("jwk")` gives it: `ext`, `key_ops` and `alg` are accepted and ignored (the key\'s identity '
            "is its RFC 7638 thumbprint); any other member is refused."
        )
    ),
]


class Enrollment(Wire, frozen=True, kw_only=True):
    """Only the key and its proof are required; contact details and birthday are optional."""

    challenge: B64Url
    public_key: EnrolledKey
    signature: B64Url
    display_name: Name | None = None
    email: Email | None = None
    phone: Phone | None = None
    birthday: dt.date | None = None


class DeviceSessionRequest(Wire, frozen=True, kw_only=True):
    """A bound phone signs in again by signing a fresh challenge with its key."""

    device_id: Id
    challenge: B64Url
    signature: B64Url


class DeviceSession(Wire, frozen=True, kw_only=True):
    customer_id: Id
    device_id: Id
    session_token: str
    expires_at: Timestamp
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105


class Customer(Wire, frozen=True, kw_only=True):
    id: Id
    display_name: str | None
    email: str | None
    phone: str | None
    birthday: dt.date | None
    created_at: Timestamp


class JoinProgram(Wire, frozen=True, kw_only=True):
    program_id: Id


class Card(Wire, frozen=True, kw_only=True):
    id: Id
    program_id: Id
    program_name: str
    reward_name: str
    punches_per_reward: int
    status: Literal["active", "frozen", "closed"]
    created_at: Timestamp
