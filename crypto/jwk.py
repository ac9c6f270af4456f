"""Public keys as JWKs (RFC 7517): parsing, thumbprints (RFC 7638) and signature checks.

Phones send their keys as JWKs because both platforms can export them that way and
DPoP (RFC 9449) does the same. Two algorithms are accepted: Ed25519 and ECDSA P-256,
the only curve an iPhone's Secure Enclave can hold.
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
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from crypto.encoding import EncodingError, b64u_decode, b64u_encode

KeyAlgorithm = Literal["Ed25519", "ES256"]


class InvalidKey(ValueError):
    """The JWK is malformed, of an unsupported type, or not a point on its curve."""


class InvalidSignature(ValueError):
    """The signature does not verify under the key."""


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
    """A phone's public key, checked to be a valid point, with its RFC 7638 thumbprint."""

    algorithm: KeyAlgorithm
    jwk: Mapping[str, str]
    thumbprint: str
    _key: Ed25519PublicKey | ec.EllipticCurvePublicKey

    def verify(self, signature: bytes, message: bytes) -> None:
        """Raise `InvalidSignature` unless `signature` signs `message` under this key.

        ES256 signatures are accepted as JOSE's raw 64-byte r||s or as ASN.1 DER,
        which is what iOS and Android produce by default.
        """
        try:
            if isinstance(self._key, Ed25519PublicKey):
                self._key.verify(signature, message)
                return
            if len(signature) == 64:
                r = int.from_bytes(signature[:32], "big")
                s = int.from_bytes(signature[32:], "big")
                signature = encode_dss_signature(r, s)
            self._key.verify(signature, message, ec.ECDSA(hashes.SHA256()))
        except (_CryptoInvalidSignature, ValueError) as exc:
            raise InvalidSignature("signature does not verify") from exc


def load_device_key(jwk: Mapping[str, str]) -> DevicePublicKey:
    """Parse and validate a phone's public JWK; raise `InvalidKey` for anything but a usable key."""
    try:
        if jwk.get("kty") == "OKP" and jwk.get("crv") == "Ed25519":
            raw = b64u_decode(jwk["x"])
            if len(raw) != 32:
                raise InvalidKey("Ed25519 keys are 32 bytes")
            key: Ed25519PublicKey | ec.EllipticCurvePublicKey = Ed25519PublicKey.from_public_bytes(raw)
            algorithm: KeyAlgorithm = "Ed25519"
            members = {"kty": "OKP", "crv": "Ed25519", "x": jwk["x"]}
        elif jwk.get("kty") == "EC" and jwk.get("crv") == "P-256":
            x, y = b64u_decode(jwk["x"]), b64u_decode(jwk["y"])
            if len(x) != 32 or len(y) != 32:
                raise InvalidKey("P-256 coordinates are 32 bytes")
            # from_encoded_point checks that the point lies on the curve.
            key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b"\x04" + x + y)
            algorithm = "ES256"
            members = {"kty": "EC", "crv": "P-256", "x": jwk["x"], "y": jwk["y"]}
        else:
            raise InvalidKey("only Ed25519 (OKP) and P-256 (EC) keys are accepted")
    except (KeyError, EncodingError, ValueError) as exc:
        if isinstance(exc, InvalidKey):
            raise
        raise InvalidKey("malformed public key") from exc
    if "d" in jwk:
        raise InvalidKey("a private key was sent; send only the public key")
    return DevicePublicKey(algorithm, members, jwk_thumbprint(members), key)
