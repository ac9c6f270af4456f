"""Phones' public keys as JWKs: which load, their RFC 7638 thumbprints, and signature checks."""

import hashlib
from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa, x25519
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

from crypto import edwards25519
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


@pytest.fixture(autouse=True)
def clean_database() -> None:
    """Nothing here touches the database: skip the suite's per-test wipe."""


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


# --- strict Ed25519 keys (crypto/edwards25519.py) ------------------------------------

# The 8 points of small order (1, 2, 4, 8), canonically encoded: the list libsodium refuses, and
# what test_the_small_order_points_are_the_eight_we_list computes from the curve.
SMALL_ORDER_POINTS = {
    "0100000000000000000000000000000000000000000000000000000000000000": 1,  # the identity
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f": 2,  # (0, -1)
    "0000000000000000000000000000000000000000000000000000000000000000": 4,  # (sqrt(-1), 0)
    "0000000000000000000000000000000000000000000000000000000000000080": 4,  # (-sqrt(-1), 0)
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05": 8,
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85": 8,
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a": 8,
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa": 8,
}

# RFC 8032 section 7.1 TEST 1.
RFC8032_TEST1_SECRET = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
RFC8032_TEST1_PUBLIC = bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")


def okp_jwk(raw: bytes) -> dict[str, str]:
    return {"kty": "OKP", "crv": "Ed25519", "x": b64u_encode(raw)}


def order_eight_point() -> edwards25519.Point:
    """A point of order exactly 8: the torsion part [L]P of the first point that has one."""
    for y in range(2, 100):
        try:
            point = edwards25519.decode_point(y.to_bytes(32, "little"))
        except edwards25519.PointDecodingError:
            continue
        torsion = edwards25519.scalar_mult(edwards25519.L, point)
        if not edwards25519.is_identity(edwards25519.scalar_mult(4, torsion)):
            return torsion
    raise AssertionError("no point with an order-8 component below y = 100")


def point_order(point: edwards25519.Point) -> int:
    return next(n for n in (1, 2, 4, 8) if edwards25519.is_identity(edwards25519.scalar_mult(n, point)))


def test_the_small_order_points_are_the_eight_we_list() -> None:
    torsion = order_eight_point()
    multiples = [edwards25519.scalar_mult(k, torsion) for k in range(8)]

    assert {edwards25519.encode_point(p).hex(): point_order(p) for p in multiples} == SMALL_ORDER_POINTS
    assert {bytes.fromhex(h) for h in SMALL_ORDER_POINTS} == edwards25519.SMALL_ORDER_ENCODINGS


@pytest.mark.parametrize("encoding", SMALL_ORDER_POINTS)
def test_small_order_ed25519_key_is_refused(encoding: str) -> None:
    with pytest.raises(InvalidKey, match="small-order point: anyone can make a signature that verifies under it"):
        load_device_key(okp_jwk(bytes.fromhex(encoding)))


def test_openssl_alone_lets_anyone_sign_for_the_identity_key() -> None:
    """Why the key check exists: OpenSSL verifies one constant signature under this key for any message."""
    identity = bytes.fromhex("01" + "00" * 31)
    constant_signature = identity + bytes(32)
    for message in (b"", MESSAGE, b"a punch for someone else"):
        Ed25519PublicKey.from_public_bytes(identity).verify(constant_signature, message)

    with pytest.raises(InvalidKey, match="small-order"):
        load_device_key(okp_jwk(identity))


@pytest.mark.parametrize("y", [0, 1, 3], ids=["order-4-point", "identity", "mixed-point"])
def test_ed25519_key_spelled_with_y_plus_p_is_refused_as_non_canonical(y: int) -> None:
    # Only y < 19 leaves room for y + p in 255 bits, and no point with such a y is in the
    # prime-order subgroup; the canonical check must still come first, so the spelling is what
    # the owner is told about, and no point gets two spellings under any future policy.
    edwards25519.decode_point(y.to_bytes(32, "little"))  # the canonical spelling is a point
    non_canonical = (y + edwards25519.P).to_bytes(32, "little")

    with pytest.raises(InvalidKey, match=r"its y coordinate is 2\^255-19 or more"):
        load_device_key(okp_jwk(non_canonical))


@pytest.mark.parametrize(
    "encoding",
    [
        "0100000000000000000000000000000000000000000000000000000000000080",  # the identity, sign set
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",  # (0, -1), sign set
    ],
)
def test_negative_zero_ed25519_key_is_refused(encoding: str) -> None:
    with pytest.raises(InvalidKey, match="negative zero"):
        load_device_key(okp_jwk(bytes.fromhex(encoding)))


def test_ed25519_key_that_is_not_on_the_curve_is_refused() -> None:
    with pytest.raises(InvalidKey, match="not a point on the curve"):
        load_device_key(okp_jwk((2).to_bytes(32, "little")))


def test_mixed_order_ed25519_key_is_refused() -> None:
    honest = edwards25519.decode_point(RFC8032_TEST1_PUBLIC)
    mixed = edwards25519.encode_point(edwards25519.point_add(honest, order_eight_point()))

    assert load_device_key(okp_jwk(RFC8032_TEST1_PUBLIC))
    with pytest.raises(InvalidKey, match="outside the prime-order subgroup"):
        load_device_key(okp_jwk(mixed))


def test_ed25519_key_check_is_cached(ed_private: Ed25519PrivateKey) -> None:
    jwk = ed25519_jwk(ed_private)
    load_device_key(jwk)
    hits = edwards25519.public_key_defect.cache_info().hits

    load_device_key(jwk)

    assert edwards25519.public_key_defect.cache_info().hits == hits + 1


# --- strict Ed25519 signatures -------------------------------------------------------


def _rfc8032_test1_signature_with_r(r_encoding: bytes, message: bytes) -> bytes:
    """A signature by TEST 1's private key whose R is `r_encoding` (nonce with [r]B = R is not needed).

    With R the identity, S = k*a makes [S]B = R + [k]A hold exactly, so it passes a plain verifier.
    """
    digest = hashlib.sha512(RFC8032_TEST1_SECRET).digest()
    a = int.from_bytes(digest[:32], "little")
    a = (a & ((1 << 254) - 8)) | (1 << 254)
    k = int.from_bytes(hashlib.sha512(r_encoding + RFC8032_TEST1_PUBLIC + message).digest(), "little")
    return r_encoding + (k * a % edwards25519.L).to_bytes(32, "little")


def test_ed25519_signature_with_s_plus_l_is_refused(ed_private: Ed25519PrivateKey) -> None:
    key = load_device_key(ed25519_jwk(ed_private))
    signature = ed_private.sign(MESSAGE)
    s = int.from_bytes(signature[32:], "little")
    malleated = signature[:32] + (s + edwards25519.L).to_bytes(32, "little")

    key.verify(signature, MESSAGE)
    with pytest.raises(InvalidSignature, match="S is not below the group order"):
        key.verify(malleated, MESSAGE)


def test_ed25519_signature_with_small_order_r_is_refused() -> None:
    identity = bytes.fromhex("01" + "00" * 31)
    signature = _rfc8032_test1_signature_with_r(identity, MESSAGE)
    # OpenSSL takes it: the equation holds. Only the holder of the key can make one, but it is not
    # what RFC 8032 signing produces, and a small-order R is never needed.
    Ed25519PublicKey.from_public_bytes(RFC8032_TEST1_PUBLIC).verify(signature, MESSAGE)

    with pytest.raises(InvalidSignature, match="R is a small-order point"):
        load_device_key(okp_jwk(RFC8032_TEST1_PUBLIC)).verify(signature, MESSAGE)


@pytest.mark.parametrize(
    "r_encoding",
    [
        (1 + edwards25519.P).to_bytes(32, "little"),  # the identity spelled p + 1
        bytes.fromhex("01" + "00" * 30 + "80"),  # the identity with the sign bit set (negative zero)
    ],
    ids=["y-plus-p", "negative-zero"],
)
def test_ed25519_signature_with_non_canonical_r_is_refused(r_encoding: bytes) -> None:
    signature = _rfc8032_test1_signature_with_r(r_encoding, MESSAGE)

    with pytest.raises(InvalidSignature, match="R is not written in its canonical form"):
        load_device_key(okp_jwk(RFC8032_TEST1_PUBLIC)).verify(signature, MESSAGE)


# --- strict P-256 keys and signatures ------------------------------------------------

P256_P = 2**256 - 2**224 + 2**192 + 2**96 - 1
P256_B = 0x5AC635D8AA3A93E7B3EBBD55769886BC651D06B0CC53B0F63BCE3C3E27D2604B
P256_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def _p256_jwk(x: int, y: int) -> dict[str, str]:
    return {
        "kty": "EC",
        "crv": "P-256",
        "x": b64u_encode(x.to_bytes(32, "big")),
        "y": b64u_encode(y.to_bytes(32, "big")),
    }


def test_p256_x_plus_p_is_refused() -> None:
    # x = 0 is on P-256 (0 - 0 + b is a square), so x + p = p still fits in 32 bytes.
    y = pow(P256_B, (P256_P + 1) // 4, P256_P)
    assert y * y % P256_P == P256_B

    assert load_device_key(_p256_jwk(0, y)).algorithm == "ES256"
    with pytest.raises(InvalidKey, match="x coordinate is not below the field prime"):
        load_device_key(_p256_jwk(P256_P, y))


def test_p256_y_plus_p_is_refused() -> None:
    # A Wycheproof key (ecdsa_secp256r1_sha256_test.json, "y-coordinate of the public key is small").
    x = 0xBCBB2914C79F045EAA6ECBBC612816B3BE5D2D6796707D8125E9F851C18AF015
    y = 0x1352BB4A0FA2EA4CCEB9AB63DD684ADE5A1127BCF300A698A7193BC2

    assert load_device_key(_p256_jwk(x, y))
    with pytest.raises(InvalidKey, match="y coordinate is not below the field prime"):
        load_device_key(_p256_jwk(x, y + P256_P))


@pytest.mark.parametrize("der", [False, True], ids=["raw", "der"])
def test_high_s_p256_signature_is_accepted(ec_private: ec.EllipticCurvePrivateKey, der: bool) -> None:
    key = load_device_key(ec_jwk(ec_private))
    r, s = decode_dss_signature(ec_private.sign(MESSAGE, ec.ECDSA(hashes.SHA256())))
    high_s = max(s, P256_N - s)
    assert high_s > P256_N // 2

    signature = encode_dss_signature(r, high_s) if der else r.to_bytes(32, "big") + high_s.to_bytes(32, "big")
    key.verify(signature, MESSAGE)


@pytest.mark.parametrize(("r", "s"), [(0, 1), (1, 0), (P256_N, 1), (1, P256_N)], ids=["r=0", "s=0", "r=n", "s=n"])
def test_raw_p256_signature_with_r_or_s_out_of_range_is_refused(
    ec_private: ec.EllipticCurvePrivateKey, r: int, s: int
) -> None:
    key = load_device_key(ec_jwk(ec_private))

    with pytest.raises(InvalidSignature, match="between 1 and the group order minus 1"):
        key.verify(r.to_bytes(32, "big") + s.to_bytes(32, "big"), MESSAGE)


def _der_integer(value: int, extra_leading_zero: bool = False) -> bytes:
    body = value.to_bytes(value.bit_length() // 8 + 1, "big")
    if extra_leading_zero:
        body = b"\x00" + body
    return bytes([0x02, len(body)]) + body


def test_der_p256_signature_with_an_extra_leading_zero_is_refused(ec_private: ec.EllipticCurvePrivateKey) -> None:
    key = load_device_key(ec_jwk(ec_private))
    der = ec_private.sign(MESSAGE, ec.ECDSA(hashes.SHA256()))
    r, s = decode_dss_signature(der)
    body = _der_integer(r, extra_leading_zero=True) + _der_integer(s)
    ber = bytes([0x30, len(body)]) + body

    assert _der_integer(r) + _der_integer(s) == der[2:]
    key.verify(der, MESSAGE)
    with pytest.raises(InvalidSignature, match="strict DER"):
        key.verify(ber, MESSAGE)
