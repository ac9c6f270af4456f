"""Session tokens: JWTs signed by the server keyring with pyjwt, hardened per RFC 8725.

The algorithm is pinned to EdDSA, the `kid` is looked up in our own keyring only, the
`typ` header separates token kinds (an access token is never accepted as a refresh
token), and `aud`, `iss`, `exp`, `iat` and `jti` must all be present. Expiry is checked
against an injected clock rather than pyjwt's, so the server can run on simulated time.
"""

import secrets
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import jwt

from crypto.encoding import EncodingError, b64u_decode
from crypto.keyring import Keyring

ALGORITHM = "EdDSA"
REQUIRED_CLAIMS = ("aud", "iss", "exp", "iat", "jti", "sub")
LEEWAY = timedelta(seconds=5)
_VERIFIED_CACHE_SIZE = 4096


class TokenError(ValueError):
    """The token is malformed, forged, of the wrong kind or audience, or expired."""


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: str
    jti: str
    expires_at: datetime


def _check_compact(token: str) -> None:
    """Exactly three canonical unpadded base64url segments (RFC 7515 §7.1).

    pyjwt tolerates padding on the signature segment, which the signature does not cover,
    so a padded copy of a token would otherwise pass as a different string (T1).
    """
    parts = token.split(".")
    if len(parts) != 3:
        raise TokenError("malformed token")
    try:
        for part in parts:
            b64u_decode(part)
    except EncodingError as exc:
        raise TokenError("malformed token") from exc


def token_type(token: str) -> str | None:
    """The unverified `typ` header, to route a token to the right verifier; trust nothing else in it."""
    _check_compact(token)
    try:
        typ = jwt.get_unverified_header(token).get("typ")
    except jwt.PyJWTError as exc:
        raise TokenError("malformed token") from exc
    return typ if isinstance(typ, str) else None


class TokenService:
    """Issues and verifies the server's JWTs; one per process, built once at start-up."""

    def __init__(self, keyring: Keyring, issuer: str, clock: Callable[[], datetime]) -> None:
        self._keyring = keyring
        self._issuer = issuer
        self._clock = clock
        # A scanner sends the same access token with every scan: its signature is checked once
        # per process, its times on every call. Bounded, so a flood of tokens cannot grow it.
        self._verified: OrderedDict[tuple[str, str, str], dict[str, Any]] = OrderedDict()

    def issue(
        self,
        *,
        typ: str,
        audience: str,
        subject: str,
        ttl: timedelta,
        claims: Mapping[str, Any] | None = None,
        jti: str | None = None,
    ) -> IssuedToken:
        """Sign a token of kind `typ`; `jti` defaults to a fresh random id (a caller that keeps
        track of its tokens, like a refresh-token family, passes its own)."""
        now = self._clock()
        jti = jti or secrets.token_urlsafe(16)
        expires_at = now + ttl
        payload = {
            **(claims or {}),
            "iss": self._issuer,
            "aud": audience,
            "sub": subject,
            "iat": int(now.timestamp()),
            "exp": int(expires_at.timestamp()),
            "jti": jti,
        }
        token = jwt.encode(
            payload,
            self._keyring.active_private_key,
            algorithm=ALGORITHM,
            headers={"typ": typ, "kid": self._keyring.active.kid},
        )
        return IssuedToken(token, jti, datetime.fromtimestamp(payload["exp"], expires_at.tzinfo))

    def verify(self, token: str, *, typ: str, audience: str) -> dict[str, Any]:
        """Return the claims of a valid token of kind `typ` for `audience`, or raise `TokenError`."""
        cache_key = (token, typ, audience)
        claims = self._verified.get(cache_key)
        if claims is None:
            claims = self._verify_signature(token, typ=typ, audience=audience)
            self._verified[cache_key] = claims
            if len(self._verified) > _VERIFIED_CACHE_SIZE:
                self._verified.popitem(last=False)
        self._check_times(claims)
        return dict(claims)

    def _verify_signature(self, token: str, *, typ: str, audience: str) -> dict[str, Any]:
        _check_compact(token)
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise TokenError("malformed token") from exc
        # Checked before any key is used: `alg: none`, HS256 with our public key and the like
        # never reach signature verification.
        if header.get("alg") != ALGORITHM or header.get("typ") != typ:
            raise TokenError("wrong token algorithm or type")
        kid = header.get("kid")
        key = self._keyring.public_key(kid) if isinstance(kid, str) else None
        if key is None:
            raise TokenError("unknown signing key")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],
                audience=audience,
                issuer=self._issuer,
                options={
                    "require": list(REQUIRED_CLAIMS),
                    "verify_exp": False,
                    "verify_iat": False,
                    "verify_nbf": False,
                },
            )
        except jwt.PyJWTError as exc:
            raise TokenError("invalid token") from exc
        if not isinstance(claims["exp"], int) or not isinstance(claims["iat"], int):
            raise TokenError("invalid token times")
        return claims

    def _check_times(self, claims: dict[str, Any]) -> None:
        now = self._clock().timestamp()
        if now > claims["exp"] + LEEWAY.total_seconds():
            raise TokenError("token expired")
        if claims["iat"] > now + LEEWAY.total_seconds():
            raise TokenError("token issued in the future")
