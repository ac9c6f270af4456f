"""Phones' public keys as JWKs: which load, their RFC 7638 thumbprints, and signature checks."""

import hashlib
from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa, x25519
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from crypto.encoding import b64u_encode
from crypto.jwk import InvalidKey, InvalidSignature, jwk_thumbprint, load_device_key

MESSAGE = b"punchguard enroll challenge 0123456789"
ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
CURVE_NAMES = {"secp256r1": "P-256", "secp384r1": "P-384"}

# RFC 8037 Appendix A.3: the RFC 7638 thumbprint of the Appendix A.2 Ed25519 public key.
RFC8037_ED25519_X = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
RFC8037_ED25519_THUMBPRINT = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"


def ed25519_jwk(private: Ed25519PrivateKey) -> dict[str, str]:
    raw = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return {"kty": "OKP", "crv": "Ed25519", "x": b64u_encode(raw)}


def ec_jwk(private: ec.EllipticCurvePrivateKey) -> dict[str, str]:
    numbers = private.public_key().public_numbers()
    size = (private.curve.key_size + 7) // 8
    return {
        "kty": "EC",
        "crv": CURVE_NAMES[private.curve.name],
        "x": b64u_encode(numbers.x.to_bytes(size, "big")),
        "y": b64u_encode(numbers.y.to_bytes(size, "big")),
    }


def sha256_b64u(text: str) -> str:
    return b64u_encode(hashlib.sha256(text.encode("ascii")).digest())


def raw_es256(der: bytes) -> bytes:
    r, s = decode_dss_signature(der)
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


@pytest.fixture
def ed_private() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
def ec_private() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


# --- loading -------------------------------------------------------------------------


def test_ed25519_jwk_loads(ed_private: Ed25519PrivateKey) -> None:
    jwk = ed25519_jwk(ed_private)

    key = load_device_key(jwk)

    assert key.algorithm == "Ed25519"
    assert dict(key.jwk) == jwk


def test_p256_jwk_loads(ec_private: ec.EllipticCurvePrivateKey) -> None:
    jwk = ec_jwk(ec_private)

    key = load_device_key(jwk)

    assert key.algorithm == "ES256"
    assert dict(key.jwk) == jwk


def test_loaded_key_keeps_only_the_required_members(ed_private: Ed25519PrivateKey) -> None:
    jwk = {**ed25519_jwk(ed_private), "kid": "phone-1", "alg": "EdDSA", "use": "sig"}

    key = load_device_key(jwk)

    assert dict(key.jwk) == {"kty": "OKP", "crv": "Ed25519", "x": jwk["x"]}


# --- thumbprints (RFC 7638) ----------------------------------------------------------


def test_ed25519_thumbprint_matches_the_rfc_8037_example() -> None:
    jwk = {"kty": "OKP", "crv": "Ed25519", "x": RFC8037_ED25519_X}

    assert jwk_thumbprint(jwk) == RFC8037_ED25519_THUMBPRINT
    assert load_device_key(jwk).thumbprint == RFC8037_ED25519_THUMBPRINT


def test_ed25519_thumbprint_is_sha256_of_the_canonical_members(ed_private: Ed25519PrivateKey) -> None:
    jwk = ed25519_jwk(ed_private)
    # RFC 7638 §3.2: required members only, lexicographic order, no whitespace.
    canonical = '{"crv":"Ed25519","kty":"OKP","x":"' + jwk["x"] + '"}'

    assert load_device_key(jwk).thumbprint == sha256_b64u(canonical)


def test_p256_thumbprint_is_sha256_of_the_canonical_members(ec_private: ec.EllipticCurvePrivateKey) -> None:
    jwk = ec_jwk(ec_private)
    canonical = '{"crv":"P-256","kty":"EC","x":"' + jwk["x"] + '","y":"' + jwk["y"] + '"}'

    assert load_device_key(jwk).thumbprint == sha256_b64u(canonical)


def test_thumbprint_ignores_member_order_and_optional_members(
    ed_private: Ed25519PrivateKey, ec_private: ec.EllipticCurvePrivateKey
) -> None:
    for jwk in (ed25519_jwk(ed_private), ec_jwk(ec_private)):
        expected = load_device_key(jwk).thumbprint
        reordered = dict(reversed(list(jwk.items())))
        decorated = {"kid": "my-phone", "alg": "ES256", "use": "sig", **reordered, "key_ops": "verify"}

        assert jwk_thumbprint(reordered) == expected
        assert jwk_thumbprint(decorated) == expected
        assert load_device_key(decorated).thumbprint == expected


def test_different_keys_have_different_thumbprints() -> None:
    first = load_device_key(ed25519_jwk(Ed25519PrivateKey.generate()))
    second = load_device_key(ed25519_jwk(Ed25519PrivateKey.generate()))

    assert first.thumbprint != second.thumbprint


def test_thumbprint_of_an_unsupported_key_type_raises_invalid_key() -> None:
    with pytest.raises(InvalidKey):
        jwk_thumbprint({"kty": "RSA", "n": "sXch", "e": "AQAB"})


# --- signatures ----------------------------------------------------------------------


def test_ed25519_signature_verifies(ed_private: Ed25519PrivateKey) -> None:
    key = load_device_key(ed25519_jwk(ed_private))

    key.verify(ed_private.sign(MESSAGE), MESSAGE)


def test_es256_raw_r_s_signature_verifies(ec_private: ec.EllipticCurvePrivateKey) -> None:
    key = load_device_key(ec_jwk(ec_private))
    signature = raw_es256(ec_private.sign(MESSAGE, ec.ECDSA(hashes.SHA256())))

    assert len(signature) == 64
    key.verify(signature, MESSAGE)


def test_es256_der_signature_verifies(ec_private: ec.EllipticCurvePrivateKey) -> None:
    key = load_device_key(ec_jwk(ec_private))
    der = ec_private.sign(MESSAGE, ec.ECDSA(hashes.SHA256()))

    assert len(der) != 64
    key.verify(der, MESSAGE)


def test_ed25519_signature_of_another_message_is_refused(ed_private: Ed25519PrivateKey) -> None:
    key = load_device_key(ed25519_jwk(ed_private))

    with pytest.raises(InvalidSignature):
        key.verify(ed_private.sign(MESSAGE), MESSAGE + b"!")


@pytest.mark.parametrize("der", [False, True], ids=["raw", "der"])
def test_es256_signature_of_another_message_is_refused(ec_private: ec.EllipticCurvePrivateKey, der: bool) -> None:
    key = load_device_key(ec_jwk(ec_private))
    signature = ec_private.sign(MESSAGE, ec.ECDSA(hashes.SHA256()))

    with pytest.raises(InvalidSignature):
        key.verify(signature if der else raw_es256(signature), MESSAGE + b"!")


@pytest.mark.parametrize("position", [0, 20, 40, -1])
def test_tampered_ed25519_signature_is_refused(ed_private: Ed25519PrivateKey, position: int) -> None:
    key = load_device_key(ed25519_jwk(ed_private))
    signature = bytearray(ed_private.sign(MESSAGE))
    signature[position] ^= 0x01

    with pytest.raises(InvalidSignature):
        key.verify(bytes(signature), MESSAGE)


@pytest.mark.parametrize("der", [False, True], ids=["raw", "der"])
@pytest.mark.parametrize("position", [8, 40, -1])
def test_tampered_es256_signature_is_refused(ec_private: ec.EllipticCurvePrivateKey, der: bool, position: int) -> None:
    key = load_device_key(ec_jwk(ec_private))
    original = ec_private.sign(MESSAGE, ec.ECDSA(hashes.SHA256()))
    signature = bytearray(original if der else raw_es256(original))
    signature[position] ^= 0x01

    with pytest.raises(InvalidSignature):
        key.verify(bytes(signature), MESSAGE)


def test_signature_by_another_key_is_refused(ec_private: ec.EllipticCurvePrivateKey) -> None:
    key = load_device_key(ec_jwk(ec_private))
    other = ec.generate_private_key(ec.SECP256R1())

    with pytest.raises(InvalidSignature):
        key.verify(other.sign(MESSAGE, ec.ECDSA(hashes.SHA256())), MESSAGE)


@pytest.mark.parametrize("signature", [b"", b"\x00" * 63, b"\x00" * 64, b"\x30\x02\x02\x00", b"\xff" * 72])
def test_garbage_es256_signature_is_refused(ec_private: ec.EllipticCurvePrivateKey, signature: bytes) -> None:
    key = load_device_key(ec_jwk(ec_private))

    with pytest.raises(InvalidSignature):
        key.verify(signature, MESSAGE)


@pytest.mark.parametrize("signature", [b"", b"\x00" * 63, b"\x00" * 64, b"\x00" * 65])
def test_garbage_ed25519_signature_is_refused(ed_private: Ed25519PrivateKey, signature: bytes) -> None:
    key = load_device_key(ed25519_jwk(ed_private))

    with pytest.raises(InvalidSignature):
        key.verify(signature, MESSAGE)


# --- invalid keys --------------------------------------------------------------------


@pytest.mark.parametrize("length", [0, 31, 33, 64])
def test_ed25519_key_of_the_wrong_length_is_invalid(length: int) -> None:
    with pytest.raises(InvalidKey):
        load_device_key({"kty": "OKP", "crv": "Ed25519", "x": b64u_encode(b"\x01" * length)})


def _resize(value: int, length: int) -> bytes:
    """`value` as 32 big-endian bytes, cut to 31 or widened to 33 with a leading zero."""
    raw = value.to_bytes(32, "big")
    return raw[32 - length :] if length <= 32 else raw.rjust(length, b"\x00")


@pytest.mark.parametrize(("x_length", "y_length"), [(31, 32), (32, 31), (33, 32), (32, 33)])
def test_p256_key_with_wrong_coordinate_lengths_is_invalid(
    ec_private: ec.EllipticCurvePrivateKey, x_length: int, y_length: int
) -> None:
    # 33 bytes with a leading zero is what a signed big-integer export (Java's BigInteger) produces.
    numbers = ec_private.public_key().public_numbers()
    jwk = {
        "kty": "EC",
        "crv": "P-256",
        "x": b64u_encode(_resize(numbers.x, x_length)),
        "y": b64u_encode(_resize(numbers.y, y_length)),
    }

    with pytest.raises(InvalidKey):
        load_device_key(jwk)


def test_p256_point_not_on_the_curve_is_invalid() -> None:
    one = b64u_encode((1).to_bytes(32, "big"))

    with pytest.raises(InvalidKey):
        load_device_key({"kty": "EC", "crv": "P-256", "x": one, "y": one})


def test_p256_point_with_a_flipped_y_bit_is_invalid(ec_private: ec.EllipticCurvePrivateKey) -> None:
    numbers = ec_private.public_key().public_numbers()
    jwk = {**ec_jwk(ec_private), "y": b64u_encode((numbers.y ^ 1).to_bytes(32, "big"))}

    with pytest.raises(InvalidKey):
        load_device_key(jwk)


def _rsa_jwk() -> dict[str, str]:
    numbers = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key().public_numbers()
    return {"kty": "RSA", "n": b64u_encode(numbers.n.to_bytes(256, "big")), "e": "AQAB"}


def _p384_jwk() -> dict[str, str]:
    return ec_jwk(ec.generate_private_key(ec.SECP384R1()))


def _x25519_jwk() -> dict[str, str]:
    raw = (
        x25519.X25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    )
    return {"kty": "OKP", "crv": "X25519", "x": b64u_encode(raw)}


def _p384_labelled_p256() -> dict[str, str]:
    return {**_p384_jwk(), "crv": "P-256"}


def _ed25519_labelled_ec() -> dict[str, str]:
    return {**ed25519_jwk(Ed25519PrivateKey.generate()), "kty": "EC"}


@pytest.mark.parametrize(
    "make_jwk",
    [_rsa_jwk, _p384_jwk, _x25519_jwk, _p384_labelled_p256, _ed25519_labelled_ec],
    ids=["RSA", "P-384", "X25519", "P-384-claiming-P-256", "Ed25519-claiming-EC"],
)
def test_unsupported_key_types_and_curves_are_invalid(make_jwk: Callable[[], dict[str, str]]) -> None:
    jwk = make_jwk()

    with pytest.raises(InvalidKey):
        load_device_key(jwk)


@pytest.mark.parametrize("member", ["kty", "crv", "x"])
def test_ed25519_jwk_missing_a_member_is_invalid(ed_private: Ed25519PrivateKey, member: str) -> None:
    jwk = ed25519_jwk(ed_private)
    del jwk[member]

    with pytest.raises(InvalidKey):
        load_device_key(jwk)


@pytest.mark.parametrize("member", ["kty", "crv", "x", "y"])
def test_p256_jwk_missing_a_member_is_invalid(ec_private: ec.EllipticCurvePrivateKey, member: str) -> None:
    jwk = ec_jwk(ec_private)
    del jwk[member]

    with pytest.raises(InvalidKey):
        load_device_key(jwk)


def test_empty_jwk_is_invalid() -> None:
    with pytest.raises(InvalidKey):
        load_device_key({})


def test_ed25519_jwk_with_private_member_is_refused(ed_private: Ed25519PrivateKey) -> None:
    raw = ed_private.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    jwk = {**ed25519_jwk(ed_private), "d": b64u_encode(raw)}

    with pytest.raises(InvalidKey, match="private"):
        load_device_key(jwk)


def test_p256_jwk_with_private_member_is_refused(ec_private: ec.EllipticCurvePrivateKey) -> None:
    d = ec_private.private_numbers().private_value.to_bytes(32, "big")
    jwk = {**ec_jwk(ec_private), "d": b64u_encode(d)}

    with pytest.raises(InvalidKey, match="private"):
        load_device_key(jwk)


def _jwk_with_url_characters() -> dict[str, str]:
    """An Ed25519 JWK whose `x` uses '-' or '_', the two characters base64url changes."""
    while True:
        jwk = ed25519_jwk(Ed25519PrivateKey.generate())
        if "-" in jwk["x"] or "_" in jwk["x"]:
            return jwk


@pytest.mark.parametrize(
    "spoil",
    [
        lambda x: x + "=",
        lambda x: x.replace("-", "+").replace("_", "/"),
        lambda x: x[:-1] + "é",
        lambda x: " " + x,
        lambda x: x + "\n",
    ],
    ids=["padded", "standard-alphabet", "non-ascii", "leading-space", "trailing-newline"],
)
def test_key_coordinates_must_be_canonical_base64url(spoil: Callable[[str], str]) -> None:
    jwk = _jwk_with_url_characters()
    jwk["x"] = spoil(jwk["x"])

    with pytest.raises(InvalidKey):
        load_device_key(jwk)


def test_key_coordinate_with_non_canonical_tail_is_invalid(ed_private: Ed25519PrivateKey) -> None:
    jwk = ed25519_jwk(ed_private)
    # 32 bytes take 43 characters; the last one carries 2 unused bits: set one of them.
    last = ALPHABET.index(jwk["x"][-1])
    assert last & 0b11 == 0
    jwk["x"] = jwk["x"][:-1] + ALPHABET[last | 1]

    with pytest.raises(InvalidKey):
        load_device_key(jwk)
