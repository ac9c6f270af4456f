"""The stamp: the short-lived, single-use code a phone shows as a QR for the cashier to scan.

Binary layout (108 bytes), then RFC 4648 base32 without padding (173 characters), which
QR's alphanumeric mode packs at 5.5 bits a character: version 7 at error correction M
holds 178, where a pyjwt EdDSA JWT would need version 10.

    offset size field
    0      1    format version (1)
    1      6    kid: the server key's id, base64url-decoded (8 characters -> 6 bytes)
    7      16   card id (UUID bytes)
    23     8    first 8 bytes of the id of the device it was issued to
    31     8    stamp id: random, unique; a database constraint makes it single-use
    39     4    issued at, Unix seconds, big-endian
    43     1    lifetime in seconds (10..120)
    44     64   Ed25519 signature by the server key over SIGNING_CONTEXT + bytes 0..43

The signature covers a context label that is never sent, so no other signature the
server makes (tokens, ledger entries) can pass for a stamp. `stamp_vectors.json` holds
test vectors: a key, the inputs and the exact expected string.
"""

import base64
import binascii
import struct
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from crypto.encoding import EncodingError, b64u_decode, b64u_encode

FORMAT_VERSION = 1
SIGNING_CONTEXT = b"punchguard-stamp-v1\n"
QR_VERSION = 7  # the stamp always fits version 7 at error correction M
_BODY = struct.Struct(">B6s16s8s8sIB")
SIZE = _BODY.size + 64
TEXT_LENGTH = 173


class StampError(ValueError):
    """The text is not a well-formed stamp, or its signature does not verify."""


@dataclass(frozen=True, slots=True)
class Stamp:
    kid: str
    card_id: UUID
    device_ref: bytes  # first 8 bytes of the device id
    stamp_id: bytes
    issued_at: int
    lifetime_s: int

    @property
    def expires_at(self) -> int:
        return self.issued_at + self.lifetime_s

    @property
    def issued_at_datetime(self) -> datetime:
        return datetime.fromtimestamp(self.issued_at, UTC)

    @property
    def expires_at_datetime(self) -> datetime:
        return self.issued_at_datetime + timedelta(seconds=self.lifetime_s)

    def body(self) -> bytes:
        try:
            kid = b64u_decode(self.kid)
        except EncodingError as exc:
            raise StampError("kid is not base64url") from exc
        return _BODY.pack(
            FORMAT_VERSION, kid, self.card_id.bytes, self.device_ref, self.stamp_id, self.issued_at, self.lifetime_s
        )


def device_ref(device_id: UUID) -> bytes:
    return device_id.bytes[:8]


def encode_stamp(stamp: Stamp, key: Ed25519PrivateKey) -> str:
    """Sign and encode a stamp as the 173-character text the QR code carries."""
    body = stamp.body()
    signature = key.sign(SIGNING_CONTEXT + body)
    return base64.b32encode(body + signature).decode("ascii").rstrip("=")


def decode_stamp(text: str) -> tuple[Stamp, bytes, bytes]:
    """Parse a stamp without trusting it: returns the stamp, the signed bytes and the signature.

    Raises `StampError` for anything but exactly one well-formed stamp: wrong length,
    padding, lower case, stray characters or an unknown format version.
    """
    if len(text) != TEXT_LENGTH or not text.isascii():
        raise StampError("a stamp is 173 base32 characters")
    try:
        raw = base64.b32decode(text + "===")
    except (binascii.Error, ValueError) as exc:
        raise StampError("a stamp is base32") from exc
    if len(raw) != SIZE or base64.b32encode(raw).decode("ascii").rstrip("=") != text:
        raise StampError("a stamp is canonical base32")
    version, kid, card, device, stamp_id, issued_at, lifetime = _BODY.unpack_from(raw)
    if version != FORMAT_VERSION:
        raise StampError("unknown stamp format version")
    stamp = Stamp(b64u_encode(kid), UUID(bytes=card), device, stamp_id, issued_at, lifetime)
    return stamp, SIGNING_CONTEXT + raw[: _BODY.size], raw[_BODY.size :]


def verify_stamp_signature(public_key: Ed25519PublicKey, signed: bytes, signature: bytes) -> None:
    try:
        public_key.verify(signature, signed)
    except InvalidSignature as exc:
        raise StampError("stamp signature does not verify") from exc


def stamp_request_message(card_id: UUID, counter: int) -> bytes:
    """The bytes a phone signs to ask for a stamp: the card and a strictly increasing counter.

    As with WebAuthn's signCount, a counter that repeats or goes back reveals a cloned key.
    """
    return f"punchguard-stamp-request-v1\n{card_id}\n{counter}".encode()
