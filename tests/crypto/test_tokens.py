"""Session JWTs: what the server issues verifies, and every forged or misused token is refused (T1)."""

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from crypto.encoding import b64u_decode, b64u_encode
from crypto.keyring import Keyring, load_or_create_keyring, rotate_keyring
from crypto.tokens import TokenError, TokenService, token_type
from tests.support import FakeClock

ISSUER = "https://punchguard.test"
AUDIENCE = "punchguard-staff"
TYP = "access"
TTL = timedelta(minutes=15)


@pytest.fixture
def tokens(keyring: Keyring, clock: FakeClock) -> TokenService:
    return TokenService(keyring, ISSUER, clock)


def issue(tokens: TokenService, *, typ: str = TYP, audience: str = AUDIENCE, ttl: timedelta = TTL) -> str:
    return tokens.issue(typ=typ, audience=audience, subject="staff-1", ttl=ttl).token


def verify(tokens: TokenService, token: str, *, typ: str = TYP, audience: str = AUDIENCE) -> dict[str, Any]:
    return tokens.verify(token, typ=typ, audience=audience)


def claims_at(now: datetime, **overrides: Any) -> dict[str, Any]:
    """A complete, valid payload issued at `now`; an override of None drops that claim."""
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "staff-1",
        "iat": int(now.timestamp()),
        "exp": int((now + TTL).timestamp()),
        "jti": "hand-made-jti",
        **overrides,
    }
    return {name: value for name, value in claims.items() if value is not None}


def sign(keyring: Keyring, claims: dict[str, Any], **header: Any) -> str:
    """Sign with the real active private key through pyjwt, as only the server could."""
    headers = {"typ": TYP, "kid": keyring.active.kid, **header}
    return jwt.encode(claims, keyring.active_private_key, algorithm="EdDSA", headers=headers)


def segment(value: dict[str, Any]) -> str:
    return b64u_encode(json.dumps(value, separators=(",", ":")).encode())


def parts(token: str) -> list[str]:
    return token.split(".")


# --- round trip ----------------------------------------------------------------------


def test_issued_token_verifies_with_its_claims(tokens: TokenService, clock: FakeClock, keyring: Keyring) -> None:
    issued = tokens.issue(typ=TYP, audience=AUDIENCE, subject="staff-1", ttl=TTL, claims={"scanner": "till-1"})

    claims = verify(tokens, issued.token)

    assert claims["sub"] == "staff-1"
    assert claims["aud"] == AUDIENCE
    assert claims["iss"] == ISSUER
    assert claims["jti"] == issued.jti
    assert claims["scanner"] == "till-1"
    assert claims["iat"] == int(clock().timestamp())
    assert claims["exp"] == int((clock() + TTL).timestamp())
    assert issued.expires_at == clock() + TTL
    assert jwt.get_unverified_header(issued.token) == {"alg": "EdDSA", "typ": TYP, "kid": keyring.active.kid}
    assert token_type(issued.token) == TYP


def test_each_issued_token_has_a_fresh_jti(tokens: TokenService) -> None:
    jtis = {tokens.issue(typ=TYP, audience=AUDIENCE, subject="s", ttl=TTL).jti for _ in range(20)}

    assert len(jtis) == 20


def test_extra_claims_cannot_override_the_registered_ones(tokens: TokenService, clock: FakeClock) -> None:
    forged = {"iss": "evil", "aud": "other", "sub": "owner", "exp": 2**40, "iat": 0, "jti": "fixed"}

    issued = tokens.issue(typ=TYP, audience=AUDIENCE, subject="staff-1", ttl=TTL, claims=forged)
    claims = verify(tokens, issued.token)

    assert (claims["iss"], claims["aud"], claims["sub"]) == (ISSUER, AUDIENCE, "staff-1")
    assert claims["exp"] == int((clock() + TTL).timestamp())
    assert claims["jti"] == issued.jti != "fixed"


def test_hand_signed_complete_token_verifies(tokens: TokenService, keyring: Keyring, clock: FakeClock) -> None:
    # The baseline for the tests below: only what they remove or change makes them fail.
    assert verify(tokens, sign(keyring, claims_at(clock())))["jti"] == "hand-made-jti"


# --- algorithm and key confusion -----------------------------------------------------


@pytest.mark.parametrize("alg", ["none", "None", "NONE"])
def test_unsigned_alg_none_token_is_refused(tokens: TokenService, keyring: Keyring, clock: FakeClock, alg: str) -> None:
    header = {"alg": alg, "typ": TYP, "kid": keyring.active.kid}
    token = f"{segment(header)}.{segment(claims_at(clock()))}."

    with pytest.raises(TokenError):
        verify(tokens, token)


@pytest.mark.parametrize("secret_form", ["raw", "pem", "jwk-x"])
def test_hs256_token_signed_with_the_public_key_is_refused(
    tokens: TokenService, keyring: Keyring, clock: FakeClock, secret_form: str
) -> None:
    public = keyring.active.public_key
    secret = {
        "raw": public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw),
        "pem": public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo),
        "jwk-x": keyring.active.public_jwk["x"].encode(),
    }[secret_form]
    signing_input = f"{segment({'alg': 'HS256', 'typ': TYP, 'kid': keyring.active.kid})}.{segment(claims_at(clock()))}"
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()

    with pytest.raises(TokenError):
        verify(tokens, f"{signing_input}.{b64u_encode(mac)}")


def test_token_signed_by_a_key_outside_the_keyring_is_refused(tokens: TokenService, clock: FakeClock) -> None:
    stranger = Ed25519PrivateKey.generate()
    token = jwt.encode(claims_at(clock()), stranger, algorithm="EdDSA", headers={"typ": TYP, "kid": "ZZZZZZZZ"})

    with pytest.raises(TokenError):
        verify(tokens, token)


def test_token_signed_by_another_key_under_our_kid_is_refused(
    tokens: TokenService, keyring: Keyring, clock: FakeClock
) -> None:
    stranger = Ed25519PrivateKey.generate()
    token = jwt.encode(claims_at(clock()), stranger, algorithm="EdDSA", headers={"typ": TYP, "kid": keyring.active.kid})

    with pytest.raises(TokenError):
        verify(tokens, token)


@pytest.mark.parametrize(
    "kid",
    ["../../etc/passwd", "/dev/null", "' OR '1'='1", "", "AAAAAAAA"],
    ids=["path", "abs", "sql", "empty", "other"],
)
def test_token_with_an_injected_kid_is_refused(
    tokens: TokenService, keyring: Keyring, clock: FakeClock, kid: str
) -> None:
    token = sign(keyring, claims_at(clock()), kid=kid)

    with pytest.raises(TokenError):
        verify(tokens, token)


@pytest.mark.parametrize("kid", [None, 1, ["kid"], {"kid": "x"}], ids=["null", "int", "list", "object"])
def test_token_whose_kid_is_not_a_string_is_refused(
    tokens: TokenService, keyring: Keyring, clock: FakeClock, kid: object
) -> None:
    good = sign(keyring, claims_at(clock()))
    header = {"alg": "EdDSA", "typ": TYP, "kid": kid}
    signing_input = f"{segment(header)}.{parts(good)[1]}"
    token = f"{signing_input}.{b64u_encode(keyring.sign(signing_input.encode()))}"

    with pytest.raises(TokenError):
        verify(tokens, token)


def test_token_without_kid_is_refused(tokens: TokenService, keyring: Keyring, clock: FakeClock) -> None:
    token = jwt.encode(claims_at(clock()), keyring.active_private_key, algorithm="EdDSA", headers={"typ": TYP})

    with pytest.raises(TokenError):
        verify(tokens, token)


# --- kind, audience, issuer ----------------------------------------------------------


def test_access_token_is_refused_as_a_refresh_token(tokens: TokenService) -> None:
    token = issue(tokens, typ="access")

    with pytest.raises(TokenError):
        verify(tokens, token, typ="refresh")


def test_refresh_token_is_refused_as_an_access_token(tokens: TokenService) -> None:
    token = issue(tokens, typ="refresh")

    with pytest.raises(TokenError):
        verify(tokens, token, typ="access")


def test_token_without_typ_is_refused(tokens: TokenService, keyring: Keyring, clock: FakeClock) -> None:
    token = jwt.encode(
        claims_at(clock()), keyring.active_private_key, algorithm="EdDSA", headers={"kid": keyring.active.kid}
    )
    # pyjwt adds "typ": "JWT" when none is given; that is still not our kind.
    assert token_type(token) != TYP

    with pytest.raises(TokenError):
        verify(tokens, token)


def test_token_for_another_audience_is_refused(tokens: TokenService) -> None:
    token = issue(tokens, audience="punchguard-customers")

    with pytest.raises(TokenError):
        verify(tokens, token, audience=AUDIENCE)


@pytest.mark.parametrize("audience", [[AUDIENCE + "x"], AUDIENCE[:-1], ["other", "more"], ""])
def test_token_whose_aud_only_resembles_ours_is_refused(
    tokens: TokenService, keyring: Keyring, clock: FakeClock, audience: object
) -> None:
    token = sign(keyring, claims_at(clock(), aud=audience))

    with pytest.raises(TokenError):
        verify(tokens, token)


@pytest.mark.parametrize(
    "issuer", ["https://evil.test", "punchguard.test", ISSUER + "/", "https://punchguard.tes", ISSUER.upper()]
)
def test_token_from_another_issuer_is_refused(keyring: Keyring, clock: FakeClock, issuer: str) -> None:
    token = TokenService(keyring, issuer, clock).issue(typ=TYP, audience=AUDIENCE, subject="s", ttl=TTL).token

    with pytest.raises(TokenError):
        TokenService(keyring, ISSUER, clock).verify(token, typ=TYP, audience=AUDIENCE)


@pytest.mark.parametrize("claim", ["exp", "iat", "jti", "aud", "iss", "sub"])
def test_token_missing_a_required_claim_is_refused(
    tokens: TokenService, keyring: Keyring, clock: FakeClock, claim: str
) -> None:
    claims = claims_at(clock(), **{claim: None})
    assert claim not in claims
    token = sign(keyring, claims)

    with pytest.raises(TokenError):
        verify(tokens, token)


@pytest.mark.parametrize(
    ("claim", "value"),
    [("exp", "9999999999"), ("exp", 9e9), ("iat", "0"), ("iat", 1.5)],
    ids=["exp-string", "exp-float", "iat-string", "iat-float"],
)
def test_token_with_non_integer_times_is_refused(
    tokens: TokenService, keyring: Keyring, clock: FakeClock, claim: str, value: object
) -> None:
    token = sign(keyring, claims_at(clock(), **{claim: value}))

    with pytest.raises(TokenError):
        verify(tokens, token)


# --- time ----------------------------------------------------------------------------


def test_token_is_accepted_until_five_seconds_after_expiry(tokens: TokenService, clock: FakeClock) -> None:
    token = issue(tokens, ttl=timedelta(minutes=5))

    clock.advance(minutes=5)
    verify(tokens, token)
    clock.advance(seconds=5)
    verify(tokens, token)


def test_token_is_refused_once_past_expiry_and_leeway(tokens: TokenService, clock: FakeClock) -> None:
    token = issue(tokens, ttl=timedelta(minutes=5))

    clock.advance(minutes=5, seconds=6)

    with pytest.raises(TokenError, match="expired"):
        verify(tokens, token)


def test_long_expired_token_is_refused(tokens: TokenService, clock: FakeClock) -> None:
    token = issue(tokens)

    clock.advance(days=30)

    with pytest.raises(TokenError):
        verify(tokens, token)


def test_token_issued_in_the_future_is_refused(tokens: TokenService, keyring: Keyring, clock: FakeClock) -> None:
    token = sign(keyring, claims_at(clock() + timedelta(seconds=6)))

    with pytest.raises(TokenError, match="future"):
        verify(tokens, token)


def test_token_issued_within_the_leeway_ahead_is_accepted(
    tokens: TokenService, keyring: Keyring, clock: FakeClock
) -> None:
    # Another worker's clock may run a few seconds ahead of ours.
    token = sign(keyring, claims_at(clock() + timedelta(seconds=5)))

    verify(tokens, token)


def test_expiry_follows_the_injected_clock_not_the_wall_clock(keyring: Keyring) -> None:
    long_ago = FakeClock(datetime(2001, 1, 1, tzinfo=UTC))
    service = TokenService(keyring, ISSUER, long_ago)
    token = service.issue(typ=TYP, audience=AUDIENCE, subject="s", ttl=TTL).token

    assert service.verify(token, typ=TYP, audience=AUDIENCE)["iat"] == int(long_ago().timestamp())
    long_ago.advance(minutes=16)
    with pytest.raises(TokenError):
        service.verify(token, typ=TYP, audience=AUDIENCE)


# --- malformed and tampered tokens ---------------------------------------------------


@pytest.mark.parametrize(
    "truncate",
    [
        lambda t: t[:-1],
        lambda t: t[:-2],
        lambda t: t[:-4],
        lambda t: t.rsplit(".", 1)[0] + ".",
        lambda t: t.rsplit(".", 1)[0],
        lambda t: t.split(".")[0],
        lambda t: t[: len(t) // 2],
        lambda t: "",
    ],
    ids=["-1", "-2", "-4", "no-signature", "two-segments", "header-only", "half", "empty"],
)
def test_truncated_token_is_refused(tokens: TokenService, truncate: Callable[[str], str]) -> None:
    token = issue(tokens)

    with pytest.raises(TokenError):
        verify(tokens, truncate(token))


@pytest.mark.parametrize("garbage", ["A", "AAAA", ".", ".AAAA", "!", " ", "\n", "%3D", "="])
def test_token_with_garbage_appended_is_refused(tokens: TokenService, garbage: str) -> None:
    token = issue(tokens)

    with pytest.raises(TokenError):
        verify(tokens, token + garbage)


@pytest.mark.parametrize(
    "padding",
    [
        pytest.param(
            "==",
        ),
        "=",
        "===",
    ],
)
def test_token_with_padding_appended_is_refused(tokens: TokenService, padding: str) -> None:
    token = issue(tokens)
    assert len(parts(token)[2]) % 4 == 2  # 64-byte signature: a 2-character tail that '==' pads exactly

    with pytest.raises(TokenError):
        verify(tokens, token + padding)


@pytest.mark.parametrize("index", [0, 1], ids=["header", "payload"])
def test_token_with_a_padded_header_or_payload_is_refused(tokens: TokenService, index: int) -> None:
    segments = parts(issue(tokens))
    padding = "=" * (-len(segments[index]) % 4)
    assert padding  # with these claims neither segment is a multiple of 4 characters long
    segments[index] += padding

    with pytest.raises(TokenError):
        verify(tokens, ".".join(segments))


def test_signature_with_a_non_canonical_tail_is_refused(tokens: TokenService) -> None:
    token = issue(tokens)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    # 64 bytes take 86 characters; the last one has 4 unused bits. Set one: same bytes, new spelling.
    last = alphabet.index(token[-1])
    respelled = token[:-1] + alphabet[last ^ 0b0001]
    # A lenient decoder reads the same signature bytes from both spellings.
    assert base64.urlsafe_b64decode(parts(respelled)[2] + "==") == b64u_decode(parts(token)[2])

    with pytest.raises(TokenError):
        verify(tokens, respelled)


def test_token_with_a_tampered_payload_is_refused(tokens: TokenService) -> None:
    header, payload, signature = parts(issue(tokens))
    claims = json.loads(b64u_decode(payload))
    claims["sub"] = "owner-1"

    with pytest.raises(TokenError):
        verify(tokens, f"{header}.{segment(claims)}.{signature}")


def test_token_with_an_extended_expiry_is_refused(tokens: TokenService, clock: FakeClock) -> None:
    header, payload, signature = parts(issue(tokens))
    claims = json.loads(b64u_decode(payload))
    claims["exp"] += 365 * 24 * 3600

    with pytest.raises(TokenError):
        verify(tokens, f"{header}.{segment(claims)}.{signature}")


def test_refresh_token_relabelled_as_access_is_refused(tokens: TokenService) -> None:
    header, payload, signature = parts(issue(tokens, typ="refresh"))
    relabelled = {**json.loads(b64u_decode(header)), "typ": "access"}

    with pytest.raises(TokenError):
        verify(tokens, f"{segment(relabelled)}.{payload}.{signature}", typ="access")


@pytest.mark.parametrize("signature_bit", [0, 100, 511])
def test_token_with_a_flipped_signature_bit_is_refused(tokens: TokenService, signature_bit: int) -> None:
    header, payload, signature = parts(issue(tokens))
    raw = bytearray(b64u_decode(signature))
    raw[signature_bit // 8] ^= 1 << (signature_bit % 8)

    with pytest.raises(TokenError):
        verify(tokens, f"{header}.{payload}.{b64u_encode(bytes(raw))}")


@pytest.mark.parametrize("token", ["not-a-jwt", "a.b.c", "....", "e30.e30.", "W10.e30.AAAA", "bnVsbA.e30.AAAA"])
def test_garbage_is_refused(tokens: TokenService, token: str) -> None:
    with pytest.raises(TokenError):
        verify(tokens, token)


def test_token_type_of_garbage_raises_token_error() -> None:
    with pytest.raises(TokenError):
        token_type("not-a-jwt")


# --- key rotation --------------------------------------------------------------------


def test_token_signed_by_a_retired_key_verifies_after_rotation(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "keys" / "keyring.json"
    before = TokenService(load_or_create_keyring(path), ISSUER, clock)
    old_token = issue(before)

    after = TokenService(rotate_keyring(path), ISSUER, clock)
    new_token = issue(after)

    assert verify(after, old_token)["sub"] == "staff-1"
    assert verify(after, new_token)["sub"] == "staff-1"
    assert jwt.get_unverified_header(new_token)["kid"] != jwt.get_unverified_header(old_token)["kid"]


def test_token_signed_by_a_retired_key_still_expires(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "keys" / "keyring.json"
    old_token = issue(TokenService(load_or_create_keyring(path), ISSUER, clock))
    after = TokenService(rotate_keyring(path), ISSUER, clock)

    clock.advance(minutes=16)

    with pytest.raises(TokenError):
        verify(after, old_token)


def test_a_token_checked_once_is_still_refused_as_another_kind_or_for_another_audience(tokens: TokenService) -> None:
    """The per-process cache of verified tokens is keyed on kind and audience too: an access token,
    once checked, must not pass as a refresh token, nor a staff token as a customer's."""
    token = issue(tokens)
    assert verify(tokens, token)["sub"] == "staff-1"
    with pytest.raises(TokenError):
        verify(tokens, token, typ="refresh")
    with pytest.raises(TokenError):
        verify(tokens, token, audience="punchguard-customer")
    assert verify(tokens, token)["sub"] == "staff-1", "and the right kind still verifies from the cache"


def test_a_cached_token_still_expires(tokens: TokenService, clock: FakeClock) -> None:
    token = issue(tokens)
    verify(tokens, token)
    clock.advance(seconds=TTL.total_seconds() + 6)
    with pytest.raises(TokenError):
        verify(tokens, token)
