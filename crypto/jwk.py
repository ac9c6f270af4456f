"""Public keys as JWKs (RFC 7517): parsing, thumbprints (RFC 7638) and signature checks.

Phones send their keys as JWKs because both platforms can export them that way and
DPoP (RFC 9449) does the same. Two algorithms are accepted: Ed25519 and ECDSA P-256,
the only curve an iPhone's Secure Enclave can hold.

Loading and verifying are strict, because OpenSSL (under `cryptography`) is not: it takes
any 32 bytes as an Ed25519 key and its Ed25519 verify is cofactorless, so a small-order key
accepts a fixed signature for every message. The policy, and why:

Ed25519 public keys (`load_device_key`; it also runs every time a stored key is read back,
so the point check is cached on the 32 raw bytes, see `crypto.edwards25519`):
  - the encoding must be canonical: the y coordinate (the low 255 bits, little-endian) must be
    below p = 2^255 - 19, and x = 0 with the sign bit set ("negative zero") is refused. Otherwise
    one point has several spellings, and each would pass as a different phone;
  - it must be a point on the curve;
  - it must not be of small order (order 1, 2, 4 or 8, i.e. [8]P is the identity): anyone can
    make a signature that verifies under such a key;
  - it must lie in the prime-order subgroup ([L]P is the identity). Every honest key is [a]B and
    passes; a key with a small-order part makes cofactored and cofactorless verifiers disagree
    about which signatures are valid.
  So one point has exactly one accepted spelling, and its RFC 7638 thumbprint names one device.

Ed25519 signatures (`DevicePublicKey.verify`): exactly 64 bytes; S must be below the group
order L (S + L is the same signature spelled twice: malleable); R must be canonically encoded
and not a small-order point (a byte comparison, no curve arithmetic per signature); then OpenSSL
checks the equation, and refuses an R that is not on the curve.

P-256 public keys: x and y are exactly 32 bytes each and both below the field prime p (a
coordinate of p or more is another spelling of a smaller number); this is checked here, before
OpenSSL, whose `from_encoded_point` then checks that the point is on the curve. P-256 has
cofactor 1, so there is no subgroup to check.

P-256 signatures come as raw 64-byte r||s (JOSE, WebCrypto) or as strict DER (the iOS and
Android default). r and s must be in [1, n-1]. DER must be the one distinguished encoding: BER
variants (long-form lengths, leading zeros, indefinite lengths, trailing bytes) are refused,
here by re-encoding and comparing bytes, whatever the OpenSSL build does. A 64-byte signature
is always read as r||s; a DER signature of exactly 64 bytes would need r and s together under
about 2^464, which a phone does not produce.

High-S P-256 signatures (s > n/2) are accepted. Phones (WebCrypto, CryptoKit, Android Keystore)
do not produce low-S signatures, so refusing high S would refuse about half of honest
signatures; and nothing in PunchGuard uses a signature's bytes as an identifier (the signed
counter is what makes a request single-use), so the second spelling (r, n - s) of a signature
gives an attacker nothing. ECDSA verifies (r, s) exactly when it verifies (r, n - s), so
accepting is the same as normalising to low S.

Every refusal raises `InvalidKey` or `InvalidSignature` with a message that says in plain words
why; the key's message is shown to a café owner in a flag.
"""

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from cryptography.exceptions import InvalidSignature as _CryptoInvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

from crypto import edwards25519
from crypto.edwards25519 import Defect
from crypto.encoding import EncodingError, b64u_decode, b64u_encode

KeyAlgorithm = Literal["Ed25519", "ES256"]

P256_P = 2**256 - 2**224 + 2**192 + 2**96 - 1
"""The P-256 field prime."""
P256_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
"""The order of the P-256 group."""

ED25519_KEY_REFUSALS: Mapping[Defect, str] = {
    Defect.Y_NOT_REDUCED: (
        "the Ed25519 key is not written in its canonical form: its y coordinate is 2^255-19 or more, "
        "so it is a second spelling of another key"
    ),
    Defect.NEGATIVE_ZERO: (
        'the Ed25519 key is not written in its canonical form: it sets the sign of a zero x ("negative zero"), '
        "so it is a second spelling of another key"
    ),
    Defect.NOT_ON_CURVE: "the Ed25519 key is not a point on the curve, so no phone can sign with it",
    Defect.SMALL_ORDER: "the Ed25519 key is a small-order point: anyone can make a signature that verifies under it",
    Defect.MIXED_ORDER: (
        "the Ed25519 key is outside the prime-order subgroup: no phone makes such a key, "
        "and verifiers disagree about which signatures are valid under it"
    ),
}
"""Why an Ed25519 key is refused, in the words an owner reads."""

ED25519_R_REFUSALS: Mapping[Defect, str] = {
    Defect.Y_NOT_REDUCED: "the Ed25519 signature's R is not written in its canonical form",
    Defect.NEGATIVE_ZERO: "the Ed25519 signature's R is not written in its canonical form",
    Defect.SMALL_ORDER: "the Ed25519 signature's R is a small-order point",
}


class InvalidKey(ValueError):
    """The JWK is malformed, of an unsupported type, or not a key PunchGuard trusts (see the module)."""


class InvalidSignature(ValueError):
    """The signature is malformed, not in its one accepted encoding, or does not verify."""


def jwk_thumbprint(jwk: Mapping[str, str]) -> str:
    """RFC 7638 SHA-256 thumbprint over the required members only, in lexicographic order."""
    if jwk.get("kty") == "OKP":
        members = {"crv": jwk["crv"], "kty": "OKP", "x": jwk["x"]}
    elif jwk.get("kty") == "EC":
        members = {"crv": jwk["crv"], "kty": "EC", "x": jwk["x"], "y": jwk["y"]}
    else:
        raise InvalidKey("unsupported key type")
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True).encode()
    return b64u_encode(hashlib.sha256(canonical).digest())


@dataclass(frozen=True, slots=True)
class DevicePublicKey:
    """A phone's public key, checked to be a key PunchGuard trusts, with its RFC 7638 thumbprint."""

    algorithm: KeyAlgorithm
    jwk: Mapping[str, str]
    thumbprint: str
    _key: Ed25519PublicKey | ec.EllipticCurvePublicKey

    def verify(self, signature: bytes, message: bytes) -> None:
        """Raise `InvalidSignature` unless `signature` signs `message` under this key.

        ES256 signatures are accepted as JOSE's raw 64-byte r||s or as strict ASN.1 DER,
        which is what iOS and Android produce by default.
        """
        try:
            if isinstance(self._key, Ed25519PublicKey):
                _check_ed25519_signature(signature)
                self._key.verify(signature, message)
            else:
                self._key.verify(_es256_der(signature), message, ec.ECDSA(hashes.SHA256()))
        except (_CryptoInvalidSignature, ValueError) as exc:
            if isinstance(exc, InvalidSignature):
                raise
            raise InvalidSignature("signature does not verify") from exc


def _check_ed25519_signature(signature: bytes) -> None:
    """Refuse an Ed25519 signature that is not in its one canonical form, before OpenSSL sees it."""
    if len(signature) != 64:
        raise InvalidSignature("an Ed25519 signature is 64 bytes")
    if int.from_bytes(signature[32:], "little") >= edwards25519.L:
        raise InvalidSignature(
            "the Ed25519 signature's S is not below the group order, so it is a second spelling of another signature"
        )
    defect = edwards25519.signature_r_defect(signature[:32])
    if defect is not None:
        raise InvalidSignature(ED25519_R_REFUSALS[defect])


def _es256_der(signature: bytes) -> bytes:
    """The strict DER form of a raw r||s or DER ES256 signature, once r and s are in range."""
    not_der = "the P-256 signature is neither 64 bytes of r||s nor in strict DER (BER variants are refused)"
    if len(signature) == 64:
        r = int.from_bytes(signature[:32], "big")
        s = int.from_bytes(signature[32:], "big")
    else:
        try:
            # The parser under decode_dss_signature is already strict DER; the comparison below
            # keeps the guarantee if that ever changes, since BER is a second spelling of (r, s).
            r, s = decode_dss_signature(signature)
        except ValueError as exc:
            raise InvalidSignature(not_der) from exc
    if not (1 <= r < P256_N and 1 <= s < P256_N):
        raise InvalidSignature("the P-256 signature's r and s must each be between 1 and the group order minus 1")
    der = encode_dss_signature(r, s)
    if len(signature) != 64 and der != signature:
        raise InvalidSignature(not_der)
    return der


def _load_ed25519(x: str) -> Ed25519PublicKey:
    raw = b64u_decode(x)
    if len(raw) != 32:
        raise InvalidKey("Ed25519 keys are 32 bytes")
    defect = edwards25519.public_key_defect(raw)
    if defect is not None:
        raise InvalidKey(ED25519_KEY_REFUSALS[defect])
    return Ed25519PublicKey.from_public_bytes(raw)


def _load_p256(x_text: str, y_text: str) -> ec.EllipticCurvePublicKey:
    x, y = b64u_decode(x_text), b64u_decode(y_text)
    if len(x) != 32 or len(y) != 32:
        raise InvalidKey("P-256 coordinates are 32 bytes")
    for name, coordinate in (("x", x), ("y", y)):
        if int.from_bytes(coordinate, "big") >= P256_P:
            raise InvalidKey(
                f"the P-256 key's {name} coordinate is not below the field prime, "
                "so it is a second spelling of another key"
            )
    try:
        # from_encoded_point checks that the point lies on the curve.
        return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b"\x04" + x + y)
    except ValueError as exc:
        raise InvalidKey("the P-256 key is not a point on the curve") from exc


def load_device_key(jwk: Mapping[str, str]) -> DevicePublicKey:
    """Parse and validate a phone's public JWK; raise `InvalidKey` for anything but a key PunchGuard trusts."""
    try:
        if jwk.get("kty") == "OKP" and jwk.get("crv") == "Ed25519":
            key: Ed25519PublicKey | ec.EllipticCurvePublicKey = _load_ed25519(jwk["x"])
            algorithm: KeyAlgorithm = "Ed25519"
            members = {"kty": "OKP", "crv": "Ed25519", "x": jwk["x"]}
        elif jwk.get("kty") == "EC" and jwk.get("crv") == "P-256":
            key = _load_p256(jwk["x"], jwk["y"])
            algorithm = "ES256"
            members = {"kty": "EC", "crv": "P-256", "x": jwk["x"], "y": jwk["y"]}
        else:
            raise InvalidKey("only Ed25519 (OKP) and P-256 (EC) keys are accepted")
    except (KeyError, EncodingError, TypeError) as exc:
        raise InvalidKey("malformed public key") from exc
    if "d" in jwk:
        raise InvalidKey("a private key was sent; send only the public key")
    return DevicePublicKey(algorithm, members, jwk_thumbprint(members), key)
