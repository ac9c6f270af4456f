"""The server's Ed25519 signing keys, kept in a file outside the database.

An insider who can edit the database must not be able to sign (T10), so the private
keys live in their own owner-only file. Rotation adds a new active key and keeps only
the public half of the old ones, so everything they signed still verifies.
"""

import json
import os
import stat
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from crypto.encoding import b64u_decode, b64u_encode
from crypto.jwk import jwk_thumbprint

KID_LENGTH = 8  # characters of the RFC 7638 thumbprint; short because stamps carry it in a QR code


class KeyringError(RuntimeError):
    """The keyring file is missing, unreadable, malformed or readable by others."""


@dataclass(frozen=True, slots=True)
class ServerKey:
    kid: str
    public_key: Ed25519PublicKey
    private_key: Ed25519PrivateKey | None
    created_at: datetime

    @property
    def public_jwk(self) -> dict[str, str]:
        raw = self.public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return {"kty": "OKP", "crv": "Ed25519", "x": b64u_encode(raw), "kid": self.kid, "alg": "EdDSA", "use": "sig"}


def _kid(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return jwk_thumbprint({"kty": "OKP", "crv": "Ed25519", "x": b64u_encode(raw)})[:KID_LENGTH]


def _new_key(now: datetime) -> ServerKey:
    private = Ed25519PrivateKey.generate()
    return ServerKey(_kid(private.public_key()), private.public_key(), private, now)


class Keyring:
    """Signing keys by `kid`; exactly one active key signs, every key verifies."""

    def __init__(self, keys: list[ServerKey], active_kid: str) -> None:
        self._keys = {key.kid: key for key in keys}
        active = self._keys.get(active_kid)
        if active is None or active.private_key is None:
            raise KeyringError("the active key is missing or has no private half")
        self.active = active
        self._active_private: Ed25519PrivateKey = active.private_key

    def __iter__(self) -> Iterator[ServerKey]:
        return iter(self._keys.values())

    def public_key(self, kid: str) -> Ed25519PublicKey | None:
        """The public key for `kid`, or None: a `kid` is looked up, never trusted (RFC 8725)."""
        key = self._keys.get(kid)
        return key.public_key if key else None

    def sign(self, data: bytes) -> bytes:
        return self._active_private.sign(data)

    @property
    def active_private_key(self) -> Ed25519PrivateKey:
        return self._active_private

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        """The public keys as a JWK Set (RFC 7517 §5), active key first."""
        ordered = [self.active, *(k for k in self._keys.values() if k.kid != self.active.kid)]
        return {"keys": [key.public_jwk for key in ordered]}

    # --- file storage -------------------------------------------------------------

    def _to_json(self) -> bytes:
        entries: list[dict[str, Any]] = []
        for key in self._keys.values():
            entry: dict[str, Any] = {
                "kid": key.kid,
                "created_at": key.created_at.isoformat(),
                "public": b64u_encode(
                    key.public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
                ),
            }
            if key.private_key is not None:
                entry["private"] = b64u_encode(
                    key.private_key.private_bytes(
                        serialization.Encoding.Raw,
                        serialization.PrivateFormat.Raw,
                        serialization.NoEncryption(),
                    )
                )
            entries.append(entry)
        return json.dumps({"active": self.active.kid, "keys": entries}, indent=2).encode()

    @classmethod
    def _from_json(cls, data: bytes) -> "Keyring":
        try:
            doc = json.loads(data)
            keys = []
            for entry in doc["keys"]:
                private = (
                    Ed25519PrivateKey.from_private_bytes(b64u_decode(entry["private"])) if "private" in entry else None
                )
                public = Ed25519PublicKey.from_public_bytes(b64u_decode(entry["public"]))
                if private is not None and private.public_key() != public:
                    raise KeyringError(f"key {entry['kid']}: private and public halves differ")
                if _kid(public) != entry["kid"]:
                    raise KeyringError(f"key {entry['kid']}: kid does not match the key")
                keys.append(ServerKey(entry["kid"], public, private, datetime.fromisoformat(entry["created_at"])))
            return cls(keys, doc["active"])
        except (KeyError, TypeError, ValueError) as exc:
            raise KeyringError(f"malformed keyring file: {exc}") from exc


def _write_private(path: Path, data: bytes, *, replace: bool) -> bool:
    """Write `data` to `path` readable by its owner only; False if it existed and not `replace`."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    # mkstemp: a fresh name per writer (threads and containers can share a pid), created 0600.
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    tmp = Path(tmp_name)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        if replace:
            os.replace(tmp, path)
            return True
        try:
            # link() fails if the file exists, so two workers starting at once agree on one keyring.
            os.link(tmp, path)
            return True
        except FileExistsError:
            return False
    finally:
        tmp.unlink(missing_ok=True)


def load_keyring(path: Path) -> Keyring:
    """Read the keyring, refusing a file that anyone but its owner can read or write."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError as exc:
        raise KeyringError(f"no keyring at {path}: run `python -m api init`") from exc
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyringError(f"{path} is readable by others (mode {oct(mode & 0o777)}); chmod 600 it")
    return Keyring._from_json(path.read_bytes())


def load_or_create_keyring(path: Path, now: datetime | None = None) -> Keyring:
    """Load the keyring, creating it with one fresh key on first start."""
    if not path.exists():
        key = _new_key(now or datetime.now(UTC))
        _write_private(path, Keyring([key], key.kid)._to_json(), replace=False)
    return load_keyring(path)


def rotate_keyring(path: Path, now: datetime | None = None) -> Keyring:
    """Make a new active key; retired keys keep their public half only, so old signatures verify."""
    old = load_keyring(path)
    fresh = _new_key(now or datetime.now(UTC))
    retired = [ServerKey(k.kid, k.public_key, None, k.created_at) for k in old]
    ring = Keyring([fresh, *retired], fresh.kid)
    _write_private(path, ring._to_json(), replace=True)
    return ring
