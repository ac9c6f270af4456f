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
"""

import datetime as dt
from typing import Annotated, Literal

import msgspec

from mobile_contract.base import Email, Id, Name, Phone, Timestamp, Wire

ProofPurpose = Literal["enroll", "session"]
B64Url = Annotated[str, msgspec.Meta(min_length=1, max_length=512, pattern=r"^[A-Za-z0-9_-]+$")]


def proof_message(purpose: ProofPurpose, challenge: str) -> bytes:
    """The exact bytes a phone signs: a purpose label keeps a proof for one use from serving another."""
    return f"punchguard-proof-v1\n{purpose}\n{challenge}".encode()


class Challenge(Wire, frozen=True, kw_only=True):
    challenge: str
    expires_at: Timestamp


class OkpKey(Wire, frozen=True, kw_only=True, tag_field="kty", tag="OKP"):
    """An Ed25519 public key as a JWK (RFC 8037)."""

    crv: Literal["Ed25519"]
    x: B64Url


class EcKey(Wire, frozen=True, kw_only=True, tag_field="kty", tag="EC"):
    """A P-256 public key as a JWK (RFC 7518), e.g. from an iPhone's Secure Enclave."""

    crv: Literal["P-256"]
    x: B64Url
    y: B64Url


PublicKey = OkpKey | EcKey


class Enrollment(Wire, frozen=True, kw_only=True):
    """Only the key and its proof are required; contact details and birthday are optional."""

    challenge: B64Url
    public_key: PublicKey
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
