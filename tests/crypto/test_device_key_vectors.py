"""Published test vectors, run through `load_device_key` and `DevicePublicKey.verify` as enrollment does.

- RFC 8032 section 7.1: the five Ed25519 vectors must verify.
- "Taming the many EdDSAs" (Chalkias, Garillot, Nikolaenko, 2020), ed25519-speccheck's 12 cases:
  each is refused, at load or at verify, for the reason stated next to it.
- Project Wycheproof (C2SP/wycheproof, testvectors_v1): Ed25519, ECDSA P-256 SHA-256 with raw
  r||s (IEEE P1363), with DER, and the WebCrypto (JWK) file. "valid" must verify, "invalid" must
  be refused by load_device_key or verify, "acceptable" must match ACCEPTABLE_DECISIONS below.

Where the files come from, at which commit and under which licence: vectors/README.md.
"""

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from crypto.encoding import b64u_encode
from crypto.jwk import InvalidKey, InvalidSignature, load_device_key

VECTORS = Path(__file__).parent / "vectors"

Outcome = Literal["accepted", "refused at load", "refused at verify"]

# Wycheproof marks some cases "acceptable": a verifier may take them or not. PunchGuard decides by
# flag; a case is accepted only if every one of its flags says so. None of the stored files has an
# "acceptable" case today; the decisions are written down so a newer file cannot slip one past.
ACCEPTABLE_DECISIONS: Mapping[str, Outcome] = {
    # Valid r and s in a BER (non-DER) encoding: a second spelling of a signature; we take DER only.
    "BerEncodedSignature": "refused at verify",
    # A negative-looking INTEGER for r or s (leading zero dropped): not DER, refused like BER.
    "MissingZero": "refused at verify",
    # A raw r||s shorter than 64 bytes: JOSE fixes the length at 64.
    "SignatureSize": "refused at verify",
}


@pytest.fixture(autouse=True)
def clean_database() -> None:
    """These tests touch no database: skip the suite's per-test wipe, which would cost a minute over 1,100 cases."""


def _load(name: str) -> Any:
    return json.loads((VECTORS / name).read_text())


def _okp_jwk(raw: bytes) -> dict[str, str]:
    return {"kty": "OKP", "crv": "Ed25519", "x": b64u_encode(raw)}


def _ec_jwk_from_uncompressed(uncompressed: str) -> dict[str, str]:
    """The JWK a phone would send for this point: x and y as 32-byte big-endian base64url.

    A point that is not 65 bytes of 04 || x || y cannot be written as a P-256 JWK; such a group
    would be "refused at load", and its JWK is built so that load_device_key refuses it.
    """
    raw = bytes.fromhex(uncompressed)
    if len(raw) != 65 or raw[0] != 4:
        return {"kty": "EC", "crv": "P-256", "x": b64u_encode(raw), "y": ""}
    return {"kty": "EC", "crv": "P-256", "x": b64u_encode(raw[1:33]), "y": b64u_encode(raw[33:])}


def outcome(jwk: Mapping[str, str], signature: bytes, message: bytes) -> Outcome:
    try:
        key = load_device_key(jwk)
    except InvalidKey:
        return "refused at load"
    try:
        key.verify(signature, message)
    except InvalidSignature:
        return "refused at verify"
    return "accepted"


def expected_outcome(case: Mapping[str, Any]) -> set[Outcome]:
    """The outcomes Wycheproof's verdict allows for this case."""
    if case["result"] == "valid":
        return {"accepted"}
    if case["result"] == "invalid":
        return {"refused at load", "refused at verify"}
    decisions = {ACCEPTABLE_DECISIONS[flag] for flag in case["flags"]}
    if decisions == {"accepted"}:
        return {"accepted"}
    return {"refused at load", "refused at verify"}


# --- RFC 8032 section 7.1 ------------------------------------------------------------


RFC8032 = _load("rfc8032_ed25519_test_vectors.json")["vectors"]


@pytest.mark.parametrize("vector", RFC8032, ids=[f"rfc8032-{v['name']}" for v in RFC8032])
def test_rfc8032_vectors_verify(vector: Mapping[str, str]) -> None:
    key = load_device_key(_okp_jwk(bytes.fromhex(vector["public"])))

    key.verify(bytes.fromhex(vector["signature"]), bytes.fromhex(vector["message"]))


@pytest.mark.parametrize("vector", RFC8032, ids=[f"rfc8032-copy-{v['name']}" for v in RFC8032])
def test_rfc8032_vectors_were_copied_correctly(vector: Mapping[str, str]) -> None:
    """Ed25519 signing is deterministic: the secret key must give back the public key and signature."""
    private = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(vector["secret"]))
    public = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)

    assert public.hex() == vector["public"]
    assert private.sign(bytes.fromhex(vector["message"])).hex() == vector["signature"]


# --- ed25519-speccheck ("Taming the many EdDSAs") ------------------------------------

SPECCHECK = _load("ed25519_speccheck_cases.json")

# Under our policy every case is refused; (stage, reason in the message) for each, and why.
SPECCHECK_VERDICTS: Mapping[int, tuple[Outcome, str]] = {
    # S = 0, R and A small (order 8): the key anyone can sign for; OpenSSL accepts this signature.
    0: ("refused at load", "small-order point"),
    # R mixed, A small (order 8): passes OpenSSL's cofactorless check, still a key anyone can sign for.
    1: ("refused at load", "small-order point"),
    # A mixed (order-8 part), R small: OpenSSL accepts; cofactored and cofactorless verifiers agree only by luck.
    2: ("refused at load", "outside the prime-order subgroup"),
    # A and R mixed, passes both cofactored and cofactorless equations: OpenSSL accepts; no phone makes such A.
    3: ("refused at load", "outside the prime-order subgroup"),
    # A and R mixed, passes only the cofactored equation (OpenSSL refuses it): the verifiers' disagreement.
    4: ("refused at load", "outside the prime-order subgroup"),
    # A mixed, the "pre-reduced scalar" case: cofactored verifiers split on reducing k mod L; OpenSSL refuses.
    5: ("refused at load", "outside the prime-order subgroup"),
    # Honest A, S > L (S + L would also "verify" with a lax range check): the malleable second spelling.
    6: ("refused at verify", "S is not below the group order"),
    # Honest A, S > L with the top bits of S set (no canonical S has them): refused on the range check.
    7: ("refused at verify", "S is not below the group order"),
    # A mixed, and R is "negative zero" (y = -1 with the sign bit set), a non-canonical small R.
    8: ("refused at load", "outside the prime-order subgroup"),
    # Same as 8 with another S: A mixed, R non-canonical.
    9: ("refused at load", "outside the prime-order subgroup"),
    # A is "negative zero" (y = -1, x = 0 with the sign bit set): a non-canonical spelling of a small point.
    10: ("refused at load", "not written in its canonical form"),
    # A non-canonical as in 10, and this signature passes OpenSSL: a second spelling must not load.
    11: ("refused at load", "not written in its canonical form"),
}


def test_every_speccheck_case_has_a_verdict() -> None:
    assert sorted(SPECCHECK_VERDICTS) == list(range(len(SPECCHECK))) == list(range(12))


@pytest.mark.parametrize("index", range(len(SPECCHECK)), ids=[f"speccheck-{i}" for i in range(len(SPECCHECK))])
def test_speccheck_case(index: int) -> None:
    case = SPECCHECK[index]
    stage, reason = SPECCHECK_VERDICTS[index]
    jwk = _okp_jwk(bytes.fromhex(case["pub_key"]))
    signature, message = bytes.fromhex(case["signature"]), bytes.fromhex(case["message"])

    if stage == "refused at load":
        with pytest.raises(InvalidKey, match=reason):
            load_device_key(jwk)
    else:
        key = load_device_key(jwk)
        with pytest.raises(InvalidSignature, match=reason):
            key.verify(signature, message)


# --- Wycheproof ----------------------------------------------------------------------


def _cases(name: str, prefix: str, jwk_of: Any) -> list[Any]:
    vectors = _load(name)
    cases = [
        pytest.param(jwk_of(group), case, id=f"wycheproof-{prefix}-tcId-{case['tcId']}")
        for group in vectors["testGroups"]
        for case in group["tests"]
    ]
    assert len(cases) == vectors["numberOfTests"]
    return cases


ED25519_CASES = _cases(
    "wycheproof_ed25519_test.json", "ed25519", lambda group: _okp_jwk(bytes.fromhex(group["publicKey"]["pk"]))
)
P1363_CASES = _cases(
    "wycheproof_ecdsa_secp256r1_sha256_p1363_test.json",
    "p1363",
    lambda group: _ec_jwk_from_uncompressed(group["publicKey"]["uncompressed"]),
)
DER_CASES = _cases(
    "wycheproof_ecdsa_secp256r1_sha256_test.json",
    "der",
    lambda group: _ec_jwk_from_uncompressed(group["publicKey"]["uncompressed"]),
)
WEBCRYPTO_CASES = _cases(
    "wycheproof_ecdsa_secp256r1_webcrypto_test.json", "webcrypto", lambda group: dict(group["publicKeyJwk"])
)


@pytest.mark.parametrize(("jwk", "case"), ED25519_CASES + P1363_CASES + DER_CASES + WEBCRYPTO_CASES)
def test_wycheproof_case(jwk: Mapping[str, str], case: Mapping[str, Any]) -> None:
    actual = outcome(jwk, bytes.fromhex(case["sig"]), bytes.fromhex(case["msg"]))

    assert actual in expected_outcome(case), f"{case['result']} {case['flags']}: {actual}"


def test_acceptable_cases_only_carry_flags_we_decided() -> None:
    every_case = [param.values[1] for param in ED25519_CASES + P1363_CASES + DER_CASES + WEBCRYPTO_CASES]
    acceptable = [case for case in every_case if case["result"] == "acceptable"]

    assert all(flag in ACCEPTABLE_DECISIONS for case in acceptable for flag in case["flags"])
    assert {case["result"] for case in every_case} <= {"valid", "invalid", "acceptable"}
